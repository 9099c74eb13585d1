"""The one internal model that every GBFS version (1.x, 2.x, 3.0) is read into.

Everything here is immutable plain data: a parsed feed becomes a `FleetSnapshot`, the store
swaps whole snapshots, and readers (the router, the API) hold a snapshot without locks.
Ids stay GBFS strings at this edge; the router builds dense indexes from a snapshot.

Money is integer minor units with an ISO 4217 currency (GBFS publishes decimal prices; the
parser converts them exactly with `decimal`). Distances are metres, times are epoch seconds.
Geofencing geometry is kept as a GeoJSON mapping so a snapshot serialises without shapely;
consumers build shapely geometries (and an STRtree) once per snapshot.

`PriceSegment` and `PricingPlan` are defined in `pricing.rental` (pricing must not import
providers) and re-exported here, so the model is still read from one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from pricing.rental import PriceSegment, PricingPlan

__all__ = [
    "RENTAL_MODE_OF_FORM_FACTOR",
    "FeedFile",
    "FleetSnapshot",
    "FormFactor",
    "Geofencing",
    "GeofencingRule",
    "GeofencingZone",
    "PriceSegment",
    "PricingPlan",
    "Propulsion",
    "RentalUris",
    "ReturnConstraint",
    "Station",
    "StationStatus",
    "SystemInfo",
    "Vehicle",
    "VehicleType",
]


class FormFactor(StrEnum):
    """GBFS 3.0 `form_factor`; 2.x `scooter` is read as `scooter_standing`."""

    BICYCLE = "bicycle"
    CARGO_BICYCLE = "cargo_bicycle"
    CAR = "car"
    MOPED = "moped"
    SCOOTER_STANDING = "scooter_standing"
    SCOOTER_SEATED = "scooter_seated"
    OTHER = "other"


#: the rider-facing mode a vehicle of each form factor is offered as (the trip planner's
#: `trips.model.Mode` values; mopeds and other light vehicles ride as scooters). One table
#: for the planner's fleet adapter and the distribution rules, which both read it from here
RENTAL_MODE_OF_FORM_FACTOR: Final[Mapping[FormFactor, str]] = {
    FormFactor.BICYCLE: "BICYCLE_RENTAL",
    FormFactor.CARGO_BICYCLE: "BICYCLE_RENTAL",
    FormFactor.SCOOTER_STANDING: "SCOOTER_RENTAL",
    FormFactor.SCOOTER_SEATED: "SCOOTER_RENTAL",
    FormFactor.MOPED: "SCOOTER_RENTAL",
    FormFactor.OTHER: "SCOOTER_RENTAL",
    FormFactor.CAR: "CAR_RENTAL",
}


class Propulsion(StrEnum):
    """GBFS `propulsion_type`."""

    HUMAN = "human"
    ELECTRIC_ASSIST = "electric_assist"
    ELECTRIC = "electric"
    COMBUSTION = "combustion"
    COMBUSTION_DIESEL = "combustion_diesel"
    HYBRID = "hybrid"
    PLUG_IN_HYBRID = "plug_in_hybrid"
    HYDROGEN_FUEL_CELL = "hydrogen_fuel_cell"


class ReturnConstraint(StrEnum):
    """GBFS `return_constraint`: where a rented vehicle may be returned."""

    FREE_FLOATING = "free_floating"
    ROUNDTRIP_STATION = "roundtrip_station"
    ANY_STATION = "any_station"
    HYBRID = "hybrid"


@dataclass(frozen=True, slots=True)
class RentalUris:
    """Deep links into the operator's app (`rental_uris`), any of which may be absent."""

    android: str | None = None
    ios: str | None = None
    web: str | None = None


@dataclass(frozen=True, slots=True)
class SystemInfo:
    """`system_information`: who runs the system and in which time zone."""

    system_id: str
    name: str
    timezone: str
    language: str | None = None
    operator: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class VehicleType:
    """`vehicle_types` entry. A 1.x feed (no vehicle_types) gets one implied bicycle type."""

    id: str
    form_factor: FormFactor
    propulsion: Propulsion
    name: str | None = None
    max_range_m: float | None = None
    return_constraint: ReturnConstraint | None = None
    default_pricing_plan_id: str | None = None
    pricing_plan_ids: tuple[str, ...] = ()
    #: grams of CO2 per km over the vehicle's life cycle, when the feed gives it (3.0)
    g_co2_km: int | None = None


@dataclass(frozen=True, slots=True)
class Station:
    """`station_information` entry."""

    id: str
    name: str
    lat: float
    lon: float
    capacity: int | None = None
    is_virtual: bool = False
    rental_uris: RentalUris | None = None


@dataclass(frozen=True, slots=True)
class StationStatus:
    """`station_status` entry: what can be rented and returned there now."""

    station_id: str
    num_vehicles_available: int
    is_installed: bool = True
    is_renting: bool = True
    is_returning: bool = True
    num_docks_available: int | None = None
    #: (vehicle_type_id, count) pairs; empty when the feed does not break counts down by type
    vehicle_types_available: tuple[tuple[str, int], ...] = ()
    #: (vehicle_type_ids that fit, count) pairs; empty when the feed does not say
    vehicle_docks_available: tuple[tuple[tuple[str, ...], int], ...] = ()
    last_reported_s: int | None = None


@dataclass(frozen=True, slots=True)
class Vehicle:
    """`vehicle_status` (3.0) / `free_bike_status` (1.x, 2.x) entry.

    A vehicle parked at a station may have no coordinates of its own (`lat`/`lon` None) and
    a `station_id` instead; a free-floating one always has coordinates.
    """

    id: str
    lat: float | None
    lon: float | None
    vehicle_type_id: str | None = None
    station_id: str | None = None
    is_reserved: bool = False
    is_disabled: bool = False
    current_range_m: float | None = None
    current_fuel_percent: float | None = None
    pricing_plan_id: str | None = None
    rental_uris: RentalUris | None = None
    last_reported_s: int | None = None


@dataclass(frozen=True, slots=True)
class GeofencingRule:
    """One rule of a geofencing zone (or a global rule, 3.0).

    `vehicle_type_ids` empty means the rule applies to every vehicle type. Per the spec, the
    first rule of a zone that matches a vehicle type is the one that applies, and where zones
    overlap the zone listed first in the file takes precedence.
    """

    vehicle_type_ids: tuple[str, ...] = ()
    ride_start_allowed: bool = True
    ride_end_allowed: bool = True
    ride_through_allowed: bool = True
    maximum_speed_kph: int | None = None
    station_parking: bool | None = None


@dataclass(frozen=True, slots=True)
class GeofencingZone:
    """One feature of `geofencing_zones`; `geometry` is a GeoJSON (Multi)Polygon mapping."""

    geometry: Mapping[str, Any]
    rules: tuple[GeofencingRule, ...]
    name: str | None = None
    start_s: int | None = None
    end_s: int | None = None


@dataclass(frozen=True, slots=True)
class Geofencing:
    """`geofencing_zones`: zones in file order (which is their precedence) plus global rules."""

    zones: tuple[GeofencingZone, ...] = ()
    global_rules: tuple[GeofencingRule, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedFile:
    """Freshness record of one feed file: freshness is data, not a log line."""

    name: str
    last_updated_s: int
    ttl_s: int
    content_sha256: str
    received_at_s: int


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    """Everything one provider publishes, parsed and cross-checked, at one moment.

    `source` says where the data came from (`push`, `poll`, or `synthetic`); synthetic
    fleets are labelled so wherever they show. `warnings` says what the parser tolerated or
    left out while building this snapshot (0/1 booleans, items outside the service area,
    counts above a station's capacity), at most 50 lines; `outside_station_ids` are the
    feed's stations left out for lying outside the service area, remembered so a later
    `station_status` push naming them is not mistaken for a dangling reference.
    """

    provider_id: str
    gbfs_version: str
    system: SystemInfo
    feeds: tuple[FeedFile, ...]
    vehicle_types: tuple[VehicleType, ...] = ()
    stations: tuple[Station, ...] = ()
    station_status: tuple[StationStatus, ...] = ()
    vehicles: tuple[Vehicle, ...] = ()
    pricing_plans: tuple[PricingPlan, ...] = ()
    geofencing: Geofencing = field(default_factory=Geofencing)
    source: str = "push"
    warnings: tuple[str, ...] = ()
    outside_station_ids: tuple[str, ...] = ()

    def feed(self, name: str) -> FeedFile | None:
        """The freshness record of one file, if the snapshot has it."""
        return next((f for f in self.feeds if f.name == name), None)

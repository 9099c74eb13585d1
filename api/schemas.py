"""Request and response models of the trip-planning endpoints (they are the OpenAPI schema).

Requests are strict: unknown fields, NaN/Infinity and out-of-range numbers are refused with
a 422 naming the field. Responses are declared fully so clients (and schemathesis) can rely
on the shape.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from routing.planner import (
    DEFAULT_MAX_ACCESS_S,
    DEFAULT_MAX_DIRECT_WALK_S,
    DEFAULT_MAX_EGRESS_S,
)

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)

KAMPPI_TO_KRUUNUNHAKA = {
    "from_lat": 60.1685,
    "from_lon": 24.9316,
    "to_lat": 60.1725,
    "to_lon": 24.9560,
    "at": "2022-02-22T08:00:00+02:00",
}

Lat = Annotated[float, Field(ge=-90, le=90, description="latitude, WGS84 degrees")]
Lon = Annotated[float, Field(ge=-180, le=180, description="longitude, WGS84 degrees")]


#: the ways to travel a plan request may name (see PlanQuery.modes)
PLAN_MODES = ("WALK", "TRANSIT", "BICYCLE", "BICYCLE_RENTAL", "SCOOTER_RENTAL", "CAR_RENTAL")
DEFAULT_MODES = "WALK,TRANSIT,BICYCLE_RENTAL,SCOOTER_RENTAL,CAR_RENTAL"


class PlanQuery(BaseModel):
    """A trip request: the same fields as GET query parameters or a POST JSON body."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={"examples": [KAMPPI_TO_KRUUNUNHAKA]},
    )

    from_lat: Annotated[Lat, Field(examples=[60.1685])]
    from_lon: Annotated[Lon, Field(examples=[24.9316])]
    to_lat: Annotated[Lat, Field(examples=[60.1725])]
    to_lon: Annotated[Lon, Field(examples=[24.9560])]
    at: AwareDatetime = Field(
        description="departure (or, with arrive_by, latest arrival) with a UTC offset",
        examples=["2022-02-22T08:00:00+02:00"],
    )
    arrive_by: bool = Field(default=False, description="`at` is the latest arrival")
    window_min: int = Field(
        default=0, ge=0, le=240, description="every departure within this many minutes"
    )
    max_walk_m: float | None = Field(
        default=None,
        ge=0,
        le=5000,
        description="a metre cap on the walk to/from a stop, on top of max_access_min and "
        "max_egress_min (default: no cap beyond the time limits)",
    )
    max_access_min: float = Field(
        default=DEFAULT_MAX_ACCESS_S / 60,
        ge=0,
        le=120,
        description="longest walk from the origin to a stop, minutes",
    )
    max_egress_min: float = Field(
        default=DEFAULT_MAX_EGRESS_S / 60,
        ge=0,
        le=120,
        description="longest walk from a stop to the destination, minutes",
    )
    max_direct_walk_min: float = Field(
        default=DEFAULT_MAX_DIRECT_WALK_S / 60,
        ge=0,
        le=240,
        description="longest walk-only trip offered, minutes",
    )
    walk_speed_mps: float = Field(default=1.33, ge=0.3, le=3.0)
    max_transfers: int = Field(default=8, ge=0, le=12)
    num_itineraries: int = Field(default=5, ge=1, le=50)
    modes: str = Field(
        default=DEFAULT_MODES,
        max_length=200,
        description=(
            "comma list of the ways to travel: "
            + ", ".join(PLAN_MODES)
            + ". BICYCLE is the rider's own bike; the *_RENTAL modes are shared vehicles. "
            "WALK only says whether a walk-only itinerary is offered: walking to stops and "
            "vehicles is always allowed"
        ),
        examples=["WALK,TRANSIT,SCOOTER_RENTAL", "TRANSIT,BICYCLE_RENTAL"],
    )
    providers: str | None = Field(
        default=None,
        max_length=2000,
        description="comma list of the only shared-vehicle provider ids to use (default: all)",
        examples=["synthetic-citybikes-hki,synthetic-scooters-hki"],
    )
    exclude_providers: str | None = Field(
        default=None,
        max_length=2000,
        description="comma list of shared-vehicle provider ids never to use",
        examples=["synthetic-carshare-hki"],
    )
    max_rental_min: int = Field(
        default=30,
        ge=1,
        le=180,
        description="longest ride of one rental, minutes",
        examples=[20],
    )
    transit_pass: bool = Field(
        default=False,
        description="the rider holds a period pass (season ticket, or a MaaS bundle with "
        "transit): transit rides cost them nothing more, and prices compare accordingly",
        examples=[True],
    )

    @field_validator("modes")
    @classmethod
    def _modes(cls, value: str) -> str:
        parse_modes(value)
        return value

    @field_validator("providers", "exclude_providers")
    @classmethod
    def _providers(cls, value: str | None) -> str | None:
        if value is not None:
            parse_ids(value)
        return value

    def mode_set(self) -> frozenset[str]:
        """The requested modes (validated: known names, no repeats, at least one)."""
        return frozenset(parse_modes(self.modes))

    def provider_set(self) -> frozenset[str] | None:
        """The provider allow-list, or None when every provider may be used."""
        return None if self.providers is None else frozenset(parse_ids(self.providers))

    def excluded_set(self) -> frozenset[str]:
        """The providers never to use (empty when none are excluded)."""
        return (
            frozenset()
            if self.exclude_providers is None
            else frozenset(parse_ids(self.exclude_providers))
        )


def parse_modes(text: str) -> list[str]:
    """'WALK,TRANSIT' -> ['WALK', 'TRANSIT']; ValueError names an unknown or repeated mode."""
    names = [part.strip() for part in text.split(",")]
    if names == [""]:
        raise ValueError(f"modes must name at least one of {', '.join(PLAN_MODES)}")
    seen: set[str] = set()
    for name in names:
        if name not in PLAN_MODES:
            shown = name[:40] or "(empty)"
            raise ValueError(f"unknown mode {shown!r}; expected some of {', '.join(PLAN_MODES)}")
        if name in seen:
            raise ValueError(f"mode {name!r} is listed twice")
        seen.add(name)
    return names


def parse_ids(text: str) -> list[str]:
    """'a,b' -> ['a', 'b']; ValueError for an empty id (e.g. a stray comma)."""
    ids = [part.strip() for part in text.split(",")]
    if any(not i for i in ids):
        raise ValueError("provider ids must be a comma list without empty entries")
    return ids


class Place(BaseModel):
    """Where a leg starts or ends: a stop (with its GTFS id), a shared-vehicle station or
    vehicle (with its GBFS id), or the rider's own point.
    """

    name: str
    lat: float
    lon: float
    stop_id: str | None = None
    station_id: str | None = Field(default=None, description="GBFS station_id")
    vehicle_id: str | None = Field(
        default=None, description="GBFS vehicle_id of a free-floating vehicle"
    )


class IntermediateStop(Place):
    """A stop a ride passes without the rider getting off."""

    arrival: str = Field(description="ISO-8601 with offset")


class RouteInfo(BaseModel):
    """The GTFS route of a ride."""

    route_id: str
    short_name: str
    long_name: str
    agency_id: str
    agency_name: str | None = None


class LineString(BaseModel):
    """GeoJSON LineString, [lon, lat] pairs."""

    type: Literal["LineString"]
    coordinates: list[tuple[float, float]]


class MoneyOut(BaseModel):
    """Money exactly: integer minor units (cents) and the ISO 4217 currency, plus display text."""

    amount_minor: int
    currency: str
    text: str = Field(description="e.g. '2.80 EUR'")


class LegPrice(BaseModel):
    """What this leg costs: the base fare, the active policy's share of the trip's
    adjustment, and the final price. A ride covered by a ticket bought on an earlier leg
    costs 0 and says so.
    """

    base: MoneyOut | None = Field(description="null when the price is unknown")
    adjustment: MoneyOut | None = None
    final: MoneyOut | None = None
    fare_id: str | None = Field(default=None, description="GTFS fare_id / fare_product_id")
    reason: str


class PolicyRef(BaseModel):
    """The policy that adjusted a price."""

    id: str
    version: int
    name: str


class ItineraryPrice(BaseModel):
    """The trip's price: base fares, the policy adjustment and the final price (the legs'
    prices add up to these).
    """

    base: MoneyOut | None
    adjustment: MoneyOut | None = None
    final: MoneyOut | None = None
    reason: str
    policy: PolicyRef | None = None


class VehicleTypeOut(BaseModel):
    """The GBFS vehicle type of a rental."""

    id: str
    name: str | None = None
    form_factor: str = Field(description="GBFS form_factor: bicycle, scooter_standing, car, ...")
    propulsion: str = Field(description="GBFS propulsion_type: human, electric_assist, ...")


class RentalUrisOut(BaseModel):
    """Deep links that open the operator's app (or web page) at this vehicle or station."""

    android: str | None = None
    ios: str | None = None
    web: str | None = None


class RentalInfo(BaseModel):
    """What a rider needs to find, unlock and return a shared vehicle (or their own bike)."""

    provider_id: str | None = Field(description="GBFS provider; null for the rider's own bike")
    provider_name: str | None = None
    synthetic: bool = Field(description="true for a made-up demonstration fleet")
    vehicle_id: str | None = Field(default=None, description="the free-floating vehicle")
    station_id: str | None = Field(default=None, description="the pickup station")
    dropoff_station_id: str | None = Field(
        default=None, description="the station to return it to (docked fleets)"
    )
    vehicle_type: VehicleTypeOut | None = None
    range_start_m: float | None = Field(
        default=None, description="range left at pickup; null when the feed does not say"
    )
    range_end_m: float | None = Field(
        default=None, description="range left at the end: range_start_m minus the distance ridden"
    )
    rental_start: str = Field(description="ISO-8601 with offset: unlock")
    rental_end: str = Field(description="ISO-8601 with offset: returned and locked")
    pickup_probability: float = Field(
        ge=0, le=1, description="chance the vehicle is still there when the rider arrives"
    )
    dropoff_probability: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="chance a dock is still free on arrival (docked fleets; else null)",
    )
    rental_uris: RentalUrisOut | None = None
    pricing_plan_id: str | None = Field(
        default=None, description="GBFS plan_id the leg is priced with"
    )


class Leg(BaseModel):
    """One leg: a walk (street geometry), a ride (shapes.txt geometry where present), or a
    rental (the ride-graph streets ridden, with a `rental` block).
    """

    model_config = ConfigDict(populate_by_name=True)

    mode: str = Field(
        description="WALK, BUS, TRAM, SUBWAY, RAIL, FERRY, ..., BICYCLE (own bike), "
        "BICYCLE_RENTAL, SCOOTER_RENTAL, CAR_RENTAL"
    )
    from_: Place = Field(alias="from")
    to: Place
    start: str = Field(description="ISO-8601 with offset")
    end: str = Field(description="ISO-8601 with offset")
    duration_s: int
    distance_m: float
    route: RouteInfo | None = None
    trip_id: str | None = None
    trip_start_time: str | None = None
    headsign: str | None = None
    service_date: str | None = None
    intermediate_stops: list[IntermediateStop] | None = None
    geometry: LineString
    price: LegPrice | None = None
    rental: RentalInfo | None = Field(default=None, description="rental legs only")
    co2_g: int | None = Field(
        default=None,
        description="grams of CO2 for this leg per passenger (the feed's g_CO2_km for a "
        "rental when given, else a published per-mode default)",
    )
    estimated: bool = Field(
        default=False,
        description="walk legs: part of this walk is an estimate, not a mapped street (a "
        "straight-line connector across the gap between two map extracts, 1.3 x the "
        "straight distance, or a straight line to a stop beyond the mapped streets)",
    )


class Itinerary(BaseModel):
    """A whole trip; `id` is stable for the same legs and times."""

    id: str
    start: str
    end: str
    duration_s: int
    walk_distance_m: float
    transfers: int = Field(
        description="transit vehicle changes: transit rides minus one, 0 without transit "
        "(OpenTripPlanner's convention; rentals do not count)"
    )
    legs: list[Leg]
    price: ItineraryPrice | None = None
    co2_g: int = Field(description="grams of CO2 per passenger: the sum of the legs")
    labels: list[Literal["fastest", "cheapest", "fewest_transfers", "least_walking"]] = Field(
        default_factory=list,
        description="what this itinerary is best at among those returned (see `choices`)",
    )
    modes: list[str] = Field(description="the distinct leg modes, in the order first used")


class Choices(BaseModel):
    """The id of the itinerary that is best at each criterion (null when none is)."""

    fastest: str | None = Field(
        default=None, description="earliest arrival (latest departure with arrive_by)"
    )
    cheapest: str | None = Field(
        default=None, description="lowest final price among the priced itineraries"
    )
    fewest_transfers: str | None = None
    least_walking: str | None = None


class PlanResponse(BaseModel):
    """Itineraries, best first. An empty list comes with a `reason`."""

    network: str
    service_date: str
    itineraries: list[Itinerary]
    reason: str
    reason_code: str = Field(
        default="",
        description="why there are no itineraries, one code per cause: "
        "nothing_within_walk_limit (no stop within the access or egress walking limit, and "
        "the destination beyond the direct-walk limit), no_service_in_window (no ride leaves "
        "the reachable stops in the time window), no_connection (rides run, but none joins "
        "the two ends), no_itinerary_with_allowed_modes; empty when there are itineraries. "
        "Points that cannot be routed at all are 422 errors instead: outside_network, "
        "isolated_street_piece",
    )
    choices: Choices = Field(
        default_factory=Choices,
        description="which itinerary is fastest, cheapest, ... (ties go to the earlier arrival)",
    )
    notes: list[str] = Field(
        default_factory=list,
        description="things the rider should know, e.g. a provider left out and why",
    )


class StopsQuery(BaseModel):
    """`near=LAT,LON&radius=M&limit=N`."""

    model_config = _STRICT

    near: str = Field(description="LAT,LON", examples=["60.1685,24.9316"], max_length=64)
    radius: float = Field(default=500.0, gt=0, le=5000, description="metres")
    limit: int = Field(default=50, ge=1, le=500)

    @field_validator("near")
    @classmethod
    def _latlon(cls, value: str) -> str:
        parse_near(value)
        return value


def parse_near(text: str) -> tuple[float, float]:
    """'60.1685,24.9316' -> (lat, lon); ValueError says what was wrong."""
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError("near must be LAT,LON, e.g. 60.1685,24.9316")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError("near must be two numbers, LAT,LON") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError("near must be finite numbers")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError("near is outside lat -90..90 / lon -180..180")
    return lat, lon


class StopOut(Place):
    """A stop and how far it is from the query point."""

    stop_id: str
    distance_m: float
    zone_id: str | None = None


class StopsResponse(BaseModel):
    """Stops nearest first."""

    stops: list[StopOut]


class DeparturesQuery(BaseModel):
    """`at` (default: now) and how many departures within which horizon."""

    model_config = _STRICT

    at: AwareDatetime | None = Field(
        default=None,
        description="ISO-8601 with offset; default now",
        examples=["2022-02-22T08:00:00+02:00"],
    )
    limit: int = Field(default=20, ge=1, le=200)
    horizon_min: int = Field(default=120, ge=1, le=1440)


class Departure(BaseModel):
    """One departure on the board."""

    departure: str
    mode: str
    route: RouteInfo
    headsign: str
    trip_id: str
    trip_start_time: str | None = None
    service_date: str


class DepartureStop(BaseModel):
    """The stop the board is for."""

    stop_id: str
    name: str
    lat: float
    lon: float


class DeparturesResponse(BaseModel):
    """The next departures, earliest first."""

    stop: DepartureStop
    service_date: str
    departures: list[Departure]


class Health(BaseModel):
    """The process is up."""

    status: Literal["ok"]


class NetworkInfo(BaseModel):
    """The city being served and the dates its timetable covers."""

    name: str
    service_dates: list[str]
    feed_start_date: str | None = None
    feed_end_date: str | None = None
    timezone: str
    stops: int
    bbox: list[float] | None = None


class Ready(BaseModel):
    """Ready to plan: which city, which dates, the store's health and the providers'
    freshness. `status` is "degraded" (with `reasons`) while the availability store is
    unreachable or re-seeding after it lost its data; plans are still answered then.
    """

    status: Literal["ready", "degraded"]
    reasons: list[str] = Field(default_factory=list)
    network: NetworkInfo
    store: dict[str, object] = Field(default_factory=dict)
    providers: list[dict[str, object]] = Field(default_factory=list)

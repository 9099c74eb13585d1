"""Request and response models of the trip-planning endpoints (they are the OpenAPI schema).

Requests are strict: unknown fields, NaN/Infinity and out-of-range numbers are refused with
a 422 naming the field. Responses are declared fully so clients (and schemathesis) can rely
on the shape.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, field_validator

from routing.planner import DEFAULT_WALK_SPEED_MPS
from trips.model import DEFAULT_MODES, PLAN_MODES
from trips.request import (
    DEFAULT_MAX_ACCESS_MIN,
    DEFAULT_MAX_DIRECT_WALK_MIN,
    DEFAULT_MAX_EGRESS_MIN,
    DEFAULT_MAX_RENTAL_MIN,
    DEFAULT_MAX_TRANSFERS,
    DEFAULT_NUM_ITINERARIES,
    TripRequest,
)

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)

KAMPPI_TO_KRUUNUNHAKA: dict[str, JsonValue] = {
    "from_lat": 60.1685,
    "from_lon": 24.9316,
    "to_lat": 60.1725,
    "to_lon": 24.9560,
    "at": "2022-02-22T08:00:00+02:00",
}

Lat = Annotated[float, Field(ge=-90, le=90, description="latitude, WGS84 degrees")]
Lon = Annotated[float, Field(ge=-180, le=180, description="longitude, WGS84 degrees")]


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
        default=DEFAULT_MAX_ACCESS_MIN,
        ge=0,
        le=120,
        description="longest walk from the origin to a stop, minutes",
    )
    max_egress_min: float = Field(
        default=DEFAULT_MAX_EGRESS_MIN,
        ge=0,
        le=120,
        description="longest walk from a stop to the destination, minutes",
    )
    max_direct_walk_min: float = Field(
        default=DEFAULT_MAX_DIRECT_WALK_MIN,
        ge=0,
        le=240,
        description="longest walk-only trip offered, minutes",
    )
    walk_speed_mps: float = Field(default=DEFAULT_WALK_SPEED_MPS, ge=0.3, le=3.0)
    max_transfers: int = Field(default=DEFAULT_MAX_TRANSFERS, ge=0, le=12)
    num_itineraries: int = Field(default=DEFAULT_NUM_ITINERARIES, ge=1, le=50)
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
        default=DEFAULT_MAX_RENTAL_MIN,
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

    def to_request(self) -> TripRequest:
        """The planning service's request: the same values, the comma lists parsed."""
        return TripRequest(
            from_lat=self.from_lat,
            from_lon=self.from_lon,
            to_lat=self.to_lat,
            to_lon=self.to_lon,
            at=self.at,
            arrive_by=self.arrive_by,
            window_min=self.window_min,
            max_walk_m=self.max_walk_m,
            max_access_min=self.max_access_min,
            max_egress_min=self.max_egress_min,
            max_direct_walk_min=self.max_direct_walk_min,
            walk_speed_mps=self.walk_speed_mps,
            max_transfers=self.max_transfers,
            num_itineraries=self.num_itineraries,
            modes=self.mode_set(),
            providers=self.provider_set(),
            exclude_providers=self.excluded_set(),
            max_rental_min=self.max_rental_min,
            transit_pass=self.transit_pass,
        )

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
    """A stop's place (the fields of a plan's `Place`, which /stops shares)."""

    name: str
    lat: float
    lon: float
    stop_id: str | None = None
    station_id: str | None = Field(default=None, description="GBFS station_id")
    vehicle_id: str | None = Field(
        default=None, description="GBFS vehicle_id of a free-floating vehicle"
    )


class RouteInfo(BaseModel):
    """The GTFS route of a departure (the same fields as a ride leg's `route`)."""

    route_id: str
    short_name: str
    long_name: str
    agency_id: str
    agency_name: str | None = None


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

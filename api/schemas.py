"""Request and response models of the trip-planning endpoints (they are the OpenAPI schema).

Requests are strict: unknown fields, NaN/Infinity and out-of-range numbers are refused with
a 422 naming the field. Responses are declared fully so clients (and schemathesis) can rely
on the shape.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

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
    max_walk_m: float = Field(default=1000.0, ge=0, le=5000, description="walk to/from a stop")
    walk_speed_mps: float = Field(default=1.33, ge=0.3, le=3.0)
    max_transfers: int = Field(default=8, ge=0, le=12)
    num_itineraries: int = Field(default=5, ge=1, le=50)


class Place(BaseModel):
    """Where a leg starts or ends: a stop (with its GTFS id) or the rider's own point."""

    name: str
    lat: float
    lon: float
    stop_id: str | None = None


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


class Leg(BaseModel):
    """One leg: a walk (street geometry) or a ride (shapes.txt geometry where present)."""

    model_config = ConfigDict(populate_by_name=True)

    mode: str = Field(description="WALK, BUS, TRAM, SUBWAY, RAIL, FERRY, ...")
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


class Itinerary(BaseModel):
    """A whole trip; `id` is stable for the same legs and times."""

    id: str
    start: str
    end: str
    duration_s: int
    walk_distance_m: float
    transfers: int
    legs: list[Leg]
    price: ItineraryPrice | None = None


class PlanResponse(BaseModel):
    """Itineraries, best first. An empty list comes with a `reason`."""

    network: str
    service_date: str
    itineraries: list[Itinerary]
    reason: str


class StopsQuery(BaseModel):
    """`near=LAT,LON&radius=M&limit=N`."""

    model_config = _STRICT

    near: str = Field(
        description="LAT,LON", examples=["60.1685,24.9316"], max_length=64
    )
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
        default=None, description="ISO-8601 with offset; default now", examples=[
            "2022-02-22T08:00:00+02:00"
        ]
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
    """Ready to plan: which city, which dates, and the providers' freshness."""

    status: Literal["ready"]
    network: NetworkInfo
    store: dict[str, object] = Field(default_factory=dict)
    providers: list[dict[str, object]] = Field(default_factory=list)

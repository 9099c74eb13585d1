"""The typed model of a trip answer: places, legs, prices, itineraries and the plan.

These Structs are the one definition of what `/plan` answers and what `fairtrip plan --json`
prints: the planning service builds them once from the router's journeys, pricing and
choosing read their fields (never a JSON text parsed back), the API encodes them with
msgspec and publishes their JSON Schema in OpenAPI. Field order is the order of the JSON
keys; a field without a default is always written, null when it has no value.

Times are ISO-8601 text with the agency's UTC offset, as a rider reads them; the planning
service keeps the epoch seconds beside each candidate for comparisons, so no time is ever
parsed back out of this text.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct, field


class Mode(enum.StrEnum):
    """The ways to travel a trip request may name (`modes`)."""

    WALK = "WALK"
    TRANSIT = "TRANSIT"
    #: the rider's own bike
    BICYCLE = "BICYCLE"
    BICYCLE_RENTAL = "BICYCLE_RENTAL"
    SCOOTER_RENTAL = "SCOOTER_RENTAL"
    CAR_RENTAL = "CAR_RENTAL"


#: every mode, in the order the API documents them
PLAN_MODES: tuple[str, ...] = tuple(m.value for m in Mode)
#: the shared-vehicle modes: a provider's fleet serves one of these
RENTAL_MODES: tuple[str, ...] = (Mode.BICYCLE_RENTAL, Mode.SCOOTER_RENTAL, Mode.CAR_RENTAL)
#: what a request allows when it names no modes
DEFAULT_MODES = "WALK,TRANSIT,BICYCLE_RENTAL,SCOOTER_RENTAL,CAR_RENTAL"

IsoTime = Annotated[str, Meta(description="ISO-8601 with offset")]
Probability = Annotated[float, Meta(ge=0, le=1)]


class Place(Struct, frozen=True, kw_only=True):
    """Where a leg starts or ends: a stop (with its GTFS id), a shared-vehicle station or
    vehicle (with its GBFS id), or the rider's own point.
    """

    name: str
    lat: float
    lon: float
    stop_id: str | None = None
    station_id: Annotated[str | None, Meta(description="GBFS station_id")] = None
    vehicle_id: Annotated[
        str | None, Meta(description="GBFS vehicle_id of a free-floating vehicle")
    ] = None


class IntermediateStop(Struct, frozen=True, kw_only=True):
    """A stop a ride passes without the rider getting off."""

    name: str
    lat: float
    lon: float
    stop_id: str | None = None
    station_id: str | None = None
    vehicle_id: str | None = None
    arrival: IsoTime


class RouteInfo(Struct, frozen=True, kw_only=True):
    """The GTFS route of a ride."""

    route_id: str
    short_name: str
    long_name: str
    agency_id: str
    agency_name: str | None = None


class LineString(Struct, frozen=True, kw_only=True):
    """GeoJSON LineString, [lon, lat] pairs."""

    type: Literal["LineString"]
    coordinates: list[tuple[float, float]]


class MoneyOut(Struct, frozen=True, kw_only=True):
    """Money exactly: integer minor units (cents) and the ISO 4217 currency, plus display text."""

    amount_minor: int
    currency: str
    text: Annotated[str, Meta(description="e.g. '2.80 EUR'")]


class LegPrice(Struct, frozen=True, kw_only=True):
    """What this leg costs: the base fare, the active policy's share of the trip's
    adjustment, and the final price. A ride covered by a ticket bought on an earlier leg
    costs 0 and says so.
    """

    base: Annotated[MoneyOut | None, Meta(description="null when the price is unknown")]
    adjustment: MoneyOut | None = None
    final: MoneyOut | None = None
    fare_id: Annotated[
        str | None, Meta(description="GTFS fare_id / fare_product_id, or GBFS plan_id")
    ] = None
    reason: str


class PolicyRef(Struct, frozen=True, kw_only=True):
    """The policy that adjusted a price."""

    id: str
    version: int
    name: str


class ItineraryPrice(Struct, frozen=True, kw_only=True):
    """The trip's price: base fares, the policy adjustment and the final price (the legs'
    prices add up to these).
    """

    base: MoneyOut | None
    adjustment: MoneyOut | None = None
    final: MoneyOut | None = None
    reason: str
    policy: PolicyRef | None = None


class VehicleTypeOut(Struct, frozen=True, kw_only=True):
    """The GBFS vehicle type of a rental."""

    id: str
    name: str | None = None
    form_factor: Annotated[
        str, Meta(description="GBFS form_factor: bicycle, scooter_standing, car, ...")
    ]
    propulsion: Annotated[
        str, Meta(description="GBFS propulsion_type: human, electric_assist, ...")
    ]


class RentalUrisOut(Struct, frozen=True, kw_only=True):
    """Deep links that open the operator's app (or web page) at this vehicle or station."""

    android: str | None = None
    ios: str | None = None
    web: str | None = None


class RentalInfo(Struct, frozen=True, kw_only=True):
    """What a rider needs to find, unlock and return a shared vehicle (or their own bike)."""

    provider_id: Annotated[
        str | None, Meta(description="GBFS provider; null for the rider's own bike")
    ]
    provider_name: str | None = None
    synthetic: Annotated[bool, Meta(description="true for a made-up demonstration fleet")]
    vehicle_id: Annotated[str | None, Meta(description="the free-floating vehicle")] = None
    station_id: Annotated[str | None, Meta(description="the pickup station")] = None
    dropoff_station_id: Annotated[
        str | None, Meta(description="the station to return it to (docked fleets)")
    ] = None
    vehicle_type: VehicleTypeOut | None = None
    range_start_m: Annotated[
        float | None, Meta(description="range left at pickup; null when the feed does not say")
    ] = None
    range_end_m: Annotated[
        float | None,
        Meta(description="range left at the end: range_start_m minus the distance ridden"),
    ] = None
    rental_start: Annotated[str, Meta(description="ISO-8601 with offset: unlock")]
    rental_end: Annotated[str, Meta(description="ISO-8601 with offset: returned and locked")]
    pickup_probability: Annotated[
        float | None,
        Meta(
            description="chance the vehicle is still there when the rider arrives (0..1; "
            "null when the feed gives nothing to judge it by)"
        ),
    ]
    dropoff_probability: Annotated[
        float | None,
        Meta(description="chance a dock is still free on arrival (docked fleets; else null)"),
    ] = None
    rental_uris: RentalUrisOut | None = None
    pricing_plan_id: Annotated[
        str | None, Meta(description="GBFS plan_id the leg is priced with")
    ] = None


class Leg(Struct, frozen=True, kw_only=True):
    """One leg: a walk (street geometry), a ride (shapes.txt geometry where present), or a
    rental (the ride-graph streets ridden, with a `rental` block).
    """

    mode: Annotated[
        str,
        Meta(
            description="WALK, BUS, TRAM, SUBWAY, RAIL, FERRY, ..., BICYCLE (own bike), "
            "BICYCLE_RENTAL, SCOOTER_RENTAL, CAR_RENTAL"
        ),
    ]
    from_: Place = field(name="from")
    to: Place
    start: IsoTime
    end: IsoTime
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
    rental: Annotated[RentalInfo | None, Meta(description="rental legs only")] = None
    co2_g: Annotated[
        int | None,
        Meta(
            description="grams of CO2 for this leg per passenger (the feed's g_CO2_km for a "
            "rental when given, else a published per-mode default)"
        ),
    ] = None
    estimated: Annotated[
        bool,
        Meta(
            description="walk legs: part of this walk is an estimate, not a mapped street (a "
            "straight-line connector across the gap between two map extracts, 1.3 x the "
            "straight distance, or a straight line to a stop beyond the mapped streets)"
        ),
    ] = False


Label = Literal["fastest", "cheapest", "fewest_transfers", "least_walking"]
#: the labels the chooser gives, in the order they are shown
LABELS: tuple[Label, ...] = ("fastest", "cheapest", "fewest_transfers", "least_walking")


class Itinerary(Struct, frozen=True, kw_only=True):
    """A whole trip; `id` is stable for the same legs and times."""

    id: str
    start: IsoTime
    end: IsoTime
    duration_s: int
    walk_distance_m: float
    transfers: Annotated[
        int,
        Meta(
            description="transit vehicle changes: transit rides minus one, 0 without transit "
            "(OpenTripPlanner's convention; rentals do not count)"
        ),
    ]
    legs: list[Leg]
    price: ItineraryPrice | None = None
    co2_g: Annotated[int, Meta(description="grams of CO2 per passenger: the sum of the legs")]
    labels: Annotated[
        list[Label],
        Meta(description="what this itinerary is best at among those returned (see `choices`)"),
    ] = []
    modes: Annotated[list[str], Meta(description="the distinct leg modes, in the order first used")]


class Choices(Struct, frozen=True, kw_only=True):
    """The id of the itinerary that is best at each criterion (null when none is)."""

    fastest: Annotated[
        str | None, Meta(description="earliest arrival (latest departure with arrive_by)")
    ] = None
    cheapest: Annotated[
        str | None, Meta(description="lowest final price among the priced itineraries")
    ] = None
    fewest_transfers: str | None = None
    least_walking: str | None = None


class TripPlan(Struct, frozen=True, kw_only=True):
    """Itineraries, best first. An empty list comes with a `reason`."""

    network: str
    service_date: str
    itineraries: list[Itinerary]
    reason: str
    reason_code: Annotated[
        str,
        Meta(
            description="why there are no itineraries, one code per cause: "
            "nothing_within_walk_limit (no stop within the access or egress walking limit, "
            "and the destination beyond the direct-walk limit), no_service_in_window (no ride "
            "leaves the reachable stops in the time window), no_connection (rides run, but "
            "none joins the two ends), no_itinerary_with_allowed_modes; empty when there are "
            "itineraries. Points that cannot be routed at all are 422 errors instead: "
            "outside_network, isolated_street_piece"
        ),
    ] = ""
    choices: Annotated[
        Choices,
        Meta(
            description="which itinerary is fastest, cheapest, ... (ties go to the earlier "
            "arrival)"
        ),
    ] = Choices()
    notes: Annotated[
        list[str],
        Meta(description="things the rider should know, e.g. a provider left out and why"),
    ] = []


_ENCODER = msgspec.json.Encoder()


def encode_json(value: Struct) -> bytes:
    """The compact JSON of a model value (what the API sends)."""
    return _ENCODER.encode(value)


def to_builtins(value: Struct) -> dict[str, object]:
    """The model value as plain JSON-ready dicts and lists (keys as in the JSON)."""
    out = msgspec.to_builtins(value)
    assert isinstance(out, dict)
    return out

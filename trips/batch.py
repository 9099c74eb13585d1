"""The options of many OD pairs at once, priced exactly as /plan prices them.

`routing.batch.BatchPlanner` finds, per origin and departure, the journeys /plan would
find to every destination. This module is the trip side of that: it takes the fleets and
the pricer from the worker's `PlanningService` (the same fleet views, fares and GBFS
pricing plans a /plan request uses), prices every journey with that pricer's fare quote
and rental prices (memoised on what they depend on: the rides, each rental), and sorts the
result into the option families of issue 13:

* ``walk``: the walk-only trip; ``walk_transit``: walking to, between and from rides;
* ``rental``: a shared vehicle the whole way (one option per fleet and chain);
* ``rental_transit``: transit with a rental as first or last mile, or between two rides;
* ``own_bike``: the rider's own bicycle the whole way.

Own bike to a stop, then transit, is searched (it is part of /plan's answer and of the
best price and arrival below) but is not an `OptionTable` family: the table's ``own_bike``
options pay no operator, and that trip pays a fare. It is left out of the table.

Per pair the candidates are first merged as /plan's chooser merges them (two journeys that
ride the very same vehicles are one choice, the earlier-arriving one kept, see
`trips.choose.choose`), then per family and providers ridden the options kept are those no
other option of the same family and providers beats on both duration and price.
`PairBest` holds what /plan would label fastest (earliest arrival) and cheapest (lowest
known price) for the pair.

Prices are the base prices, before any policy: the evaluation applies policies itself, so
the pricer runs without the service's active policy.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from network.compiled import Network
from network.stop_index import StopIndex
from pricing.fares import FareQuote
from pricing.money import Money
from routing.batch import BatchPlanner, Destinations, OriginLegs
from routing.geo import DETOUR_FACTOR, haversine_m
from routing.journey import Journey, Rental, Ride
from routing.multimodal import FleetRoles, MultiModalOptions
from routing.raptor import StopTimes
from routing.streets import Snap
from trips.errors import TripError
from trips.fleets import FleetView
from trips.model import LegPrice, Mode
from trips.prices import ItineraryPricer
from trips.request import TripRequest
from trips.service import ROLES, PlanningService, search_options

#: the mode of a fleet view -> the vehicle family a rental part rides (pricing.options)
VEHICLE_FAMILY: dict[str, str] = {
    Mode.BICYCLE_RENTAL: "bike_share",
    Mode.SCOOTER_RENTAL: "scooter",
    Mode.CAR_RENTAL: "car_share",
}
#: stops considered around a point beyond the streets (as `evaluation.od_matrix` does)
MAX_ESTIMATED_STOPS = 40
#: a family that is searched but not listed in the option table (see the module docstring)
OWN_BIKE_TRANSIT = "own_bike_transit"

#: one part of an option's price: (operator, kind, first/last mile, minor units, vehicle)
Part = tuple[str, str, bool, int, str]


@dataclass(frozen=True, slots=True)
class Priced:
    """One journey as an option: its family, times, distance and price with its parts."""

    family: str
    depart_s: int
    arrive_s: int
    transfers: int
    walk_s: int
    distance_m: int
    #: final price in minor units (before any policy), None when it is unknown
    price_minor: int | None
    parts: tuple[Part, ...]
    vehicles: tuple[object, ...]
    #: the providers whose vehicles it rides (sorted; the own bike is none)
    providers: tuple[str, ...] = ()

    @property
    def duration_s(self) -> int:
        """Door to door, waiting at the origin excluded."""
        return self.arrive_s - self.depart_s


@dataclass(frozen=True, slots=True)
class PairBest:
    """What /plan labels fastest and cheapest for one pair (-1: no such itinerary)."""

    arrive_s: int
    price_minor: int


class BatchPricing:
    """Plans and prices options for many pairs on one service day; one per worker thread.

    `template` says how the residents travel (modes, walking limits, walking speed, the
    rental time limit): every pair is planned as that request would be between its points.

    A point off the streets is refused by /plan, and so here too, unless `beyond_streets`:
    then its walks to and from stops are estimated as the straight line x DETOUR_FACTOR to
    the nearest `MAX_ESTIMATED_STOPS` stops within the access (egress) time limit, the rule
    the network build and `evaluation.od_matrix` use beyond the streets, and it gets walk +
    transit and the straight-line walk (no vehicle is reachable there). Such pairs are not
    /plan's answers; `on_streets` tells them apart.

    The fleets are the service's prebuilt views that are fresh at `fleets_at_s` (default:
    now), taken once: a long batch, or a worker that plans later, keeps the same vehicles.
    """

    def __init__(
        self,
        service: PlanningService,
        template: TripRequest,
        *,
        beyond_streets: bool = False,
        fleets_at_s: int | None = None,
    ) -> None:
        if template.arrive_by or template.window_min:
            raise TripError(
                "batch_depart_at_only",
                "the batch search plans depart-at requests without a window",
                field="arrive_by" if template.arrive_by else "window_min",
            )
        self.service = service
        self.net: Network = service.net
        self.template = template
        self.date, self.key, _ = service.resolve(template.at)
        self.options: MultiModalOptions = search_options(template)
        self.planner = BatchPlanner(self.net.planner(self.key), self.net.rental_search)
        # the providers' fleets only, as `PlanningService.fleets_for` takes them (the own
        # bike stands at each origin: `origin`), fresh at `fleets_at_s` (default: now)
        views: list[FleetView] = []
        self.notes: list[str] = []
        if service.rental_fleets is not None:
            views, self.notes = service.rental_fleets.current(
                template.modes,
                providers=template.providers,
                exclude_providers=template.exclude_providers,
                now_s=fleets_at_s,
            )
        #: the providers' fleets (the same for every origin); the own bike is per origin
        self.views: list[FleetView] = [v for v in views if v.provider_id is not None]
        self.own_bike = Mode.BICYCLE in template.modes and service.rental_fleets is not None
        # base prices: the evaluation applies policies itself
        self.pricer = _MemoPricer.of(service.pricer(self.date, self.key))
        self.currency = self.pricer.currency
        tt, trips = self.net.timetable(self.key)
        self._trip_agency = self._agencies(tt.trip_source, trips.route)
        self._pattern_m = _pattern_metres(self.net, tt.pattern_stop_ptr, tt.pattern_stops)
        self._pattern_ptr = tt.pattern_stop_ptr
        self._memo: dict[tuple[object, ...], tuple[int | None, tuple[Part, ...]]] = {}
        stops = self.net.stops
        self._near = (
            StopIndex(stops.lat, stops.lon, stops.stop_id) if beyond_streets else None
        )

    def _agencies(self, trip_source: np.ndarray, trip_route: np.ndarray) -> list[str]:
        """Router trip -> "transit:<agency id>" (the feed's name when the route has none)."""
        agency = self.net.routes.agency_id
        out = []
        for src in trip_source.tolist():
            a = str(agency[int(trip_route[src])]) if len(agency) else ""
            out.append(f"transit:{a or self.net.name}")
        return out

    # -- searches ----------------------------------------------------------------------------
    def seconds(self, when: dt.datetime) -> int:
        """Seconds of this service day at `when` (it must fall on the same service day)."""
        date, key, seconds = self.service.resolve(when)
        if (date, key) != (self.date, self.key):
            raise TripError(
                "batch_other_day",
                f"{when.isoformat()} is on service day {date}, the batch plans {self.date}",
                field="at",
            )
        return seconds

    def destinations(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> Destinations:
        """Every destination's snap and egress searches (shared by all origins)."""
        return self.planner.destinations(
            lat, lon, self.options, [v.fleet for v in self.views], self._roles(self.views),
            estimate=self._egress_estimate if self._near is not None else None,
        )

    def _estimate(self, lat: float, lon: float, limit_s: float) -> StopTimes:
        """Straight-line x DETOUR_FACTOR walks to the nearest stops within `limit_s`."""
        speed = self.template.walk_speed_mps
        if self._near is None:
            return StopTimes(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32))
        near = self._near.near(
            lat, lon, limit_s * speed / DETOUR_FACTOR, limit=MAX_ESTIMATED_STOPS
        )
        metres = np.array([n.distance_m for n in near], dtype=np.float64)
        return StopTimes(
            np.array([n.stop for n in near], dtype=np.int32),
            np.ceil(metres * DETOUR_FACTOR / speed).astype(np.int32),
        )

    def _egress_estimate(self, lat: float, lon: float) -> StopTimes:
        return self._estimate(lat, lon, self.options.plan.egress_limit_s)

    def on_streets(self, lat: float, lon: float) -> bool:
        """Whether /plan can route this point (it lies near the walk graph)."""
        return self.planner.snap(lat, lon) is not None

    def origin(
        self, lat: float, lon: float, dests: Destinations
    ) -> tuple[OriginLegs, list[FleetView]] | None:
        """The origin's searches and its fleets (with the own bike standing there), or None
        when /plan would refuse the origin (off the streets, or no bike street for the own
        bike) and it is not to be estimated (`beyond_streets`; then an origin without a
        bike street just has no own-bike option).
        """
        snap: Snap | None = self.planner.snap(lat, lon)
        if snap is None and self._near is not None:
            access = self._estimate(lat, lon, self.options.plan.access_limit_s)
            legs = self.planner.origin_beyond_streets(lat, lon, access, dests, self.options)
            # no vehicle from here, but rentals from stops to a destination index these
            return legs, list(self.views)
        if snap is None:
            return None
        views = list(self.views)
        if self.own_bike and self.service.rental_fleets is not None:
            try:
                views.append(self.service.rental_fleets.own_bike(lat, lon))
            except ValueError:  # QueryError: no bike street near the origin, /plan refuses it
                if self._near is None:
                    return None
                # an evaluation (`beyond_streets`) keeps the origin's other options
        legs = self.planner.origin(
            snap, dests, self.options, [v.fleet for v in views], self._roles(views)
        )
        return legs, views

    @staticmethod
    def _roles(views: Sequence[FleetView]) -> list[FleetRoles]:
        return [ROLES[v.mode] for v in views]

    def options_at(
        self,
        origin: tuple[OriginLegs, list[FleetView]],
        dests: Destinations,
        time_s: int,
    ) -> list[list[Priced]]:
        """Per destination, the priced candidates after /plan's merge of near-duplicates."""
        legs, views = origin
        found = self.planner.journeys(legs, dests, time_s, self.options)
        return [_merged([self.priced(j, views) for j in journeys]) for journeys in found]

    # -- pricing ---------------------------------------------------------------------------
    def priced(self, journey: Journey, views: Sequence[FleetView]) -> Priced:
        """`journey` as an option, priced by /plan's pricer (memoised).

        One pass over the legs collects everything the option needs (what it rides, what
        the price depends on, the walking and the distance): a batch makes millions.
        """
        ride_key: list[tuple[int, int, int]] = []
        rental_key: list[tuple[int, int, int, float]] = []
        vehicles: list[object] = []
        walk_s = 0
        metres = 0.0
        own = False
        for leg in journey.legs:
            if isinstance(leg, Ride):
                ride_key.append((leg.trip, leg.board_pos, leg.alight_pos))
                vehicles.append(("trip", leg.trip))
                base = int(self._pattern_ptr[leg.pattern])
                metres += float(
                    self._pattern_m[base + leg.alight_pos] - self._pattern_m[base + leg.board_pos]
                )
            elif isinstance(leg, Rental):
                v = views[leg.fleet]
                own = own or v.provider_id is None
                rental_key.append((leg.fleet, leg.pickup, leg.duration_s, leg.distance_m))
                vehicles.append(
                    (v.mode, v.provider_id, v.pickup_station_id[leg.pickup],
                     v.pickup_vehicle_id[leg.pickup])
                )
                metres += leg.distance_m
            else:  # walks: their times come from walking that far at the request's pace
                walk_s += leg.arrive_s - leg.depart_s
                metres += (leg.arrive_s - leg.depart_s) * self.template.walk_speed_mps
        key = (tuple(ride_key), tuple(rental_key))
        if key not in self._memo:
            self._memo[key] = self._price(journey, views)
        price, parts = self._memo[key]
        return Priced(
            family=_family(bool(ride_key), bool(rental_key), own),
            depart_s=journey.depart_s,
            arrive_s=journey.arrive_s,
            transfers=max(len(ride_key) - 1, 0),
            walk_s=walk_s,
            distance_m=round(metres),
            price_minor=price,
            parts=parts,
            # as `trips.choose` keys it: each trip, each rental by (mode, provider, station,
            # vehicle) of its pickup; a walk is ("walk-only",)
            vehicles=tuple(vehicles) or ("walk-only",),
            providers=tuple(sorted({str(views[r[0]].provider_id) for r in rental_key
                                    if views[r[0]].provider_id is not None})),
        )

    def _price(
        self, journey: Journey, views: Sequence[FleetView]
    ) -> tuple[int | None, tuple[Part, ...]]:
        """(final price or None, its parts by payee), from the pricer's own pieces.

        The amounts are `ItineraryPricer.quote`'s fare lines (each ride's line: the ride
        that buys a ticket carries it, covered rides carry 0) and `ItineraryPricer._rental`
        per rental; the total is their sum, unknown when a fare or a rental price is
        unknown or the parts are in two currencies, which is `ItineraryPricer.price` with
        no policy. Building /plan's display structures for every candidate would cost more
        than the search; `tests/test_batch_vs_plan.py` holds the two to the same prices.
        """
        parts: dict[tuple[str, str, bool, str], int] = {}
        fare = self._fare(journey, parts)
        if fare is None:
            return None, ()
        rentals = self._rentals(journey, views, parts)
        if rentals is None:
            return None, ()
        total, currency = fare
        amount, currencies = rentals
        if not journey.rides and currencies:
            currency = min(currencies)
        if currencies - {currency}:
            return None, ()
        out = tuple((op, kind, acc, minor, veh) for (op, kind, acc, veh), minor in parts.items())
        return total + amount, out

    def _fare(
        self, journey: Journey, parts: dict[tuple[str, str, bool, str], int]
    ) -> tuple[int, str] | None:
        """(the transit fare, its currency), None when unknown; each ride's line is added
        to `parts` under its agency.
        """
        rides = journey.rides
        if not rides:
            return 0, self.currency
        quote = self.pricer.quote(journey)
        if quote is None or quote.total is None:
            return None
        for ride, line in zip(rides, quote.lines, strict=True):
            if line.amount.amount_minor:
                key = (self._trip_agency[ride.trip], "transit", False, "transit")
                parts[key] = parts.get(key, 0) + line.amount.amount_minor
        return quote.total.amount_minor, quote.total.currency

    def _rentals(
        self,
        journey: Journey,
        views: Sequence[FleetView],
        parts: dict[tuple[str, str, bool, str], int],
    ) -> tuple[int, set[str]] | None:
        """(the rentals' total, their currencies), None when one has no price; each is
        added to `parts` under its provider (first/last mile when outside the rides).
        """
        legs = journey.legs
        ride_at = [k for k, leg in enumerate(legs) if isinstance(leg, Ride)]
        total = 0
        currencies: set[str] = set()
        for k, leg in enumerate(legs):
            if not isinstance(leg, Rental):
                continue
            money = self.pricer.rental_money(leg, views)
            if money is None:
                return None
            if isinstance(money, int):  # the rider's own bike
                continue
            currencies.add(money.currency)
            total += money.amount_minor
            if money.amount_minor:
                view = views[leg.fleet]
                access = bool(ride_at) and (k < ride_at[0] or k > ride_at[-1])
                key = (
                    f"provider:{view.provider_id}", "rental", access,
                    VEHICLE_FAMILY.get(view.mode, "rental"),
                )
                parts[key] = parts.get(key, 0) + money.amount_minor
        return total, currencies



class _MemoPricer(ItineraryPricer):
    """/plan's pricer without the active policy, remembering the two things it looks up per
    journey: the transit fare of a sequence of rides and the price of one rental. A batch
    asks for the same rides (to many destinations) and the same rentals (an access chain
    spliced into many journeys) again and again; how the parts add up stays the pricer's.
    """

    @classmethod
    def of(cls, pricer: ItineraryPricer) -> _MemoPricer:
        """The same fares, facts and date, no policy."""
        out = cls(pricer.fares, pricer.facts, pricer.service_date, None,
                  transit_pass=pricer.transit_pass)
        out.quotes = {}
        out.rentals = {}
        return out

    quotes: dict[tuple[tuple[int, int, int], ...], FareQuote | None]
    rentals: dict[tuple[int, int, int, float], tuple[LegPrice, tuple[Money | None, str] | None]]

    def quote(self, journey: Journey) -> FareQuote | None:
        """`ItineraryPricer.quote`, once per sequence of rides."""
        key = tuple((r.trip, r.board_pos, r.alight_pos) for r in journey.rides)
        if key not in self.quotes:
            self.quotes[key] = super().quote(journey)
        return self.quotes[key]

    def _rental(
        self, leg: Rental, fleets: Sequence[FleetView]
    ) -> tuple[LegPrice, tuple[Money | None, str] | None]:
        key = (leg.fleet, leg.pickup, leg.duration_s, leg.distance_m)
        if key not in self.rentals:
            self.rentals[key] = super()._rental(leg, fleets)
        return self.rentals[key]

    def rental_money(self, leg: Rental, fleets: Sequence[FleetView]) -> Money | int | None:
        """What one rental costs under the operator's plan: Money, None when the plan is
        missing, 0 for the rider's own bike (free, no currency of its own).
        """
        _, part = self._rental(leg, fleets)
        return 0 if part is None else part[0]


def best_of(options: Sequence[Priced]) -> PairBest:
    """The earliest arrival and the lowest known price among a pair's options."""
    arrive = min((o.arrive_s for o in options), default=-1)
    prices = [o.price_minor for o in options if o.price_minor is not None]
    return PairBest(arrive, min(prices, default=-1))


def family_fronts(options: Sequence[Priced]) -> list[Priced]:
    """Per family and providers ridden, the options no other option of the same family and
    providers beats on door-to-door duration and price, the two things a choice rule weighs
    (unknown prices and own bike + transit left out; of equal ones, the fewer transfers,
    then the earlier arrival).

    Each provider keeps its own best options, so a choice rule that spreads riders over
    near options (a logit) sees every operator a resident could pay, and the money that
    moves between operators can be followed.
    """
    out: list[Priced] = []
    by_family: dict[tuple[str, tuple[str, ...]], list[Priced]] = {}
    for o in options:
        if o.price_minor is not None and o.family != OWN_BIKE_TRANSIT:
            by_family.setdefault((o.family, o.providers), []).append(o)
    for family in sorted(by_family):
        cands = sorted(
            by_family[family],
            key=lambda o: (o.duration_s, o.price_minor, o.transfers, o.arrive_s),
        )
        cheapest = math.inf
        for o in cands:
            price = float(o.price_minor) if o.price_minor is not None else math.inf
            if price < cheapest:
                out.append(o)
                cheapest = price
    return out


def _merged(options: list[Priced]) -> list[Priced]:
    """/plan's first step: of options riding the very same vehicles, the earlier-arriving
    one stays (then less walking, fewer transfers, the lower price), as in `choose`.
    """
    best: dict[tuple[object, ...], Priced] = {}

    def rank(o: Priced) -> tuple[float, ...]:
        price = math.inf if o.price_minor is None else float(o.price_minor)
        return (o.arrive_s, o.walk_s, o.transfers, price)

    for o in options:
        if o.vehicles not in best or rank(o) < rank(best[o.vehicles]):
            best[o.vehicles] = o
    return list(best.values())


def _family(rides: bool, rentals: bool, own_bike: bool) -> str:
    """The option family of a journey with (or without) rides, rentals, the own bike."""
    if rides:
        if own_bike:
            return OWN_BIKE_TRANSIT
        return "rental_transit" if rentals else "walk_transit"
    if rentals:
        return "own_bike" if own_bike else "rental"
    return "walk"


def _pattern_metres(
    net: Network, stop_ptr: np.ndarray, stops: np.ndarray
) -> npt.NDArray[np.float64]:
    """Pattern position -> metres from the pattern's first stop, along straight lines
    between consecutive stops.
    """
    lat = np.asarray(net.stops.lat, dtype=np.float64)[stops]
    lon = np.asarray(net.stops.lon, dtype=np.float64)[stops]
    step = np.zeros(len(stops), dtype=np.float64)
    if len(stops) > 1:
        step[1:] = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    starts = np.asarray(stop_ptr[:-1], dtype=np.int64)
    step[starts[starts < len(stops)]] = 0.0  # no step into a pattern's first stop
    cum = np.cumsum(step)
    # restart at each pattern: subtract the running total at its first stop
    ptr = np.asarray(stop_ptr, dtype=np.int64)
    sizes = (ptr[1:] - ptr[:-1]).astype(np.int64)
    first = np.repeat(starts, sizes)
    out: npt.NDArray[np.float64] = cum - cum[first]
    return out

"""The one planning service: a trip request in, a typed plan out.

It owns the whole use case, in order: resolve the time and the timetable, take the current
fleets the request allows, search (`routing.multimodal`), draw every candidate as a cheap
draft, price it, choose, then draw the kept ones in full, price and choose again (walking
distances are then the streets', not the draft's estimate). The API, the command line and
the benchmarks all plan through `PlanningService.plan`, so a query gets the same answer
wherever it is asked.

One service per worker process: the router's search state is reused between queries and
is not thread-safe, so one thread at a time may plan (the API runs it on one thread).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from network.compiled import Network
from routing.errors import IsolatedPieceError, OutsideNetworkError, RoutingError, ServiceDateError
from routing.geo import haversine_m
from routing.journey import Journey
from routing.multimodal import FleetRoles, MultiModalOptions, MultiModalPlanner
from routing.planner import Plan, PlanOptions, ReasonCode
from trips.choose import Candidate, Chosen, choose
from trips.errors import DeadlineExceededError, TripError, UnroutablePointError
from trips.fare_facts import RideFactsReader
from trips.fleets import FleetView, RentalFleets
from trips.itinerary import ItineraryWriter
from trips.model import RENTAL_MODES, Itinerary, Mode, TripPlan
from trips.prices import ActivePolicy, ItineraryPricer
from trips.request import TripRequest

log = logging.getLogger(__name__)

#: where in a trip each vehicle mode may be used: the rider's own bike starts at the origin
#: (ride it, or ride it to a stop and leave it there) and a car is not taken between two
#: transit rides
ROLES: dict[str, FleetRoles] = {
    Mode.BICYCLE: FleetRoles(access=True, egress=False, direct=True, mid=False),
    Mode.BICYCLE_RENTAL: FleetRoles(),
    Mode.SCOOTER_RENTAL: FleetRoles(),
    Mode.CAR_RENTAL: FleetRoles(mid=False),
}

@dataclass(frozen=True, slots=True)
class _When:
    """A request's time resolved against the network: the service date, the timetable key
    and the seconds of that service day.
    """

    date: str
    key: str
    seconds: int


class PlanningService:
    """Plans trips on one network for one worker (see the module docstring)."""

    def __init__(self, network: Network, *, max_window_min: int = 240) -> None:
        self.net = network
        self.max_window_min = max_window_min
        #: the policy plans are priced under; swapped whole by the pricing service
        self.active_policy: ActivePolicy | None = None
        self._rental_fleets: RentalFleets | None = None
        self._facts: dict[str, RideFactsReader] = {}
        self._multimodal: dict[str, MultiModalPlanner] = {}
        #: requests whose search failed with providers' fleets and was answered without them
        self.shared_search_failures = 0

    # -- set-up ----------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Build the snapping index and compile the kernels before the first request."""
        self.net.walk_index  # noqa: B018  (property builds the STRtree)
        for key in set(self.net.manifest["service_dates"].values()):
            self.multimodal(key).warm_up()
        if self.net.rental_search is not None:
            self._rental_fleets = RentalFleets(self.net)
        self._warm_up_request()

    def _warm_up_request(self) -> None:
        """One walk + transit request between two stops, so drawing itineraries (street
        routes, shapes) is compiled too; a network where it finds nothing is fine.
        """
        date = self.net.service_dates[0]
        stops = self.net.stops
        key = self.net.manifest["service_dates"][date]
        on_streets = self.net.planner(key).stop_targets.stops
        if not len(on_streets):
            return
        # two stops a walk apart, so the direct-walk search runs (and compiles) too
        a = int(on_streets[0])
        apart = haversine_m(
            stops.lat[a], stops.lon[a], stops.lat[on_streets], stops.lon[on_streets]
        )
        near = on_streets[(apart > 300) & (apart < 2000)]
        b = int(near[0]) if len(near) else a
        request = TripRequest(
            from_lat=float(stops.lat[a]),
            from_lon=float(stops.lon[a]),
            to_lat=float(stops.lat[b]),
            to_lon=float(stops.lon[b]),
            at=self.net.at(date, 8 * 3600),
            modes=frozenset({Mode.WALK, Mode.TRANSIT}),
        )
        with contextlib.suppress(RoutingError, TripError):
            self.plan(request)

    @property
    def rental_fleets(self) -> RentalFleets | None:
        """The worker's fleet adapter: whoever stores snapshots keeps it current with
        `refresh` (the API's refresher thread, the CLI once before it plans); its
        `failures` and `broken()` name unusable feeds.
        """
        return self._rental_fleets

    def multimodal(self, key: str) -> MultiModalPlanner:
        """The multimodal planner of one timetable, built once per worker."""
        if key not in self._multimodal:
            self._multimodal[key] = MultiModalPlanner(self.net.planner(key), self.net.rental_search)
        return self._multimodal[key]

    def resolve(self, when: dt.datetime) -> tuple[str, str, int]:
        """`Network.resolve`, with dates too far out for calendar arithmetic reported as
        outside the feed.
        """
        try:
            return self.net.resolve(when)
        except RoutingError:
            raise
        except (OverflowError, ValueError) as exc:
            raise ServiceDateError(str(when)[:10], self.net.service_dates) from exc

    # -- fleets ----------------------------------------------------------------------------
    def fleets_for(self, request: TripRequest) -> tuple[list[FleetView], list[str]]:
        """The fleets this request may use, and notes on the ones it may not."""
        modes = request.modes
        views: list[FleetView] = []
        notes: list[str] = []
        if self._rental_fleets is None:
            return views, notes
        if modes & set(RENTAL_MODES):
            # the views a background refresh built: no store read, no build, on this path
            views, notes = self._rental_fleets.current(
                modes,
                providers=request.providers,
                exclude_providers=request.exclude_providers,
                now_s=int(time.time()),
            )
        if Mode.BICYCLE in modes:
            views.append(self._rental_fleets.own_bike(request.from_lat, request.from_lon))
        return views, notes

    # -- planning --------------------------------------------------------------------------
    def plan(self, request: TripRequest, *, deadline: Deadline | None = None) -> TripPlan:
        """The itineraries for `request`, best first, with notes and choices.

        `deadline` is checked before the work and before a second search: past it,
        DeadlineExceededError. Raises TripError for a request the server's limits refuse or
        a point that cannot be routed, ServiceDateError for a date outside the feed.
        """
        _check_deadline(deadline)
        if request.window_min > self.max_window_min:
            raise TripError(
                "window_too_long",
                f"window_min must be at most {self.max_window_min} on this server",
                field="window_min",
            )
        when = _When(*self.resolve(request.at))
        try:
            views, notes = self.fleets_for(request)
            try:
                answer = self._answer(request, when, views)
            except (TripError, DeadlineExceededError, OutsideNetworkError):
                raise
            except Exception as exc:  # isolation: shared vehicles must not fail the request
                answer = self._answer_without_shared(request, when, views, notes, exc, deadline)
        except OutsideNetworkError as exc:
            raise _unroutable(exc, request) from exc
        return msgspec.structs.replace(answer, notes=notes)

    def _options(self, request: TripRequest) -> MultiModalOptions:
        return search_options(request)

    def _answer(self, request: TripRequest, when: _When, views: list[FleetView]) -> TripPlan:
        """Search with `views`, then draw, price and choose the itineraries (no notes yet)."""
        multimodal = self.multimodal(when.key)
        found = multimodal.plan(
            request.from_lat,
            request.from_lon,
            request.to_lat,
            request.to_lon,
            when.seconds,
            self._options(request),
            [v.fleet for v in views],
            [ROLES[v.mode] for v in views],
        )
        writer = ItineraryWriter(
            self.net,
            multimodal.planner,
            when.date,
            when.key,
            walk_speed_mps=request.walk_speed_mps,
            fleets=views,
        )
        pricer = self.pricer(when.date, when.key, transit_pass=request.transit_pass)
        chosen = draw_and_choose(
            found,
            writer,
            pricer,
            limit=request.num_itineraries,
            arrive_by=request.arrive_by,
            window=request.window_min > 0,
        )
        reason, reason_code = found.reason, found.reason_code
        if not chosen.shown and not reason:
            reason = "no itinerary with the allowed modes"
            reason_code = str(ReasonCode.NO_ITINERARY_WITH_ALLOWED_MODES)
        return TripPlan(
            network=self.net.name,
            service_date=when.date,
            itineraries=chosen.itineraries(),
            reason=reason,
            reason_code=reason_code,
            choices=chosen.choices,
        )

    def _answer_without_shared(
        self,
        request: TripRequest,
        when: _When,
        views: list[FleetView],
        notes: list[str],
        exc: Exception,
        deadline: Deadline | None,
    ) -> TripPlan:
        """The answer without providers' fleets, after the search with them raised `exc`.

        The adapter already leaves out fleets it cannot build, so this is the last net under
        the search itself: a provider's data must never turn into a 5xx. Which provider is to
        blame is not known here, so all of them are left out of this one request; an error
        the query itself causes raises again without them and propagates as before.
        """
        shared = [v for v in views if v.provider_id is not None]
        if not shared:
            raise exc
        _check_deadline(deadline, cause=exc)
        providers = sorted({str(v.provider_id) for v in shared})
        self.shared_search_failures += 1
        log.error(
            "the search failed with the shared vehicles of %s; planning again without them",
            ", ".join(providers),
            exc_info=exc,
        )
        answer = self._answer(request, when, [v for v in views if v.provider_id is None])
        notes.append(
            f"shared vehicles of {', '.join(providers)} were left out of this plan: "
            f"searching them failed (internal error {type(exc).__name__})"
        )
        return answer

    def pricer(self, date: str, key: str, *, transit_pass: bool = False) -> ItineraryPricer:
        """Prices for one plan: the network's fares and the policy active right now."""
        if key not in self._facts:
            tt, trips = self.net.timetable(key)
            self._facts[key] = RideFactsReader(self.net, tt, trips)
        return ItineraryPricer(
            self.net.fares,
            self._facts[key],
            dt.date.fromisoformat(date),
            self.active_policy,
            transit_pass=transit_pass,
        )


def search_options(request: TripRequest) -> MultiModalOptions:
    """The router's options for a request: one definition for /plan and the batch search
    (`trips.batch`), so both search with the same limits.
    """
    modes = request.modes
    return MultiModalOptions(
        plan=PlanOptions(
            arrive_by=request.arrive_by,
            window_s=request.window_min * 60,
            max_walk_m=request.max_walk_m,
            walk_speed_mps=request.walk_speed_mps,
            max_transfers=request.max_transfers,
            max_access_s=round(request.max_access_min * 60),
            max_egress_s=round(request.max_egress_min * 60),
            max_direct_walk_s=round(request.max_direct_walk_min * 60),
        ),
        transit=Mode.TRANSIT in modes,
        walk_only=Mode.WALK in modes,
        max_ride_s=request.max_rental_min * 60,
        max_vehicle_walk_m=request.vehicle_walk_m(),
    )


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment (`time.monotonic()`) a request's time budget runs out."""

    budget_s: float
    at: float

    @classmethod
    def start(cls, budget_s: float) -> Deadline:
        """A deadline `budget_s` from now."""
        return cls(budget_s, time.monotonic() + budget_s)


def _check_deadline(deadline: Deadline | None, *, cause: Exception | None = None) -> None:
    if deadline is not None and time.monotonic() > deadline.at:
        raise DeadlineExceededError(deadline.budget_s) from cause


def draw_and_choose(
    found: Plan,
    writer: ItineraryWriter,
    pricer: ItineraryPricer,
    *,
    limit: int,
    arrive_by: bool,
    window: bool,
) -> Chosen:
    """Draft every candidate, choose, draw the kept ones in full and choose again.

    A multimodal plan has dozens of candidates and most are dominated; street and shape
    searches are most of the cost of drawing, so only the kept ones get them. The second
    choice is on the full drawings: walking distances are then the streets', not the
    draft's estimate.
    """

    def candidates(journeys: Sequence[Journey], draw: bool) -> list[Candidate]:
        out = []
        for journey in journeys:
            it = priced_itinerary(writer, pricer, found, journey, draw=draw)
            depart, arrive = writer.epoch(journey.depart_s), writer.epoch(journey.arrive_s)
            out.append(Candidate.of(it, depart, arrive))
        return out

    drafts = candidates(found.journeys, draw=False)
    journey_of = {c.id: j for c, j in zip(drafts, found.journeys, strict=True)}
    kept = choose(drafts, limit=limit, arrive_by=arrive_by, window=window).shown
    full = candidates([journey_of[c.id] for c in kept], draw=True)
    return choose(full, limit=limit, arrive_by=arrive_by, window=window)


def priced_itinerary(
    writer: ItineraryWriter,
    pricer: ItineraryPricer,
    found: Plan,
    journey: Journey,
    *,
    draw: bool,
) -> Itinerary:
    """One journey drawn (in full, or as a draft with `draw=False`) and priced."""
    drawn = writer.legs(journey, found, draw=draw)
    price, leg_prices = pricer.price(
        journey,
        [d.source for d in drawn],
        origin=(found.origin.lat, found.origin.lon),
        destination=(found.destination.lat, found.destination.lon),
        fleets=writer.fleets,
    )
    legs = [
        msgspec.structs.replace(d.leg, price=p) for d, p in zip(drawn, leg_prices, strict=True)
    ]
    return writer.itinerary(journey, legs, price)


def _unroutable(exc: OutsideNetworkError, request: TripRequest) -> UnroutablePointError:
    """The routing error of a point as an error that names the trip's end it belongs to."""
    is_origin = (exc.lat, exc.lon) == (request.from_lat, request.from_lon)
    # near streets, but only ones that lead nowhere: its own code, because like a point off
    # the map it is the request's point that cannot be used
    code = "isolated_street_piece" if isinstance(exc, IsolatedPieceError) else "outside_network"
    return UnroutablePointError("origin" if is_origin else "destination", code, str(exc))

"""Planning off the event loop, within a time budget.

Each worker process has one planning thread with its own planner state (RAPTOR's arrays
are reused between queries and are not thread-safe); worker processes add parallelism.
A request that waited in the queue past its budget is refused before any work is done, and
a caller stops waiting when the budget runs out, so no request holds a core for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from api.errors import ApiError
from api.schemas import PlanQuery
from network.compiled import Network
from routing.errors import IsolatedPieceError, OutsideNetworkError, RoutingError, ServiceDateError
from routing.geo import haversine_m
from routing.multimodal import FleetRoles, MultiModalOptions, MultiModalPlanner
from routing.planner import PlanOptions, ReasonCode
from trips.fare_facts import RideFactsReader
from trips.fleets import RENTAL_MODES, FleetView, RentalFleets
from trips.itinerary import ItineraryWriter, chosen_plan
from trips.prices import ActivePolicy, ItineraryPricer

if TYPE_CHECKING:
    from providers.model import FleetSnapshot

#: where in a trip each vehicle mode may be used: the rider's own bike starts at the origin
#: (ride it, or ride it to a stop and leave it there) and a car is not taken between two
#: transit rides
_ROLES = {
    "BICYCLE": FleetRoles(access=True, egress=False, direct=True, mid=False),
    "BICYCLE_RENTAL": FleetRoles(),
    "SCOOTER_RENTAL": FleetRoles(),
    "CAR_RENTAL": FleetRoles(mid=False),
}

log = logging.getLogger(__name__)


class BudgetExceededError(TimeoutError):
    """The request's time budget ran out (queueing included)."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        super().__init__(f"the plan took longer than its {budget_s:g} s budget")


class PlanService:
    """Owns the network's planners and the one thread they run on."""

    def __init__(self, network: Network, *, budget_s: float, max_window_min: int) -> None:
        self.net = network
        self.budget_s = budget_s
        self.max_window_min = max_window_min
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plan")
        #: the policy /plan applies; swapped whole by the pricing service, read once per plan
        self.active_policy: ActivePolicy | None = None
        self._facts: dict[str, RideFactsReader] = {}
        #: the store's fresh fleets at a given epoch second (set when the fleets start)
        self.fleet_source: Callable[[int], Mapping[str, FleetSnapshot]] | None = None
        self._rental_fleets: RentalFleets | None = None
        self._multimodal: dict[str, MultiModalPlanner] = {}
        #: requests whose search failed with providers' fleets and was answered without them
        self.shared_search_failures = 0

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
        q = PlanQuery(
            from_lat=float(stops.lat[a]),
            from_lon=float(stops.lon[a]),
            to_lat=float(stops.lat[b]),
            to_lon=float(stops.lon[b]),
            at=self.net.at(date, 8 * 3600),
            modes="WALK,TRANSIT",
        )
        with contextlib.suppress(RoutingError, ApiError):
            self._plan(q, time.monotonic() + 60.0)

    @property
    def rental_fleets(self) -> RentalFleets | None:
        """The worker's fleet adapter (its `failures` and `broken()` name unusable feeds)."""
        return self._rental_fleets

    def multimodal(self, key: str) -> MultiModalPlanner:
        """The multimodal planner of one timetable, built once per worker."""
        if key not in self._multimodal:
            self._multimodal[key] = MultiModalPlanner(self.net.planner(key), self.net.rental_search)
        return self._multimodal[key]

    def fleets_for(self, q: PlanQuery) -> tuple[list[FleetView], list[str]]:
        """The fleets this request may use, and notes on the ones it may not."""
        modes = q.mode_set()
        views: list[FleetView] = []
        notes: list[str] = []
        if self._rental_fleets is None:
            return views, notes
        if modes & set(RENTAL_MODES) and self.fleet_source is not None:
            snapshots = self.fleet_source(int(time.time()))
            views, notes = self._rental_fleets.views(
                snapshots,
                modes=modes,
                providers=q.provider_set(),
                exclude_providers=q.excluded_set(),
            )
        if "BICYCLE" in modes:
            views.append(self._rental_fleets.own_bike(q.from_lat, q.from_lon))
        return views, notes

    async def plan(self, q: PlanQuery) -> dict[str, Any]:
        """Plan `q` on the planning thread; raise BudgetExceededError past the budget."""
        deadline = time.monotonic() + self.budget_s
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._plan, q, deadline)
        try:
            return await asyncio.wait_for(future, timeout=self.budget_s)
        except TimeoutError:
            raise BudgetExceededError(self.budget_s) from None

    def _plan(self, q: PlanQuery, deadline: float) -> dict[str, Any]:
        if time.monotonic() > deadline:  # waited in the queue for the whole budget
            raise BudgetExceededError(self.budget_s)
        if q.window_min > self.max_window_min:
            raise ApiError(
                422,
                "window_too_long",
                f"window_min must be at most {self.max_window_min} on this server",
                field="window_min",
            )
        date, key, seconds = resolve_time(self.net, q.at)
        options = PlanOptions(
            arrive_by=q.arrive_by,
            window_s=q.window_min * 60,
            max_walk_m=q.max_walk_m,
            walk_speed_mps=q.walk_speed_mps,
            max_transfers=q.max_transfers,
            max_access_s=round(q.max_access_min * 60),
            max_egress_s=round(q.max_egress_min * 60),
            max_direct_walk_s=round(q.max_direct_walk_min * 60),
        )
        try:
            views, notes = self.fleets_for(q)
            try:
                doc = self._answer(q, date, key, seconds, options, views)
            except (ApiError, BudgetExceededError, OutsideNetworkError):
                raise
            except Exception as exc:  # isolation: shared vehicles must not fail the request
                doc = self._answer_without_shared(
                    q, date, key, seconds, options, views, notes, exc, deadline
                )
        except OutsideNetworkError as exc:  # the error carries the point: name its end
            is_origin = (exc.lat, exc.lon) == (q.from_lat, q.from_lon)
            field = "from_lat" if is_origin else "to_lat"
            # near streets, but only ones that lead nowhere: its own code, also a 422,
            # because like a point off the map it is the request's point that cannot be used
            isolated = isinstance(exc, IsolatedPieceError)
            code = "isolated_street_piece" if isolated else "outside_network"
            raise ApiError(422, code, str(exc), field=field) from exc
        doc["notes"] = notes
        return doc

    def _answer(
        self,
        q: PlanQuery,
        date: str,
        key: str,
        seconds: int,
        options: PlanOptions,
        views: list[FleetView],
    ) -> dict[str, Any]:
        """Search with `views` and draw, price and choose the itineraries (no notes yet)."""
        modes = q.mode_set()
        multimodal = self.multimodal(key)
        plan = multimodal.plan(
            q.from_lat,
            q.from_lon,
            q.to_lat,
            q.to_lon,
            seconds,
            MultiModalOptions(
                plan=options,
                transit="TRANSIT" in modes,
                walk_only="WALK" in modes,
                max_ride_s=q.max_rental_min * 60,
                max_vehicle_walk_m=vehicle_walk_m(q),
            ),
            [v.fleet for v in views],
            [_ROLES[v.mode] for v in views],
        )
        writer = ItineraryWriter(
            self.net, multimodal.planner, date, key, walk_speed_mps=q.walk_speed_mps, fleets=views
        )
        doc = chosen_plan(
            writer,
            plan,
            pricer=self.pricer(date, key, transit_pass=q.transit_pass),
            limit=q.num_itineraries,
            arrive_by=q.arrive_by,
            window=q.window_min > 0,
        )
        if not doc["itineraries"] and not doc["reason"]:
            doc["reason"] = "no itinerary with the allowed modes"
            doc["reason_code"] = str(ReasonCode.NO_ITINERARY_WITH_ALLOWED_MODES)
        return doc

    def _answer_without_shared(
        self,
        q: PlanQuery,
        date: str,
        key: str,
        seconds: int,
        options: PlanOptions,
        views: list[FleetView],
        notes: list[str],
        exc: Exception,
        deadline: float,
    ) -> dict[str, Any]:
        """The answer without providers' fleets, after the search with them raised `exc`.

        The adapter already leaves out fleets it cannot build, so this is the last net under
        the search itself: a provider's data must never turn into a 5xx. Which provider is to
        blame is not known here, so all of them are left out of this one request; an error
        the query itself causes raises again without them and propagates as before.
        """
        shared = [v for v in views if v.provider_id is not None]
        if not shared:
            raise exc
        if time.monotonic() > deadline:
            raise BudgetExceededError(self.budget_s) from exc
        providers = sorted({str(v.provider_id) for v in shared})
        self.shared_search_failures += 1
        log.error(
            "the search failed with the shared vehicles of %s; planning again without them",
            ", ".join(providers),
            exc_info=exc,
        )
        doc = self._answer(
            q, date, key, seconds, options, [v for v in views if v.provider_id is None]
        )
        notes.append(
            f"shared vehicles of {', '.join(providers)} were left out of this plan: "
            f"searching them failed (internal error {type(exc).__name__})"
        )
        return doc

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

    def close(self) -> None:
        """Stop the planning thread (at shutdown)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def vehicle_walk_m(q: PlanQuery) -> float:
    """The farthest walk to or from a shared vehicle: at most 1 km (a vehicle farther away is
    not a reason to rent one), and never more than the request's walking limits allow.
    """
    limit_s = min(q.max_access_min, q.max_egress_min) * 60
    cap_m = q.max_walk_m if q.max_walk_m is not None else math.inf
    return min(1000.0, cap_m, limit_s * q.walk_speed_mps)


def resolve_time(net: Network, when: Any) -> tuple[str, str, int]:
    """`Network.resolve`, with dates too far out for calendar arithmetic reported as such."""
    try:
        return net.resolve(when)
    except RoutingError:
        raise
    except (OverflowError, ValueError) as exc:
        raise ServiceDateError(str(when)[:10], net.service_dates) from exc

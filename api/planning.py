"""Planning off the event loop, within a time budget.

Each worker process has one planning thread with its own planner state (RAPTOR's arrays
are reused between queries and are not thread-safe); worker processes add parallelism.
A request that waited in the queue past its budget is refused before any work is done, and
a caller stops waiting when the budget runs out, so no request holds a core for long.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from api.errors import ApiError
from api.schemas import PlanQuery
from fairtrip.fare_facts import RideFactsReader
from fairtrip.itinerary import ItineraryWriter, plan_to_dict, select_itineraries
from fairtrip.itinerary_prices import ActivePolicy, ItineraryPricer
from fairtrip.network import Network
from routing.errors import OutsideNetworkError, RoutingError, ServiceDateError
from routing.planner import PlanOptions

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

    def warm_up(self) -> None:
        """Build the snapping index and compile the kernels before the first request."""
        self.net.walk_index  # noqa: B018  (property builds the STRtree)
        for key in set(self.net.manifest["service_dates"].values()):
            self.net.planner(key)

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
        )
        planner = self.net.planner(key)
        try:
            plan = planner.plan(q.from_lat, q.from_lon, q.to_lat, q.to_lon, seconds, options)
        except OutsideNetworkError as exc:  # the error carries the point: name its end
            is_origin = (exc.lat, exc.lon) == (q.from_lat, q.from_lon)
            field = "from_lat" if is_origin else "to_lat"
            raise ApiError(422, "outside_network", str(exc), field=field) from exc
        writer = ItineraryWriter(self.net, planner, date, key, walk_speed_mps=q.walk_speed_mps)
        doc = plan_to_dict(writer, plan, pricer=self.pricer(date, key))
        doc["itineraries"] = select_itineraries(
            doc["itineraries"],
            limit=q.num_itineraries,
            arrive_by=q.arrive_by,
            window=q.window_min > 0,
        )
        return doc

    def pricer(self, date: str, key: str) -> ItineraryPricer:
        """Prices for one plan: the network's fares and the policy active right now."""
        if key not in self._facts:
            tt, trips = self.net.timetable(key)
            self._facts[key] = RideFactsReader(self.net, tt, trips)
        return ItineraryPricer(
            self.net.fares, self._facts[key], dt.date.fromisoformat(date), self.active_policy
        )

    def close(self) -> None:
        """Stop the planning thread (at shutdown)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def resolve_time(net: Network, when: Any) -> tuple[str, str, int]:
    """`Network.resolve`, with dates too far out for calendar arithmetic reported as such."""
    try:
        return net.resolve(when)
    except RoutingError:
        raise
    except (OverflowError, ValueError) as exc:
        raise ServiceDateError(str(when)[:10], net.service_dates) from exc

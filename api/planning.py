"""Planning off the event loop, within a time budget.

The planning itself is `trips.service.PlanningService`; this module only runs it where an
HTTP server needs it. Each worker process has one planning thread (the router's state is
reused between queries and is not thread-safe); worker processes add parallelism. A
request that waited in the queue past its budget is refused before any work is done, and a
caller stops waiting when the budget runs out, so no request holds a core for long.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from network.compiled import Network
from trips.errors import DeadlineExceededError
from trips.fleets import RentalFleets
from trips.model import TripPlan
from trips.request import TripRequest
from trips.service import Deadline, PlanningService


class PlanService:
    """The worker's planning service and the one thread it runs on."""

    def __init__(self, network: Network, *, budget_s: float, max_window_min: int) -> None:
        self.budget_s = budget_s
        self.service = PlanningService(network, max_window_min=max_window_min)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plan")

    @property
    def rental_fleets(self) -> RentalFleets | None:
        """The worker's fleet adapter (see `PlanningService.rental_fleets`)."""
        return self.service.rental_fleets

    def warm_up(self) -> None:
        """Compile and build what the first request would otherwise wait for."""
        self.service.warm_up()

    async def plan(self, request: TripRequest) -> TripPlan:
        """Plan on the planning thread; DeadlineExceededError past the budget."""
        deadline = Deadline.start(self.budget_s)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._executor, lambda: self.service.plan(request, deadline=deadline)
        )
        try:
            return await asyncio.wait_for(future, timeout=self.budget_s)
        except TimeoutError:
            raise DeadlineExceededError(self.budget_s) from None

    def close(self) -> None:
        """Stop the planning thread (at shutdown)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

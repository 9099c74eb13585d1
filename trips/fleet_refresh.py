"""Keeping a worker's fleet views current on a thread of their own, off the request path.

Why a thread. Turning a changed snapshot into router fleets (snapping thousands of points,
compiling geofencing) takes milliseconds to seconds. On the planning thread that time would
come out of a request's budget; on the event loop it would stall every request. So each
worker runs one `FleetRefresher`: a daemon thread that reads the store's fresh snapshots
every `period_s`, and whenever asked, and hands them to `RentalFleets.refresh`, which builds
only what changed and swaps in the views `RentalFleets.current` serves.

How fresh. A worker that stores a snapshot itself (a push it answered, a poll, the
synthetic fleets) asks for a refresh at once (`request`); a push handler waits for it, so a
plan sent after the push's response sees the vehicles. A snapshot another worker stored
(the store is shared through Redis) reaches this worker's views within `period_s`, plus the
time to build it. A snapshot that goes stale between two refreshes is dropped by
`RentalFleets.current` itself, by its timestamps.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, InvalidStateError

from providers.model import FleetSnapshot
from trips.fleets import RentalFleets

log = logging.getLogger(__name__)

#: the store's fresh snapshots at an epoch second (`AvailabilityStore.fresh_snapshots`)
SnapshotSource = Callable[[int], Mapping[str, FleetSnapshot]]


class FleetRefresher:
    """One worker's background refresh of its `RentalFleets` from a snapshot source.

    Parameters
    ----------
    fleets
        the adapter whose `current` views are kept up to date.
    source
        the store's fresh snapshots at an epoch second.
    period_s
        seconds between two reads of the source when nobody asks sooner.
    clock
        wall clock in epoch seconds (tests pass their own).
    """

    def __init__(
        self,
        fleets: RentalFleets,
        source: SnapshotSource,
        *,
        period_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        self.fleets = fleets
        self.period_s = period_s
        self._source = source
        self._clock = clock
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # guards _waiters and _thread
        self._waiters: list[Future[None]] = []
        self._thread: threading.Thread | None = None
        #: why the last refresh failed (None once one succeeds); for /ready
        self.last_error: str | None = None
        #: epoch second the last good refresh read its snapshots (None before the first)
        self.refreshed_at_s: float | None = None

    def start(self) -> None:
        """Start the thread (once). Call `refresh_now` first when views are needed before
        the first period ends.
        """
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("the fleet refresher is already started")
            self._thread = threading.Thread(target=self._run, name="fleet-refresh", daemon=True)
            self._thread.start()

    def refresh_now(self) -> bool:
        """One refresh on the calling thread; True when it succeeded.

        A failure (the source raised, or a defect) keeps the views as they were, is logged
        once until a refresh succeeds again, and is kept in `last_error`. Failures of one
        provider's data are not failures here: `RentalFleets` leaves that provider out.
        """
        read_at_s = self._clock()
        started = time.perf_counter()
        try:
            changed = self.fleets.refresh(self._source(int(read_at_s)))
        except Exception as exc:  # the refresh must outlive any one failure
            if self.last_error is None:
                log.exception("fleet views not refreshed; requests keep the previous ones")
            self.last_error = f"{type(exc).__name__}: {exc}"
            return False
        if self.last_error is not None:
            log.info("fleet views refreshed again after: %s", self.last_error)
        self.last_error = None
        self.refreshed_at_s = read_at_s
        if changed:
            log.debug(
                "fleet views of %s rebuilt in %.0f ms",
                ", ".join(changed),
                (time.perf_counter() - started) * 1000,
            )
        return True

    def request(self) -> Future[None]:
        """Ask for a refresh now; the future is done once a refresh that read the source
        after this call has finished (at once when the thread is not running).
        """
        future: Future[None] = Future()
        with self._lock:
            running = self._thread is not None and not self._stopping.is_set()
            if running:
                self._waiters.append(future)
        if not running:
            future.set_result(None)
            return future
        self._wake.set()
        return future

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (at shutdown); whoever still waits is released."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        self._release(self._take_waiters())

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.period_s)
            self._wake.clear()
            if self._stopping.is_set():
                break
            # taken before the read: a request that comes later wakes the next round
            waiters = self._take_waiters()
            self.refresh_now()
            self._release(waiters)

    def _take_waiters(self) -> list[Future[None]]:
        with self._lock:
            waiters, self._waiters = self._waiters, []
        return waiters

    @staticmethod
    def _release(waiters: list[Future[None]]) -> None:
        for future in waiters:
            with contextlib.suppress(InvalidStateError):  # the caller gave up waiting: fine
                future.set_result(None)

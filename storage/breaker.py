"""The circuit breaker every Redis call passes: stop hammering a backend that is down.

closed --(N consecutive failures)--> open --(cooldown elapsed)--> half-open
half-open --(the one probe call succeeds)--> closed;  --(it fails)--> open again.

While open, callers fail fast (reads fall back to the in-process copy, writes are refused with
a retry-after) instead of each waiting for a socket timeout: with a 0.5 s timeout and a full
threadpool, an outage would otherwise stall every request.

pybreaker keeps the state, counts the consecutive failures and makes the transitions. We do
not hand it the Redis call itself (`pybreaker.CircuitBreaker.call`), because it holds its lock
for the whole call, which would serialise every Redis round trip of every worker thread.
Instead `storage.redis_conn.guarded` asks `allow()`, makes the call outside any lock and
reports the outcome, which is fed to pybreaker as a trivial call. `allow()` adds the one rule
pybreaker lacks: in half-open exactly one probe goes through and everyone else fails fast, so
a recovering Redis is not hit by every waiting worker at once. The clock is injectable (and
monotonic) so tests can step through the states without sleeping.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import pybreaker

log = logging.getLogger(__name__)

#: consecutive failures that open the circuit
DEFAULT_FAILURE_THRESHOLD = 3
#: seconds the circuit stays open before one probe call is allowed
DEFAULT_COOLDOWN_S = 5.0


class BreakerState(StrEnum):
    """Where the breaker is in its cycle (the values appear in health reports)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class _FailedCallError(Exception):
    """Stands for a failed backend call when the outcome is reported to pybreaker."""


def _answered() -> None:
    """Stands for a backend call that got an answer."""


def _failed() -> None:
    raise _FailedCallError


class _ClockStorage(pybreaker.CircuitMemoryStorage):
    """pybreaker's in-memory state, with the opening instant taken from our clock.

    pybreaker compares `opened_at` with the wall clock. We keep the instant on our (monotonic,
    injectable) clock and report it as "now minus the time elapsed on our clock", so its
    comparison measures our clock and a wall-clock step cannot shorten or stretch a cooldown.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(pybreaker.STATE_CLOSED)
        self._clock = clock
        self._opened_at_s = 0.0

    @property
    def opened_at(self) -> datetime | None:
        return datetime.now(UTC) - timedelta(seconds=self.open_for_s())

    @opened_at.setter
    def opened_at(self, _wall_clock: datetime) -> None:
        self._opened_at_s = self._clock()

    def open_for_s(self) -> float:
        """Seconds since the circuit last opened, on our clock."""
        return self._clock() - self._opened_at_s


class _LogTransitions(pybreaker.CircuitBreakerListener):
    """One log line when the circuit opens or closes."""

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        if old_state is None or old_state.name == new_state.name:
            return
        if new_state.name == pybreaker.STATE_OPEN:
            log.warning(
                "%s circuit open after %d failure(s); next probe in %.1f s",
                cb.name,
                cb.fail_counter,
                cb.reset_timeout,
            )
        elif new_state.name == pybreaker.STATE_CLOSED:
            log.info("%s circuit closed: backend answered", cb.name)


class CircuitBreaker:
    """Counts consecutive failures of one backend and decides whether to call it."""

    def __init__(
        self,
        *,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        cooldown_s: float = DEFAULT_COOLDOWN_S,
        clock: Callable[[], float] = time.monotonic,
        name: str = "redis",
    ) -> None:
        if failure_threshold < 1 or cooldown_s <= 0:
            raise ValueError(
                f"failure_threshold={failure_threshold} must be >= 1 and "
                f"cooldown_s={cooldown_s} > 0"
            )
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.name = name
        self._storage = _ClockStorage(clock)
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=failure_threshold,
            reset_timeout=cooldown_s,
            state_storage=self._storage,
            listeners=[_LogTransitions()],
            name=name,
            throw_new_error_on_trip=False,
        )
        self._lock = threading.Lock()
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose cooldown is over reports half-open)."""
        with self._lock:
            return self._state()

    def allow(self) -> bool:
        """True if a call may go to the backend now (claims the probe in half-open)."""
        with self._lock:
            state = self._state()
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.OPEN or self._probe_in_flight:
                return False
            self._breaker.half_open()
            self._probe_in_flight = True
            return True

    def record_success(self) -> None:
        """The backend answered: close the circuit and restart the failure count."""
        with self._lock:
            self._probe_in_flight = False
            if self._breaker.current_state == pybreaker.STATE_OPEN:
                # a call let through before the circuit opened was answered after all
                self._breaker.close()
            else:
                self._breaker.call(_answered)

    def record_failure(self) -> None:
        """The backend failed: open the circuit after enough failures (or a failed probe)."""
        with self._lock:
            self._probe_in_flight = False
            if self._breaker.current_state == pybreaker.STATE_OPEN:
                return  # a call let through before the circuit opened failed late
            with contextlib.suppress(_FailedCallError):  # pybreaker re-raises what the call raised
                self._breaker.call(_failed)

    def retry_after_s(self) -> int:
        """Whole seconds until the next probe may run (at least 1: what a 503 should say)."""
        with self._lock:
            if self._breaker.current_state != pybreaker.STATE_OPEN:
                return 1
            return max(1, math.ceil(self.cooldown_s - self._storage.open_for_s()))

    def _state(self) -> BreakerState:
        current = self._breaker.current_state
        if current == pybreaker.STATE_CLOSED:
            return BreakerState.CLOSED
        if current == pybreaker.STATE_OPEN and self._storage.open_for_s() < self.cooldown_s:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

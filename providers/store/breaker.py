"""A thread-safe circuit breaker: stop hammering a backend that is down, probe it later.

closed --(N consecutive failures)--> open --(cooldown elapsed)--> half-open
half-open --(the one probe call succeeds)--> closed;  --(it fails)--> open again.

While open, callers fail fast (reads fall back to the in-process copy, writes are refused with
a retry-after) instead of each waiting for a socket timeout: with a 0.5 s timeout and a full
threadpool, an outage would otherwise stall every request. Only one probe is let through in
half-open, so a recovering Redis is not hit by every waiting worker at once. The clock is
injectable so tests can step through the states without sleeping.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from enum import StrEnum

log = logging.getLogger(__name__)

#: consecutive failures that open the circuit
DEFAULT_FAILURE_THRESHOLD = 3
#: seconds the circuit stays open before one probe call is allowed
DEFAULT_COOLDOWN_S = 5.0


class BreakerState(StrEnum):
    """Where the breaker is in its cycle."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


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
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose cooldown is over reports half-open)."""
        with self._lock:
            if self._state is BreakerState.OPEN and self._cooled_down():
                return BreakerState.HALF_OPEN
            return self._state

    def allow(self) -> bool:
        """True if a call may go to the backend now (claims the probe in half-open)."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                if not self._cooled_down():
                    return False
                self._state = BreakerState.HALF_OPEN
                self._probe_in_flight = False
            if self._probe_in_flight:
                return False
            self._probe_in_flight = True
            return True

    def record_success(self) -> None:
        """The backend answered: close the circuit."""
        with self._lock:
            if self._state is not BreakerState.CLOSED:
                log.info("%s circuit closed: backend answered", self.name)
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._probe_in_flight = False

    def record_failure(self) -> None:
        """The backend failed: open the circuit after enough failures (or a failed probe)."""
        with self._lock:
            self._failures += 1
            self._probe_in_flight = False
            if self._state is BreakerState.HALF_OPEN or (
                self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold
            ):
                log.warning(
                    "%s circuit open after %d failure(s); next probe in %.1f s",
                    self.name,
                    self._failures,
                    self.cooldown_s,
                )
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()

    def retry_after_s(self) -> int:
        """Whole seconds until the next probe may run (at least 1: what a 503 should say)."""
        with self._lock:
            if self._state is not BreakerState.OPEN:
                return 1
            remaining = self.cooldown_s - (self._clock() - self._opened_at)
            return max(1, math.ceil(remaining))

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self.cooldown_s

"""The Redis client settings and the one guard every Redis call of fairtrip goes through.

redis-py's defaults suit a batch job, not a request path: a 5 s socket timeout and (since
redis-py 6) ten retries with exponential backoff would hold a request for tens of seconds
during an outage. We use short explicit timeouts, one immediate retry (enough to replace a
pooled connection that died while idle, e.g. after a Redis restart) and let the circuit
breaker decide when to stop trying.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.retry import Retry

from storage.breaker import CircuitBreaker

T = TypeVar("T")

#: errors that mean "the backend is unavailable", as opposed to a bug in our command
AVAILABILITY_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,  # includes BusyLoadingError
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,  # a replica after failover refuses writes
)


def make_client(url: str, *, socket_timeout_s: float) -> redis.Redis:
    """A sync client for `url` with explicit timeouts and no slow retry loop."""
    return redis.Redis.from_url(
        url,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=socket_timeout_s,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
        decode_responses=False,
    )


class BackendUnavailableError(ConnectionError):
    """The breaker refused the call or the call failed for availability reasons.

    Callers above storage translate it into their own typed error (the providers package
    into `StoreUnavailableError`), so storage needs to know nothing about them.
    """

    def __init__(self, reason: str, retry_after_s: int) -> None:
        self.reason = reason
        self.retry_after_s = retry_after_s
        super().__init__(reason)


def guarded(breaker: CircuitBreaker, what: str, call: Callable[[], T]) -> T:
    """Run `call` if the breaker allows it and record the outcome (raises on unavailability)."""
    if not breaker.allow():
        raise BackendUnavailableError(f"{what}: circuit open", breaker.retry_after_s())
    try:
        result = call()
    except AVAILABILITY_ERRORS as e:
        breaker.record_failure()
        raise BackendUnavailableError(
            f"{what}: {type(e).__name__}: {e}", breaker.retry_after_s()
        ) from e
    except Exception:
        breaker.record_success()  # the server answered; the error is ours
        raise
    breaker.record_success()
    return result


def watch(pipe: Pipeline, *keys: str) -> None:
    """WATCH `keys` for the transaction `pipe` runs next.

    A typed wrapper: redis-py leaves `Pipeline.watch` unannotated, which mypy refuses to call
    from typed code; the one ignore lives here instead of at every transaction.
    """
    pipe.watch(*keys)  # type: ignore[no-untyped-call]

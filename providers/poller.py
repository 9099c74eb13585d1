"""Poll GBFS feeds: one asyncio task per provider, each on the cadence its feed asks for.

A cycle fetches the discovery file (`gbfs.json`), then the files the router needs, in
parallel, parses them into one `FleetSnapshot` (`source="poll"`) and hands it to
`on_snapshot`. Nothing reaches `on_snapshot` unless the whole feed parsed, so a provider
whose feed turns bad keeps its last good snapshot downstream while its status shows why.

Why one task per provider: a provider whose server hangs (each fetch can take up to the
fetcher's deadline) must not delay anyone else's updates, and a failure (`FeedError`,
`FetchError`, `UnsafeUrlError`, or a bug) is contained in its task and recorded in its status.

When to poll next:

- After a success, after the smallest `ttl` of the dynamic files (`station_status`,
  `vehicle_status`/`free_bike_status`; all files when a feed has none of them), clamped to
  `[min_ttl_s, max_ttl_s]` (default 15 s .. 1 h). The lower bound exists because `ttl: 0`
  is common ("always fresh", e.g. TIER's feeds) and would otherwise be a busy loop against
  the operator's server; 15 s is the GBFS recommendation for real-time data. The upper
  bound keeps a provider that claims a day-long ttl from going unnoticed when it changes.
- After a failure, exponential backoff with full jitter: a uniform draw from
  `[0, min(cap, base * 2**(failures - 1)))` (base 5 s, cap 10 min), so many pollers that
  failed together (the operator's outage) do not return in lockstep. tenacity runs the
  retries; the draw is ours (`backoff_delay_s`) because tenacity's own full-jitter wait uses
  the global `random` and tests need a seeded one.

Conditional requests: each file's last `ETag`/`Last-Modified` is sent back; a `304` reuses the
body already held, which makes frequent polling of big static files (geofencing) cheap.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from providers.errors import ProviderError, UnknownProviderError, UnsafeUrlError
from providers.fetch import FetchResult, join_url
from providers.gbfs import GBFS_FILES, parse_discovery, parse_feed
from providers.model import FleetSnapshot
from providers.service_area import ServiceArea
from providers.urlsafety import check_url_syntax

logger = logging.getLogger(__name__)

#: files whose ttl sets the polling cadence: they change minute by minute
DYNAMIC_FILES: tuple[str, ...] = ("station_status", "vehicle_status", "free_bike_status")
#: files fetched each cycle when the discovery file lists them: exactly those the parser
#: reads (what the router needs); others (system_hours, alerts...) are not fetched
WANTED_FILES: frozenset[str] = GBFS_FILES
#: ttl assumed when a snapshot carries no freshness record at all
DEFAULT_TTL_S = 60

OnSnapshot = Callable[[FleetSnapshot], Awaitable[None] | None]


class FeedFetcher(Protocol):
    """What the poller needs from a fetcher (`providers.fetch.SafeFetcher` is one)."""

    allow_hosts: frozenset[str]

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetch one file; conditional when `etag`/`last_modified` are given."""
        ...


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """How polling one provider is going; times are epoch seconds from the poller's clock.

    `last_error` is the reason the last failed cycle gave (``UnsafeUrlError: ...`` for a
    refused URL), fit to show in the provider's public status: a fetch or feed error says
    what was wrong with the feed; an unexpected error is named by its type only (its text
    may describe the server, and it is in the log). `refused` is true when the registered
    URL itself is refused, so the provider is not polled at all until it is re-registered.
    """

    provider_id: str
    gbfs_url: str
    last_success_s: int | None
    last_error: str | None
    last_error_s: int | None
    consecutive_failures: int
    next_poll_s: float | None
    refused: bool = False

    @property
    def failing(self) -> bool:
        """True when the most recent cycle (or the registration) failed."""
        return self.consecutive_failures > 0


@dataclass(slots=True)
class _Provider:
    """Mutable state of one provider; only its own task writes it."""

    provider_id: str
    gbfs_url: str
    language: str | None
    task: asyncio.Task[None] | None = None
    last_success_s: int | None = None
    last_error: str | None = None
    last_error_s: int | None = None
    consecutive_failures: int = 0
    next_poll_s: float | None = None
    refused: bool = False
    snapshot: FleetSnapshot | None = None
    #: url -> last full response, for conditional requests; only last cycle's urls are kept
    cache: dict[str, FetchResult] = field(default_factory=dict)


def _current_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def next_poll_delay_s(snapshot: FleetSnapshot, *, min_ttl_s: float, max_ttl_s: float) -> float:
    """Seconds until the next poll after a success (see the module docstring for the rule)."""
    ttls = [f.ttl_s for f in snapshot.feeds if f.name in DYNAMIC_FILES]
    ttls = ttls or [f.ttl_s for f in snapshot.feeds]
    ttl_s = min(ttls) if ttls else DEFAULT_TTL_S
    return float(min(max(ttl_s, min_ttl_s), max_ttl_s))


def backoff_delay_s(
    consecutive_failures: int, *, base_s: float, cap_s: float, rng: random.Random
) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**(n - 1)))."""
    exponent = min(max(consecutive_failures - 1, 0), 32)  # 2**32 * base is past any cap
    return rng.uniform(0.0, min(cap_s, base_s * 2.0**exponent))


def _validated(results: Mapping[str, FetchResult]) -> dict[str, FetchResult]:
    """The results worth a conditional request next time: those with a validator."""
    return {url: r for url, r in results.items() if r.etag or r.last_modified}


async def _fetch_all(
    fetch: Callable[[str], Coroutine[Any, Any, FetchResult]], urls: Mapping[str, str]
) -> dict[str, FetchResult]:
    """Fetch every url concurrently; the first failure cancels the rest and is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = {name: group.create_task(fetch(url)) for name, url in urls.items()}
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return {name: task.result() for name, task in tasks.items()}


class Poller:
    """Keeps every registered provider's fleet fresh by polling its GBFS feed.

    Parameters
    ----------
    fetcher
        Shared by all providers; it enforces the URL safety rules, size cap and deadline.
    on_snapshot
        Receives each good snapshot (sync or async); never called with a feed that failed
        to fetch or parse. If it raises (say the store is down), the cycle counts as failed
        and is retried with backoff.
    clock
        Epoch seconds, for status times and the parser's `received_at_s`.
    sleep
        Waits between cycles; tests inject a fake to avoid real waiting.
    rng
        Source of backoff jitter.
    min_ttl_s, max_ttl_s
        Bounds on the delay between successful polls.
    backoff_base_s, backoff_cap_s
        Backoff after failures.
    """

    def __init__(
        self,
        fetcher: FeedFetcher,
        on_snapshot: OnSnapshot,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        min_ttl_s: float = 15,
        max_ttl_s: float = 3600,
        backoff_base_s: float = 5.0,
        backoff_cap_s: float = 600.0,
        area: ServiceArea | None = None,
    ) -> None:
        if not 0 < min_ttl_s <= max_ttl_s:
            raise ValueError(f"need 0 < min_ttl_s <= max_ttl_s, got {min_ttl_s}, {max_ttl_s}")
        if not 0 < backoff_base_s <= backoff_cap_s:
            raise ValueError(
                f"need 0 < backoff_base_s <= backoff_cap_s, got {backoff_base_s}, {backoff_cap_s}"
            )
        self._fetcher = fetcher
        self._on_snapshot = on_snapshot
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        #: where the network routes: polled stations and vehicles outside it are left out
        self._area = area
        self.min_ttl_s = min_ttl_s
        self.max_ttl_s = max_ttl_s
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._providers: dict[str, _Provider] = {}
        self._stop_event: asyncio.Event | None = None
        #: the loop `run()` runs on: tasks are created there, whichever thread adds them
        self._event_loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        """True between `run()` starting and `stop()`."""
        return self._stop_event is not None and not self._stop_event.is_set()

    def add(self, provider_id: str, gbfs_url: str, *, language: str | None = None) -> None:
        """Register (or re-register with a new URL) a provider; polled at once if running.

        May be called from any thread (a synchronous FastAPI handler runs in a worker
        thread): the polling task is then started on the poller's own loop.

        The URL's syntax is checked now; its addresses are checked by the fetcher at every
        connection. A URL refused now (a scheme other than http(s), a loopback or private
        host not on the allow list...) is not polled, but the provider stays registered
        with the refusal as its `last_error`, so its status says why it has no data
        (a stored URL can become refused when the allow list changes).
        """
        if provider_id in self._providers:
            self._cancel(self._providers.pop(provider_id))
        state = _Provider(provider_id, gbfs_url, language)
        self._providers[provider_id] = state
        try:
            check_url_syntax(gbfs_url, allow_hosts=self._fetcher.allow_hosts)
        except UnsafeUrlError as exc:
            state.refused = True
            self._record_failure(state, exc)
            logger.warning("provider %s: poll URL refused, not polled: %s", provider_id, exc)
            return
        if self.running:
            self._start(state)

    def remove(self, provider_id: str) -> None:
        """Stop polling a provider and forget it (UnknownProviderError if not registered).

        May be called from any thread, like `add`.
        """
        state = self._providers.pop(provider_id, None)
        if state is None:
            raise UnknownProviderError(provider_id)
        self._cancel(state)

    def status(self, provider_id: str) -> ProviderStatus:
        """A copy of the provider's polling status (UnknownProviderError if not registered)."""
        state = self._state(provider_id)
        return ProviderStatus(
            provider_id=state.provider_id,
            gbfs_url=state.gbfs_url,
            last_success_s=state.last_success_s,
            last_error=state.last_error,
            last_error_s=state.last_error_s,
            consecutive_failures=state.consecutive_failures,
            next_poll_s=state.next_poll_s,
            refused=state.refused,
        )

    def snapshot(self, provider_id: str) -> FleetSnapshot | None:
        """The last snapshot delivered for a provider, None before the first success."""
        return self._state(provider_id).snapshot

    async def run(self) -> None:
        """Poll every provider (and those added later) until `stop()` is called."""
        if self._stop_event is not None:
            raise RuntimeError("Poller.run() is already running")
        self._stop_event = asyncio.Event()
        self._event_loop = asyncio.get_running_loop()
        try:
            for state in list(self._providers.values()):
                self._start(state)
            await self._stop_event.wait()
        finally:
            await self._cancel_all()
            self._stop_event = None
            self._event_loop = None

    async def stop(self) -> None:
        """Stop polling; returns when every provider task has finished."""
        if self._stop_event is not None:
            self._stop_event.set()
        await self._cancel_all()

    def _state(self, provider_id: str) -> _Provider:
        state = self._providers.get(provider_id)
        if state is None:
            raise UnknownProviderError(provider_id)
        return state

    def _start(self, state: _Provider) -> None:
        loop = self._event_loop
        if state.refused or loop is None:
            return
        if _current_loop() is loop:
            self._start_if_registered(state)
        else:  # another thread: asyncio objects may only be touched on their own loop
            loop.call_soon_threadsafe(self._start_if_registered, state)

    def _start_if_registered(self, state: _Provider) -> None:
        """Start `state`'s task (on the poller's loop) unless it was replaced or removed."""
        if self._providers.get(state.provider_id) is not state or state.task is not None:
            return
        if not self.running:
            return
        state.task = asyncio.get_running_loop().create_task(
            self._loop(state), name=f"poll:{state.provider_id}"
        )

    @staticmethod
    def _cancel(state: _Provider) -> None:
        task, state.task = state.task, None
        if task is None:
            return
        loop = task.get_loop()
        if _current_loop() is loop:
            task.cancel()
        else:
            loop.call_soon_threadsafe(task.cancel)

    async def _cancel_all(self) -> None:
        tasks = [s.task for s in self._providers.values() if s.task is not None]
        for state in list(self._providers.values()):
            self._cancel(state)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, state: _Provider) -> None:
        """One provider's life: poll (backing off after failures), wait the feed's ttl,
        repeat; nothing but cancellation ends it.
        """
        until_success = AsyncRetrying(
            retry=retry_if_exception_type(Exception),  # not CancelledError: that ends the task
            wait=self._backoff_s,
            sleep=self._sleep,
            before_sleep=lambda attempt: self._failed(state, attempt),
        )
        while True:
            snapshot: FleetSnapshot = await until_success(self._cycle, state)
            delay_s = next_poll_delay_s(
                snapshot, min_ttl_s=self.min_ttl_s, max_ttl_s=self.max_ttl_s
            )
            state.next_poll_s = self._clock() + delay_s
            await self._sleep(delay_s)

    async def _cycle(self, state: _Provider) -> FleetSnapshot:
        """Poll once and deliver; record the success (a failure raises)."""
        snapshot = await self._poll(state)
        delivered = self._on_snapshot(snapshot)
        if inspect.isawaitable(delivered):
            await delivered
        state.snapshot = snapshot
        state.last_success_s = int(self._clock())
        state.consecutive_failures = 0
        return snapshot

    def _backoff_s(self, attempt: RetryCallState) -> float:
        """The wait after the `attempt_number`-th failure in a row."""
        return backoff_delay_s(
            attempt.attempt_number,
            base_s=self.backoff_base_s,
            cap_s=self.backoff_cap_s,
            rng=self._rng,
        )

    def _record_failure(self, state: _Provider, exc: BaseException) -> None:
        state.consecutive_failures += 1
        if isinstance(exc, ProviderError):
            state.last_error = f"{type(exc).__name__}: {exc}"
        else:  # a bug or an outage of ours: the type for the status, the rest in the log
            state.last_error = f"{type(exc).__name__}: unexpected error (details in the log)"
        state.last_error_s = int(self._clock())

    def _failed(self, state: _Provider, attempt: RetryCallState) -> None:
        """Record a failed cycle, and when the next one will run, before the backoff wait."""
        exc = attempt.outcome.exception() if attempt.outcome is not None else None
        if exc is None:  # tenacity retries only on an exception
            raise AssertionError("a failed poll cycle without an exception")
        if not isinstance(exc, ProviderError):
            logger.error(
                "provider %s: unexpected error while polling", state.provider_id, exc_info=exc
            )
        self._record_failure(state, exc)
        state.next_poll_s = self._clock() + attempt.upcoming_sleep
        logger.warning(
            "provider %s: poll failed (%d in a row), retrying in %.1f s: %s",
            state.provider_id,
            state.consecutive_failures,
            attempt.upcoming_sleep,
            state.last_error,
        )

    async def _poll(self, state: _Provider) -> FleetSnapshot:
        """Fetch discovery, then the wanted files concurrently, and parse them."""
        used: dict[str, FetchResult] = {}

        async def get(url: str) -> FetchResult:
            result = await self._get(state, url)
            used[url] = result
            return result

        try:
            discovery_result = await get(state.gbfs_url)
            discovery = parse_discovery(discovery_result.body, language=state.language)
            urls = {  # relative feed URLs are read against the discovery file's own URL
                name: join_url(discovery_result.url, url)
                for name, url in discovery.feeds.items()
                if name in WANTED_FILES
            }
            results = await _fetch_all(get, urls)
        except BaseException:
            state.cache.update(_validated(used))
            raise
        # keep validators only for this cycle's urls: a feed whose URLs change every time
        # (signed URLs) must not grow the cache without bound
        state.cache = _validated(used)
        files = {name: result.body for name, result in results.items()}
        return parse_feed(
            state.provider_id,
            files,
            received_at_s=int(self._clock()),
            source="poll",
            area=self._area,
        )

    async def _get(self, state: _Provider, url: str) -> FetchResult:
        """Fetch conditionally when a validator is known; a 304 reuses the held body."""
        cached = state.cache.get(url)
        result = await self._fetcher.fetch(
            url,
            etag=cached.etag if cached else None,
            last_modified=cached.last_modified if cached else None,
        )
        if result.status == 304 and cached is not None:
            return replace(cached, fetched_at_s=result.fetched_at_s)
        return result


__all__ = [
    "DYNAMIC_FILES",
    "WANTED_FILES",
    "FeedFetcher",
    "OnSnapshot",
    "Poller",
    "ProviderStatus",
    "backoff_delay_s",
    "next_poll_delay_s",
]

"""A provider simulator: pushes synthetic GBFS snapshots with realistic churn to a fairtrip server.

For demos and load tests. Each round it sends, for every provider, the whole snapshot as

    PUT {base_url}/providers/{provider_id}/gbfs
    Authorization: Bearer <key>
    {"files": {"<file name>": <GBFS document>, ...}}      (the `gbfs` discovery file left out)

then sleeps `interval_s`, applies `churn` and pushes again. It counts 2xx/4xx/5xx and
transport errors, records latencies, logs one line per round, and on a 503 waits for the
`Retry-After` the server asked for (capped) before retrying that push (tenacity runs the
retries). The command line is `fairtrip providers-simulate` (`fairtrip.simulator_cli`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt

from providers.synthetic import Feeds, StreetNodes, churn

log = logging.getLogger(__name__)

MAX_RETRIES_503 = 3
MAX_RETRY_AFTER_S = 60.0  # never let a server stall the simulator for longer per retry
DEFAULT_RETRY_AFTER_S = 1.0  # a 503 without (a readable) Retry-After


@dataclass
class SimulatorStats:
    """What the simulator saw: responses by class, transport errors, and latencies."""

    rounds: int = 0
    requests: int = 0
    ok_2xx: int = 0
    client_4xx: int = 0
    server_5xx: int = 0
    other_status: int = 0
    transport_errors: int = 0
    retries_503: int = 0
    latencies_s: list[float] = field(default_factory=list)

    def latency_quantile_s(self, q: float) -> float:
        """The q-quantile (0..1) of the request latencies; NaN before any response."""
        if not self.latencies_s:
            return math.nan
        return float(np.quantile(np.asarray(self.latencies_s), q))

    def count(self, status: int) -> None:
        """Tally one HTTP response status."""
        if 200 <= status < 300:
            self.ok_2xx += 1
        elif 400 <= status < 500:
            self.client_4xx += 1
        elif 500 <= status < 600:
            self.server_5xx += 1
        else:
            self.other_status += 1


def push_body(files: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of one push: every file except the discovery file `gbfs`."""
    return {"files": {name: doc for name, doc in files.items() if name != "gbfs"}}


def retry_after_s(value: str | None, *, now_s: float) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), capped."""
    if value is None:
        return DEFAULT_RETRY_AFTER_S
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_S
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return min(max(0.0, when.timestamp() - now_s), MAX_RETRY_AFTER_S)


def _is_503(response: httpx.Response | None) -> bool:
    return response is not None and response.status_code == 503


def _answer(attempt: RetryCallState) -> httpx.Response | None:
    """What a push attempt got back (None: no answer); out of retries, the push's answer."""
    return attempt.outcome.result() if attempt.outcome is not None else None


def _asked_wait_s(attempt: RetryCallState) -> float:
    """The wait the 503 of `attempt` asked for in its Retry-After (capped)."""
    response = _answer(attempt)
    header = response.headers.get("Retry-After") if response is not None else None
    return retry_after_s(header, now_s=time.time())


async def _push(
    client: httpx.AsyncClient,
    base_url: str,
    provider_id: str,
    key: str,
    files: Mapping[str, Any],
    stats: SimulatorStats,
) -> None:
    url = f"{base_url.rstrip('/')}/providers/{provider_id}/gbfs"
    body = push_body(files)
    headers = {"Authorization": f"Bearer {key}"}

    async def put_once() -> httpx.Response | None:
        """One PUT, counted; None when it never got an answer (not retried)."""
        started = time.perf_counter()
        stats.requests += 1
        try:
            response = await client.put(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            stats.transport_errors += 1
            log.warning("push %s failed: %s", provider_id, exc)
            return None
        stats.latencies_s.append(time.perf_counter() - started)
        stats.count(response.status_code)
        return response

    def before_retry(attempt: RetryCallState) -> None:
        stats.retries_503 += 1
        log.info("push %s: 503, retrying in %.1f s", provider_id, attempt.upcoming_sleep)

    response: httpx.Response | None = await AsyncRetrying(
        retry=retry_if_result(_is_503),
        wait=_asked_wait_s,
        stop=stop_after_attempt(MAX_RETRIES_503 + 1),
        before_sleep=before_retry,
        retry_error_callback=_answer,
    )(put_once)
    if response is not None and response.status_code >= 400:
        log.warning("push %s: HTTP %d %s", provider_id, response.status_code, response.text[:200])


async def simulate(
    base_url: str,
    keys: Mapping[str, str],
    feeds: Feeds,
    *,
    interval_s: float = 10.0,
    seed: int = 1,
    iterations: int | None = None,
    client: httpx.AsyncClient | None = None,
    nodes: StreetNodes | None = None,
    clock: Callable[[], float] = time.time,
) -> SimulatorStats:
    """Push `feeds` to a fairtrip server, then churned versions every `interval_s`.

    Parameters
    ----------
    base_url
        the server, e.g. http://localhost:8000.
    keys
        provider id -> push key; every provider in `feeds` needs one.
    feeds
        provider id -> file name -> GBFS 3.0 document, e.g. from `synthetic_fleets`.
    interval_s
        time between the starts of two rounds.
    seed
        seed of the churn, so a run replays the same changes.
    iterations
        rounds to push (the first is the snapshot as given); None runs until cancelled.
    client
        an httpx client to use (tests pass one with a stub transport); the default one is
        created and closed here.
    nodes
        street nodes for `churn` to move vehicles to.
    clock
        epoch seconds for `last_updated` (tests freeze it).
    """
    missing = sorted(set(feeds) - set(keys))
    if missing:
        raise ValueError(f"no push key for provider(s) {missing}; give one per provider")
    if interval_s < 0 or not math.isfinite(interval_s):
        raise ValueError(f"interval_s must be a finite number >= 0, got {interval_s}")
    if iterations is not None and iterations < 0:
        raise ValueError(f"iterations must be >= 0 or None, got {iterations}")
    rng = np.random.default_rng(seed)
    stats = SimulatorStats()
    own_client = client is None
    http = client if client is not None else _make_client()
    try:
        current = feeds
        while iterations is None or stats.rounds < iterations:
            started = time.perf_counter()
            if stats.rounds > 0:
                current = churn(current, rng=rng, now_s=int(clock()), nodes=nodes)
            before = (stats.ok_2xx, stats.client_4xx, stats.server_5xx, stats.transport_errors)
            n_lat = len(stats.latencies_s)
            await asyncio.gather(
                *(
                    _push(http, base_url, pid, keys[pid], files, stats)
                    for pid, files in current.items()
                )
            )
            stats.rounds += 1
            lat_ms = [1000 * s for s in stats.latencies_s[n_lat:]]
            log.info(
                "round %d: %d providers, 2xx=%d 4xx=%d 5xx=%d errors=%d, max latency %.0f ms",
                stats.rounds,
                len(current),
                stats.ok_2xx - before[0],
                stats.client_4xx - before[1],
                stats.server_5xx - before[2],
                stats.transport_errors - before[3],
                max(lat_ms, default=math.nan),
            )
            if iterations is not None and stats.rounds >= iterations:
                break
            await asyncio.sleep(max(0.0, interval_s - (time.perf_counter() - started)))
    finally:
        if own_client:
            await http.aclose()
    return stats


def _make_client() -> httpx.AsyncClient:
    """The default HTTP client (a seam for tests of the command line)."""
    return httpx.AsyncClient(timeout=httpx.Timeout(30.0))

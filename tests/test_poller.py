"""Poller end to end against a local server serving the real GBFS fixtures.

Each fixture's `gbfs.json` is rewritten to point at the local server (the originals point at
paths of the projects they came from); Lillestrøm has none, so one is written for it.
Waiting is a fake (`StepSleep`) except in the isolation test, which needs real time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from providers.errors import UnknownProviderError
from providers.fetch import SafeFetcher
from providers.model import FeedFile, FleetSnapshot, SystemInfo
from providers.poller import Poller, backoff_delay_s, next_poll_delay_s
from tests.data_paths import GBFS_FIXTURES, HSL_BIKES
from tests.test_fetch import LOOPBACK, LocalServer, reply

FIXTURES = {
    "almere": GBFS_FIXTURES / "almere-check-emoped-v3.0",
    "lillestrom": GBFS_FIXTURES / "lillestrom-bysykkel-v2.2",
    "oslo": GBFS_FIXTURES / "oslo-tier-v2.3",
    "hsl": HSL_BIKES,
}
NOW_S = 1_780_000_000  # after every fixture's last_updated, so none is "in the future"


def discovery_for(directory: Path, base_url: str) -> bytes:
    """The fixture's gbfs.json with every feed URL pointing at `base_url`."""
    names = sorted(p.stem for p in directory.glob("*.json") if p.stem != "gbfs")
    original = directory / "gbfs.json"
    if original.exists():
        doc: dict[str, Any] = json.loads(original.read_bytes())
    else:  # written like a 2.x publisher would, from the files' own envelopes
        system = json.loads((directory / "system_information.json").read_bytes())
        doc = {
            "last_updated": system["last_updated"],
            "ttl": system["ttl"],
            "version": system["version"],
            "data": {system["data"].get("language", "en"): {"feeds": []}},
        }
    data = doc["data"]
    for feeds in [data["feeds"]] if "feeds" in data else [lang["feeds"] for lang in data.values()]:
        feeds[:] = [{"name": name, "url": f"{base_url}/{name}.json"} for name in names]
    return json.dumps(doc).encode()


def serve_fixture(server: LocalServer, prefix: str, directory: Path) -> str:
    """Serve a fixture under `/<prefix>/`; returns its gbfs.json URL."""
    for path in directory.glob("*.json"):
        if path.stem != "gbfs":
            server.static(f"/{prefix}/{path.name}", path.read_bytes(), headers={"ETag": '"1"'})
    server.static(f"/{prefix}/gbfs.json", discovery_for(directory, server.url(f"/{prefix}")))
    return server.url(f"/{prefix}/gbfs.json")


class StepSleep:
    """Fake `sleep`: records each delay and holds the poller until the test calls `wake`."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._asleep: asyncio.Queue[float] = asyncio.Queue()
        self._go: asyncio.Queue[None] = asyncio.Queue()

    async def __call__(self, delay_s: float) -> None:
        self.delays.append(delay_s)
        self._asleep.put_nowait(delay_s)
        await self._go.get()

    async def next(self) -> float:
        """Wait until the poller finishes a cycle and goes to sleep; the requested delay."""
        return await asyncio.wait_for(self._asleep.get(), timeout=5)

    def wake(self) -> None:
        self._go.put_nowait(None)


class Collector:
    """`on_snapshot` that keeps what it gets."""

    def __init__(self) -> None:
        self.snapshots: list[FleetSnapshot] = []
        self.times: dict[str, list[float]] = {}

    async def __call__(self, snapshot: FleetSnapshot) -> None:
        self.snapshots.append(snapshot)
        self.times.setdefault(snapshot.provider_id, []).append(time.monotonic())


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


@pytest.fixture
async def fetcher() -> Any:
    async with SafeFetcher(allow_hosts=LOOPBACK, timeout_s=10) as shared:
        yield shared


def make_poller(fetcher: SafeFetcher, on_snapshot: Any, **kwargs: Any) -> Poller:
    kwargs.setdefault("clock", lambda: NOW_S)
    kwargs.setdefault("rng", random.Random(7))
    return Poller(fetcher, on_snapshot, **kwargs)


# (stations, station_status, vehicles, pricing_plans, geofencing zones) as parsed: Almere
# has 16 zones of which 2 have null geometry (skipped); the HSL file is a 1.x test fixture
# with 10 stations, 2 without id and 1 without coordinates (dropped), and so 3 orphan statuses
EXPECTED_COUNTS = {
    "almere": (0, 0, 6, 0, 14),
    "lillestrom": (6, 6, 0, 2, 0),
    "oslo": (0, 0, 0, 0, 2),
    "hsl": (7, 7, 0, 0, 0),
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
async def test_snapshot_from_real_fixture(
    server: LocalServer, fetcher: SafeFetcher, name: str
) -> None:
    collect = Collector()
    sleep = StepSleep()
    poller = make_poller(fetcher, collect, sleep=sleep)
    poller.add(name, serve_fixture(server, name, FIXTURES[name]))
    running = asyncio.create_task(poller.run())
    await sleep.next()
    await poller.stop()
    await running
    status = poller.status(name)
    assert status.last_error is None, status.last_error
    [snapshot] = collect.snapshots
    assert snapshot.provider_id == name
    assert snapshot.source == "poll"
    counts = (
        len(snapshot.stations),
        len(snapshot.station_status),
        len(snapshot.vehicles),
        len(snapshot.pricing_plans),
        len(snapshot.geofencing.zones),
    )
    assert counts == EXPECTED_COUNTS[name]
    assert poller.snapshot(name) is snapshot
    assert (status.last_success_s, status.consecutive_failures) == (NOW_S, 0)


@pytest.mark.parametrize(
    ("name", "bounds", "expected_delay_s"),
    [
        ("oslo", (20, 3600), 20),  # ttl 0 everywhere: clamped up, never a busy loop
        ("lillestrom", (15, 30), 30),  # station_status ttl 61: clamped down
        ("hsl", (15, 3600), 60),  # ttl 60 inside the bounds: kept
    ],
)
async def test_next_poll_follows_clamped_ttl(
    server: LocalServer,
    fetcher: SafeFetcher,
    name: str,
    bounds: tuple[int, int],
    expected_delay_s: float,
) -> None:
    sleep = StepSleep()
    poller = make_poller(
        fetcher, Collector(), sleep=sleep, min_ttl_s=bounds[0], max_ttl_s=bounds[1]
    )
    poller.add(name, serve_fixture(server, name, FIXTURES[name]))
    running = asyncio.create_task(poller.run())
    assert await sleep.next() == expected_delay_s
    assert poller.status(name).next_poll_s == NOW_S + expected_delay_s
    await poller.stop()
    await running


def _snapshot(*files: tuple[str, int]) -> FleetSnapshot:
    return FleetSnapshot(
        provider_id="p",
        gbfs_version="2.3",
        system=SystemInfo("s", "S", "Europe/Oslo"),
        feeds=tuple(FeedFile(n, NOW_S, ttl, "0" * 64, NOW_S) for n, ttl in files),
    )


def test_next_poll_delay_rule() -> None:
    dynamic = _snapshot(("system_information", 5), ("station_status", 120), ("vehicle_status", 90))
    assert next_poll_delay_s(dynamic, min_ttl_s=15, max_ttl_s=3600) == 90  # static ttl ignored
    static_only = _snapshot(("system_information", 300), ("geofencing_zones", 86_400))
    assert next_poll_delay_s(static_only, min_ttl_s=15, max_ttl_s=3600) == 300
    assert next_poll_delay_s(_snapshot(("station_status", 0)), min_ttl_s=15, max_ttl_s=60) == 15
    assert next_poll_delay_s(_snapshot(), min_ttl_s=15, max_ttl_s=3600) == 60


class _Top(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_ceiling_doubles_up_to_the_cap() -> None:
    ceilings = [backoff_delay_s(n, base_s=5, cap_s=600, rng=_Top()) for n in range(1, 10)]
    assert ceilings == [5, 10, 20, 40, 80, 160, 320, 600, 600]
    assert backoff_delay_s(10_000, base_s=5, cap_s=600, rng=_Top()) == 600
    rng = random.Random(1)
    assert all(0 <= backoff_delay_s(3, base_s=5, cap_s=600, rng=rng) <= 20 for _ in range(100))


async def test_backoff_after_failures_then_recovery(
    server: LocalServer, fetcher: SafeFetcher
) -> None:
    url = serve_fixture(server, "hsl", FIXTURES["hsl"])
    good = server.routes["/hsl/gbfs.json"]
    outage = {"left": 3}

    def flaky(handler: Any) -> None:
        if outage["left"] > 0:
            outage["left"] -= 1
            reply(handler, 503, b"{}")
        else:
            good(handler)

    server.routes["/hsl/gbfs.json"] = flaky
    collect = Collector()
    sleep = StepSleep()
    poller = make_poller(fetcher, collect, sleep=sleep, rng=random.Random(42))
    poller.add("hsl", url)
    running = asyncio.create_task(poller.run())
    expected_rng = random.Random(42)
    for failures in (1, 2, 3):
        delay_s = await sleep.next()
        assert delay_s == backoff_delay_s(failures, base_s=5, cap_s=600, rng=expected_rng)
        status = poller.status("hsl")
        assert status.consecutive_failures == failures
        assert status.last_error is not None
        assert "FetchError" in status.last_error
        assert "HTTP 503" in status.last_error
        assert status.next_poll_s == NOW_S + delay_s
        assert collect.snapshots == []
        sleep.wake()
    assert await sleep.next() == 60  # recovered: back on the feed's ttl
    status = poller.status("hsl")
    assert (status.consecutive_failures, status.last_success_s) == (0, NOW_S)
    assert len(collect.snapshots) == 1
    await poller.stop()
    await running


async def test_invalid_feed_keeps_last_good_snapshot(
    server: LocalServer, fetcher: SafeFetcher
) -> None:
    url = serve_fixture(server, "lillestrom", FIXTURES["lillestrom"])
    collect = Collector()
    sleep = StepSleep()
    poller = make_poller(fetcher, collect, sleep=sleep)
    poller.add("lillestrom", url)
    running = asyncio.create_task(poller.run())
    await sleep.next()
    [good] = collect.snapshots

    broken = json.loads((FIXTURES["lillestrom"] / "station_status.json").read_bytes())
    broken["data"]["stations"][0]["num_bikes_available"] = "many"
    server.static("/lillestrom/station_status.json", json.dumps(broken).encode())
    sleep.wake()
    await sleep.next()
    status = poller.status("lillestrom")
    assert collect.snapshots == [good]  # on_snapshot never saw the bad data
    assert poller.snapshot("lillestrom") is good
    assert status.consecutive_failures == 1
    assert status.last_error is not None
    assert "FeedError" in status.last_error
    assert "station_status" in status.last_error
    assert status.last_success_s == NOW_S
    await poller.stop()
    await running


async def test_relative_feed_urls_are_read_against_the_discovery_url(
    server: LocalServer, fetcher: SafeFetcher
) -> None:
    url = serve_fixture(server, "hsl", FIXTURES["hsl"])
    doc = json.loads(discovery_for(FIXTURES["hsl"], server.url("/hsl")))
    for feed in doc["data"]["en"]["feeds"]:
        feed["url"] = f"{feed['name']}.json"
    server.static("/hsl/gbfs.json", json.dumps(doc).encode())
    collect = Collector()
    sleep = StepSleep()
    poller = make_poller(fetcher, collect, sleep=sleep)
    poller.add("hsl", url)
    running = asyncio.create_task(poller.run())
    await sleep.next()
    await poller.stop()
    await running
    assert poller.status("hsl").last_error is None
    assert len(collect.snapshots) == 1


async def test_unsafe_feed_url_in_discovery_is_a_provider_failure(
    server: LocalServer, fetcher: SafeFetcher
) -> None:
    url = serve_fixture(server, "hsl", FIXTURES["hsl"])
    doc = json.loads(discovery_for(FIXTURES["hsl"], server.url("/hsl")))
    doc["data"]["en"]["feeds"][0]["url"] = "http://169.254.169.254/latest/meta-data/"
    server.static("/hsl/gbfs.json", json.dumps(doc).encode())
    sleep = StepSleep()
    poller = make_poller(fetcher, Collector(), sleep=sleep)
    poller.add("hsl", url)
    running = asyncio.create_task(poller.run())
    await sleep.next()
    sleep.wake()
    await sleep.next()  # still looping after the refusal
    status = poller.status("hsl")
    assert status.consecutive_failures == 2
    assert status.last_error is not None
    assert "UnsafeUrlError" in status.last_error
    await poller.stop()
    await running


async def test_failing_on_snapshot_counts_as_failure_and_its_text_stays_in_the_log(
    server: LocalServer, fetcher: SafeFetcher, caplog: pytest.LogCaptureFixture
) -> None:
    def store_down(snapshot: FleetSnapshot) -> None:
        raise ConnectionError("store unavailable at /var/run/secret.sock")

    sleep = StepSleep()
    poller = make_poller(fetcher, store_down, sleep=sleep)
    poller.add("hsl", serve_fixture(server, "hsl", FIXTURES["hsl"]))
    running = asyncio.create_task(poller.run())
    await sleep.next()
    status = poller.status("hsl")
    assert status.consecutive_failures == 1
    assert status.failing
    # the status is public: an unexpected error is named by type, its text goes to the log
    assert status.last_error == "ConnectionError: unexpected error (details in the log)"
    assert "/var/run/secret.sock" in caplog.text
    assert poller.snapshot("hsl") is None
    await poller.stop()
    await running


async def test_conditional_requests_reuse_unchanged_files(
    server: LocalServer, fetcher: SafeFetcher
) -> None:
    def etag_aware(body: bytes) -> Any:
        def route(handler: Any) -> None:
            if handler.headers.get("If-None-Match") == '"1"':
                reply(handler, 304, b"", content_type=None, headers={"ETag": '"1"'})
            else:
                reply(handler, 200, body, headers={"ETag": '"1"'})

        return route

    url = serve_fixture(server, "hsl", FIXTURES["hsl"])
    for path in FIXTURES["hsl"].glob("*.json"):
        if path.stem != "gbfs":
            server.routes[f"/hsl/{path.name}"] = etag_aware(path.read_bytes())
    collect = Collector()
    sleep = StepSleep()
    poller = make_poller(fetcher, collect, sleep=sleep)
    poller.add("hsl", url)
    running = asyncio.create_task(poller.run())
    await sleep.next()
    sleep.wake()
    await sleep.next()
    await poller.stop()
    await running
    first, second = collect.snapshots
    assert second.stations == first.stations
    assert len(second.stations) == 7
    conditional = [
        path
        for path, headers in server.requests
        if headers.get("If-None-Match") == '"1"' and path.startswith("/hsl/station")
    ]
    assert sorted(conditional) == ["/hsl/station_information.json", "/hsl/station_status.json"]


async def test_slow_provider_does_not_delay_another(
    server: LocalServer, fetcher: SafeFetcher
) -> None:
    """`slow` answers every request after 5 s; `fast` keeps arriving every ~0.2 s."""
    fast_url = serve_fixture(server, "fast", FIXTURES["hsl"])
    slow_url = serve_fixture(server, "slow", FIXTURES["lillestrom"])
    good_slow = server.routes["/slow/gbfs.json"]

    def hanging(handler: Any) -> None:
        if not server.stopping.wait(5):
            good_slow(handler)

    server.routes["/slow/gbfs.json"] = hanging
    collect = Collector()
    poller = Poller(fetcher, collect, min_ttl_s=0.1, max_ttl_s=0.2)
    poller.add("slow", slow_url)
    poller.add("fast", fast_url)
    started = time.monotonic()
    running = asyncio.create_task(poller.run())
    await asyncio.sleep(1.5)
    await poller.stop()
    await running
    fast_times = [started, *collect.times.get("fast", [])]
    assert len(fast_times) - 1 >= 4, fast_times
    assert max(b - a for a, b in itertools.pairwise(fast_times)) < 0.8
    assert "/slow/gbfs.json" in server.paths()  # it was asked, and is still hanging
    assert "slow" not in collect.times
    assert poller.status("slow").last_success_s is None


async def test_add_remove_status(server: LocalServer, fetcher: SafeFetcher) -> None:
    poller = make_poller(fetcher, Collector())
    poller.add("hsl", server.url("/hsl/gbfs.json"))
    assert poller.status("hsl").next_poll_s is None
    poller.remove("hsl")
    with pytest.raises(UnknownProviderError):
        poller.status("hsl")
    with pytest.raises(UnknownProviderError):
        poller.remove("hsl")


async def test_provider_added_while_running_is_polled(
    server: LocalServer, fetcher: SafeFetcher
) -> None:
    sleep = StepSleep()
    collect = Collector()
    poller = make_poller(fetcher, collect, sleep=sleep)
    running = asyncio.create_task(poller.run())
    await asyncio.sleep(0)
    poller.add("oslo", serve_fixture(server, "oslo", FIXTURES["oslo"]))
    await sleep.next()
    assert [s.provider_id for s in collect.snapshots] == ["oslo"]
    await poller.stop()
    await running
    assert not poller.running


async def test_refused_url_is_registered_with_its_reason_and_never_fetched(
    server: LocalServer, fetcher: SafeFetcher
) -> None:
    sleep = StepSleep()
    poller = make_poller(fetcher, Collector(), sleep=sleep)
    poller.add("bad", "file:///etc/passwd")
    strict = Poller(SafeFetcher(), Collector(), clock=lambda: NOW_S)
    strict.add("local", server.url("/gbfs.json"))  # loopback, not on this poller's allow list
    for p, pid, words in ((poller, "bad", "scheme"), (strict, "local", "loopback")):
        status = p.status(pid)
        assert status.refused
        assert status.failing
        assert status.last_error is not None
        assert status.last_error.startswith("UnsafeUrlError")
        assert words in status.last_error
        assert status.last_error_s == NOW_S
        assert status.next_poll_s is None
    running = asyncio.create_task(poller.run())
    await asyncio.sleep(0.05)
    assert sleep.delays == []  # no cycle ran for the refused provider
    assert server.paths() == []
    # re-registering with a good URL clears the refusal and polls it
    poller.add("bad", serve_fixture(server, "hsl", FIXTURES["hsl"]))
    await sleep.next()
    status = poller.status("bad")
    assert not status.refused
    assert not status.failing
    assert status.last_success_s == NOW_S
    await poller.stop()
    await running


async def test_url_refused_at_connect_time_is_the_failing_reason() -> None:
    # 'localhost' passes the syntax check (a name) and resolves to loopback at connect time
    sleep = StepSleep()
    async with SafeFetcher(timeout_s=5) as strict:
        poller = make_poller(strict, Collector(), sleep=sleep)
        poller.add("sneaky", "http://localhost:9/gbfs.json")
        running = asyncio.create_task(poller.run())
        await sleep.next()
        status = poller.status("sneaky")
        assert status.failing and not status.refused
        assert status.last_error is not None
        assert status.last_error.startswith("UnsafeUrlError")
        assert "loopback" in status.last_error
        await poller.stop()
        await running


async def test_a_polled_feed_outside_the_service_area_is_refused_and_the_reason_kept(
    server: LocalServer, fetcher: SafeFetcher
) -> None:
    from providers.service_area import ServiceArea

    helsinki = ServiceArea("Helsinki", 60.14, 24.88, 60.20, 25.00)
    collect = Collector()
    sleep = StepSleep()
    poller = make_poller(fetcher, collect, sleep=sleep, area=helsinki)
    poller.add("lillestrom", serve_fixture(server, "lillestrom", FIXTURES["lillestrom"]))
    running = asyncio.create_task(poller.run())
    await sleep.next()
    await poller.stop()
    await running
    assert collect.snapshots == []  # nothing of Lillestrøm lies in Helsinki
    reason = poller.status("lillestrom").last_error
    assert reason is not None
    assert "Helsinki" in reason

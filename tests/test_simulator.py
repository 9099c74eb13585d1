"""The provider simulator against stub servers: body shape, auth, counting, Retry-After, CLI."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fairtrip import simulator_cli
from fairtrip.simulator_cli import add_cli
from providers import simulator
from providers.simulator import SimulatorStats, push_body, retry_after_s, simulate
from providers.synthetic import PROVIDER_IDS, synthetic_fleets

ROOT = Path(__file__).resolve().parents[1]
NOW_S = 1_645_509_600
KEYS = {pid: f"key-{pid}" for pid in PROVIDER_IDS}


def _grid(lat0: float, lat1: float, lon0: float, lon1: float, n: int) -> tuple[np.ndarray, ...]:
    lat, lon = np.meshgrid(np.linspace(lat0, lat1, n), np.linspace(lon0, lon1, n))
    return lat.ravel(), lon.ravel()


@pytest.fixture(scope="module")
def feeds() -> dict[str, dict[str, dict[str, Any]]]:
    csv = ROOT / "data" / "helsinki" / "citybike-stations-2021.csv"
    return synthetic_fleets(
        stations_csv=csv,
        walk_nodes=_grid(60.160, 60.178, 24.930, 24.965, 30),
        car_nodes=_grid(60.155, 60.185, 24.920, 24.975, 15),
        now_s=NOW_S,
        n_scooters=200,
        n_free_cars=20,
    )


def stub_app(record: list[dict[str, Any]]) -> Starlette:
    """A stand-in for the server's push endpoint: checks auth and body, records every push."""

    async def put_gbfs(request: Request) -> Response:
        pid = request.path_params["provider_id"]
        if request.headers.get("authorization") != f"Bearer {KEYS.get(pid)}":
            return JSONResponse({"detail": "bad key"}, status_code=401)
        body = json.loads(await request.body())
        record.append({"provider_id": pid, "body": body})
        if set(body) != {"files"} or "gbfs" in body["files"]:
            return JSONResponse({"detail": "bad body"}, status_code=422)
        return Response(status_code=204)

    return Starlette(routes=[Route("/providers/{provider_id}/gbfs", put_gbfs, methods=["PUT"])])


async def test_pushes_snapshot_then_churned_rounds(feeds, caplog):
    record: list[dict[str, Any]] = []
    transport = httpx.ASGITransport(app=stub_app(record))
    caplog.set_level(logging.INFO, logger="providers.simulator")
    async with httpx.AsyncClient(transport=transport, base_url="http://stub") as client:
        stats = await simulate(
            "http://stub/", KEYS, feeds, interval_s=0, iterations=3, client=client,
            clock=lambda: NOW_S + 10,
        )  # fmt: skip
    assert stats.rounds == 3 and stats.requests == 9 and stats.ok_2xx == 9
    assert stats.client_4xx == stats.server_5xx == stats.transport_errors == 0
    assert len(stats.latencies_s) == 9
    assert [r["provider_id"] for r in record[:3]] == list(feeds)
    first = {r["provider_id"]: r["body"]["files"] for r in record[:3]}
    for pid, files in first.items():
        assert files == {n: d for n, d in feeds[pid].items() if n != "gbfs"}
    later = {r["provider_id"]: r["body"]["files"] for r in record[6:]}
    scooters = "synthetic-scooters-hki"
    assert later[scooters]["vehicle_status"] != first[scooters]["vehicle_status"]
    assert later[scooters]["vehicle_status"]["last_updated"] == "2022-02-22T06:00:10+00:00"
    assert sum("round" in r.getMessage() for r in caplog.records) == 3


async def test_wrong_key_counts_as_4xx(feeds):
    record: list[dict[str, Any]] = []
    transport = httpx.ASGITransport(app=stub_app(record))
    keys = {**KEYS, "synthetic-carshare-hki": "wrong"}
    async with httpx.AsyncClient(transport=transport) as client:
        stats = await simulate(
            "http://stub", keys, feeds, interval_s=0, iterations=1, client=client
        )
    assert (stats.ok_2xx, stats.client_4xx) == (2, 1)


async def test_retry_after_on_503_is_honoured(feeds, monkeypatch):
    calls: list[str] = []
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) <= 2:
            return httpx.Response(503, headers={"Retry-After": "7"})
        return httpx.Response(204)

    real_sleep = simulator.asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(simulator.asyncio, "sleep", fake_sleep)
    one = {"synthetic-scooters-hki": feeds["synthetic-scooters-hki"]}
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        stats = await simulate("http://stub", KEYS, one, interval_s=0, iterations=1, client=client)
    assert calls == ["/providers/synthetic-scooters-hki/gbfs"] * 3
    assert (stats.server_5xx, stats.retries_503, stats.ok_2xx) == (2, 2, 1)
    assert slept == [7.0, 7.0]


async def test_transport_errors_are_counted_not_raised(feeds):
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        stats = await simulate(
            "http://stub", KEYS, feeds, interval_s=0, iterations=2, client=client
        )
    assert stats.transport_errors == 6 and stats.ok_2xx == 0
    assert np.isnan(stats.latency_quantile_s(0.5))


async def test_missing_key_is_refused_up_front(feeds):
    with pytest.raises(ValueError, match="synthetic-carshare-hki"):
        await simulate("http://stub", {"synthetic-scooters-hki": "k"}, feeds, iterations=1)


def test_retry_after_forms():
    assert retry_after_s("5", now_s=0) == 5.0
    assert retry_after_s("100000", now_s=0) == simulator.MAX_RETRY_AFTER_S
    assert retry_after_s(None, now_s=0) == simulator.DEFAULT_RETRY_AFTER_S
    assert retry_after_s("garbage", now_s=0) == simulator.DEFAULT_RETRY_AFTER_S
    assert retry_after_s("Wed, 21 Oct 2015 07:28:10 GMT", now_s=1445412480) == 10.0


def test_push_body_leaves_out_discovery(feeds):
    body = push_body(feeds["synthetic-citybikes-hki"])
    assert "gbfs" not in body["files"] and "station_status" in body["files"]


def test_stats_quantiles():
    stats = SimulatorStats(latencies_s=[0.1, 0.2, 0.3])
    assert stats.latency_quantile_s(0.5) == pytest.approx(0.2)
    for status in (200, 204, 404, 503, 302):
        stats.count(status)
    assert (stats.ok_2xx, stats.client_4xx, stats.server_5xx, stats.other_status) == (2, 1, 1, 1)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fairtrip")
    add_cli(p.add_subparsers(dest="command", required=True))
    return p


def test_cli_arguments():
    args = _parser().parse_args(
        [
            "providers-simulate", "--url", "http://localhost:8000",
            "--key", "synthetic-scooters-hki=abc=def", "--key", "synthetic-carshare-hki=k2",
            "--interval", "2.5", "--iterations", "4", "--seed", "9",
        ]
    )  # fmt: skip
    assert args.func is simulator_cli.run_cli
    assert dict(args.key) == {"synthetic-scooters-hki": "abc=def", "synthetic-carshare-hki": "k2"}
    assert (args.interval, args.iterations, args.seed, args.network) == (2.5, 4, 9, None)
    with pytest.raises(SystemExit):
        _parser().parse_args(["providers-simulate", "--url", "http://x", "--key", "nokey"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["providers-simulate", "--url", "http://x"])


def test_cli_runs_against_the_embedded_city(helsinki_dir, monkeypatch, capsys):
    record: list[dict[str, Any]] = []
    transport = httpx.ASGITransport(app=stub_app(record))
    monkeypatch.setattr(simulator, "_make_client", lambda: httpx.AsyncClient(transport=transport))
    args = _parser().parse_args(
        [
            "providers-simulate", "--url", "http://stub", "--network", str(helsinki_dir),
            "--key", "synthetic-scooters-hki=key-synthetic-scooters-hki",
            "--interval", "0", "--iterations", "2",
        ]
    )  # fmt: skip
    assert args.func(args) == 0
    assert [r["provider_id"] for r in record] == ["synthetic-scooters-hki"] * 2
    assert "2 rounds, 2 requests: 2xx=2" in capsys.readouterr().out

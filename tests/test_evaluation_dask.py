"""Evaluations on Dask distributed: the same matrix and the same document as in one process.

The embedded Helsinki network with its default demand (the SYNTHETIC gravity table and its
zones, as the API and the CLI pick them), routed once in this process and once as origin
blocks on a LocalCluster of two worker processes: every array of the OD matrix is equal
byte for byte, and the evaluation documents are equal (every money integer, every metric).
A scheduler that does not answer is a named error within the connect timeout, not a hang.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from api.settings import Settings
from evaluation.distributed import (
    ClusterError,
    block_bounds,
    dask_client,
    default_block_size,
    od_matrix_distributed,
)
from evaluation.evaluate import (
    BaseCosts,
    EvaluationError,
    EvaluationSettings,
    _unique_points,
    base_costs,
    evaluate,
)
from evaluation.od_matrix import ODMatrix
from fairtrip.cli import main
from network.compiled import Network
from network.embedded import data_dir
from pricing.demand import Demand, load_demand
from pricing.policy import parse_policy
from pricing.zones import ZoneLayer

DEMAND = data_dir() / "helsinki" / "demand"
POLICIES = Path(__file__).resolve().parents[1] / "data" / "policies"
ARRAYS = ("travel_time_s", "price_minor", "transfers", "is_transit", "distance_m", "reason_code")


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two single-threaded worker processes, closed after the module."""
    with dask_client("local", workers=2) as c:
        yield c


@pytest.fixture(scope="module")
def inputs() -> tuple[Demand, ZoneLayer]:
    """The default demand and its zones, as `api.pricing.default_paths` names them."""
    zones_path = DEMAND / "demand-zones.geojson"
    zones = ZoneLayer.from_geojson(zones_path.read_bytes(), source=zones_path.name)
    csv = DEMAND / "od-gravity-synthetic.csv"
    return load_demand(csv, zones=zones, source=csv.name), zones


@pytest.fixture(scope="module")
def settings(helsinki: Network) -> EvaluationSettings:
    """08:00 local on the first service date, as the API's evaluations depart."""
    day = dt.date.fromisoformat(helsinki.service_dates[0])
    return EvaluationSettings(
        depart=dt.datetime(day.year, day.month, day.day, 8, tzinfo=helsinki.timezone)
    )


@pytest.fixture(scope="module")
def in_process(helsinki, inputs, settings) -> BaseCosts:
    demand, zones = inputs
    return base_costs(helsinki, demand, zones, settings)


@pytest.fixture(scope="module")
def points(inputs) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The matrix's (origins, destinations): the demand's unique points, as base_costs."""
    demand, _ = inputs
    o, _ = _unique_points(demand.origin_lat, demand.origin_lon)
    d, _ = _unique_points(demand.dest_lat, demand.dest_lon)
    return (o[:, 0], o[:, 1]), (d[:, 0], d[:, 1])


def assert_same_matrix(a: ODMatrix, b: ODMatrix) -> None:
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), f"{name} differs at {np.argwhere(x != y)[:5]}"
    assert (a.currency, a.service_date, a.depart_s) == (b.currency, b.service_date, b.depart_s)


def comparable(doc: dict) -> dict:
    """The document without what a run cannot repeat: when it ran and how long it took."""
    return {k: v for k, v in doc.items() if k not in ("generated_at", "timing_s")}


def test_blocks_on_two_workers_give_the_in_process_matrix(
    client, helsinki_dir, points, in_process, settings
):
    m = in_process.matrix
    n_o, n_d = m.price_minor.shape
    seen: list[int] = []
    # 16 origins a block: several blocks per worker, the last one short
    got = od_matrix_distributed(
        helsinki_dir, *points, depart=settings.depart, client=client, block_size=16,
        progress=lambda done, total: seen.append(done),
    )
    assert_same_matrix(m, got)
    assert len(seen) == len(block_bounds(n_o, 16)) and seen == sorted(seen)
    assert seen[-1] == n_o
    assert m.unreachable() == got.unreachable()
    assert n_d > 100  # the whole default demand, not a toy


def test_an_exception_from_progress_ends_the_run_and_the_cluster_stays_usable(
    client, helsinki_dir, points, in_process, settings
):
    class Cancelled(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        od_matrix_distributed(
            helsinki_dir, *points, depart=settings.depart, client=client, block_size=16,
            progress=cancel,
        )
    # the next run on the same workers (their cached network and egress) is whole
    got = od_matrix_distributed(
        helsinki_dir, *points, depart=settings.depart, client=client, block_size=64
    )
    assert_same_matrix(in_process.matrix, got)


def test_the_evaluation_document_is_the_same_on_dask(
    client, helsinki, inputs, settings, in_process
):
    demand, zones = inputs
    progress: list[tuple[str, float]] = []
    on_dask = base_costs(
        helsinki, demand, zones, settings, scheduler=client,
        progress=lambda stage, f: progress.append((stage, f)),
    )
    assert_same_matrix(in_process.matrix, on_dask.matrix)
    assert progress[-1] == ("routing", 1.0)
    n_o = on_dask.matrix.price_minor.shape[0]
    # once per block of the default size (the in-process path reports every origin)
    assert len(progress) == len(block_bounds(n_o, default_block_size(n_o, 2))) < n_o
    policies = [
        parse_policy((POLICIES / name).read_bytes())
        for name in ("peripheral-discount.yaml", "daily-cap.yaml")
    ]
    docs = [
        evaluate(base, policies, settings, network=helsinki, zones_source="demand-zones.geojson")
        for base in (in_process, on_dask)
    ]
    # every money integer, named, then everything else
    for a, b in zip(docs[0]["scenarios"], docs[1]["scenarios"], strict=True):
        assert isinstance(a["revenue_minor"], int)
        assert a["revenue_minor"] == b["revenue_minor"], a["policy_id"]
    assert json.dumps(comparable(docs[0]), sort_keys=True) == json.dumps(
        comparable(docs[1]), sort_keys=True
    )


def test_cli_evaluates_on_a_local_cluster(tmp_path, helsinki_dir, in_process, settings, capsys):
    policy = POLICIES / "daily-cap.yaml"
    code = main([
        "policy", "evaluate", str(policy), "--network", str(helsinki_dir),
        "--demand", str(DEMAND / "od-gravity-synthetic.csv"),
        "--zones", str(DEMAND / "demand-zones.geojson"),
        "--at", settings.depart.isoformat(), "--out", str(tmp_path), "--quiet",
        "--scheduler", "local", "--dask-workers", "2",
    ])
    assert code == 0, capsys.readouterr().err
    doc = json.loads((tmp_path / "evaluation.json").read_text())
    assert doc["settings"]["od_matrix"] == list(in_process.matrix.price_minor.shape)
    assert doc["demand"]["matrix_unreachable_by_reason"] == in_process.matrix.unreachable()
    assert [s["policy_id"] for s in doc["scenarios"]] == ["status-quo", "daily-cap"]


def test_dask_workers_need_a_local_cluster(capsys):
    code = main([
        "policy", "evaluate", str(POLICIES / "daily-cap.yaml"), "--out", "/nonexistent",
        "--scheduler", "tcp://127.0.0.1:1", "--dask-workers", "2",
    ])
    assert code == 2
    assert "--scheduler local" in capsys.readouterr().err


def test_a_scheduler_that_does_not_answer_is_a_named_error_quickly():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.perf_counter()
    address = f"tcp://127.0.0.1:{port}"
    with pytest.raises(ClusterError, match=address), dask_client(address, connect_timeout_s=1.0):
        pass
    assert time.perf_counter() - started < 15
    assert issubclass(ClusterError, EvaluationError) and issubclass(ClusterError, ConnectionError)


@pytest.mark.parametrize("address", ["127.0.0.1:8786", "http://127.0.0.1:8786", "remote"])
def test_a_malformed_scheduler_address_is_refused_before_connecting(address):
    with pytest.raises(EvaluationError, match="tcp://host:8786"), dask_client(address):
        pass
    with pytest.raises(ValueError, match="dask_scheduler"):
        Settings(dask_scheduler=address)


def test_without_a_scheduler_the_matrix_is_routed_in_process(
    helsinki_dir, points, in_process, settings
):
    got = od_matrix_distributed(helsinki_dir, *points, depart=settings.depart)
    assert_same_matrix(in_process.matrix, got)


def test_default_block_size_stays_within_bounds():
    assert default_block_size(152, 2) == 16
    assert default_block_size(2000, 2) == 32
    assert default_block_size(100_000, 2) == 256
    assert block_bounds(5, 2) == [(0, 2), (2, 4), (4, 5)]

"""`fairtrip plan --json` and `GET /plan` give the same answers: one planning service.

Fifty seeded random queries over the embedded city, with the options a rider varies
(modes, arrive-by, windows, a transit pass, fewer itineraries), are asked of both; the
whole answers must be equal (itineraries with their legs, prices and labels, the choices,
the reasons). Points off the map must be refused by both with the same words.
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from fairtrip.cli import main

#: the embedded city's streets (a little wider, so some points fall off the map)
BBOX = (60.150, 24.895, 60.200, 24.985)
N_QUERIES = 50


def queries() -> list[dict[str, Any]]:
    rng = random.Random(17)
    out = []
    for i in range(N_QUERIES):
        q: dict[str, Any] = {
            "from_lat": round(rng.uniform(BBOX[0], BBOX[2]), 5),
            "from_lon": round(rng.uniform(BBOX[1], BBOX[3]), 5),
            "to_lat": round(rng.uniform(BBOX[0], BBOX[2]), 5),
            "to_lon": round(rng.uniform(BBOX[1], BBOX[3]), 5),
            "at": f"2022-02-22T{rng.randint(6, 20):02d}:{rng.randint(0, 59):02d}:00+02:00",
        }
        kind = i % 6
        if kind == 1:
            q["modes"] = "WALK,TRANSIT"
        elif kind == 2:
            q["arrive_by"] = True
        elif kind == 3:
            q |= {"window_min": 20, "modes": "TRANSIT"}
        elif kind == 4:
            q |= {"transit_pass": True, "modes": "TRANSIT,BICYCLE"}
        elif kind == 5:
            q |= {"num_itineraries": 2, "modes": "WALK,SCOOTER_RENTAL,BICYCLE_RENTAL,CAR_RENTAL"}
        out.append(q)
    return out


def argv(q: dict[str, Any], network: Path, namespace: str) -> list[str]:
    """The query as a person types it: LAT,LON pairs and one option per field."""
    args = [
        "plan", "--network", str(network), "--json", "--quiet",
        "--store", REDIS, "--store-namespace", namespace,
        "--from", f"{q['from_lat']},{q['from_lon']}",
        "--to", f"{q['to_lat']},{q['to_lon']}",
        "--at", q["at"],
    ]
    if q.get("arrive_by"):
        args.append("--arrive-by")
    if q.get("transit_pass"):
        args.append("--transit-pass")
    for field, option in [
        ("modes", "--modes"),
        ("window_min", "--window"),
        ("num_itineraries", "--num-itineraries"),
    ]:
        if field in q:
            args += [option, str(q[field])]
    return args


REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def namespace() -> str:
    return f"fairtrip-test-same-{uuid.uuid4().hex[:8]}:"


@pytest.fixture(scope="module")
def fresh_api(helsinki_dir: Path, tmp_path_factory: pytest.TempPathFactory, namespace: str):
    """A server on the real Redis under a namespace of its own: it seeds its synthetic
    fleets there, and the CLI reads the very same snapshots with `--store`.
    """
    store = tmp_path_factory.mktemp("same") / "policies.sqlite3"
    settings = Settings(
        network=helsinki_dir,
        policy_store_url=f"sqlite:///{store}",
        plan_budget_s=60.0,
        store_url=REDIS,
        redis_namespace=namespace,
    )
    with TestClient(create_app(settings)) as client:
        yield client
    client_ = redis.Redis.from_url(REDIS)
    keys = list(client_.scan_iter(match=f"{namespace}*"))
    if keys:
        client_.delete(*keys)


def test_cli_json_and_get_plan_answer_fifty_random_queries_the_same(
    fresh_api: TestClient, helsinki_dir: Path, namespace: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answered = refused = 0
    for q in queries():
        r = fresh_api.get("/plan", params=q)
        code = main(argv(q, helsinki_dir, namespace))
        out, err = capsys.readouterr()
        if r.status_code == 200:
            assert code == 0, (q, err)
            cli, api = json.loads(out), r.json()
            assert cli == api, q
            answered += 1
        else:
            assert r.status_code == 422, r.text
            assert code == 2 and out == ""
            assert r.json()["error"]["message"] in err, (q, err)
            refused += 1
    # the comparison means something only if both kinds of answer were compared, and
    # rentals and labels were among them
    assert answered >= 30 and refused >= 3, (answered, refused)


def test_the_cli_plans_with_shared_vehicles_and_labels_like_the_api(
    helsinki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([
        "plan", "--network", str(helsinki_dir), "--json", "--quiet",
        "--from", "60.1622,24.9296", "--to", "60.1675,24.9650",
        "--at", "2022-02-22T08:00+02:00",
    ])
    out, _ = capsys.readouterr()
    assert code == 0
    doc = json.loads(out)
    modes = {leg["mode"] for it in doc["itineraries"] for leg in it["legs"]}
    assert modes & {"BICYCLE_RENTAL", "SCOOTER_RENTAL", "CAR_RENTAL"}, modes
    assert doc["choices"]["fastest"] in {it["id"] for it in doc["itineraries"]}
    assert all(it["price"] is not None for it in doc["itineraries"])

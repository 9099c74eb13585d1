"""Two real replicas behind no load balancer at all: the test of "any replica answers".

Two `fairtrip serve` processes (uvicorn subprocesses started as `tests/live_server.py`
starts them) listen on two ports and share what a deployment across machines shares: one
real Redis (the availability cache under one namespace, and the durable store of policies,
provider accounts and evaluation jobs under another, as ``redis://...?namespace=``) and a
Dask cluster the test starts (a `LocalCluster` of two single-threaded worker processes,
passed to both replicas as ``FAIRTRIP_DASK_SCHEDULER``). A request may go to either; this
module sends each step to the replica that did *not* do the previous one:

- a policy stored through A is read and activated through B, and A prices with it;
- a provider registered and pushing through A is planned with through B within the fleet
  refresh period;
- an evaluation started through A is polled to completion through B (every poll a 200),
  and B serves the result A stored;
- A is killed (SIGKILL) in the middle of an evaluation, and the job still completes: B
  takes it over once A's lease has run out (`evaluation.jobs.LEASE_S`), and the result is
  the one a single process computes from the same inputs, money integer for money integer.

The Redis keys of both namespaces are deleted at teardown, and the teardown checks that
none is left. Redis is required: `.ci/run` starts one, and without it this module fails
with that message instead of skipping. Timings (server starts, each run, the takeover) are
logged at INFO; ``pytest -o log_cli=true --log-cli-level=INFO tests/test_replicas.py``
shows them.

The uploaded demand is SYNTHETIC: every stop of the embedded city inside a demand zone is an
origin (about 1,260 points) with three destinations among 43 of them, so routing takes a
few seconds (long enough to kill A in the middle of it), not minutes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
from distributed import Client, LocalCluster

from api.schemas import KAMPPI_TO_KRUUNUNHAKA
from evaluation.evaluate import EvaluationSettings, base_costs, evaluate
from evaluation.jobs import HEARTBEAT_S, LEASE_S
from network.compiled import Network
from network.embedded import data_dir
from pricing.demand import load_demand
from pricing.names import source_name
from pricing.policy import parse_policy
from pricing.zones import ZoneLayer
from tests.live_server import REDIS_URL, LiveServer, delete_namespace, live_server, redis_env

log = logging.getLogger(__name__)

POLICY_ID = "replica-flat"
POLICY_YAML = f"""\
fairtrip_policy: 1
id: {POLICY_ID}
version: 1
name: Flat 2.00 EUR transit charge (replica test)
currency: EUR
mode_families: [transit]
revenue_neutral: false
measures:
  - type: city_wide_average
    charge_minor: 200
"""
PROVIDER_ID = "replica-scooters"
#: a walking and transit trip inside zone A: 2.80 EUR base fare, 2.00 EUR under the policy
KAMPPI_KRUUNUNHAKA: dict[str, Any] = {**KAMPPI_TO_KRUUNUNHAKA, "modes": "WALK,TRANSIT"}
#: Hietalahti -> Katajanokka: about 2.5 km, a scooter beats walking it
FROM = (60.1622, 24.9296)
TO = (60.1670, 24.9680)
AT = "2022-02-22T08:00:00+02:00"
#: each replica rebuilds its fleet views from the store this often (FAIRTRIP_FLEET_REFRESH_S)
FLEET_REFRESH_S = 1.0
#: each replica re-reads the active policy this often (`api.pricing.REFRESH_S`)
POLICY_REFRESH_S = 2.0
#: seconds between two status polls
POLL_S = 0.2
#: longest an evaluation of the uploaded demand may take on this busy 2-core machine
RUN_BOUND_S = 90.0
#: longest from A's death to the job's completion by B: the lease, one heartbeat of B's to
#: notice it, and a whole run again
TAKEOVER_BOUND_S = LEASE_S + 2 * HEARTBEAT_S + RUN_BOUND_S
#: fields of an evaluation document that differ between two runs of the same inputs
VOLATILE = ("generated_at", "timing_s")
FINAL = ("done", "failed", "cancelled")
ZONES_PATH = data_dir() / "helsinki" / "demand" / "demand-zones.geojson"


@dataclass
class Replicas:
    """The deployment under test: two servers, their shared Redis namespace, the cluster."""

    a: LiveServer
    b: LiveServer
    http_a: httpx.Client
    http_b: httpx.Client
    namespace: str
    dask: Client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_for(what: str, check: Callable[[], Any], timeout_s: float, every_s: float = POLL_S) -> Any:
    """Call `check` until it returns something truthy; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    pytest.fail(f"{what}: not within {timeout_s:.0f} s (last: {last!r})")


# -- the deployment ------------------------------------------------------------------------------


def require_redis() -> None:
    """Fail (not skip) when the Redis the replicas share does not answer."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"tests/test_replicas.py needs a Redis server at {REDIS_URL} (.ci/run starts one; "
            f"locally: redis-server --daemonize yes): {exc}",
            pytrace=False,
        )
    finally:
        client.close()


def keys_under(namespace: str) -> list[bytes]:
    """Every Redis key under `namespace` (SCAN: the server is shared)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return list(client.scan_iter(match=f"{namespace}*", count=1000))
    finally:
        client.close()


@pytest.fixture(scope="module")
def shared_redis() -> None:
    """The Redis the replicas share answers (else the module fails, naming it)."""
    require_redis()


@pytest.fixture(scope="module")
def cluster(shared_redis: None) -> Iterator[LocalCluster]:
    """The Dask cluster both replicas route evaluations on (its own ports: other tests may
    run a cluster at the same time).
    """
    started = time.monotonic()
    with LocalCluster(  # type: ignore[no-untyped-call]  # unannotated in distributed
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as local:
        log.info(
            "LocalCluster at %s in %.1f s", local.scheduler_address, time.monotonic() - started
        )
        yield local


@pytest.fixture(scope="module")
def replicas(
    helsinki_dir: Path, tmp_path_factory: pytest.TempPathFactory, cluster: LocalCluster
) -> Iterator[Replicas]:
    """Replicas A and B on the shared Redis and the test's Dask cluster; every key they
    wrote is deleted afterwards (and checked gone).
    """
    shared = redis_env()
    namespace = shared["FAIRTRIP_REDIS_NAMESPACE"]
    env = {
        **shared,
        # the durable store (policies, accounts, jobs) under a namespace of its own inside
        # the scratch one, so the teardown's one prefix removes both
        "FAIRTRIP_POLICY_STORE_URL": f"{REDIS_URL}?namespace={namespace}durable:",
        "FAIRTRIP_DASK_SCHEDULER": str(cluster.scheduler_address),
        # only the fleet this module pushes: a plan's rental legs can only be its own
        "FAIRTRIP_SYNTHETIC_PROVIDERS": "false",
        "FAIRTRIP_FLEET_REFRESH_S": str(FLEET_REFRESH_S),
        "FAIRTRIP_HISTORY_PERIOD_S": "0",
    }
    root = tmp_path_factory.mktemp("replicas")
    try:
        with contextlib.ExitStack() as stack:
            started = time.monotonic()
            a = stack.enter_context(live_server(helsinki_dir, root / "a", env=env))
            log.info("replica A up on port %d in %.1f s", a.port, time.monotonic() - started)
            started = time.monotonic()
            b = stack.enter_context(live_server(helsinki_dir, root / "b", env=env))
            log.info("replica B up on port %d in %.1f s", b.port, time.monotonic() - started)
            http_a = stack.enter_context(a.client(timeout_s=60.0))
            http_b = stack.enter_context(b.client(timeout_s=60.0))
            dask = stack.enter_context(
                Client(cluster, set_as_default=False)  # type: ignore[no-untyped-call]
            )
            yield Replicas(a, b, http_a, http_b, namespace, dask)
    finally:
        removed = delete_namespace(shared["FAIRTRIP_STORE_URL"], namespace)
        log.info("teardown: %d Redis keys under %s deleted", removed, namespace)
        left = keys_under(namespace)
        assert not left, f"keys left under {namespace}: {left[:5]}"


@pytest.fixture(scope="module")
def policy_stored(replicas: Replicas) -> str:
    """The flat policy, stored through A (idempotent: the same version and content)."""
    r = replicas.http_a.post(
        "/policies",
        content=POLICY_YAML.encode(),
        headers={**replicas.a.admin_headers, "content-type": "application/yaml"},
    )
    assert r.status_code in (200, 201), r.text
    return POLICY_ID


# -- the demand, and the single-process run ------------------------------------------------------


@pytest.fixture(scope="module")
def demand_csv(helsinki: Network) -> str:
    """SYNTHETIC OD table: every distinct stop position inside a demand zone is an origin,
    with three destinations among every 30th of them, and placeholder income groups.
    """
    zones = ZoneLayer.from_geojson(ZONES_PATH.read_bytes(), source=ZONES_PATH.name)
    lat, lon = helsinki.stops.lat, helsinki.stops.lon
    inside = np.flatnonzero(zones.assign(lat, lon) >= 0)
    points = sorted({(round(float(lat[i]), 6), round(float(lon[i]), 6)) for i in inside})
    destinations = points[::30]
    groups = (("low", 180_000), ("middle", 320_000), ("high", 520_000))
    rows = [
        "# synthetic: stop positions of the embedded city, three destinations each (replica test)",
        "origin_lat,origin_lon,dest_lat,dest_lon,trips,income_group,income_minor",
    ]
    for i, (o_lat, o_lon) in enumerate(points):
        for k in range(3):
            d_lat, d_lon = destinations[(7 * i + 11 * k) % len(destinations)]
            group, income = groups[(i + k) % 3]
            rows.append(f"{o_lat},{o_lon},{d_lat},{d_lon},{1 + (i + k) % 4},{group},{income}")
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def single_process(helsinki: Network, demand_csv: str) -> dict[str, Any]:
    """The evaluation of the uploaded demand in this process, without Dask, with the
    settings a replica evaluates with (`api.pricing.PricingService._evaluate`: 08:00 on the
    network's first service date, the request's default limits, the demand zones).
    """
    started = time.monotonic()
    zones = ZoneLayer.from_geojson(ZONES_PATH.read_bytes(), source=ZONES_PATH.name)
    demand = load_demand(demand_csv.encode(), zones=zones, source="uploaded CSV")
    day = dt.date.fromisoformat(helsinki.service_dates[0])
    settings = EvaluationSettings(
        depart=dt.datetime(day.year, day.month, day.day, 8, tzinfo=helsinki.timezone),
        access_time_max_min=30.0,
        access_price_max_minor=300,
    )
    base = base_costs(helsinki, demand, zones, settings)
    doc = evaluate(
        base,
        [parse_policy(POLICY_YAML)],
        settings,
        network=helsinki,
        zones_source=source_name(str(ZONES_PATH)),
    )
    log.info("single-process evaluation in %.1f s", time.monotonic() - started)
    # as a replica serves it: through JSON
    return dict(json.loads(json.dumps(doc, allow_nan=False)))


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without what differs between two runs of the same inputs."""
    return {k: v for k, v in doc.items() if k not in VOLATILE}


def assert_same_evaluation(got: dict[str, Any], expected: dict[str, Any]) -> None:
    """Money integers first (the clearest message), then everything but the run's clock."""
    money = [(s["policy_id"], s["revenue_minor"]) for s in got["scenarios"]]
    assert money == [(s["policy_id"], s["revenue_minor"]) for s in expected["scenarios"]]
    zone_money = [[z["mean_price_minor"] for z in s["zones"]] for s in got["scenarios"]]
    assert zone_money == [
        [z["mean_price_minor"] for z in s["zones"]] for s in expected["scenarios"]
    ]
    a, b = comparable(got), comparable(expected)
    differing = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    assert not differing, f"the documents differ in {differing}"


# -- evaluation jobs -------------------------------------------------------------------------


def start_evaluation(replicas: Replicas, demand_csv: str) -> str:
    """Start the evaluation of the uploaded demand through A; its job id."""
    r = replicas.http_a.post(
        f"/policies/{POLICY_ID}/evaluations",
        json={"demand_csv": demand_csv},
        headers=replicas.a.admin_headers,
    )
    assert r.status_code == 202, r.text
    return str(r.json()["job_id"])


@dataclass
class Polls:
    """Every status code B answered while a job was polled, and the last job document."""

    codes: list[int]
    last: dict[str, Any]


def poll_until(
    http: httpx.Client, job_id: str, done: Callable[[dict[str, Any]], bool], timeout_s: float
) -> Polls:
    """Poll the job's status until `done(status)`; every answer's code is kept."""
    codes: list[int] = []
    last: dict[str, Any] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = http.get(f"/evaluations/{job_id}")
        codes.append(r.status_code)
        if r.status_code == 200:
            last = r.json()
            if done(last):
                return Polls(codes, last)
        time.sleep(POLL_S)
    pytest.fail(f"evaluation {job_id}: not as expected within {timeout_s:.0f} s; last: {last}")


def finished(job: dict[str, Any]) -> bool:
    return job.get("status") in FINAL


def under_way_or_finished(job: dict[str, Any]) -> bool:
    """The job has done part of its work (the first origin blocks are routed), or is over."""
    return (job["status"] == "running" and job["progress"] > 0) or finished(job)


def routed_on_dask(replicas: Replicas) -> set[str]:
    """Names of the task kinds the test's Dask scheduler has run."""

    def prefixes(dask_scheduler: Any) -> list[str]:
        return sorted(dask_scheduler.task_prefixes)

    return set(replicas.dask.run_on_scheduler(prefixes))  # type: ignore[no-untyped-call]


# -- the tests -------------------------------------------------------------------------------


def test_a_policy_stored_through_a_is_activated_through_b_and_priced_with_by_a(
    replicas: Replicas, policy_stored: str
) -> None:
    got = replicas.http_b.get(f"/policies/{policy_stored}")
    assert got.status_code == 200, got.text
    assert got.json()["policy"]["measures"][0]["charge_minor"] == 200
    r = replicas.http_b.post(
        f"/policies/{policy_stored}/activate", headers=replicas.b.admin_headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["active"] is True

    def a_prices_with_it() -> int | None:
        doc = replicas.http_a.get("/plan", params=KAMPPI_KRUUNUNHAKA).json()
        rides = [it for it in doc["itineraries"] if any(leg.get("trip_id") for leg in it["legs"])]
        policy = rides[0]["price"]["policy"] if rides else None
        return rides[0]["price"]["final"]["amount_minor"] if policy else None

    # A re-reads the active policy every POLICY_REFRESH_S
    assert wait_for("A prices with B's activation", a_prices_with_it, 5 * POLICY_REFRESH_S) == 200
    active = replicas.http_a.get("/policies/active").json()["active"]
    assert active["policy"]["id"] == policy_stored
    r = replicas.http_a.post(
        f"/policies/{policy_stored}/deactivate", headers=replicas.a.admin_headers
    )
    assert r.status_code == 204, r.text
    assert replicas.http_b.get("/policies/active").json()["active"] is None


def scooter_feed(now_s: int) -> dict[str, Any]:
    """SYNTHETIC: a GBFS 3.0 feed of ten scooters within 200 m of Hietalahti, fresh now."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_s))
    env = {"last_updated": stamp, "ttl": 300, "version": "3.0"}
    return {
        "system_information": {
            **env,
            "data": {
                "system_id": PROVIDER_ID,
                "languages": ["en"],
                "name": [{"text": "Replica Scooters (test)", "language": "en"}],
                "opening_hours": "24/7",
                "feed_contact_email": "ops@example.org",
                "timezone": "Europe/Helsinki",
            },
        },
        "vehicle_types": {
            **env,
            "data": {
                "vehicle_types": [
                    {
                        "vehicle_type_id": "sc",
                        "form_factor": "scooter_standing",
                        "propulsion_type": "electric",
                        "max_range_meters": 20_000,
                        "return_constraint": "free_floating",
                    }
                ]
            },
        },
        "vehicle_status": {
            **env,
            "data": {
                "vehicles": [
                    {
                        "vehicle_id": f"rs{i}",
                        "lat": round(FROM[0] + 0.0004 * (i % 5), 6),
                        "lon": round(FROM[1] + 0.0006 * (i // 5), 6),
                        "is_reserved": False,
                        "is_disabled": False,
                        "vehicle_type_id": "sc",
                        "current_range_meters": 15_000,
                    }
                    for i in range(10)
                ]
            },
        },
    }


def test_a_push_through_a_is_planned_with_through_b(replicas: Replicas) -> None:
    r = replicas.http_a.post(
        "/admin/providers",
        json={"provider_id": PROVIDER_ID, "name": "Replica Scooters"},
        headers=replicas.a.admin_headers,
    )
    assert r.status_code == 201, r.text
    # the account is durable and shared: B issues the key A checks
    r = replicas.http_b.post(
        f"/admin/providers/{PROVIDER_ID}/keys", headers=replicas.b.admin_headers
    )
    assert r.status_code == 201, r.text
    secret = str(r.json()["secret"])
    r = replicas.http_a.put(
        f"/providers/{PROVIDER_ID}/gbfs",
        json={"files": scooter_feed(int(time.time()))},
        headers=bearer(secret),
    )
    assert r.status_code == 200, r.text
    pushed = time.monotonic()

    def b_plans_with_it() -> set[str]:
        doc = replicas.http_b.get(
            "/plan",
            params={
                "from_lat": FROM[0], "from_lon": FROM[1], "to_lat": TO[0], "to_lon": TO[1],
                "at": AT, "modes": "WALK,SCOOTER_RENTAL",
            },
        ).json()  # fmt: skip
        return {
            leg["rental"]["provider_id"]
            for it in doc["itineraries"]
            for leg in it["legs"]
            if leg.get("rental")
        }

    # B rebuilds its fleet views every FLEET_REFRESH_S; a plan is a few hundred ms
    used = wait_for("B plans with A's push", b_plans_with_it, 10 * FLEET_REFRESH_S + 5)
    log.info("B planned with A's push %.1f s after it was acknowledged", time.monotonic() - pushed)
    assert used == {PROVIDER_ID}
    status = replicas.http_b.get(f"/providers/{PROVIDER_ID}/status")
    assert status.status_code == 200, status.text


def test_an_evaluation_started_through_a_is_polled_to_completion_through_b(
    replicas: Replicas, policy_stored: str, demand_csv: str, single_process: dict[str, Any]
) -> None:
    started = time.monotonic()
    job_id = start_evaluation(replicas, demand_csv)
    polls = poll_until(replicas.http_b, job_id, finished, RUN_BOUND_S)
    log.info(
        "evaluation %s done in %.1f s; %d polls through B", job_id, time.monotonic() - started,
        len(polls.codes),
    )  # fmt: skip
    assert set(polls.codes) == {200}, f"B answered {sorted(set(polls.codes))}"
    assert polls.last["status"] == "done", polls.last
    assert polls.last["attempts"] == 1  # A ran it: nobody took it over
    through_b = replicas.http_b.get(f"/evaluations/{job_id}/result")
    through_a = replicas.http_a.get(f"/evaluations/{job_id}/result")
    assert through_b.status_code == through_a.status_code == 200, through_b.text
    assert through_b.json() == through_a.json()
    report = replicas.http_b.get(f"/evaluations/{job_id}/report")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    assert "route_block" in routed_on_dask(replicas), (
        "the replicas routed the evaluation in their own process, not on the Dask cluster "
        "FAIRTRIP_DASK_SCHEDULER names"
    )
    assert_same_evaluation(through_b.json(), single_process)


def test_a_replica_killed_mid_evaluation_leaves_a_job_that_b_completes(
    replicas: Replicas, policy_stored: str, demand_csv: str, single_process: dict[str, Any]
) -> None:
    job_id = start_evaluation(replicas, demand_csv)
    running = poll_until(replicas.http_b, job_id, under_way_or_finished, RUN_BOUND_S)
    assert not finished(running.last), f"the job ended before A could be killed: {running.last}"
    replicas.a.process.send_signal(signal.SIGKILL)
    replicas.a.process.wait(timeout=10)
    killed = time.monotonic()
    at_kill = replicas.http_b.get(f"/evaluations/{job_id}").json()
    log.info("A killed; the job through B: %s %s %.3f", at_kill["status"], at_kill["stage"],
             at_kill["progress"])  # fmt: skip
    assert not finished(at_kill), f"the job ended before A died, nothing to take over: {at_kill}"

    polls = poll_until(replicas.http_b, job_id, finished, TAKEOVER_BOUND_S)
    took_s = time.monotonic() - killed
    log.info("B completed A's job %.1f s after A was killed (lease %.0f s)", took_s, LEASE_S)
    assert set(polls.codes) == {200}, f"B answered {sorted(set(polls.codes))}"
    assert polls.last["status"] == "done", polls.last
    # A was dead: only a takeover after the lease can have finished it, and it counts a run
    assert polls.last["attempts"] == 2, polls.last
    assert took_s >= LEASE_S - HEARTBEAT_S, f"done {took_s:.1f} s after the kill"
    result = replicas.http_b.get(f"/evaluations/{job_id}/result")
    assert result.status_code == 200, result.text
    assert_same_evaluation(result.json(), single_process)

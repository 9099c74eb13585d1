"""Evaluation jobs as shared, durable state (issue 16).

The store on its own (SQLite and the real Redis, the same contract): the job lifecycle, its
stored inputs, throttled progress, cancel, takeover of jobs whose worker stopped (exactly one
of two racing workers wins each, attempts are counted, a cancelled job is never resumed, the
old worker's late writes are refused), handover at shutdown, and expiry. Then through the
API: a job accepted by one app is polled to completion through another app sharing the store
(as two workers or two replicas do); a job whose app dies mid-run is completed by another app
with the result of an uninterrupted run; an app that stops hands its job to the next one; a
job whose server stopped too often is failed with a reason; DELETE cancels a running job; an
expired job answers 410.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from evaluation.jobs import (
    LEASE_S,
    RELEASED_STAGE,
    RESUMED_STAGE,
    JobCancelledError,
    JobInputs,
    JobReleasedError,
    JobStore,
    JobStoreError,
    ProgressReporter,
    RedisJobStore,
    SqliteJobStore,
    open_job_store,
)
from tests.fleet_factory import REDIS_URL, redis_client, scratch_namespace

ADMIN = "jobs-admin-token-0123456789abcdef"
REDIS = redis_client()
needs_redis = pytest.mark.skipif(REDIS is None, reason="no Redis server at the test URL")
POLICY = {
    "fairtrip_policy": 1,
    "id": "jobs-flat",
    "version": 1,
    "name": "Flat 2.00 EUR transit charge (jobs test)",
    "currency": "EUR",
    "mode_families": ["transit"],
    "revenue_neutral": False,
    "measures": [{"type": "city_wide_average", "charge_minor": 200}],
}
#: four OD rows between central (hsy-*) and peripheral (est-*) demand zones: a job of ~1 s
SMALL_DEMAND = (
    "origin_zone,dest_zone,trips\nhsy-0,hsy-3,10\nhsy-3,hsy-0,5\nest-7-0,hsy-0,3\nest-7-2,hsy-3,4\n"
)
DAY_S = 86_400.0


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- the store ---------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=needs_redis)])
def two_stores(request, tmp_path) -> Iterator[tuple[JobStore, JobStore, Clock]]:
    """Two connections to one store, as two workers or replicas have."""
    clock = Clock()
    if request.param == "sqlite":
        a: JobStore = SqliteJobStore(tmp_path / "jobs.sqlite3", clock=clock)
        b: JobStore = SqliteJobStore(tmp_path / "jobs.sqlite3", clock=clock)
        yield a, b, clock
        a.close()
        b.close()
        return
    with scratch_namespace(REDIS) as ns:
        a = RedisJobStore(REDIS_URL, namespace=ns, clock=clock)
        b = RedisJobStore(REDIS_URL, namespace=ns, clock=clock)
        yield a, b, clock
        a.close()
        b.close()


@pytest.fixture
def store_and_clock(two_stores) -> tuple[JobStore, Clock]:
    store, _, clock = two_stores
    return store, clock


def new_job(store: JobStore, owner: str = "host:1:aaaa"):
    return store.create(policy_id="p-one", version=2, compare_with=["p-two"], owner=owner)


def test_a_job_is_stored_whole_and_read_back(store_and_clock):
    store, clock = store_and_clock
    job = new_job(store)
    got = store.get(job.job_id)
    assert got is not None
    assert (got.policy_id, got.version, got.compare_with) == ("p-one", 2, ("p-two",))
    assert (got.status, got.stage, got.progress, got.error) == ("queued", "queued", 0.0, None)
    assert got.created_at_s == clock.now and got.heartbeat_at_s == clock.now
    assert got.owner == "host:1:aaaa" and not got.finished and not got.expired
    assert store.get("0123456789abcdef") is None
    assert store.get("not-a-job-id") is None


def test_a_job_runs_to_done_with_its_result_and_report(store_and_clock):
    store, clock = store_and_clock
    job = new_job(store)
    assert store.start(job.job_id)
    assert not store.start(job.job_id)  # only a queued job starts
    store.update_progress(job.job_id, "routing", 0.5)
    assert store.get(job.job_id).progress == 0.5
    assert store.result(job.job_id) is None
    clock.now += 10
    assert store.finish(job.job_id, {"scenarios": [1, 2], "name": "Kamppi"}, "<html>é</html>")
    got = store.get(job.job_id)
    assert (got.status, got.stage, got.progress) == ("done", "done", 1.0)
    assert got.finished_at_s == clock.now
    assert store.result(job.job_id) == b'{"scenarios":[1,2],"name":"Kamppi"}'
    assert store.report(job.job_id).decode() == "<html>é</html>"
    assert not store.finish(job.job_id, {}, "")  # final states do not change
    assert not store.fail(job.job_id, "late")
    assert not store.cancel(job.job_id)
    assert store.get(job.job_id).status == "done"


def test_a_result_that_is_not_json_fails_instead_of_being_stored(store_and_clock):
    store, _ = store_and_clock
    job = new_job(store)
    store.start(job.job_id)
    with pytest.raises(ValueError):
        store.finish(job.job_id, {"gini": float("nan")}, "")
    assert store.get(job.job_id).status == "running"


def test_progress_writes_are_throttled_per_job_but_a_new_stage_always_lands(store_and_clock):
    store, _ = store_and_clock
    job = new_job(store)
    store.start(job.job_id)
    store.update_progress(job.job_id, "routing", 0.1)
    store.update_progress(job.job_id, "routing", 0.2)  # within 0.5 s: not written
    assert store.get(job.job_id).progress == 0.1
    store.update_progress(job.job_id, "policies", 0.9)  # a new stage: written at once
    assert (store.get(job.job_id).stage, store.get(job.job_id).progress) == ("policies", 0.9)
    time.sleep(0.55)
    store.update_progress(job.job_id, "policies", 0.95)
    assert store.get(job.job_id).progress == 0.95


def test_cancel_stops_queued_and_running_jobs_and_nothing_else(store_and_clock):
    store, _ = store_and_clock
    queued, running = new_job(store), new_job(store)
    store.start(running.job_id)
    assert store.cancel(queued.job_id)
    assert not store.start(queued.job_id)  # its worker skips it
    assert store.cancel(running.job_id) and store.cancelled(running.job_id)
    # the runner's late result is dropped, not stored
    assert not store.finish(running.job_id, {"late": True}, "<html/>")
    assert store.result(running.job_id) is None
    store.update_progress(running.job_id, "routing", 0.7)
    got = store.get(running.job_id)
    assert (got.status, got.progress) == ("cancelled", 0.0)
    assert got.finished_at_s is not None
    assert not store.cancel(running.job_id)  # already finished
    assert not store.cancel("0123456789abcdef")  # unknown
    assert not store.cancelled("0123456789abcdef")


def test_the_progress_reporter_stops_a_cancelled_run(store_and_clock):
    store, _ = store_and_clock
    job = new_job(store)
    store.start(job.job_id)
    reporter = ProgressReporter(store, job.job_id)
    reporter("routing", 0.5)
    assert store.get(job.job_id).progress == pytest.approx(0.425)
    store.cancel(job.job_id)
    with pytest.raises(JobCancelledError):
        reporter.checkpoint("policies")


INPUTS = JobInputs(
    policies=(("p-one", 2), ("p-two", 5)),
    depart=dt.datetime(2025, 1, 7, 8, 0, tzinfo=ZoneInfo("Europe/Helsinki")),
    max_time_min=45.0,
    max_price_minor=250,
    demand_csv=SMALL_DEMAND.encode(),
    network="0123abcd",
)


def test_a_job_is_stored_with_its_inputs_until_it_finishes(store_and_clock):
    store, _ = store_and_clock
    job = store.create(
        policy_id="p-one", version=2, compare_with=["p-two"], owner="host:1:aaaa", inputs=INPUTS
    )
    assert store.inputs(job.job_id) == INPUTS
    assert store.inputs(job.job_id).depart.utcoffset() == dt.timedelta(hours=2)
    default_demand = replace(INPUTS, demand_csv=None, network=None)
    other = store.create(
        policy_id="p-one", version=2, compare_with=[], owner="host:1:aaaa", inputs=default_demand
    )
    assert store.inputs(other.job_id) == default_demand
    assert store.inputs(new_job(store).job_id) is None  # stored without: cannot be resumed
    store.start(job.job_id)
    store.finish(job.job_id, {"a": 1}, "<html/>")
    store.cancel(other.job_id)
    assert store.inputs(job.job_id) is None and store.inputs(other.job_id) is None
    assert store.inputs("0123456789abcdef") is None


def test_job_inputs_are_checked(monkeypatch):
    with pytest.raises(ValueError, match="no time zone"):
        replace(INPUTS, depart=dt.datetime(2025, 1, 7, 8))
    with pytest.raises(ValueError, match="at least one policy"):
        replace(INPUTS, policies=())
    monkeypatch.setattr("evaluation.jobs.MAX_DEMAND_CSV_BYTES", 16)
    with pytest.raises(ValueError, match="at most 16 are stored"):
        replace(INPUTS, demand_csv=b"x" * 17)


def test_the_jobs_of_silent_workers_are_taken_over_and_only_theirs(store_and_clock):
    store, clock = store_and_clock
    dead = new_job(store, owner="old-host:7:dead")
    dead_queued = new_job(store, owner="old-host:7:dead")
    store.start(dead.job_id)
    store.update_progress(dead.job_id, "routing", 0.4)
    clock.now += LEASE_S + 5
    alive = new_job(store, owner="new-host:8:live")  # created now: a fresh heartbeat
    store.start(alive.job_id)
    taken = store.claim_orphans("new-host:8:live", LEASE_S)
    assert sorted(taken) == sorted([dead.job_id, dead_queued.job_id])
    for job_id in taken:
        got = store.get(job_id)
        assert (got.status, got.stage, got.progress, got.error) == (
            "queued",
            RESUMED_STAGE,
            0.0,
            None,
        )
        assert got.owner == "new-host:8:live" and got.attempts == 2
        assert got.heartbeat_at_s == clock.now and got.finished_at_s is None
    assert store.get(alive.job_id).status == "running"
    assert store.claim_orphans("new-host:8:live", LEASE_S) == []
    # a heartbeat keeps a worker's jobs its own past the lease
    clock.now += LEASE_S - 1
    store.heartbeat("new-host:8:live")
    clock.now += LEASE_S - 1
    assert store.claim_orphans("third:9:cccc", LEASE_S) == []
    # ... and once it falls silent, they are taken over in turn
    clock.now += LEASE_S + 5
    assert sorted(store.claim_orphans("third:9:cccc", LEASE_S)) == sorted([alive.job_id, *taken])
    assert [store.get(job_id).attempts for job_id in (alive.job_id, *taken)] == [2, 3, 3]


def test_a_job_whose_worker_stops_max_attempts_times_fails_with_the_reason(store_and_clock):
    store, clock = store_and_clock
    job = store.create(
        policy_id="p-one", version=2, compare_with=[], owner="w:0:0000", inputs=INPUTS
    )
    store.start(job.job_id, owner="w:0:0000")
    for attempt, owner in enumerate(["w:1:1111", "w:2:2222"], start=2):
        clock.now += LEASE_S + 1
        assert store.claim_orphans(owner, LEASE_S, max_attempts=3) == [job.job_id]
        got = store.get(job.job_id)
        assert (got.owner, got.attempts, got.status) == (owner, attempt, "queued")
        assert store.start(job.job_id, owner=owner)
        store.update_progress(job.job_id, "routing", 0.5, owner=owner)
    clock.now += LEASE_S + 1
    assert store.claim_orphans("w:3:3333", LEASE_S, max_attempts=3) == []
    got = store.get(job.job_id)
    assert got.status == "failed" and got.finished_at_s == clock.now and got.attempts == 3
    assert got.error.startswith("the server running it stopped (no sign of life since")
    assert "it was run 3 times and is not resumed again; submit it again" in got.error
    assert "w:2" not in got.error  # no host names in a public status
    assert store.inputs(job.job_id) is None
    # one attempt allowed: the old rule, failed at the first stop
    once = new_job(store, owner="w:4:4444")
    clock.now += LEASE_S + 1
    assert store.claim_orphans("w:5:5555", LEASE_S, max_attempts=1) == []
    assert "it was run once" in store.get(once.job_id).error


def test_exactly_one_of_two_racing_workers_claims_each_orphan(two_stores):
    a, b, clock = two_stores
    orphans = [new_job(a, owner="dead:1:0000").job_id for _ in range(16)]
    for job_id in orphans[::2]:
        a.start(job_id)
    clock.now += LEASE_S + 1
    start = threading.Barrier(2)
    claimed: dict[str, list[str]] = {}

    def claim(store: JobStore, owner: str) -> None:
        start.wait()
        claimed[owner] = store.claim_orphans(owner, LEASE_S)

    threads = [
        threading.Thread(target=claim, args=(a, "a:1:aaaa")),
        threading.Thread(target=claim, args=(b, "b:2:bbbb")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not set(claimed["a:1:aaaa"]) & set(claimed["b:2:bbbb"])
    assert sorted(claimed["a:1:aaaa"] + claimed["b:2:bbbb"]) == sorted(orphans)
    for owner, ids in claimed.items():
        for job_id in ids:
            got = a.get(job_id)
            assert (got.owner, got.attempts, got.status) == (owner, 2, "queued")


def test_a_claim_made_on_a_stale_view_changes_nothing(two_stores):
    a, b, clock = two_stores
    job = new_job(a, owner="dead:1:0000")
    a.start(job.job_id)
    clock.now += LEASE_S + 1
    stale = b._live_jobs()  # b reads, then a wins the claim before b writes
    assert a.claim_orphans("a:1:aaaa", LEASE_S) == [job.job_id]
    b._live_jobs = lambda: stale
    assert b.claim_orphans("b:2:bbbb", LEASE_S) == []
    got = a.get(job.job_id)
    assert (got.owner, got.attempts) == ("a:1:aaaa", 2)
    # the silent owner speaks up between b's read and b's write: b changes nothing either
    other = new_job(a, owner="slow:3:3333")
    clock.now += LEASE_S + 1
    a.heartbeat("a:1:aaaa")
    stale = [live for live in b.__class__._live_jobs(b) if live.job_id == other.job_id]
    assert stale and stale[0].heartbeat_at_s < clock.now - LEASE_S
    a.heartbeat("slow:3:3333")
    b._live_jobs = lambda: stale
    assert b.claim_orphans("b:2:bbbb", LEASE_S) == []
    assert a.get(other.job_id).owner == "slow:3:3333"


def test_a_cancelled_job_is_never_taken_over(store_and_clock):
    store, clock = store_and_clock
    running, queued = new_job(store, owner="dead:1:0000"), new_job(store, owner="dead:1:0000")
    store.start(running.job_id)
    assert store.cancel(running.job_id) and store.cancel(queued.job_id)
    clock.now += LEASE_S + 1
    assert store.claim_orphans("live:2:aaaa", LEASE_S) == []
    assert store.get(running.job_id).status == "cancelled"
    # cancelled after its takeover, before its new worker starts it: it does not start
    job = new_job(store, owner="dead:1:0000")
    clock.now += LEASE_S + 1
    assert store.claim_orphans("live:2:aaaa", LEASE_S) == [job.job_id]
    assert store.cancel(job.job_id)
    assert not store.start(job.job_id, owner="live:2:aaaa")
    clock.now += LEASE_S + 1
    assert store.claim_orphans("live:3:bbbb", LEASE_S) == []
    assert store.get(job.job_id).status == "cancelled"


def test_the_old_workers_late_writes_are_refused_after_a_takeover(store_and_clock):
    store, clock = store_and_clock
    job = new_job(store, owner="old:1:0000")
    assert store.start(job.job_id, owner="old:1:0000")
    reporter = ProgressReporter(store, job.job_id, owner="old:1:0000")
    reporter("routing", 0.5)
    clock.now += LEASE_S + 1
    assert store.claim_orphans("new:2:aaaa", LEASE_S) == [job.job_id]
    assert not store.start(job.job_id, owner="old:1:0000")
    assert store.start(job.job_id, owner="new:2:aaaa")
    store.update_progress(job.job_id, "policies", 0.9, owner="old:1:0000")
    assert store.get(job.job_id).stage == "starting"
    assert not store.finish(job.job_id, {"late": True}, "<html/>", owner="old:1:0000")
    assert not store.fail(job.job_id, "late", owner="old:1:0000")
    assert store.result(job.job_id) is None
    with pytest.raises(JobReleasedError, match="another server took it over"):
        reporter.checkpoint("policies")
    assert store.finish(job.job_id, {"ok": True}, "<html/>", owner="new:2:aaaa")
    assert store.result(job.job_id) == b'{"ok":true}'


def test_a_worker_that_shuts_down_hands_its_jobs_over_at_once(store_and_clock):
    store, _ = store_and_clock
    leaving, staying = new_job(store, owner="leaving:1:0000"), new_job(store, owner="staying:2:0")
    store.start(leaving.job_id, owner="leaving:1:0000")
    stopping = threading.Event()
    reporter = ProgressReporter(store, leaving.job_id, owner="leaving:1:0000", stopping=stopping)
    reporter("routing", 0.3)
    stopping.set()
    with pytest.raises(JobReleasedError, match="shutting down"):
        reporter("routing", 0.4)
    assert store.release("leaving:1:0000") == [leaving.job_id]
    got = store.get(leaving.job_id)
    assert (got.status, got.stage, got.progress, got.owner) == ("queued", RELEASED_STAGE, 0.0, "")
    assert got.heartbeat_at_s is None and got.attempts == 1
    assert store.get(staying.job_id).owner == "staying:2:0"
    assert not store.finish(leaving.job_id, {"late": True}, "", owner="leaving:1:0000")
    # claimable at once, without waiting for the lease, and no attempt counted
    assert store.claim_orphans("arriving:3:0000", LEASE_S) == [leaving.job_id]
    got = store.get(leaving.job_id)
    assert (got.owner, got.attempts, got.stage) == ("arriving:3:0000", 1, RESUMED_STAGE)
    assert store.release("nobody:4:0000") == []


def test_expired_results_are_deleted_then_the_record_after_as_long_again(store_and_clock):
    store, clock = store_and_clock
    old, fresh, running = new_job(store), new_job(store), new_job(store)
    for job in (old, fresh, running):
        store.start(job.job_id)
    store.finish(old.job_id, {"a": 1}, "<html/>")
    clock.now += 3 * DAY_S
    store.finish(fresh.job_id, {"b": 2}, "<html/>")
    clock.now += 5 * DAY_S
    store.heartbeat("host:1:aaaa")
    assert store.expire(clock.now - 7 * DAY_S) == 1
    got = store.get(old.job_id)
    assert got.expired and got.expired_at_s == clock.now and got.status == "done"
    assert store.result(old.job_id) is None and store.report(old.job_id) is None
    assert store.result(fresh.job_id) == b'{"b":2}'
    assert store.get(running.job_id).status == "running"  # unfinished jobs never expire
    assert not store.cancel(old.job_id)
    assert store.expire(clock.now - 7 * DAY_S) == 0  # idempotent
    clock.now += 7 * DAY_S + 1
    assert store.expire(clock.now - 7 * DAY_S) == 1  # `fresh` now
    assert store.get(old.job_id) is None  # forgotten: 404 from here on
    assert store.get(fresh.job_id).expired


def test_job_store_urls_are_checked(tmp_path):
    with pytest.raises(JobStoreError, match="expected sqlite"):
        open_job_store("postgres://db/jobs")
    with pytest.raises(JobStoreError, match="does not exist"):
        open_job_store(f"sqlite:///{tmp_path}/missing/jobs.sqlite3")
    with pytest.raises(JobStoreError, match="expected sqlite:///abs"):
        open_job_store("sqlite://relative.sqlite3")
    store = open_job_store(f"sqlite:///{tmp_path}/jobs.sqlite3")
    assert isinstance(store, SqliteJobStore)
    store.close()


@needs_redis
def test_a_redis_url_names_the_namespace():
    with scratch_namespace(REDIS) as ns:
        store = open_job_store(f"{REDIS_URL}?namespace={ns}")
        assert isinstance(store, RedisJobStore)
        job = new_job(store)
        assert REDIS.exists(f"{ns}job:j:{job.job_id}")
        store.close()


# -- through the API ---------------------------------------------------------------------------


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


def make_app(helsinki_dir: Path, store_url: str, **overrides):
    from api.app import create_app
    from api.settings import Settings

    settings = Settings(
        network=helsinki_dir,
        admin_token=ADMIN,
        policy_store_url=store_url,
        synthetic_providers=False,
        **overrides,
    )
    return create_app(settings)


def post_policy(client: TestClient) -> None:
    r = client.post("/policies", json=POLICY, headers=bearer())
    assert r.status_code in (200, 201), r.text


def start_small_job(client: TestClient) -> dict:
    post_policy(client)
    r = client.post(
        f"/policies/{POLICY['id']}/evaluations", json={"demand_csv": SMALL_DEMAND}, headers=bearer()
    )
    assert r.status_code == 202, r.text
    return r.json()


def poll_until_finished(client: TestClient, job_id: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        r = client.get(f"/evaluations/{job_id}")
        assert r.status_code == 200, r.text  # every poll answered: no 404 for a job that exists
        job = r.json()
        if job["status"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def assert_read_through_the_other_app(accepting: TestClient, other: TestClient) -> None:
    job = start_small_job(accepting)
    done = poll_until_finished(other, job["job_id"])
    assert done["status"] == "done", done
    assert done["progress"] == 1.0 and done["expires_at"] is not None
    assert done["heartbeat_at"] is None  # shown while a worker is responsible for it
    result = other.get(done["links"]["result"])
    assert result.status_code == 200 and result.headers["content-type"] == "application/json"
    ids = [s["policy_id"] for s in result.json()["scenarios"]]
    assert ids == ["status-quo", POLICY["id"]]
    report = other.get(done["links"]["report"])
    assert report.status_code == 200 and "<svg" in report.text
    assert accepting.get(done["links"]["result"]).content == result.content


@pytest.fixture(scope="module")
def shared_file(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('jobs-api') / 'durable.sqlite3'}"


@pytest.fixture(scope="module")
def two_apps(helsinki_dir, shared_file) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps on one durable file: two workers of one server, or two replicas."""
    with (
        TestClient(make_app(helsinki_dir, shared_file)) as first,
        TestClient(make_app(helsinki_dir, shared_file)) as second,
    ):
        yield first, second


def test_a_job_accepted_by_one_app_is_polled_to_done_through_another(two_apps):
    first, second = two_apps
    assert_read_through_the_other_app(first, second)
    assert_read_through_the_other_app(second, first)


@needs_redis
def test_the_same_through_a_shared_redis_namespace(helsinki_dir):
    with scratch_namespace(REDIS) as ns:
        url = f"{REDIS_URL}?namespace={ns}"
        with (
            TestClient(make_app(helsinki_dir, url)) as first,
            TestClient(make_app(helsinki_dir, url)) as second,
        ):
            assert_read_through_the_other_app(first, second)
        assert REDIS.scard(f"{ns}job:live") == 0


def test_an_unknown_job_is_404_in_the_one_error_shape(two_apps):
    first, _ = two_apps
    for path in ("", "/result", "/report"):
        r = first.get(f"/evaluations/0123456789abcdef{path}")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "unknown_job"
    r = first.delete("/evaluations/0123456789abcdef", headers=bearer())
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_job"


def test_a_running_job_is_cancelled_through_another_app_and_its_worker_stops(two_apps, monkeypatch):
    first, second = two_apps
    stopped = threading.Event()

    def slow_base_costs(network, demand, zones, settings, *, progress=None, **options):
        # routes "forever": only a cancellation (raised from `progress`) ends it
        try:
            for i in range(3000):
                progress("routing", i / 3000)
                time.sleep(0.01)
        except JobCancelledError:
            stopped.set()
            raise
        raise AssertionError("the cancelled evaluation was not stopped")

    monkeypatch.setattr("api.pricing.base_costs", slow_base_costs)
    job = start_small_job(first)
    deadline = time.monotonic() + 30
    while (running := second.get(f"/evaluations/{job['job_id']}").json())["stage"] != "routing":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert running["status"] == "running" and running["heartbeat_at"] is not None

    assert second.delete(f"/evaluations/{job['job_id']}").status_code in (401, 403)
    r = second.delete(f"/evaluations/{job['job_id']}", headers=bearer())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["finished_at"] is not None
    assert stopped.wait(10), "the worker kept routing a cancelled evaluation"
    got = first.get(f"/evaluations/{job['job_id']}").json()
    assert got["status"] == "cancelled" and got["links"]["result"] is None
    r = first.get(f"/evaluations/{job['job_id']}/result")
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_ready"
    r = first.delete(f"/evaluations/{job['job_id']}", headers=bearer())
    assert r.status_code == 409 and r.json()["error"]["code"] == "job_finished"
    # the evaluation thread is free again for the next job
    monkeypatch.undo()
    job = start_small_job(first)
    assert poll_until_finished(second, job["job_id"])["status"] == "done"


def wait_for_stage(client: TestClient, job_id: str, stage: str) -> dict:
    deadline = time.monotonic() + 30
    while (job := client.get(f"/evaluations/{job_id}").json())["stage"] != stage:
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def stuck_evaluation(stopped: threading.Event):
    """An app's evaluation that routes until the job is no longer its own: the runner of a
    worker presumed dead (or shutting down), whose late writes must not land.
    """

    def run(progress, policies, inputs):
        progress.checkpoint("routing")
        try:
            for i in range(3000):
                progress("routing", i / 3000)
                time.sleep(0.01)
        except JobReleasedError:
            stopped.set()
            raise
        raise AssertionError("the runner was never told that its job moved")

    return run


def without_timing(blob: bytes) -> dict:
    """An evaluation document without the fields that differ between two identical runs."""
    doc = json.loads(blob)
    del doc["generated_at"], doc["timing_s"]
    return doc


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=needs_redis)])
def durable_url(request, tmp_path) -> Iterator[str]:
    """A fresh shared store for apps: the durable SQLite file, or a Redis namespace."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'durable.sqlite3'}"
        return
    with scratch_namespace(REDIS) as ns:
        yield f"{REDIS_URL}?namespace={ns}"


def test_a_job_whose_app_dies_mid_run_is_completed_by_another_app(
    helsinki_dir, durable_url, monkeypatch
):
    url = durable_url
    with (
        TestClient(make_app(helsinki_dir, url)) as first,
        TestClient(make_app(helsinki_dir, url)) as second,
    ):
        dying, taking = first.app.state.fairtrip.pricing, second.app.state.fairtrip.pricing
        stopped = threading.Event()
        monkeypatch.setattr(dying, "_evaluate", stuck_evaluation(stopped))
        job_id = start_small_job(first)["job_id"]
        running = wait_for_stage(second, job_id, "routing")
        assert running["status"] == "running" and running["attempts"] == 1
        # the first app dies: no more heartbeats, and its last one is older than the lease
        monkeypatch.setattr(dying, "job_upkeep", list)
        old = open_job_store(url, clock=Clock(time.time() - LEASE_S - 60))
        deadline = time.monotonic() + 30
        while (owner := old.get(job_id).owner) != taking.owner:
            assert owner == dying.owner and time.monotonic() < deadline
            old.heartbeat(dying.owner)
            taking.job_upkeep()  # what the second app's heartbeat does every few seconds
        old.close()
        resumed = first.get(f"/evaluations/{job_id}").json()
        assert resumed["attempts"] == 2 and resumed["status"] in ("queued", "running", "done")
        done = poll_until_finished(first, job_id)  # any app answers, the dead one's too
        assert done["status"] == "done" and done["attempts"] == 2, done
        assert stopped.wait(10), "the presumed-dead runner kept routing"
        taken_over = second.get(done["links"]["result"]).content
        # the same evaluation, uninterrupted
        reference = poll_until_finished(second, start_small_job(second)["job_id"])
        assert reference["attempts"] == 1
        uninterrupted = second.get(reference["links"]["result"]).content
    assert without_timing(taken_over) == without_timing(uninterrupted)


def test_an_app_that_stops_hands_its_job_to_the_next_app(helsinki_dir, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'durable.sqlite3'}"
    stopped = threading.Event()
    with TestClient(make_app(helsinki_dir, url)) as client:
        pricing = client.app.state.fairtrip.pricing
        monkeypatch.setattr(pricing, "_evaluate", stuck_evaluation(stopped))
        job_id = start_small_job(client)["job_id"]
        wait_for_stage(client, job_id, "routing")
    assert stopped.wait(10), "the runner kept routing after its app stopped"
    store = open_job_store(url)
    got = store.get(job_id)
    store.close()
    assert (got.status, got.stage, got.owner, got.attempts) == ("queued", RELEASED_STAGE, "", 1)
    with TestClient(make_app(helsinki_dir, url)) as client:  # the restarted server
        done = poll_until_finished(client, job_id)
    assert done["status"] == "done" and done["attempts"] == 1, done


def test_jobs_whose_server_crashed_are_resumed_or_failed_with_a_reason_when_an_app_starts(
    helsinki_dir, tmp_path
):
    url = f"sqlite:///{tmp_path / 'durable.sqlite3'}"
    with TestClient(make_app(helsinki_dir, url)) as client:
        post_policy(client)
        pricing = client.app.state.fairtrip.pricing
        inputs = JobInputs(
            policies=((POLICY["id"], POLICY["version"]),),
            depart=pricing.depart(),
            max_time_min=30.0,
            max_price_minor=300,
            demand_csv=SMALL_DEMAND.encode(),
            network=pricing._network_key(),
        )
    hour_ago = Clock(time.time() - 3600)
    store = open_job_store(url, clock=hour_ago)

    def create(owner: str, stored: JobInputs | None = inputs):
        job = store.create(
            policy_id=POLICY["id"], version=1, compare_with=[], owner=owner, inputs=stored
        )
        store.start(job.job_id, owner=owner)
        store.update_progress(job.job_id, "routing", 0.4, owner=owner)
        return job.job_id

    too_often = create("gone:1:dead")
    for owner in ("gone:2:dead", "gone:3:dead"):  # its server stopped twice already
        hour_ago.now += LEASE_S + 1
        assert store.claim_orphans(owner, LEASE_S) == [too_often]
        store.start(too_often, owner=owner)
    resumed = create("gone:3:dead")
    bare = create("gone:3:dead", stored=None)  # stored without its inputs
    store.close()
    with TestClient(make_app(helsinki_dir, url)) as client:
        done = poll_until_finished(client, resumed)
        failed = client.get(f"/evaluations/{too_often}").json()
        unresumable = poll_until_finished(client, bare)
    assert done["status"] == "done" and done["attempts"] == 2, done
    assert failed["status"] == "failed" and failed["attempts"] == 3
    assert failed["error"].startswith("the server running it stopped")
    assert "run 3 times" in failed["error"] and failed["finished_at"] is not None
    assert unresumable["status"] == "failed"
    assert "its inputs were not stored with it" in unresumable["error"]


def test_an_expired_job_answers_410_saying_why(helsinki_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'durable.sqlite3'}"
    store = open_job_store(url, clock=Clock(time.time() - 10 * DAY_S))
    job = store.create(policy_id="jobs-flat", version=1, compare_with=[], owner="gone:1:dead")
    store.start(job.job_id)
    store.finish(job.job_id, {"scenarios": []}, "<html/>")
    store.close()
    with TestClient(make_app(helsinki_dir, url, job_retention_days=7)) as client:
        for path in ("", "/result", "/report"):
            r = client.get(f"/evaluations/{job.job_id}{path}")
            assert r.status_code == 410, r.text
            error = r.json()["error"]
            assert error["code"] == "job_expired"
            assert "kept 7 days" in error["message"]
            assert "FAIRTRIP_JOB_RETENTION_DAYS" in error["message"]
        assert client.delete(f"/evaluations/{job.job_id}", headers=bearer()).status_code == 410


def test_a_job_store_that_does_not_answer_is_a_503_without_its_details(two_apps, monkeypatch):
    first, _ = two_apps
    jobs = first.app.state.fairtrip.pricing.jobs

    def down(job_id):
        raise JobStoreError("job store /srv/secret/durable.sqlite3: database is locked")

    monkeypatch.setattr(jobs, "get", down)
    r = first.get("/evaluations/0123456789abcdef")
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert r.json()["error"]["code"] == "job_store_unavailable"
    assert "/srv" not in r.text

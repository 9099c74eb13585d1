"""Credentials outlive the cache; a cache that lost its data is noticed, re-seeded and reported.

The availability cache is a real Redis under a scratch namespace; a loss (a Redis restarted
without persistence, a FLUSHALL, a failover to an empty replica) is simulated by deleting
every key of that namespace, never by flushing the shared server. Provider accounts and key
hashes live in a SQLite file of the test's own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.fleet_factory import redis_client, scratch_namespace
from tests.gbfs_hostile import valid_feed_v3
from tests.test_api_providers import ADMIN, bearer
from tests.test_store_redis import Relay, wipe
from trips.model import RENTAL_MODES

REDIS = redis_client()
SYNTHETIC = ("synthetic-carshare-hki", "synthetic-citybikes-hki", "synthetic-scooters-hki")


def make_app(
    helsinki_dir: Path,
    durable: Path,
    *,
    namespace: str | None = None,
    port: int = 6379,
    check_s: float = 60.0,
    synthetic: bool = True,
) -> Any:
    """An app on `durable` (SQLite) and, with a namespace, Redis; by default the cache watch
    waits 60 s, so a test steps it by hand with `fleets(client).check_cache()`.
    """
    store = (
        {}
        if namespace is None
        else {
            "store_url": f"redis://127.0.0.1:{port}/0",
            "redis_namespace": namespace,
        }
    )
    return create_app(
        Settings(
            network=helsinki_dir,
            admin_token=ADMIN,
            policy_store_url=f"sqlite:///{durable}",
            synthetic_providers=synthetic,
            cache_check_s=check_s,
            **store,
        )
    )


def fleets(client: TestClient) -> Any:
    return client.app.state.fairtrip.fleets  # type: ignore[attr-defined]


def register(client: TestClient, provider_id: str, name: str | None = None) -> str:
    r = client.post(
        "/admin/providers",
        json={"provider_id": provider_id, "name": name or provider_id},
        headers=bearer(ADMIN),
    )
    assert r.status_code == 201, r.text
    r = client.post(f"/admin/providers/{provider_id}/keys", headers=bearer(ADMIN))
    assert r.status_code == 201, r.text
    return str(r.json()["secret"])


def push(client: TestClient, provider_id: str, secret: str) -> Any:
    return client.put(
        f"/providers/{provider_id}/gbfs", json={"files": valid_feed_v3()}, headers=bearer(secret)
    )


def wait_for(predicate: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until `predicate()` held; fails the test after `timeout_s`."""
    t0 = time.monotonic()
    while not predicate():
        assert time.monotonic() - t0 < timeout_s, f"not within {timeout_s} s"
        time.sleep(0.05)
    return time.monotonic() - t0


def ready_ids(client: TestClient) -> set[str]:
    return {p["provider_id"] for p in client.get("/ready").json()["providers"]}


@pytest.fixture
def ns() -> Iterator[str]:
    if REDIS is None:
        pytest.skip("no Redis on 127.0.0.1:6379")
    with scratch_namespace(REDIS) as namespace:
        yield namespace


# -- a loss while the server runs ---------------------------------------------------------------
def test_after_a_wipe_ready_is_degraded_then_fleets_return_and_the_pusher_is_data_lost(
    helsinki_dir: Path, tmp_path: Path, ns: str
) -> None:
    assert REDIS is not None
    with TestClient(make_app(helsinki_dir, tmp_path / "durable.sqlite3", namespace=ns)) as c:
        secret = register(c, "acme")
        assert push(c, "acme", secret).status_code == 200
        fleets(c).check_cache()  # the watch records that acme has data
        assert c.get("/ready").json()["status"] == "ready"

        wipe(REDIS, ns)
        ready = c.get("/ready").json()
        assert ready["status"] == "degraded"
        assert any("lost its data" in r for r in ready["reasons"]), ready["reasons"]
        assert c.get(f"/providers/{SYNTHETIC[0]}/status").status_code == 404  # gone for now

        fleets(c).check_cache()  # the watch's next round
        ready = c.get("/ready").json()
        assert (ready["status"], ready["reasons"]) == ("ready", [])
        back = {p["provider_id"]: p for p in ready["providers"]}
        for pid in SYNTHETIC:
            assert back[pid]["source"] == "synthetic" and back[pid]["stale"] is False
            assert back[pid]["vehicles"] + back[pid]["stations"] > 0
        assert back["acme"]["data_lost"] is True and back["acme"]["lost_at_s"] > 0

        status = c.get("/providers/acme/status")
        assert status.status_code == 200, status.text
        assert status.json()["data_lost"] is True and status.json()["vehicles"] == 0
        listed = {p["provider_id"]: p for p in c.get("/providers").json()["providers"]}
        assert listed["acme"]["data_lost"] is True and listed["acme"]["name"] == "acme"

        # the key issued before the wipe still authenticates; the new push clears the mark
        assert push(c, "acme", secret).status_code == 200
        assert c.get("/providers/acme/status").json()["data_lost"] is False
        fleets(c).check_cache()
        assert fleets(c).accounts.get("acme").data_lost_at_s is None


def test_the_watch_notices_a_wipe_within_its_period(
    helsinki_dir: Path, tmp_path: Path, ns: str
) -> None:
    assert REDIS is not None
    period_s = 0.3
    app = make_app(helsinki_dir, tmp_path / "durable.sqlite3", namespace=ns, check_s=period_s)
    with TestClient(app) as c:
        secret = register(c, "acme")
        assert push(c, "acme", secret).status_code == 200
        accounts = fleets(c).accounts
        wait_for(lambda: accounts.get("acme").data_seen_at_s is not None, 5 * period_s + 1)
        epoch = REDIS.get(f"{ns}store:epoch")

        wipe(REDIS, ns)
        took_s = wait_for(
            lambda: (
                (r := c.get("/ready").json())["status"] == "ready"
                and set(SYNTHETIC) <= ready_ids(c)
                and any(p.get("data_lost") for p in r["providers"])
            ),
            timeout_s=10 * period_s,
        )
        assert took_s <= 3 * period_s + 0.5, took_s
        assert REDIS.get(f"{ns}store:epoch") not in (None, epoch)
        assert c.get("/providers/acme/status").json()["data_lost"] is True
        # what /plan routes with (the refreshed fleet views) has the synthetic fleets again
        rental = c.app.state.fairtrip.planning.rental_fleets  # type: ignore[attr-defined]
        views, _ = rental.current(RENTAL_MODES, now_s=int(time.time()))
        assert {v.provider_id for v in views} >= set(SYNTHETIC)


def test_every_worker_notices_and_the_loss_is_marked_once(
    helsinki_dir: Path, tmp_path: Path, ns: str
) -> None:
    assert REDIS is not None
    durable = tmp_path / "durable.sqlite3"
    with (
        TestClient(make_app(helsinki_dir, durable, namespace=ns)) as w1,
        TestClient(make_app(helsinki_dir, durable, namespace=ns, synthetic=False)) as w2,
    ):
        secret = register(w1, "acme")
        assert push(w2, "acme", secret).status_code == 200  # the key is shared via SQLite
        fleets(w1).check_cache()
        wipe(REDIS, ns)
        assert w2.get("/ready").json()["status"] == "degraded"  # w2 sees it before its check
        fleets(w1).check_cache()
        time.sleep(1.1)  # a second worker's check comes later; the mark keeps the first time
        fleets(w2).check_cache()
        first = w1.get("/providers/acme/status").json()
        second = w2.get("/providers/acme/status").json()
        assert first["data_lost"] and second["data_lost"]
        assert first["lost_at_s"] == second["lost_at_s"]
        assert w2.get("/ready").json()["status"] == "ready"
        assert set(SYNTHETIC) <= ready_ids(w2)  # seeded by w1, seen by w2


def test_redis_unreachable_is_degraded_and_keys_are_still_issued(
    helsinki_dir: Path, tmp_path: Path, ns: str
) -> None:
    assert REDIS is not None
    kw = REDIS.connection_pool.connection_kwargs
    relay = Relay((kw.get("host", "127.0.0.1"), kw.get("port", 6379)))
    relay.start()
    try:
        app = make_app(
            helsinki_dir,
            tmp_path / "durable.sqlite3",
            namespace=ns,
            port=relay.port,
            synthetic=False,
        )
        with TestClient(app) as c:
            secret = register(c, "acme")
            relay.stop()
            ready = c.get("/ready").json()
            assert ready["status"] == "degraded"
            assert any("unreachable" in r for r in ready["reasons"]), ready["reasons"]
            # credentials do not depend on the cache: a new key is issued, an old one is
            # recognised, and the push is refused for the store (503), not the key (403)
            new = c.post("/admin/providers/acme/keys", headers=bearer(ADMIN))
            assert new.status_code == 201
            r = push(c, "acme", secret)
            assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
            relay.start()
            wait_for(lambda: c.get("/ready").json()["status"] == "ready", 12)  # breaker cooldown
            assert push(c, "acme", new.json()["secret"]).status_code == 200
    finally:
        relay.stop()


# -- a loss while the server is down ------------------------------------------------------------
def test_accounts_and_keys_survive_a_server_restart_and_lost_data_is_reported(
    helsinki_dir: Path, tmp_path: Path
) -> None:
    durable = tmp_path / "durable.sqlite3"
    with TestClient(make_app(helsinki_dir, durable, synthetic=False)) as first:
        secret = register(first, "acme", "Acme Bikes")
        assert push(first, "acme", secret).status_code == 200
    # the memory store dies with the server; the accounts file does not
    with TestClient(make_app(helsinki_dir, durable, synthetic=False)) as second:
        listed = second.get("/providers").json()["providers"]
        assert [(p["provider_id"], p["name"]) for p in listed] == [("acme", "Acme Bikes")]
        status = second.get("/providers/acme/status").json()
        assert status["data_lost"] is True and status["name"] == "Acme Bikes"
        assert second.get("/ready").json()["status"] == "ready"  # nothing to re-seed
        assert push(second, "acme", secret).status_code == 200
        assert second.get("/providers/acme/status").json()["data_lost"] is False


def test_a_wipe_while_the_server_was_down_is_noticed_at_start(
    helsinki_dir: Path, tmp_path: Path, ns: str
) -> None:
    assert REDIS is not None
    durable = tmp_path / "durable.sqlite3"
    with TestClient(make_app(helsinki_dir, durable, namespace=ns, synthetic=False)) as first:
        secret = register(first, "acme")
        assert push(first, "acme", secret).status_code == 200
    with TestClient(make_app(helsinki_dir, durable, namespace=ns, synthetic=False)) as again:
        assert again.get("/providers/acme/status").json()["data_lost"] is False  # Redis kept it
    wipe(REDIS, ns)
    with TestClient(make_app(helsinki_dir, durable, namespace=ns, synthetic=False)) as after:
        assert after.get("/providers/acme/status").json()["data_lost"] is True
        assert push(after, "acme", secret).status_code == 200  # the key survived the wipe


# -- what may be stored at all ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "position"), [("Acme\x00Bikes", 4), ("\x1b[31mAcme", 0), ("Ac\u202eme", 2)]
)
def test_provider_names_with_control_characters_are_refused(
    helsinki_dir: Path, tmp_path: Path, name: str, position: int
) -> None:
    with TestClient(make_app(helsinki_dir, tmp_path / "d.sqlite3", synthetic=False)) as c:
        r = c.post(
            "/admin/providers", json={"provider_id": "acme", "name": name}, headers=bearer(ADMIN)
        )
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "invalid_name" and error["field"] == "name"
        assert f"at position {position}" in error["message"]
        assert c.get("/providers").json()["providers"] == []


def test_a_push_is_recorded_in_the_durable_accounts_at_once_not_at_the_next_check(
    helsinki_dir: Path, tmp_path: Path, ns: str
) -> None:
    durable = tmp_path / "durable.sqlite3"
    with TestClient(make_app(helsinki_dir, durable, namespace=ns, synthetic=False)) as client:
        secret = register(client, "acme")
        accounts = fleets(client).accounts
        assert accounts.get("acme").data_seen_at_s is None
        assert push(client, "acme", secret).status_code == 200
        # the watch waits 60 s here: only the push itself can have written this
        assert accounts.get("acme").data_seen_at_s is not None

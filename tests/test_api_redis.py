"""The API on a real Redis: pushes land there, and a Redis outage gives 503s to writers
while readers keep answering from the last good copy.
"""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from tests.fleet_factory import redis_client, scratch_namespace
from tests.test_api_providers import ADMIN, bearer, fixture_files
from tests.test_store_redis import Relay

REDIS = redis_client()
pytestmark = pytest.mark.skipif(REDIS is None, reason="no Redis on 127.0.0.1:6379")


@pytest.fixture
def relay():
    kw = REDIS.connection_pool.connection_kwargs
    r = Relay((kw.get("host", "127.0.0.1"), kw.get("port", 6379)))
    r.start()
    yield r
    r.stop()


def make_app(helsinki_dir, port: int, namespace: str, *, synthetic: bool = False):
    from api.app import create_app
    from api.settings import Settings

    return create_app(
        Settings(
            network=helsinki_dir,
            admin_token=ADMIN,
            store_url=f"redis://127.0.0.1:{port}/0",
            redis_namespace=namespace,
            synthetic_providers=synthetic,
        )
    )


def test_push_is_visible_to_a_second_worker_through_redis(helsinki_dir):
    kw = REDIS.connection_pool.connection_kwargs
    with scratch_namespace(REDIS) as ns:
        app1 = make_app(helsinki_dir, kw.get("port", 6379), ns)
        app2 = make_app(helsinki_dir, kw.get("port", 6379), ns)
        with TestClient(app1) as w1, TestClient(app2) as w2:
            assert w1.get("/ready").json()["store"]["backend"] == "redis"
            r = w1.post("/admin/providers", json={"provider_id": "shared-co", "name": "S"},
                        headers=bearer(ADMIN))
            assert r.status_code == 201
            key = w2.post("/admin/providers/shared-co/keys", headers=bearer(ADMIN)).json()
            files = fixture_files("lillestrom-bysykkel-v2.2")
            r = w2.put("/providers/shared-co/gbfs", json={"files": files},
                       headers=bearer(key["secret"]))
            assert r.status_code == 200, r.text
            # the other worker sees the account, the key and the fleet
            assert w1.get("/providers/shared-co/status").json()["stations"] == 6
            assert w1.get("/providers/shared-co/gbfs",
                          headers=bearer(key["secret"])).status_code == 200


def test_redis_outage_503s_writers_and_readers_keep_the_last_good_copy(helsinki_dir, relay):
    with (
        scratch_namespace(REDIS) as ns,
        TestClient(make_app(helsinki_dir, relay.port, ns)) as client,
    ):
        client.post("/admin/providers", json={"provider_id": "outage-co", "name": "O"},
                    headers=bearer(ADMIN))
        key = client.post("/admin/providers/outage-co/keys", headers=bearer(ADMIN)).json()
        files = fixture_files("lillestrom-bysykkel-v2.2")
        ok = client.put("/providers/outage-co/gbfs", json={"files": files},
                        headers=bearer(key["secret"]))
        assert ok.status_code == 200
        relay.stop()  # Redis goes away
        status = client.get("/providers/outage-co/status")
        assert status.status_code == 200 and status.json()["stations"] == 6
        listed = client.get("/providers").json()["providers"]
        assert any(p["provider_id"] == "outage-co" for p in listed)
        assert client.get("/ready").status_code == 200
        refused = client.put("/providers/outage-co/gbfs", json={"files": files},
                             headers=bearer(key["secret"]))
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "store_unavailable"
        # the plan endpoint does not depend on Redis at all
        assert client.get("/health").json() == {"status": "ok"}
        relay.start()  # back on the same port; after the breaker's cooldown it recovers
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            again = client.put("/providers/outage-co/gbfs", json={"files": files},
                               headers=bearer(key["secret"]))
            if again.status_code == 200:
                break
            time.sleep(0.5)
        assert again.status_code == 200, again.text
        assert json.loads(again.text)["stations"] == 6

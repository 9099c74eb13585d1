"""Provider endpoints over HTTP: admin, push, status, tenancy, the hostile corpus, the
synthetic fleets in the default app, and the simulator against the real endpoint.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from providers.simulator import simulate
from providers.synthetic import embedded_synthetic_fleets
from tests.data_paths import GBFS_FIXTURES
from tests.gbfs_hostile import hostile_cases, valid_feed_v3

log = logging.getLogger(__name__)
FIXTURES = GBFS_FIXTURES
ADMIN = "admin-token-for-tests-0123456789"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def envelope(files: dict[str, bytes]) -> bytes:
    """The whole-snapshot body with each file's bytes spliced in unchanged."""
    parts = [json.dumps(name).encode() + b": " + raw for name, raw in files.items()]
    return b'{"files": {' + b", ".join(parts) + b"}}"


#: The middle of the embedded Helsinki network's area: real fixtures of other cities are moved
#: here (every position shifted by one offset, so shapes and distances are kept), because the
#: server refuses a feed with nothing inside its service area.
HELSINKI_MIDDLE = (60.1710, 24.9410)


def _positions(node: object) -> list[tuple[float, float]]:
    """Every `lat`/`lon` pair of stations and vehicles in a parsed feed."""
    if isinstance(node, dict):
        here = []
        if isinstance(node.get("lat"), int | float) and isinstance(node.get("lon"), int | float):
            here = [(float(node["lat"]), float(node["lon"]))]
        return here + [p for v in node.values() for p in _positions(v)]
    if isinstance(node, list):
        return [p for v in node for p in _positions(v)]
    return []


def _shift(node: object, dlat: float, dlon: float, *, coordinates: bool = False) -> object:
    if coordinates and isinstance(node, list) and node and isinstance(node[0], int | float):
        return [node[0] + dlon, node[1] + dlat, *node[2:]]  # GeoJSON: [lon, lat]
    if isinstance(node, list):
        return [_shift(v, dlat, dlon, coordinates=coordinates) for v in node]
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "lat" and isinstance(value, int | float):
                out[key] = value + dlat
            elif key == "lon" and isinstance(value, int | float):
                out[key] = value + dlon
            else:
                inner = coordinates or key == "coordinates"
                out[key] = _shift(value, dlat, dlon, coordinates=inner)
        return out
    return node


def moved_to_helsinki(files: dict[str, dict]) -> dict[str, dict]:
    """The feed shifted so the middle of its stations and vehicles is Helsinki's middle."""
    points = _positions(files)
    if not points:
        return files
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    dlat = HELSINKI_MIDDLE[0] - (min(lats) + max(lats)) / 2
    dlon = HELSINKI_MIDDLE[1] - (min(lons) + max(lons)) / 2
    return {name: _shift(doc, dlat, dlon) for name, doc in files.items()}  # type: ignore[misc]


def fixture_files(name: str, *, in_helsinki: bool = True) -> dict[str, dict]:
    """A real fixture feed, by default moved into the served area (`HELSINKI_MIDDLE`)."""
    folder = FIXTURES / name
    assert folder.is_dir(), f"committed fixture {folder} is missing"
    files = {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json") if p.stem != "gbfs"}
    return moved_to_helsinki(files) if in_helsinki else files


@pytest.fixture(scope="module")
def admin_app(helsinki_dir):
    # No synthetic fleets here: their 60 s churn would change the store digest under the
    # tests that assert a refused request left the store byte-identical.
    app = create_app(Settings(network=helsinki_dir, admin_token=ADMIN, synthetic_providers=False))
    with TestClient(app) as client:
        yield client


def new_provider(client, provider_id: str) -> str:
    r = client.post(
        "/admin/providers", json={"provider_id": provider_id, "name": provider_id},
        headers=bearer(ADMIN),
    )
    assert r.status_code == 201, r.text
    r = client.post(f"/admin/providers/{provider_id}/keys", headers=bearer(ADMIN))
    assert r.status_code == 201
    return r.json()["secret"]


def store_digest(client) -> str:
    return client.app.state.fairtrip.fleets.store.digest()


# -- the default app ------------------------------------------------------------------------
def test_default_app_serves_the_synthetic_helsinki_providers(api_client):
    providers = {p["provider_id"]: p for p in api_client.get("/providers").json()["providers"]}
    for pid in ("synthetic-citybikes-hki", "synthetic-scooters-hki", "synthetic-carshare-hki"):
        assert providers[pid]["source"] == "synthetic"
        assert providers[pid]["stale"] is False
        assert "SYNTHETIC" in providers[pid]["name"]
    assert providers["synthetic-scooters-hki"]["vehicles"] >= 500
    assert providers["synthetic-citybikes-hki"]["stations"] > 100
    ready = api_client.get("/ready").json()
    assert {p["provider_id"] for p in ready["providers"]} >= set(providers)
    assert ready["store"]["backend"] == "memory"


def test_provider_status_reports_freshness_per_file(api_client):
    st = api_client.get("/providers/synthetic-scooters-hki/status").json()
    names = {f["name"] for f in st["files"]}
    assert {"vehicle_status", "geofencing_zones", "system_information"} <= names
    assert all(len(f["content_sha256"]) == 64 and f["ttl_s"] > 0 for f in st["files"])
    assert st["stale"] is False and st["age_s"] < 300


def test_status_of_unknown_provider_is_404(api_client):
    r = api_client.get("/providers/nobody-here/status")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_provider"


# -- admin ---------------------------------------------------------------------------------
def test_admin_api_is_off_without_a_configured_token(api_client):
    r = api_client.post("/admin/providers", json={"provider_id": "x1", "name": "x"},
                        headers=bearer("anything-at-all-long-enough-123"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "admin_disabled"


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), (bearer("wrong-token-wrong-token-wrong"), 403), (bearer(ADMIN[:-1]), 403)],
)
def test_admin_needs_the_admin_token(admin_app, headers, status):
    r = admin_app.post("/admin/providers", json={"provider_id": "x2", "name": "x"},
                       headers=headers)
    assert r.status_code == status
    assert admin_app.get("/providers/x2/status").status_code == 404


def test_duplicate_provider_is_409_and_bad_poll_url_is_422(admin_app):
    new_provider(admin_app, "dup-co")
    r = admin_app.post("/admin/providers", json={"provider_id": "dup-co", "name": "again"},
                       headers=bearer(ADMIN))
    assert r.status_code == 409
    r = admin_app.post(
        "/admin/providers",
        json={"provider_id": "meta-co", "name": "m", "poll_url": "http://169.254.169.254/gbfs"},
        headers=bearer(ADMIN),
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unsafe_url"


# -- push ----------------------------------------------------------------------------------
def test_push_whole_snapshot_then_one_file(admin_app):
    secret = new_provider(admin_app, "lillestrom")
    files = fixture_files("lillestrom-bysykkel-v2.2")
    r = admin_app.put("/providers/lillestrom/gbfs", json={"files": files}, headers=bearer(secret))
    assert r.status_code == 200, r.text
    assert r.json()["stations"] == 6 and r.json()["gbfs_version"] == "2.2"
    stored = admin_app.app.state.fairtrip.fleets.store.snapshot("lillestrom")
    # prices survive the envelope's re-encoding exactly (NOK minor units)
    assert sorted(p.price_minor for p in stored.pricing_plans) == [1000, 5000]
    status = files["station_status"]
    status["data"]["stations"][0]["num_bikes_available"] = 0
    r = admin_app.put("/providers/lillestrom/gbfs/station_status", json=status,
                      headers=bearer(secret))
    assert r.status_code == 200, r.text
    snap = admin_app.app.state.fairtrip.fleets.store.snapshot("lillestrom")
    first = snap.station_status[0]
    assert first.num_vehicles_available == 0


def fresh_scooters(system_id: str, n: int = 5) -> dict[str, dict]:
    """SYNTHETIC: a GBFS 3.0 feed of `n` scooters in Kamppi, last updated now."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    env = {"last_updated": stamp, "ttl": 60, "version": "3.0"}
    return {
        "system_information": {**env, "data": {
            "system_id": system_id, "languages": ["en"], "name": [{"text": system_id,
            "language": "en"}], "opening_hours": "24/7", "feed_contact_email": "ops@example.org",
            "timezone": "Europe/Helsinki",
        }},
        "vehicle_types": {**env, "data": {"vehicle_types": [{
            "vehicle_type_id": "sc", "form_factor": "scooter_standing",
            "propulsion_type": "electric", "max_range_meters": 20_000,
            "return_constraint": "free_floating",
        }]}},
        "vehicle_status": {**env, "data": {"vehicles": [{
            "vehicle_id": f"{system_id}-{i}", "lat": 60.1690 + 0.0005 * i, "lon": 24.9320,
            "is_reserved": False, "is_disabled": False, "vehicle_type_id": "sc",
            "current_range_meters": 9_000,
        } for i in range(n)]}},
    }  # fmt: skip


def test_a_plan_after_the_push_response_sees_the_pushed_vehicles(admin_app):
    """The push's response waits for this worker's fleet views, not for the next period."""
    fleets = admin_app.app.state.fairtrip.fleets
    refresher = fleets.refresher
    period_s = refresher.period_s
    refresher.period_s = 3600.0
    try:
        refresher.request().result(timeout=30)  # the thread now sleeps for the long period
        secret = new_provider(admin_app, "fresh-scoot")
        r = admin_app.put("/providers/fresh-scoot/gbfs", json={"files": fresh_scooters("fs")},
                          headers=bearer(secret))
        assert r.status_code == 200, r.text
        views, notes = refresher.fleets.current({"SCOOTER_RENTAL"}, providers={"fresh-scoot"})
        assert [v.provider_id for v in views] == ["fresh-scoot"], notes
        assert views[0].pickup_vehicle_id == tuple(f"fs-{i}" for i in range(5))
        # one file replaced: the same promise
        status = fresh_scooters("fs", n=2)["vehicle_status"]
        r = admin_app.put("/providers/fresh-scoot/gbfs/vehicle_status", json=status,
                          headers=bearer(secret))
        assert r.status_code == 200, r.text
        views, _ = refresher.fleets.current({"SCOOTER_RENTAL"}, providers={"fresh-scoot"})
        assert views[0].pickup_vehicle_id == ("fs-0", "fs-1")
    finally:
        refresher.period_s = period_s
        refresher.request()


def test_push_v3_with_geofencing(admin_app):
    secret = new_provider(admin_app, "almere")
    files = fixture_files("almere-check-emoped-v3.0")
    r = admin_app.put("/providers/almere/gbfs", json={"files": files}, headers=bearer(secret))
    assert r.status_code == 200, r.text
    assert r.json()["vehicles"] == 6


def test_number_too_large_for_a_float_is_422_not_500(admin_app):
    secret = new_provider(admin_app, "overflow-co")
    files = {name: json.dumps(doc).encode() for name, doc in valid_feed_v3().items()}
    files["system_information"] = files["system_information"].replace(
        b'"ttl": 60', b'"ttl": 1e400'
    )
    assert b"1e400" in files["system_information"]
    r = admin_app.put("/providers/overflow-co/gbfs", content=envelope(files),
                      headers={**bearer(secret), "content-type": "application/json"})
    assert r.status_code == 422 and "too large" in r.json()["error"]["message"]


def test_one_file_before_any_snapshot_is_409(admin_app):
    secret = new_provider(admin_app, "empty-co")
    r = admin_app.put("/providers/empty-co/gbfs/vehicle_status", json={}, headers=bearer(secret))
    assert r.status_code == 409


def test_unknown_gbfs_file_name_is_404(admin_app):
    secret = new_provider(admin_app, "names-co")
    r = admin_app.put("/providers/names-co/gbfs/passwords", json={}, headers=bearer(secret))
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_gbfs_file"


# -- tenancy -------------------------------------------------------------------------------
def test_cross_tenant_matrix_never_reads_or_changes_another_provider(admin_app):
    key_a = new_provider(admin_app, "tenant-a")
    key_b = new_provider(admin_app, "tenant-b")
    files_b = fixture_files("lillestrom-bysykkel-v2.2")
    assert admin_app.put("/providers/tenant-b/gbfs", json={"files": files_b},
                         headers=bearer(key_b)).status_code == 200
    revoked = admin_app.post("/admin/providers/tenant-b/keys", headers=bearer(ADMIN)).json()
    assert admin_app.delete(f"/admin/providers/tenant-b/keys/{revoked['key_id']}",
                            headers=bearer(ADMIN)).status_code == 204
    store = admin_app.app.state.fairtrip.fleets.store
    before = store.snapshot("tenant-b")
    digest = store.digest()
    attacks = {
        "no key": {},
        "key of A": bearer(key_a),
        "revoked key of B": bearer(revoked["secret"]),
        "garbage": bearer("ft_000000000000_" + "x" * 43),
        "B's key with A's prefix": bearer(key_a[:16] + key_b[16:]),
    }
    evil = {"files": fixture_files("almere-check-emoped-v3.0")}
    outcomes = collections.Counter()
    for label, headers in attacks.items():
        for method, path, body in (
            ("PUT", "/providers/tenant-b/gbfs", evil),
            ("PUT", "/providers/tenant-b/gbfs/station_status", files_b["station_status"]),
            ("GET", "/providers/tenant-b/gbfs", None),
        ):
            r = admin_app.request(method, path, json=body, headers=headers)
            assert r.status_code in (401, 403), (label, method, path, r.status_code)
            outcomes[r.status_code] += 1
    assert store.snapshot("tenant-b") == before and store.digest() == digest
    # and the legitimate key still works, for its own provider only
    assert admin_app.get("/providers/tenant-b/gbfs", headers=bearer(key_b)).status_code == 200
    assert admin_app.get("/providers/tenant-a/gbfs", headers=bearer(key_b)).status_code == 403
    log.info("cross-tenant matrix: %s", dict(outcomes))


# -- the hostile corpus --------------------------------------------------------------------
def test_every_hostile_push_is_refused_and_leaves_the_store_byte_identical(admin_app):
    secret = new_provider(admin_app, "hostile-target")
    good = {name: json.dumps(doc).encode() for name, doc in valid_feed_v3().items()}
    r = admin_app.put("/providers/hostile-target/gbfs", content=envelope(good),
                      headers={**bearer(secret), "content-type": "application/json"})
    assert r.status_code == 200, r.text
    digest = store_digest(admin_app)
    cases = hostile_cases()
    assert len(cases) >= 300
    statuses: collections.Counter[int] = collections.Counter()
    precise = 0
    for case in cases:
        r = admin_app.put(
            "/providers/hostile-target/gbfs",
            content=envelope(case.files),
            headers={**bearer(secret), "content-type": "application/json"},
        )
        assert 400 <= r.status_code < 500, (case.label, r.status_code, r.text[:200])
        err = r.json()["error"]
        assert err["message"], case.label
        statuses[r.status_code] += 1
        precise += case.expect in err["message"] or case.expect in (err["field"] or "")
        assert store_digest(admin_app) == digest, case.label
    log.info("hostile corpus over HTTP: %d cases, statuses %s, %d name the exact problem",
             len(cases), dict(statuses), precise)
    # the envelope hides which file a JSON-level defect is in; everything else is exact
    assert precise >= 0.8 * len(cases)


# -- the simulator against the real endpoint -----------------------------------------------
def test_simulator_pushes_churn_to_the_real_endpoint(admin_app, helsinki):
    key = new_provider(admin_app, "sim-scooters")
    feeds = embedded_synthetic_fleets(helsinki, now_s=1_795_000_000)
    feeds = {"sim-scooters": feeds["synthetic-scooters-hki"]}

    async def run():
        transport = httpx.ASGITransport(app=admin_app.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await simulate("http://test", {"sim-scooters": key}, feeds,
                                  interval_s=0.0, iterations=3, client=client)

    stats = asyncio.run(run())
    assert stats.ok_2xx == 3 and stats.client_4xx == 0 and stats.server_5xx == 0
    status = admin_app.get("/providers/sim-scooters/status").json()
    assert status["source"] == "push" and status["vehicles"] > 500


def test_deleting_a_push_provider_while_the_poller_runs_removes_it_and_its_keys(admin_app):
    # the poller runs in every app; a provider without a poll URL was never handed to it
    assert admin_app.app.state.fairtrip.fleets.poller is not None
    secret = new_provider(admin_app, "push-only-co")
    r = admin_app.delete("/admin/providers/push-only-co", headers=bearer(ADMIN))
    assert r.status_code == 204, r.text
    assert admin_app.get("/providers/push-only-co/status").status_code == 404
    r = admin_app.delete("/admin/providers/push-only-co", headers=bearer(ADMIN))
    assert r.status_code == 404
    r = admin_app.put("/providers/push-only-co/gbfs", json={"files": {}},
                      headers=bearer(secret))
    assert r.status_code in (401, 403, 404), r.text

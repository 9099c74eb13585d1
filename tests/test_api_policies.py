"""Prices on /plan, and the planners' policy API: store, activate, evaluate.

Real HSL fares: the embedded feed has zones A and B only, and its cheapest ticket covering
them is AB at 2.80 EUR, valid 80 minutes with transfers.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.schemas import KAMPPI_TO_KRUUNUNHAKA

#: transit fares are what these tests price; shared vehicles are priced in their own tests
KAMPPI_KRUUNUNHAKA = {**KAMPPI_TO_KRUUNUNHAKA, "modes": "WALK,TRANSIT"}

ADMIN = "policy-admin-token-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[1]
FLAT_200 = """\
fairtrip_policy: 1
id: flat-two-euros
version: 1
name: Flat 2.00 EUR transit charge (test)
currency: EUR
mode_families: [transit]
revenue_neutral: false
measures:
  - type: city_wide_average
    charge_minor: 200
"""
SOLVED_AVERAGE = """\
fairtrip_policy: 1
id: solved-average
version: 1
name: Revenue-neutral city-wide average (test)
currency: EUR
mode_families: [transit]
revenue_neutral: true
measures:
  - type: city_wide_average
"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def yaml_post(client: TestClient, text: str, token: str = ADMIN):
    return client.post("/policies", content=text.encode(),
                       headers={**bearer(token), "content-type": "application/yaml"})


def make_app(helsinki_dir, store_path):
    from api.app import create_app
    from api.settings import Settings

    return create_app(Settings(network=helsinki_dir, admin_token=ADMIN,
                               policy_store_url=f"sqlite:///{store_path}",
                               synthetic_providers=False))


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return tmp_path_factory.mktemp("policy-api") / "policies.sqlite3"


@pytest.fixture(scope="module")
def client(helsinki_dir, store_path):
    with TestClient(make_app(helsinki_dir, store_path)) as c:
        yield c


def transit_itinerary(doc: dict) -> dict:
    return next(it for it in doc["itineraries"] if any(leg.get("trip_id") for leg in it["legs"]))


# -- base fares -------------------------------------------------------------------------
def test_plan_shows_the_real_hsl_ab_fare_on_a_trip_inside_zone_a(api_client):
    doc = api_client.get("/plan", params=KAMPPI_KRUUNUNHAKA).json()
    it = transit_itinerary(doc)
    assert it["price"]["base"] == {"amount_minor": 280, "currency": "EUR", "text": "2.80 EUR"}
    assert it["price"]["final"]["amount_minor"] == 280
    assert it["price"]["policy"] is None
    rides = [leg for leg in it["legs"] if leg.get("trip_id")]
    assert rides[0]["price"]["fare_id"] == "AB"
    assert sum(leg["price"]["final"]["amount_minor"] for leg in it["legs"]) == 280
    for leg in it["legs"]:
        if leg["mode"] == "WALK":
            assert leg["price"]["final"]["amount_minor"] == 0


def test_walk_only_itinerary_is_free(api_client):
    near = {**KAMPPI_KRUUNUNHAKA, "to_lat": 60.1690, "to_lon": 24.9330}
    doc = api_client.get("/plan", params=near).json()
    walk = next(it for it in doc["itineraries"] if all(leg["mode"] == "WALK" for leg in it["legs"]))
    assert walk["price"]["final"]["amount_minor"] == 0


# -- storing policies ---------------------------------------------------------------------
def test_policy_writes_need_the_admin_token(client):
    assert yaml_post(client, FLAT_200, token="x" * 30).status_code == 403
    r = client.post("/policies", content=FLAT_200.encode())
    assert r.status_code in (401, 403)
    assert client.get("/policies/flat-two-euros").status_code == 404


def test_invalid_policy_is_422_naming_the_field_and_stores_nothing(client):
    before = client.get("/policies").json()
    bad = FLAT_200.replace("charge_minor: 200", "charge_minor: 2.8")
    r = yaml_post(client, bad)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_policy"
    assert "charge_minor" in (err["field"] or "") + err["message"]
    r = yaml_post(client, "fairtrip_policy: 1\nid: [unclosed\n")
    assert r.status_code == 422
    assert client.get("/policies").json() == before


def test_created_policy_survives_a_restart(helsinki_dir, tmp_path):
    path = tmp_path / "restart.sqlite3"
    with TestClient(make_app(helsinki_dir, path)) as c:
        r = yaml_post(c, FLAT_200)
        assert r.status_code == 201, r.text
        assert r.headers["location"].startswith("/policies/flat-two-euros")
    with TestClient(make_app(helsinki_dir, path)) as c:
        got = c.get("/policies/flat-two-euros").json()
        assert got["policy"]["measures"][0]["charge_minor"] == 200
        assert got["versions"] == [1]


def test_same_version_with_other_content_is_409(client):
    assert yaml_post(client, FLAT_200).status_code in (200, 201)
    changed = FLAT_200.replace("charge_minor: 200", "charge_minor: 210")
    r = yaml_post(client, changed)
    assert r.status_code == 409
    assert client.get("/policies/flat-two-euros").json()["policy"]["measures"][0][
        "charge_minor"] == 200


# -- activation changes /plan -------------------------------------------------------------
def test_activated_policy_changes_plan_prices_and_deactivation_restores_them(client):
    yaml_post(client, FLAT_200)
    r = client.post("/policies/flat-two-euros/activate", headers=bearer(ADMIN))
    assert r.status_code == 200, r.text
    assert r.json()["active"] is True
    it = transit_itinerary(client.get("/plan", params=KAMPPI_KRUUNUNHAKA).json())
    price = it["price"]
    assert price["base"]["amount_minor"] == 280
    assert price["adjustment"]["amount_minor"] == -80
    assert price["final"]["amount_minor"] == 200
    assert price["policy"]["id"] == "flat-two-euros"
    assert "flat-two-euros" in price["reason"]
    assert sum(leg["price"]["final"]["amount_minor"] for leg in it["legs"]) == 200

    assert client.post("/policies/flat-two-euros/deactivate",
                       headers=bearer(ADMIN)).status_code == 204
    it = transit_itinerary(client.get("/plan", params=KAMPPI_KRUUNUNHAKA).json())
    assert it["price"]["final"]["amount_minor"] == 280
    assert it["price"]["policy"] is None
    assert client.post("/policies/flat-two-euros/deactivate",
                       headers=bearer(ADMIN)).status_code == 409


def test_activating_a_revenue_neutral_policy_solves_it_on_the_embedded_demand(client):
    assert yaml_post(client, SOLVED_AVERAGE).status_code == 201
    r = client.post("/policies/solved-average/activate", headers=bearer(ADMIN))
    assert r.status_code == 200, r.text
    solved = r.json()["solved"]
    assert solved["parameter"].endswith("charge_minor")
    assert abs(solved["residual"]) < 0.005
    assert solved["demand_synthetic"] is True
    # the open API names the demand by file name, never by the server's path
    assert solved["demand"] == "od-gravity-synthetic.csv"
    listed = client.get("/policies").text
    assert str(ROOT) not in listed
    it = transit_itinerary(client.get("/plan", params=KAMPPI_KRUUNUNHAKA).json())
    assert it["price"]["final"]["amount_minor"] == round(solved["value"])
    assert client.post("/policies/solved-average/deactivate",
                       headers=bearer(ADMIN)).status_code == 204


CROSS_MODE_FIXED = """\
fairtrip_policy: 1
id: one-euro-every-mode
version: 1
name: One 1.00 EUR charge per trip whatever the modes (test)
currency: EUR
mode_families: [transit, bike_share, scooter, car_share]
revenue_neutral: false
measures:
  - type: one_charge_per_trip
    charge_minor: 100
"""


def test_a_cross_mode_policy_is_refused_for_plan_by_name_and_nothing_is_activated(client):
    r = yaml_post(client, CROSS_MODE_FIXED)
    assert r.status_code == 201, r.text
    r = client.post("/policies/one-euro-every-mode/activate", headers=bearer(ADMIN))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "not_applicable"
    assert "across modes" in r.json()["error"]["message"]
    assert client.get("/policies/one-euro-every-mode").json()["active"] is False
    it = transit_itinerary(client.get("/plan", params=KAMPPI_KRUUNUNHAKA).json())
    assert it["price"]["policy"] is None


# -- evaluations ----------------------------------------------------------------------------
def test_evaluation_job_reports_progress_and_delivers_json_and_html(client):
    yaml_post(client, FLAT_200)
    r = client.post("/policies/flat-two-euros/evaluations", headers=bearer(ADMIN), json={})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running")
    deadline = time.monotonic() + 300
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
        job = client.get(f"/evaluations/{job['job_id']}").json()
        assert 0.0 <= job["progress"] <= 1.0
    assert job["status"] == "done", job
    result = client.get(job["links"]["result"])
    doc = result.json()
    ids = [s["policy_id"] for s in doc["scenarios"]]
    assert ids == ["status-quo", "flat-two-euros"]
    assert doc["demand"]["synthetic"] is True
    html = client.get(job["links"]["report"])
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "<svg" in html.text
    # the result and the report are open to anyone with the job id: sources by file name
    assert doc["demand"]["source"] == "od-gravity-synthetic.csv"
    assert doc["zones"]["source"] == "demand-zones.geojson"
    for text in (result.text, html.text, client.get(f"/evaluations/{job['job_id']}").text):
        assert str(ROOT) not in text
    assert "od-gravity-synthetic.csv" in html.text


def test_evaluation_of_a_bad_demand_table_is_422_before_any_job(client):
    yaml_post(client, FLAT_200)
    r = client.post("/policies/flat-two-euros/evaluations", headers=bearer(ADMIN),
                    json={"demand_csv": "origin_zone,dest_zone,trips\nnowhere,hsy-0,1\n"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "demand_csv"


def test_unknown_job_and_unknown_policy_are_404(client):
    assert client.get("/evaluations/0123456789abcdef").status_code == 404
    assert client.get("/policies/no-such-policy").status_code == 404
    r = client.post("/policies/no-such-policy/activate", headers=bearer(ADMIN))
    assert r.status_code == 404


def test_a_failing_policy_store_is_503_with_a_fixed_message_not_500(client, monkeypatch):
    from pricing.policy_store import PolicyStoreError

    store = client.app.state.fairtrip.pricing.store

    def down(*_args, **_kwargs):
        raise PolicyStoreError("redis at 10.0.0.7:6379 refused the connection")

    monkeypatch.setattr(store, "list", down)
    r = client.get("/policies")
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "5"
    error = r.json()["error"]
    assert error["code"] == "policy_store_unavailable"
    assert "10.0.0.7" not in error["message"]

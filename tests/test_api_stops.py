"""/stops, /stops/{id}/departures, /health, /ready and the OpenAPI document."""

from __future__ import annotations

import datetime as dt

import pytest

from routing.geo import haversine_m


def test_stops_near_are_within_radius_and_nearest_first(api_client):
    r = api_client.get("/stops", params={"near": "60.1685,24.9316", "radius": 300})
    assert r.status_code == 200
    stops = r.json()["stops"]
    assert stops, "Kamppi has stops within 300 m"
    d = [s["distance_m"] for s in stops]
    assert d == sorted(d) and d[-1] <= 300
    for s in stops:
        assert haversine_m(60.1685, 24.9316, s["lat"], s["lon"]) == pytest.approx(
            s["distance_m"], abs=1.0
        )


def test_stops_near_respects_limit_and_finds_nothing_at_sea(api_client):
    few = api_client.get("/stops", params={"near": "60.1685,24.9316", "radius": 2000, "limit": 3})
    assert len(few.json()["stops"]) == 3
    sea = api_client.get("/stops", params={"near": "59.90,24.90", "radius": 1000})
    assert sea.status_code == 200 and sea.json()["stops"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"near": "60.1685"},
        {"near": "north,east"},
        {"near": "nan,24.9"},
        {"near": "91,24.9"},
        {"near": "60.1,24.9", "radius": 0},
        {"near": "60.1,24.9", "radius": 1e9},
        {"near": "60.1,24.9", "extra": "x"},
        {},
    ],
)
def test_bad_stops_query_is_422(api_client, params):
    r = api_client.get("/stops", params=params)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_departures_are_next_ones_in_time_order(api_client):
    at = "2022-02-22T08:00:00+02:00"
    r = api_client.get("/stops/1040408/departures", params={"at": at, "limit": 5})
    assert r.status_code == 200
    body = r.json()
    deps = [dt.datetime.fromisoformat(d["departure"]) for d in body["departures"]]
    assert len(deps) == 5 and deps == sorted(deps)
    assert deps[0] >= dt.datetime.fromisoformat(at)
    assert body["departures"][0]["route"]["short_name"] == "9"
    assert body["stop"]["name"] == "Kampintori"


def test_departures_horizon_bounds_the_board(api_client):
    r = api_client.get(
        "/stops/1040408/departures",
        params={"at": "2022-02-22T08:00:00+02:00", "limit": 200, "horizon_min": 10},
    )
    last = dt.datetime.fromisoformat(r.json()["departures"][-1]["departure"])
    assert last < dt.datetime.fromisoformat("2022-02-22T08:10:00+02:00")


def test_departures_of_unknown_stop_is_404(api_client):
    r = api_client.get("/stops/no-such-stop/departures")
    assert r.status_code == 404
    assert r.json()["error"] == {
        "code": "unknown_stop",
        "message": "no stop with id 'no-such-stop'",
        "field": "stop_id",
    }


def test_departures_outside_the_feed_name_valid_dates(api_client):
    r = api_client.get("/stops/1040408/departures", params={"at": "2030-01-01T08:00:00+02:00"})
    assert r.status_code == 422 and "2022-02-22" in r.json()["error"]["message"]


def test_health_and_ready_report_the_network(api_client):
    assert api_client.get("/health").json() == {"status": "ok"}
    ready = api_client.get("/ready").json()
    assert ready["status"] == "ready"
    assert ready["network"]["service_dates"] == ["2022-02-22"]
    assert ready["network"]["feed_start_date"] == "2022-02-04"
    assert ready["network"]["stops"] == 1361


def test_unknown_path_uses_the_error_shape(api_client):
    r = api_client.get("/nowhere")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_every_operation_documents_an_example(api_client):
    spec = api_client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            text = str(op)
            assert "example" in text, f"{method.upper()} {path} has no example"


def test_docs_page_loads_without_the_internet(api_client):
    html = api_client.get("/docs").text
    assert "swagger-ui" in html and "cdn.jsdelivr.net" not in html
    assert api_client.get("/static/docs/swagger-ui-bundle.js").status_code == 200

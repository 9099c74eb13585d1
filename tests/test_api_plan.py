"""/plan over HTTP: itineraries, ordering, the golden Kamppi -> Kruununhaka trip, errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden" / "kamppi_kruununhaka.txt"
KAMPPI_KRUUNUNHAKA = {
    "from_lat": 60.1685,
    "from_lon": 24.9316,
    "to_lat": 60.1725,
    "to_lon": 24.9560,
    "at": "2022-02-22T08:00:00+02:00",
    # these tests pin down walk + transit planning; shared vehicles have their own tests
    "modes": "WALK,TRANSIT",
}


def summary(itinerary: dict) -> str:
    """One line per itinerary: each leg's mode, route, stops and clock times."""
    parts = []
    for leg in itinerary["legs"]:
        t0, t1 = leg["start"][11:16], leg["end"][11:16]
        if leg["mode"] == "WALK":
            parts.append(f"WALK {t0}-{t1} {leg['to']['name']}")
        else:
            parts.append(
                f"{leg['mode']} {leg['route']['short_name']} {leg['from']['name']} "
                f"[{leg['from']['stop_id']}] {t0} -> {leg['to']['name']} "
                f"[{leg['to']['stop_id']}] {t1}"
            )
    return " | ".join(parts)


def test_golden_kamppi_to_kruununhaka_matches_checked_in_summary(api_client):
    r = api_client.get("/plan", params=KAMPPI_KRUUNUNHAKA)
    assert r.status_code == 200
    first = r.json()["itineraries"][0]
    assert summary(first) == GOLDEN.read_text().strip()


def test_get_and_post_give_the_same_itineraries(api_client):
    got = api_client.get("/plan", params=KAMPPI_KRUUNUNHAKA).json()
    posted = api_client.post("/plan", json=KAMPPI_KRUUNUNHAKA).json()
    assert [i["id"] for i in got["itineraries"]] == [i["id"] for i in posted["itineraries"]]
    assert got["itineraries"], "the golden query has itineraries"


def test_itinerary_ids_are_stable_across_requests(api_client):
    a = api_client.post("/plan", json=KAMPPI_KRUUNUNHAKA).json()
    b = api_client.post("/plan", json=KAMPPI_KRUUNUNHAKA).json()
    assert [i["id"] for i in a["itineraries"]] == [i["id"] for i in b["itineraries"]]


def test_legs_carry_times_with_offset_route_agency_and_geometry(api_client):
    it = api_client.post("/plan", json=KAMPPI_KRUUNUNHAKA).json()["itineraries"][0]
    ride = next(leg for leg in it["legs"] if leg["mode"] != "WALK")
    assert dt.datetime.fromisoformat(ride["start"]).utcoffset() == dt.timedelta(hours=2)
    assert ride["route"]["agency_name"] == "Helsingin seudun liikenne"
    assert ride["trip_id"] and ride["headsign"]
    coords = ride["geometry"]["coordinates"]
    # shapes.txt geometry: more points than the stops it passes, ending at the stops
    assert len(coords) > len(ride["intermediate_stops"]) + 2
    assert coords[0] == [ride["from"]["lon"], ride["from"]["lat"]]
    assert coords[-1] == [ride["to"]["lon"], ride["to"]["lat"]]
    walk = it["legs"][0]
    assert walk["mode"] == "WALK" and len(walk["geometry"]["coordinates"]) > 2
    assert it["duration_s"] == sum(leg["duration_s"] for leg in it["legs"]) or it["legs"]
    assert it["walk_distance_m"] == pytest.approx(
        sum(leg["distance_m"] for leg in it["legs"] if leg["mode"] == "WALK"), abs=0.5
    )


def test_depart_at_results_are_sorted_by_arrival_without_duplicate_rides(api_client):
    q = {**KAMPPI_KRUUNUNHAKA, "window_min": 60, "num_itineraries": 50}
    its = api_client.post("/plan", json={**q, "window_min": 0}).json()["itineraries"]
    ends = [dt.datetime.fromisoformat(i["end"]) for i in its]
    assert ends == sorted(ends)
    window = api_client.post("/plan", json=q).json()["itineraries"]
    rides = [tuple(leg.get("trip_id") for leg in i["legs"] if "trip_id" in leg) for i in window]
    assert len(rides) == len(set(rides)), "two itineraries ride the same vehicles"
    starts = [dt.datetime.fromisoformat(i["start"]) for i in window]
    assert starts == sorted(starts) and len(window) > 3


def test_arrive_by_itineraries_arrive_no_later_than_asked(api_client):
    q = {**KAMPPI_KRUUNUNHAKA, "arrive_by": True, "at": "2022-02-22T09:00:00+02:00"}
    its = api_client.post("/plan", json=q).json()["itineraries"]
    latest = dt.datetime.fromisoformat(q["at"])
    assert its and all(dt.datetime.fromisoformat(i["end"]) <= latest for i in its)


def test_num_itineraries_caps_the_list(api_client):
    q = {**KAMPPI_KRUUNUNHAKA, "window_min": 60, "num_itineraries": 2}
    assert len(api_client.post("/plan", json=q).json()["itineraries"]) == 2


def test_no_route_is_200_with_empty_list_and_reason(api_client):
    q = {**KAMPPI_KRUUNUNHAKA, "max_walk_m": 0, "from_lat": 60.1480, "from_lon": 24.9300,
         "to_lat": 60.1940, "to_lon": 24.9400}
    r = api_client.post("/plan", json=q)
    assert r.status_code == 200
    body = r.json()
    assert body["itineraries"] == [] and "no stop within 0 m" in body["reason"]


def _error(r, status: int, code: str, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"]
    if field is not None:
        assert err["field"] == field
    return err


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"from_lat": "nan"}, "from_lat"),
        ({"to_lon": "Infinity"}, "to_lon"),
        ({"from_lat": 1e308}, "from_lat"),
        ({"max_transfers": 10**30}, "max_transfers"),
        ({"walk_speed_mps": "fast"}, "walk_speed_mps"),
        ({"arrive_by": "perhaps"}, "arrive_by"),
        ({"at": "2022-02-22T08:00"}, "at"),
        ({"at": "tomorrow"}, "at"),
        ({"window_min": 241}, "window_min"),
        ({"num_itineraries": 0}, "num_itineraries"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_plan_input_is_422_naming_the_field(api_client, override, field):
    _error(api_client.get("/plan", params={**KAMPPI_KRUUNUNHAKA, **override}), 422,
           "invalid_request", field)


def test_nan_in_a_json_body_is_422(api_client):
    body = b'{"from_lat": NaN, "from_lon": 24.9, "to_lat": 60.17, "to_lon": 24.95, "at": "x"}'
    r = api_client.post("/plan", content=body, headers={"content-type": "application/json"})
    _error(r, 422, "invalid_request")


def test_missing_field_is_422(api_client):
    q = dict(KAMPPI_KRUUNUNHAKA)
    del q["to_lat"]
    _error(api_client.post("/plan", json=q), 422, "invalid_request", "to_lat")


def test_point_outside_the_network_names_the_covered_area(api_client):
    r = api_client.post("/plan", json={**KAMPPI_KRUUNUNHAKA, "to_lat": 60.30})
    err = _error(r, 422, "outside_network", "to_lat")
    assert "covers lat 60.14" in err["message"] and "lon 24.89" in err["message"]
    r = api_client.post("/plan", json={**KAMPPI_KRUUNUNHAKA, "from_lat": 59.90})
    _error(r, 422, "outside_network", "from_lat")


def test_date_outside_the_feed_names_the_valid_dates(api_client):
    r = api_client.post("/plan", json={**KAMPPI_KRUUNUNHAKA, "at": "2023-05-01T08:00:00+03:00"})
    err = _error(r, 422, "date_outside_feed", "at")
    assert "2022-02-22" in err["message"]


def test_far_future_date_is_422_not_500(api_client):
    r = api_client.post("/plan", json={**KAMPPI_KRUUNUNHAKA, "at": "9999-12-31T23:59:00+14:00"})
    _error(r, 422, "date_outside_feed", "at")


def test_window_with_arrive_by_is_refused(api_client):
    r = api_client.post("/plan", json={**KAMPPI_KRUUNUNHAKA, "arrive_by": True, "window_min": 5})
    err = _error(r, 422, "invalid_query")
    assert "arrive_by" in err["message"]


def test_oversized_body_is_413(api_client):
    body = b"{" + b" " * 70_000 + b"}"
    r = api_client.post("/plan", content=body, headers={"content-type": "application/json"})
    _error(r, 413, "body_too_large")


def test_oversized_chunked_body_is_413(api_client):
    def chunks():
        for _ in range(100):
            yield b" " * 1000

    r = api_client.post("/plan", content=chunks(), headers={"content-type": "application/json"})
    _error(r, 413, "body_too_large")


def test_request_over_its_time_budget_is_503_with_retry_after(helsinki_dir):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(network=helsinki_dir, plan_budget_s=1e-9))
    with TestClient(app) as client:
        r = client.post("/plan", json=KAMPPI_KRUUNUNHAKA)
    _error(r, 503, "time_budget_exceeded")
    assert r.headers["retry-after"] == "1"

"""Bounds at the door (issue 11): value ranges, the service area, tolerated 0/1 booleans and
the warnings that say what was tolerated, in the parser and through the push API.

Feeds here are small and hand-built (SYNTHETIC: made-up stations in Helsinki and one in
Oslo), plus the real Lillestrøm 2.2 and HSL 1.x captures where a rule is about real data.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from providers.errors import FeedError, OutsideServiceAreaError
from providers.gbfs import merge_file, parse_feed
from providers.gbfs.values import MAX_WARNINGS
from providers.service_area import ServiceArea
from providers.store.codec import decode_snapshot, encode_snapshot
from tests.data_paths import GBFS_FIXTURES, HSL_BIKES
from tests.gbfs_hostile import RECEIVED_AT_S, _encode, valid_feed_v3, valid_feed_v23
from tests.test_api_providers import ADMIN, bearer, new_provider, store_digest

#: The embedded network's walk-graph bbox (min_lon, min_lat, max_lon, max_lat), as its
#: manifest gives it; the API tests below check the app uses the same.
HELSINKI_BBOX = (24.8920009, 60.1470074, 24.9899912, 60.1949982)
AREA = ServiceArea.around_bbox("Helsinki", HELSINKI_BBOX)
KAMPPI = (60.1690, 24.9310)
KAISANIEMI = (60.1720, 24.9450)
OSLO = (59.95, 10.72)
LAST_S = RECEIVED_AT_S - 60
#: a receipt time after every real capture (2021) used here
LATER_S = 1_700_000_000


# ------------------------------------------------------------------------------- feeds
def docked_feed(
    stations: list[tuple[str, float, float, int | None]],
    *,
    version: str = "2.2",
    last_updated_s: int = LAST_S,
) -> dict[str, dict[str, Any]]:
    """SYNTHETIC docked GBFS 2.x feed: (id, lat, lon, capacity) per station, 1 bike each."""
    env = {"last_updated": last_updated_s, "ttl": 60, "version": version}
    info = []
    for sid, lat, lon, capacity in stations:
        entry: dict[str, Any] = {
            "station_id": sid,
            "name": f"Station {sid}",
            "lat": lat,
            "lon": lon,
        }
        if capacity is not None:
            entry["capacity"] = capacity
        info.append(entry)
    status = [
        {
            "station_id": sid,
            "num_bikes_available": 1,
            "num_docks_available": 1,
            "is_installed": True,
            "is_renting": True,
            "is_returning": True,
            "last_reported": last_updated_s,
        }
        for sid, *_ in stations
    ]
    return {
        "system_information": {
            **env,
            "data": {
                "system_id": "bounds",
                "language": "en",
                "name": "Bounds bikes (SYNTHETIC)",
                "timezone": "Europe/Helsinki",
            },
        },
        "station_information": {**env, "data": {"stations": info}},
        "station_status": {**env, "data": {"stations": status}},
    }


def free_feed(vehicles: list[tuple[str, float, float]]) -> dict[str, dict[str, Any]]:
    """SYNTHETIC free-floating GBFS 2.2 feed of bicycles at the given positions."""
    env = {"last_updated": LAST_S, "ttl": 60, "version": "2.2"}
    feed = docked_feed([], version="2.2")
    del feed["station_information"], feed["station_status"]
    feed["free_bike_status"] = {
        **env,
        "data": {
            "bikes": [
                {"bike_id": vid, "lat": lat, "lon": lon, "is_reserved": False, "is_disabled": False}
                for vid, lat, lon in vehicles
            ]
        },
    }
    return feed


def parse(feed: dict[str, Any], *, area: ServiceArea | None = AREA):
    return parse_feed("p", _encode(feed), received_at_s=RECEIVED_AT_S, area=area)


def status_of(feed: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return feed["station_status"]["data"]["stations"][i]


# -------------------------------------------------------------------------- value ranges
def test_a_count_beyond_int32_is_refused_naming_the_path_and_the_value():
    feed = docked_feed([("s1", *KAMPPI, 10)])
    status_of(feed)["num_bikes_available"] = 2147483648
    with pytest.raises(FeedError) as err:
        parse(feed)
    assert err.value.file == "station_status"
    assert err.value.path == "/data/stations/0/num_bikes_available"
    assert "2147483648" in err.value.message and "<= 10000" in err.value.message


V3_STATUS = "/data/stations/0"
V3_VEHICLE = "/data/vehicles/0"
V3_RULE = "/data/geofencing_zones/features/0/properties/rules/0"


@pytest.mark.parametrize(
    ("file", "pointer", "value", "limit"),
    [
        ("station_information", "/data/stations/0/capacity", 10_001, "10000"),
        ("station_status", f"{V3_STATUS}/num_vehicles_available", 10_001, "10000"),
        ("station_status", f"{V3_STATUS}/num_docks_available", 10_001, "10000"),
        ("station_status", f"{V3_STATUS}/num_vehicles_disabled", 10_001, "10000"),
        ("station_status", f"{V3_STATUS}/num_docks_disabled", 10_001, "10000"),
        ("station_status", f"{V3_STATUS}/vehicle_types_available/0/count", 10_001, "10000"),
        ("station_status", f"{V3_STATUS}/vehicle_docks_available/0/count", 10_001, "10000"),
        ("vehicle_status", f"{V3_VEHICLE}/current_range_meters", 1_000_001, "1000000"),
        ("vehicle_types", "/data/vehicle_types/1/max_range_meters", 1_000_001, "1000000"),
        ("vehicle_types", "/data/vehicle_types/1/g_CO2_km", 100_001, "100000"),
        ("geofencing_zones", f"{V3_RULE}/maximum_speed_kph", 301, "300"),
        ("system_pricing_plans", "/data/plans/0/per_min_pricing/0/start", 1_000_001, "1000000"),
        ("system_pricing_plans", "/data/plans/0/per_min_pricing/0/interval", 10**12, "1000000"),
        ("system_pricing_plans", "/data/plans/0/per_km_pricing/0/end", 1_000_001, "1000000"),
        ("system_pricing_plans", "/data/plans/0/price", 1_000_001, "1000000"),
    ],
)
def test_each_bounded_field_refuses_a_value_past_its_bound(file, pointer, value, limit):
    feed = valid_feed_v3()
    node: Any = feed[file]
    *parents, last = pointer.strip("/").split("/")
    for token in parents:
        node = node[int(token)] if isinstance(node, list) else node[token]
    node[last] = value
    with pytest.raises(FeedError) as err:
        parse(feed)
    assert (err.value.file, err.value.path) == (file, pointer)
    assert limit in err.value.message


def test_the_same_fields_just_at_their_bounds_are_accepted():
    feed = valid_feed_v3()
    feed["station_information"]["data"]["stations"][0]["capacity"] = 10_000
    feed["station_status"]["data"]["stations"][0]["num_docks_available"] = 9_997
    feed["vehicle_status"]["data"]["vehicles"][0]["current_range_meters"] = 1_000_000
    snap = parse(feed)
    assert snap.stations[0].capacity == 10_000 and snap.warnings == ()


def test_a_1x_capacity_of_ten_to_the_400_is_refused_as_integer_and_as_number():
    files = {p.stem: p.read_bytes() for p in HSL_BIKES.glob("*.json") if p.stem != "gbfs"}
    capacity = b'"capacity": 30'
    assert capacity in files["station_information"]
    for huge in (b"1" + b"0" * 400, b"1e400"):
        bad = dict(
            files,
            station_information=files["station_information"].replace(
                capacity, b'"capacity": ' + huge, 1
            ),
        )
        with pytest.raises(FeedError) as err:
            parse_feed("hsl", bad, received_at_s=LATER_S)
        assert err.value.file == "station_information"
        assert err.value.path.endswith("/capacity")
        assert "integer" in err.value.message


# ---------------------------------------------------------------------- over capacity
def test_more_bikes_than_capacity_is_kept_as_published_with_one_folded_warning():
    folder = GBFS_FIXTURES / "lillestrom-bysykkel-v2.2"
    files = {p.stem: p.read_bytes() for p in folder.glob("*.json") if p.stem != "gbfs"}
    snap = parse_feed("lillestrom", files, received_at_s=LATER_S)
    # the real feed: capacity 3 at a station holding 10 bikes (and so on at all 6)
    first = snap.station_status[0]
    assert first.num_vehicles_available == 10
    over = [w for w in snap.warnings if "whose capacity is" in w]
    bikes = next(w for w in over if "num_bikes_available" in w)
    assert bikes.startswith("station_status/data/stations/0/num_bikes_available: 10 vehicles")
    assert "capacity is 3" in bikes and "(and 5 more like it at" in bikes


def test_counts_within_capacity_give_no_warning():
    snap = parse(docked_feed([("s1", *KAMPPI, 2)]))
    assert snap.warnings == ()


# ------------------------------------------------------------------------------ booleans
@pytest.mark.parametrize("version", ["2.2", "2.3"])
def test_0_1_booleans_in_2x_are_read_with_a_warning_naming_the_field(version):
    feed = docked_feed([("s1", *KAMPPI, 10), ("s2", *KAISANIEMI, 10)], version=version)
    status_of(feed, 0)["is_installed"] = 1
    status_of(feed, 1)["is_installed"] = 1
    status_of(feed, 1)["is_renting"] = 0
    snap = parse(feed)
    assert [s.is_installed for s in snap.station_status] == [True, True]
    assert snap.station_status[1].is_renting is False
    assert snap.warnings == (
        "station_status/data/stations/0/is_installed: integer 1 read as true (GBFS 2.0 and "
        "later ask for a JSON boolean) (and 1 more like it at "
        "station_status/data/stations/*/is_installed)",
        "station_status/data/stations/1/is_renting: integer 0 read as false (GBFS 2.0 and "
        "later ask for a JSON boolean)",
    )


def test_0_1_booleans_in_3_0_vehicles_and_geofencing_are_read_with_warnings():
    feed = valid_feed_v3()
    feed["vehicle_status"]["data"]["vehicles"][0]["is_reserved"] = 0
    rules = feed["geofencing_zones"]["data"]["geofencing_zones"]["features"][0]["properties"]
    rules["rules"][0]["ride_through_allowed"] = 1
    snap = parse(feed)
    assert snap.vehicles[0].is_reserved is False
    assert snap.geofencing.zones[0].rules[0].ride_through_allowed is True
    assert len(snap.warnings) == 2
    assert snap.warnings[0].startswith("vehicle_status/data/vehicles/0/is_reserved: integer 0")


def test_0_1_booleans_in_1x_are_the_spec_and_give_no_warning():
    files = {p.stem: p.read_bytes() for p in HSL_BIKES.glob("*.json") if p.stem != "gbfs"}
    assert b'"is_installed": 1' in files["station_status"]
    snap = parse_feed("hsl", files, received_at_s=LATER_S)
    assert not [w for w in snap.warnings if "read as" in w]


@pytest.mark.parametrize("word", ["yes", "true", "1", 2, -1])
def test_words_and_other_integers_for_booleans_stay_refused(word):
    feed = docked_feed([("s1", *KAMPPI, 10)])
    status_of(feed)["is_installed"] = word
    with pytest.raises(FeedError, match="expected boolean") as err:
        parse(feed)
    assert err.value.path == "/data/stations/0/is_installed"


# -------------------------------------------------------------------------- service area
def test_the_area_is_the_bbox_grown_by_the_margin_on_every_side():
    area = ServiceArea.around_bbox("box", (24.0, 60.0, 25.0, 61.0), margin_m=2_000)
    east_1900_m = 25.0 + 1_900 / (111_320 * 0.4848)  # cos(61 deg)
    east_2100_m = 25.0 + 2_100 / (111_320 * 0.4848)
    assert area.contains(60.5, east_1900_m) and not area.contains(60.5, east_2100_m)
    assert area.contains(60.0 - 1_900 / 111_320, 24.5)
    assert not area.contains(60.0 - 2_100 / 111_320, 24.5)
    assert "lat 59.9820..61.0180" in area.describe()


def test_a_malformed_area_is_refused():
    with pytest.raises(ValueError, match="bbox"):
        ServiceArea.around_bbox("x", (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="latitude"):
        ServiceArea("x", 10.0, 0.0, 5.0, 1.0)
    with pytest.raises(ValueError, match="margin"):
        ServiceArea.around_bbox("x", (24.0, 60.0, 25.0, 61.0), margin_m=-1)


def test_a_feed_with_only_a_station_in_oslo_is_refused_naming_the_area():
    with pytest.raises(OutsideServiceAreaError) as err:
        parse(docked_feed([("oslo", *OSLO, 10)]))
    assert (err.value.file, err.value.path) == ("station_information", "/data/stations")
    assert "lat 60.1290..60.2130, lon 24.8558..25.0262" in err.value.message
    assert "'oslo' at 59.95000, 10.72000" in err.value.message


def test_a_free_floating_feed_with_nothing_inside_is_refused():
    with pytest.raises(OutsideServiceAreaError) as err:
        parse(free_feed([("b1", *OSLO), ("b2", 59.96, 10.73)]))
    assert (err.value.file, err.value.path) == ("free_bike_status", "/data/bikes")


def test_without_an_area_nothing_is_checked():
    snap = parse(docked_feed([("oslo", *OSLO, 10)]), area=None)
    assert [s.id for s in snap.stations] == ["oslo"] and snap.warnings == ()


def test_a_station_outside_is_left_out_with_its_status_and_docked_vehicles():
    feed = docked_feed([("in", *KAMPPI, 10), ("out", *OSLO, 10)])
    env = {"last_updated": LAST_S, "ttl": 60, "version": "2.2"}
    feed["free_bike_status"] = {
        **env,
        "data": {
            "bikes": [
                {
                    "bike_id": "docked-out",
                    "station_id": "out",
                    "is_reserved": False,
                    "is_disabled": False,
                },
                {
                    "bike_id": "free-in",
                    "lat": KAISANIEMI[0],
                    "lon": KAISANIEMI[1],
                    "is_reserved": False,
                    "is_disabled": False,
                },
            ]
        },
    }
    snap = parse(feed)
    assert [s.id for s in snap.stations] == ["in"]
    assert [s.station_id for s in snap.station_status] == ["in"]
    assert [v.id for v in snap.vehicles] == ["free-in"]
    assert snap.outside_station_ids == ("out",)
    assert len(snap.warnings) == 2
    assert snap.warnings[0].startswith(
        "station_information: station 'out' at 59.95000, 10.72000 lies outside the service "
        "area Helsinki (lat 60.1290..60.2130"
    )
    assert "vehicle 'docked-out' at station 'out'" in snap.warnings[1]


def test_a_later_status_push_naming_a_left_out_station_is_not_a_dangling_reference():
    feed = docked_feed([("in", *KAMPPI, 10), ("out", *OSLO, 10)])
    snap = parse(feed)
    status = copy.deepcopy(feed["station_status"])
    status["data"]["stations"][0]["num_bikes_available"] = 0
    merged = merge_file(
        snap, "station_status", json.dumps(status).encode(), received_at_s=RECEIVED_AT_S, area=AREA
    )
    assert [(s.station_id, s.num_vehicles_available) for s in merged.station_status] == [("in", 0)]
    assert merged.outside_station_ids == ("out",)
    assert merged.warnings == (
        "station_status/data/stations/1/station_id: status of station 'out', which lies "
        "outside the service area, left out",
    )
    # a station id never published at all is still a dangling reference
    status["data"]["stations"][1]["station_id"] = "never-seen"
    with pytest.raises(FeedError, match="unknown station 'never-seen'"):
        merge_file(
            snap,
            "station_status",
            json.dumps(status).encode(),
            received_at_s=RECEIVED_AT_S,
            area=AREA,
        )


def test_a_one_file_push_that_leaves_nothing_inside_is_refused():
    snap = parse(free_feed([("b1", *KAMPPI)]))
    moved = free_feed([("b1", *OSLO)])["free_bike_status"]
    with pytest.raises(OutsideServiceAreaError):
        merge_file(
            snap,
            "free_bike_status",
            json.dumps(moved).encode(),
            received_at_s=RECEIVED_AT_S,
            area=AREA,
        )


def test_warnings_are_capped_with_a_count_of_the_rest():
    vehicles = [("in", *KAMPPI)] + [(f"out{i}", OSLO[0], OSLO[1] + i * 1e-4) for i in range(120)]
    snap = parse(free_feed(vehicles))
    assert [v.id for v in snap.vehicles] == ["in"]
    assert len(snap.warnings) == MAX_WARNINGS
    assert snap.warnings[-1] == f"and {120 - MAX_WARNINGS + 1} more warnings"


def test_warnings_and_left_out_ids_survive_the_store_codec():
    snap = parse(docked_feed([("in", *KAMPPI, 10), ("out", *OSLO, 10)]))
    assert snap.warnings and snap.outside_station_ids
    assert decode_snapshot(encode_snapshot(snap)) == snap


# ------------------------------------------------------------------------------ the API
@pytest.fixture(scope="module")
def app(helsinki_dir):
    from api.app import create_app
    from api.settings import Settings

    settings = Settings(network=helsinki_dir, admin_token=ADMIN, synthetic_providers=False)
    with TestClient(create_app(settings)) as client:
        yield client


def now_feed(stations: list[tuple[str, float, float, int | None]]) -> dict[str, Any]:
    return docked_feed(stations, last_updated_s=int(time.time()) - 5)


def test_the_app_checks_against_its_networks_bbox(app):
    assert tuple(app.app.state.fairtrip.network.manifest["bbox"]) == HELSINKI_BBOX


def test_api_refuses_a_count_past_int32_and_changes_nothing(app):
    key = new_provider(app, "int32-co")
    feed = now_feed([("s1", *KAMPPI, 10)])
    status_of(feed)["num_bikes_available"] = 2147483648
    before = store_digest(app)
    r = app.put("/providers/int32-co/gbfs", json={"files": feed}, headers=bearer(key))
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_feed"
    assert error["field"] == "station_status/data/stations/0/num_bikes_available"
    assert "2147483648" in error["message"]
    assert store_digest(app) == before


def test_api_refuses_a_feed_with_nothing_in_the_area_naming_it(app):
    key = new_provider(app, "oslo-co")
    before = store_digest(app)
    r = app.put(
        "/providers/oslo-co/gbfs", json={"files": now_feed([("o", *OSLO, 10)])}, headers=bearer(key)
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "outside_service_area"
    assert "lat 60.1290..60.2130, lon 24.8558..25.0262" in error["message"]
    assert store_digest(app) == before
    assert app.get("/providers/oslo-co/status").status_code == 404


def test_api_keeps_the_inside_station_and_reports_the_other_in_push_and_status(app):
    key = new_provider(app, "half-co")
    feed = now_feed([("in", *KAMPPI, 10), ("out", *OSLO, 10)])
    r = app.put("/providers/half-co/gbfs", json={"files": feed}, headers=bearer(key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stations"] == 1
    assert len(body["warnings"]) == 1 and "station 'out'" in body["warnings"][0]
    status = app.get("/providers/half-co/status").json()
    assert status["warnings"] == body["warnings"] and status["stations"] == 1
    # a clean push clears them: the status shows the last push's warnings only
    clean = now_feed([("in", *KAMPPI, 10)])
    r = app.put("/providers/half-co/gbfs", json={"files": clean}, headers=bearer(key))
    assert r.status_code == 200 and r.json()["warnings"] == []
    assert app.get("/providers/half-co/status").json()["warnings"] == []


def test_api_reads_0_1_booleans_in_2_2_with_a_warning_and_refuses_yes(app):
    key = new_provider(app, "ints-co")
    feed = now_feed([("in", *KAMPPI, 10)])
    status_of(feed)["is_installed"] = 1
    r = app.put("/providers/ints-co/gbfs", json={"files": feed}, headers=bearer(key))
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] == [
        "station_status/data/stations/0/is_installed: integer 1 read as true (GBFS 2.0 and "
        "later ask for a JSON boolean)"
    ]
    assert app.get("/providers/ints-co/status").json()["warnings"] == r.json()["warnings"]
    status_of(feed)["is_installed"] = "yes"
    before = store_digest(app)
    r = app.put("/providers/ints-co/gbfs", json={"files": feed}, headers=bearer(key))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "station_status/data/stations/0/is_installed"
    assert store_digest(app) == before


def test_api_one_file_push_is_checked_against_the_area_too(app):
    key = new_provider(app, "file-co")
    feed = now_feed([("in", *KAMPPI, 10)])
    assert (
        app.put("/providers/file-co/gbfs", json={"files": feed}, headers=bearer(key)).status_code
        == 200
    )
    info = copy.deepcopy(feed["station_information"])
    info["data"]["stations"].append(
        {"station_id": "out", "name": "Oslo", "lat": OSLO[0], "lon": OSLO[1], "capacity": 5}
    )
    r = app.put("/providers/file-co/gbfs/station_information", json=info, headers=bearer(key))
    assert r.status_code == 200, r.text
    assert r.json()["stations"] == 1 and "station 'out'" in r.json()["warnings"][0]


def test_api_one_file_push_with_nothing_inside_is_refused(app):
    key = new_provider(app, "float-co")
    feed = free_feed([("b1", *KAMPPI)])
    for doc in feed.values():
        doc["last_updated"] = int(time.time()) - 5
    assert (
        app.put("/providers/float-co/gbfs", json={"files": feed}, headers=bearer(key)).status_code
        == 200
    )
    moved = copy.deepcopy(feed["free_bike_status"])
    moved["data"]["bikes"][0].update(lat=OSLO[0], lon=OSLO[1])
    before = store_digest(app)
    r = app.put("/providers/float-co/gbfs/free_bike_status", json=moved, headers=bearer(key))
    assert r.status_code == 422 and r.json()["error"]["code"] == "outside_service_area"
    assert store_digest(app) == before


def test_valid_feed_v23_in_oslo_is_refused_by_the_area_not_by_its_content():
    with pytest.raises(OutsideServiceAreaError):
        parse(valid_feed_v23())
    assert parse(valid_feed_v23(), area=None).stations


def test_what_a_1x_feed_loses_is_told_to_the_provider_not_only_logged():
    # the real HSL 1.x capture has stations without id, name or position and statuses of
    # stations it never lists: each is left out (or named by its id) and the provider is
    # told so in the push response and the status, not only the server log
    files = {p.stem: p.read_bytes() for p in HSL_BIKES.glob("*.json") if p.stem != "gbfs"}
    snap = parse_feed("hsl", files, received_at_s=LATER_S)
    text = "\n".join(snap.warnings)
    assert "station without station_id left out (and 1 more like it" in text
    assert "station '010' has no coordinates; left out" in text
    assert "has no name; named by its id" in text
    assert "status of unknown station '006' left out (and 2 more like it" in text

"""Synthetic Helsinki fleets: GBFS 3.0 shape, determinism, street positions, geofences, churn."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from scipy.spatial import cKDTree

from providers.synthetic import (
    CARSHARE_ID,
    CITYBIKES_ID,
    PROVIDER_IDS,
    SCOOTERS_ID,
    StreetNodes,
    churn,
    synthetic_fleets,
)
from providers.synthetic._common import parse_rfc3339, to_xy
from providers.synthetic.geofences import no_parking_polygons

ROOT = Path(__file__).resolve().parents[1]
NOW_S = 1_645_509_600  # 2022-02-22T06:00:00Z, 08:00 in Helsinki on the embedded service day
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
LANG = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
FEED_NAMES = {
    "gbfs_versions",
    "system_information",
    "vehicle_types",
    "station_information",
    "station_status",
    "vehicle_status",
    "system_alerts",
    "system_regions",
    "system_pricing_plans",
    "geofencing_zones",
}
SYSTEM_INFORMATION_FIELDS = {
    "system_id", "languages", "name", "opening_hours", "short_name", "operator", "url",
    "purchase_url", "start_date", "termination_date", "phone_number", "email",
    "feed_contact_email", "manifest_url", "timezone", "license_id", "license_url",
    "attribution_organization_name", "attribution_url", "brand_assets", "terms_url",
    "terms_last_updated", "privacy_url", "privacy_last_updated", "rental_apps",
}  # fmt: skip
MOTORISED = {"electric", "electric_assist", "combustion", "combustion_diesel", "hybrid"}


def _stations_csv() -> Path:
    return ROOT / "data" / "helsinki" / "citybike-stations-2021.csv"


def _grid(lat0: float, lat1: float, lon0: float, lon1: float, n: int) -> tuple[np.ndarray, ...]:
    lat, lon = np.meshgrid(np.linspace(lat0, lat1, n), np.linspace(lon0, lon1, n))
    return lat.ravel(), lon.ravel()


# A small walk "graph" over the centre (~50 m grid) plus nodes in the middle of the
# no-parking zones, so the generator has to avoid them; a coarser car grid.
_wlat, _wlon = _grid(60.160, 60.178, 24.930, 24.965, 40)
WALK = (
    np.concatenate([_wlat, [60.16750, 60.16950, 60.16952]]),
    np.concatenate([_wlon, [24.94750, 24.95230, 24.95200]]),
)
CAR = _grid(60.155, 60.185, 24.920, 24.975, 20)
NODES = StreetNodes(walk=WALK, car=CAR)


def make(seed: int = 20220222, **kw: Any) -> dict[str, dict[str, dict[str, Any]]]:
    return synthetic_fleets(
        stations_csv=_stations_csv(), walk_nodes=WALK, car_nodes=CAR, now_s=NOW_S, seed=seed, **kw
    )


@pytest.fixture(scope="module")
def feeds() -> dict[str, dict[str, dict[str, Any]]]:
    return make()


# --- a GBFS 3.0 checker built from the v3.0 JSON schemas' required fields ----------------


def _localized(value: Any) -> None:
    assert isinstance(value, list) and value
    for item in value:
        assert isinstance(item["text"], str) and item["text"]
        assert LANG.match(item["language"])


def _envelope(name: str, doc: dict[str, Any]) -> None:
    assert set(doc) == {"last_updated", "ttl", "version", "data"}, name
    assert doc["version"] == "3.0"
    assert isinstance(doc["last_updated"], str) and RFC3339.match(doc["last_updated"]), name
    assert isinstance(doc["ttl"], int) and not isinstance(doc["ttl"], bool) and doc["ttl"] >= 0
    assert isinstance(doc["data"], dict)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_provider(pid: str, files: dict[str, dict[str, Any]]) -> None:
    """Every file is GBFS 3.0 shaped and the files agree with each other."""
    json.dumps(files, allow_nan=False)  # plain JSON types only (no numpy scalars, no NaN)
    for name, doc in files.items():
        _envelope(name, doc)
    feeds_listed = files["gbfs"]["data"]["feeds"]
    assert {f["name"] for f in feeds_listed} == set(files) - {"gbfs"}
    assert all(f["name"] in FEED_NAMES and f["url"].startswith("https://") for f in feeds_listed)
    assert "system_information" in files
    assert "station_status" in files or "vehicle_status" in files
    if "station_information" in files:
        assert "station_status" in files

    info = files["system_information"]["data"]
    assert set(info) <= SYSTEM_INFORMATION_FIELDS
    for key in ("system_id", "languages", "name", "opening_hours", "feed_contact_email"):
        assert info[key]
    assert info["timezone"] == "Europe/Helsinki"
    assert info["system_id"] == pid
    _localized(info["name"])
    assert all(LANG.match(lang) for lang in info["languages"])

    plans = {p["plan_id"]: p for p in files["system_pricing_plans"]["data"]["plans"]}
    for p in plans.values():
        for key in ("plan_id", "name", "currency", "price", "is_taxable", "description"):
            assert key in p
        assert p["currency"] == "EUR" and p["price"] >= 0
        _localized(p["name"])
        _localized(p["description"])
        for seg in p.get("per_min_pricing", []) + p.get("per_km_pricing", []):
            assert _is_int(seg["start"]) and seg["start"] >= 0
            assert isinstance(seg["rate"], float | int) and seg["interval"] >= 0

    types = {t["vehicle_type_id"]: t for t in files["vehicle_types"]["data"]["vehicle_types"]}
    for t in types.values():
        assert t["form_factor"] in {"bicycle", "car", "scooter_standing"}
        if t["propulsion_type"] in MOTORISED:
            assert t["max_range_meters"] > 0
        # 3.0: REQUIRED when system_pricing_plans is published
        assert t["default_pricing_plan_id"] in plans
        assert set(t["pricing_plan_ids"]) <= set(plans)
        assert t["return_constraint"] in {"free_floating", "roundtrip_station", "any_station"}

    stations: dict[str, dict[str, Any]] = {}
    if "station_information" in files:
        for s in files["station_information"]["data"]["stations"]:
            assert {"station_id", "name", "lat", "lon"} <= set(s)
            _localized(s["name"])
            assert -85.05 <= s["lat"] <= 85.05 and -180 <= s["lon"] <= 180
            assert _is_int(s["capacity"]) and s["capacity"] >= 0
            stations[s["station_id"]] = s
        assert len(stations) == len(files["station_information"]["data"]["stations"])
        status = files["station_status"]["data"]["stations"]
        assert [s["station_id"] for s in status] == list(stations)
        for s in status:
            for key in ("num_vehicles_available", "is_installed", "is_renting", "is_returning"):
                assert key in s
            assert RFC3339.match(s["last_reported"])
            counts = [
                s["num_vehicles_available"],
                s.get("num_vehicles_disabled", 0),
                s["num_docks_available"],
                s.get("num_docks_disabled", 0),
            ]
            assert all(_is_int(c) and c >= 0 for c in counts), s
            assert sum(counts) <= stations[s["station_id"]]["capacity"], s
            by_type = s["vehicle_types_available"]  # 3.0: REQUIRED with vehicle_types
            assert {e["vehicle_type_id"] for e in by_type} <= set(types)
            assert sum(e["count"] for e in by_type) == s["num_vehicles_available"]
            if "vehicle_docks_available" in s:
                docks = sum(e["count"] for e in s["vehicle_docks_available"])
                assert docks == s["num_docks_available"]

    if "vehicle_status" in files:
        vehicles = files["vehicle_status"]["data"]["vehicles"]
        ids = [v["vehicle_id"] for v in vehicles]
        assert len(set(ids)) == len(ids)
        for v in vehicles:
            assert isinstance(v["is_reserved"], bool) and isinstance(v["is_disabled"], bool)
            t = types[v["vehicle_type_id"]]
            if "lat" in v:
                assert -85.05 <= v["lat"] <= 85.05 and -180 <= v["lon"] <= 180
            else:
                assert v["station_id"] in stations and "lon" not in v
            assert RFC3339.match(v["last_reported"])
            if t["propulsion_type"] in MOTORISED:
                assert 0 <= v["current_range_meters"] <= t["max_range_meters"]
                assert 0 <= v["current_fuel_percent"] <= 1
        if stations:
            for s in files["station_status"]["data"]["stations"]:
                here = [v for v in vehicles if v.get("station_id") == s["station_id"]]
                ok = [v for v in here if not (v["is_reserved"] or v["is_disabled"])]
                assert s["num_vehicles_available"] == len(ok)
                capacity = stations[s["station_id"]]["capacity"]
                assert len(here) + s["num_docks_available"] == capacity

    if "geofencing_zones" in files:
        data = files["geofencing_zones"]["data"]
        assert data["geofencing_zones"]["type"] == "FeatureCollection"
        for rule in data["global_rules"]:
            assert {"ride_start_allowed", "ride_end_allowed", "ride_through_allowed"} <= set(rule)
        for f in data["geofencing_zones"]["features"]:
            assert f["type"] == "Feature" and f["geometry"]["type"] == "MultiPolygon"
            _localized(f["properties"]["name"])
            for rule in f["properties"]["rules"]:
                assert {"ride_start_allowed", "ride_end_allowed", "ride_through_allowed"} <= set(
                    rule
                )
                assert set(rule.get("vehicle_type_ids", [])) <= set(types)


def max_node_distance_m(vehicles: list[dict[str, Any]], nodes: tuple[np.ndarray, ...]) -> float:
    x, y = to_xy(nodes[0], nodes[1])
    vx, vy = to_xy([v["lat"] for v in vehicles], [v["lon"] for v in vehicles])
    d, _ = cKDTree(np.column_stack([x, y])).query(np.column_stack([vx, vy]))
    return float(d.max())


def parked_in_no_parking(files: dict[str, dict[str, Any]]) -> int:
    zones = files.get("geofencing_zones")
    bad = 0
    for v in files["vehicle_status"]["data"]["vehicles"]:
        for poly in no_parking_polygons(zones, v["vehicle_type_id"]):
            bad += bool(shapely.intersects_xy(poly, v["lon"], v["lat"]))
    return bad


# --- the tests ------------------------------------------------------------------------------


def test_same_seed_same_documents_and_other_seed_differs(feeds):
    assert json.dumps(make(), sort_keys=True) == json.dumps(feeds, sort_keys=True)
    other = make(seed=7)
    for pid in (CITYBIKES_ID, SCOOTERS_ID, CARSHARE_ID):
        name = "station_status" if pid == CITYBIKES_ID else "vehicle_status"
        assert other[pid][name] != feeds[pid][name]


def test_every_document_is_gbfs_3_0_shaped(feeds):
    assert set(feeds) == set(PROVIDER_IDS)
    assert set(feeds[CITYBIKES_ID]) >= {"gbfs", "station_information", "station_status"}
    assert set(feeds[SCOOTERS_ID]) >= {"gbfs", "vehicle_status", "geofencing_zones"}
    assert set(feeds[CARSHARE_ID]) >= {"station_information", "station_status", "vehicle_status"}
    for pid, files in feeds.items():
        check_provider(pid, files)
        for doc in files.values():
            assert parse_rfc3339(doc["last_updated"]) == NOW_S
            assert doc["ttl"] in (60, 86_400)


def test_names_and_operators_say_synthetic(feeds):
    for pid, files in feeds.items():
        assert "synthetic" in pid
        info = files["system_information"]["data"]
        assert "synthetic" in info["system_id"]
        for entry in info["name"] + info["operator"]:
            assert "synthetic" in entry["text"].lower(), entry


def test_citybike_stations_are_the_real_ones_in_the_hsl_bbox(feeds):
    stations = feeds[CITYBIKES_ID]["station_information"]["data"]["stations"]
    assert len(stations) == 219
    assert all(24.85 <= s["lon"] <= 25.0 and 60.15 <= s["lat"] <= 60.25 for s in stations)
    kaivopuisto = next(s for s in stations if s["station_id"] == "001")
    assert kaivopuisto["capacity"] == 30
    assert {n["language"] for n in kaivopuisto["name"]} == {"en", "fi", "sv"}
    everything = make(station_bbox=None)
    assert len(everything[CITYBIKES_ID]["station_information"]["data"]["stations"]) == 457


def test_citybike_counts_fill_capacity_with_some_empty_and_full(feeds):
    info = {
        s["station_id"]: s for s in feeds[CITYBIKES_ID]["station_information"]["data"]["stations"]
    }
    status = feeds[CITYBIKES_ID]["station_status"]["data"]["stations"]
    for s in status:
        total = (
            s["num_vehicles_available"]
            + s["num_vehicles_disabled"]
            + s["num_docks_available"]
            + s["num_docks_disabled"]
        )
        assert total == info[s["station_id"]]["capacity"]
    empty = sum(s["num_vehicles_available"] == 0 for s in status)
    full = sum(s["num_docks_available"] == 0 for s in status)
    assert 2 <= empty <= 40 and 2 <= full <= 40
    bikes = sum(s["num_vehicles_available"] for s in status)
    capacity = sum(s["capacity"] for s in info.values())
    assert 0.35 < bikes / capacity < 0.6
    vtype = feeds[CITYBIKES_ID]["vehicle_types"]["data"]["vehicle_types"]
    assert [(t["form_factor"], t["propulsion_type"], t["return_constraint"]) for t in vtype] == [
        ("bicycle", "human", "any_station")
    ]


def test_vehicles_sit_on_street_nodes(feeds):
    scooters = feeds[SCOOTERS_ID]["vehicle_status"]["data"]["vehicles"]
    assert len(scooters) == 900
    assert max_node_distance_m(scooters, WALK) <= 5.0
    cars = [v for v in feeds[CARSHARE_ID]["vehicle_status"]["data"]["vehicles"] if "lat" in v]
    assert len(cars) == 80
    assert max_node_distance_m(cars, CAR) <= 5.0
    car_stations = feeds[CARSHARE_ID]["station_information"]["data"]["stations"]
    assert len(car_stations) == 8
    assert max_node_distance_m(car_stations, CAR) <= 0.2


def test_scooters_have_varied_range_and_some_unavailable(feeds):
    scooters = feeds[SCOOTERS_ID]["vehicle_status"]["data"]["vehicles"]
    ranges = np.array([v["current_range_meters"] for v in scooters])
    assert (ranges < 2_000).sum() >= 30
    assert (ranges > 20_000).sum() >= 300
    assert ranges.max() <= 40_000
    assert 3 <= sum(v["is_reserved"] for v in scooters) <= 60
    assert 3 <= sum(v["is_disabled"] for v in scooters) <= 60
    centre = [
        v for v in scooters if abs(v["lat"] - 60.171) < 0.004 and abs(v["lon"] - 24.941) < 0.008
    ]
    edge = [v for v in scooters if v["lat"] < 60.164 and v["lon"] > 24.955]
    assert len(centre) > 2 * len(edge)  # equal areas, denser in the centre


def test_carshare_has_roundtrip_station_cars_and_free_floating_cars(feeds):
    types = {
        t["vehicle_type_id"]: t
        for t in feeds[CARSHARE_ID]["vehicle_types"]["data"]["vehicle_types"]
    }
    assert {t["return_constraint"] for t in types.values()} == {
        "roundtrip_station",
        "free_floating",
    }
    assert {t["propulsion_type"] for t in types.values()} == {"combustion", "electric"}
    vehicles = feeds[CARSHARE_ID]["vehicle_status"]["data"]["vehicles"]
    at_station = [v for v in vehicles if "station_id" in v]
    assert at_station
    for v in at_station:
        assert types[v["vehicle_type_id"]]["return_constraint"] == "roundtrip_station"
        assert v["home_station_id"] == v["station_id"]
    for v in vehicles:
        if "lat" in v:
            assert types[v["vehicle_type_id"]]["return_constraint"] == "free_floating"
    plans = feeds[CARSHARE_ID]["system_pricing_plans"]["data"]["plans"]
    assert all(p["per_km_pricing"] and p["per_min_pricing"] for p in plans)


def test_pricing_plans_are_the_illustrative_ones(feeds):
    (scooter_plan,) = feeds[SCOOTERS_ID]["system_pricing_plans"]["data"]["plans"]
    assert scooter_plan["price"] == 1.0
    assert scooter_plan["per_min_pricing"] == [{"start": 0, "rate": 0.25, "interval": 1}]
    (bike_plan,) = feeds[CITYBIKES_ID]["system_pricing_plans"]["data"]["plans"]
    assert bike_plan["price"] == 0.0 and bike_plan["per_min_pricing"]
    assert "illustrative" in bike_plan["description"][0]["text"].lower()


def test_geofencing_zones_are_valid_and_respected(feeds):
    data = feeds[SCOOTERS_ID]["geofencing_zones"]["data"]
    features = data["geofencing_zones"]["features"]
    rules = [f["properties"]["rules"][0] for f in features]
    assert any(not r["ride_end_allowed"] for r in rules)
    assert any(not r["ride_through_allowed"] for r in rules)
    assert any(r.get("maximum_speed_kph") == 10 for r in rules)
    assert data["global_rules"] and data["global_rules"][0]["ride_end_allowed"]
    for f in features:
        geom = shapely.geometry.shape(f["geometry"])
        assert geom.is_valid and not geom.is_empty
        for poly in geom.geoms:
            assert poly.exterior.is_ccw  # RFC 7946 right-hand rule
        assert 10 < _area_m2(geom) < 60_000  # small places, not a district
        assert geom.within(shapely.box(24.93, 60.16, 24.97, 60.18))  # central Helsinki
    geoms = [shapely.geometry.shape(f["geometry"]) for f in features]
    assert not any(a.intersects(b) for i, a in enumerate(geoms) for b in geoms[i + 1 :])
    # the test graph has nodes inside the no-parking zones: none of them was used
    banned = no_parking_polygons(feeds[SCOOTERS_ID]["geofencing_zones"], "escooter-synthetic")
    assert sum(bool(shapely.intersects_xy(p, WALK[1], WALK[0]).any()) for p in banned) >= 2
    assert parked_in_no_parking(feeds[SCOOTERS_ID]) == 0


def _area_m2(geom: shapely.Geometry) -> float:
    def project(coords: np.ndarray) -> np.ndarray:
        x, y = to_xy(coords[:, 1], coords[:, 0])
        return np.column_stack([x, y])

    return shapely.transform(geom, project).area


def test_bad_nodes_are_refused():
    with pytest.raises(ValueError, match="walk_nodes"):
        synthetic_fleets(
            stations_csv=_stations_csv(),
            walk_nodes=(np.zeros(0), np.zeros(0)),
            car_nodes=CAR,
            now_s=NOW_S,
        )


@pytest.mark.parametrize("nodes", [NODES, None], ids=["with-nodes", "without-nodes"])
def test_churn_keeps_invariants_and_changes_things(feeds, nodes):
    original = copy.deepcopy(feeds)
    rng = np.random.default_rng(3)
    current = feeds
    for k in range(1, 21):
        current = churn(current, rng=rng, now_s=NOW_S + 10 * k, nodes=nodes)
    assert feeds == original  # inputs untouched
    later = NOW_S + 200
    for pid, files in current.items():
        check_provider(pid, files)
        for name in ("station_status", "vehicle_status"):
            if name in files:
                assert parse_rfc3339(files[name]["last_updated"]) == later
        assert files["vehicle_types"] == feeds[pid]["vehicle_types"]

    def bikes(f: dict[str, Any]) -> int:
        status = f[CITYBIKES_ID]["station_status"]["data"]["stations"]
        return sum(s["num_vehicles_available"] + s["num_vehicles_disabled"] for s in status)

    assert bikes(current) == bikes(feeds)  # bikes only move between stations
    assert current[CITYBIKES_ID]["station_status"] != feeds[CITYBIKES_ID]["station_status"]

    before = feeds[SCOOTERS_ID]["vehicle_status"]["data"]["vehicles"]
    after = current[SCOOTERS_ID]["vehicle_status"]["data"]["vehicles"]
    assert len(after) == len(before)  # collected scooters are replaced one for one
    moved = {v["vehicle_id"] for v in after} - {v["vehicle_id"] for v in before}
    assert len(moved) >= 50  # rides rotate ids
    assert max_node_distance_m(after, WALK) <= 5.0
    assert parked_in_no_parking(current[SCOOTERS_ID]) == 0
    assert sum(v["current_range_meters"] for v in after) != sum(
        v["current_range_meters"] for v in before
    )
    cars = [v for v in current[CARSHARE_ID]["vehicle_status"]["data"]["vehicles"] if "lat" in v]
    assert max_node_distance_m(cars, CAR) <= 5.0


def test_churn_is_deterministic(feeds):
    a = churn(feeds, rng=np.random.default_rng(5), now_s=NOW_S + 10, nodes=NODES)
    b = churn(feeds, rng=np.random.default_rng(5), now_s=NOW_S + 10, nodes=NODES)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_static_files_are_republished_before_they_expire(feeds):
    day_later = churn(feeds, rng=np.random.default_rng(1), now_s=NOW_S + 50_000)
    info = day_later[SCOOTERS_ID]["system_information"]
    assert parse_rfc3339(info["last_updated"]) == NOW_S + 50_000
    soon = churn(feeds, rng=np.random.default_rng(1), now_s=NOW_S + 10)
    assert soon[SCOOTERS_ID]["system_information"] == feeds[SCOOTERS_ID]["system_information"]


def test_every_synthetic_feed_parses(feeds):
    gbfs = pytest.importorskip("providers.gbfs")
    parse_feed = getattr(gbfs, "parse_feed", None)
    if parse_feed is None:
        pytest.skip("providers.gbfs.parse_feed not written yet")
    churned = churn(feeds, rng=np.random.default_rng(2), now_s=NOW_S + 10, nodes=NODES)
    for pid, files in [*feeds.items(), *churned.items()]:
        raw = {name: json.dumps(doc).encode() for name, doc in files.items() if name != "gbfs"}
        snapshot = parse_feed(pid, raw, received_at_s=NOW_S + 10, source="synthetic")
        assert snapshot.provider_id == pid
        assert snapshot.source == "synthetic"
        assert snapshot.gbfs_version.startswith("3")
        if "vehicle_status" in files:
            assert len(snapshot.vehicles) == len(files["vehicle_status"]["data"]["vehicles"])
        if "station_information" in files:
            assert len(snapshot.stations) == len(files["station_information"]["data"]["stations"])


def test_embedded_city_fleets(helsinki):
    from providers.synthetic import embedded_synthetic_fleets, street_nodes

    feeds = embedded_synthetic_fleets(helsinki, now_s=NOW_S)
    walk, car = street_nodes(helsinki, "walk"), street_nodes(helsinki, "car")
    for pid, files in feeds.items():
        check_provider(pid, files)
    scooters = feeds[SCOOTERS_ID]["vehicle_status"]["data"]["vehicles"]
    assert len(scooters) == 900
    assert max_node_distance_m(scooters, walk) <= 5.0
    assert parked_in_no_parking(feeds[SCOOTERS_ID]) == 0
    nodes = StreetNodes(walk=walk, car=car)
    current = feeds
    rng = np.random.default_rng(11)
    for k in range(1, 6):
        current = churn(current, rng=rng, now_s=NOW_S + 10 * k, nodes=nodes)
    for pid, files in current.items():
        check_provider(pid, files)
    after = current[SCOOTERS_ID]["vehicle_status"]["data"]["vehicles"]
    assert max_node_distance_m(after, walk) <= 5.0
    assert parked_in_no_parking(current[SCOOTERS_ID]) == 0
    cars = [v for v in current[CARSHARE_ID]["vehicle_status"]["data"]["vehicles"] if "lat" in v]
    assert max_node_distance_m(cars, car) <= 5.0

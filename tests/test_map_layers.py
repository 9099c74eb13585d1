"""The base map's layers (`/map/layers/{name}.geojson`, `/map/bounds`) and the live list of
shared vehicles near a point (`/vehicles`), on the embedded city.
"""

from __future__ import annotations

import gzip
import json

import pytest

from tests.data_paths import REPO_DATA as DATA

KAMPPI = "60.1685,24.9316"


def layer(api_client, name: str, **headers: str):
    r = api_client.get(f"/map/layers/{name}.geojson", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    return r


def within(bounds: list[float], lon: float, lat: float, slack: float = 0.02) -> bool:
    return (
        bounds[0] - slack <= lon <= bounds[2] + slack
        and bounds[1] - slack <= lat <= bounds[3] + slack
    )


def test_bounds_are_the_networks_extent(api_client, helsinki):
    bounds = api_client.get("/map/bounds").json()["bounds"]
    assert bounds == helsinki.manifest["bbox"]
    assert bounds[0] < bounds[2] and bounds[1] < bounds[3]


def test_streets_are_one_simplified_multiline_inside_the_city(api_client, helsinki):
    doc = layer(api_client, "streets").json()
    (feature,) = doc["features"]
    assert feature["geometry"]["type"] == "MultiLineString"
    lines = feature["geometry"]["coordinates"]
    assert len(lines) > 1000  # the centre has thousands of streets
    bounds = helsinki.manifest["bbox"]
    assert all(within(bounds, lon, lat) for line in lines for lon, lat in line)
    # rounded to the 1e-5 degree grid: no coordinate carries more than 5 decimals
    assert all(abs(round(c, 5) - c) < 1e-9 for line in lines[:200] for pt in line for c in pt)
    points = sum(len(line) for line in lines)
    assert points < len(helsinki.streets["car"].geom_lat)  # simplified, not the raw polylines


def test_layers_arrive_gzipped_when_the_client_accepts_it(api_client):
    # httpx decodes gzip transparently, so ask for the raw bytes and decode them here
    with api_client.stream(
        "GET", "/map/layers/stops.geojson", headers={"Accept-Encoding": "gzip"}
    ) as r:
        raw = b"".join(r.iter_raw())
    assert r.headers["content-encoding"] == "gzip"
    plain = api_client.get("/map/layers/stops.geojson", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(raw) == plain.content


def test_a_layer_revalidates_with_its_etag(api_client):
    first = layer(api_client, "zones")
    etag = first.headers["etag"]
    again = api_client.get("/map/layers/zones.geojson", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    other = api_client.get("/map/layers/zones.geojson", headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200


def test_stops_layer_has_every_stop_with_its_id_and_zone(api_client, helsinki):
    doc = layer(api_client, "stops").json()
    ids = {f["properties"]["stop_id"] for f in doc["features"]}
    assert len(doc["features"]) == len(helsinki.stops.stop_id) == len(ids)
    kampintori = next(f for f in doc["features"] if f["properties"]["stop_id"] == "1040408")
    assert kampintori["properties"]["name"] == "Kampintori"
    assert kampintori["properties"]["zone_id"] == "A"
    lon, lat = kampintori["geometry"]["coordinates"]
    assert lat == pytest.approx(60.16795, abs=1e-4) and lon == pytest.approx(24.93143, abs=1e-4)


def test_zones_layer_is_the_demand_zones_with_their_class(api_client):
    doc = layer(api_client, "zones").json()
    source = json.loads((DATA / "helsinki" / "demand" / "demand-zones.geojson").read_text())
    want = {f["properties"]["zone_id"]: f["properties"]["class"] for f in source["features"]}
    got = {f["properties"]["zone_id"]: f["properties"]["class"] for f in doc["features"]}
    assert got == want
    assert set(got.values()) == {"central", "peripheral"}
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in doc["features"])


def test_fare_zones_layer_has_zones_a_and_b(api_client):
    doc = layer(api_client, "fare_zones").json()
    classes = {f["properties"]["zone_id"]: f["properties"]["class"] for f in doc["features"]}
    assert classes == {"A": "central", "B": "peripheral"}


def test_an_unknown_layer_is_a_422_naming_it(api_client):
    r = api_client.get("/map/layers/tiles.geojson")
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "name"


def test_vehicles_near_kamppi_are_the_synthetic_fleets_nearest_first(api_client):
    r = api_client.get("/vehicles", params={"near": KAMPPI, "radius": 1500, "limit": 50})
    assert r.status_code == 200, r.text
    body = r.json()
    vehicles, stations = body["vehicles"], body["stations"]
    assert vehicles and stations
    distances = [v["distance_m"] for v in vehicles]
    assert distances == sorted(distances) and distances[-1] <= 1500
    assert len(vehicles) <= 50
    # every synthetic fleet says so, with a provider name that says so too
    assert all(v["synthetic"] for v in vehicles + stations)
    assert all("SYNTHETIC" in (v["provider_name"] or "").upper() for v in vehicles + stations)
    modes = {v["mode"] for v in vehicles}
    assert modes <= {"BICYCLE_RENTAL", "SCOOTER_RENTAL", "CAR_RENTAL"} and modes
    assert all(s["vehicles_available"] is not None for s in stations)


def test_vehicles_near_a_bad_point_is_a_422_naming_near(api_client):
    r = api_client.get("/vehicles", params={"near": "60.1685"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "near"
    r = api_client.get("/vehicles", params={"near": KAMPPI, "radius": 6000})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "radius"

"""Zone layers: strict GeoJSON reading, vectorised point lookup, and fare zones from GTFS stops."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import numpy as np
import pytest
import shapely

from pricing.errors import PricingError
from pricing.zones import (
    MAX_FEATURES,
    UnknownZoneError,
    ZoneError,
    ZoneLayer,
    fare_zone_layer,
)
from tests.data_paths import REPO_DATA

GTFS = REPO_DATA / "helsinki" / "gtfs" / "hsl-gtfs-2022-02-22.zip"
HELSINKI_CLASSES = {"A": "central", "B": "peripheral"}


def _square(x0: float, y0: float, side: float = 1.0) -> list[list[list[float]]]:
    return [[[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side], [x0, y0]]]


def _feature(zone_id: object, coords: object, **props: object) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": coords},
        "properties": {"zone_id": zone_id, **props},
    }


def _collection(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def _two_squares() -> dict:
    # west square [24, 25] x [60, 61] and east square [25, 26] x [60, 61] share lon = 25
    return _collection(
        _feature("west", _square(24.0, 60.0), **{"class": "central"}),
        _feature("east", _square(25.0, 60.0), **{"class": "peripheral"}),
    )


@pytest.fixture(scope="module")
def helsinki_stops() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with zipfile.ZipFile(GTFS) as zf, zf.open("stops.txt") as fh:
        rows = list(csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8-sig")))
    lat = np.array([float(r["stop_lat"]) for r in rows])
    lon = np.array([float(r["stop_lon"]) for r in rows])
    zone = np.array([r["zone_id"] for r in rows])
    return lat, lon, zone


@pytest.fixture(scope="module")
def helsinki_fare_layer(helsinki_stops) -> ZoneLayer:
    lat, lon, zone = helsinki_stops
    return fare_zone_layer(lat, lon, zone, class_of=HELSINKI_CLASSES, source="hsl stops")


# --- fare zones derived from the real Helsinki stops ----------------------------------------


def test_every_helsinki_stop_falls_in_its_own_fare_zone(helsinki_stops, helsinki_fare_layer):
    lat, lon, zone = helsinki_stops
    idx = helsinki_fare_layer.assign(lat, lon)
    own = np.array([helsinki_fare_layer.index_of(z) for z in zone])
    # a stop is strictly inside its own Voronoi cell; the only documented exception is a stop
    # sharing a position (1 mm) with a stop of another zone, or within ~1 cm of a cell border
    # after snapping. Bound: 99 %; in this feed there are none.
    assert (idx >= 0).all()
    assert (idx == own).mean() >= 0.99
    assert int((idx != own).sum()) == 0


def test_helsinki_zones_a_and_b_do_not_overlap(helsinki_fare_layer):
    a = helsinki_fare_layer.zones[helsinki_fare_layer.index_of("A")].geometry
    b = helsinki_fare_layer.zones[helsinki_fare_layer.index_of("B")].geometry
    assert a.is_valid and b.is_valid
    assert a.area > 0 and b.area > 0
    assert a.intersection(b).area < 1e-9 * (a.area + b.area)


def test_helsinki_fare_zone_classes_at_known_places(helsinki_fare_layer):
    lats = np.array([60.1690, 60.2350, 60.10])  # Kamppi, Kannelmäki area, open sea
    lons = np.array([24.9320, 24.9000, 24.90])
    idx = helsinki_fare_layer.assign(lats, lons)
    assert idx[2] == -1
    assert helsinki_fare_layer.classes(idx).tolist() == ["central", "peripheral", ""]
    assert [helsinki_fare_layer.zones[i].zone_id for i in idx[:2]] == ["A", "B"]


def test_fare_layer_ends_at_the_service_buffer(helsinki_stops, helsinki_fare_layer):
    lat, lon, _ = helsinki_stops
    # 0.02 deg latitude (~2.2 km) south of the southernmost stop: beyond the 500 m discs
    south = np.array([lat.min() - 0.02])
    assert helsinki_fare_layer.assign(south, np.array([lon[np.argmin(lat)]]))[0] == -1


def test_fare_layer_round_trips_through_geojson(helsinki_fare_layer):
    text = json.dumps(helsinki_fare_layer.to_geojson())
    again = ZoneLayer.from_geojson(text, source="round trip")
    assert [z.zone_id for z in again.zones] == ["A", "B"]
    for a, b in zip(helsinki_fare_layer.zones, again.zones, strict=True):
        assert a.geometry.equals_exact(b.geometry, tolerance=0)
        assert a.zone_class == b.zone_class
    assert again.zones[0].properties["stops"] == 970


def test_duplicate_stop_positions_do_not_break_voronoi(caplog):
    lat = np.array([60.0, 60.0, 60.0, 60.01, 60.01, 60.02])
    lon = np.array([24.0, 24.0, 24.0, 24.0, 24.01, 24.0])
    zone = np.array(["A", "A", "B", "A", "B", "B"])  # stop 2 shares stop 0's position
    layer = fare_zone_layer(
        lat, lon, zone, class_of=HELSINKI_CLASSES, ring_of={"A": 0, "B": 1}, source="dups"
    )
    assert [z.zone_id for z in layer.zones] == ["A", "B"]
    assert [z.ring for z in layer.zones] == [0, 1]
    assert all(z.geometry.is_valid and z.geometry.area > 0 for z in layer.zones)
    idx = layer.assign(lat, lon)
    # the first stop at a shared position decides; the others are in their own zones
    assert [layer.zones[i].zone_id for i in idx] == ["A", "A", "A", "A", "B", "B"]
    assert "share a position" in caplog.text


def test_fare_zone_without_a_class_is_refused():
    with pytest.raises(ZoneError, match="'C'"):
        fare_zone_layer(
            [60.0, 60.1], [24.0, 24.1], ["A", "C"], class_of=HELSINKI_CLASSES, source="s"
        )


def test_a_single_stop_gives_a_disc():
    layer = fare_zone_layer(
        [60.0], [24.0], ["A"], class_of=HELSINKI_CLASSES, buffer_m=100.0, source="one"
    )
    idx = layer.assign(np.array([60.0, 60.0005, 60.002]), np.array([24.0, 24.0, 24.0]))
    assert idx.tolist() == [0, 0, -1]  # 0.0005 deg ~ 56 m inside, 0.002 deg ~ 220 m outside


# --- lookup ---------------------------------------------------------------------------------


def test_point_on_a_shared_border_goes_to_the_first_zone_in_layer_order():
    doc = _two_squares()
    layer = ZoneLayer.from_geojson(doc, source="t")
    assert layer.assign(np.array([60.5]), np.array([25.0])).tolist() == [0]
    doc["features"].reverse()
    reversed_layer = ZoneLayer.from_geojson(doc, source="t")
    assert reversed_layer.assign(np.array([60.5]), np.array([25.0])).tolist() == [0]
    assert reversed_layer.zones[0].zone_id == "east"


def test_assign_is_vectorised_and_marks_outside_and_nan_as_minus_one():
    layer = ZoneLayer.from_geojson(_two_squares(), source="t")
    lats = np.array([60.5, 60.5, 62.0, np.nan])
    lons = np.array([24.5, 25.5, 24.5, 24.5])
    idx = layer.assign(lats, lons)
    assert idx.tolist() == [0, 1, -1, -1]
    assert layer.classes(idx).tolist() == ["central", "peripheral", "", ""]


def test_assign_refuses_mismatched_arrays():
    layer = ZoneLayer.from_geojson(_two_squares(), source="t")
    with pytest.raises(ZoneError, match="one length"):
        layer.assign(np.zeros(2), np.zeros(3))


def test_classes_refuses_an_out_of_range_index():
    layer = ZoneLayer.from_geojson(_two_squares(), source="t")
    with pytest.raises(ZoneError, match="out of range"):
        layer.classes(np.array([2]))


def test_index_of_an_unknown_zone_is_a_key_error():
    layer = ZoneLayer.from_geojson(_two_squares(), source="t")
    assert layer.index_of("east") == 1
    assert "east" in layer and "north" not in layer
    with pytest.raises(UnknownZoneError, match="north") as info:
        layer.index_of("north")
    assert isinstance(info.value, KeyError) and isinstance(info.value, PricingError)


def test_ring_decides_the_class_when_class_is_absent():
    doc = _collection(
        _feature("core", _square(24.0, 60.0), ring=0),
        _feature("outer", _square(25.0, 60.0), ring=2),
    )
    layer = ZoneLayer.from_geojson(doc, source="rings")
    assert [(z.zone_class, z.ring) for z in layer.zones] == [("central", 0), ("peripheral", 2)]
    back = layer.to_geojson()["features"][1]["properties"]
    assert back["class"] == "peripheral" and back["ring"] == 2


def test_multipolygon_zones_are_accepted():
    doc = _collection(
        {
            "type": "Feature",
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [_square(24.0, 60.0), _square(26.0, 60.0)],
            },
            "properties": {"zone_id": "split", "class": "central"},
        }
    )
    layer = ZoneLayer.from_geojson(json.dumps(doc).encode(), source="multi")
    assert layer.assign(np.array([60.5, 60.5, 60.5]), np.array([24.5, 25.5, 26.5])).tolist() == [
        0,
        -1,
        0,
    ]


# --- refused layers -------------------------------------------------------------------------


def _refused(doc: object, match: str) -> ZoneError:
    with pytest.raises(ZoneError, match=match) as info:
        ZoneLayer.from_geojson(doc, source="bad.geojson")  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError) and isinstance(info.value, PricingError)
    return info.value


def test_an_invalid_polygon_is_refused_not_repaired():
    bowtie = [[[24.0, 60.0], [25.0, 61.0], [25.0, 60.0], [24.0, 61.0], [24.0, 60.0]]]
    doc = _collection(
        _feature("ok", _square(20.0, 60.0), **{"class": "central"}),
        _feature("bow", bowtie, **{"class": "central"}),
    )
    err = _refused(doc, r"feature 1: geometry is invalid")
    assert "Self-intersection" in str(err)


def test_a_duplicate_zone_id_is_refused():
    doc = _collection(
        _feature("z", _square(24.0, 60.0), **{"class": "central"}),
        _feature("z", _square(25.0, 60.0), **{"class": "central"}),
    )
    _refused(doc, r"feature 1: properties.zone_id 'z' repeats feature 0")


def test_a_bad_class_is_refused():
    doc = _collection(_feature("z", _square(24.0, 60.0), **{"class": "suburban"}))
    _refused(doc, r"feature 0: properties.class 'suburban'")


@pytest.mark.parametrize("ring", [-1, 1.5, True, "0"])
def test_a_bad_ring_is_refused(ring):
    _refused(_collection(_feature("z", _square(24.0, 60.0), ring=ring)), r"properties.ring")


def test_a_zone_without_class_or_ring_is_refused():
    _refused(_collection(_feature("z", _square(24.0, 60.0))), r"feature 0: properties.class")


@pytest.mark.parametrize("zone_id", ["", "  ", None, 7])
def test_an_empty_or_non_string_zone_id_is_refused(zone_id):
    doc = _collection(_feature(zone_id, _square(24.0, 60.0), **{"class": "central"}))
    _refused(doc, r"feature 0: properties.zone_id")


def test_too_many_features_are_refused():
    feature = _feature("z", _square(24.0, 60.0), **{"class": "central"})
    doc = _collection(*([feature] * (MAX_FEATURES + 1)))
    _refused(doc, rf"{MAX_FEATURES + 1} features; at most {MAX_FEATURES}")


def test_a_document_over_two_megabytes_is_refused():
    doc = json.dumps(_two_squares()) + " " * (2 * 1024 * 1024)
    _refused(doc, r"bytes of GeoJSON")


def test_a_mapping_over_two_megabytes_is_refused():
    doc = _two_squares()
    doc["features"][0]["properties"]["note"] = "x" * (2 * 1024 * 1024)
    _refused(doc, r"bytes of GeoJSON")


def test_projected_coordinates_are_refused():
    doc = _collection(_feature("z", _square(385_000.0, 6_672_000.0, 250.0), **{"class": "central"}))
    _refused(doc, r"feature 0: geometry coordinate .* is not lon/lat")


def test_a_point_geometry_is_refused():
    doc = _collection(
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [24.0, 60.0]},
            "properties": {"zone_id": "p", "class": "central"},
        }
    )
    _refused(doc, r"feature 0: geometry type 'Point'")


def test_a_malformed_ring_is_refused():
    doc = _collection(_feature("z", [[[24.0, 60.0], [25.0]]], **{"class": "central"}))
    _refused(doc, r"feature 0: geometry")


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({"type": "Feature"}, "expected a GeoJSON FeatureCollection"),
        ({"type": "FeatureCollection", "features": []}, "no features"),
        ({"type": "FeatureCollection", "features": {}}, "must be a list"),
        ("{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ("[1, 2]", "expected a GeoJSON FeatureCollection, got 'list'"),
        ([1, 2], "expected a GeoJSON mapping, str or bytes"),
    ],
)
def test_documents_that_are_not_feature_collections_are_refused(doc, match):
    _refused(doc, match)


def test_the_layer_keeps_feature_properties():
    doc = _collection(_feature("z", _square(24.0, 60.0), population=12, **{"class": "central"}))
    layer = ZoneLayer.from_geojson(doc, source="p")
    assert layer.zones[0].properties["population"] == 12
    assert layer.source == "p"
    lat, lon = layer.representative_points()
    assert shapely.contains_xy(layer.zones[0].geometry, lon, lat).all()

"""The synthetic gravity demand: the model itself, and the committed Helsinki files it made."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import shapely

from ingest import gravity
from ingest.gravity import (
    BETA_PER_KM,
    INCOME_GROUPS,
    MIN_PAIR_TRIPS,
    TRIP_RATE_PER_DAY,
    build_gravity_demand,
    gravity_trips,
)
from pricing.demand import load_demand
from pricing.zones import ZoneLayer
from tests.data_paths import REPO_DATA

HELSINKI = REPO_DATA / "helsinki"
DEMAND_DIR = HELSINKI / "demand"
FILES = ("od-gravity-synthetic.csv", "demand-zones.geojson", "fare-zones.geojson", "README.md")


# --- the model on a case small enough to work out by hand -----------------------------------


def test_three_zone_gravity_matches_the_hand_computation():
    production = [100.0, 0.0, 50.0]
    attraction = [10.0, 20.0, 30.0]
    dist_km = [[0.0, 2.0, 4.0], [2.0, 0.0, 2.0], [4.0, 2.0, 0.0]]
    t = gravity_trips(production, attraction, dist_km, beta_per_km=0.5, trip_rate=1.0, min_trips=0)
    # origin 0: weights to 1 and 2 are 20 e^-1 and 30 e^-2 (its own zone is not a destination)
    w01, w02 = 20 * math.exp(-1.0), 30 * math.exp(-2.0)
    # origin 2: weights to 0 and 1 are 10 e^-2 and 20 e^-1
    w20, w21 = 10 * math.exp(-2.0), 20 * math.exp(-1.0)
    expected = [
        [0.0, 100 * w01 / (w01 + w02), 100 * w02 / (w01 + w02)],
        [0.0, 0.0, 0.0],  # no residents, no trips
        [50 * w20 / (w20 + w21), 50 * w21 / (w20 + w21), 0.0],
    ]
    np.testing.assert_allclose(t, expected, rtol=1e-12)
    assert t[0, 1] == pytest.approx(64.4404, abs=1e-4)  # worked out on paper
    assert t[2, 0] == pytest.approx(7.7681, abs=1e-4)


def test_trip_rate_scales_and_the_cut_drops_small_pairs():
    production, attraction = [100.0, 0.0, 50.0], [10.0, 20.0, 30.0]
    dist_km = [[0.0, 2.0, 4.0], [2.0, 0.0, 2.0], [4.0, 2.0, 0.0]]
    full = gravity_trips(
        production, attraction, dist_km, beta_per_km=0.5, trip_rate=0.8, min_trips=0
    )
    np.testing.assert_allclose(full.sum(axis=1), [80.0, 0.0, 40.0])
    cut = gravity_trips(
        production, attraction, dist_km, beta_per_km=0.5, trip_rate=0.8, min_trips=10.0
    )
    assert cut[2, 0] == 0.0 and full[2, 0] == pytest.approx(0.8 * 7.7681, abs=1e-3)
    assert cut[0, 1] == full[0, 1]


def test_an_origin_with_nothing_to_attract_it_produces_nothing():
    t = gravity_trips([10.0, 10.0], [5.0, 0.0], [[0.0, 1.0], [1.0, 0.0]], min_trips=0)
    assert t.tolist() == [[0.0, 0.0], [pytest.approx(8.0), 0.0]]


def test_gravity_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="expected production"):
        gravity_trips([1.0, 2.0], [1.0], [[0.0, 1.0], [1.0, 0.0]])


# --- the committed Helsinki files -----------------------------------------------------------


@pytest.fixture(scope="module")
def zones() -> ZoneLayer:
    return ZoneLayer.from_geojson(
        (DEMAND_DIR / "demand-zones.geojson").read_bytes(), source="demand-zones.geojson"
    )


@pytest.fixture(scope="module")
def demand(zones):
    return load_demand(DEMAND_DIR / "od-gravity-synthetic.csv", zones=zones)


def test_committed_demand_parses_and_is_labelled_synthetic(demand):
    assert demand.synthetic
    assert demand.note.startswith("synthetic: production-constrained gravity model")
    assert demand.has_income
    assert set(demand.mode_family.tolist()) == {"transit"}
    assert (demand.trips > 0).all()
    assert 5_000 <= len(demand) // len(INCOME_GROUPS) <= 16_000
    assert "SYNTHETIC" in (DEMAND_DIR / "README.md").read_text()


def test_committed_files_are_small():
    assert sum((DEMAND_DIR / f).stat().st_size for f in FILES) < 2 * 1024 * 1024


def test_committed_trips_total_matches_the_gravity_model(demand, zones):
    """Recompute the model here from the zone file, independently of ingest.gravity."""
    pop = np.array([z.properties["population"] for z in zones.zones], dtype=float)
    opp = np.array([z.properties["opportunities"] for z in zones.zones], dtype=float)
    lat, lon = np.radians(zones.representative_points())
    # haversine, km
    a = (
        np.sin((lat[:, None] - lat[None, :]) / 2) ** 2
        + np.cos(lat[:, None])
        * np.cos(lat[None, :])
        * np.sin((lon[:, None] - lon[None, :]) / 2) ** 2
    )
    d_km = 2 * 6371.0088 * np.arcsin(np.sqrt(a))
    w = opp[None, :] * np.exp(-BETA_PER_KM * d_km)
    np.fill_diagonal(w, 0.0)
    t = pop[:, None] * TRIP_RATE_PER_DAY * w / w.sum(axis=1, keepdims=True)
    before_cut = TRIP_RATE_PER_DAY * pop.sum()
    assert t.sum() == pytest.approx(before_cut, rel=1e-9)
    expected = t[t >= MIN_PAIR_TRIPS].sum()
    assert demand.total_trips == pytest.approx(expected, rel=0.01)
    # and the cut is a small correction, not the bulk of the demand
    assert expected > 0.95 * before_cut
    assert int((t >= MIN_PAIR_TRIPS).sum()) * len(INCOME_GROUPS) == len(demand)


def test_income_groups_split_every_origin_by_the_same_fixed_shares(demand):
    for group, share, income in INCOME_GROUPS:
        rows = demand.income_group == group
        assert set(demand.income_minor[rows].tolist()) == {income}
        assert demand.trips[rows].sum() == pytest.approx(share * demand.total_trips, rel=1e-4)
    origin = demand.origin_id == demand.origin_id[0]
    low = demand.trips[origin & (demand.income_group == "low")].sum()
    assert low == pytest.approx(0.3 * demand.trips[origin].sum(), rel=1e-3)


def test_both_central_and_peripheral_zones_send_trips(demand, zones):
    idx = np.array([zones.index_of(z) for z in np.unique(demand.origin_id)])
    classes = set(zones.classes(idx).tolist())
    assert classes == {"central", "peripheral"}


def test_real_grid_cells_keep_the_hsy_population(zones):
    gpd = pytest.importorskip("geopandas")
    grid = gpd.read_file(HELSINKI / "population-grid-2020.gpkg")
    real = [z for z in zones.zones if z.zone_id.startswith("hsy-")]
    assert len(real) == len(grid) == 92
    by_id = dict(zip(grid["id"].astype(int), grid["population"].astype(int), strict=True))
    for z in real:
        assert z.properties["population"] == by_id[int(z.zone_id.removeprefix("hsy-"))]
        assert z.properties["population_source"] == "HSY 2020 grid (real)"
        assert z.zone_class == "central"  # the real grid is all in fare zone A
    est = [z for z in zones.zones if z.zone_id.startswith("est-")]
    assert est and all(
        z.properties["population_source"] == "estimated from stop count (synthetic)" for z in est
    )
    assert all(z.properties["stops"] >= 3 for z in est)
    # estimated cells do not overlap the real grid
    footprint = np.asarray([z.geometry for z in real])
    union = shapely.union_all(footprint)
    assert max(shapely.intersection(z.geometry, union).area for z in est) < 1e-10


def test_committed_fare_zones_read_back_as_a_b_layer():
    layer = ZoneLayer.from_geojson(
        json.loads((DEMAND_DIR / "fare-zones.geojson").read_text()), source="fare-zones"
    )
    assert [(z.zone_id, z.zone_class, z.ring) for z in layer.zones] == [
        ("A", "central", 0),
        ("B", "peripheral", 1),
    ]


def test_regenerating_gives_byte_identical_files(tmp_path):
    result = build_gravity_demand(
        HELSINKI / "gtfs" / "hsl-gtfs-2022-02-22.zip",
        HELSINKI / "population-grid-2020.gpkg",
        tmp_path,
    )
    assert result.csv_path == tmp_path / "od-gravity-synthetic.csv"
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (DEMAND_DIR / name).read_bytes(), name


def test_the_command_line_writes_the_files(tmp_path):
    assert gravity.main(["--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(FILES)

"""The New York evaluation benchmark's inputs, on a tiny synthetic stand-in of the MTA feed.

The benchmark itself needs the 185 MB download; these tests run its zone grid, SYNTHETIC
gravity demand and DECLARED fare table on a handful of made-up stops and routes, read them
back through the project's own readers (`ZoneLayer`, `load_demand`, `read_fare_system`) and
price rides with the fare engine, so CI covers the code path the benchmark runs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from bench.nyc_eval import _in_currency, projection
from bench.nyc_eval_inputs import (
    FARE_ATTRIBUTES,
    FARE_RULES,
    RESIDENTS_PER_STOP,
    TRIP_RATE_PER_DAY,
    link_feed_with_fares,
    route_kind,
    stop_departures,
    synthetic_demand,
    write_demand,
    write_fare_tables,
    zone_grid,
    zones_geojson,
)
from ingest.fares import read_fare_system
from pricing.demand import load_demand
from pricing.fares import RideFacts
from pricing.policy import parse_policy
from pricing.zones import ZoneLayer
from routing.geo import haversine_m

POLICIES = Path(__file__).resolve().parents[1] / "data" / "policies"
DAY = dt.date(2026, 10, 6)

# SYNTHETIC stand-in, lat/lon degrees. The grid is anchored at the median served stop, which
# is stop 0 (Times Square) here, so stop 1 (60 m north-east of it) falls in the same cell.
# Stop 3 is about 5 km from Times Square, stops 2 and 4 farther than 6 km; stop 5 has no
# departures and makes no zone.
STOP_LAT = np.array([40.7580, 40.7585, 40.7000, 40.8000, 40.6500, 40.7300])
STOP_LON = np.array([-73.9855, -73.9850, -73.8000, -74.0000, -74.0200, -73.7000])
STOP_DEPS = np.array([120, 30, 40, 8, 60, 0])


@pytest.fixture
def grid():
    return zone_grid(STOP_LAT, STOP_LON, STOP_DEPS, cell_m=600.0)


def test_a_zone_is_a_cell_holding_a_served_stop_and_unserved_stops_make_none(grid):
    assert len(grid) == 4  # stops 0 and 1 share a cell; stop 5 has no departures
    assert sorted(grid.stops.tolist()) == [1, 1, 1, 2]
    assert grid.departures.sum() == STOP_DEPS.sum()
    assert grid.population.tolist() == (grid.stops * RESIDENTS_PER_STOP).tolist()


def test_zones_are_central_within_the_radius_of_times_square_only(grid):
    lat, lon = grid.centres()
    km = haversine_m(lat, lon, 40.7580, -73.9855) / 1000
    assert grid.central.tolist() == (km <= 6.0).tolist()
    assert grid.central.sum() == 2  # the cell of stops 0 and 1, and stop 3's


def test_the_zone_layer_reads_back_and_puts_every_served_stop_in_its_own_cell(grid):
    layer = ZoneLayer.from_geojson(zones_geojson(grid), source="grid")
    served = STOP_DEPS > 0
    idx = layer.assign(STOP_LAT[served], STOP_LON[served])
    assert (idx >= 0).all()
    lat, lon = grid.centres()
    # each stop lies within half a cell diagonal of its zone's centre
    assert (haversine_m(STOP_LAT[served], STOP_LON[served], lat[idx], lon[idx]) <= 425).all()
    classes = layer.classes(np.arange(len(grid)))
    assert classes.tolist() == ["central" if c else "peripheral" for c in grid.central]


def test_the_synthetic_demand_covers_every_pair_of_distinct_zones_and_reads_back(tmp_path, grid):
    trips = synthetic_demand(grid)
    assert np.diag(trips).tolist() == [0.0] * len(grid)
    # production-constrained: each origin's trips sum to its population x trip rate
    np.testing.assert_allclose(trips.sum(axis=1), grid.population * TRIP_RATE_PER_DAY)
    layer = ZoneLayer.from_geojson(zones_geojson(grid), source="grid")
    path = tmp_path / "demand.csv"
    rows = write_demand(path, grid, trips)
    demand = load_demand(path, zones=layer, source=path.name)
    assert rows == len(demand) == len(grid) * (len(grid) - 1)
    assert demand.synthetic
    assert "gravity model" in demand.note
    assert (demand.origin_id != demand.dest_id).all()
    np.testing.assert_allclose(demand.total_trips, trips.sum(), rtol=1e-5)


def test_departures_per_stop_count_the_trips_of_every_pattern_calling_there():
    # 3 stops; pattern 0 (2 trips) calls at stops 0, 1; pattern 1 (5 trips) at stops 1, 2
    stop_pat_ptr = np.array([0, 1, 3, 4])
    stop_pat_pattern = np.array([0, 0, 1, 1])
    pattern_trip_ptr = np.array([0, 2, 7])
    deps = stop_departures(3, stop_pat_ptr, stop_pat_pattern, pattern_trip_ptr)
    assert deps.tolist() == [2, 7, 5]


@pytest.mark.parametrize(
    ("route_id", "short_name", "kind"),
    [
        ("lirr:1", "", "rail"),
        ("mnr:3", "Hudson", "rail"),
        ("bx:BxM1", "BxM1", "express"),
        ("si:SIM1C", "SIM1C", "express"),
        ("busco:QM2", "QM2", "express"),
        ("m:M15+", "M15-SBS", "local"),
        ("subway:A", "A", "local"),
        ("bk:X", "X", "local"),  # a lone letter is a subway-like name, not an express bus
    ],
)
def test_routes_get_the_declared_fare_of_their_kind(route_id, short_name, kind):
    assert route_kind(route_id, short_name) == kind


def _ride(route_id: str, board_s: int, minutes: int = 20) -> RideFacts:
    return RideFacts(route_id, "mta", 3, "a", "b", "", "", frozenset(), board_s,
                     board_s + minutes * 60)


@pytest.fixture
def fares(tmp_path):
    routes = [("subway:A", "A"), ("m:M15", "M15"), ("bx:BxM1", "BxM1"), ("lirr:1", "")]
    counts = write_fare_tables(tmp_path, routes)
    assert counts == {"local": 2, "express": 1, "rail": 1}
    system = read_fare_system(tmp_path)
    assert system is not None
    return system


@pytest.mark.parametrize(
    ("rides", "total_minor"),
    [
        ([("subway:A", 0)], 290),
        ([("subway:A", 0), ("m:M15", 1800), ("subway:A", 3600)], 290),  # transfers in 2 h
        ([("subway:A", 0), ("m:M15", 7300)], 580),  # the second boarding is past 2 h
        ([("bx:BxM1", 0)], 700),
        ([("bx:BxM1", 0), ("m:M15", 3000)], 700),  # express covers the local ride after it
        ([("lirr:1", 0)], 500),
        ([("lirr:1", 0), ("subway:A", 2400)], 790),  # rail has no transfers to the subway
    ],
)
def test_the_declared_table_prices_rides_through_the_fare_engine(fares, rides, total_minor):
    quote = fares.quote([_ride(r, t) for r, t in rides], service_date=DAY)
    assert quote.total is not None
    assert quote.total.currency == "USD"
    assert quote.total.amount_minor == total_minor


def test_the_feed_copy_links_every_table_and_adds_the_fare_files(tmp_path):
    source = tmp_path / "gtfs"
    source.mkdir()
    (source / "routes.txt").write_text("route_id,route_short_name\nsubway:A,A\nlirr:1,\n")
    (source / "stops.txt").write_text("stop_id\nx\n")
    target = tmp_path / "eval"
    for _ in range(2):  # a second run replaces what the first wrote
        assert link_feed_with_fares(source, target) == {"local": 1, "express": 0, "rail": 1}
    assert sorted(p.name for p in target.iterdir()) == sorted(
        ["routes.txt", "stops.txt", FARE_ATTRIBUTES, FARE_RULES]
    )
    assert (target / "stops.txt").is_symlink()
    assert not (target / FARE_RULES).is_symlink()


def test_the_policy_is_rewritten_into_the_declared_currency_and_still_parses():
    text = (POLICIES / "city-wide-average.yaml").read_text(encoding="utf-8")
    policy = parse_policy(_in_currency(text, "USD"))
    assert policy.currency == "USD"
    assert policy.id == "city-wide-average"
    with pytest.raises(ValueError, match="currency"):
        _in_currency("id: x\n", "USD")


def test_the_projection_divides_only_the_routing_by_the_machines():
    run = {"workers": 2, "serial_s": 60.0, "stages_s": {"routing": 600.0}}
    proj = projection(run)
    assert proj["minutes_on_n_machines"]["1"] == 11.0
    assert proj["minutes_on_n_machines"]["4"] == 3.5
    assert proj["limit_minutes"] == 1.0

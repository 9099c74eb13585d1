"""Walk legs drawn from the searches a plan already made, on the embedded Helsinki network.

A plan times the walks to the stops (a forward tree from the origin), from the stops (a
backward tree to the destination) and the walk-only trip (`travel_time`); drawing those legs
reads the paths off the kept searches. These tests pin that the paths read off are the ones
a fresh search finds (same time, same length, a connected polyline between the two points)
and that the searches are not made twice.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

import routing.streets as streets
from routing.streets import Snap, StreetGraph, StreetIndex, StreetPath, StreetSearch

#: Helsinki central railway station and Kamppi, about 900 m apart by street
STATION = (60.1699, 24.9384)
KAMPPI = (60.1685, 24.9316)
WALK_S = 1.0  # the walk graph's own pace (speed factor 1)


@pytest.fixture(scope="module")
def walk(helsinki) -> StreetGraph:
    return helsinki.streets["walk"]


@pytest.fixture(scope="module")
def index(helsinki) -> StreetIndex:
    return helsinki.walk_index


def stop_like_points(index: StreetIndex, n: int, seed: int) -> list[Snap]:
    """`n` points snapped within 100 m of a street around the centre (like stops)."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(60.160, 60.178, 4 * n)
    lon = rng.uniform(24.920, 24.960, 4 * n)
    out: list[Snap] = []
    for la, lo in zip(lat.tolist(), lon.tolist(), strict=True):
        snap = index.snap(la, lo)
        if snap.offset_m <= 100.0:
            out.append(snap)
        if len(out) == n:
            break
    return out


def as_targets(points: list[Snap]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.array([p.edge for p in points], dtype=np.int32),
        np.array([p.fraction for p in points]),
        np.array([p.offset_m for p in points]),
    )


def assert_same_walk(walk: StreetGraph, got: StreetPath, fresh: StreetPath, a: Snap, b: Snap):
    """`got` is as fast and as long as the freshly searched path, and a connected line a-b."""
    assert got.time_s == pytest.approx(fresh.time_s, rel=1e-9, abs=1e-9)
    assert got.length_m == pytest.approx(fresh.length_m, rel=1e-6, abs=1e-6)
    edges = got.edges
    assert np.array_equal(walk.edge_head[edges[:-1]], walk.edge_tail[edges[1:]])
    assert (got.lats[0], got.lons[0]) == (a.lat, a.lon)
    assert (got.lats[-1], got.lons[-1]) == (b.lat, b.lon)


def test_access_walks_are_read_off_the_forward_tree_as_a_fresh_search_finds_them(walk, index):
    search, fresh = StreetSearch(walk), StreetSearch(walk)
    origin = index.snap(*STATION)
    points = stop_like_points(index, 40, seed=1)
    times = search.times_to(origin, *as_targets(points), max_time_s=900.0)
    within = [(p, t) for p, t in zip(points, times.tolist(), strict=True) if math.isfinite(t)]
    assert len(within) >= 10
    before = dict(search.counts)
    for point, time_s in within:
        got = search.route(origin, point)
        want = fresh.route(origin, point)
        assert got is not None and want is not None
        assert got.time_s == pytest.approx(time_s, rel=1e-9)  # the time the tree gave
        assert_same_walk(walk, got, want, origin, point)
    assert search.counts["route"] == before["route"]  # no search: all read off the tree
    assert search.counts["kept"] == before["kept"] + len(within)


def test_egress_walks_are_read_off_the_backward_tree_as_a_fresh_search_finds_them(walk, index):
    search, fresh = StreetSearch(walk), StreetSearch(walk)
    dest = index.snap(*KAMPPI)
    points = stop_like_points(index, 40, seed=2)
    times = search.times_to(dest, *as_targets(points), max_time_s=900.0, reverse=True)
    within = [(p, t) for p, t in zip(points, times.tolist(), strict=True) if math.isfinite(t)]
    assert len(within) >= 10
    before = dict(search.counts)
    for point, time_s in within:
        got = search.route(point, dest)
        want = fresh.route(point, dest)
        assert got is not None and want is not None
        assert got.time_s == pytest.approx(time_s, rel=1e-9)
        assert_same_walk(walk, got, want, point, dest)
    assert search.counts["route"] == before["route"]
    assert search.counts["kept"] == before["kept"] + len(within)


def test_a_walk_beyond_the_trees_bound_or_at_another_pace_is_searched(walk, index):
    search, fresh = StreetSearch(walk), StreetSearch(walk)
    origin = index.snap(*STATION)
    far = index.snap(60.1620, 24.9560)  # well over 5 min from the station
    search.times_to(origin, *as_targets([far]), max_time_s=300.0)
    got = search.route(origin, far)
    slower = search.route(origin, far, speed_factor=1.25)
    assert search.counts["route"] == 2 and search.counts["kept"] == 0
    want = fresh.route(origin, far)
    assert got is not None and want is not None and slower is not None
    assert_same_walk(walk, got, want, origin, far)
    assert got.time_s > 300.0
    assert slower.time_s > got.time_s


def test_a_tree_is_replaced_by_the_next_search_in_its_direction(walk, index):
    search, fresh = StreetSearch(walk), StreetSearch(walk)
    first, second = index.snap(*STATION), index.snap(*KAMPPI)
    point = stop_like_points(index, 1, seed=3)[0]
    search.times_to(first, *as_targets([point]), max_time_s=3600.0)
    search.times_to(second, *as_targets([point]), max_time_s=3600.0)
    got = search.route(first, point)  # the first tree is gone: searched afresh
    assert search.counts["route"] == 1
    want = fresh.route(first, point)
    assert got is not None and want is not None
    assert_same_walk(walk, got, want, first, point)


def test_the_timed_walk_only_trip_is_drawn_without_a_second_search(walk, index):
    search, fresh = StreetSearch(walk), StreetSearch(walk)
    a, b = index.snap(*STATION), index.snap(*KAMPPI)
    time_s = search.travel_time(a, b, max_time_s=3600.0)
    got = search.route(a, b)
    assert search.counts == {"tree": 0, "timed": 1, "route": 0, "kept": 1}
    want = fresh.route(a, b)
    assert time_s is not None and got is not None and want is not None
    assert got.time_s == time_s
    assert_same_walk(walk, got, want, a, b)
    # too slow for a tighter bound: known without searching
    assert search.route(a, b, max_time_s=time_s - 1.0) is None
    assert search.counts["route"] == 0


def test_a_plan_searches_only_its_transfer_walks_when_drawing(helsinki, monkeypatch):
    """Through the planning path: the access, egress and walk-only legs cost no search."""
    from trips.itinerary import ItineraryWriter
    from trips.model import to_builtins
    from trips.service import PlanningService, draw_and_choose

    date, key, seconds = helsinki.resolve(dt.datetime.fromisoformat("2022-02-22T08:00:00+02:00"))
    planner = helsinki.planner(key)
    calls = {"n": 0}
    real = streets._route_search

    def counted(*args):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return real(*args)

    monkeypatch.setattr(streets, "_route_search", counted)
    checked = 0
    # Kamppi -> Kallio, station -> Kamppi, Eira -> Hakaniemi
    for a, b in [
        (KAMPPI, (60.1841, 24.9497)),
        (STATION, KAMPPI),
        ((60.157, 24.936), (60.179, 24.951)),
    ]:
        calls["n"] = 0
        plan = planner.plan(*a, *b, seconds)
        assert calls["n"] == 1  # the walk-only trip's time
        writer = ItineraryWriter(helsinki, planner, date, key)
        pricer = PlanningService(helsinki).pricer(date, key)
        chosen = draw_and_choose(plan, writer, pricer, limit=5, arrive_by=False, window=False)
        its = [to_builtins(it) for it in chosen.itineraries()]
        legs = [leg for it in its for leg in it["legs"] if leg["mode"] == "WALK"]
        transfers = {
            (leg["from"]["stop_id"], leg["to"]["stop_id"])
            for leg in legs
            if leg["from"]["stop_id"] is not None and leg["to"]["stop_id"] is not None
        }
        assert calls["n"] == 1 + len(transfers)
        checked += any(leg["to"]["stop_id"] is not None for leg in legs)
    assert checked >= 2  # most of the plans rode transit, with access and egress walks

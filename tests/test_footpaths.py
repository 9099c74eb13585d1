"""Footpaths between stops: street walks, straight-line fallbacks and transfers.txt rules."""

from __future__ import annotations

import numpy as np

from ingest.footpaths import DETOUR_FACTOR, combine_footpaths, straight_line_footpaths
from routing.geo import haversine_m


def arr(*xs: int) -> np.ndarray:
    return np.array(xs, dtype=np.int32)


def as_dict(fp) -> dict[tuple[int, int], int]:
    return {
        (int(a), int(b)): int(s)
        for a, b, s in zip(fp.from_stop, fp.to_stop, fp.seconds, strict=True)
    }


def test_shortest_walk_wins_when_sources_overlap():
    fp = combine_footpaths(
        3,
        [
            (arr(0, 0), arr(1, 2), arr(100, 300)),
            (
                arr(
                    0,
                ),
                arr(
                    1,
                ),
                arr(80),
            ),
        ],
    )
    assert as_dict(fp) == {(0, 1): 80, (0, 2): 300}


def test_forbidden_transfer_removes_the_walk():
    gtfs = (arr(0), arr(1), arr(-1), np.array([True]))
    fp = combine_footpaths(2, [(arr(0, 1), arr(1, 0), arr(60, 60))], gtfs)
    assert as_dict(fp) == {(1, 0): 60}


def test_minimum_transfer_time_is_a_floor_on_the_walk():
    gtfs = (arr(0), arr(1), arr(240), np.array([False]))
    fp = combine_footpaths(2, [(arr(0, 1), arr(1, 0), arr(60, 60))], gtfs)
    assert as_dict(fp) == {(0, 1): 240, (1, 0): 60}


def test_a_transfer_the_feed_names_but_no_walk_found_is_added_at_walking_pace():
    lat = np.array([60.0, 60.01])
    lon = np.array([24.0, 24.0])
    gtfs = (arr(0), arr(1), arr(-1), np.array([False]))
    fp = combine_footpaths(2, [], gtfs, lat=lat, lon=lon)
    d = float(haversine_m(60.0, 24.0, 60.01, 24.0))
    assert as_dict(fp) == {(0, 1): int(np.ceil(d * DETOUR_FACTOR / 1.33))}


def test_straight_line_footpaths_are_symmetric_and_bounded():
    lat = np.array([60.0, 60.001, 60.1])  # 111 m apart, and one 11 km away
    lon = np.array([24.0, 24.0, 24.0])
    fp = dict(
        ((int(a), int(b)), int(s))
        for a, b, s in zip(*straight_line_footpaths(lat, lon), strict=True)
    )
    assert set(fp) == {(0, 1), (1, 0)}
    assert fp[(0, 1)] == fp[(1, 0)] == int(np.ceil(111.19 * DETOUR_FACTOR / 1.33))


def test_helsinki_street_footpaths_match_a_fresh_walk_search(helsinki):
    from routing.streets import StreetSearch

    tt, _ = helsinki.timetable(helsinki.manifest["service_dates"]["2022-02-22"])
    snaps = helsinki.stop_snaps
    search = StreetSearch(helsinki.streets["walk"])
    on_streets = np.flatnonzero(snaps.edge >= 0)
    rng = np.random.default_rng(3)
    checked = 0
    for s in rng.choice(on_streets, 20, replace=False).tolist():
        lo, hi = int(tt.transfer_ptr[s]), int(tt.transfer_ptr[s + 1])
        to = tt.transfer_to[lo:hi]
        street = to[snaps.edge[to] >= 0]
        if not len(street):
            continue
        t = search.times_to(
            snaps.snap(s),
            snaps.edge[street],
            snaps.fraction[street],
            snaps.offset_m[street],
            max_time_s=600,
        )
        assert np.all(np.isfinite(t))
        stored = tt.transfer_s[lo:hi][snaps.edge[to] >= 0]
        # HSL's transfers.txt names only same-stop pairs, so every walk is the street search's
        assert stored.tolist() == np.ceil(t).astype(int).tolist()
        checked += 1
    assert checked >= 10

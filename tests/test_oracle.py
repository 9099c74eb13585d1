"""RAPTOR agrees with an independent connection scan on random Helsinki queries.

Queries are coordinate to coordinate: both algorithms get the same walking access and
egress times (from the walk network) and the same footpaths; everything else - reading
GTFS, expanding frequencies, building patterns, searching - is done separately.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from routing.errors import OutsideNetworkError
from routing.journey import Ride, Walk
from routing.planner import PlanOptions
from routing.raptor import StopTimes
from tests.oracle import ConnectionScan

#: queries with a transit answer to compare (more are run: some have none, which must agree too)
N_QUERIES = 500


@pytest.fixture(scope="module")
def oracle(helsinki):
    from network.embedded import helsinki as city

    stop_index = {s: i for i, s in enumerate(helsinki.stops.stop_id.tolist())}
    return ConnectionScan(city().gtfs, stop_index)


def _footpaths(tt) -> dict[int, list[tuple[int, int]]]:
    fp: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for s in range(tt.n_stops):
        for f in range(int(tt.transfer_ptr[s]), int(tt.transfer_ptr[s + 1])):
            fp[s].append((int(tt.transfer_to[f]), int(tt.transfer_s[f])))
    return fp


def _check_journey_is_feasible(j, tt, access, egress, depart_s) -> None:
    t = depart_s
    for leg in j.legs:
        assert leg.depart_s >= t, f"leg leaves before the rider gets there: {j}"
        if isinstance(leg, Ride):
            stops, arr, dep = tt.trip_times(leg.trip)
            assert dep[leg.board_pos] == leg.depart_s and arr[leg.alight_pos] == leg.arrive_s
            assert stops[leg.board_pos] == leg.board_stop
            assert stops[leg.alight_pos] == leg.alight_stop
            assert leg.board_pos < leg.alight_pos
        else:
            assert isinstance(leg, Walk)
            if leg.from_stop == -1:
                assert leg.duration_s == access[leg.to_stop]
            elif leg.to_stop == -1:
                assert leg.duration_s == egress[leg.from_stop]
        t = leg.arrive_s


def test_raptor_earliest_arrival_matches_connection_scan_on_500_random_queries(helsinki, oracle):
    key = helsinki.manifest["service_dates"]["2022-02-22"]
    planner = helsinki.planner(key)
    tt = planner.timetable
    fps = _footpaths(tt)
    rng = np.random.default_rng(20220222)
    min_lon, min_lat, max_lon, max_lat = helsinki.streets["walk"].bbox
    checked = with_transit = 0
    mismatches = []
    while with_transit < N_QUERIES:
        lat1, lat2 = rng.uniform(min_lat, max_lat, 2)
        lon1, lon2 = rng.uniform(min_lon, max_lon, 2)
        t0 = int(rng.integers(5 * 3600, 23 * 3600))
        try:
            o = planner.walk_index.snap(lat1, lon1)
            d = planner.walk_index.snap(lat2, lon2)
        except OutsideNetworkError:
            continue
        acc = planner.stop_walk_times(o, max_walk_m=1000, walk_speed_mps=1.33, to_point=False)
        egr = planner.stop_walk_times(d, max_walk_m=1000, walk_speed_mps=1.33, to_point=True)
        access = dict(zip(acc.stops.tolist(), acc.seconds.tolist(), strict=True))
        egress = dict(zip(egr.stops.tolist(), egr.seconds.tolist(), strict=True))
        journeys = planner.transit.depart_at(acc, egr, t0, max_transfers=15)
        got = min((j.arrive_s for j in journeys), default=None)
        want = oracle.earliest_arrival(access, egress, fps, t0)
        if got != want:
            mismatches.append((lat1, lon1, lat2, lon2, t0, got, want))
        for j in journeys:
            _check_journey_is_feasible(j, tt, access, egress, t0)
        checked += 1
        with_transit += want is not None
    assert mismatches[:5] == [], f"{len(mismatches)} of {checked} queries disagree"
    assert checked < 3 * N_QUERIES  # most random pairs in the city do have a transit answer


def test_arrive_by_departure_reaches_the_destination_in_time(helsinki):
    key = helsinki.manifest["service_dates"]["2022-02-22"]
    planner = helsinki.planner(key)
    rng = np.random.default_rng(7)
    min_lon, min_lat, max_lon, max_lat = helsinki.streets["walk"].bbox
    done = 0
    while done < 100:
        lat = rng.uniform(min_lat, max_lat, 2)
        lon = rng.uniform(min_lon, max_lon, 2)
        deadline = int(rng.integers(7 * 3600, 22 * 3600))
        try:
            plan = planner.plan(
                lat[0],
                lon[0],
                lat[1],
                lon[1],
                deadline,
                PlanOptions(arrive_by=True, max_direct_walk_m=0),
            )
        except OutsideNetworkError:
            continue
        done += 1
        for j in plan.journeys:
            assert j.arrive_s <= deadline
            if not j.rides:
                continue
            # leaving at that departure, a forward search arrives no later than the deadline
            fwd = planner.transit.depart_at(plan.access, plan.egress, j.depart_s)
            assert fwd and min(f.arrive_s for f in fwd) <= deadline


def test_every_range_journey_is_the_earliest_arrival_for_its_departure(helsinki):
    key = helsinki.manifest["service_dates"]["2022-02-22"]
    planner = helsinki.planner(key)
    rng = np.random.default_rng(11)
    min_lon, min_lat, max_lon, max_lat = helsinki.streets["walk"].bbox
    done = journeys = 0
    while done < 60:
        lat = rng.uniform(min_lat, max_lat, 2)
        lon = rng.uniform(min_lon, max_lon, 2)
        try:
            o = planner.walk_index.snap(lat[0], lon[0])
            d = planner.walk_index.snap(lat[1], lon[1])
        except OutsideNetworkError:
            continue
        done += 1
        acc = planner.stop_walk_times(o, max_walk_m=1000, walk_speed_mps=1.33, to_point=False)
        egr = planner.stop_walk_times(d, max_walk_m=1000, walk_speed_mps=1.33, to_point=True)
        found = planner.transit.depart_window(acc, egr, 8 * 3600, 3600)
        departures = [j.depart_s for j in found]
        assert departures == sorted(departures)
        for j in found:
            assert j.depart_s >= 8 * 3600
            best = planner.transit.depart_at(acc, egr, j.depart_s, max_transfers=j.n_transfers)
            assert best and best[-1].arrive_s == j.arrive_s
            journeys += 1
    assert journeys > 100


def test_one_to_many_gives_each_destination_the_same_pareto_set_as_its_own_query(helsinki):
    key = helsinki.manifest["service_dates"]["2022-02-22"]
    planner = helsinki.planner(key)
    raptor = planner.transit.forward
    rng = np.random.default_rng(7)
    stops = np.arange(planner.timetable.n_stops, dtype=np.int32)

    def some_stops() -> StopTimes:
        pick = rng.choice(stops, size=int(rng.integers(1, 6)), replace=False)
        return StopTimes(pick.astype(np.int32), rng.integers(0, 900, len(pick)).astype(np.int32))

    compared = 0
    for _ in range(15):
        access, t0 = some_stops(), int(rng.integers(6 * 3600, 20 * 3600))
        egresses = [some_stops() for _ in range(20)]
        batch = raptor.one_to_many(access, egresses, t0, max_transfers=6)
        for egress, got in zip(egresses, batch, strict=True):
            want = raptor.earliest_arrival(access, egress, t0, max_transfers=6)
            assert [(j.arrive_s, j.n_transfers) for j in got] == [
                (j.arrive_s, j.n_transfers) for j in want
            ]
            assert [j.legs for j in got] == [j.legs for j in want]
            compared += len(want)
    assert compared > 100  # most random stop sets are connected

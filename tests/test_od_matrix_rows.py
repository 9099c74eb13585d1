"""The OD matrix keeps, per pair, the journey the matrix definition names.

`OriginRouter.block` fills a row from one `Raptor.reach` search and rebuilds journeys only
where transit wins (`evaluation.od_matrix`). Its definition is older and simpler: of the
Pareto journeys `Raptor.one_to_many` gives each destination, the earliest-arriving (fewer
transfers on a tie), or the whole walk when that arrives no later. This test computes rows
that way on the embedded Helsinki network, destinations included where two egress stops
arrive at the same second, and compares every cell.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from evaluation.od_matrix import OriginRouter, _price
from routing.geo import DETOUR_FACTOR, haversine_m
from routing.raptor import Raptor, StopTimes


def _reference_row(
    router: OriginRouter, lat: float, lon: float, d_lat: np.ndarray, d_lon: np.ndarray,
    egress: list[StopTimes],
) -> tuple[list[float], list[int], list[int]]:
    """(travel time, fare, transfers) per destination, by the definition."""
    raptor = Raptor(router.tt)
    access = router.walk_times(lat, lon)
    found = (
        raptor.one_to_many(access, egress, router.depart_s, max_transfers=router.max_transfers)
        if len(access.stops) else [[] for _ in d_lat]
    )
    dist = haversine_m(lat, lon, d_lat, d_lon)
    times, prices, transfers = [], [], []
    for j, journeys in enumerate(found):
        best = min(journeys, key=lambda jn: (jn.arrive_s, jn.n_transfers), default=None)
        walk_s = math.ceil(dist[j] * DETOUR_FACTOR / router.walk_speed_mps)
        walkable = dist[j] * DETOUR_FACTOR <= router.max_walk_m * 5
        walk_arrive = router.depart_s + walk_s if walkable else math.inf
        if best is None or walk_arrive <= best.arrive_s:
            times.append(float(walk_s) if walkable else math.inf)
            prices.append(0 if walkable else -1)
            transfers.append(0 if walkable else -1)
        else:
            times.append(float(best.arrive_s - router.depart_s))
            prices.append(_price(best, router.pricer))
            transfers.append(best.n_transfers)
    return times, prices, transfers


@pytest.fixture(scope="module")
def router(helsinki) -> OriginRouter:
    day = dt.date.fromisoformat(helsinki.service_dates[0])
    depart = dt.datetime(day.year, day.month, day.day, 8, tzinfo=helsinki.timezone)
    return OriginRouter(helsinki, depart)


def test_each_pair_gets_the_earliest_of_the_pareto_journeys_or_the_walk(router, helsinki):
    rng = np.random.default_rng(16)
    stops = rng.choice(len(helsinki.stops.lat), 160, replace=False)
    # points 150 m off real stops, so that most have stops within walking distance
    lat = helsinki.stops.lat[stops] + rng.uniform(-0.0015, 0.0015, len(stops))
    lon = helsinki.stops.lon[stops] + rng.uniform(-0.003, 0.003, len(stops))
    o_lat, o_lon, d_lat, d_lon = lat[:12], lon[:12], lat[12:], lon[12:]
    egress = router.egress(d_lat, d_lon)
    block = router.block(o_lat, o_lon, d_lat, d_lon, egress)
    transit = 0
    for i in range(len(o_lat)):
        times, prices, transfers = _reference_row(
            router, float(o_lat[i]), float(o_lon[i]), d_lat, d_lon, egress
        )
        assert block.travel_time_s[i].tolist() == times
        assert block.price_minor[i].tolist() == prices
        assert block.transfers[i].tolist() == transfers
        transit += int(block.is_transit[i].sum())
    assert transit > len(o_lat) * len(d_lat) // 2  # mostly transit: the fast path is exercised


def test_tied_egress_stops_get_the_journey_of_the_earliest_round(router, helsinki):
    # every egress stop named twice: each destination reached by transit has two entries
    # arriving at the same second, so its journey comes from the tie path (one_to_many asked
    # again with the tied stops), and must still be the definition's
    o_lat, o_lon = helsinki.stops.lat[:1], helsinki.stops.lon[:1]
    d_lat = helsinki.stops.lat[[100, 200, 300, 400]] + 0.001
    d_lon = helsinki.stops.lon[[100, 200, 300, 400]]
    egress = router.egress(d_lat, d_lon)
    doubled = [
        StopTimes(np.concatenate([e.stops, e.stops]), np.concatenate([e.seconds, e.seconds]))
        for e in egress
    ]
    block = router.block(o_lat, o_lon, d_lat, d_lon, doubled)
    times, prices, transfers = _reference_row(
        router, float(o_lat[0]), float(o_lon[0]), d_lat, d_lon, egress
    )
    assert block.is_transit[0].any()
    assert block.travel_time_s[0].tolist() == times
    assert block.price_minor[0].tolist() == prices
    assert block.transfers[0].tolist() == transfers

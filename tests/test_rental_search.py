"""RentalSearch: walk -> rent -> ride -> return -> walk, rule by rule on a hand-built grid.

The grid is 5 rows x 11 columns of 100 m two-way streets (node ``row * 11 + col``): walking
takes 100 / 1.33 s per block, riding 20 s, unlock and lock 30 s each. The rider starts at
node 22 (row 2, column 0) and heads for node 32 (row 2, column 10), ten blocks east.
Points sit exactly on nodes unless a test says otherwise, so every expected time below is
whole blocks; each leg is rounded up to whole seconds.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from routing.fleet import RentalFleet
from routing.journey import Spot, SpotKind
from routing.planner import StopTargets
from routing.rental import ChainTimes, RentalChain, RentalSearch, WalkPoints
from routing.streets import StreetGraph
from tests.street_grid import edge_between, grid

COLS = 11
WALK_BLOCK_S = float(np.float32(100 / 1.33))  # the graph stores times as float32
RIDE_BLOCK_S = 20
UNLOCK_S = LOCK_S = 30
START, GOAL = 22, 32
LIMITS = {"max_walk_s": 900.0, "max_ride_s": 1800.0}


def walk_s(blocks: int) -> int:
    """Whole seconds to walk `blocks` blocks."""
    return math.ceil(blocks * WALK_BLOCK_S - 1e-6)


def rental_s(blocks: int) -> int:
    """Whole seconds of a rental riding `blocks` blocks."""
    return UNLOCK_S + blocks * RIDE_BLOCK_S + LOCK_S


@pytest.fixture(scope="module")
def walk() -> StreetGraph:
    return grid(5, COLS, 100.0, 1.33, "walk")


@pytest.fixture(scope="module")
def bike() -> StreetGraph:
    return grid(5, COLS, 100.0, 100.0 / RIDE_BLOCK_S, "bike")


@pytest.fixture(scope="module")
def search(walk: StreetGraph, bike: StreetGraph) -> RentalSearch:
    return RentalSearch(walk, {"bike": bike})


def at_nodes(walk: StreetGraph, nodes: list[int], cost_s: list[float] | None = None) -> WalkPoints:
    """Points standing on walk nodes (fraction 0 of the node's first outgoing edge)."""
    edge = np.array([walk.edge_ptr[n] for n in nodes], dtype=np.int32)
    return WalkPoints.of_arrays(edge, np.zeros(len(nodes)), np.zeros(len(nodes)), cost_s)


def make_fleet(
    walk: StreetGraph,
    bike: StreetGraph,
    pickups: list[int],
    *,
    dropoffs: list[int] | None = None,
    range_m: list[float] | None = None,
    can_end: np.ndarray | None = None,
    edge_time_s: np.ndarray | None = None,
    blocked: np.ndarray | None = None,
) -> RentalFleet:
    """A fleet with vehicles (or stations) at grid nodes; docked when dropoffs are given."""
    p = at_nodes(walk, pickups)
    d = at_nodes(walk, dropoffs or [])
    return RentalFleet(
        profile="bike",
        docked=dropoffs is not None,
        pickup_walk_edge=p.edge,
        pickup_walk_fraction=p.fraction,
        pickup_walk_offset_m=p.offset_m,
        pickup_ride_node=np.array(pickups, dtype=np.int32),
        pickup_ride_offset_m=np.zeros(len(pickups)),
        pickup_range_m=np.array(range_m or [math.inf] * len(pickups), dtype=np.float64),
        dropoff_walk_edge=d.edge,
        dropoff_walk_fraction=d.fraction,
        dropoff_walk_offset_m=d.offset_m,
        dropoff_ride_node=np.array(dropoffs or [], dtype=np.int32),
        dropoff_ride_offset_m=np.zeros(len(dropoffs or [])),
        node_can_end=np.ones(bike.n_nodes, dtype=bool) if can_end is None else can_end,
        edge_time_s=bike.edge_time_s.copy() if edge_time_s is None else edge_time_s,
        edge_blocked=np.zeros(bike.n_edges, dtype=bool) if blocked is None else blocked,
        ride_speed_mps=5.0,
        unlock_s=UNLOCK_S,
        lock_s=LOCK_S,
    )


def parts_add_up(times: ChainTimes, seeds: WalkPoints, target: int) -> RentalChain:
    """The chain behind a reached target, checked against its total."""
    chain = times.chain(target)
    assert chain is not None
    total = seeds.cost_s[chain.seed] + chain.walk_to_s + chain.rental_s + chain.walk_from_s
    assert total == times.time_s[target]
    return chain


def trip(
    search: RentalSearch, walk: StreetGraph, fleet: RentalFleet, **limits: float
) -> tuple[float, RentalChain | None]:
    """Forward from START to GOAL: (time, chain)."""
    seeds = at_nodes(walk, [START])
    times = search.forward(seeds, fleet, at_nodes(walk, [GOAL]), **{**LIMITS, **limits})
    if not math.isfinite(times.time_s[0]):
        assert times.chain(0) is None
        return math.inf, None
    return float(times.time_s[0]), parts_add_up(times, seeds, 0)


def test_station_without_a_bike_is_passed_for_the_next_one_or_none(
    search: RentalSearch, walk: StreetGraph, bike: StreetGraph
) -> None:
    # stations one and three blocks east; the dock is one block short of the goal
    both = make_fleet(walk, bike, [23, 25], dropoffs=[31])
    time, chain = trip(search, walk, both)
    assert chain is not None and chain.pickup == 0
    assert time == walk_s(1) + rental_s(8) + walk_s(1)
    # the adapter leaves the empty station out of the pickups: the next one is used
    empty_first = make_fleet(walk, bike, [25], dropoffs=[31])
    time, chain = trip(search, walk, empty_first)
    assert chain is not None and chain.pickup == 0 and chain.walk_to_s == walk_s(3)
    assert time == walk_s(3) + rental_s(6) + walk_s(1)
    # ... unless it is beyond the walking limit
    assert trip(search, walk, empty_first, max_walk_s=walk_s(2))[1] is None


def test_full_dock_at_the_destination_ends_at_the_next_station(
    search: RentalSearch, walk: StreetGraph, bike: StreetGraph
) -> None:
    with_dock = make_fleet(walk, bike, [START], dropoffs=[29, GOAL])
    time, chain = trip(search, walk, with_dock)
    assert chain is not None and chain.end == Spot(SpotKind.DROPOFF, 1)
    assert time == rental_s(10)
    full = make_fleet(walk, bike, [START], dropoffs=[29])  # the goal's station has no dock
    time, chain = trip(search, walk, full)
    assert chain is not None and chain.end == Spot(SpotKind.DROPOFF, 0)
    assert (chain.rental_s, chain.walk_from_s) == (rental_s(7), walk_s(3))
    assert time == rental_s(7) + walk_s(3)


def test_scooter_short_of_range_is_skipped_for_a_farther_one_that_has_it(
    search: RentalSearch, walk: StreetGraph, bike: StreetGraph
) -> None:
    # scooter 0 two blocks away (row 3, col 1), scooter 1 three blocks away (row 1, col 2);
    # the ride from scooter 0 is 1000 m, from scooter 1 900 m
    charged = make_fleet(walk, bike, [34, 13])
    time, chain = trip(search, walk, charged)
    assert chain is not None and chain.pickup == 0
    assert time == walk_s(2) + rental_s(10)
    assert chain.ride_m == pytest.approx(1000.0)
    low = make_fleet(walk, bike, [34, 13], range_m=[500.0, 1080.0])  # 1080 = 900 m x 1.2
    time, chain = trip(search, walk, low)
    assert chain is not None and chain.pickup == 1
    assert time == walk_s(3) + rental_s(9)
    # read backwards from the goal, the same scooter is found
    back = search.backward(at_nodes(walk, [GOAL]), low, at_nodes(walk, [START]), **LIMITS)
    assert back.time_s[0] == time and parts_add_up(back, at_nodes(walk, [GOAL]), 0).pickup == 1
    both_low = make_fleet(walk, bike, [34, 13], range_m=[500.0, 1079.0])
    time, chain = trip(search, walk, both_low)
    # scooter 1 can still get within a block of the goal and the rider walks the rest
    assert chain is not None and chain.pickup == 1 and chain.ride_m == pytest.approx(800.0)
    assert time == walk_s(3) + rental_s(8) + walk_s(1)


def test_no_parking_at_the_destination_parks_at_the_nearest_allowed_node_and_walks(
    search: RentalSearch, walk: StreetGraph, bike: StreetGraph
) -> None:
    time, chain = trip(search, walk, make_fleet(walk, bike, [START]))
    assert chain is not None and chain.end == Spot(SpotKind.PARKED, GOAL)
    assert time == rental_s(10)
    can_end = np.ones(bike.n_nodes, dtype=bool)
    can_end[GOAL] = False
    time, chain = trip(search, walk, make_fleet(walk, bike, [START], can_end=can_end))
    assert chain is not None and chain.end == Spot(SpotKind.PARKED, GOAL - 1)
    assert time == rental_s(9) + walk_s(1)


def test_no_ride_through_zone_on_the_direct_line_forces_a_detour(
    search: RentalSearch, walk: StreetGraph, bike: StreetGraph
) -> None:
    blocked = np.zeros(bike.n_edges, dtype=bool)
    zone = [edge_between(bike, 26, 27), edge_between(bike, 27, 26)]
    blocked[zone] = True
    time, chain = trip(search, walk, make_fleet(walk, bike, [START], blocked=blocked))
    assert chain is not None and not set(chain.edges) & set(zone)
    assert time == rental_s(12)  # round the block: two blocks more
    assert chain.end == Spot(SpotKind.PARKED, GOAL)


def test_ride_edges_chain_from_the_pickup_to_the_end_in_travel_order(
    search: RentalSearch, walk: StreetGraph, bike: StreetGraph
) -> None:
    _, chain = trip(search, walk, make_fleet(walk, bike, [START]))
    assert chain is not None
    nodes = [int(bike.edge_tail[chain.edges[0]])] + [int(bike.edge_head[e]) for e in chain.edges]
    assert nodes == list(range(START, GOAL + 1))


def test_speed_limited_zone_slows_the_ride_or_sends_it_round(
    search: RentalSearch, walk: StreetGraph, bike: StreetGraph
) -> None:
    zone = [edge_between(bike, a, b) for c in range(25, 29) for a, b in ((c, c + 1), (c + 1, c))]

    def slowed(block_s: float) -> np.ndarray:
        times = bike.edge_time_s.copy()
        times[zone] = block_s
        return times

    # 25 s a block through four blocks: still faster than the two-block detour
    time, chain = trip(search, walk, make_fleet(walk, bike, [START], edge_time_s=slowed(25.0)))
    assert chain is not None and set(zone) & set(chain.edges)
    assert time == rental_s(6) + 4 * 25
    # 100 s a block: round the zone instead
    time, chain = trip(search, walk, make_fleet(walk, bike, [START], edge_time_s=slowed(100.0)))
    assert chain is not None and not set(zone) & set(chain.edges)
    assert time == rental_s(12)


def test_walk_and_ride_limits_bound_each_leg(
    search: RentalSearch, walk: StreetGraph, bike: StreetGraph
) -> None:
    fleet = make_fleet(walk, bike, [24])  # two blocks' walk; eight blocks' ride to the goal
    time, chain = trip(search, walk, fleet, max_walk_s=walk_s(2))
    assert time == walk_s(2) + rental_s(8)
    assert trip(search, walk, fleet, max_walk_s=walk_s(2) - 1)[1] is None
    # a ride one second short: park a block early and walk the last one
    time, chain = trip(search, walk, fleet, max_ride_s=8 * RIDE_BLOCK_S - 1)
    assert chain is not None and chain.end == Spot(SpotKind.PARKED, GOAL - 1)
    assert time == walk_s(2) + rental_s(7) + walk_s(1)
    # ... unless that walk is over the limit too
    assert trip(search, walk, fleet, max_walk_s=walk_s(1) - 1, max_ride_s=159)[1] is None
    # a slower walker takes twice as long on foot
    seeds, targets = at_nodes(walk, [START]), at_nodes(walk, [GOAL])
    slow = search.forward(seeds, fleet, targets, walk_speed_mps=1.33 / 2, **LIMITS)
    assert parts_add_up(slow, seeds, 0).walk_to_s == math.ceil(4 * WALK_BLOCK_S - 1e-6)


def test_seed_cost_counts_in_the_total_but_not_against_the_walk_limit(
    search: RentalSearch, walk: StreetGraph, bike: StreetGraph
) -> None:
    fleet = make_fleet(walk, bike, [24])
    seeds = at_nodes(walk, [START, START], cost_s=[5000.0, 100.0])
    times = search.forward(seeds, fleet, at_nodes(walk, [GOAL]), **LIMITS)
    chain = parts_add_up(times, seeds, 0)
    assert chain.seed == 1 and times.time_s[0] == 100 + walk_s(2) + rental_s(8)


def test_points_inside_blocks_and_on_the_same_street_as_a_vehicle(
    search: RentalSearch, walk: StreetGraph, bike: StreetGraph
) -> None:
    # the rider stands 30 m along the street 22 -> 23, 10 m off it; the scooter sits 60 m
    # further along the same street, reached directly along it (no detour via a corner)
    street = edge_between(walk, 22, 23)
    seeds = WalkPoints.of_arrays([street], [0.3], [10.0])
    fleet = make_fleet(walk, bike, [START])
    fleet = RentalFleet(
        **{
            **fleet.__dict__,
            "pickup_walk_edge": np.array([edge_between(walk, 23, 22)], dtype=np.int32),
            "pickup_walk_fraction": np.array([0.1]),
            "pickup_ride_node": np.array([23], dtype=np.int32),
            "pickup_ride_offset_m": np.array([10.0]),
        }
    )
    times = search.forward(seeds, fleet, at_nodes(walk, [GOAL]), **LIMITS)
    chain = parts_add_up(times, seeds, 0)
    assert chain.walk_to_s == math.ceil(10 / 1.33 + 0.6 * WALK_BLOCK_S)
    assert chain.rental_s == math.ceil(UNLOCK_S + 10 / 5.0 + 9 * RIDE_BLOCK_S + LOCK_S)
    assert chain.ride_m == pytest.approx(910.0)


def test_backward_gives_the_forward_time_on_the_same_pair(
    search: RentalSearch, walk: StreetGraph, bike: StreetGraph
) -> None:
    rng = np.random.default_rng(7)
    n = 12
    origins = WalkPoints.of_arrays(
        rng.integers(0, walk.n_edges, n), rng.random(n), rng.random(n) * 20.0
    )
    dests = WalkPoints.of_arrays(
        rng.integers(0, walk.n_edges, n), rng.random(n), rng.random(n) * 20.0
    )
    fleets = {
        "docked": make_fleet(walk, bike, [1, 14, 40, 52], dropoffs=[9, 21, 33, 45]),
        # ranges that never bind on this grid (the longest ride is 1400 m): where they do,
        # the two directions may keep different labels (see test_scooter_short_of_range...)
        "free": make_fleet(walk, bike, [1, 14, 40, 52], range_m=[3000.0, 1700.0, 1700.0, 5e3]),
    }
    reached = 0
    for fleet in fleets.values():
        for i in range(n):
            one_origin = WalkPoints.of_arrays(
                origins.edge[i : i + 1], origins.fraction[i : i + 1], origins.offset_m[i : i + 1]
            )
            one_dest = WalkPoints.of_arrays(
                dests.edge[i : i + 1], dests.fraction[i : i + 1], dests.offset_m[i : i + 1]
            )
            ahead = search.forward(one_origin, fleet, one_dest, **LIMITS)
            behind = search.backward(one_dest, fleet, one_origin, **LIMITS)
            assert ahead.time_s[0] == behind.time_s[0]
            if math.isfinite(ahead.time_s[0]):
                reached += 1
                there, back = parts_add_up(ahead, one_origin, 0), parts_add_up(behind, one_dest, 0)
                assert back.walk_to_s + back.rental_s + back.walk_from_s == ahead.time_s[0]
                assert (back.edges == ()) == (there.edges == ())
    assert reached == 2 * n


def test_chain_times_survive_the_next_search(
    search: RentalSearch, walk: StreetGraph, bike: StreetGraph
) -> None:
    seeds, targets = at_nodes(walk, [START]), at_nodes(walk, [GOAL])
    first = search.forward(seeds, make_fleet(walk, bike, [START]), targets, **LIMITS)
    before = first.chain(0)
    search.forward(at_nodes(walk, [54]), make_fleet(walk, bike, [44]), targets, **LIMITS)
    assert first.chain(0) == before


# --- Helsinki ------------------------------------------------------------------------------


def _exits(walk: StreetGraph, edge: int, fraction: float) -> list[tuple[int, float]]:
    """(node, seconds) from a point on `edge` to the ends of its street (walking forward)."""
    time, reverse = walk.edge_time_s, int(walk.edge_reverse[edge])
    out = [(int(walk.edge_head[edge]), (1 - fraction) * float(time[edge]))]
    if reverse >= 0:
        out.append((int(walk.edge_tail[edge]), fraction * float(time[reverse])))
    elif fraction <= 0:
        out.append((int(walk.edge_tail[edge]), 0.0))
    return out


def _entries(walk: StreetGraph, edge: int, fraction: float) -> list[tuple[int, float]]:
    """(node, seconds) from the ends of the street to a point on `edge`."""
    time, reverse = walk.edge_time_s, int(walk.edge_reverse[edge])
    out = [(int(walk.edge_tail[edge]), fraction * float(time[edge]))]
    if reverse >= 0:
        out.append((int(walk.edge_head[edge]), (1 - fraction) * float(time[reverse])))
    elif fraction >= 1:
        out.append((int(walk.edge_head[edge]), 0.0))
    return out


def _add_min(g: nx.DiGraph, u: object, x: object, w: float) -> None:
    """Add an oracle edge; of two between the same pair (parallel streets, both ends of a
    ring street) the cheaper one counts, as it does for the search.
    """
    if not g.has_edge(u, x) or g[u][x]["w"] > w:
        g.add_edge(u, x, w=w)


def test_helsinki_forward_times_match_a_three_layer_networkx_dijkstra(helsinki) -> None:
    """Brute force over an explicit graph: walk layer -> pickups -> ride layer -> walk layer.

    Limits are off (inf) so the graph needs no per-leg bookkeeping; ranges are inf. The
    search rounds each of its three legs up, so it is at most 3 s over the exact optimum.
    """
    walk, bike = helsinki.streets["walk"], helsinki.streets["bike"]
    rng = np.random.default_rng(3)
    picks = rng.choice(bike.n_nodes, 900, replace=False).astype(np.int32)
    edge, fraction, offset = helsinki.walk_index.snap_many(
        bike.node_lat[picks], bike.node_lon[picks]
    )
    ok = edge >= 0
    picks, edge, fraction, offset = picks[ok], edge[ok], fraction[ok], offset[ok]
    hop = rng.random(len(picks)) * 15.0
    blocked = rng.random(bike.n_edges) < 0.05
    can_end = rng.random(bike.n_nodes) < 0.7
    fleet = RentalFleet(
        profile="bike",
        docked=False,
        pickup_walk_edge=edge,
        pickup_walk_fraction=fraction,
        pickup_walk_offset_m=offset,
        pickup_ride_node=picks,
        pickup_ride_offset_m=hop,
        pickup_range_m=np.full(len(picks), np.inf),
        dropoff_walk_edge=np.zeros(0, dtype=np.int32),
        dropoff_walk_fraction=np.zeros(0),
        dropoff_walk_offset_m=np.zeros(0),
        dropoff_ride_node=np.zeros(0, dtype=np.int32),
        dropoff_ride_offset_m=np.zeros(0),
        node_can_end=can_end,
        edge_time_s=bike.edge_time_s * np.float32(1.25),
        edge_blocked=blocked,
        ride_speed_mps=4.5,
        unlock_s=30,
        lock_s=30,
    )
    search = RentalSearch(walk, {"bike": bike})
    to_walk = search._to_walk["bike"]  # the ride-node -> walk-node map under test as well
    v = 1.33
    g = nx.DiGraph()
    for layer in (0, 2):
        for e in range(walk.n_edges):
            tail, head = int(walk.edge_tail[e]), int(walk.edge_head[e])
            _add_min(g, (layer, tail), (layer, head), float(walk.edge_time_s[e]))
    for e in np.flatnonzero(~blocked):
        tail, head = int(bike.edge_tail[e]), int(bike.edge_head[e])
        _add_min(g, (1, tail), (1, head), float(fleet.edge_time_s[e]))
    for p in range(len(picks)):
        for node, s in _entries(walk, int(edge[p]), float(fraction[p])):
            _add_min(g, (0, node), ("p", p), s + offset[p] / v)
        _add_min(g, ("p", p), (1, int(picks[p])), 30 + hop[p] / 4.5)
    for n in np.flatnonzero(can_end):
        _add_min(g, (1, int(n)), (2, int(to_walk.walk_node[n])), 30 + to_walk.hop_m[n] / v)

    stops = StopTargets.of(helsinki.stop_snaps)
    chosen = rng.choice(len(stops.stops), 25, replace=False)
    origins, dests = chosen[:5], chosen[5:]
    targets = WalkPoints.of_arrays(stops.edge[dests], stops.fraction[dests], stops.offset_m[dests])
    for k, t in enumerate(dests):
        for node, s in _entries(walk, int(stops.edge[t]), float(stops.fraction[t])):
            _add_min(g, (2, node), ("t", k), s + stops.offset_m[t] / v)
    compared = 0
    for o in origins:
        seeds = WalkPoints.of_arrays(
            stops.edge[o : o + 1], stops.fraction[o : o + 1], stops.offset_m[o : o + 1]
        )
        found = search.forward(seeds, fleet, targets, max_walk_s=math.inf, max_ride_s=math.inf)
        g.add_node("s")
        for node, s in _exits(walk, int(stops.edge[o]), float(stops.fraction[o])):
            _add_min(g, "s", (0, node), s + stops.offset_m[o] / v)
        street, reverse = int(stops.edge[o]), int(walk.edge_reverse[stops.edge[o]])
        for p in np.flatnonzero((edge == street) | (edge == reverse)):  # on the origin's street
            at = fraction[p] if edge[p] == street else 1.0 - fraction[p]
            start = float(stops.fraction[o])
            if at >= start:
                along = (at - start) * float(walk.edge_time_s[street])
            elif reverse >= 0:
                along = (start - at) * float(walk.edge_time_s[reverse])
            else:
                continue
            _add_min(g, "s", ("p", int(p)), stops.offset_m[o] / v + along + offset[p] / v)
        exact = nx.single_source_dijkstra_path_length(g, "s", weight="w")
        g.remove_node("s")
        for k in range(len(dests)):
            best = exact.get(("t", k), math.inf)
            if math.isinf(best):
                assert math.isinf(found.time_s[k])
                continue
            compared += 1
            assert best - 1e-3 <= found.time_s[k] <= best + 3
            parts_add_up(found, seeds, k)
    assert compared >= 20

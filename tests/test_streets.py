"""Street graphs: the OSM profile rules, snapping, and the numba searches against networkx.

Two kinds of network: a small grid written here as OSM XML text, where every rule can be pinned
to a named way, and the real Helsinki extracts (built once, cached under
``.cache/test-streets/`` keyed by the input bytes and the build version), where the searches are
checked against networkx on random pairs.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import math
import os
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import shapely

from ingest import osm_streets
from ingest.osm_streets import (
    BUILD_VERSION,
    bike_rule,
    build_street_graph,
    car_rule,
    parse_maxspeed_kmh,
    street_graph_to_networkx,
    walk_rule,
)
from routing.errors import OutsideNetworkError
from routing.geo import LocalProjection, haversine_m
from routing.streets import Snap, StreetGraph, StreetIndex, StreetSearch

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
OSM_DIR = ROOT / "data" / "helsinki" / "osm"
CENTRE_PBF = OSM_DIR / "helsinki-centre-2024-08-15.osm.pbf"
ALPPILA_PBF = OSM_DIR / "helsinki-alppila-vallila-2024-01-26.osm.pbf"
HELSINKI_PBFS = (CENTRE_PBF, ALPPILA_PBF)
CACHE_DIR = ROOT / ".cache" / "test-streets"
CENTRE_BBOX = (24.892, 60.147, 24.990, 60.178)  # min_lon, min_lat, max_lon, max_lat
ALPPILA_BBOX = (24.918, 60.181, 24.956, 60.195)

# --- a small grid from text -------------------------------------------------------------
#
#   7 ---<--- 8 ---<--- 9 -- 14   (99 missing)   15 -- 16      7-8-9 oneway=-1
#   |         |steps    |
#   4 --->--- 5 --->--- 6 -- 13 (service, access=private)      4-5-6 oneway, bikes both ways
#   |     /   |footway  |
#   1 ------- 2 ------- 3 ====== 12 (motorway)                  1-2-3 maxspeed=50
#   1-5: footway with bicycle=designated; 9-17: residential with foot=no, bicycle=no;
#   20-21: a detached footway; 30-33: a square drawn as area=yes

GRID_NODES = {
    1: (60.000, 25.000), 2: (60.000, 25.002), 3: (60.000, 25.004),
    4: (60.001, 25.000), 5: (60.001, 25.002), 6: (60.001, 25.004),
    7: (60.002, 25.000), 8: (60.002, 25.002), 9: (60.002, 25.004),
    12: (60.000, 25.008), 13: (60.001, 25.006), 14: (60.003, 25.004),
    15: (60.004, 25.004), 16: (60.005, 25.004), 17: (60.002, 25.006),
    20: (60.010, 25.000), 21: (60.010, 25.001),
    30: (60.0004, 25.0005), 31: (60.0004, 25.0015), 32: (60.0008, 25.0015), 33: (60.0008, 25.0005),
}  # fmt: skip
GRID_WAYS: list[tuple[int, list[int], dict[str, str]]] = [
    (101, [1, 2, 3], {"highway": "residential", "maxspeed": "50"}),
    (102, [4, 5, 6], {"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"}),
    (103, [7, 8, 9], {"highway": "residential", "oneway": "-1"}),
    (104, [1, 4, 7], {"highway": "residential"}),
    (105, [3, 6, 9], {"highway": "residential"}),
    (106, [2, 5], {"highway": "footway"}),
    (107, [5, 8], {"highway": "steps"}),
    (108, [3, 12], {"highway": "motorway"}),
    (109, [6, 13], {"highway": "service", "access": "private"}),
    (110, [9, 14, 99, 15, 16], {"highway": "residential"}),
    (111, [1, 5], {"highway": "footway", "bicycle": "designated"}),
    (112, [20, 21], {"highway": "footway"}),
    (113, [30, 31, 32, 33, 30], {"highway": "pedestrian", "area": "yes"}),
    (114, [9, 17], {"highway": "residential", "foot": "no", "bicycle": "no"}),
]


def grid_osm_xml() -> str:
    """The grid as OSM XML; node 99 is referenced but absent, as in a clipped extract."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    lines += [f'<node id="{n}" lat="{la}" lon="{lo}"/>' for n, (la, lo) in GRID_NODES.items()]
    for way_id, refs, tags in GRID_WAYS:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tag_xml = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'<way id="{way_id}">{nds}{tag_xml}</way>')
    lines.append("</osm>")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("grid") / "grid.osm"
    path.write_text(grid_osm_xml(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def grid(grid_file: Path) -> dict[str, StreetGraph]:
    """Every profile of the grid with island pruning off, so each rule is visible alone."""
    return {
        p: build_street_graph([grid_file], p, min_component_nodes=1) for p in osm_streets.PROFILES
    }


def edges_between(graph: StreetGraph, osm_u: int, osm_v: int) -> list[int]:
    """Edges running from OSM node osm_u to OSM node osm_v (both must be graph nodes)."""
    index = {int(o): i for i, o in enumerate(graph.node_osm_id)}
    if osm_u not in index or osm_v not in index:
        return []
    u, v = index[osm_u], index[osm_v]
    return [e for e in range(graph.edge_ptr[u], graph.edge_ptr[u + 1]) if graph.edge_head[e] == v]


def osm_nodes(graph: StreetGraph) -> set[int]:
    return {int(o) for o in graph.node_osm_id}


# --- profile rules on the grid ---------------------------------------------------------------


def test_footway_and_steps_are_walk_only_and_steps_are_slower(grid: dict[str, StreetGraph]) -> None:
    walk = grid["walk"]
    footway, steps = edges_between(walk, 2, 5), edges_between(walk, 5, 8)
    assert footway and steps
    assert walk.edge_time_s[footway[0]] == pytest.approx(walk.edge_length_m[footway[0]] / 1.33)
    assert walk.edge_time_s[steps[0]] == pytest.approx(walk.edge_length_m[steps[0]] / 0.65)
    for profile in ("bike", "car"):
        assert not edges_between(grid[profile], 2, 5)
        assert not edges_between(grid[profile], 5, 8)


def test_footway_with_bicycle_designated_is_ridden_at_full_speed(
    grid: dict[str, StreetGraph],
) -> None:
    bike = grid["bike"]
    (edge,) = edges_between(bike, 1, 5)
    assert bike.edge_time_s[edge] == pytest.approx(bike.edge_length_m[edge] / 4.5)
    assert not edges_between(grid["car"], 1, 5)


def test_motorway_is_car_only_and_one_way(grid: dict[str, StreetGraph]) -> None:
    assert edges_between(grid["car"], 3, 12)
    assert not edges_between(grid["car"], 12, 3)
    assert 12 not in osm_nodes(grid["walk"]) | osm_nodes(grid["bike"])


def test_oneway_binds_cars_but_not_walkers_and_oneway_bicycle_no_frees_bikes(
    grid: dict[str, StreetGraph],
) -> None:
    car, bike, walk = grid["car"], grid["bike"], grid["walk"]
    # 4-5-6 oneway=yes: 5 is no junction for cars, so the car edge runs 4 -> 6
    assert edges_between(car, 4, 6) and not edges_between(car, 6, 4)
    assert all(car.edge_reverse[e] == -1 for e in edges_between(car, 4, 6))
    assert edges_between(bike, 4, 5) and edges_between(bike, 5, 4)
    (forward,) = edges_between(walk, 4, 5)
    (backward,) = edges_between(walk, 5, 4)
    assert walk.edge_reverse[forward] == backward and walk.edge_reverse[backward] == forward
    # 7-8-9 oneway=-1: travel runs against the node order, for bikes too
    assert edges_between(car, 9, 7) and not edges_between(car, 7, 9)
    assert edges_between(bike, 9, 7) and not edges_between(bike, 7, 9)
    assert np.all(walk.edge_reverse >= 0)


def test_access_private_foot_no_and_area_yes_ways_are_dropped(
    grid: dict[str, StreetGraph],
) -> None:
    for profile in osm_streets.PROFILES:
        nodes = osm_nodes(grid[profile])
        assert 13 not in nodes  # access=private
        assert not {30, 31, 32, 33} & nodes  # area=yes
    assert edges_between(grid["car"], 9, 17)
    assert 17 not in osm_nodes(grid["walk"]) | osm_nodes(grid["bike"])


def test_way_through_a_missing_node_is_split_at_the_gap(grid: dict[str, StreetGraph]) -> None:
    walk = grid["walk"]
    assert edges_between(walk, 9, 14) and edges_between(walk, 15, 16)
    assert not edges_between(walk, 14, 15) and not edges_between(walk, 14, 16)
    search = StreetSearch(walk)
    (start,) = edges_between(walk, 9, 14)
    (end,) = edges_between(walk, 15, 16)
    times = search.times_to(
        node_snap(walk, start), np.array([end]), np.array([0.5]), np.array([0.0]), max_time_s=1e9
    )
    assert np.isinf(times[0])


def test_islands_smaller_than_the_limit_are_pruned(
    grid_file: Path, grid: dict[str, StreetGraph]
) -> None:
    assert {20, 21} <= osm_nodes(grid["walk"])
    pruned = build_street_graph([grid_file], "walk", min_component_nodes=3)
    assert not {20, 21, 15, 16} & osm_nodes(pruned)
    assert {1, 5, 9} <= osm_nodes(pruned)
    car = build_street_graph([grid_file], "car", min_component_nodes=2)
    assert 12 not in osm_nodes(car)  # a one-way dead end: nothing snapped there could leave


def test_graph_round_trips_through_arrays_and_networkx(grid: dict[str, StreetGraph]) -> None:
    walk = grid["walk"]
    again = StreetGraph.from_arrays("walk", {k: v.copy() for k, v in walk.arrays().items()})
    for name, array in walk.arrays().items():
        np.testing.assert_array_equal(getattr(again, name), array)
    as_nx = street_graph_to_networkx(walk)
    assert as_nx.number_of_nodes() == walk.n_nodes
    assert as_nx.number_of_edges() == walk.n_edges
    # polylines run tail -> head
    tails = walk.edge_tail
    starts, ends = walk.geom_ptr[:-1], walk.geom_ptr[1:] - 1
    np.testing.assert_array_equal(walk.geom_lat[starts], walk.node_lat[tails])
    np.testing.assert_array_equal(walk.geom_lat[ends], walk.node_lat[walk.edge_head])


def test_from_arrays_rejects_inconsistent_lengths(grid: dict[str, StreetGraph]) -> None:
    arrays = dict(grid["walk"].arrays())
    arrays["edge_time_s"] = arrays["edge_time_s"][:-1]
    with pytest.raises(ValueError, match="edge_time_s"):
        StreetGraph.from_arrays("walk", arrays)


@pytest.mark.parametrize(
    ("value", "kmh"),
    [("50", 50.0), ("30 mph", 30 * 1.609344), ("FI:urban", 50.0), ("40;30", 30.0),
     ("walk", 6.0), ("none", None), ("signals", None), (None, None)],
)  # fmt: skip
def test_maxspeed_values_are_read_as_kmh(value: str | None, kmh: float | None) -> None:
    assert parse_maxspeed_kmh(value) == (pytest.approx(kmh) if kmh is not None else None)


def test_way_rules_follow_access_and_contraflow_tags() -> None:
    assert walk_rule({"highway": "service", "access": "private", "foot": "yes"}) is not None
    assert walk_rule({"highway": "trunk", "motorroad": "yes"}) is None
    assert walk_rule({"highway": "motorway_link"}) is None
    assert bike_rule({"highway": "steps", "bicycle": "yes"}) is None
    assert bike_rule({"highway": "footway"}) is None
    assert bike_rule({"highway": "pedestrian", "bicycle": "dismount"}).speed_mps == 1.2
    contraflow = {"highway": "residential", "oneway": "yes", "cycleway": "opposite_lane"}
    assert bike_rule(contraflow).direction == 0
    assert car_rule(contraflow).direction == 1
    assert car_rule({"highway": "residential", "junction": "roundabout"}).direction == 1
    assert car_rule({"highway": "residential", "motor_vehicle": "no"}) is None
    assert car_rule({"highway": "residential", "maxspeed": "40"}).speed_mps == pytest.approx(
        40 / 3.6 * 0.8
    )


# --- searches on the grid ---------------------------------------------------------------------


def node_snap(graph: StreetGraph, edge: int, fraction: float = 0.0, offset_m: float = 0.0) -> Snap:
    """A Snap at a fraction of an edge, as if a coordinate had been snapped there."""
    lo = graph.geom_ptr[edge]
    return Snap(
        lat=float(graph.geom_lat[lo]),
        lon=float(graph.geom_lon[lo]),
        edge=edge,
        fraction=fraction,
        offset_m=offset_m,
        snapped_lat=float(graph.geom_lat[lo]),
        snapped_lon=float(graph.geom_lon[lo]),
    )


def test_origin_and_target_on_one_two_way_edge_meet_along_it(grid: dict[str, StreetGraph]) -> None:
    walk = grid["walk"]
    search = StreetSearch(walk)
    (edge,) = edges_between(walk, 4, 5)
    reverse = int(walk.edge_reverse[edge])
    origin = node_snap(walk, edge, 0.2)
    ahead = search.times_to(
        origin, np.array([edge]), np.array([0.7]), np.array([0.0]), max_time_s=1e9
    )
    assert ahead[0] == pytest.approx(0.5 * walk.edge_time_s[edge])
    # behind the origin, and the same point named on the reverse edge (fraction 1 - 0.1)
    behind = search.times_to(
        origin,
        np.array([edge, reverse]),
        np.array([0.1, 0.9]),
        np.array([0.0, 0.0]),
        max_time_s=1e9,
    )
    np.testing.assert_allclose(behind, 0.1 * float(walk.edge_time_s[reverse]), rtol=1e-9)
    path = search.route(origin, node_snap(walk, edge, 0.7))
    assert path is not None
    assert path.edges.tolist() == [edge]
    assert path.length_m == pytest.approx(0.5 * walk.edge_length_m[edge])


def test_target_behind_origin_on_one_way_edge_goes_round_the_block(
    grid: dict[str, StreetGraph],
) -> None:
    car = grid["car"]
    search = StreetSearch(car)
    (edge,) = edges_between(car, 4, 6)
    origin = node_snap(car, edge, 0.7)
    target = node_snap(car, edge, 0.2)
    (time_s,) = search.times_to(
        origin, np.array([edge]), np.array([0.2]), np.array([0.0]), max_time_s=1e9
    )
    as_nx = street_graph_to_networkx(car)
    loop = nx.shortest_path_length(
        as_nx, int(car.edge_head[edge]), int(car.edge_tail[edge]), weight="edge_time_s"
    )
    expected = (0.3 + 0.2) * float(car.edge_time_s[edge]) + loop
    assert time_s == pytest.approx(expected, rel=1e-9)
    path = search.route(origin, target)
    assert path is not None
    assert path.time_s == pytest.approx(expected, rel=1e-9)
    assert path.edges[0] == edge and path.edges[-1] == edge and len(path.edges) > 2


def test_offsets_are_walked_and_speed_factor_scales_only_the_network(
    grid: dict[str, StreetGraph],
) -> None:
    car = grid["car"]
    search = StreetSearch(car)
    (edge,) = edges_between(car, 4, 6)
    origin = node_snap(car, edge, 0.0, offset_m=13.3)
    targets = (np.array([edge]), np.array([1.0]), np.array([26.6]))
    base = search.times_to(origin, *targets, max_time_s=1e9)
    slow = search.times_to(
        origin, *targets, max_time_s=1e9, speed_factor=2.0, offset_speed_mps=1.33
    )
    network = float(car.edge_time_s[edge])
    assert base[0] == pytest.approx(network + 30.0)
    assert slow[0] == pytest.approx(2 * network + 30.0)
    assert np.isinf(search.times_to(origin, *targets, max_time_s=network)[0])


# --- the Helsinki network -----------------------------------------------------------------------


def _input_digest() -> str:
    """Hash of every input byte, the build version and the build code: the cache key."""
    digest = hashlib.sha256(BUILD_VERSION.encode())
    digest.update(Path(osm_streets.__file__).read_bytes())
    for path in HELSINKI_PBFS:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def helsinki_graph(profile: str) -> StreetGraph:
    """The merged Helsinki graph of one profile, from the cache or built (about 20 s)."""
    if not all(p.is_file() for p in HELSINKI_PBFS):
        pytest.skip("Helsinki OSM extracts not present")
    cache = CACHE_DIR / f"{profile}-{_input_digest()}.npz"
    if cache.is_file():
        with np.load(cache) as arrays:
            return StreetGraph.from_arrays(profile, arrays)
    graph = build_street_graph(HELSINKI_PBFS, profile)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = cache.with_name(f"{cache.stem}.{os.getpid()}.partial.npz")
    np.savez(partial, **graph.arrays())
    partial.replace(cache)  # atomic, so a parallel run never reads half a file
    for stale in CACHE_DIR.glob(f"{profile}-*.npz"):
        if stale != cache and ".partial." not in stale.name:
            stale.unlink(missing_ok=True)
    log.info("cached %s street graph at %s", profile, cache)
    return graph


@pytest.fixture(scope="session")
def walk() -> StreetGraph:
    return helsinki_graph("walk")


@pytest.fixture(scope="session")
def bike() -> StreetGraph:
    return helsinki_graph("bike")


@pytest.fixture(scope="session")
def car() -> StreetGraph:
    return helsinki_graph("car")


@functools.cache
def index_of(graph: StreetGraph) -> StreetIndex:
    return StreetIndex(graph)


@functools.cache
def oracle_of(graph: StreetGraph) -> nx.MultiDiGraph:
    return street_graph_to_networkx(graph)


def path_length_m(graph: StreetGraph, as_nx: nx.MultiDiGraph, nodes: list[int]) -> float:
    """Length of a node path, taking the fastest of parallel edges as Dijkstra does."""
    total = 0.0
    for u, v in itertools.pairwise(nodes):
        fastest = min(as_nx[u][v].values(), key=lambda d: d["edge_time_s"])
        total += fastest["length_m"]
    return total


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["walk", "car"])
def test_search_times_and_route_lengths_match_networkx_dijkstra(profile: str) -> None:
    graph = helsinki_graph(profile)
    as_nx = oracle_of(graph)
    search = StreetSearch(graph)
    rng = np.random.default_rng(20240815)
    out_degree = np.diff(graph.edge_ptr)
    candidates = np.flatnonzero(out_degree > 0)
    in_edge = np.full(graph.n_nodes, -1, dtype=np.int64)
    in_edge[graph.edge_head] = np.arange(graph.n_edges)
    checked = 0
    for source in rng.choice(candidates, size=40, replace=False):
        expected, paths = nx.single_source_dijkstra(as_nx, int(source), weight="edge_time_s")
        reachable = np.array(sorted(expected), dtype=np.int64)
        # five reachable targets and one anywhere (the extracts are separate components)
        targets = np.r_[rng.choice(reachable, size=5), rng.choice(candidates, size=1)]
        # name each target as the start of an outgoing edge or the end of an incoming one
        use_in = (rng.random(len(targets)) < 0.5) & (in_edge[targets] >= 0)
        t_edge = np.where(use_in, in_edge[targets], graph.edge_ptr[targets]).astype(np.int32)
        t_fraction = np.where(use_in, 1.0, 0.0)
        origin = node_snap(graph, int(graph.edge_ptr[source]))
        times = search.times_to(
            origin, t_edge, t_fraction, np.zeros(len(targets)), max_time_s=math.inf
        )
        for target, time_s, edge, fraction in zip(targets, times, t_edge, t_fraction, strict=True):
            want = expected.get(int(target), math.inf)
            if math.isinf(want):
                assert math.isinf(time_s)
                continue
            assert time_s == pytest.approx(want, rel=1e-6, abs=1e-6)
            path = search.route(origin, node_snap(graph, int(edge), float(fraction)))
            assert path is not None
            assert path.time_s == pytest.approx(want, rel=1e-6, abs=1e-6)
            nx_path = paths[int(target)]
            assert path.length_m == pytest.approx(
                path_length_m(graph, as_nx, nx_path), rel=1e-6, abs=1e-6
            )
            checked += 1
    assert checked >= 200


@pytest.mark.slow
def test_bounded_search_keeps_exact_times_within_the_limit_and_drops_the_rest(
    walk: StreetGraph,
) -> None:
    search = StreetSearch(walk)
    origin = index_of(walk).snap(60.1699, 24.9384)  # Helsinki central railway station
    rng = np.random.default_rng(7)
    lat = rng.uniform(60.150, 60.178, 3000)
    lon = rng.uniform(24.900, 24.985, 3000)
    edge, fraction, offset = index_of(walk).snap_many(lat, lon, max_snap_m=100.0)
    full = search.times_to(origin, edge, fraction, offset, max_time_s=math.inf)
    bounded = search.times_to(origin, edge, fraction, offset, max_time_s=600.0)
    within = full <= 600.0
    assert 50 < within.sum() < len(full) - 50
    np.testing.assert_allclose(bounded[within], full[within], rtol=1e-12)
    assert np.all(np.isinf(bounded[~within]))


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["walk", "car"])
def test_snap_picks_the_nearest_edge_by_brute_force(profile: str) -> None:
    graph = helsinki_graph(profile)
    index = index_of(graph)
    min_lon, min_lat, max_lon, max_lat = graph.bbox
    projection = LocalProjection((min_lat + max_lat) / 2, (min_lon + max_lon) / 2)
    x, y = projection.to_xy(graph.geom_lat, graph.geom_lon)
    counts = np.diff(graph.geom_ptr)
    lines = shapely.linestrings(
        np.column_stack([x, y]), indices=np.repeat(np.arange(graph.n_edges), counts)
    )
    rng = np.random.default_rng(3)
    lat = rng.uniform(min_lat, max_lat, 200)
    lon = rng.uniform(min_lon, max_lon, 200)
    many_edge, many_fraction, many_offset = index.snap_many(lat, lon, max_snap_m=1e6)
    for i in range(len(lat)):
        px, py = projection.to_xy(lat[i], lon[i])
        distances = shapely.distance(shapely.points(float(px), float(py)), lines)
        snap = index.snap(float(lat[i]), float(lon[i])) if distances.min() <= 500 else None
        if snap is None:
            with pytest.raises(OutsideNetworkError):
                index.snap(float(lat[i]), float(lon[i]))
            continue
        assert snap.offset_m == pytest.approx(distances.min(), abs=1e-6)
        assert distances[snap.edge] == pytest.approx(distances.min(), abs=1e-6)
        assert haversine_m(lat[i], lon[i], snap.snapped_lat, snap.snapped_lon) == pytest.approx(
            snap.offset_m, rel=1e-3, abs=0.05
        )
        assert (many_edge[i], many_fraction[i], many_offset[i]) == pytest.approx(
            (snap.edge, snap.fraction, snap.offset_m)
        )


@pytest.mark.slow
def test_point_far_outside_raises_naming_the_covered_area(walk: StreetGraph) -> None:
    index = index_of(walk)
    with pytest.raises(OutsideNetworkError) as raised:
        index.snap(60.45, 25.40)  # Porvoo, 50 km east
    min_lon, min_lat, max_lon, max_lat = walk.bbox
    assert raised.value.bbox == walk.bbox
    assert raised.value.distance_m > 20_000
    message = str(raised.value)
    assert f"lat {min_lat:.4f}..{max_lat:.4f}" in message
    assert f"lon {min_lon:.4f}..{max_lon:.4f}" in message
    edge, fraction, offset = index.snap_many(np.array([60.45, 60.17]), np.array([25.40, 24.94]))
    assert edge[0] == -1 and math.isinf(offset[0]) and math.isnan(fraction[0])
    assert edge[1] >= 0


def _nearest_node(graph: StreetGraph, bbox: tuple[float, float, float, float]) -> int:
    min_lon, min_lat, max_lon, max_lat = bbox
    inside = np.flatnonzero(
        (graph.node_lon > min_lon) & (graph.node_lon < max_lon)
        & (graph.node_lat > min_lat) & (graph.node_lat < max_lat)
    )  # fmt: skip
    assert len(inside) > 0, f"no node inside {bbox}"
    centre_lat, centre_lon = (min_lat + max_lat) / 2, (min_lon + max_lon) / 2
    d = haversine_m(graph.node_lat[inside], graph.node_lon[inside], centre_lat, centre_lon)
    return int(inside[np.argmin(d)])


@pytest.mark.slow
def test_both_extracts_are_kept_as_separate_walk_components(walk: StreetGraph) -> None:
    search = StreetSearch(walk)
    centre = _nearest_node(walk, CENTRE_BBOX)
    alppila = _nearest_node(walk, ALPPILA_BBOX)
    all_edges = walk.edge_ptr[:-1][np.diff(walk.edge_ptr) > 0].astype(np.int32)
    zeros = np.zeros(len(all_edges))
    reached = {}
    for name, node in (("centre", centre), ("alppila", alppila)):
        times = search.times_to(
            node_snap(walk, int(walk.edge_ptr[node])), all_edges, zeros, zeros, max_time_s=math.inf
        )
        reached[name] = np.isfinite(times)
        assert reached[name].sum() > 1000, f"{name} component is tiny"
    assert not (reached["centre"] & reached["alppila"]).any()
    assert (
        search.route(
            node_snap(walk, int(walk.edge_ptr[centre])),
            node_snap(walk, int(walk.edge_ptr[alppila])),
        )
        is None
    )


def _osm_segment_midpoints(
    highways: set[str],
) -> tuple[np.ndarray, np.ndarray, list[dict[str, str]]]:
    """Midpoints of every segment of the real ways with those highway values, with the tags."""
    import osmium

    lat: list[float] = []
    lon: list[float] = []
    tags: list[dict[str, str]] = []
    for path in HELSINKI_PBFS:
        for obj in osmium.FileProcessor(
            str(path), osmium.osm.NODE | osmium.osm.WAY
        ).with_locations():
            if not obj.is_way() or obj.tags.get("highway") not in highways:
                continue
            way_tags = {t.k: t.v for t in obj.tags}
            nodes = [(n.lat, n.lon) for n in obj.nodes if n.location.valid()]
            for (lat1, lon1), (lat2, lon2) in itertools.pairwise(nodes):
                lat.append((lat1 + lat2) / 2)
                lon.append((lon1 + lon2) / 2)
                tags.append(way_tags)
    return np.array(lat), np.array(lon), tags


ON_EDGE_M = 0.05


@pytest.mark.slow
def test_real_steps_and_footways_are_walked_but_steps_never_driven(
    walk: StreetGraph, car: StreetGraph
) -> None:
    lat, lon, tags = _osm_segment_midpoints({"steps", "footway"})
    walkable = np.array([walk_rule(t) is not None for t in tags])
    steps = np.array([t["highway"] == "steps" for t in tags])
    _, _, walk_offset = index_of(walk).snap_many(lat, lon)
    _, _, car_offset = index_of(car).snap_many(lat, lon)
    # a few sit on islands pruned as too small; nearly all walkable ones are on the walk graph
    assert (walk_offset[walkable & steps] < ON_EDGE_M).mean() > 0.95
    assert (walk_offset[walkable & ~steps] < ON_EDGE_M).mean() > 0.95
    # (a footway crossing's midpoint can lie on the road it crosses, so only steps here)
    assert steps.sum() > 1000
    assert (car_offset[steps] < ON_EDGE_M).sum() == 0


@pytest.mark.slow
def test_real_motorways_are_never_walked_or_cycled(walk: StreetGraph, bike: StreetGraph) -> None:
    lat, lon, tags = _osm_segment_midpoints({"motorway", "motorway_link"})
    assert len(lat) > 0, "the extracts have motorway segments"
    assert all(car_rule(t) is not None for t in tags)
    # (the car graph keeps few of them: these carriageways run out of the extract one-way,
    # so island pruning drops them as places a car could never leave)
    for graph in (walk, bike):
        _, _, offset = index_of(graph).snap_many(lat, lon)
        assert (offset < ON_EDGE_M).sum() == 0, f"{graph.profile} uses a motorway"


def _first_segment_midpoints(
    graph: StreetGraph, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    lo = graph.geom_ptr[edges]
    return (
        (graph.geom_lat[lo] + graph.geom_lat[lo + 1]) / 2,
        (graph.geom_lon[lo] + graph.geom_lon[lo + 1]) / 2,
    )


@pytest.mark.slow
def test_real_one_way_streets_are_one_way_by_car_and_two_way_on_foot(
    walk: StreetGraph, car: StreetGraph, bike: StreetGraph
) -> None:
    one_way = np.flatnonzero(car.edge_reverse < 0)
    assert len(one_way) > 200
    lat, lon = _first_segment_midpoints(car, one_way)
    walk_edge, _, walk_offset = index_of(walk).snap_many(lat, lon)
    on_walk = walk_offset < ON_EDGE_M
    assert on_walk.sum() > 200
    assert np.all(walk.edge_reverse[walk_edge[on_walk]] >= 0)
    # some of them (oneway:bicycle=no, contraflow lanes) are two-way by bike
    bike_edge, _, bike_offset = index_of(bike).snap_many(lat, lon)
    on_bike = bike_offset < ON_EDGE_M
    assert (bike.edge_reverse[bike_edge[on_bike]] >= 0).sum() > 10


@pytest.mark.slow
def test_route_polyline_runs_from_origin_to_destination_and_matches_time(walk: StreetGraph) -> None:
    index, search = index_of(walk), StreetSearch(walk)
    origin = index.snap(60.16985, 24.93825)  # station square, a little off the kerb
    target = index.snap(60.16310, 24.94700)  # Esplanadi
    path = search.route(origin, target)
    assert path is not None
    assert (path.lats[0], path.lons[0]) == (origin.lat, origin.lon)
    assert (path.lats[-1], path.lons[-1]) == (target.lat, target.lon)
    drawn = float(haversine_m(path.lats[:-1], path.lons[:-1], path.lats[1:], path.lons[1:]).sum())
    assert drawn == pytest.approx(path.length_m, rel=5e-3)
    # walking: between 1.33 m/s everywhere and the slower speed of steps everywhere
    assert path.length_m / 1.33 - 1e-6 <= path.time_s <= path.length_m / 0.65 + 1e-6
    (one_to_many,) = search.times_to(
        origin,
        np.array([target.edge]),
        np.array([target.fraction]),
        np.array([target.offset_m]),
        max_time_s=math.inf,
    )
    assert path.time_s == pytest.approx(one_to_many, rel=1e-9)
    # the polyline follows the streets, never jumping: no step longer than the longest edge
    steps = haversine_m(path.lats[:-1], path.lons[:-1], path.lats[1:], path.lons[1:])
    assert steps.max() <= walk.edge_length_m[path.edges].max() + max(
        origin.offset_m, target.offset_m
    )


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["walk", "car"])
def test_reverse_search_equals_forward_searches_from_each_target(profile: str) -> None:
    graph = helsinki_graph(profile)
    index, search = index_of(graph), StreetSearch(graph)
    origin = index.snap(60.1672, 24.9440)
    rng = np.random.default_rng(11)
    lat = rng.uniform(60.160, 60.175, 40)
    lon = rng.uniform(24.925, 24.960, 40)
    edge, fraction, offset = index.snap_many(lat, lon)
    keep = edge >= 0
    edge, fraction, offset = edge[keep], fraction[keep], offset[keep]
    backward = search.times_to(origin, edge, fraction, offset, max_time_s=1800.0, reverse=True)
    origin_target = (
        np.array([origin.edge]),
        np.array([origin.fraction]),
        np.array([origin.offset_m]),
    )
    forward = np.array(
        [
            search.times_to(
                Snap(
                    lat[i],
                    lon[i],
                    int(edge[i]),
                    float(fraction[i]),
                    float(offset[i]),
                    lat[i],
                    lon[i],
                ),
                *origin_target,
                max_time_s=1800.0,
            )[0]
            for i in range(len(edge))
        ]
    )
    np.testing.assert_allclose(backward, forward, rtol=1e-9)
    assert np.isfinite(backward).sum() > len(backward) // 2
    if profile == "car":  # one-way streets make the two directions differ somewhere
        outward = search.times_to(origin, edge, fraction, offset, max_time_s=1800.0)
        assert not np.allclose(outward, backward)

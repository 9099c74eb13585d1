"""Build the walk, bike and car street graphs from OSM extracts and compile them to CSR arrays.

osmnx reads OSM XML, not PBF, and applies one generic set of rules to every way. So the build
runs in three steps, each with one job:

1. pyosmium streams every extract and keeps the ``highway`` ways the profile may use, with a
   per-profile speed and travel direction decided here (rules below). A way that references a
   node missing from its extract (clipped at the extract's edge) is split at each gap and runs
   shorter than two nodes are dropped, so no straight line is ever drawn across a gap. Each kept
   run becomes a way with a fresh id in one filtered OSM XML file, so several extracts merge into
   one network even when they do not touch (each keeps its own component).
2. osmnx builds the graph from that file (``graph_from_xml(..., simplify=False,
   retain_all=True)``). Every straight segment gets ``travel_time`` = length / the speed of the
   way it came from, islands too small to route on are pruned, and only then does
   ``simplify_graph`` merge segments, summing ``length`` and ``travel_time``. Letting
   ``graph_from_xml`` simplify directly would merge segments of ways with different speeds into
   one edge that keeps only a list of their tags, and the time could no longer be exact.
3. The graph is compiled into a `routing.streets.StreetGraph`: nodes renumbered along a
   Hilbert curve so that nearby nodes sit close together in memory (the search then touches
   few cache lines), edges sorted by tail node (CSR), polylines in one flat array, and each
   edge paired with its opposite-direction twin.

Profile rules (reasonable, not exhaustive)
-----------------------------------------
Every profile skips ``area=yes`` ways (squares drawn as outlines would route along their rim),
``highway`` values that are not (yet) usable (``construction``, ``proposed``, ``elevator`` ...)
and ways whose most specific access tag is ``no``, ``private``, ``use_sidepath``, ``permit`` or
``residents``. Access tags are read from the most to the least specific: walk ``foot`` >
``access``; bike ``bicycle`` > ``vehicle`` > ``access``; car ``motorcar`` > ``motor_vehicle`` >
``vehicle`` > ``access``, so ``access=private`` with ``foot=yes`` is walkable.

walk
    Streets, service roads, tracks, cycleways and every foot-only type (footway, pedestrian,
    path, steps, corridor, platform, bridleway), in both directions whatever ``oneway`` says.
    Never motorways, their links, or any way tagged ``motorroad=yes``. 1.33 m/s; steps
    0.65 m/s (climbing is slower than the horizontal length suggests).
bike
    Streets, service roads, tracks and cycleways at 4.5 m/s (16 km/h); living streets 3.0 m/s
    and tracks 3.5 m/s. Footway, pedestrian, path, bridleway and corridor only with an explicit
    ``bicycle=yes/permissive/designated`` (designated paths at full speed, others 3.0 m/s) or
    ``bicycle=dismount`` (pushed at 1.2 m/s). Never steps, motorways or ``motorroad=yes``.
    ``oneway=yes/1/true/-1/reverse`` and roundabouts are one-way unless ``oneway:bicycle=no``,
    a contraflow lane (``cycleway[:left|:right|:both]=opposite*`` or
    ``cycleway:<side>:oneway=no/-1``); ``oneway:bicycle=yes/-1`` makes any way one-way.
car
    Motorways, trunk to tertiary roads and their links, unclassified, residential, living
    streets, ``road`` and service roads other than ``service=emergency_access``. Speed is
    ``maxspeed`` (numbers, ``mph``, ``FI:urban``/``FI:rural``-style zone codes, ``walk``)
    or a highway-type default, times 0.8 because urban traffic does not drive at the limit
    (junctions, signals; the same reduction OSRM's car profile uses). One-way as for bikes
    without the bicycle exceptions; motorways and their links are one-way unless
    ``oneway=no``.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx
import numpy as np
import numpy.typing as npt
import osmium
import osmnx as ox

from ingest.errors import InputFileError, OsmError
from network.cache import STREETS_BUILD_VERSION
from routing.streets import StreetGraph

logger = logging.getLogger(__name__)

PROFILES = ("walk", "bike", "car")
#: the version of these rules and of the compiled layout; it lives in `network.cache`, next
#: to the timetable compiler's, because the cache key is computed there without this module
BUILD_VERSION = STREETS_BUILD_VERSION

WALK_SPEED_MPS = 1.33
WALK_STEPS_SPEED_MPS = 0.65
BIKE_SPEED_MPS = 4.5
BIKE_SHARED_SPEED_MPS = 3.0
BIKE_TRACK_SPEED_MPS = 3.5
BIKE_PUSHED_SPEED_MPS = 1.2
CAR_SPEED_FRACTION = 0.8

MIN_COMPONENT_NODES = 10
"""Strongly connected pieces smaller than this (OSM nodes) are dropped: a coordinate snapped
onto one (a detached footway stub, a one-way lane leaving a clipped extract) could reach almost
nothing, and every query starting there would silently fail."""

_DENY_VALUES = frozenset({"no", "private", "use_sidepath", "permit", "residents"})
_ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
_ONEWAY_BACKWARD = frozenset({"-1", "reverse"})
_ONEWAY_NO = frozenset({"no", "false", "0"})
_BIKE_EXPLICIT = frozenset({"yes", "permissive", "designated"})

_WALK_HIGHWAYS = frozenset(
    {
        "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link",
        "tertiary", "tertiary_link", "unclassified", "residential", "living_street", "service",
        "road", "track", "cycleway", "footway", "pedestrian", "path", "steps", "corridor",
        "platform", "bridleway",
    }
)  # fmt: skip
_BIKE_ROADS = frozenset(
    {
        "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link",
        "tertiary", "tertiary_link", "unclassified", "residential", "living_street", "service",
        "road", "track", "cycleway",
    }
)  # fmt: skip
_BIKE_IF_TAGGED = frozenset({"footway", "pedestrian", "path", "bridleway", "corridor"})
_CAR_DEFAULT_KMH: Mapping[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 50.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 40.0,
    "residential": 30.0,
    "living_street": 20.0,
    "service": 20.0,
    "road": 30.0,
}
_ZONE_KMH: Mapping[str, float] = {
    "urban": 50.0,
    "rural": 80.0,
    "motorway": 120.0,
    "trunk": 100.0,
    "living_street": 20.0,
    "walk": 6.0,
}
_MAXSPEED_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$")
_MPH_TO_KMH = 1.609344


@dataclass(frozen=True, slots=True)
class WayRule:
    """How one profile may use one OSM way."""

    speed_mps: float
    direction: int  # 0 both ways, 1 along the node order only, -1 against it only


def parse_maxspeed_kmh(value: str | None) -> float | None:
    """Read an OSM ``maxspeed`` value; None when it names no usable speed (``none``, ``signals``).

    Several values separated by ``;`` (lanes or times of day) give the lowest, the cautious
    choice for a travel-time estimate.
    """
    if not value:
        return None
    speeds: list[float] = []
    for part in value.split(";"):
        text = part.strip().lower()
        match = _MAXSPEED_NUMBER.match(text)
        if match:
            number = float(match.group(1))
            speeds.append(number * _MPH_TO_KMH if match.group(2) == "mph" else number)
        elif text == "walk":
            speeds.append(_ZONE_KMH["walk"])
        elif ":" in text:  # country zone code such as FI:urban, DE:living_street
            zone = text.split(":", 1)[1]
            if zone in _ZONE_KMH:
                speeds.append(_ZONE_KMH[zone])
    positive = [s for s in speeds if s > 0]
    return min(positive) if positive else None


def _allowed(tags: Mapping[str, str], keys: Sequence[str]) -> bool | None:
    """Verdict of the most specific access tag present, None when none is tagged."""
    for key in keys:
        value = tags.get(key)
        if value is not None:
            return value.strip().lower() not in _DENY_VALUES
    return None


def _oneway_direction(tags: Mapping[str, str], *, implied: bool) -> int:
    """Direction allowed by ``oneway``/``junction``; ``implied`` makes untagged ways one-way."""
    oneway = tags.get("oneway", "").strip().lower()
    if oneway in _ONEWAY_FORWARD:
        return 1
    if oneway in _ONEWAY_BACKWARD:
        return -1
    if oneway in _ONEWAY_NO:
        return 0
    if tags.get("junction") in ("roundabout", "circular"):
        return 1
    return 1 if implied else 0


def walk_rule(tags: Mapping[str, str]) -> WayRule | None:
    """Decide how a way may be walked (rules in the module docstring); None if not at all."""
    highway = tags.get("highway")
    if highway not in _WALK_HIGHWAYS or tags.get("area") == "yes":
        return None
    if tags.get("motorroad") == "yes" or _allowed(tags, ("foot", "access")) is False:
        return None
    speed = WALK_STEPS_SPEED_MPS if highway == "steps" else WALK_SPEED_MPS
    return WayRule(speed, 0)


def bike_rule(tags: Mapping[str, str]) -> WayRule | None:
    """Decide how a way may be cycled (rules in the module docstring); None if not at all."""
    if tags.get("area") == "yes" or tags.get("motorroad") == "yes":
        return None
    speed = _bike_speed(tags)
    if speed is None:
        return None
    return WayRule(speed, _bike_direction(tags))


def _bike_speed(tags: Mapping[str, str]) -> float | None:
    """Riding speed by highway type and ``bicycle`` tag; None where bikes may not go."""
    highway = tags.get("highway")
    if highway in _BIKE_ROADS:
        if _allowed(tags, ("bicycle", "vehicle", "access")) is False:
            return None
        if highway == "living_street":
            return BIKE_SHARED_SPEED_MPS
        if highway == "track":
            return BIKE_TRACK_SPEED_MPS
        return BIKE_SPEED_MPS
    if highway in _BIKE_IF_TAGGED:
        bicycle = tags.get("bicycle", "").strip().lower()
        if bicycle == "dismount":
            return BIKE_PUSHED_SPEED_MPS
        if bicycle in _BIKE_EXPLICIT:
            full = bicycle == "designated" and highway in ("path", "bridleway", "footway")
            return BIKE_SPEED_MPS if full else BIKE_SHARED_SPEED_MPS
    return None


def _bike_direction(tags: Mapping[str, str]) -> int:
    """The way's one-way rule for bikes: ``oneway:bicycle`` first, then a contraflow lane."""
    override = tags.get("oneway:bicycle", "").strip().lower()
    if override in _ONEWAY_NO:
        return 0
    if override in _ONEWAY_FORWARD:
        return 1
    if override in _ONEWAY_BACKWARD:
        return -1
    direction = _oneway_direction(tags, implied=False)
    if direction != 0 and _has_contraflow(tags):
        return 0
    return direction


def _has_contraflow(tags: Mapping[str, str]) -> bool:
    """Whether a one-way street has a lane or track that lets bikes ride against it."""
    for side in ("", ":left", ":right", ":both"):
        if tags.get(f"cycleway{side}", "").startswith("opposite"):
            return True
        if side and tags.get(f"cycleway{side}:oneway") in ("no", "-1"):
            return True
    return False


def car_rule(tags: Mapping[str, str]) -> WayRule | None:
    """Decide how a way may be driven (rules in the module docstring); None if not at all."""
    highway = tags.get("highway")
    if highway is None or highway not in _CAR_DEFAULT_KMH or tags.get("area") == "yes":
        return None
    if highway == "service" and tags.get("service") == "emergency_access":
        return None
    if _allowed(tags, ("motorcar", "motor_vehicle", "vehicle", "access")) is False:
        return None
    kmh = parse_maxspeed_kmh(tags.get("maxspeed")) or _CAR_DEFAULT_KMH[highway]
    implied = highway in ("motorway", "motorway_link")
    return WayRule(kmh / 3.6 * CAR_SPEED_FRACTION, _oneway_direction(tags, implied=implied))


_RULES = {"walk": walk_rule, "bike": bike_rule, "car": car_rule}


@dataclass(slots=True)
class _FilteredWays:
    """Profile-filtered ways of all extracts: run id -> nodes and speed, node id -> location."""

    node_lat: dict[int, float]
    node_lon: dict[int, float]
    run_nodes: list[list[int]]  # run (id = index + 1) -> OSM node ids, in travel order
    run_oneway: list[bool]
    run_speed_mps: list[float]
    dropped_refs: int = 0

    def add_way(self, nodes: Iterable[Any], rule: WayRule) -> None:
        """Keep one way's runs of located nodes (pyosmium node refs): a node missing from the
        extracts splits the way, so no straight line is drawn across the gap.
        """
        refs: list[tuple[int, float, float] | None] = []
        for node in nodes:
            if node.location.valid():
                refs.append((node.ref, node.lat, node.lon))
            else:
                refs.append(None)
                self.dropped_refs += 1
        for run in _split_at_missing(refs):
            ids = [ref for ref, _, _ in run]
            for ref, lat, lon in run:
                # the same node in two extracts keeps the first location seen
                self.node_lat.setdefault(ref, lat)
                self.node_lon.setdefault(ref, lon)
            if rule.direction == -1:
                ids.reverse()
            self.run_nodes.append(ids)
            self.run_oneway.append(rule.direction != 0)
            self.run_speed_mps.append(rule.speed_mps)


def _split_at_missing(
    refs: list[tuple[int, float, float] | None],
) -> Iterator[list[tuple[int, float, float]]]:
    """Yield the runs of consecutive present nodes; a missing node ends the current run."""
    run: list[tuple[int, float, float]] = []
    for ref in refs:
        if ref is None:
            if len(run) >= 2:
                yield run
            run = []
        else:
            run.append(ref)
    if len(run) >= 2:
        yield run


def _read_or_raise(objects: Iterable[Any], path: Path) -> Iterator[Any]:
    """Yield pyosmium's objects, turning its errors on a damaged file into an OsmError."""
    try:
        yield from objects
    except RuntimeError as exc:  # pyosmium reports corrupt or truncated input this way
        raise OsmError(f"{path}: not a readable OSM file ({exc})") from exc


def _filter_ways(pbf_paths: Sequence[Path], profile: str) -> _FilteredWays:
    """Stream the extracts and keep the profile's ways (pyosmium, node locations attached)."""
    rule_of = _RULES[profile]
    out = _FilteredWays({}, {}, [], [], [])
    seen_ways: set[int] = set()  # overlapping extracts share ways; count each once
    for path in pbf_paths:
        n_before = len(out.run_nodes)
        processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        for obj in _read_or_raise(processor.with_locations(), path):
            if not obj.is_way() or "highway" not in obj.tags or obj.id in seen_ways:
                continue
            seen_ways.add(obj.id)
            rule = rule_of({tag.k: tag.v for tag in obj.tags})
            if rule is not None:
                out.add_way(obj.nodes, rule)
        logger.info(
            "%s: %d %s ways/runs kept", Path(path).name, len(out.run_nodes) - n_before, profile
        )
    if out.dropped_refs:
        logger.info("dropped %d references to nodes missing from the extracts", out.dropped_refs)
    return out


def _write_osm_xml(ways: _FilteredWays, path: Path) -> None:
    """Write the filtered ways as OSM XML, ``oneway=yes`` already normalised to node order."""
    used: set[int] = set()
    for nodes in ways.run_nodes:
        used.update(nodes)
    with path.open("w", encoding="utf-8") as xml:
        xml.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="fairtrip">\n'
        )
        for ref in sorted(used):
            lat, lon = ways.node_lat[ref], ways.node_lon[ref]
            xml.write(f'<node id="{ref}" lat="{lat:.7f}" lon="{lon:.7f}"/>\n')
        for index, nodes in enumerate(ways.run_nodes):
            xml.write(f'<way id="{index + 1}">')
            xml.write("".join(f'<nd ref="{ref}"/>' for ref in nodes))
            xml.write('<tag k="highway" v="road"/>')
            if ways.run_oneway[index]:
                xml.write('<tag k="oneway" v="yes"/>')
            xml.write("</way>\n")
        xml.write("</osm>\n")


def _prune_islands(graph: networkx.MultiDiGraph, min_nodes: int) -> None:
    """Drop strongly connected pieces smaller than ``min_nodes`` (see MIN_COMPONENT_NODES)."""
    small: list[Any] = []
    for component in networkx.strongly_connected_components(graph):
        if len(component) < min_nodes:
            small.extend(component)
    graph.remove_nodes_from(small)
    logger.info("pruned %d nodes in pieces smaller than %d nodes", len(small), min_nodes)


def _osmnx_graph(
    ways: _FilteredWays, profile: str, xml_path: Path, min_component_nodes: int
) -> networkx.MultiDiGraph:
    """Build the simplified osmnx graph, with ``length`` and ``travel_time`` summed exactly."""
    _write_osm_xml(ways, xml_path)
    graph = ox.graph_from_xml(
        xml_path, bidirectional=profile == "walk", simplify=False, retain_all=True
    )
    for _, _, data in graph.edges(data=True):
        data["travel_time"] = data["length"] / ways.run_speed_mps[data["osmid"] - 1]
    if min_component_nodes > 1:
        _prune_islands(graph, min_component_nodes)
    if len(graph) == 0:
        raise OsmError(
            f"every {profile} street lies in a piece smaller than {min_component_nodes} nodes"
        )
    return ox.simplify_graph(
        graph, edge_attr_aggs={"length": sum, "travel_time": sum}, remove_rings=False
    )


def _hilbert_order(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Permutation sorting points along a Hilbert curve (nearby points get nearby ranks)."""
    bits = 16
    side = (1 << bits) - 1

    def scaled(values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        span = float(values.max() - values.min()) or 1.0
        cells: npt.NDArray[np.int64] = np.round((values - values.min()) / span * side).astype(
            np.int64
        )
        return cells

    x, y = scaled(lon), scaled(lat)
    d = np.zeros(len(x), dtype=np.int64)
    s = 1 << (bits - 1)
    while s > 0:
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx) ^ ry)
        # rotate the quadrant so the curve stays continuous
        flip = ~ry & rx
        x = np.where(flip, side - x, x)
        y = np.where(flip, side - y, y)
        swap = ~ry
        x, y = np.where(swap, y, x), np.where(swap, x, y)
        s >>= 1
    order: npt.NDArray[np.int64] = np.argsort(d, kind="stable")
    return order


def _compile(graph: networkx.MultiDiGraph, profile: str) -> StreetGraph:
    """Lay the osmnx graph out as arrays: nodes in Hilbert order, CSR edges, flat polylines."""
    osm_ids = np.fromiter(graph.nodes, dtype=np.int64, count=len(graph))
    lat = np.array([graph.nodes[n]["y"] for n in osm_ids], dtype=np.float64)
    lon = np.array([graph.nodes[n]["x"] for n in osm_ids], dtype=np.float64)
    order = _hilbert_order(lat, lon) if len(osm_ids) else np.zeros(0, dtype=np.int64)
    osm_ids, lat, lon = osm_ids[order], lat[order], lon[order]
    index_of = {int(osm): i for i, osm in enumerate(osm_ids)}

    tails: list[int] = []
    heads: list[int] = []
    lengths: list[float] = []
    times: list[float] = []
    shapes: list[npt.NDArray[np.float64]] = []  # edge -> (k, 2) lat/lon, tail -> head
    for u, v, data in graph.edges(data=True):
        tail, head = index_of[u], index_of[v]
        geometry = data.get("geometry")
        if geometry is None:
            shape = np.array([[lat[tail], lon[tail]], [lat[head], lon[head]]])
        else:
            shape = np.asarray(geometry.coords, dtype=np.float64)[:, ::-1].copy()
        tails.append(tail)
        heads.append(head)
        lengths.append(float(data["length"]))
        times.append(float(data["travel_time"]))
        shapes.append(shape)

    edge_order = np.lexsort((np.asarray(heads), np.asarray(tails))) if tails else np.zeros(0, int)
    tail_arr = np.asarray(tails, dtype=np.int64)[edge_order]
    head_arr = np.asarray(heads, dtype=np.int64)[edge_order]
    shapes = [shapes[i] for i in edge_order]
    n_nodes = len(osm_ids)
    edge_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail_arr, minlength=n_nodes), out=edge_ptr[1:])
    counts = np.array([len(s) for s in shapes], dtype=np.int64)
    geom_ptr = np.zeros(len(shapes) + 1, dtype=np.int64)
    np.cumsum(counts, out=geom_ptr[1:])
    flat = np.concatenate(shapes) if shapes else np.zeros((0, 2))

    return StreetGraph(
        profile=profile,
        node_lat=lat,
        node_lon=lon,
        edge_ptr=edge_ptr,
        edge_head=head_arr.astype(np.int32),
        edge_length_m=np.asarray(lengths, dtype=np.float32)[edge_order],
        edge_time_s=np.asarray(times, dtype=np.float32)[edge_order],
        edge_reverse=_pair_reverse_edges(tail_arr, head_arr, shapes),
        geom_ptr=geom_ptr,
        geom_lat=np.ascontiguousarray(flat[:, 0]),
        geom_lon=np.ascontiguousarray(flat[:, 1]),
        node_osm_id=osm_ids,
    )


def _pair_reverse_edges(
    tails: npt.NDArray[np.int64],
    heads: npt.NDArray[np.int64],
    shapes: Sequence[npt.NDArray[np.float64]],
) -> npt.NDArray[np.int32]:
    """Edge -> the edge running head -> tail along the same polyline reversed, or -1.

    Matching on the polyline, not just the node pair, keeps two different streets between
    the same two junctions (a block's two sides) from being taken as each other's reverse.
    """
    waiting: dict[tuple[int, int, bytes], list[int]] = {}
    reverse = np.full(len(tails), -1, dtype=np.int32)
    for edge in range(len(tails)):
        tail, head = int(tails[edge]), int(heads[edge])
        want = (head, tail, shapes[edge][::-1].tobytes())
        partners = waiting.get(want)
        if partners:
            other = partners.pop()
            reverse[edge] = other
            reverse[other] = edge
        else:
            key = (tail, head, np.ascontiguousarray(shapes[edge]).tobytes())
            waiting.setdefault(key, []).append(edge)
    return reverse


def build_street_graph(
    pbf_paths: Sequence[Path],
    profile: str,
    *,
    workdir: Path | None = None,
    min_component_nodes: int = MIN_COMPONENT_NODES,
) -> StreetGraph:
    """Read one or more PBF extracts, build the profile's graph with osmnx, compile to CSR.

    Parameters
    ----------
    pbf_paths
        OSM extracts (PBF, or anything pyosmium reads); they are merged into one network.
    profile
        One of `PROFILES`.
    workdir
        Where the filtered OSM XML handed to osmnx is written (kept for inspection); a
        temporary directory, removed afterwards, when None.
    min_component_nodes
        Strongly connected pieces with fewer OSM nodes are dropped (see
        `MIN_COMPONENT_NODES`); 1 keeps everything.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown street profile {profile!r}; expected one of {PROFILES}")
    paths = [Path(p) for p in pbf_paths]
    missing = [str(p) for p in paths if not p.is_file()]
    if not paths or missing:
        raise InputFileError(f"OSM extracts not found: {missing or 'none given'}")

    ways = _filter_ways(paths, profile)
    if not ways.run_nodes:
        raise OsmError(f"no {profile} ways in {[p.name for p in paths]}")
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="fairtrip-streets-") as tmp:
            graph = _osmnx_graph(ways, profile, Path(tmp) / f"{profile}.osm", min_component_nodes)
    else:
        workdir.mkdir(parents=True, exist_ok=True)
        graph = _osmnx_graph(ways, profile, workdir / f"{profile}.osm", min_component_nodes)
    compiled = _compile(graph, profile)
    logger.info("%s street graph: %d nodes, %d edges", profile, compiled.n_nodes, compiled.n_edges)
    return compiled


def extract_boxes(pbf_paths: Sequence[Path]) -> list[tuple[float, float, float, float]]:
    """Each extract's bounding box from its file header, (min_lon, min_lat, max_lon, max_lat).

    The box is what the extract claims to cover: where two boxes leave a strip between them,
    streets are missing from our data (see `ingest.extract_gaps`). An extract without a box
    in its header is left out (logged), so no connector is guessed for it.
    """
    boxes: list[tuple[float, float, float, float]] = []
    for path in pbf_paths:
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
        try:
            box = reader.header().box()
        finally:
            reader.close()
        if not box.valid():
            logger.info("%s has no bounding box in its header: no gap connectors for it", path)
            continue
        boxes.append(
            (float(box.bottom_left.lon), float(box.bottom_left.lat),
             float(box.top_right.lon), float(box.top_right.lat))
        )  # fmt: skip
    return boxes


def street_graph_to_networkx(graph: StreetGraph) -> networkx.MultiDiGraph:
    """Convert to networkx (node = node index, key = edge index), an oracle for tests.

    Edge attributes are ``edge_time_s`` and ``length_m`` exactly as the search sees them.
    """
    out = networkx.MultiDiGraph(profile=graph.profile)
    for node in range(graph.n_nodes):
        out.add_node(
            node,
            y=float(graph.node_lat[node]),
            x=float(graph.node_lon[node]),
            osmid=int(graph.node_osm_id[node]),
        )
    tails = np.repeat(np.arange(graph.n_nodes), np.diff(graph.edge_ptr))
    out.add_edges_from(
        (
            int(tails[e]),
            int(graph.edge_head[e]),
            e,
            {
                "edge_time_s": float(graph.edge_time_s[e]),
                "length_m": float(graph.edge_length_m[e]),
            },
        )
        for e in range(graph.n_edges)
    )
    return out

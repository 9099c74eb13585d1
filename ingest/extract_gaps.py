"""Walking across the gaps between OSM extracts: straight-line connectors, marked as estimates.

Several extracts merge into one walk graph (`ingest.osm_streets`). Where they do not touch
(Helsinki's centre and Alppila-Vallila files leave a strip 60.178-60.181 N unmapped), the
merged graph falls apart into one piece per extract, and every trip from one to the other
fails, although people walk across that strip every day: the streets there are missing from
our data, not from the world.

What is added, and what is not:

* A connector joins a node of one extract to the nearest node of another when the straight
  line between them is at most `MAX_CONNECTOR_M` and its midpoint lies in neither extract's
  box: it crosses only ground we have no data for. Two pieces inside one extract are never
  joined: there the absence of a street is data (water, a fence, a railway yard), and a
  connector would walk riders across the harbour to an island without a bridge.
* Its length is the straight line times `DETOUR_FACTOR` (1.3, the estimate the footpaths of
  stops beyond the streets use) and its time that length at the default walking speed. The
  edge is flagged in `StreetGraph.edge_estimated`, and a walk leg that uses one says
  ``"estimated": true``, as a leg to a stop beyond the streets does.
* Connectors are at least `CONNECTOR_SPACING_M` apart at both ends (shortest first), so a
  walk across the strip does not detour to one crossing, and the graph does not fill with
  near-parallel made-up edges.

The pieces a trip can start on (`routing.streets.StreetPieces`) are labelled after this,
so two extracts joined here are one place.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from routing.geo import DETOUR_FACTOR, LocalProjection
from routing.planner import DEFAULT_WALK_SPEED_MPS
from routing.streets import StreetGraph

log = logging.getLogger(__name__)

#: the widest gap between two extracts a connector bridges (straight line)
MAX_CONNECTOR_M = 600.0
#: the shortest distance between two connectors' ends on the same side of a gap
CONNECTOR_SPACING_M = 150.0

Box = tuple[float, float, float, float]  # (min_lon, min_lat, max_lon, max_lat)


def _inside(box: Box, lat: npt.ArrayLike, lon: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    lat_a, lon_a = np.asarray(lat), np.asarray(lon)
    return (lon_a >= box[0]) & (lon_a <= box[2]) & (lat_a >= box[1]) & (lat_a <= box[3])


def gap_connectors(
    graph: StreetGraph,
    boxes: Sequence[Box],
    *,
    max_m: float = MAX_CONNECTOR_M,
    spacing_m: float = CONNECTOR_SPACING_M,
) -> npt.NDArray[np.int64]:
    """(k, 2) node pairs to join across the gaps between the extracts' `boxes` (rules above)."""
    none = np.zeros((0, 2), dtype=np.int64)
    if len(boxes) < 2 or graph.n_nodes == 0:
        return none
    lat, lon = graph.node_lat, graph.node_lon
    proj = LocalProjection(float(np.mean(lat)), float(np.mean(lon)))
    x, y = proj.to_xy(lat, lon)
    inside = np.array([_inside(b, lat, lon) for b in boxes])  # box -> node -> in it
    near_edge = [
        np.flatnonzero(inside[b] & (_margin_m(proj, box, x, y) <= max_m))
        for b, box in enumerate(boxes)
    ]
    found = _nearest_across(x, y, inside, near_edge, max_m)
    if not found:
        return none
    pairs = np.array(sorted(set(found)))
    mid_lat = (lat[pairs[:, 1].astype(np.int64)] + lat[pairs[:, 2].astype(np.int64)]) / 2
    mid_lon = (lon[pairs[:, 1].astype(np.int64)] + lon[pairs[:, 2].astype(np.int64)]) / 2
    in_gap = ~np.any([_inside(b, mid_lat, mid_lon) for b in boxes], axis=0)
    return _spaced(pairs[in_gap], x, y, spacing_m)


def _margin_m(
    proj: LocalProjection, box: Box, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Node -> metres to the nearest side of `box` (negative outside it)."""
    x0, y0 = proj.to_xy(box[1], box[0])
    x1, y1 = proj.to_xy(box[3], box[2])
    margin: npt.NDArray[np.float64] = np.minimum.reduce([x - x0, x1 - x, y - y0, y1 - y])
    return margin


def _nearest_across(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    inside: npt.NDArray[np.bool_],
    near_edge: list[npt.NDArray[np.intp]],
    max_m: float,
) -> list[tuple[float, int, int]]:
    """(metres, node, node) for each node near a box's edge and its nearest node near the
    edge of another box, within `max_m`, looked up in both directions.
    """
    found: list[tuple[float, int, int]] = []
    for i in range(len(near_edge)):
        for j in range(i + 1, len(near_edge)):
            a_nodes = near_edge[i][~inside[j][near_edge[i]]]
            b_nodes = near_edge[j][~inside[i][near_edge[j]]]
            if not len(a_nodes) or not len(b_nodes):
                continue
            for src, dst in ((a_nodes, b_nodes), (b_nodes, a_nodes)):
                tree = cKDTree(np.column_stack([x[dst], y[dst]]))
                d, k = tree.query(
                    np.column_stack([x[src], y[src]]), k=1, distance_upper_bound=max_m
                )
                ok = np.isfinite(d)
                for dist, s, t in zip(d[ok], src[ok], dst[k[ok]], strict=True):
                    found.append((float(dist), int(min(s, t)), int(max(s, t))))
    return found


def _spaced(
    pairs: npt.NDArray[np.float64],
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    spacing_m: float,
) -> npt.NDArray[np.int64]:
    """The (metres, node, node) rows, shortest first, whose ends keep `spacing_m` from the
    ends of every connector chosen before them, as (k, 2) node pairs.
    """
    chosen: list[tuple[int, int]] = []
    ends_xy: list[tuple[float, float]] = []
    for _, a_f, b_f in pairs:
        a, b = int(a_f), int(b_f)
        if any(
            (x[n] - ex) ** 2 + (y[n] - ey) ** 2 < spacing_m**2 for n in (a, b) for ex, ey in ends_xy
        ):
            continue
        chosen.append((a, b))
        ends_xy.extend([(float(x[a]), float(y[a])), (float(x[b]), float(y[b]))])
    return np.array(chosen, dtype=np.int64).reshape(-1, 2)


def with_connectors(graph: StreetGraph, pairs: npt.NDArray[np.int64]) -> StreetGraph:
    """`graph` plus a two-way estimated edge for each node pair (CSR order kept)."""
    if not len(pairs):
        return graph
    a, b = pairs[:, 0], pairs[:, 1]
    k, m = len(pairs), graph.n_edges
    proj = LocalProjection(float(np.mean(graph.node_lat)), float(np.mean(graph.node_lon)))
    xa, ya = proj.to_xy(graph.node_lat[a], graph.node_lon[a])
    xb, yb = proj.to_xy(graph.node_lat[b], graph.node_lon[b])
    length = np.hypot(xa - xb, ya - yb) * DETOUR_FACTOR
    new_tail = np.concatenate([a, b])
    new_head = np.concatenate([b, a])
    new_len = np.concatenate([length, length])
    new_rev = np.concatenate([np.arange(k) + m + k, np.arange(k) + m])
    tail = np.concatenate([graph.edge_tail.astype(np.int64), new_tail])
    head = np.concatenate([graph.edge_head.astype(np.int64), new_head])
    order = np.lexsort((head, tail))
    position = np.empty_like(order)
    position[order] = np.arange(len(order))  # old edge index -> new edge index
    reverse = np.concatenate([graph.edge_reverse.astype(np.int64), new_rev])[order]
    reverse = np.where(reverse >= 0, position[np.maximum(reverse, 0)], -1)
    # polylines: the old flat arrays, then each connector's two points, tail first
    ends = np.column_stack([new_tail, new_head]).ravel()
    flat_lat = np.concatenate([graph.geom_lat, graph.node_lat[ends]])
    flat_lon = np.concatenate([graph.geom_lon, graph.node_lon[ends]])
    n_geom = len(graph.geom_lat)
    starts = np.concatenate([graph.geom_ptr[:-1], n_geom + 2 * np.arange(2 * k)])[order]
    counts = np.concatenate([np.diff(graph.geom_ptr), np.full(2 * k, 2)])[order]
    first = np.cumsum(counts) - counts
    point = np.repeat(starts - first, counts) + np.arange(int(counts.sum()))
    edge_ptr = np.zeros(graph.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=graph.n_nodes), out=edge_ptr[1:])
    geom_ptr = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(counts, out=geom_ptr[1:])
    out = StreetGraph(
        profile=graph.profile,
        node_lat=graph.node_lat,
        node_lon=graph.node_lon,
        edge_ptr=edge_ptr,
        edge_head=head[order].astype(np.int32),
        edge_length_m=np.concatenate([graph.edge_length_m, new_len]).astype(np.float32)[order],
        edge_time_s=np.concatenate([graph.edge_time_s, new_len / DEFAULT_WALK_SPEED_MPS]).astype(
            np.float32
        )[order],
        edge_reverse=reverse.astype(np.int32),
        geom_ptr=geom_ptr,
        geom_lat=np.ascontiguousarray(flat_lat[point]),
        geom_lon=np.ascontiguousarray(flat_lon[point]),
        node_osm_id=graph.node_osm_id,
        edge_estimated=np.concatenate([graph.estimated, np.ones(2 * k, np.bool_)])[order],
    )
    log.info(
        "joined the extracts with %d estimated connectors (%.0f-%.0f m straight)",
        k,
        float(length.min() / DETOUR_FACTOR),
        float(length.max() / DETOUR_FACTOR),
    )
    return out


def connect_extracts(graph: StreetGraph, boxes: Sequence[Box]) -> StreetGraph:
    """`graph` with the gaps between the extracts' boxes bridged (see the module docstring)."""
    return with_connectors(graph, gap_connectors(graph, boxes))

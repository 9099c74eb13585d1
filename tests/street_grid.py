"""Hand-built street grids for tests: a rows x cols lattice of two-way streets.

Node ``r * cols + c`` sits ``r`` rows north and ``c`` columns east of a corner in Helsinki;
every street is a straight two-point polyline, and node_osm_id is the node index + 1, so grids
built for walk, bike and car share their node ids the way real profiles share OSM nodes.
"""

from __future__ import annotations

import numpy as np

from routing.geo import LocalProjection
from routing.streets import StreetGraph

CORNER = LocalProjection(60.17, 24.94)  # the south-west node (row 0, column 0)


def grid(
    rows: int,
    cols: int,
    spacing_m: float,
    speed_mps: float,
    profile: str,
    *,
    east_m: float = 0.0,
    north_m: float = 0.0,
) -> StreetGraph:
    """A grid graph: every edge ``spacing_m`` long and ridden in ``spacing_m / speed_mps`` s.

    ``east_m``/``north_m`` move its south-west node away from `CORNER` (for grids that are
    to sit beside another one, see `union`).
    """
    n = rows * cols
    node_row, node_col = np.divmod(np.arange(n), cols)
    lat, lon = CORNER.to_latlon(node_col * spacing_m + east_m, node_row * spacing_m + north_m)
    tails: list[int] = []
    heads: list[int] = []
    for v in range(n):
        r, c = divmod(v, cols)
        for dr, dc in ((-1, 0), (0, -1), (0, 1), (1, 0)):
            rr, cc = r + dr, c + dc
            if 0 <= rr < rows and 0 <= cc < cols:
                tails.append(v)
                heads.append(rr * cols + cc)
    tail = np.array(tails, dtype=np.int32)  # already grouped by tail, as CSR needs
    head = np.array(heads, dtype=np.int32)
    m = len(tail)
    index = {(int(t), int(h)): e for e, (t, h) in enumerate(zip(tail, head, strict=True))}
    reverse = np.array([index[(int(h), int(t))] for t, h in zip(tail, head, strict=True)])
    edge_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=n), out=edge_ptr[1:])
    geom_lat = np.column_stack([lat[tail], lat[head]]).ravel()
    geom_lon = np.column_stack([lon[tail], lon[head]]).ravel()
    return StreetGraph(
        profile=profile,
        node_lat=np.asarray(lat, dtype=np.float64),
        node_lon=np.asarray(lon, dtype=np.float64),
        edge_ptr=edge_ptr,
        edge_head=head,
        edge_length_m=np.full(m, spacing_m, dtype=np.float32),
        edge_time_s=np.full(m, spacing_m / speed_mps, dtype=np.float32),
        edge_reverse=reverse.astype(np.int32),
        geom_ptr=np.arange(0, 2 * m + 1, 2, dtype=np.int64),
        geom_lat=np.ascontiguousarray(geom_lat, dtype=np.float64),
        geom_lon=np.ascontiguousarray(geom_lon, dtype=np.float64),
        node_osm_id=np.arange(1, n + 1, dtype=np.int64),
    )


def edge_between(graph: StreetGraph, tail: int, head: int) -> int:
    """The edge from node `tail` to node `head` (KeyError if they are not neighbours)."""
    for e in range(int(graph.edge_ptr[tail]), int(graph.edge_ptr[tail + 1])):
        if int(graph.edge_head[e]) == head:
            return e
    raise KeyError(f"no edge {tail} -> {head}")


def union(*graphs: StreetGraph) -> StreetGraph:
    """The graphs side by side as one graph (nodes and edges renumbered in order, no edge
    between them): disconnected pieces, like two extracts that do not touch.
    """
    edge_ptr, heads, reverse, geom_ptr = [np.zeros(1, np.int64)], [], [], [np.zeros(1, np.int64)]
    n = m = k = 0
    for g in graphs:
        edge_ptr.append(g.edge_ptr[1:] + m)
        heads.append(g.edge_head + n)
        reverse.append(np.where(g.edge_reverse >= 0, g.edge_reverse + m, -1))
        geom_ptr.append(g.geom_ptr[1:] + k)
        n, m, k = n + g.n_nodes, m + g.n_edges, k + len(g.geom_lat)
    cat = np.concatenate
    return StreetGraph(
        profile=graphs[0].profile,
        node_lat=cat([g.node_lat for g in graphs]),
        node_lon=cat([g.node_lon for g in graphs]),
        edge_ptr=cat(edge_ptr).astype(np.int64),
        edge_head=cat(heads).astype(np.int32),
        edge_length_m=cat([g.edge_length_m for g in graphs]),
        edge_time_s=cat([g.edge_time_s for g in graphs]),
        edge_reverse=cat(reverse).astype(np.int32),
        geom_ptr=cat(geom_ptr).astype(np.int64),
        geom_lat=cat([g.geom_lat for g in graphs]),
        geom_lon=cat([g.geom_lon for g in graphs]),
        node_osm_id=np.arange(1, n + 1, dtype=np.int64),
    )

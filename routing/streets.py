"""Street networks on the query side: the compiled graph, snapping, and time-bounded searches.

A street graph is a handful of flat numpy arrays (CSR adjacency plus flat polylines) built once
by `ingest.osm_streets` and loaded by the caller; this module never reads files. Coordinates are
attached to the nearest point of the nearest edge (`StreetIndex`) rather than the nearest node,
because a stop halfway along a 300 m block is not 150 m from the street. The searches
(`StreetSearch`) are numba kernels over the arrays with an array-based binary heap and search
state that is allocated once per worker and reset by touching only what the last query touched,
so a 15-minute walk costs well under a millisecond.

A point on edge ``e`` at ``fraction`` f can leave through the edge's head at ``(1 - f)`` of the
edge's time, and through its tail at ``f`` of the time of the reverse edge when the street is
two-way (``edge_reverse[e] >= 0``). Targets are entered the same way, and an origin and target on
the same street are also joined directly along it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numba
import numpy as np
import numpy.typing as npt
import scipy.sparse
import scipy.sparse.csgraph
import shapely

from routing.errors import IsolatedPieceError, OutsideNetworkError, QueryError
from routing.geo import LocalProjection, haversine_m

_ARRAY_DTYPES: Mapping[str, type[np.generic]] = {
    "node_lat": np.float64,
    "node_lon": np.float64,
    "edge_ptr": np.int64,
    "edge_head": np.int32,
    "edge_length_m": np.float32,
    "edge_time_s": np.float32,
    "edge_reverse": np.int32,
    "geom_ptr": np.int64,
    "geom_lat": np.float64,
    "geom_lon": np.float64,
    "node_osm_id": np.int64,
}


@dataclass(frozen=True, eq=False)
class StreetGraph:
    """One profile's street network as CSR arrays (nodes and edges are dense int indexes)."""

    profile: str
    node_lat: npt.NDArray[np.float64]  # node -> latitude
    node_lon: npt.NDArray[np.float64]  # node -> longitude
    edge_ptr: npt.NDArray[np.int64]  # node -> first outgoing edge (len n_nodes + 1)
    edge_head: npt.NDArray[np.int32]  # edge -> target node
    edge_length_m: npt.NDArray[np.float32]  # edge -> length along its polyline
    edge_time_s: npt.NDArray[np.float32]  # edge -> traversal time at the profile's speed
    edge_reverse: npt.NDArray[np.int32]  # edge -> same street, other direction, or -1
    geom_ptr: npt.NDArray[np.int64]  # edge -> first polyline point (len n_edges + 1)
    geom_lat: npt.NDArray[np.float64]  # polyline point -> latitude, tail -> head
    geom_lon: npt.NDArray[np.float64]  # polyline point -> longitude
    node_osm_id: npt.NDArray[np.int64]  # node -> OSM node id
    #: edge -> its length is an estimate, not a mapped street (a straight-line connector
    #: across the gap between two extracts, see `ingest.extract_gaps`); all False if absent
    edge_estimated: npt.NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        if self.edge_estimated is None:
            object.__setattr__(self, "edge_estimated", np.zeros(len(self.edge_head), np.bool_))
        self._check_dtypes()
        self._check_shapes()

    def _check_dtypes(self) -> None:
        """Every array is 1-d with the dtype the kernels were compiled for."""
        for name, dtype in _ARRAY_DTYPES.items():
            array = getattr(self, name)
            if not isinstance(array, np.ndarray) or array.dtype != dtype or array.ndim != 1:
                got = getattr(array, "dtype", type(array).__name__)
                raise ValueError(
                    f"StreetGraph.{name} must be a 1-d {np.dtype(dtype)} array, got {got}"
                )
        estimated = self.edge_estimated
        if not isinstance(estimated, np.ndarray) or estimated.dtype != np.bool_:
            got = getattr(estimated, "dtype", type(estimated).__name__)
            raise ValueError(f"StreetGraph.edge_estimated must be a bool array, got {got}")

    def _check_shapes(self) -> None:
        """The arrays' lengths fit each other and the CSR pointers and indexes stay in range."""
        n_nodes, n_edges = len(self.node_lat), len(self.edge_head)
        expected = {
            "node_lon": n_nodes,
            "node_osm_id": n_nodes,
            "edge_ptr": n_nodes + 1,
            "edge_length_m": n_edges,
            "edge_time_s": n_edges,
            "edge_reverse": n_edges,
            "geom_ptr": n_edges + 1,
            "geom_lon": len(self.geom_lat),
            "edge_estimated": n_edges,
        }
        for name, length in expected.items():
            if len(getattr(self, name)) != length:
                raise ValueError(
                    f"StreetGraph.{name} has {len(getattr(self, name))} entries, expected {length}"
                )
        if self.edge_ptr[0] != 0 or self.edge_ptr[-1] != n_edges:
            raise ValueError(f"edge_ptr must run from 0 to {n_edges}")
        if self.geom_ptr[0] != 0 or self.geom_ptr[-1] != len(self.geom_lat):
            raise ValueError(f"geom_ptr must run from 0 to {len(self.geom_lat)}")
        if n_edges and (self.edge_head.min() < 0 or self.edge_head.max() >= n_nodes):
            raise ValueError(f"edge_head must index nodes 0..{n_nodes - 1}")
        if n_edges and np.any(np.diff(self.geom_ptr) < 2):
            raise ValueError("every edge polyline needs at least two points")

    def arrays(self) -> dict[str, np.ndarray]:
        """Array name -> array, the form `from_arrays` takes back (e.g. via ``np.savez``)."""
        out = {name: getattr(self, name) for name in _ARRAY_DTYPES}
        out["edge_estimated"] = self.estimated
        return out

    @property
    def estimated(self) -> npt.NDArray[np.bool_]:
        """Edge -> estimated connector (never None after construction)."""
        assert self.edge_estimated is not None  # set in __post_init__
        return self.edge_estimated

    @classmethod
    def from_arrays(cls, profile: str, arrays: Mapping[str, np.ndarray]) -> StreetGraph:
        """Rebuild a graph from `arrays()` output, casting each array to its declared dtype."""
        missing = sorted(set(_ARRAY_DTYPES) - set(arrays))
        if missing:
            raise ValueError(f"street graph arrays missing: {missing}")
        estimated = arrays.get("edge_estimated")
        return cls(
            profile=profile,
            **{
                name: np.ascontiguousarray(arrays[name], dtype=dtype)
                for name, dtype in _ARRAY_DTYPES.items()
            },
            edge_estimated=None
            if estimated is None
            else np.ascontiguousarray(estimated, dtype=np.bool_),
        )

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_lat)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.edge_head)

    @cached_property
    def bbox(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat) of every polyline point."""
        if len(self.geom_lat) == 0:
            return (math.nan, math.nan, math.nan, math.nan)
        return (
            float(self.geom_lon.min()),
            float(self.geom_lat.min()),
            float(self.geom_lon.max()),
            float(self.geom_lat.max()),
        )

    @cached_property
    def edge_tail(self) -> npt.NDArray[np.int32]:
        """Edge -> source node (the CSR row each edge sits in)."""
        return np.repeat(np.arange(self.n_nodes, dtype=np.int32), np.diff(self.edge_ptr))


@dataclass(frozen=True, eq=False)
class StreetPieces:
    """Which connected piece of a street graph each node is in, and which pieces are places.

    A *piece* is a strongly connected component: from any of its nodes every other one can be
    reached and left again. For walking every street is walked both ways (the walk profile
    ignores ``oneway``), so the strong pieces are the weak ones; strong is still the right
    notion, because a street one can enter but never leave is no place to start a trip.

    A *place* is a piece a trip may start or end on: the largest piece (the city's streets)
    and any smaller piece that holds a stop served by the timetable (an island reached by a
    timetabled ferry). Every other piece is *dead*: a pier, an island without a bridge, a
    fragment cut off at an extract's edge. Nothing can be reached from a dead piece, so
    `StreetIndex` never snaps onto one and says so when it is all there is near a point.
    This is the idea behind OpenTripPlanner's island pruning, Valhalla's
    ``minimum_reachability`` and GraphHopper's minimum network size, with one difference:
    a dead piece is kept (its streets are real and drawable) and only excluded as a target.
    """

    node_piece: npt.NDArray[np.int32]  # node -> piece
    piece_place: npt.NDArray[np.bool_]  # piece -> a trip may start or end on it

    def __post_init__(self) -> None:
        if self.node_piece.dtype != np.int32 or self.piece_place.dtype != np.bool_:
            raise ValueError(
                "StreetPieces needs int32 node_piece and bool piece_place, got "
                f"{self.node_piece.dtype} and {self.piece_place.dtype}"
            )
        if len(self.node_piece) and (
            self.node_piece.min() < 0 or self.node_piece.max() >= len(self.piece_place)
        ):
            raise ValueError(f"node_piece must index pieces 0..{len(self.piece_place) - 1}")

    @classmethod
    def of(cls, graph: StreetGraph, *, places: npt.ArrayLike = ()) -> StreetPieces:
        """Label `graph`'s strong pieces; the largest (by nodes) and `places` are places."""
        n = graph.n_nodes
        adjacency = scipy.sparse.csr_matrix(
            (
                np.ones(graph.n_edges, dtype=np.int8),
                np.asarray(graph.edge_head),
                np.asarray(graph.edge_ptr),
            ),
            shape=(n, n),
        )
        n_pieces, labels = scipy.sparse.csgraph.connected_components(
            adjacency, directed=True, connection="strong"
        )
        place = np.zeros(n_pieces, dtype=np.bool_)
        if n:
            place[int(np.argmax(np.bincount(labels, minlength=n_pieces)))] = True
        pieces = cls(labels.astype(np.int32), place)
        return pieces.with_places(places)

    def with_places(self, pieces: npt.ArrayLike) -> StreetPieces:
        """A copy where `pieces` (piece ids) are places too."""
        extra = np.asarray(pieces, dtype=np.int64).ravel()
        if not len(extra):
            return self
        if extra.min() < 0 or extra.max() >= self.n_pieces:
            raise ValueError(f"piece ids must be in 0..{self.n_pieces - 1}, got {extra}")
        place = self.piece_place.copy()
        place[extra] = True
        return StreetPieces(self.node_piece, place)

    @property
    def n_pieces(self) -> int:
        """Number of pieces."""
        return len(self.piece_place)

    def edge_piece(self, graph: StreetGraph) -> npt.NDArray[np.int32]:
        """Edge -> the piece of its head node."""
        return self.node_piece[graph.edge_head]

    def edge_place(self, graph: StreetGraph) -> npt.NDArray[np.bool_]:
        """Edge -> both its ends lie on a place (a point on it can go somewhere)."""
        if len(self.node_piece) != graph.n_nodes:
            raise ValueError(
                f"pieces label {len(self.node_piece)} nodes, the graph has {graph.n_nodes}"
            )
        place = self.piece_place[self.node_piece]
        return place[graph.edge_head] & place[graph.edge_tail]

    def arrays(self) -> dict[str, np.ndarray]:
        """Array name -> array, for the network writer."""
        return {"node_piece": self.node_piece, "piece_place": self.piece_place}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> StreetPieces:
        """Rebuild from `arrays()` output."""
        return cls(
            np.ascontiguousarray(arrays["node_piece"], dtype=np.int32),
            np.ascontiguousarray(arrays["piece_place"], dtype=np.bool_),
        )


@dataclass(frozen=True, slots=True)
class Snap:
    """A coordinate attached to the nearest point of the nearest street edge."""

    lat: float  # the original coordinate
    lon: float
    edge: int  # edge index
    fraction: float  # 0..1 along the edge from tail to head
    offset_m: float  # straight-line distance from the coordinate to the snapped point
    snapped_lat: float
    snapped_lon: float


class StreetIndex:
    """Snaps coordinates to the nearest edge a trip can start or end on; built once per graph.

    The edges go into a shapely STRtree in a local metric projection, so distances are metres.
    Of two edges that are each other's reverse only the lower index is indexed: they share
    one polyline, and a stable choice keeps snaps reproducible. With `pieces`, only edges of
    places are snap targets; the edges of dead pieces go into a second tree that is only read
    to say why a point could not be snapped.
    """

    def __init__(
        self,
        graph: StreetGraph,
        *,
        max_snap_m: float = 500.0,
        pieces: StreetPieces | None = None,
    ) -> None:
        if not max_snap_m > 0:
            raise QueryError(f"max_snap_m must be positive, got {max_snap_m}")
        if graph.n_edges == 0:
            raise QueryError(f"cannot index the {graph.profile} street graph: it has no edges")
        self.graph = graph
        self.pieces = pieces
        self.max_snap_m = float(max_snap_m)
        min_lon, min_lat, max_lon, max_lat = graph.bbox
        self._projection = LocalProjection((min_lat + max_lat) / 2, (min_lon + max_lon) / 2)
        edges = np.arange(graph.n_edges, dtype=np.int32)
        reverse = graph.edge_reverse
        canonical = (reverse < 0) | (edges < reverse)
        live = np.ones(graph.n_edges, np.bool_) if pieces is None else pieces.edge_place(graph)
        self._edges = edges[canonical & live]  # tree item -> edge
        if not len(self._edges):
            raise QueryError(f"the {graph.profile} street graph has no edge on a place")
        self._lines = self._lines_of(self._edges)
        self._tree = shapely.STRtree(self._lines)
        dead = edges[canonical & ~live]
        self._dead_tree = shapely.STRtree(self._lines_of(dead)) if len(dead) else None

    def _lines_of(self, edges: npt.NDArray[np.int32]) -> npt.NDArray[np.object_]:
        """The edges' polylines as shapely lines in metres (one per edge, same order)."""
        graph = self.graph
        starts = graph.geom_ptr[edges]
        counts = graph.geom_ptr[edges + 1] - starts
        first = np.cumsum(counts) - counts
        point = np.repeat(starts - first, counts) + np.arange(int(counts.sum()))
        x, y = self._projection.to_xy(graph.geom_lat[point], graph.geom_lon[point])
        lines: npt.NDArray[np.object_] = shapely.linestrings(
            np.column_stack([x, y]), indices=np.repeat(np.arange(len(edges)), counts)
        )
        return lines

    def snap(self, lat: float, lon: float) -> Snap:
        """Snap one coordinate to the nearest edge of a place.

        Raises IsolatedPieceError when no place lies within ``max_snap_m`` but a dead piece
        does, and OutsideNetworkError when no street at all does.
        """
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise QueryError(f"coordinate must be finite, got {lat},{lon}")
        x, y = self._projection.to_xy(lat, lon)
        point = shapely.points(float(x), float(y))
        _, items, distances = self._nearest(np.array([point]), None)
        item, distance = int(items[0]), float(distances[0])
        if distance > self.max_snap_m:
            dead_m = math.inf
            if self._dead_tree is not None:
                _, found = self._dead_tree.query_nearest(point, return_distance=True)
                dead_m = float(found[0]) if len(found) else math.inf
            bbox = self.graph.bbox
            if dead_m <= self.max_snap_m:
                raise IsolatedPieceError(lat, lon, dead_m, distance, self.max_snap_m, bbox)
            raise OutsideNetworkError(lat, lon, min(distance, dead_m), self.max_snap_m, bbox)
        line = self._lines[item]
        fraction = _fraction(float(shapely.line_locate_point(line, point, normalized=True)))
        snapped = shapely.line_interpolate_point(line, fraction, normalized=True)
        snapped_lat, snapped_lon = self._projection.to_latlon(
            shapely.get_x(snapped), shapely.get_y(snapped)
        )
        return Snap(
            lat=float(lat),
            lon=float(lon),
            edge=int(self._edges[item]),
            fraction=fraction,
            offset_m=distance,
            snapped_lat=float(snapped_lat),
            snapped_lon=float(snapped_lon),
        )

    def _nearest(
        self, points: npt.NDArray[np.object_], limit: float | None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """(point index, tree item, distance) of each point's nearest line within ``limit``.

        Of equidistant lines (a point nearest to a junction is equally near every street
        meeting there) the lowest item wins, so `snap` and `snap_many` always agree.
        """
        (query, item), distance = self._tree.query_nearest(
            points, max_distance=limit, return_distance=True, all_matches=True
        )
        if len(query) == 0:  # no line within the limit (every point far from the streets)
            return query, item, distance
        order = np.lexsort((item, query))
        query, item, distance = query[order], item[order], distance[order]
        first = np.flatnonzero(np.r_[True, query[1:] != query[:-1]])
        return query[first], item[first], distance[first]

    def snap_many(
        self, lat: npt.ArrayLike, lon: npt.ArrayLike, *, max_snap_m: float | None = None
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Snap many coordinates at once: (edge, fraction, offset_m) arrays.

        A coordinate farther than the limit (``max_snap_m``, default the index's) or not
        finite gets edge -1, fraction NaN and offset inf, so one bad stop does not abort a build.
        """
        limit = self.max_snap_m if max_snap_m is None else float(max_snap_m)
        lat_arr = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        lon_arr = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        if lat_arr.shape != lon_arr.shape or lat_arr.ndim != 1:
            raise QueryError(
                f"lat and lon must be 1-d and equal length: {lat_arr.shape} vs {lon_arr.shape}"
            )
        n = len(lat_arr)
        edge = np.full(n, -1, dtype=np.int32)
        fraction = np.full(n, np.nan, dtype=np.float64)
        offset = np.full(n, np.inf, dtype=np.float64)
        finite = np.flatnonzero(np.isfinite(lat_arr) & np.isfinite(lon_arr))
        if len(finite) == 0:
            return edge, fraction, offset
        x, y = self._projection.to_xy(lat_arr[finite], lon_arr[finite])
        points = shapely.points(x, y)
        query, item, distance = self._nearest(points, limit)
        located = shapely.line_locate_point(self._lines[item], points[query], normalized=True)
        target = finite[query]
        edge[target] = self._edges[item]
        fraction[target] = np.clip(np.nan_to_num(located, nan=0.0), 0.0, 1.0)
        offset[target] = distance
        return edge, fraction, offset


def _fraction(value: float) -> float:
    """Clamp a located fraction to 0..1; a zero-length edge gives NaN, which means its start."""
    return 0.0 if math.isnan(value) else min(max(value, 0.0), 1.0)


@dataclass(frozen=True)
class StreetPath:
    """A point-to-point street route with its drawable polyline."""

    time_s: float
    length_m: float
    edges: npt.NDArray[np.int32] = field(repr=False)  # edges in order; first/last may be partial
    lats: npt.NDArray[np.float64] = field(repr=False)  # origin -> snapped point -> streets -> ...
    lons: npt.NDArray[np.float64] = field(repr=False)  # ... -> snapped point -> destination


# --- numba kernels -----------------------------------------------------------------------


# The priority queue is an array-based 4-ary min-heap: keys and nodes in two parallel arrays,
# slots at and beyond the heap's size always hold +inf so a node's four children can be read
# without bounds tests and the smallest picked with branch-free compares. On this workload (a
# frontier of a few hundred entries) that measured about twice as fast as a binary heap, whose
# time goes into mispredicted branches rather than memory.
_HEAP_PAD = 8  # >= 3 inf slots past the last entry, for the unchecked child reads


@numba.njit(cache=True, inline="always")
def _heap_push(
    keys: np.ndarray, nodes: np.ndarray, size: int, key: float, node: int
) -> int:  # pragma: no cover - compiled
    i = size
    while i > 0:
        parent = (i - 1) >> 2
        parent_key = keys[parent]
        if parent_key <= key:
            break
        keys[i] = parent_key
        nodes[i] = nodes[parent]
        i = parent
    keys[i] = key
    nodes[i] = node
    return size + 1


@numba.njit(cache=True, inline="always")
def _heap_pop(keys: np.ndarray, nodes: np.ndarray, size: int) -> int:  # pragma: no cover
    """Remove the minimum (read keys[0], nodes[0] first); returns the new size."""
    size -= 1
    key = keys[size]
    node = nodes[size]
    keys[size] = np.inf
    if size == 0:
        return 0
    i = 0
    while True:
        first = 4 * i + 1
        if first >= size:
            break
        a = first + (keys[first + 1] < keys[first])
        b = first + 2 + (keys[first + 3] < keys[first + 2])
        child = a if keys[a] <= keys[b] else b
        child_key = keys[child]
        if child_key >= key:
            break
        keys[i] = child_key
        nodes[i] = nodes[child]
        i = child
    keys[i] = key
    nodes[i] = node
    return size


@numba.njit(cache=True, inline="always")
def _heap_clear(keys: np.ndarray, size: int) -> None:  # pragma: no cover - compiled
    """Restore the all-inf invariant for the next query (entries left by an early stop)."""
    for i in range(size):
        keys[i] = np.inf


@numba.njit(cache=True)
def _seed(
    seed_node: np.ndarray,
    seed_cost: np.ndarray,
    max_cost: float,
    dist: np.ndarray,
    pred: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
    heap_key: np.ndarray,
    heap_node: np.ndarray,
) -> tuple[int, int]:  # pragma: no cover - compiled
    """Forget the previous query (only the nodes it touched) and push the seeds."""
    for i in range(n_touched):
        dist[touched[i]] = np.inf
    n_touched = 0
    size = 0
    for s in range(len(seed_node)):
        v = seed_node[s]
        cost = seed_cost[s]
        if cost <= max_cost and cost < dist[v]:
            if dist[v] == np.inf:
                touched[n_touched] = v
                n_touched += 1
            dist[v] = cost
            pred[v] = -2 - s
            size = _heap_push(heap_key, heap_node, size, cost, v)
    return n_touched, size


@numba.njit(cache=True)
def _bounded_search(
    ptr: np.ndarray,
    adj_node: np.ndarray,
    adj_time: np.ndarray,
    speed_factor: float,
    seed_node: np.ndarray,
    seed_cost: np.ndarray,
    max_cost: float,
    dist: np.ndarray,
    pred: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
    heap_key: np.ndarray,
    heap_node: np.ndarray,
    adj_edge: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """Dijkstra from the seeds until the heap minimum exceeds max_cost; returns #touched.

    `pred` gets the edge (`adj_edge[j]`, an edge of the graph whichever way it is searched)
    each node was last improved through: the shortest-path tree, for drawing walks from it.
    """
    n_touched, size = _seed(
        seed_node, seed_cost, max_cost, dist, pred, touched, n_touched, heap_key, heap_node
    )
    while size > 0:
        key = heap_key[0]
        v = heap_node[0]
        if key > max_cost:
            break
        size = _heap_pop(heap_key, heap_node, size)
        if key > dist[v]:
            continue  # stale entry: v was settled through a shorter path
        for j in range(ptr[v], ptr[v + 1]):
            w = adj_node[j]
            cost = key + adj_time[j] * speed_factor
            if cost < dist[w] and cost <= max_cost:
                if dist[w] == np.inf:
                    touched[n_touched] = w
                    n_touched += 1
                dist[w] = cost
                pred[w] = adj_edge[j]
                size = _heap_push(heap_key, heap_node, size, cost, w)
    _heap_clear(heap_key, size)
    return n_touched


@numba.njit(cache=True)
def _route_search(
    ptr: np.ndarray,
    adj_node: np.ndarray,
    adj_edge: np.ndarray,
    adj_time: np.ndarray,
    speed_factor: float,
    seed_node: np.ndarray,
    seed_cost: np.ndarray,
    entry_node: np.ndarray,
    entry_cost: np.ndarray,
    best_cost: float,
    max_cost: float,
    node_x: np.ndarray,
    node_y: np.ndarray,
    target_x: float,
    target_y: float,
    s_per_m: float,
    dist: np.ndarray,
    pred: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
    heap_key: np.ndarray,
    heap_node: np.ndarray,
) -> tuple[int, float, int]:  # pragma: no cover - compiled
    """Point-to-point A* with predecessor edges; stops once no entry to the target can improve.

    ``best_cost`` starts at the direct same-edge cost (inf if none). Returns (#touched, best
    cost, index of the entry it came through or -1 for the direct connection).

    The heap is keyed by cost so far plus the straight-line distance to the target at the
    fastest pace any edge allows. That never overestimates, so once the smallest key reaches
    the best entry cost found, no path can beat it; far fewer nodes are settled than with
    plain Dijkstra on a long walk.
    """
    # the seeds go in keyed by cost alone: an underestimate, which A* tolerates
    n_touched, size = _seed(
        seed_node, seed_cost, max_cost, dist, pred, touched, n_touched, heap_key, heap_node
    )
    best_entry = -1
    while size > 0:
        key = heap_key[0]
        v = heap_node[0]
        # key never overestimates the cost through v, so nothing left can beat best_cost
        # or arrive within max_cost
        if key >= best_cost or key > max_cost:
            break
        size = _heap_pop(heap_key, heap_node, size)
        g = dist[v]
        h = math.hypot(node_x[v] - target_x, node_y[v] - target_y) * s_per_m
        if key > g + h + 1e-9:
            continue
        for i in range(len(entry_node)):
            if entry_node[i] == v and g + entry_cost[i] < best_cost:
                best_cost = g + entry_cost[i]
                best_entry = i
        for j in range(ptr[v], ptr[v + 1]):
            w = adj_node[j]
            cost = g + adj_time[j] * speed_factor
            if cost < dist[w] and cost <= max_cost:
                hw = math.hypot(node_x[w] - target_x, node_y[w] - target_y) * s_per_m
                if cost + hw > max_cost:
                    continue
                if dist[w] == np.inf:
                    touched[n_touched] = w
                    n_touched += 1
                dist[w] = cost
                pred[w] = adj_edge[j]
                size = _heap_push(heap_key, heap_node, size, cost + hw, w)
    _heap_clear(heap_key, size)
    return n_touched, best_cost, best_entry


@numba.njit(cache=True)
def _walk_back(
    pred: np.ndarray, edge_next: np.ndarray, node: int
) -> tuple[np.ndarray, int]:  # pragma: no cover - compiled
    """(edges from `node` to the seed along `pred`, in the order they are followed; the
    seed's index). `edge_next` is the node each edge leads to on the way: its tail for a
    forward search's predecessors (the edges come last first), its head for a backward one's.
    """
    n = 0
    v = node
    while pred[v] >= 0:
        n += 1
        v = edge_next[pred[v]]
    edges = np.empty(n, dtype=np.int64)
    v = node
    for i in range(n):
        edges[i] = pred[v]
        v = edge_next[pred[v]]
    return edges, -2 - int(pred[v])


@numba.njit(cache=True)
def _along_polylines(
    ptr: np.ndarray, segment_m: np.ndarray, n_points: int
) -> np.ndarray:  # pragma: no cover - compiled
    """Point -> metres from its polyline's first point (CSR polylines; `segment_m[i]` is the
    length from point i to point i + 1). Summed in order, as `np.cumsum` over one polyline.
    """
    out = np.zeros(n_points, dtype=np.float64)
    for e in range(len(ptr) - 1):
        acc = 0.0
        for i in range(ptr[e] + 1, ptr[e + 1]):
            acc += segment_m[i - 1]
            out[i] = acc
    return out


@numba.njit(cache=True, inline="always")
def _interp(x: float, xp: np.ndarray, fp: np.ndarray) -> float:  # pragma: no cover
    """``np.interp(x, xp, fp)`` for one x, bit for bit: numpy's own steps (the last point
    with ``xp[j] <= x``, that point's value when x is on it, else slope times offset plus
    value, and the offset from the next point if that is NaN).
    """
    n = len(xp)
    if x < xp[0]:
        return float(fp[0])
    if x > xp[n - 1]:
        return float(fp[n - 1])
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if x >= xp[mid]:
            lo = mid + 1
        else:
            hi = mid
    j = lo - 1
    if j == n - 1 or xp[j] == x:
        return float(fp[j])
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    out: float = slope * (x - xp[j]) + fp[j]
    if math.isnan(out):
        out = slope * (x - xp[j + 1]) + fp[j + 1]
        if math.isnan(out) and fp[j] == fp[j + 1]:
            out = fp[j]
    return out


@numba.njit(cache=True, inline="always")
def _put(
    lat: np.ndarray, lon: np.ndarray, n: int, y: float, x: float
) -> int:  # pragma: no cover - compiled
    """Append a point unless it repeats the last one (where pieces join); the new count."""
    if n > 0 and lat[n - 1] == y and lon[n - 1] == x:
        return n
    lat[n] = y
    lon[n] = x
    return n + 1


@numba.njit(cache=True)
def _path_points(
    geom_ptr: np.ndarray,
    geom_lat: np.ndarray,
    geom_lon: np.ndarray,
    geom_along_m: np.ndarray,
    edge_length_m: np.ndarray,
    edges: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    ends_lat: np.ndarray,
    ends_lon: np.ndarray,
    offsets_m: float,
) -> tuple[np.ndarray, np.ndarray, float]:  # pragma: no cover - compiled
    """(lats, lons, metres) of a walk: the origin and its snapped point, every piece's
    polyline (edge ``edges[i]`` cut between fractions ``starts[i]`` and ``ends[i]``), the
    target's snapped point and the target; consecutive repeats dropped.

    A piece cut inside its edge runs from the point at its start fraction through the
    polyline points strictly between to the point at its end fraction (a zero-length edge
    gives its first point). The metres are `offsets_m` plus each piece's share of its edge,
    summed in path order.
    """
    size = 4
    for i in range(len(edges)):
        e = edges[i]
        size += geom_ptr[e + 1] - geom_ptr[e] + 2
    lat = np.empty(size, dtype=np.float64)
    lon = np.empty(size, dtype=np.float64)
    n = _put(lat, lon, 0, ends_lat[0], ends_lon[0])
    n = _put(lat, lon, n, ends_lat[1], ends_lon[1])
    length_m = offsets_m
    for i in range(len(edges)):
        e = edges[i]
        start, end = starts[i], ends[i]
        length_m += (end - start) * edge_length_m[e]
        lo, hi = geom_ptr[e], geom_ptr[e + 1]
        if start <= 0.0 and end >= 1.0:
            for k in range(lo, hi):
                n = _put(lat, lon, n, geom_lat[k], geom_lon[k])
            continue
        total = geom_along_m[hi - 1] if hi - lo > 1 else 0.0
        if total <= 0.0:
            n = _put(lat, lon, n, geom_lat[lo], geom_lon[lo])
            continue
        along = geom_along_m[lo:hi]
        d0, d1 = start * total, end * total
        n = _put(
            lat, lon, n, _interp(d0, along, geom_lat[lo:hi]), _interp(d0, along, geom_lon[lo:hi])
        )
        for k in range(lo, hi):
            if geom_along_m[k] > d0 and geom_along_m[k] < d1:
                n = _put(lat, lon, n, geom_lat[k], geom_lon[k])
        n = _put(
            lat, lon, n, _interp(d1, along, geom_lat[lo:hi]), _interp(d1, along, geom_lon[lo:hi])
        )
    n = _put(lat, lon, n, ends_lat[2], ends_lon[2])
    n = _put(lat, lon, n, ends_lat[3], ends_lon[3])
    return lat[:n].copy(), lon[:n].copy(), length_m


@numba.njit(cache=True)
def _along_edge_cost(
    edge_time: np.ndarray,
    edge: int,
    reverse_edge: int,
    start: float,
    end: float,
    speed_factor: float,
) -> float:  # pragma: no cover - compiled
    """Cost from fraction ``start`` to ``end`` of one street, inf if that direction is closed."""
    if end >= start:
        return float((end - start) * edge_time[edge] * speed_factor)
    if reverse_edge >= 0:
        return float((start - end) * edge_time[reverse_edge] * speed_factor)
    return np.inf


@numba.njit(cache=True)
def _target_times(  # noqa: C901 - numba kernel: one loop nest, splitting it costs speed
    dist: np.ndarray,
    edge_tail: np.ndarray,
    edge_head: np.ndarray,
    edge_time: np.ndarray,
    edge_reverse: np.ndarray,
    speed_factor: float,
    origin_edge: int,
    origin_fraction: float,
    origin_cost: float,
    target_edge: np.ndarray,
    target_fraction: np.ndarray,
    target_offset_m: np.ndarray,
    offset_speed_mps: float,
    max_cost: float,
    backward: bool,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Per target: best of entering its edge from either end, or along the origin's street."""
    origin_reverse = edge_reverse[origin_edge]
    for i in range(len(target_edge)):
        t = target_edge[i]
        if t < 0:
            out[i] = np.inf
            continue
        g = target_fraction[i]
        rt = edge_reverse[t]
        best = np.inf
        if not backward:
            # arrive along t from its tail, or along its reverse from its head
            at_tail = dist[edge_tail[t]]
            if at_tail < np.inf:
                best = at_tail + g * edge_time[t] * speed_factor
            at_head = dist[edge_head[t]]
            if at_head < np.inf:
                if rt >= 0:
                    best = min(best, at_head + (1.0 - g) * edge_time[rt] * speed_factor)
                elif g >= 1.0:
                    best = min(best, at_head)
        else:
            # leave along t to its head, or along its reverse to its tail
            at_head = dist[edge_head[t]]
            if at_head < np.inf:
                best = at_head + (1.0 - g) * edge_time[t] * speed_factor
            at_tail = dist[edge_tail[t]]
            if at_tail < np.inf:
                if rt >= 0:
                    best = min(best, at_tail + g * edge_time[rt] * speed_factor)
                elif g <= 0.0:
                    best = min(best, at_tail)
        if t == origin_edge or (origin_reverse >= 0 and t == origin_reverse):
            position = g if t == origin_edge else 1.0 - g
            if backward:
                direct = _along_edge_cost(
                    edge_time, origin_edge, origin_reverse, position, origin_fraction, speed_factor
                )
            else:
                direct = _along_edge_cost(
                    edge_time, origin_edge, origin_reverse, origin_fraction, position, speed_factor
                )
            best = min(best, origin_cost + direct)
        total = best + target_offset_m[i] / offset_speed_mps
        out[i] = total if total <= max_cost else np.inf


# --- search state ---------------------------------------------------------------------------


class _NodeState:
    """One search's node arrays, allocated once and reset by touching only what it reached."""

    __slots__ = ("dist", "n_touched", "pred", "touched")

    def __init__(self, n_nodes: int) -> None:
        self.dist = np.full(n_nodes, np.inf, dtype=np.float64)  # node -> best cost this query
        #: node -> edge reached (forward) or left (backward) through; -2-s: seed s
        self.pred = np.full(n_nodes, -1, dtype=np.int32)
        self.touched = np.zeros(n_nodes, dtype=np.int32)
        self.n_touched = 0


@dataclass(frozen=True, slots=True)
class _Tree:
    """What a kept one-to-many search was: its point, direction, pace and bound."""

    point: Snap
    reverse: bool
    speed_factor: float
    offset_speed_mps: float
    max_time_s: float


@dataclass(frozen=True, slots=True)
class _Timed:
    """The last `travel_time` query and its answer (None: nothing within its bound)."""

    origin: Snap
    target: Snap
    speed_factor: float
    offset_speed_mps: float
    max_time_s: float
    found: tuple[float, int, bool] | None


class StreetSearch:
    """Reusable per-worker search state for one StreetGraph.

    Holds the distance, predecessor and heap arrays (allocated once, reset by touching only the
    nodes the previous query reached) and the reverse CSR used for backward searches. Not
    thread-safe: give each worker its own instance.

    The searches a plan makes are kept for the walks it then draws: the last forward and the
    last backward `times_to` (the access and egress trees) and the last `travel_time` (the
    walk-only trip) each have node arrays of their own, and `route` reads a path off them
    when one of them already holds it, instead of searching again. Each is a shortest-path
    tree of its own query, so what is read off it is a shortest path of exactly the time
    that query gave; a later query of the same kind replaces it. This costs four sets of node
    arrays per worker (once, not per query).
    """

    def __init__(self, graph: StreetGraph) -> None:
        self.graph = graph
        n, m = graph.n_nodes, graph.n_edges
        self._edge_tail = graph.edge_tail
        self._edge_ids = np.arange(m, dtype=np.int32)
        # reverse CSR: node -> incoming edges, so a backward search walks edges head -> tail
        self._rev_edge = np.argsort(graph.edge_head, kind="stable").astype(np.int32)
        self._rev_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(graph.edge_head, minlength=n), out=self._rev_ptr[1:])
        self._rev_node = self._edge_tail[self._rev_edge]
        self._rev_time = graph.edge_time_s[self._rev_edge]
        # node arrays: drawing (`route`), `travel_time`, and the forward and backward trees
        self._routed = _NodeState(n)
        self._timed_state = _NodeState(n)
        self._tree_states = (_NodeState(n), _NodeState(n))  # [reverse]
        self._trees: list[_Tree | None] = [None, None]  # [reverse]: the query each one holds
        self._timed: _Timed | None = None
        #: searches run and paths read off kept searches, by kind (for tests and profiling)
        self.counts = {"tree": 0, "timed": 0, "route": 0, "kept": 0}
        # a search pushes at most once per edge plus two seeds; the pad keeps children readable
        self._heap_key = np.full(m + 2 + _HEAP_PAD, np.inf, dtype=np.float64)
        self._heap_node = np.zeros(m + 2 + _HEAP_PAD, dtype=np.int32)
        # for the A* heuristic of point-to-point routes: node positions in metres and the
        # fastest pace (seconds per metre) of any edge
        min_lon, min_lat, max_lon, max_lat = graph.bbox
        self._projection = LocalProjection((min_lat + max_lat) / 2, (min_lon + max_lon) / 2)
        self._node_x, self._node_y = self._projection.to_xy(graph.node_lat, graph.node_lon)
        # geometry point -> metres along its edge's polyline (0 at the edge's first point):
        # cutting a path's end edges at a fraction then needs no measuring per query
        lat, lon = graph.geom_lat, graph.geom_lon
        self._geom_along_m = _along_polylines(
            graph.geom_ptr, haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]), len(lat)
        )
        # weakly connected pieces: two points in different pieces cannot reach each other (the
        # two Helsinki extracts), which spares a search of the whole piece to find that out
        adjacency = scipy.sparse.csr_matrix(
            (np.ones(m, dtype=np.int8), graph.edge_head, graph.edge_ptr), shape=(n, n)
        )
        _, self._component = scipy.sparse.csgraph.connected_components(
            adjacency, directed=True, connection="weak"
        )
        positive = graph.edge_length_m > 0
        self._min_s_per_m = (
            float(np.min(graph.edge_time_s[positive] / graph.edge_length_m[positive]))
            if positive.any()
            else 0.0
        )

    def _check_snap(self, snap: Snap, speed_factor: float, offset_speed_mps: float) -> None:
        if not 0 <= snap.edge < self.graph.n_edges:
            last = self.graph.n_edges - 1
            raise QueryError(f"snap edge {snap.edge} is not an edge of this graph (0..{last})")
        if not (0.0 <= snap.fraction <= 1.0 and snap.offset_m >= 0.0):
            raise QueryError(
                f"snap fraction must be in 0..1 and offset >= 0, got {snap.fraction}, "
                f"{snap.offset_m}"
            )
        if not speed_factor > 0 or not offset_speed_mps > 0:
            raise QueryError(
                "speed_factor and offset_speed_mps must be positive, "
                f"got {speed_factor} and {offset_speed_mps}"
            )

    def _exits(
        self, snap: Snap, speed_factor: float, *, backward: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(node, cost) for reaching the head and the tail of the snap's edge from the point.

        backward=True gives the costs of reaching the point from those nodes instead. A
        one-way street's point at fraction 0 (1) still counts as its tail (head) at no cost.
        """
        edge, f = snap.edge, snap.fraction
        reverse = int(self.graph.edge_reverse[edge])
        time = self.graph.edge_time_s
        forward_part = (f if backward else 1.0 - f) * float(time[edge]) * speed_factor
        if reverse >= 0:
            back_part = (1.0 - f if backward else f) * float(time[reverse]) * speed_factor
        elif (f >= 1.0) if backward else (f <= 0.0):
            back_part = 0.0
        else:
            back_part = math.inf
        head, tail = int(self.graph.edge_head[edge]), int(self._edge_tail[edge])
        if backward:  # reach the point from its tail along the edge, from its head along reverse
            return np.array([tail, head], dtype=np.int32), np.array([forward_part, back_part])
        return np.array([head, tail], dtype=np.int32), np.array([forward_part, back_part])

    def times_to(
        self,
        origin: Snap,
        target_edge: npt.ArrayLike,
        target_fraction: npt.ArrayLike,
        target_offset_m: npt.ArrayLike,
        *,
        max_time_s: float,
        speed_factor: float = 1.0,
        offset_speed_mps: float = 1.33,
        reverse: bool = False,
    ) -> npt.NDArray[np.float64]:
        """Bounded one-to-many travel times in seconds (inf when beyond ``max_time_s``).

        Time = walk over both offsets at ``offset_speed_mps`` + network time (``edge_time_s *
        speed_factor``, partial edges pro rata). ``reverse=True`` gives each target's time to
        the origin (egress, arrive-by), searching the edges backwards. Targets with edge -1
        (unsnapped) get inf.
        """
        self._check_snap(origin, speed_factor, offset_speed_mps)
        if math.isnan(max_time_s) or max_time_s < 0:
            raise QueryError(f"max_time_s must be >= 0, got {max_time_s}")
        edges = np.ascontiguousarray(target_edge, dtype=np.int32)
        fractions = np.ascontiguousarray(target_fraction, dtype=np.float64)
        offsets = np.ascontiguousarray(target_offset_m, dtype=np.float64)
        if not (edges.ndim == 1 and edges.shape == fractions.shape == offsets.shape):
            raise QueryError(
                f"target arrays must be 1-d and equal length, got {edges.shape}, "
                f"{fractions.shape}, {offsets.shape}"
            )
        if len(edges) and (edges.min() < -1 or edges.max() >= self.graph.n_edges):
            raise QueryError(f"target edges must be -1 or 0..{self.graph.n_edges - 1}")
        origin_cost = origin.offset_m / offset_speed_mps
        seed_node, seed_cost = self._exits(origin, speed_factor, backward=reverse)
        graph = self.graph
        if reverse:
            ptr, adj_node, adj_time = self._rev_ptr, self._rev_node, self._rev_time
            adj_edge = self._rev_edge
        else:
            ptr, adj_node, adj_time = graph.edge_ptr, graph.edge_head, graph.edge_time_s
            adj_edge = self._edge_ids
        state = self._tree_states[reverse]
        self._trees[reverse] = None  # until the search below has filled the arrays
        self.counts["tree"] += 1
        state.n_touched = _bounded_search(
            ptr,
            adj_node,
            adj_time,
            float(speed_factor),
            seed_node,
            seed_cost + origin_cost,
            float(max_time_s),
            state.dist,
            state.pred,
            state.touched,
            state.n_touched,
            self._heap_key,
            self._heap_node,
            adj_edge,
        )
        self._trees[reverse] = _Tree(
            origin, reverse, float(speed_factor), float(offset_speed_mps), float(max_time_s)
        )
        out = np.empty(len(edges), dtype=np.float64)
        _target_times(
            state.dist,
            self._edge_tail,
            graph.edge_head,
            graph.edge_time_s,
            graph.edge_reverse,
            float(speed_factor),
            origin.edge,
            float(origin.fraction),
            origin_cost,
            edges,
            fractions,
            offsets,
            float(offset_speed_mps),
            float(max_time_s),
            reverse,
            out,
        )
        return out

    def travel_time(
        self,
        origin: Snap,
        target: Snap,
        *,
        speed_factor: float = 1.0,
        offset_speed_mps: float = 1.33,
        max_time_s: float = math.inf,
    ) -> float | None:
        """Seconds of the fastest street path between two snapped points, None if unreachable
        within max_time_s; `route` without the polyline, for when only the time matters.
        """
        self._timed = None  # until the search below has filled the arrays
        self.counts["timed"] += 1
        found = self._point_to_point(
            origin, target, speed_factor, offset_speed_mps, max_time_s, self._timed_state
        )
        self._timed = _Timed(
            origin,
            target,
            float(speed_factor),
            float(offset_speed_mps),
            float(max_time_s),
            found,
        )
        return None if found is None else found[0]

    def _point_to_point(
        self,
        origin: Snap,
        target: Snap,
        speed_factor: float,
        offset_speed_mps: float,
        max_time_s: float,
        state: _NodeState,
    ) -> tuple[float, int, bool] | None:
        """(total seconds, entry side, direct-forward) of the fastest path, or None; the
        predecessors of the search are left in `state`.
        """
        self._check_snap(origin, speed_factor, offset_speed_mps)
        self._check_snap(target, speed_factor, offset_speed_mps)
        graph = self.graph
        offsets_s = (origin.offset_m + target.offset_m) / offset_speed_mps
        budget = max_time_s - offsets_s
        if not budget >= 0:
            return None
        component = self._component
        if component[graph.edge_head[origin.edge]] != component[graph.edge_head[target.edge]]:
            return None
        seed_node, seed_cost = self._exits(origin, speed_factor, backward=False)
        entry_node, entry_cost = self._exits(target, speed_factor, backward=True)
        direct_cost, direct_forward = self._direct(origin, target, speed_factor)
        # A* towards the snapped target; a hair under the true lower bound absorbs the
        # projection's rounding so the heuristic stays admissible
        # (the point is taken from the edge itself, not from the snap's copy of it)
        point_lat, point_lon = self._edge_point(target.edge, target.fraction)
        tx, ty = self._projection.to_xy(point_lat, point_lon)
        state.n_touched, best, entry = _route_search(
            graph.edge_ptr,
            graph.edge_head,
            self._edge_ids,
            graph.edge_time_s,
            float(speed_factor),
            seed_node,
            seed_cost,
            entry_node,
            entry_cost,
            direct_cost,
            float(budget),
            self._node_x,
            self._node_y,
            float(tx),
            float(ty),
            self._min_s_per_m * float(speed_factor) * 0.999,
            state.dist,
            state.pred,
            state.touched,
            state.n_touched,
            self._heap_key,
            self._heap_node,
        )
        if not (math.isfinite(best) and best <= budget):
            return None
        return float(best) + offsets_s, int(entry), bool(direct_forward)

    def route(
        self,
        origin: Snap,
        target: Snap,
        *,
        speed_factor: float = 1.0,
        offset_speed_mps: float = 1.33,
        max_time_s: float = math.inf,
    ) -> StreetPath | None:
        """Fastest street path between two snapped points, None if unreachable in max_time_s.

        Read off a kept search when one holds it (see the class docstring), else searched.
        """
        self._check_snap(origin, speed_factor, offset_speed_mps)
        self._check_snap(target, speed_factor, offset_speed_mps)
        kept = self._kept(origin, target, float(speed_factor), float(offset_speed_mps), max_time_s)
        if kept is not None:
            self.counts["kept"] += 1
            kept_s, pieces = kept
            return None if kept_s is None else self._street_path(origin, target, kept_s, pieces)
        self.counts["route"] += 1
        state = self._routed
        found = self._point_to_point(
            origin, target, speed_factor, offset_speed_mps, max_time_s, state
        )
        if found is None:
            return None
        time_s, entry, direct_forward = found
        return self._street_path(
            origin, target, time_s, self._pieces(origin, target, entry, direct_forward, state)
        )

    def _kept(
        self,
        origin: Snap,
        target: Snap,
        speed_factor: float,
        offset_speed_mps: float,
        max_time_s: float,
    ) -> tuple[float | None, list[tuple[int, float, float]]] | None:
        """(seconds or None for unreachable, pieces) of the fastest path from a kept search,
        or None when no kept search settles the question.
        """
        timed = self._timed
        if (
            timed is not None
            and timed.origin == origin
            and timed.target == target
            and timed.speed_factor == speed_factor
            and timed.offset_speed_mps == offset_speed_mps
        ):
            if timed.found is not None:
                time_s, entry, direct_forward = timed.found
                if time_s <= max_time_s:
                    pieces = self._pieces(origin, target, entry, direct_forward, self._timed_state)
                    return time_s, pieces
                return None, []  # the fastest path is known and too slow
            if timed.max_time_s >= max_time_s:
                return None, []  # nothing within a bound at least as loose
        for reverse in (False, True):
            tree = self._trees[reverse]
            if (
                tree is None
                or tree.point != (target if reverse else origin)
                or tree.speed_factor != speed_factor
                or tree.offset_speed_mps != offset_speed_mps
            ):
                continue
            found = self._tree_path(tree, origin, target)
            if found is not None and found[0] <= max_time_s:
                return found
        return None

    def _tree_path(
        self, tree: _Tree, origin: Snap, target: Snap
    ) -> tuple[float, list[tuple[int, float, float]]] | None:
        """(seconds, pieces) of the fastest path between `origin` and `target` read off a
        kept tree rooted at one of them, None when the tree's bound may hide a faster path.

        The ends are joined to the tree as `_route_search` joins them (through both ends of
        their edge, or along a shared street), so the cost is the one a search would find.
        Every node within the tree's bound has its exact cost, so a connection found at no
        more than the bound is the fastest there is.
        """
        state = self._tree_states[tree.reverse]
        sf = tree.speed_factor
        graph = self.graph
        # the far end (the one that is not the tree's point) joined to the tree
        far = target if not tree.reverse else origin
        nodes, costs = self._exits(far, sf, backward=not tree.reverse)
        via = state.dist[nodes] + costs
        root_s = tree.point.offset_m / tree.offset_speed_mps  # already in the tree's costs
        direct_cost, direct_forward = self._direct(origin, target, sf)
        side = int(np.argmin(via))
        best = float(via[side])
        if direct_cost + root_s <= best:
            best = direct_cost + root_s
            side = -1
        if not best <= tree.max_time_s:
            return None
        offsets_s = (origin.offset_m + target.offset_m) / tree.offset_speed_mps
        time_s = (best - root_s) + offsets_s
        if side < 0:
            return time_s, self._pieces(origin, target, -1, direct_forward, state)
        if not tree.reverse:  # side is the target's entry: 0 its edge's tail, 1 its head
            return time_s, self._pieces(origin, target, side, True, state)
        # backward: side is the origin's exit (0 its edge's head, 1 its tail), and the
        # tree's predecessors lead from there on to the target
        middle, seed = _walk_back(state.pred, graph.edge_head, int(nodes[side]))
        return time_s, self._end_pieces(origin, target, side, middle.tolist(), seed)

    def _street_path(
        self,
        origin: Snap,
        target: Snap,
        time_s: float,
        pieces: list[tuple[int, float, float]],
    ) -> StreetPath:
        """The drawable path of `pieces` between the two points, its length summed along it.

        One kernel (`_path_points`) cuts and joins the pieces' polylines into a preallocated
        array: a per-edge numpy slice, cut and concatenate cost most of a walk's drawing.
        """
        graph = self.graph
        n = len(pieces)
        edges = np.empty(n, dtype=np.int32)
        starts = np.empty(n, dtype=np.float64)
        ends = np.empty(n, dtype=np.float64)
        for i, (edge, start, end) in enumerate(pieces):
            edges[i] = edge
            starts[i] = start
            ends[i] = end
        ends_lat = np.array([origin.lat, origin.snapped_lat, target.snapped_lat, target.lat])
        ends_lon = np.array([origin.lon, origin.snapped_lon, target.snapped_lon, target.lon])
        lat, lon, length_m = _path_points(
            graph.geom_ptr,
            graph.geom_lat,
            graph.geom_lon,
            self._geom_along_m,
            graph.edge_length_m,
            edges,
            starts,
            ends,
            ends_lat,
            ends_lon,
            float(origin.offset_m + target.offset_m),
        )
        return StreetPath(time_s=time_s, length_m=length_m, edges=edges, lats=lat, lons=lon)

    def _edge_point(self, edge: int, fraction: float) -> tuple[float, float]:
        """The point at `fraction` of an edge's length: the last point of
        the piece `_path_points` cuts from fraction 0 to `fraction`, without cutting it.
        """
        graph = self.graph
        lo, hi = graph.geom_ptr[edge], graph.geom_ptr[edge + 1]
        lat, lon = graph.geom_lat[lo:hi], graph.geom_lon[lo:hi]
        if fraction >= 1.0:
            return lat[-1], lon[-1]
        along = self._geom_along_m[lo:hi]
        total = along[-1] if hi - lo > 1 else 0.0
        if total <= 0.0:
            return lat[0], lon[0]
        d1 = fraction * total
        return np.interp(d1, along, lat), np.interp(d1, along, lon)

    def _direct(self, origin: Snap, target: Snap, speed_factor: float) -> tuple[float, bool]:
        """Cost along the origin's own street to a target on it (inf if not), and direction."""
        edge = origin.edge
        reverse = int(self.graph.edge_reverse[edge])
        if target.edge == edge:
            position = target.fraction
        elif reverse >= 0 and target.edge == reverse:
            position = 1.0 - target.fraction
        else:
            return math.inf, True
        time = self.graph.edge_time_s
        if position >= origin.fraction:
            return (position - origin.fraction) * float(time[edge]) * speed_factor, True
        if reverse >= 0:
            return (origin.fraction - position) * float(time[reverse]) * speed_factor, False
        return math.inf, True

    def _pieces(
        self, origin: Snap, target: Snap, entry: int, direct_forward: bool, state: _NodeState
    ) -> list[tuple[int, float, float]]:
        """(edge, start fraction, end fraction) of every edge the path found by a forward
        search (predecessors in `state`) runs along.
        """
        graph = self.graph
        o_edge, o_rev = origin.edge, int(graph.edge_reverse[origin.edge])
        if entry < 0:  # along the origin's street only
            position = target.fraction if target.edge == o_edge else 1.0 - target.fraction
            if direct_forward:
                return [(o_edge, origin.fraction, position)]
            return [(o_rev, 1.0 - origin.fraction, 1.0 - position)]
        t_edge = target.edge
        node = int(graph.edge_tail[t_edge]) if entry == 0 else int(graph.edge_head[t_edge])
        middle, seed = _walk_back(state.pred, self._edge_tail, node)
        return self._end_pieces(origin, target, seed, middle[::-1].tolist(), entry)

    def _end_pieces(
        self, origin: Snap, target: Snap, seed: int, middle: list[int], entry: int
    ) -> list[tuple[int, float, float]]:
        """The pieces of a path that leaves the origin's edge by `seed` (0 its head, 1 its
        tail), runs along the whole edges `middle` and enters the target's edge by `entry`
        (0 its tail, 1 its head).
        """
        graph = self.graph
        o_edge, o_rev = origin.edge, int(graph.edge_reverse[origin.edge])
        t_edge, t_rev = target.edge, int(graph.edge_reverse[target.edge])
        pieces: list[tuple[int, float, float]] = []
        if seed == 0:
            pieces.append((o_edge, origin.fraction, 1.0))
        elif o_rev >= 0:
            pieces.append((o_rev, 1.0 - origin.fraction, 1.0))
        pieces.extend((edge, 0.0, 1.0) for edge in middle)
        if entry == 0:
            pieces.append((t_edge, 0.0, target.fraction))
        elif t_rev >= 0:
            pieces.append((t_rev, 0.0, 1.0 - target.fraction))
        return pieces

"""Walk -> rent -> ride -> return -> walk: the shared-vehicle leg of a trip as three searches.

A rental chain is searched in three layers, each a bounded multi-source Dijkstra (numba
kernels over the CSR arrays, state allocated once per worker like `StreetSearch`):

1. walk: from the seeds (points on the walk graph, each with the seconds already spent) to
   every pickup of the fleet, each walk at most ``max_walk_s``;
2. ride: from every reached pickup over the fleet's ride graph (bike or car profile), with
   the fleet's own edge times, never along a blocked edge, each ride at most ``max_ride_s``
   and within the vehicle's range, to every place the ride may end (a drop-off station of a
   docked fleet, any ``node_can_end`` node of a free-floating one);
3. walk: from those ends to every target, again at most ``max_walk_s``.

`RentalSearch.backward` runs the same chain read backwards (targets first, over the reverse
graphs) for arrive-by queries and egress: the times are then seconds from each source to the
best seed.

Every label remembers the source it came from (seed, pickup, end), which is how the per-leg
limits are checked in a multi-source search and how `ChainTimes.chain` rebuilds the chain.
Keeping one label per node is what makes this fast, and it is an approximation: a node
keeps only its earliest label, so a vehicle with a short range (or a walk or ride that has
used more of its limit) can hide, at that node, a later label from another source that could
have gone further. The ride layer therefore runs again (at most `_RIDE_PASSES` times) when a
range cut a label: forward without the vehicles that ran out, backward with labels capped at
the longest range of the pickups that fell short. That finds the nearest vehicle with enough
range in the cases tested; the exact answer would need Pareto sets of (time, metres) per node,
and backward can still miss a vehicle whose range binds (forward and backward agree whenever
no range binds). The per-leg walk limits have the same one-label caveat with several seeds.

Each leg is rounded up to whole seconds at the layer boundaries, so a chain's parts add up to
its total exactly: ``seed cost + walk_to_s + rental_s + walk_from_s == time_s``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numba
import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from routing.errors import QueryError
from routing.fleet import RentalFleet
from routing.geo import LocalProjection, haversine_m
from routing.journey import Spot, SpotKind
from routing.streets import (
    _HEAP_PAD,
    Snap,
    StreetGraph,
    _along_edge_cost,
    _heap_pop,
    _heap_push,
)

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

#: the walk graph's edge_time_s is at this pace; other walking speeds scale it
GRAPH_WALK_SPEED_MPS = 1.33
#: float noise allowed before a leg is rounded up to the next whole second
_ROUND_EPS_S = 1e-6
#: ride searches per query at most (see `RentalSearch._ride_passes`)
_RIDE_PASSES = 3


@dataclass(frozen=True)
class WalkPoints:
    """Points on the walk graph: where chains start (seeds) or end (targets).

    An edge of -1 is a point beyond the streets: it is never reached and never starts a chain.
    """

    edge: I32  # point -> walk edge it sits on, or -1
    fraction: F64  # point -> 0..1 along the edge from tail to head
    offset_m: F64  # point -> straight walk between the coordinate and the edge
    cost_s: F64  # point -> seconds already spent when standing there (seeds); zeros for targets

    def __post_init__(self) -> None:
        n = len(self.edge)
        for name in ("fraction", "offset_m", "cost_s"):
            if len(getattr(self, name)) != n:
                raise QueryError(
                    f"WalkPoints.{name} has {len(getattr(self, name))} entries, expected {n}"
                )

    def __len__(self) -> int:
        return len(self.edge)

    @classmethod
    def of_snaps(cls, snaps: Sequence[Snap], cost_s: Sequence[float] | None = None) -> WalkPoints:
        """Points from snapped coordinates, with the seconds already spent at each (default 0)."""
        costs = np.zeros(len(snaps)) if cost_s is None else np.asarray(cost_s, dtype=np.float64)
        if len(costs) != len(snaps):
            raise QueryError(f"{len(snaps)} snaps but {len(costs)} costs")
        return cls(
            edge=np.array([s.edge for s in snaps], dtype=np.int32),
            fraction=np.array([s.fraction for s in snaps], dtype=np.float64),
            offset_m=np.array([s.offset_m for s in snaps], dtype=np.float64),
            cost_s=np.ascontiguousarray(costs, dtype=np.float64),
        )

    @classmethod
    def of_arrays(
        cls,
        edge: npt.ArrayLike,
        fraction: npt.ArrayLike,
        offset_m: npt.ArrayLike,
        cost_s: npt.ArrayLike | None = None,
    ) -> WalkPoints:
        """Points from parallel arrays (e.g. `StopTargets`), cast to the dtypes the kernels take."""
        edges = np.ascontiguousarray(edge, dtype=np.int32)
        costs = np.zeros(len(edges)) if cost_s is None else cost_s
        return cls(
            edge=edges,
            fraction=np.ascontiguousarray(fraction, dtype=np.float64),
            offset_m=np.ascontiguousarray(offset_m, dtype=np.float64),
            cost_s=np.ascontiguousarray(costs, dtype=np.float64),
        )


@dataclass(frozen=True)
class RentalChain:
    """How one target was reached: walk -> rent -> ride -> return -> walk (int seconds).

    ``seeds.cost_s[seed] + walk_to_s + rental_s + walk_from_s == time_s[target]``; each part
    is rounded up to whole seconds on its own.
    """

    seed: int  # index into the seeds the chain started from (backward: the end point used)
    pickup: int  # index into fleet.pickup_*
    walk_to_s: int  # seed (backward: source) point -> pickup point, on foot
    rental_s: int  # unlock + ride (incl. the straight hops to/from the ride graph) + lock
    ride_m: float  # metres ridden (hops included)
    edges: tuple[int, ...]  # ride-graph edges ridden, in travel order
    end: Spot  # Spot(DROPOFF, dropoff index) or Spot(PARKED, ride-graph node)
    walk_from_s: int  # drop-off point -> target (backward: seed) point, on foot


@dataclass(frozen=True, eq=False)
class _Stages:
    """Per-stage results of one search, copied out so a ChainTimes outlives the next query.

    Stage A is the first walk layer searched (forward: per pickup; backward: per end), stage
    B the ride (forward: per end; backward: per pickup), stage C the last walk (per target).
    An end is a drop-off index for a docked fleet and a ride-graph node for a free-floating one.
    """

    backward: bool
    docked: bool
    a_src: I32  # A item -> seed it was reached from, -1 unreached
    a_leg_s: I64  # A item -> whole seconds walked
    b_src: I32  # B item -> A item it was reached from, -1 unreached
    b_rental_s: I64  # B item -> whole seconds rented
    b_ride_m: F64  # B item -> metres ridden
    c_src: I32  # target -> B item it was reached from, -1 unreached
    c_leg_s: I64  # target -> whole seconds walked
    b_pass: npt.NDArray[np.int8]  # B item -> ride pass whose labels reached it
    ride_preds: tuple[I32, ...]  # pass -> (ride node -> edge its label came through, -1 source)
    ride_edge_tail: I32
    ride_edge_head: I32
    pickup_ride_node: I32
    dropoff_ride_node: I32


@dataclass(frozen=True)
class ChainTimes:
    """Best chain time per target (inf when unreachable) and the chains behind them.

    Everything `chain` needs is copied out of the search state, so a later `forward` or
    `backward` call does not change an earlier ChainTimes.
    """

    time_s: F64  # target -> best total seconds (seed cost included), inf when unreachable
    _stages: _Stages = field(repr=False)

    def chain(self, target: int) -> RentalChain | None:
        """The chain behind ``time_s[target]``, None when the target was not reached."""
        st = self._stages
        if not math.isfinite(self.time_s[target]):
            return None
        b = int(st.c_src[target])
        a = int(st.b_src[b])
        seed = int(st.a_src[a])
        pickup, end = (b, a) if st.backward else (a, b)
        end_node = int(st.dropoff_ride_node[end]) if st.docked else end
        pred = st.ride_preds[st.b_pass[b]]
        edges: list[int] = []
        if st.backward:  # labels point towards the end: follow them from the pickup
            node = int(st.pickup_ride_node[pickup])
            while pred[node] >= 0:
                edge = int(pred[node])
                edges.append(edge)
                node = int(st.ride_edge_head[edge])
            walk_to, walk_from = int(st.c_leg_s[target]), int(st.a_leg_s[a])
        else:  # labels point back to the pickup: follow them from the end, then reverse
            node = end_node
            while pred[node] >= 0:
                edge = int(pred[node])
                edges.append(edge)
                node = int(st.ride_edge_tail[edge])
            edges.reverse()
            walk_to, walk_from = int(st.a_leg_s[a]), int(st.c_leg_s[target])
        kind = SpotKind.DROPOFF if st.docked else SpotKind.PARKED
        return RentalChain(
            seed=seed,
            pickup=pickup,
            walk_to_s=walk_to,
            rental_s=int(st.b_rental_s[b]),
            ride_m=float(st.b_ride_m[b]),
            edges=tuple(edges),
            end=Spot(kind, end, fleet=-1),
            walk_from_s=walk_from,
        )


# --- numba kernels -----------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _leg_s(raw: float, base: float) -> float:  # pragma: no cover - compiled
    """Whole seconds of a leg that started at `base` and ended at `raw`."""
    return math.ceil(raw - base - _ROUND_EPS_S)


@numba.njit(cache=True)
def _point_seeds(
    edge_tail: np.ndarray,
    edge_head: np.ndarray,
    edge_time: np.ndarray,
    edge_reverse: np.ndarray,
    speed_factor: float,
    walk_mps: float,
    backward: bool,
    p_edge: np.ndarray,
    p_fraction: np.ndarray,
    p_offset_m: np.ndarray,
    p_base: np.ndarray,
    out_node: np.ndarray,
    out_cost: np.ndarray,
    out_src: np.ndarray,
    out_at_point: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """Enter points into the graph through both ends of their edge (like StreetSearch._exits).

    Forward the point leaves through its edge's head (rest of the edge) and, on a two-way
    street, its tail; backward it is reached from its tail along the edge and from its head
    along the reverse. ``out_at_point[i]`` is point i's cost standing on the street (base plus
    the offset walked), used for targets on the same street. Returns the number of seeds.
    """
    n = 0
    for i in range(len(p_edge)):
        e = p_edge[i]
        base = p_base[i]
        if e < 0 or not base < np.inf:
            out_at_point[i] = np.inf
            continue
        f = p_fraction[i]
        at = base + p_offset_m[i] / walk_mps
        out_at_point[i] = at
        rev = edge_reverse[e]
        head = edge_head[e]
        tail = edge_tail[e]
        if backward:
            along = f * edge_time[e] * speed_factor
            along_node = tail
            if rev >= 0:
                back = (1.0 - f) * edge_time[rev] * speed_factor
            elif f >= 1.0:
                back = 0.0
            else:
                back = np.inf
            back_node = head
        else:
            along = (1.0 - f) * edge_time[e] * speed_factor
            along_node = head
            if rev >= 0:
                back = f * edge_time[rev] * speed_factor
            elif f <= 0.0:
                back = 0.0
            else:
                back = np.inf
            back_node = tail
        out_node[n] = along_node
        out_cost[n] = at + along
        out_src[n] = i
        n += 1
        if back < np.inf:
            out_node[n] = back_node
            out_cost[n] = at + back
            out_src[n] = i
            n += 1
    return n


@numba.njit(cache=True)
def _walk_search(
    ptr: np.ndarray,
    adj_node: np.ndarray,
    adj_time: np.ndarray,
    speed_factor: float,
    seed_node: np.ndarray,
    seed_cost: np.ndarray,
    seed_src: np.ndarray,
    n_seeds: int,
    src_base: np.ndarray,
    max_leg_s: float,
    dist: np.ndarray,
    src: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
    heap_key: np.ndarray,
    heap_node: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """Multi-source Dijkstra where each label keeps its source and no leg exceeds max_leg_s.

    Forgets the previous query first (only the nodes it touched); returns #touched.
    """
    for i in range(n_touched):
        dist[touched[i]] = np.inf
        src[touched[i]] = -1
    n_touched = 0
    size = 0
    for s in range(n_seeds):
        v = seed_node[s]
        cost = seed_cost[s]
        source = seed_src[s]
        if cost - src_base[source] <= max_leg_s and cost < dist[v]:
            if dist[v] == np.inf:
                touched[n_touched] = v
                n_touched += 1
            dist[v] = cost
            src[v] = source
            size = _heap_push(heap_key, heap_node, size, cost, v)
    while size > 0:
        key = heap_key[0]
        v = heap_node[0]
        size = _heap_pop(heap_key, heap_node, size)
        if key > dist[v]:
            continue  # stale entry
        source = src[v]
        limit = src_base[source] + max_leg_s
        for j in range(ptr[v], ptr[v + 1]):
            w = adj_node[j]
            cost = key + adj_time[j] * speed_factor
            if cost <= limit and cost < dist[w]:
                if dist[w] == np.inf:
                    touched[n_touched] = w
                    n_touched += 1
                dist[w] = cost
                src[w] = source
                size = _heap_push(heap_key, heap_node, size, cost, w)
    return n_touched


@numba.njit(cache=True)
def _point_targets(  # noqa: C901 - numba kernel: one loop nest, splitting it costs speed
    dist: np.ndarray,
    src: np.ndarray,
    edge_tail: np.ndarray,
    edge_head: np.ndarray,
    edge_time: np.ndarray,
    edge_reverse: np.ndarray,
    speed_factor: float,
    walk_mps: float,
    backward: bool,
    src_base: np.ndarray,
    max_leg_s: float,
    seed_edge: np.ndarray,
    seed_fraction: np.ndarray,
    seed_at_point: np.ndarray,
    seed_key_sorted: np.ndarray,
    seed_order: np.ndarray,
    t_edge: np.ndarray,
    t_fraction: np.ndarray,
    t_offset_m: np.ndarray,
    out_time: np.ndarray,
    out_src: np.ndarray,
    out_leg: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Per target point: the best rounded total over entering its edge from either end and,
    for point seeds on the same street, walking straight along it.

    ``seed_key_sorted`` holds the point seeds' street keys (the lower of an edge and its
    reverse) in order ``seed_order``, so the same-street seeds of a target are one slice.
    """
    for i in range(len(t_edge)):
        out_time[i] = np.inf
        out_src[i] = -1
        out_leg[i] = 0
        t = t_edge[i]
        if t < 0:
            continue
        g = t_fraction[i]
        rt = edge_reverse[t]
        off = t_offset_m[i] / walk_mps
        # candidate (node cost, along cost) pairs: via the near end and via the far end
        if backward:
            n1 = edge_head[t]
            c1 = (1.0 - g) * edge_time[t] * speed_factor
            n2 = edge_tail[t]
            if rt >= 0:
                c2 = g * edge_time[rt] * speed_factor
            elif g <= 0.0:
                c2 = 0.0
            else:
                c2 = np.inf
        else:
            n1 = edge_tail[t]
            c1 = g * edge_time[t] * speed_factor
            n2 = edge_head[t]
            if rt >= 0:
                c2 = (1.0 - g) * edge_time[rt] * speed_factor
            elif g >= 1.0:
                c2 = 0.0
            else:
                c2 = np.inf
        best_total = np.inf
        best_raw = np.inf
        for k in range(2):
            node = n1 if k == 0 else n2
            along = c1 if k == 0 else c2
            d = dist[node]
            if not (d < np.inf and along < np.inf):
                continue
            s = src[node]
            base = src_base[s]
            raw = d + along + off
            if raw - base > max_leg_s:
                continue
            leg = _leg_s(raw, base)
            total = base + leg
            if total < best_total or (total == best_total and raw < best_raw):
                best_total, best_raw = total, raw
                out_src[i] = s
                out_leg[i] = leg
        if len(seed_key_sorted):
            key = min(t, rt) if rt >= 0 else t
            lo = np.searchsorted(seed_key_sorted, key)
            while lo < len(seed_key_sorted) and seed_key_sorted[lo] == key:
                s = seed_order[lo]
                lo += 1
                at = seed_at_point[s]
                if not at < np.inf:
                    continue
                se = seed_edge[s]
                srev = edge_reverse[se]
                position = g if t == se else 1.0 - g
                if backward:
                    along = _along_edge_cost(
                        edge_time, se, srev, position, seed_fraction[s], speed_factor
                    )
                else:
                    along = _along_edge_cost(
                        edge_time, se, srev, seed_fraction[s], position, speed_factor
                    )
                if not along < np.inf:
                    continue
                base = src_base[s]
                raw = at + along + off
                if raw - base > max_leg_s:
                    continue
                leg = _leg_s(raw, base)
                total = base + leg
                if total < best_total or (total == best_total and raw < best_raw):
                    best_total, best_raw = total, raw
                    out_src[i] = s
                    out_leg[i] = leg
        out_time[i] = best_total


@numba.njit(cache=True)
def _ride_search(  # noqa: C901 - numba kernel: one loop nest, splitting it costs speed
    ptr: np.ndarray,
    adj_node: np.ndarray,
    adj_edge: np.ndarray,
    edge_time: np.ndarray,
    edge_length_m: np.ndarray,
    edge_blocked: np.ndarray,
    seed_node: np.ndarray,
    seed_cost: np.ndarray,
    seed_m: np.ndarray,
    src_t0: np.ndarray,
    src_range_m: np.ndarray,
    range_margin: float,
    max_ride_s: float,
    dist: np.ndarray,
    src: np.ndarray,
    meters: np.ndarray,
    pred: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
    heap_key: np.ndarray,
    heap_node: np.ndarray,
    cut: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """Multi-source Dijkstra over a ride graph; source s is seed s.

    A label keeps its source, the metres ridden and the edge it came through. Blocked edges
    are skipped, and a label is dropped once its ride (``cost - src_t0[source]``) passes
    max_ride_s or its metres times the margin pass the source's range; ``cut[s]`` records
    that source s lost a label to its range.
    """
    for s in range(len(cut)):
        cut[s] = False
    for i in range(n_touched):
        v = touched[i]
        dist[v] = np.inf
        src[v] = -1
        pred[v] = -1
    n_touched = 0
    size = 0
    for s in range(len(seed_node)):
        cost = seed_cost[s]
        if not cost < np.inf:
            continue
        v = seed_node[s]
        fits = cost - src_t0[s] <= max_ride_s and seed_m[s] * range_margin <= src_range_m[s]
        if fits and cost < dist[v]:
            if dist[v] == np.inf:
                touched[n_touched] = v
                n_touched += 1
            dist[v] = cost
            src[v] = s
            meters[v] = seed_m[s]
            pred[v] = -1
            size = _heap_push(heap_key, heap_node, size, cost, v)
    while size > 0:
        key = heap_key[0]
        v = heap_node[0]
        size = _heap_pop(heap_key, heap_node, size)
        if key > dist[v]:
            continue
        source = src[v]
        limit = src_t0[source] + max_ride_s
        reach_m = src_range_m[source] / range_margin
        m0 = meters[v]
        for j in range(ptr[v], ptr[v + 1]):
            e = adj_edge[j]
            if edge_blocked[e]:
                continue
            cost = key + edge_time[e]
            if cost > limit:
                continue
            m = m0 + edge_length_m[e]
            if m > reach_m:
                cut[source] = True
                continue
            w = adj_node[j]
            if cost < dist[w]:
                if dist[w] == np.inf:
                    touched[n_touched] = w
                    n_touched += 1
                dist[w] = cost
                src[w] = source
                meters[w] = m
                pred[w] = e
                size = _heap_push(heap_key, heap_node, size, cost, w)
    return n_touched


@numba.njit(cache=True)
def _ride_ends(
    dist: np.ndarray,
    src: np.ndarray,
    meters: np.ndarray,
    end_node: np.ndarray,
    end_hop_m: np.ndarray,
    end_range_m: np.ndarray,
    src_range_m: np.ndarray,
    src_base: np.ndarray,
    src_t0: np.ndarray,
    ride_mps: float,
    range_margin: float,
    max_ride_s: float,
    fixed_s: float,
    out_time: np.ndarray,
    out_src: np.ndarray,
    out_rental: np.ndarray,
    out_m: np.ndarray,
    out_short: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Where a ride may stop, given by (ride node, straight hop off it): the rounded time.

    The hop is ridden at ride_mps and must fit both the ride limit and the range (the
    lower of the end's own range, used backward where the pickup is the end, and the
    source's). ``fixed_s`` is unlock plus lock; the rental runs from src_base.
    ``out_short[i]`` says end i was reached but its own range fell short.
    """
    for i in range(len(end_node)):
        out_short[i] = False
        out_time[i] = np.inf
        out_src[i] = -1
        out_rental[i] = 0
        out_m[i] = 0.0
        v = end_node[i]
        d = dist[v]
        if not d < np.inf:
            continue
        s = src[v]
        ride = d - src_t0[s] + end_hop_m[i] / ride_mps
        m = meters[v] + end_hop_m[i]
        if ride > max_ride_s or m * range_margin > src_range_m[s]:
            continue
        if m * range_margin > end_range_m[i]:
            out_short[i] = True
            continue
        base = src_base[s]
        rental = _leg_s(base + fixed_s + ride, base)
        out_time[i] = base + rental
        out_src[i] = s
        out_rental[i] = rental
        out_m[i] = m


@numba.njit(cache=True)
def _node_targets(
    dist: np.ndarray,
    src: np.ndarray,
    src_base: np.ndarray,
    max_leg_s: float,
    walk_mps: float,
    t_node: np.ndarray,
    t_hop_m: np.ndarray,
    t_ok: np.ndarray,
    out_time: np.ndarray,
    out_src: np.ndarray,
    out_leg: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Targets that are walk nodes plus a straight hop (ride nodes where a vehicle is left)."""
    for i in range(len(t_node)):
        out_time[i] = np.inf
        out_src[i] = -1
        out_leg[i] = 0
        if not t_ok[i]:
            continue
        d = dist[t_node[i]]
        if not d < np.inf:
            continue
        s = src[t_node[i]]
        base = src_base[s]
        raw = d + t_hop_m[i] / walk_mps
        if raw - base > max_leg_s:
            continue
        leg = _leg_s(raw, base)
        out_time[i] = base + leg
        out_src[i] = s
        out_leg[i] = leg


# --- search state ---------------------------------------------------------------------------


class _Csr:
    """A graph's forward and reverse adjacency, as the kernels take them."""

    def __init__(self, graph: StreetGraph) -> None:
        n = graph.n_nodes
        self.graph = graph
        self.edge_tail = np.ascontiguousarray(graph.edge_tail, dtype=np.int32)
        self.edge_ids = np.arange(graph.n_edges, dtype=np.int32)
        self.rev_edge = np.argsort(graph.edge_head, kind="stable").astype(np.int32)
        self.rev_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(graph.edge_head, minlength=n), out=self.rev_ptr[1:])
        self.rev_node = self.edge_tail[self.rev_edge]
        self.rev_time = graph.edge_time_s[self.rev_edge]
        self.dist = np.full(n, np.inf, dtype=np.float64)  # node -> best label this query
        self.src = np.full(n, -1, dtype=np.int32)  # node -> source of that label
        self.meters = np.zeros(n, dtype=np.float64)  # node -> metres ridden (ride graphs)
        self.pred = np.full(n, -1, dtype=np.int32)  # node -> edge of the label (ride graphs)
        self.touched = np.zeros(n, dtype=np.int32)
        self.n_touched = 0

    def adjacency(self, backward: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ptr, neighbour, edge id) of the forward or the reverse graph."""
        if backward:
            return self.rev_ptr, self.rev_node, self.rev_edge
        return self.graph.edge_ptr, self.graph.edge_head, self.edge_ids


@dataclass(frozen=True, eq=False)
class _RideResult:
    """The ride layer's best per end (forward: drop-off or node; backward: pickup)."""

    time: F64  # end -> time the vehicle is returned (backward: seconds to go at the pickup)
    src: I32  # end -> source of the ride, -1 unreached
    rental_s: I64  # end -> whole seconds rented
    ride_m: F64  # end -> metres ridden
    pass_: npt.NDArray[np.int8]  # end -> the pass that found it (index into preds)
    preds: list[I32]  # pass -> copy of the ride predecessor edges


def _stages_of(
    backward: bool,
    fleet: RentalFleet,
    ride: _Csr,
    rides: _RideResult,
    a_src: I32,
    a_leg: I64,
    c_src: I32,
    c_leg: I64,
) -> _Stages:
    """What `ChainTimes.chain` needs from one search, forward or backward alike."""
    return _Stages(
        backward=backward,
        docked=fleet.docked,
        a_src=a_src,
        a_leg_s=a_leg,
        b_src=rides.src,
        b_rental_s=rides.rental_s,
        b_ride_m=rides.ride_m,
        c_src=c_src,
        c_leg_s=c_leg,
        b_pass=rides.pass_,
        ride_preds=tuple(rides.preds),
        ride_edge_tail=ride.edge_tail,
        ride_edge_head=ride.graph.edge_head,
        pickup_ride_node=fleet.pickup_ride_node,
        dropoff_ride_node=fleet.dropoff_ride_node,
    )


@dataclass(frozen=True, eq=False)
class _RideToWalk:
    """Ride node -> walk node where a parked rider steps off, and the straight hop to it."""

    walk_node: I32
    hop_m: F64


class RentalSearch:
    """Per worker, not thread-safe: reusable state for the walk graph and each ride graph.

    Ride nodes map to walk nodes by equal OSM node id, else to the nearest walk node (a
    cKDTree built here, once); the straight hop between the two is walked.
    """

    def __init__(self, walk: StreetGraph, rides: Mapping[str, StreetGraph]) -> None:
        self.walk = walk
        #: profile -> ride graph, for callers checking a fleet against the graph it rides
        self.rides: dict[str, StreetGraph] = dict(rides)
        self._walk = _Csr(walk)
        self._rides = {profile: _Csr(graph) for profile, graph in rides.items()}
        self._heap_key = np.zeros(0, dtype=np.float64)
        self._heap_node = np.zeros(0, dtype=np.int32)
        self._to_walk = {profile: self._map_to_walk(graph) for profile, graph in rides.items()}

    def _map_to_walk(self, ride: StreetGraph) -> _RideToWalk:
        walk = self.walk
        order = np.argsort(walk.node_osm_id, kind="stable")
        sorted_ids = walk.node_osm_id[order]
        at = np.minimum(np.searchsorted(sorted_ids, ride.node_osm_id), len(sorted_ids) - 1)
        same = sorted_ids[at] == ride.node_osm_id
        node = np.where(same, order[at], -1).astype(np.int32)
        hop = np.zeros(ride.n_nodes, dtype=np.float64)
        missing = np.flatnonzero(~same)
        if len(missing):
            min_lon, min_lat, max_lon, max_lat = walk.bbox
            projection = LocalProjection((min_lat + max_lat) / 2, (min_lon + max_lon) / 2)
            tree = cKDTree(np.column_stack(projection.to_xy(walk.node_lat, walk.node_lon)))
            x, y = projection.to_xy(ride.node_lat[missing], ride.node_lon[missing])
            _, nearest = tree.query(np.column_stack([x, y]))
            node[missing] = nearest
            hop[missing] = haversine_m(
                ride.node_lat[missing],
                ride.node_lon[missing],
                walk.node_lat[nearest],
                walk.node_lon[nearest],
            )
        return _RideToWalk(node, hop)

    def _heap(self, capacity: int) -> tuple[np.ndarray, np.ndarray]:
        """The shared heap arrays, grown when a query needs more room (kept all-inf)."""
        if len(self._heap_key) < capacity + _HEAP_PAD:
            size = capacity + _HEAP_PAD
            self._heap_key = np.full(size, np.inf, dtype=np.float64)
            self._heap_node = np.zeros(size, dtype=np.int32)
        return self._heap_key, self._heap_node

    def _check(
        self,
        seeds: WalkPoints,
        fleet: RentalFleet,
        ends: WalkPoints,
        max_walk_s: float,
        max_ride_s: float,
        walk_speed_mps: float,
    ) -> _Csr:
        if fleet.profile not in self._rides:
            raise QueryError(
                f"fleet profile {fleet.profile!r} has no ride graph; have {sorted(self._rides)}"
            )
        ride = self._rides[fleet.profile]
        fleet.check(self.walk.n_edges, ride.graph.n_nodes, ride.graph.n_edges)
        for name, points in (("seeds", seeds), ("targets", ends)):
            if len(points) and (points.edge.min() < -1 or points.edge.max() >= self.walk.n_edges):
                raise QueryError(f"{name} edges must be -1 or 0..{self.walk.n_edges - 1}")
        for name, value in (("max_walk_s", max_walk_s), ("max_ride_s", max_ride_s)):
            if math.isnan(value) or value < 0:
                raise QueryError(f"{name} must be >= 0, got {value}")
        if not (math.isfinite(walk_speed_mps) and walk_speed_mps > 0):
            raise QueryError(f"walk_speed_mps must be positive, got {walk_speed_mps}")
        return ride

    def _walk_points(
        self,
        points: WalkPoints,
        base: F64,
        max_leg_s: float,
        walk_mps: float,
        backward: bool,
    ) -> tuple[F64, F64, I64, I64]:
        """Walk layer from point seeds; returns what `_point_targets` needs about the seeds."""
        walk, csr = self.walk, self._walk
        sf = GRAPH_WALK_SPEED_MPS / walk_mps
        n = len(points)
        node = np.empty(2 * n, dtype=np.int32)
        cost = np.empty(2 * n, dtype=np.float64)
        src = np.empty(2 * n, dtype=np.int32)
        at_point = np.empty(n, dtype=np.float64)
        n_seeds = _point_seeds(
            csr.edge_tail,
            walk.edge_head,
            walk.edge_time_s,
            walk.edge_reverse,
            sf,
            walk_mps,
            backward,
            points.edge,
            points.fraction,
            points.offset_m,
            base,
            node,
            cost,
            src,
            at_point,
        )
        self._run_walk(node, cost, src, n_seeds, base, max_leg_s, walk_mps, backward)
        reverse = walk.edge_reverse[np.maximum(points.edge, 0)]
        street = np.where(reverse >= 0, np.minimum(points.edge, reverse), points.edge)
        street = np.where(np.isfinite(at_point), street, -1).astype(np.int64)
        order = np.argsort(street, kind="stable").astype(np.int64)
        return at_point, base, street[order], order

    def _run_walk(
        self,
        node: I32,
        cost: F64,
        src: I32,
        n_seeds: int,
        base: F64,
        max_leg_s: float,
        walk_mps: float,
        backward: bool,
    ) -> None:
        csr = self._walk
        ptr, adj_node, _ = csr.adjacency(backward)
        adj_time = csr.rev_time if backward else self.walk.edge_time_s
        heap_key, heap_node = self._heap(self.walk.n_edges + n_seeds)
        csr.n_touched = _walk_search(
            ptr,
            adj_node,
            adj_time,
            GRAPH_WALK_SPEED_MPS / walk_mps,
            node,
            cost,
            src,
            n_seeds,
            base,
            float(max_leg_s),
            csr.dist,
            csr.src,
            csr.touched,
            csr.n_touched,
            heap_key,
            heap_node,
        )

    def _targets(
        self,
        seeds: WalkPoints,
        seed_info: tuple[F64, F64, I64, I64] | None,
        base: F64,
        targets_edge: I32,
        targets_fraction: F64,
        targets_offset_m: F64,
        max_leg_s: float,
        walk_mps: float,
        backward: bool,
    ) -> tuple[F64, I32, I64]:
        walk, csr = self.walk, self._walk
        n = len(targets_edge)
        out_time = np.empty(n, dtype=np.float64)
        out_src = np.empty(n, dtype=np.int32)
        out_leg = np.empty(n, dtype=np.int64)
        if seed_info is None:
            at_point = np.zeros(0)
            keys = np.zeros(0, dtype=np.int64)
            order = np.zeros(0, dtype=np.int64)
            s_edge, s_fraction = np.zeros(0, dtype=np.int32), np.zeros(0)
        else:
            at_point, _, keys, order = seed_info
            s_edge, s_fraction = seeds.edge, seeds.fraction
        _point_targets(
            csr.dist,
            csr.src,
            csr.edge_tail,
            walk.edge_head,
            walk.edge_time_s,
            walk.edge_reverse,
            GRAPH_WALK_SPEED_MPS / walk_mps,
            walk_mps,
            backward,
            base,
            float(max_leg_s),
            s_edge,
            s_fraction,
            at_point,
            keys,
            order,
            targets_edge,
            targets_fraction,
            targets_offset_m,
            out_time,
            out_src,
            out_leg,
        )
        return out_time, out_src, out_leg

    def _ride_passes(
        self,
        ride: _Csr,
        fleet: RentalFleet,
        backward: bool,
        seed_node: I32,
        seed_hop_m: F64,
        seed_base: F64,
        end_node: I32,
        end_hop_m: F64,
        max_ride_s: float,
    ) -> _RideResult:
        """The ride layer, run again while a vehicle's range may have hidden another's.

        One label per node lets an early vehicle with little range claim the streets around
        it and cut off a later one that could go further. So forward, when any source lost a
        label to its range, the search runs again without those sources; backward (where the
        range is only known at the pickup) it runs again with labels capped at the longest
        range of the pickups that fell short. Each end keeps its best result of any pass;
        at most `_RIDE_PASSES` passes.
        """
        speed = float(fleet.ride_speed_mps)
        margin = float(fleet.range_margin)
        start_s, stop_s = (
            (fleet.lock_s, fleet.unlock_s) if backward else (fleet.unlock_s, fleet.lock_s)
        )
        t0 = seed_base + start_s
        seed_cost = t0 + seed_hop_m / speed
        ranges = np.ascontiguousarray(fleet.pickup_range_m, dtype=np.float64)
        if backward:
            cap = float(ranges.max()) if len(ranges) else 0.0
            src_range = np.full(len(seed_node), cap)
            end_range = ranges
        else:
            src_range, end_range = ranges, np.full(len(end_node), np.inf)
        n = len(end_node)
        best = _RideResult(
            time=np.full(n, np.inf),
            src=np.full(n, -1, dtype=np.int32),
            rental_s=np.zeros(n, dtype=np.int64),
            ride_m=np.zeros(n),
            pass_=np.zeros(n, dtype=np.int8),
            preds=[],
        )
        cut = np.zeros(len(seed_node), dtype=np.bool_)
        out = (
            np.empty(n, dtype=np.float64),
            np.empty(n, dtype=np.int32),
            np.empty(n, dtype=np.int64),
            np.empty(n, dtype=np.float64),
            np.empty(n, dtype=np.bool_),
        )
        ptr, adj_node, adj_edge = ride.adjacency(backward)
        heap_key, heap_node = self._heap(ride.graph.n_edges + len(seed_node))
        for _ in range(_RIDE_PASSES):
            ride.n_touched = _ride_search(
                ptr,
                adj_node,
                adj_edge,
                fleet.edge_time_s,
                ride.graph.edge_length_m,
                fleet.edge_blocked,
                seed_node,
                seed_cost,
                seed_hop_m,
                t0,
                src_range,
                margin,
                float(max_ride_s),
                ride.dist,
                ride.src,
                ride.meters,
                ride.pred,
                ride.touched,
                ride.n_touched,
                heap_key,
                heap_node,
                cut,
            )
            _ride_ends(
                ride.dist,
                ride.src,
                ride.meters,
                end_node,
                end_hop_m,
                end_range,
                src_range,
                seed_base,
                t0,
                speed,
                margin,
                float(max_ride_s),
                float(start_s + stop_s),
                *out,
            )
            time, src, rental, ride_m, short = out
            better = time < best.time
            if better.any():
                best.time[better] = time[better]
                best.src[better] = src[better]
                best.rental_s[better] = rental[better]
                best.ride_m[better] = ride_m[better]
                best.pass_[better] = len(best.preds)
                best.preds.append(ride.pred.copy())
            if backward:
                if not short.any():
                    break
                cap = float(end_range[short].max())
                src_range = np.full(len(seed_node), cap)
            else:
                if not cut.any():
                    break
                seed_cost = np.where(cut, np.inf, seed_cost)
        return best

    def _walk_layer(
        self,
        start: WalkPoints,
        base: F64,
        to: tuple[I32, F64, F64],
        max_walk_s: float,
        walk_mps: float,
        *,
        backward: bool,
    ) -> tuple[F64, I32, I64]:
        """One walk layer between points: from `start` (each at its `base` seconds) to the
        points `to` = (edge, fraction, offset_m); (time, start index, whole seconds walked).
        """
        info = self._walk_points(start, base, max_walk_s, walk_mps, backward=backward)
        return self._targets(start, info, base, *to, max_walk_s, walk_mps, backward=backward)

    def forward(
        self,
        seeds: WalkPoints,
        fleet: RentalFleet,
        targets: WalkPoints,
        *,
        max_walk_s: float,
        max_ride_s: float,
        walk_speed_mps: float = GRAPH_WALK_SPEED_MPS,
    ) -> ChainTimes:
        """Every target's earliest "seed -> walk -> pickup -> ride -> drop -> walk -> target".

        Each walk is at most max_walk_s at walk_speed_mps, the ride (straight hops included)
        at most max_ride_s; times include the seed's cost_s.
        """
        ride = self._check(seeds, fleet, targets, max_walk_s, max_ride_s, walk_speed_mps)
        v = float(walk_speed_mps)
        # 1. walk: seeds -> pickups
        seed_base = np.ascontiguousarray(seeds.cost_s, dtype=np.float64)
        pickups = (fleet.pickup_walk_edge, fleet.pickup_walk_fraction, fleet.pickup_walk_offset_m)
        a_time, a_src, a_leg = self._walk_layer(
            seeds, seed_base, pickups, max_walk_s, v, backward=False
        )
        # 2. ride: pickups -> ends
        end_node, end_hop = self._end_places(ride, fleet)
        rides = self._ride_passes(
            ride,
            fleet,
            False,
            fleet.pickup_ride_node,
            np.ascontiguousarray(fleet.pickup_ride_offset_m, dtype=np.float64),
            a_time,
            end_node,
            end_hop,
            max_ride_s,
        )
        b_time = rides.time
        if not fleet.docked:
            b_time[~fleet.node_can_end] = np.inf
        # 3. walk: ends -> targets
        if fleet.docked:
            ends = WalkPoints(
                fleet.dropoff_walk_edge,
                fleet.dropoff_walk_fraction,
                fleet.dropoff_walk_offset_m,
                b_time,
            )
            c_time, c_src, c_leg = self._walk_layer(
                ends,
                b_time,
                (targets.edge, targets.fraction, targets.offset_m),
                max_walk_s,
                v,
                backward=False,
            )
        else:
            c_time, c_src, c_leg = self._from_parked(ride, fleet, b_time, targets, max_walk_s, v)
        return ChainTimes(c_time, _stages_of(False, fleet, ride, rides, a_src, a_leg, c_src, c_leg))

    @staticmethod
    def _end_places(ride: _Csr, fleet: RentalFleet) -> tuple[I32, F64]:
        """(ride node, straight hop) of every place a ride may end: the drop-off stations of a
        docked fleet, every ride node of a free-floating one (filtered by node_can_end later).
        """
        if fleet.docked:
            hop = np.ascontiguousarray(fleet.dropoff_ride_offset_m, dtype=np.float64)
            return fleet.dropoff_ride_node, hop
        return np.arange(ride.graph.n_nodes, dtype=np.int32), np.zeros(ride.graph.n_nodes)

    def _from_parked(
        self,
        ride: _Csr,
        fleet: RentalFleet,
        park_time: F64,
        targets: WalkPoints,
        max_walk_s: float,
        walk_mps: float,
    ) -> tuple[F64, I32, I64]:
        """Walk layer seeded at every node a vehicle was left at (its walk node plus hop)."""
        to_walk = self._to_walk[fleet.profile]
        parked = np.flatnonzero(np.isfinite(park_time)).astype(np.int32)
        node = to_walk.walk_node[parked]
        cost = park_time[parked] + to_walk.hop_m[parked] / walk_mps
        self._run_walk(node, cost, parked, len(parked), park_time, max_walk_s, walk_mps, False)
        return self._targets(
            targets,
            None,
            park_time,
            targets.edge,
            targets.fraction,
            targets.offset_m,
            max_walk_s,
            walk_mps,
            backward=False,
        )

    def backward(
        self,
        seeds: WalkPoints,
        fleet: RentalFleet,
        sources: WalkPoints,
        *,
        max_walk_s: float,
        max_ride_s: float,
        walk_speed_mps: float = GRAPH_WALK_SPEED_MPS,
    ) -> ChainTimes:
        """The same chain read backwards: ``time_s[i]`` is seconds from sources[i] to the best
        seed (the seeds are where the trip must end, their cost_s the time after them).

        ``chain(i).seed`` is then the end point used and ``walk_to_s`` is source -> pickup. The
        range check happens at the pickup (the search starts at the ends), so one label per
        node can hide a long-range vehicle here too (see the module docstring).
        """
        ride = self._check(seeds, fleet, sources, max_walk_s, max_ride_s, walk_speed_mps)
        v = float(walk_speed_mps)
        # 1. walk backwards: ends -> seeds
        seed_base = np.ascontiguousarray(seeds.cost_s, dtype=np.float64)
        if fleet.docked:
            dropoffs = (
                fleet.dropoff_walk_edge,
                fleet.dropoff_walk_fraction,
                fleet.dropoff_walk_offset_m,
            )
            a_time, a_src, a_leg = self._walk_layer(
                seeds, seed_base, dropoffs, max_walk_s, v, backward=True
            )
        else:
            self._walk_points(seeds, seed_base, max_walk_s, v, backward=True)
            to_walk = self._to_walk[fleet.profile]
            n = ride.graph.n_nodes
            a_time = np.empty(n, dtype=np.float64)
            a_src = np.empty(n, dtype=np.int32)
            a_leg = np.empty(n, dtype=np.int64)
            _node_targets(
                self._walk.dist,
                self._walk.src,
                seed_base,
                float(max_walk_s),
                v,
                to_walk.walk_node,
                to_walk.hop_m,
                fleet.node_can_end,
                a_time,
                a_src,
                a_leg,
            )
        # 2. ride backwards: ends -> pickups
        start_node, start_hop = self._end_places(ride, fleet)
        rides = self._ride_passes(
            ride,
            fleet,
            True,
            start_node,
            start_hop,
            a_time,
            fleet.pickup_ride_node,
            np.ascontiguousarray(fleet.pickup_ride_offset_m, dtype=np.float64),
            max_ride_s,
        )
        b_time = rides.time
        # 3. walk backwards: sources -> pickups
        pickups = WalkPoints(
            fleet.pickup_walk_edge,
            fleet.pickup_walk_fraction,
            fleet.pickup_walk_offset_m,
            b_time,
        )
        c_time, c_src, c_leg = self._walk_layer(
            pickups,
            b_time,
            (sources.edge, sources.fraction, sources.offset_m),
            max_walk_s,
            v,
            backward=True,
        )
        return ChainTimes(c_time, _stages_of(True, fleet, ride, rides, a_src, a_leg, c_src, c_leg))

"""One origin to many destinations: the journeys `MultiModalPlanner.plan` finds for every
destination, with one search per origin and departure instead of one per OD pair.

An evaluation asks the same question as /plan for every cell of a zone matrix, several
departures each. Most of /plan's work does not depend on the destination, and the chain
searches of shared vehicles do not depend on the clock either, so the batch splits it:

* per destination, once: its snap, the walk from every stop within reach (egress) and, per
  fleet allowed as egress, the backward chain search from every stop (`Destinations`);
* per origin, once: its snap, the walk to every stop (access), the direct walk to every
  destination (one bounded street search), and per fleet one forward chain search to every
  stop *and every destination* (the rental the whole way and the rental to transit) —
  `OriginLegs`;
* per origin and departure: one RAPTOR run without a target per way onto transit (on foot,
  or by each fleet), read for every (destination, way off transit) pair at once
  (`BatchRaptor.one_to_sets`, a compiled pass over `EgressSets` laid out once); and for the
  fleets allowed mid-trip, the first-half `reach`, the chain search seeded at every stop it
  reaches, and one more run without a target.

Every piece is the one /plan uses (the same searchers and limits, the same splicing of
chains into transit journeys, the same `_PER_COMBINATION` cut, the same mid-trip joining
`MultiModalPlanner._after_rental`), so the journeys of one pair are the ones
`MultiModalPlanner.plan` returns for it, with one caveat: where two journeys tie on arrival
and transfers, a run without a target may keep another of them than a run pruned towards
one destination. `tests/test_batch_vs_plan.py` holds the consequence to zero on 100 seeded
pairs (same earliest arrival, same lowest price as /plan). Two more differences are by
design: the walk-only trip is timed by one bounded street search to every destination
(`StreetSearch.times_to`) where /plan runs one A* search per pair (`travel_time`): the same
shortest walk, its float sum in another order; and depart-at only (arrive-by and departure
windows stay with /plan).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numba
import numpy as np
import numpy.typing as npt

from routing.errors import QueryError, RoutingError
from routing.fleet import RentalFleet
from routing.geo import DETOUR_FACTOR, haversine_m
from routing.journey import Journey, Walk
from routing.multimodal import (
    _PER_COMBINATION,
    FleetRoles,
    MultiModalOptions,
    MultiModalPlanner,
    _concat,
    _End,
    _times,
    _unique,
)
from routing.planner import DEFAULT_WALK_SPEED_MPS, Planner, doorstep_walk_s
from routing.raptor import Raptor, StopTimes
from routing.rental import ChainTimes, RentalChain, RentalSearch, WalkPoints
from routing.streets import Snap
from routing.timetable import INF_TIME

_NO_STOPS = StopTimes(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32))


@dataclass(frozen=True)
class _MemoChains(ChainTimes):
    """ChainTimes that rebuild each target's chain once: the batch splices the same access
    chain into the journeys of every destination and departure, and rebuilding it follows
    the ride's edges one by one.
    """

    memo: dict[int, RentalChain | None] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, times: ChainTimes) -> _MemoChains:
        """The same search result, with the memo."""
        return cls(times.time_s, times._stages)

    def chain(self, target: int) -> RentalChain | None:
        """`ChainTimes.chain`, rebuilt once per target."""
        if target not in self.memo:
            self.memo[target] = super().chain(target)
        return self.memo[target]


#: a point's stops beyond the streets: (lat, lon) -> walking seconds to stops in reach,
#: estimated by the caller (the street search cannot reach the point)
Estimate = Callable[[float, float], StopTimes]


@dataclass(frozen=True)
class Destinations:
    """What every origin shares about the destinations (see the module docstring).

    A destination whose point is off the streets has `snaps[j]` None: /plan refuses such a
    point, and so it has no egress and no journeys, unless the caller gave an `Estimate`
    (then its egress is that estimate, and walk + transit and the walk are offered).
    """

    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    snaps: list[Snap | None]
    points: WalkPoints  # destination -> where it sits on the walk graph (edge -1: off it)
    walk_egress: list[StopTimes]  # destination -> walking seconds from each stop in reach
    #: destination -> per fleet allowed as egress (in fleet order), the backward chains;
    #: only fleets that reach some stop, as /plan keeps them
    rental_egress: list[list[_End]]
    n_stops: int  # stops of the timetable the egress times index
    #: whether points off the streets were given estimated stops (else they have none)
    estimated: bool = False

    @cached_property
    def ways_off(self) -> list[list[_End]]:
        """Destination -> every way off transit: on foot first, then by each fleet."""
        return [
            [_End(-1, None, walk), *ends]
            for walk, ends in zip(self.walk_egress, self.rental_egress, strict=True)
        ]

    @cached_property
    def off_sets(self) -> EgressSets:
        """`ways_off` laid end to end for `BatchRaptor.one_to_sets` (built once)."""
        return EgressSets.of([end.times for ends in self.ways_off for end in ends], self.n_stops)

    @cached_property
    def walk_sets(self) -> EgressSets:
        """The walks off transit alone, laid out the same way."""
        return EgressSets.of(self.walk_egress, self.n_stops)

    def __len__(self) -> int:
        return len(self.snaps)


@dataclass(frozen=True)
class OriginLegs:
    """What one origin needs at every departure (see the module docstring)."""

    snap: Snap | None  # None: beyond the streets, its access estimated by the caller
    lat: float
    lon: float
    fleets: tuple[RentalFleet, ...]
    roles: tuple[FleetRoles, ...]
    access: StopTimes  # walking seconds to each stop in reach
    #: destination -> whole seconds of the walk-only trip, or -1 (none within the limit)
    walk_s: npt.NDArray[np.int64]
    #: destination -> (fleet, chain) of every rental the whole way
    direct: list[list[tuple[int, RentalChain]]]
    access_ends: list[_End]  # per fleet allowed as access: the forward chains to the stops


@numba.njit(cache=True)
def _improving(  # pragma: no cover - compiled
    transit_arr: np.ndarray,
    rounds: int,
    stops: np.ndarray,
    seconds: np.ndarray,
    seg_ptr: np.ndarray,
    out_seg: np.ndarray,
    out_round: np.ndarray,
    out_col: np.ndarray,
) -> int:
    """Per egress set (a segment of `stops`), the rounds whose best arrival through it is
    strictly earlier than every earlier round's, and the egress entry that gives it (the
    first listed on ties); returns how many were written.
    """
    n = 0
    for u in range(len(seg_ptr) - 1):
        before = np.int64(INF_TIME)
        for k in range(1, rounds + 1):
            best = np.int64(INF_TIME) * 4
            col = -1
            for c in range(seg_ptr[u], seg_ptr[u + 1]):
                t = np.int64(transit_arr[k, stops[c]]) + seconds[c]
                if t < best:
                    best = t
                    col = c
            if best < before:
                out_seg[n] = u
                out_round[n] = k
                out_col[n] = col
                n += 1
                before = best
    return n


@dataclass(frozen=True)
class EgressSets:
    """Many egress sets (each a destination's way off transit) laid end to end once, so
    every run reads them without rebuilding anything.
    """

    stops: npt.NDArray[np.int32]
    seconds: npt.NDArray[np.int64]
    seg_ptr: npt.NDArray[np.int64]  # set -> its first entry (len n_sets + 1)

    @classmethod
    def of(cls, egresses: Sequence[StopTimes], n_stops: int) -> EgressSets:
        """The sets in order; raises QueryError for a stop outside 0..n_stops-1."""
        lengths = np.array([len(e.stops) for e in egresses], dtype=np.int64)
        ptr = np.zeros(len(egresses) + 1, dtype=np.int64)
        np.cumsum(lengths, out=ptr[1:])
        stops = np.concatenate([e.stops for e in egresses] or [_NO_STOPS.stops])
        seconds = np.concatenate([e.seconds for e in egresses] or [_NO_STOPS.seconds])
        if len(stops) and (stops.min() < 0 or stops.max() >= n_stops or seconds.min() < 0):
            raise QueryError("an egress stop is outside the timetable or its walk is negative")
        return cls(stops.astype(np.int32), seconds.astype(np.int64), ptr)

    def __len__(self) -> int:
        return len(self.seg_ptr) - 1


class BatchRaptor(Raptor):
    """`Raptor` whose `one_to_many` reads all destinations in one compiled pass.

    The answer is `Raptor.one_to_many`'s, journey for journey (the same rounds, the same
    egress stop on ties: the first listed), but the per-round minimum over each
    destination's egress stops runs in a numba kernel over `EgressSets` built once: the
    batch reads thousands of (destination, way off transit) pairs per run, where the
    per-destination loop of the original costs more than the run itself.
    """

    def one_to_many(
        self,
        access: StopTimes,
        egresses: list[StopTimes],
        depart_s: int,
        *,
        max_transfers: int = 8,
    ) -> list[list[Journey]]:
        """Pareto journeys over (arrival, transfers) to each destination (see `Raptor`)."""
        sets = EgressSets.of(egresses, self.tt.n_stops)
        return self.one_to_sets(access, sets, depart_s, max_transfers=max_transfers)

    def one_to_sets(
        self,
        access: StopTimes,
        sets: EgressSets,
        depart_s: int,
        *,
        max_transfers: int = 8,
    ) -> list[list[Journey]]:
        """`one_to_many` with the egress sets already laid out."""
        rounds = self._check(access, _NO_STOPS, max_transfers)
        self._reset(rounds)
        self._egress_s.fill(INF_TIME)
        self._run(access, depart_s, rounds)
        out: list[list[Journey]] = [[] for _ in range(len(sets))]
        room = len(sets) * rounds
        seg = np.empty(room, dtype=np.int64)
        rnd = np.empty(room, dtype=np.int64)
        col = np.empty(room, dtype=np.int64)
        n = _improving(
            self._transit_arr, rounds, sets.stops, sets.seconds, sets.seg_ptr, seg, rnd, col
        )
        for u, k, c in zip(seg[:n].tolist(), rnd[:n].tolist(), col[:n].tolist(), strict=True):
            s = int(sets.stops[c])
            self._egress_s[s] = int(sets.seconds[c])
            self._target_stop[k] = s
            out[u].append(self._journey(k, depart_s))
            self._egress_s[s] = INF_TIME
        return out


class BatchPlanner(MultiModalPlanner):
    """`MultiModalPlanner` read one-to-many; one per worker, not thread-safe.

    It owns its search state (a planner of its own over the same arrays), so it never
    disturbs the walks a /plan planner keeps for drawing.
    """

    def __init__(self, planner: Planner, rental: RentalSearch | None) -> None:
        own = Planner(planner.walk, planner.walk_index, planner.stops, planner.timetable)
        super().__init__(own, rental)
        self._many = BatchRaptor(planner.timetable)  # after the first half's `reach`

    # -- per destination -------------------------------------------------------------------
    def destinations(
        self,
        lat: npt.ArrayLike,
        lon: npt.ArrayLike,
        options: MultiModalOptions,
        fleets: Sequence[RentalFleet] = (),
        roles: Sequence[FleetRoles] = (),
        *,
        estimate: Estimate | None = None,
    ) -> Destinations:
        """Snap every destination and search its egress once (walk and per fleet); a point
        off the streets gets `estimate`'s stops, or none.
        """
        rental = self._checked_rental(options, fleets, roles)
        opts = options.plan
        walk_s = options.max_vehicle_walk_m / opts.walk_speed_mps
        lats, lons = _floats(lat), _floats(lon)
        snaps = [self.snap(a, b) for a, b in zip(lats, lons, strict=True)]
        egress: list[StopTimes] = []
        ends: list[list[_End]] = []
        for snap, a, b in zip(snaps, lats, lons, strict=True):
            if snap is None:
                egress.append(_NO_STOPS if estimate is None else estimate(a, b))
                ends.append([])
                continue
            egress.append(
                self.planner.stop_walk_times(
                    snap,
                    max_time_s=opts.egress_limit_s,
                    walk_speed_mps=opts.walk_speed_mps,
                    to_point=True,
                )
            )
            ends.append(self._egress_ends(rental, snap, fleets, roles, options, walk_s))
        return Destinations(
            np.array(lats, dtype=np.float64), np.array(lons, dtype=np.float64), snaps,
            _points(snaps), egress, ends, self.planner.timetable.n_stops, estimate is not None,
        )

    def snap(self, lat: float, lon: float) -> Snap | None:
        """The point on the walk graph, or None where /plan would refuse it."""
        try:
            return self.planner.walk_index.snap(lat, lon)
        except RoutingError:  # off the streets or on an isolated piece: /plan refuses it
            return None

    def _egress_ends(
        self,
        rental: RentalSearch | None,
        snap: Snap,
        fleets: Sequence[RentalFleet],
        roles: Sequence[FleetRoles],
        options: MultiModalOptions,
        walk_s: float,
    ) -> list[_End]:
        if rental is None or not options.transit:
            return []
        point = WalkPoints.of_snaps([snap])
        out: list[_End] = []
        for i, (fleet, role) in enumerate(zip(fleets, roles, strict=True)):
            if not role.egress:
                continue
            bw = rental.backward(
                point,
                fleet,
                self._stop_points,
                max_walk_s=walk_s,
                max_ride_s=options.max_ride_s,
                walk_speed_mps=options.plan.walk_speed_mps,
            )
            times = _times(bw, self._stops, len(self._stops))
            if len(times.stops):
                out.append(_End(i, _MemoChains.of(bw), times))
        return out

    # -- per origin ------------------------------------------------------------------------
    def origin(
        self,
        snap: Snap,
        dests: Destinations,
        options: MultiModalOptions,
        fleets: Sequence[RentalFleet] = (),
        roles: Sequence[FleetRoles] = (),
    ) -> OriginLegs:
        """The origin's walks and chain searches to every stop and destination."""
        rental = self._checked_rental(options, fleets, roles)
        opts = options.plan
        access = self.planner.stop_walk_times(
            snap, max_time_s=opts.access_limit_s, walk_speed_mps=opts.walk_speed_mps,
            to_point=False,
        )
        direct: list[list[tuple[int, RentalChain]]] = [[] for _ in range(len(dests))]
        access_ends: list[_End] = []
        if rental is not None:
            walk_s = options.max_vehicle_walk_m / opts.walk_speed_mps
            targets = _concat(self._stop_points, dests.points)
            for i, (fleet, role) in enumerate(zip(fleets, roles, strict=True)):
                if role.access or role.direct:
                    self._forward(
                        rental, i, fleet, role, snap, targets, options, walk_s, direct,
                        access_ends,
                    )
        walks = self._walks(snap, dests, options)
        return OriginLegs(
            snap, snap.lat, snap.lon, tuple(fleets), tuple(roles), access, walks, direct,
            access_ends,
        )

    def origin_beyond_streets(
        self,
        lat: float,
        lon: float,
        access: StopTimes,
        dests: Destinations,
        options: MultiModalOptions,
    ) -> OriginLegs:
        """An origin off the streets, with the caller's estimated `access`: transit (which
        may still end with a rental from a stop) and the straight-line walk; no vehicle
        can be reached from the origin itself.
        """
        options.check()
        walks = _straight_walks(lat, lon, dests.lat, dests.lon, options)
        no_direct: list[list[tuple[int, RentalChain]]] = [[] for _ in range(len(dests))]
        return OriginLegs(None, lat, lon, (), (), access, walks, no_direct, [])

    def _forward(
        self,
        rental: RentalSearch,
        index: int,
        fleet: RentalFleet,
        role: FleetRoles,
        snap: Snap,
        targets: WalkPoints,
        options: MultiModalOptions,
        walk_s: float,
        direct: list[list[tuple[int, RentalChain]]],
        access_ends: list[_End],
    ) -> None:
        """One forward chain search: the rental the whole way to every destination, and
        to every stop as transit access (`MultiModalPlanner._from_origin`, many targets).
        """
        n_stops = len(self._stops)
        fw = _MemoChains.of(
            rental.forward(
                WalkPoints.of_snaps([snap]),
                fleet,
                targets,
                max_walk_s=walk_s,
                max_ride_s=options.max_ride_s,
                walk_speed_mps=options.plan.walk_speed_mps,
            )
        )
        if role.direct:
            for j in np.flatnonzero(np.isfinite(fw.time_s[n_stops:])).tolist():
                chain = fw.chain(n_stops + j)
                if chain is not None:
                    direct[j].append((index, chain))
        if role.access and options.transit:
            times = _times(fw, self._stops, n_stops)
            if len(times.stops):
                access_ends.append(_End(index, fw, times))

    def _walks(
        self, origin: Snap, dests: Destinations, options: MultiModalOptions
    ) -> npt.NDArray[np.int64]:
        """Whole seconds of the walk-only trip to every destination (-1: none), by the rule
        of `Planner.plan`: the street walk within the direct-walk limit, or the doorstep
        walk when the two points are nearer each other than any street. A destination off
        the streets with estimated stops gets the straight-line estimate.
        """
        opts = options.plan
        limit_s = opts.direct_limit_s
        points = dests.points
        street = self.planner.walk_search.times_to(
            origin,
            points.edge,
            points.fraction,
            points.offset_m,
            max_time_s=limit_s,
            speed_factor=DEFAULT_WALK_SPEED_MPS / opts.walk_speed_mps,
            offset_speed_mps=opts.walk_speed_mps,
        )
        out = np.full(len(dests), -1, dtype=np.int64)
        if dests.estimated:
            out = _straight_walks(origin.lat, origin.lon, dests.lat, dests.lon, options)
        for j, snap in enumerate(dests.snaps):
            if snap is None:
                continue
            out[j] = -1
            best = float(street[j])
            door_s = doorstep_walk_s(origin, snap, opts.walk_speed_mps)
            if door_s is not None and door_s <= limit_s:
                best = min(best, door_s)
            if math.isfinite(best) and best <= limit_s:
                out[j] = math.ceil(best)
        return out

    # -- per departure ---------------------------------------------------------------------
    def journeys(
        self, legs: OriginLegs, dests: Destinations, time_s: int, options: MultiModalOptions
    ) -> list[list[Journey]]:
        """Per destination, the journeys `MultiModalPlanner.plan` finds leaving at `time_s`."""
        opts = options.plan
        if opts.arrive_by or opts.window_s:
            raise QueryError("the batch search plans depart-at queries only")
        out: list[list[Journey]] = [[] for _ in range(len(dests))]
        if options.transit and len(legs.access.stops):
            self._transit_from(_End(-1, None, legs.access), dests, time_s, options, legs, out)
        else:  # no transit from the origin on foot: the base plan is the walk alone
            for j in range(len(dests)):
                out[j] += self._base([], int(legs.walk_s[j]), time_s, options)
        if options.transit:
            for way_on in legs.access_ends:
                self._transit_from(way_on, dests, time_s, options, legs, out)
        for j in range(len(dests)):
            if dests.snaps[j] is None and not dests.estimated:
                out[j] = []
                continue
            out[j] += [
                self._direct(i, chain, time_s, arrive_by=False) for i, chain in legs.direct[j]
            ]
        if options.transit:
            self._mid_trips_all(legs, dests, time_s, options, out)
        return [_unique(found) for found in out]

    def _transit_from(
        self,
        way_on: _End,
        dests: Destinations,
        time_s: int,
        options: MultiModalOptions,
        legs: OriginLegs,
        out: list[list[Journey]],
    ) -> None:
        """One RAPTOR run from one way onto transit, read for every destination and every
        way off it; on foot at both ends it is the base plan (with the direct walk).
        """
        opts = options.plan
        found = self._many.one_to_sets(
            way_on.times, dests.off_sets, time_s, max_transfers=opts.max_transfers
        )
        k = 0
        for j, ends in enumerate(dests.ways_off):
            for way_off in ends:
                journeys, k = found[k], k + 1
                if way_on.fleet < 0 and way_off.fleet < 0:
                    out[j] += self._base(journeys, int(legs.walk_s[j]), time_s, options)
                else:
                    out[j] += [
                        self._splice(way_on.fleet, way_on.chains, way_off.fleet, way_off.chains, x)
                        for x in journeys[:_PER_COMBINATION]
                    ]

    @staticmethod
    def _base(
        transit: list[Journey], walk_s: int, time_s: int, options: MultiModalOptions
    ) -> list[Journey]:
        """`Planner.plan`'s answer for one pair, then `_allowed_modes`: rides that arrive no
        earlier than walking the whole way are dropped, and the walk is added.
        """
        journeys = list(transit)
        if walk_s >= 0:
            walk_only = Journey((Walk(-1, -1, time_s, time_s + walk_s),))
            journeys = [x for x in journeys if x.arrive_s < walk_only.arrive_s]
            journeys.append(walk_only)
        return [x for x in journeys if (options.transit if x.rides else options.walk_only)]

    def _mid_trips_all(
        self,
        legs: OriginLegs,
        dests: Destinations,
        time_s: int,
        options: MultiModalOptions,
        out: list[list[Journey]],
    ) -> None:
        """Rentals between two rides (`MultiModalPlanner._mid_trips`) for every destination:
        one first-half `reach`, per fleet one chain search and one run without a target.
        """
        rental = self.rental
        mid = [i for i, role in enumerate(legs.roles) if role.mid]
        opts = options.plan
        if rental is None or not mid or not len(legs.access.stops):
            return
        arrive = self._first_half.reach(legs.access, time_s, max_transfers=opts.max_transfers)
        reached = arrive[self._stops]
        ok = reached < INF_TIME
        if not ok.any():
            return
        seeds = WalkPoints(
            self._stop_points.edge[ok],
            self._stop_points.fraction[ok],
            self._stop_points.offset_m[ok],
            (reached[ok] - time_s).astype(np.float64),
        )
        seed_stops = self._stops[ok]
        walk_s = options.max_vehicle_walk_m / opts.walk_speed_mps
        for i in mid:
            chains = _MemoChains.of(
                rental.forward(
                    seeds,
                    legs.fleets[i],
                    self._stop_points,
                    max_walk_s=walk_s,
                    max_ride_s=options.max_ride_s,
                    walk_speed_mps=opts.walk_speed_mps,
                )
            )
            after = _times(chains, self._stops, len(self._stops))
            if not len(after.stops):
                continue
            found = self._many.one_to_sets(
                after, dests.walk_sets, time_s, max_transfers=opts.max_transfers
            )
            for j, journeys in enumerate(found):
                if dests.snaps[j] is not None or dests.estimated:
                    out[j] += self._after_rental(
                        i, chains, seed_stops, journeys, opts.max_transfers
                    )


def _straight_walks(
    lat: float,
    lon: float,
    d_lat: npt.NDArray[np.float64],
    d_lon: npt.NDArray[np.float64],
    options: MultiModalOptions,
) -> npt.NDArray[np.int64]:
    """Whole seconds of a walk estimated as the straight line x DETOUR_FACTOR (the rule the
    network build and the OD matrix use where there are no streets), -1 past the limit.
    """
    opts = options.plan
    walk_s = np.ceil(haversine_m(lat, lon, d_lat, d_lon) * DETOUR_FACTOR / opts.walk_speed_mps)
    out: npt.NDArray[np.int64] = np.where(walk_s <= opts.direct_limit_s, walk_s, -1).astype(
        np.int64
    )
    return out


def _floats(values: npt.ArrayLike) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def _points(snaps: Sequence[Snap | None]) -> WalkPoints:
    """The destinations as chain targets; a point off the streets gets edge -1."""
    return WalkPoints.of_arrays(
        [s.edge if s is not None else -1 for s in snaps],
        [s.fraction if s is not None else 0.0 for s in snaps],
        [s.offset_m if s is not None else 0.0 for s in snaps],
    )

"""RAPTOR over a `Timetable`: earliest arrival, Pareto rounds, range (rRAPTOR) and arrive-by.

Round k finds the earliest arrival at every stop using at most k trips, so the rounds
themselves give the Pareto set over (arrival time, number of transfers).

The journey model: walk from the origin to a stop, ride, then any number of (at most one
footpath, ride), then walk to the destination. Each stop keeps two labels per round: the
earliest time a rider can stand there (to board) and the earliest time a ride drops them
there (only that one may walk on, and only that one reaches the destination), so a stop
reached sooner on foot never hides a ride that could continue on foot. The model is the
same read backwards, which is what lets arrive-by reuse the forward kernel. The inner loop
is a numba kernel over the timetable's arrays and a preallocated, reusable search state;
the Python wrapper only seeds the search and walks back the pointers of the journeys found.

Range queries run the same kernel once per departure time in the window, latest first,
without resetting labels, as in rRAPTOR: a later departure's labels prune the earlier ones,
and a journey is reported only in the iteration where it improved the target.
Arrive-by queries run the kernel on `Timetable.reversed()`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from routing.errors import QueryError
from routing.journey import Journey, Leg, Ride, Walk
from routing.timetable import CAN_ALIGHT, CAN_BOARD, INF_TIME, Timetable

KIND_NONE = 0  # label carried from the previous round (or unset)
KIND_RIDE = 1
KIND_WALK = 2
KIND_ACCESS = 3

#: Most rounds a search may run; 1 + the largest max_transfers a caller may ask for.
MAX_ROUNDS_LIMIT = 16


@numba.njit(cache=True)
def _mark(s: int, is_marked: np.ndarray, marked: np.ndarray, n_marked: int) -> int:
    if not is_marked[s]:
        is_marked[s] = True
        marked[n_marked] = s
        n_marked += 1
    return n_marked


@numba.njit(cache=True)
def _rounds(  # noqa: C901 - numba kernel: one loop nest, splitting it costs speed
    pattern_stop_ptr: np.ndarray,
    pattern_stops: np.ndarray,
    pattern_flags: np.ndarray,
    pattern_trip_ptr: np.ndarray,
    pattern_time_ptr: np.ndarray,
    event_arr_s: np.ndarray,
    event_dep_s: np.ndarray,
    stop_pat_ptr: np.ndarray,
    stop_pat_pattern: np.ndarray,
    stop_pat_pos: np.ndarray,
    transfer_ptr: np.ndarray,
    transfer_to: np.ndarray,
    transfer_s: np.ndarray,
    access_stop: np.ndarray,
    access_arr_s: np.ndarray,
    egress_s: np.ndarray,
    max_rounds: int,
    arr: np.ndarray,
    transit_arr: np.ndarray,
    kind: np.ndarray,
    back_trip: np.ndarray,
    back_board_pos: np.ndarray,
    back_alight_pos: np.ndarray,
    back_from: np.ndarray,
    back_walk_s: np.ndarray,
    target: np.ndarray,
    target_stop: np.ndarray,
    is_marked: np.ndarray,
    marked: np.ndarray,
    next_marked: np.ndarray,
    is_touched: np.ndarray,
    touched: np.ndarray,
    is_improved: np.ndarray,
    improved: np.ndarray,
    pattern_first: np.ndarray,
    pattern_queue: np.ndarray,
) -> int:
    """Run rounds 0..max_rounds on the given state; return the last round that changed anything.

    `arr[k, s]` is the earliest arrival at s with at most k trips (labels are carried from
    round k-1), `kind[k, s]` says how round k reached s, and `target[k]` is the best
    arrival at the destination with at most k trips. State is not reset here, which is
    what lets range queries reuse a later departure's labels.
    """
    n_touched = 0
    n_marked = 0
    # round 0: walking from the origin
    for a in range(len(access_stop)):
        s = access_stop[a]
        t = access_arr_s[a]
        if t < arr[0, s]:
            arr[0, s] = t
            kind[0, s] = KIND_ACCESS
            n_marked = _mark(s, is_marked, marked, n_marked)
            if not is_touched[s]:
                is_touched[s] = True
                touched[n_touched] = s
                n_touched += 1
    last_round = 0
    for k in range(1, max_rounds + 1):
        if n_marked == 0:
            break
        last_round = k
        # carry labels improved earlier in this search into round k
        for q in range(n_touched):
            s = touched[q]
            if arr[k - 1, s] < arr[k, s]:
                arr[k, s] = arr[k - 1, s]
                kind[k, s] = KIND_NONE
            transit_arr[k, s] = min(transit_arr[k, s], transit_arr[k - 1, s])
        if target[k - 1] < target[k]:
            target[k] = target[k - 1]
            target_stop[k] = target_stop[k - 1]
        # patterns through the stops marked last round, from their earliest marked position
        n_queue = 0
        for q in range(n_marked):
            s = marked[q]
            is_marked[s] = False
            for inc in range(stop_pat_ptr[s], stop_pat_ptr[s + 1]):
                p = stop_pat_pattern[inc]
                pos = stop_pat_pos[inc]
                if pattern_first[p] < 0:
                    pattern_first[p] = pos
                    pattern_queue[n_queue] = p
                    n_queue += 1
                elif pos < pattern_first[p]:
                    pattern_first[p] = pos
        n_next = 0
        n_improved = 0
        for q in range(n_queue):
            p = pattern_queue[q]
            pos0 = pattern_first[p]
            pattern_first[p] = -1
            sb = pattern_stop_ptr[p]
            m = pattern_stop_ptr[p + 1] - sb
            t0 = pattern_trip_ptr[p]
            n = pattern_trip_ptr[p + 1] - t0
            tb = pattern_time_ptr[p]
            trip = -1
            board_pos = -1
            for i in range(pos0, m):
                s = pattern_stops[sb + i]
                fl = pattern_flags[sb + i]
                if trip >= 0 and (fl & CAN_ALIGHT):
                    a = event_arr_s[tb + i * n + trip]
                    if a < transit_arr[k, s] and a < target[k]:
                        transit_arr[k, s] = a
                        back_trip[k, s] = t0 + trip
                        back_board_pos[k, s] = board_pos
                        back_alight_pos[k, s] = i
                        if a < arr[k, s]:
                            arr[k, s] = a
                            kind[k, s] = KIND_RIDE
                            if not is_marked[s]:
                                is_marked[s] = True
                                next_marked[n_next] = s
                                n_next += 1
                        if not is_improved[s]:
                            is_improved[s] = True
                            improved[n_improved] = s
                            n_improved += 1
                        if not is_touched[s]:
                            is_touched[s] = True
                            touched[n_touched] = s
                            n_touched += 1
                        e = egress_s[s]
                        if e < INF_TIME and a + e < target[k]:
                            target[k] = a + e
                            target_stop[k] = s
                if fl & CAN_BOARD:
                    prev = arr[k - 1, s]
                    if prev < INF_TIME and (trip < 0 or prev <= event_dep_s[tb + i * n + trip]):
                        hi = n if trip < 0 else trip
                        lo = 0
                        # first trip in [0, hi) departing at or after prev
                        base = tb + i * n
                        while lo < hi:
                            mid = (lo + hi) // 2
                            if event_dep_s[base + mid] < prev:
                                lo = mid + 1
                            else:
                                hi = mid
                        if lo < (n if trip < 0 else trip):
                            trip = lo
                            board_pos = i
        # footpaths from the stops a ride improved this round (one walk between two rides)
        for q in range(n_improved):
            s = improved[q]
            is_improved[s] = False
            ta = transit_arr[k, s]
            for f in range(transfer_ptr[s], transfer_ptr[s + 1]):
                s2 = transfer_to[f]
                t = ta + transfer_s[f]
                if t < arr[k, s2] and t < target[k]:
                    arr[k, s2] = t
                    kind[k, s2] = KIND_WALK
                    back_from[k, s2] = s
                    back_walk_s[k, s2] = transfer_s[f]
                    if not is_marked[s2]:
                        is_marked[s2] = True
                        next_marked[n_next] = s2
                        n_next += 1
                    if not is_touched[s2]:
                        is_touched[s2] = True
                        touched[n_touched] = s2
                        n_touched += 1
        for q in range(n_next):
            marked[q] = next_marked[q]
        n_marked = n_next
    # carry the target through rounds that found nothing new, and clean scratch flags
    for k in range(last_round + 1, max_rounds + 1):
        if target[k - 1] < target[k]:
            target[k] = target[k - 1]
            target_stop[k] = target_stop[k - 1]
        for q in range(n_touched):
            s = touched[q]
            if arr[k - 1, s] < arr[k, s]:
                arr[k, s] = arr[k - 1, s]
                kind[k, s] = KIND_NONE
            transit_arr[k, s] = min(transit_arr[k, s], transit_arr[k - 1, s])
    for q in range(n_marked):
        is_marked[marked[q]] = False
    for q in range(n_touched):
        is_touched[touched[q]] = False
    return last_round


@dataclass(frozen=True, slots=True)
class StopTimes:
    """Stops with a walking time each: the access or egress side of a query."""

    stops: npt.NDArray[np.int32]
    seconds: npt.NDArray[np.int32]

    @classmethod
    def of(cls, pairs: dict[int, int]) -> StopTimes:
        """From a {stop: seconds} mapping (handy in tests)."""
        return cls(
            np.fromiter(pairs.keys(), dtype=np.int32, count=len(pairs)),
            np.fromiter(pairs.values(), dtype=np.int32, count=len(pairs)),
        )


class Raptor:
    """Reusable RAPTOR searcher for one timetable; not thread-safe (one per worker)."""

    def __init__(self, timetable: Timetable, *, max_rounds: int = MAX_ROUNDS_LIMIT) -> None:
        self.tt = timetable
        self.max_rounds = max_rounds
        n, r = timetable.n_stops, max_rounds + 1
        self._arr = np.full((r, n), INF_TIME, dtype=np.int32)
        self._transit_arr = np.full((r, n), INF_TIME, dtype=np.int32)
        self._kind = np.zeros((r, n), dtype=np.int8)
        self._back_trip = np.full((r, n), -1, dtype=np.int32)
        self._back_board_pos = np.full((r, n), -1, dtype=np.int32)
        self._back_alight_pos = np.full((r, n), -1, dtype=np.int32)
        self._back_from = np.full((r, n), -1, dtype=np.int32)
        self._back_walk_s = np.zeros((r, n), dtype=np.int32)
        self._target = np.full(r, INF_TIME, dtype=np.int32)
        self._target_stop = np.full(r, -1, dtype=np.int32)  # round -> stop left on foot
        self._is_marked = np.zeros(n, dtype=np.bool_)
        self._marked = np.zeros(n, dtype=np.int32)
        self._next_marked = np.zeros(n, dtype=np.int32)
        self._is_touched = np.zeros(n, dtype=np.bool_)
        self._touched = np.zeros(n, dtype=np.int32)
        self._is_improved = np.zeros(n, dtype=np.bool_)
        self._improved = np.zeros(n, dtype=np.int32)
        self._pattern_first = np.full(timetable.n_patterns, -1, dtype=np.int32)
        self._pattern_queue = np.zeros(timetable.n_patterns, dtype=np.int32)
        self._egress_s = np.full(n, INF_TIME, dtype=np.int32)
        self._reach_rounds = 0  # rounds of the last `reach` (0: journey_to has nothing)
        self._reach_depart_s = 0

    # -- state -----------------------------------------------------------------------------
    def _reset(self, rounds: int) -> None:
        self._arr[: rounds + 1].fill(INF_TIME)
        self._transit_arr[: rounds + 1].fill(INF_TIME)
        self._kind[: rounds + 1].fill(KIND_NONE)
        self._target.fill(INF_TIME)
        self._target_stop.fill(-1)
        self._reach_rounds = 0

    def _run(self, access: StopTimes, depart_s: int, rounds: int) -> None:
        tt = self.tt
        _rounds(
            tt.pattern_stop_ptr,
            tt.pattern_stops,
            tt.pattern_flags,
            tt.pattern_trip_ptr,
            tt.pattern_time_ptr,
            tt.event_arr_s,
            tt.event_dep_s,
            tt.stop_pat_ptr,
            tt.stop_pat_pattern,
            tt.stop_pat_pos,
            tt.transfer_ptr,
            tt.transfer_to,
            tt.transfer_s,
            access.stops,
            (access.seconds + np.int32(depart_s)).astype(np.int32),
            self._egress_s,
            rounds,
            self._arr,
            self._transit_arr,
            self._kind,
            self._back_trip,
            self._back_board_pos,
            self._back_alight_pos,
            self._back_from,
            self._back_walk_s,
            self._target,
            self._target_stop,
            self._is_marked,
            self._marked,
            self._next_marked,
            self._is_touched,
            self._touched,
            self._is_improved,
            self._improved,
            self._pattern_first,
            self._pattern_queue,
        )

    def _check(self, access: StopTimes, egress: StopTimes, max_transfers: int) -> int:
        if not 0 <= max_transfers < self.max_rounds:
            raise QueryError(
                f"max_transfers must be in 0..{self.max_rounds - 1}, got {max_transfers}"
            )
        for name, side in (("access", access), ("egress", egress)):
            if len(side.stops) != len(side.seconds):
                raise QueryError(f"{name} stops and seconds differ in length")
            if len(side.stops) and (side.stops.min() < 0 or side.stops.max() >= self.tt.n_stops):
                raise QueryError(f"{name} stop outside 0..{self.tt.n_stops - 1}")
            if len(side.seconds) and side.seconds.min() < 0:
                raise QueryError(f"{name} walking time is negative")
        return max_transfers + 1

    def _set_egress(self, egress: StopTimes) -> None:
        self._egress_s.fill(INF_TIME)
        # a stop listed twice keeps its shortest walk
        np.minimum.at(self._egress_s, egress.stops, egress.seconds)

    # -- queries ---------------------------------------------------------------------------
    def earliest_arrival(
        self, access: StopTimes, egress: StopTimes, depart_s: int, *, max_transfers: int = 8
    ) -> list[Journey]:
        """Pareto set over (arrival, transfers) for leaving the origin at `depart_s`.

        Sorted by number of transfers; each later journey arrives strictly earlier.
        """
        rounds = self._check(access, egress, max_transfers)
        self._reset(rounds)
        self._set_egress(egress)
        self._run(access, depart_s, rounds)
        out: list[Journey] = []
        best = INF_TIME
        for k in range(1, rounds + 1):
            t = self._target[k]
            if t < best:
                best = t
                out.append(self._journey(k, depart_s))
        return out

    def range_query(
        self,
        access: StopTimes,
        egress: StopTimes,
        depart_s: int,
        window_s: int,
        *,
        max_transfers: int = 8,
    ) -> list[Journey]:
        """Every Pareto-optimal journey over (departure, arrival, transfers) leaving in the window.

        Sorted by departure time, then transfers.
        """
        if window_s < 0:
            raise QueryError(f"window_s must be >= 0, got {window_s}")
        rounds = self._check(access, egress, max_transfers)
        self._reset(rounds)
        self._set_egress(egress)
        starts = self._departure_times(access, depart_s, depart_s + window_s)
        found: list[Journey] = []
        for t_dep in starts:
            before = self._target.copy()
            self._run(access, int(t_dep), rounds)
            best = INF_TIME
            for k in range(1, rounds + 1):
                t = self._target[k]
                if t < before[k] and t < best:
                    found.append(self._journey(k, int(t_dep)))
                best = min(best, t)
        return _pareto_departures(found)

    def one_to_many(
        self,
        access: StopTimes,
        egresses: list[StopTimes],
        depart_s: int,
        *,
        max_transfers: int = 8,
    ) -> list[list[Journey]]:
        """Pareto journeys over (arrival, transfers) from one origin to each of many
        destinations, with ONE run of the rounds.

        This is what makes an OD matrix affordable: the labels of a run without a target
        hold the best arrival by ride at every stop in every round, so each destination only
        needs a min over its egress stops per round. The run has no target pruning (no
        egress is set), so it explores the whole reachable network once instead of once per
        destination. For each destination the list is sorted by transfers; each later
        journey arrives strictly earlier, as in `earliest_arrival`.
        """
        empty = StopTimes(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32))
        rounds = self._check(access, empty, max_transfers)
        for egress in egresses:
            self._check(empty, egress, max_transfers)
        self._reset(rounds)
        self._egress_s.fill(INF_TIME)
        self._run(access, depart_s, rounds)
        by_round = self._transit_arr[1 : rounds + 1]
        out: list[list[Journey]] = []
        for egress in egresses:
            found: list[Journey] = []
            if len(egress.stops):
                times = by_round[:, egress.stops].astype(np.int64) + egress.seconds
                best = int(INF_TIME)
                for k in range(1, rounds + 1):
                    i = int(np.argmin(times[k - 1]))
                    t = int(times[k - 1, i])
                    # strictly better than every earlier round, so round k's ride pointers
                    # at this stop were written by this run
                    if t < best:
                        best = t
                        s = int(egress.stops[i])
                        self._egress_s[s] = int(egress.seconds[i])
                        self._target_stop[k] = s
                        found.append(self._journey(k, depart_s))
                        self._egress_s[s] = INF_TIME
            out.append(found)
        return out

    def reach(
        self, access: StopTimes, depart_s: int, *, max_transfers: int = 8
    ) -> npt.NDArray[np.int32]:
        """Earliest arrival *by ride* at every stop (INF_TIME where none), with no target.

        The first half of a journey that leaves transit in the middle (a city bike across a
        gap between two lines): `journey_to` then rebuilds the rides to any stop, until the
        next search on this instance.
        """
        empty = StopTimes(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32))
        rounds = self._check(access, empty, max_transfers)
        self._reset(rounds)
        self._egress_s.fill(INF_TIME)
        self._run(access, depart_s, rounds)
        self._reach_rounds = rounds
        self._reach_depart_s = depart_s
        earliest: npt.NDArray[np.int32] = self._transit_arr[1 : rounds + 1].min(axis=0)
        return earliest

    def journey_to(self, stop: int) -> Journey | None:
        """The ride-earliest journey to `stop` of the last `reach` (fewest rides on ties),
        ending with the ride that reaches it; None when no ride reaches it.
        """
        rounds = self._reach_rounds
        if not rounds or not 0 <= stop < self.tt.n_stops:
            return None
        times = self._transit_arr[1 : rounds + 1, stop]
        k = int(np.argmin(times)) + 1
        if int(times[k - 1]) >= INF_TIME:
            return None
        self._target_stop[k] = stop
        self._egress_s[stop] = 0
        try:
            journey = self._journey(k, self._reach_depart_s)
        finally:
            self._egress_s[stop] = INF_TIME
        return Journey(journey.legs[:-1])  # drop the zero-length walk "to the destination"

    def _departure_times(self, access: StopTimes, lo_s: int, hi_s: int) -> np.ndarray:
        """Origin departure times worth a rRAPTOR iteration: some trip leaves an access stop
        exactly when a rider who left then would reach it. Latest first.
        """
        tt = self.tt
        times: list[np.ndarray] = [np.array([lo_s], dtype=np.int64)]
        for s, w in zip(access.stops.tolist(), access.seconds.tolist(), strict=True):
            for inc in range(int(tt.stop_pat_ptr[s]), int(tt.stop_pat_ptr[s + 1])):
                p = int(tt.stop_pat_pattern[inc])
                pos = int(tt.stop_pat_pos[inc])
                if not tt.pattern_flags[tt.pattern_stop_ptr[p] + pos] & CAN_BOARD:
                    continue
                deps = tt.departures(p, pos)
                first = np.searchsorted(deps, lo_s + w, side="left")
                last = np.searchsorted(deps, hi_s + w, side="right")
                if last > first:
                    times.append(deps[first:last].astype(np.int64) - w)
        return np.unique(np.concatenate(times))[::-1]

    # -- journeys --------------------------------------------------------------------------
    def _journey(self, k: int, depart_s: int) -> Journey:
        """Walk the back pointers from round k's best arrival at the destination to the origin."""
        tt = self.tt
        s = int(self._target_stop[k])
        legs: list[Ride | Walk] = [Walk(s, -1, 0, int(self._egress_s[s]))]
        while True:
            # s was left by a ride in round k: its ride pointers say which
            trip = int(self._back_trip[k, s])
            p = int(tt.trip_pattern[trip])
            bpos = int(self._back_board_pos[k, s])
            apos = int(self._back_alight_pos[k, s])
            n = int(tt.pattern_trip_ptr[p + 1] - tt.pattern_trip_ptr[p])
            j = trip - int(tt.pattern_trip_ptr[p])
            base = int(tt.pattern_time_ptr[p])
            board_stop = int(tt.pattern_stops[int(tt.pattern_stop_ptr[p]) + bpos])
            legs.append(
                Ride(
                    trip=trip,
                    pattern=p,
                    board_pos=bpos,
                    alight_pos=apos,
                    board_stop=board_stop,
                    alight_stop=s,
                    depart_s=int(tt.event_dep_s[base + bpos * n + j]),
                    arrive_s=int(tt.event_arr_s[base + apos * n + j]),
                )
            )
            # how the rider got to the boarding stop, with one ride fewer
            s = board_stop
            k -= 1
            while k > 0 and self._kind[k, s] == KIND_NONE:
                k -= 1
            kind = int(self._kind[k, s])
            if kind == KIND_ACCESS:
                break
            if kind == KIND_WALK:
                src = int(self._back_from[k, s])
                legs.append(Walk(src, s, 0, int(self._back_walk_s[k, s])))
                s = src
        legs.reverse()
        return _retime(s, legs, depart_s, int(self._arr[0, s]) - depart_s)


def _retime(first_stop: int, legs: list[Ride | Walk], depart_s: int, access_s: int) -> Journey:
    """Give walks real clock times: leave the origin just in time for the first ride, and
    start each transfer walk when the previous ride arrives.
    """
    out: list[Leg] = []
    rides = [leg for leg in legs if isinstance(leg, Ride)]
    first_dep = rides[0].depart_s if rides else depart_s + access_s
    leave = max(depart_s, first_dep - access_s)
    out.append(Walk(-1, first_stop, leave, leave + access_s))
    t = leave + access_s
    for leg in legs:
        if isinstance(leg, Ride):
            out.append(leg)
            t = leg.arrive_s
        else:
            dur = leg.arrive_s - leg.depart_s
            out.append(Walk(leg.from_stop, leg.to_stop, t, t + dur))
            t += dur
    return Journey(tuple(out))


def _pareto_departures(found: list[Journey]) -> list[Journey]:
    """Keep journeys not dominated on (later departure, earlier arrival, fewer transfers)."""
    keep: list[Journey] = []
    for j in found:
        dominated = any(
            o.depart_s >= j.depart_s
            and o.arrive_s <= j.arrive_s
            and o.n_transfers <= j.n_transfers
            and (o.depart_s, o.arrive_s, o.n_transfers) != (j.depart_s, j.arrive_s, j.n_transfers)
            for o in found
        )
        if not dominated and all(
            (o.depart_s, o.arrive_s, o.n_transfers) != (j.depart_s, j.arrive_s, j.n_transfers)
            for o in keep
        ):
            keep.append(j)
    keep.sort(key=lambda j: (j.depart_s, j.n_transfers))
    return keep

"""One service day's transit timetable as a struct of flat arrays.

Times are int32 seconds since the start of the service day ("noon minus 12 h" in the
agency's time zone, as GTFS defines it), so a trip that leaves at 25:10 is simply 90600.
Trips of the previous and next service day that reach into this one are included with
their times shifted by -/+ 86,400 s, so a query at 00:30 sees last night's 24:30 bus.

Trips are grouped into *patterns*: trips of one route that serve the same stop sequence
with the same pickup/drop-off rules and never overtake one another. Inside a pattern the
stop times are stored stop-major, so the departures of all its trips at one stop are one
sorted slice and boarding is a binary search.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from routing.errors import QueryError

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

#: pattern_flags bits: passengers may board / alight at this position of the pattern
CAN_BOARD = np.uint8(1)
CAN_ALIGHT = np.uint8(2)

#: "never" for int32 time arrays (leaves room to add a walk without overflowing)
INF_TIME = np.int32(2**31 - 2**24)


@dataclass(frozen=True)
class Timetable:
    """The arrays RAPTOR runs on; every index is dense and every name says what maps to what."""

    n_stops: int
    pattern_stop_ptr: I64  # pattern -> first entry in pattern_stops (len n_patterns+1)
    pattern_stops: I32  # pattern position -> stop
    pattern_flags: U8  # pattern position -> CAN_BOARD | CAN_ALIGHT
    pattern_trip_ptr: I64  # pattern -> first trip; a pattern's trips are contiguous, sorted
    pattern_time_ptr: I64  # pattern -> first stop event of its stop-major block
    pattern_route: I32  # pattern -> route (index into the network's route table)
    trip_pattern: I32  # trip -> pattern
    trip_source: I32  # trip -> source trip (index into the network's trip table)
    trip_shift_s: I32  # trip -> -86400, 0 or 86400: which service day it came from
    event_arr_s: I32  # stop event (pattern block + pos * n_trips + trip) -> arrival
    event_dep_s: I32  # stop event -> departure
    stop_pat_ptr: I64  # stop -> first (pattern, position) incidence
    stop_pat_pattern: I32  # incidence -> pattern
    stop_pat_pos: I32  # incidence -> position of the stop in that pattern
    transfer_ptr: I64  # stop -> first footpath leaving it
    transfer_to: I32  # footpath -> destination stop
    transfer_s: I32  # footpath -> walking time in seconds

    @property
    def n_patterns(self) -> int:
        """Number of patterns."""
        return len(self.pattern_route)

    @property
    def n_trips(self) -> int:
        """Number of trips (including the neighbouring days' trips that reach into this day)."""
        return len(self.trip_pattern)

    @property
    def n_events(self) -> int:
        """Number of stop events (one arrival and one departure each)."""
        return len(self.event_dep_s)

    def arrays(self) -> dict[str, np.ndarray]:
        """Name -> array, for saving; `from_arrays` is the inverse."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "n_stops"}
        out["n_stops"] = np.array([self.n_stops], dtype=np.int64)
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Timetable:
        """Rebuild from `arrays()` output (arrays may be memory-mapped)."""
        kwargs: dict[str, object] = {
            f.name: arrays[f.name] for f in fields(cls) if f.name != "n_stops"
        }
        return cls(n_stops=int(arrays["n_stops"][0]), **kwargs)  # type: ignore[arg-type]

    def departures(self, pattern: int, pos: int) -> I32:
        """The sorted departures of every trip of `pattern` at position `pos`."""
        n = int(self.pattern_trip_ptr[pattern + 1] - self.pattern_trip_ptr[pattern])
        base = int(self.pattern_time_ptr[pattern]) + pos * n
        return self.event_dep_s[base : base + n]

    def arrivals(self, pattern: int, pos: int) -> I32:
        """The arrivals of every trip of `pattern` at position `pos`, in trip order."""
        n = int(self.pattern_trip_ptr[pattern + 1] - self.pattern_trip_ptr[pattern])
        base = int(self.pattern_time_ptr[pattern]) + pos * n
        return self.event_arr_s[base : base + n]

    def next_departures(
        self, stop: int, time_s: int, *, limit: int, horizon_s: int
    ) -> tuple[I32, I32, I32]:
        """(trips, positions, departure seconds) of the next boardable departures at `stop`.

        Departures at or after `time_s` and before `time_s + horizon_s`, earliest first, at
        most `limit`; each pattern's slice is sorted, so each takes one binary search.
        """
        trips: list[np.ndarray] = []
        positions: list[np.ndarray] = []
        deps: list[np.ndarray] = []
        for k in range(int(self.stop_pat_ptr[stop]), int(self.stop_pat_ptr[stop + 1])):
            p, pos = int(self.stop_pat_pattern[k]), int(self.stop_pat_pos[k])
            if not self.pattern_flags[int(self.pattern_stop_ptr[p]) + pos] & CAN_BOARD:
                continue
            times = self.departures(p, pos)
            lo = int(np.searchsorted(times, time_s, side="left"))
            hi = int(np.searchsorted(times, time_s + horizon_s, side="left"))
            hi = min(hi, lo + limit)
            if hi > lo:
                trips.append(np.arange(lo, hi, dtype=np.int32) + int(self.pattern_trip_ptr[p]))
                positions.append(np.full(hi - lo, pos, dtype=np.int32))
                deps.append(np.asarray(times[lo:hi], dtype=np.int32))
        if not deps:
            empty = np.zeros(0, dtype=np.int32)
            return empty, empty, empty
        dep = np.concatenate(deps)
        order = np.argsort(dep, kind="stable")[:limit]
        return np.concatenate(trips)[order], np.concatenate(positions)[order], dep[order]

    def trip_times(self, trip: int) -> tuple[I32, I32, I32]:
        """(stops, arrivals, departures) of one trip along its pattern."""
        p = int(self.trip_pattern[trip])
        n = int(self.pattern_trip_ptr[p + 1] - self.pattern_trip_ptr[p])
        j = trip - int(self.pattern_trip_ptr[p])
        s0, s1 = int(self.pattern_stop_ptr[p]), int(self.pattern_stop_ptr[p + 1])
        idx = int(self.pattern_time_ptr[p]) + np.arange(s1 - s0) * n + j
        return self.pattern_stops[s0:s1], self.event_arr_s[idx], self.event_dep_s[idx]

    def validate(self) -> None:
        """Check the invariants RAPTOR relies on; raise QueryError naming the first broken one."""
        n_pat = self.n_patterns
        for name, ptr, total in (
            ("pattern_stop_ptr", self.pattern_stop_ptr, len(self.pattern_stops)),
            ("pattern_trip_ptr", self.pattern_trip_ptr, self.n_trips),
            ("pattern_time_ptr", self.pattern_time_ptr, self.n_events),
        ):
            if len(ptr) != n_pat + 1 or ptr[0] != 0 or ptr[-1] != total:
                raise QueryError(f"{name} does not span its values (len {len(ptr)})")
            if np.any(np.diff(ptr) < 0):
                raise QueryError(f"{name} is not non-decreasing")
        n_stops_p = np.diff(self.pattern_stop_ptr)
        n_trips_p = np.diff(self.pattern_trip_ptr)
        if not np.array_equal(np.diff(self.pattern_time_ptr), n_stops_p * n_trips_p):
            raise QueryError("pattern_time_ptr blocks are not n_stops x n_trips")
        # stop-major blocks: within each (pattern, position) trips must be sorted and never
        # overtake, i.e. both arrival and departure columns are non-decreasing.
        same_row = np.ones(self.n_events, dtype=bool)
        starts = np.zeros(self.n_events, dtype=bool)
        for p in np.flatnonzero(n_trips_p > 0):
            base, n, m = int(self.pattern_time_ptr[p]), int(n_trips_p[p]), int(n_stops_p[p])
            starts[base : base + n * m : n] = True
        same_row[starts] = False
        for name, ev in (("departures", self.event_dep_s), ("arrivals", self.event_arr_s)):
            d = np.diff(ev.astype(np.int64))
            if np.any((d < 0) & same_row[1:]):
                raise QueryError(f"{name} overtake inside a pattern")
        if np.any(self.event_arr_s > self.event_dep_s):
            raise QueryError("an arrival is later than its departure")

    def reversed(self) -> Timetable:
        """The timetable with time running backwards, for arrive-by (latest departure) search.

        Every time t becomes -t, patterns run last stop to first, boarding and alighting
        swap, trips keep their order reversed (non-overtaking makes that sorted again), and
        footpaths point the other way. A forward earliest-arrival search on the result from
        the destination at -deadline finds the latest departure.
        """
        n_stops_p = np.diff(self.pattern_stop_ptr)
        n_trips_p = np.diff(self.pattern_trip_ptr)
        pat_of_pos = np.repeat(np.arange(self.n_patterns), n_stops_p)
        pos = np.arange(len(self.pattern_stops)) - np.repeat(self.pattern_stop_ptr[:-1], n_stops_p)
        rev_pos_index = self.pattern_stop_ptr[pat_of_pos] + (n_stops_p[pat_of_pos] - 1 - pos)
        pattern_stops = self.pattern_stops[rev_pos_index]
        flags = self.pattern_flags[rev_pos_index]
        flags = ((flags & CAN_BOARD) << 1 | (flags & CAN_ALIGHT) >> 1).astype(np.uint8)

        # event (p, i, j) in the reversed table is event (p, m-1-i, n-1-j) of the forward one
        ev_pat = np.repeat(np.arange(self.n_patterns), n_stops_p * n_trips_p)
        rel = np.arange(self.n_events) - self.pattern_time_ptr[ev_pat]
        n = n_trips_p[ev_pat]
        m = n_stops_p[ev_pat]
        i, j = rel // np.maximum(n, 1), rel % np.maximum(n, 1)
        src = self.pattern_time_ptr[ev_pat] + (m - 1 - i) * n + (n - 1 - j)
        event_arr_s = (-self.event_dep_s[src]).astype(np.int32)
        event_dep_s = (-self.event_arr_s[src]).astype(np.int32)

        trip_pat = self.trip_pattern
        trip_rel = np.arange(self.n_trips) - self.pattern_trip_ptr[trip_pat]
        trip_src = self.pattern_trip_ptr[trip_pat] + (n_trips_p[trip_pat] - 1 - trip_rel)

        inc_pat = self.stop_pat_pattern
        stop_pat_pos = (n_stops_p[inc_pat] - 1 - self.stop_pat_pos).astype(np.int32)

        # transpose the footpath CSR
        from_stop = np.repeat(np.arange(self.n_stops, dtype=np.int32), np.diff(self.transfer_ptr))
        order = np.argsort(self.transfer_to, kind="stable")
        t_ptr = np.zeros(self.n_stops + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.transfer_to, minlength=self.n_stops), out=t_ptr[1:])
        return Timetable(
            n_stops=self.n_stops,
            pattern_stop_ptr=self.pattern_stop_ptr,
            pattern_stops=pattern_stops.astype(np.int32),
            pattern_flags=flags,
            pattern_trip_ptr=self.pattern_trip_ptr,
            pattern_time_ptr=self.pattern_time_ptr,
            pattern_route=self.pattern_route,
            trip_pattern=self.trip_pattern,
            trip_source=self.trip_source[trip_src],
            trip_shift_s=self.trip_shift_s[trip_src],
            event_arr_s=event_arr_s,
            event_dep_s=event_dep_s,
            stop_pat_ptr=self.stop_pat_ptr,
            stop_pat_pattern=self.stop_pat_pattern,
            stop_pat_pos=stop_pat_pos,
            transfer_ptr=t_ptr,
            transfer_to=from_stop[order],
            transfer_s=self.transfer_s[order],
        )

    def reversed_trip(self, trip: int) -> int:
        """Index in `reversed()` of forward trip `trip` (and vice versa: it is an involution)."""
        p = int(self.trip_pattern[trip])
        lo, hi = int(self.pattern_trip_ptr[p]), int(self.pattern_trip_ptr[p + 1])
        return lo + (hi - 1 - trip)

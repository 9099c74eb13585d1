"""Assemble a `Timetable` from plain per-trip stop events.

Both the GTFS compiler (`ingest.timetable_build`) and the tests' text-built timetables go
through here, so the invariants RAPTOR relies on (patterns whose trips never overtake,
stop-major sorted departures, CSR incidences) are established in exactly one place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routing.errors import QueryError
from routing.timetable import CAN_ALIGHT, CAN_BOARD, Timetable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TripEvents:
    """Stop events of many trips, grouped by trip and in travel order within each trip.

    ``trip_ptr[t]:trip_ptr[t+1]`` are trip t's events. The arrays are what a GTFS
    `stop_times` table becomes once ids are dense and times are seconds.
    """

    trip_ptr: npt.NDArray[np.int64]  # trip -> first event
    stop: npt.NDArray[np.int32]  # event -> stop
    arr_s: npt.NDArray[np.int32]  # event -> arrival, seconds of the service day
    dep_s: npt.NDArray[np.int32]  # event -> departure
    flags: npt.NDArray[np.uint8]  # event -> CAN_BOARD | CAN_ALIGHT
    trip_route: npt.NDArray[np.int32]  # trip -> route
    trip_source: npt.NDArray[np.int32]  # trip -> source trip id index
    trip_shift_s: npt.NDArray[np.int32]  # trip -> day shift applied to its times


@dataclass(frozen=True)
class Footpaths:
    """Directed walking links between stops with their duration in seconds."""

    from_stop: npt.NDArray[np.int32]
    to_stop: npt.NDArray[np.int32]
    seconds: npt.NDArray[np.int32]


def _csr(keys: np.ndarray, n: int) -> npt.NDArray[np.int64]:
    """Offsets for values already sorted by `keys` in 0..n-1."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=ptr[1:])
    return ptr


def _split_non_overtaking(arr: np.ndarray, dep: np.ndarray) -> list[list[int]]:
    """Partition trips (rows) into groups where each later trip is >= the previous at every stop.

    Rows are tried in order of first departure; each goes to the first group whose last trip
    it does not overtake (first fit), otherwise it starts a new group.
    """
    order = np.lexsort((arr[:, -1], dep[:, 0]))
    groups: list[list[int]] = []
    last_arr: list[np.ndarray] = []
    last_dep: list[np.ndarray] = []
    for r in order:
        a, d = arr[r], dep[r]
        for g in range(len(groups)):
            if np.all(a >= last_arr[g]) and np.all(d >= last_dep[g]):
                groups[g].append(int(r))
                last_arr[g], last_dep[g] = a, d
                break
        else:
            groups.append([int(r)])
            last_arr.append(a)
            last_dep.append(d)
    return groups


def build_timetable(n_stops: int, trips: TripEvents, footpaths: Footpaths) -> Timetable:
    """Group trips into non-overtaking patterns and lay out the arrays RAPTOR reads."""
    n_trips_in = len(trips.trip_route)
    if len(trips.trip_ptr) != n_trips_in + 1:
        raise QueryError("trip_ptr must have one entry more than there are trips")
    if np.any(trips.arr_s > trips.dep_s):
        bad = int(np.flatnonzero(trips.arr_s > trips.dep_s)[0])
        raise QueryError(f"stop event {bad} departs before it arrives")
    if n_stops and len(trips.stop) and (trips.stop.min() < 0 or trips.stop.max() >= n_stops):
        raise QueryError(f"stop index outside 0..{n_stops - 1}")

    # 1. candidate patterns: same route, stop sequence and boarding rules
    by_key: dict[tuple[int, bytes, bytes], list[int]] = {}
    stops_b = trips.stop.astype(np.int32)
    for t in range(n_trips_in):
        a, b = int(trips.trip_ptr[t]), int(trips.trip_ptr[t + 1])
        if b - a < 2:
            continue  # a trip with fewer than two stops carries nobody anywhere
        key = (int(trips.trip_route[t]), stops_b[a:b].tobytes(), trips.flags[a:b].tobytes())
        by_key.setdefault(key, []).append(t)

    # 2. split each candidate so that its trips never overtake
    pattern_trips: list[list[int]] = []
    for members in by_key.values():
        m = int(trips.trip_ptr[members[0] + 1] - trips.trip_ptr[members[0]])
        idx = trips.trip_ptr[np.array(members)][:, None] + np.arange(m)[None, :]
        arr, dep = trips.arr_s[idx], trips.dep_s[idx]
        for group in _split_non_overtaking(arr, dep):
            pattern_trips.append([members[r] for r in group])
    n_split = len(pattern_trips) - len(by_key)
    if n_split:
        log.info("split %d patterns further so that no trip overtakes another", n_split)

    # 3. lay out arrays
    n_pat = len(pattern_trips)
    first_events = [int(trips.trip_ptr[p[0]]) for p in pattern_trips]
    n_stops_p = np.array(
        [int(trips.trip_ptr[p[0] + 1] - trips.trip_ptr[p[0]]) for p in pattern_trips],
        dtype=np.int64,
    )
    n_trips_p = np.array([len(p) for p in pattern_trips], dtype=np.int64)
    pattern_stop_ptr = np.zeros(n_pat + 1, dtype=np.int64)
    np.cumsum(n_stops_p, out=pattern_stop_ptr[1:])
    pattern_trip_ptr = np.zeros(n_pat + 1, dtype=np.int64)
    np.cumsum(n_trips_p, out=pattern_trip_ptr[1:])
    pattern_time_ptr = np.zeros(n_pat + 1, dtype=np.int64)
    np.cumsum(n_stops_p * n_trips_p, out=pattern_time_ptr[1:])

    pos_src = (
        np.concatenate([np.arange(f, f + m) for f, m in zip(first_events, n_stops_p, strict=True)])
        if n_pat
        else np.zeros(0, dtype=np.int64)
    )
    pattern_stops = trips.stop[pos_src].astype(np.int32)
    pattern_flags = trips.flags[pos_src].astype(np.uint8)

    trip_order = np.array([t for p in pattern_trips for t in p], dtype=np.int64)
    trip_pattern = np.repeat(np.arange(n_pat, dtype=np.int32), n_trips_p)

    # stop-major blocks: event (p, i, j) = trip j's i-th event
    ev_src_parts = []
    for p, members in enumerate(pattern_trips):
        starts = trips.trip_ptr[np.array(members)]
        ev_src_parts.append((np.arange(n_stops_p[p])[:, None] + starts[None, :]).ravel())
    ev_src = np.concatenate(ev_src_parts) if ev_src_parts else np.zeros(0, dtype=np.int64)

    incid_stop = pattern_stops
    incid_pat = np.repeat(np.arange(n_pat, dtype=np.int32), n_stops_p)
    incid_pos = (
        np.arange(len(pattern_stops)) - np.repeat(pattern_stop_ptr[:-1], n_stops_p)
    ).astype(np.int32)
    order = np.argsort(incid_stop, kind="stable")

    fp_order = np.lexsort((footpaths.to_stop, footpaths.from_stop))
    tt = Timetable(
        n_stops=n_stops,
        pattern_stop_ptr=pattern_stop_ptr,
        pattern_stops=pattern_stops,
        pattern_flags=pattern_flags,
        pattern_trip_ptr=pattern_trip_ptr,
        pattern_time_ptr=pattern_time_ptr,
        pattern_route=np.array(
            [trips.trip_route[p[0]] for p in pattern_trips], dtype=np.int32
        ).reshape(n_pat),
        trip_pattern=trip_pattern,
        trip_source=trips.trip_source[trip_order].astype(np.int32),
        trip_shift_s=trips.trip_shift_s[trip_order].astype(np.int32),
        event_arr_s=trips.arr_s[ev_src].astype(np.int32),
        event_dep_s=trips.dep_s[ev_src].astype(np.int32),
        stop_pat_ptr=_csr(incid_stop, n_stops),
        stop_pat_pattern=incid_pat[order],
        stop_pat_pos=incid_pos[order],
        transfer_ptr=_csr(footpaths.from_stop[fp_order], n_stops),
        transfer_to=footpaths.to_stop[fp_order].astype(np.int32),
        transfer_s=footpaths.seconds[fp_order].astype(np.int32),
    )
    tt.validate()
    return tt


def event_flags(pickup_type: np.ndarray, drop_off_type: np.ndarray) -> npt.NDArray[np.uint8]:
    """GTFS pickup/drop-off types to CAN_BOARD | CAN_ALIGHT bits.

    Type 1 means "not available"; 2 and 3 (phone the agency / arrange with the driver) are
    treated as available because a rider can do that, as most planners do.
    """
    board = np.where(pickup_type == 1, 0, CAN_BOARD)
    alight = np.where(drop_off_type == 1, 0, CAN_ALIGHT)
    return (board | alight).astype(np.uint8)

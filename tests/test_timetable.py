"""Timetable invariants on the real Helsinki day: what RAPTOR relies on holds after compiling."""

from __future__ import annotations

import numpy as np
import pytest

from routing.errors import QueryError
from routing.timetable import CAN_ALIGHT, CAN_BOARD


@pytest.fixture(scope="module")
def tt(helsinki):
    return helsinki.timetable(helsinki.manifest["service_dates"]["2022-02-22"])[0]


def test_departures_at_each_pattern_stop_are_sorted_for_binary_search(tt):
    for p in range(tt.n_patterns):
        m = int(tt.pattern_stop_ptr[p + 1] - tt.pattern_stop_ptr[p])
        for pos in range(m):
            assert np.all(np.diff(tt.departures(p, pos)) >= 0)
            assert np.all(np.diff(tt.arrivals(p, pos)) >= 0)


def test_reversing_twice_gives_the_timetable_back(tt):
    twice = tt.reversed().reversed().arrays()
    for name, array in tt.arrays().items():
        assert np.array_equal(twice[name], array), name


def test_reversed_timetable_keeps_every_invariant_and_swaps_boarding(tt):
    rev = tt.reversed()
    rev.validate()
    fwd_board = (tt.pattern_flags & CAN_BOARD) > 0
    rev_alight = (rev.pattern_flags & CAN_ALIGHT) > 0
    # position i of pattern p is position m-1-i reversed; totals must match
    assert fwd_board.sum() == rev_alight.sum()


def test_stop_incidences_point_back_at_the_stop(tt):
    stop_of_inc = np.repeat(np.arange(tt.n_stops), np.diff(tt.stop_pat_ptr))
    pos_index = tt.pattern_stop_ptr[tt.stop_pat_pattern] + tt.stop_pat_pos
    assert np.array_equal(tt.pattern_stops[pos_index], stop_of_inc)


def test_validate_names_an_overtaking_pattern(tt):
    broken = tt.arrays()
    dep = np.array(broken["event_dep_s"])
    p = int(np.argmax(np.diff(tt.pattern_trip_ptr)))  # a pattern with many trips
    base = int(tt.pattern_time_ptr[p])
    dep[base], dep[base + 1] = dep[base + 1] + 1, dep[base]
    broken["event_dep_s"] = dep
    from routing.timetable import Timetable

    with pytest.raises(QueryError, match="overtake"):
        Timetable.from_arrays(broken).validate()

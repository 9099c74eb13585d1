"""RAPTOR on small timetables written as text: one situation a planner must get right each."""

from __future__ import annotations

import numpy as np
import pytest

from routing.errors import QueryError
from routing.raptor import StopTimes
from routing.transit import TransitSearch
from tests.textnet import describe, parse


def hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


def at(net, name: str, seconds: int = 0) -> StopTimes:
    return StopTimes.of({net[name]: seconds})


def test_single_ride_takes_the_first_trip_after_the_departure_time():
    net = parse("""
        route R1
          A 08:00 B 08:10 C 08:20
          A 08:15 B 08:25 C 08:35
    """)
    js = TransitSearch(net.timetable).depart_at(at(net, "A"), at(net, "C"), hm("08:01"))
    assert [describe(j, net) for j in js] == ["R1 A 08:15-C 08:35"]


def test_overtaking_trips_are_split_so_the_express_is_found():
    # the 08:05 express overtakes the 08:00 stopping train between B and C
    net = parse("""
        route R1
          A 08:00 B 08:10 C 08:40
          A 08:05 B 08:12 C 08:20
    """)
    tt = net.timetable
    assert tt.n_patterns == 2
    tt.validate()
    js = TransitSearch(tt).depart_at(at(net, "A"), at(net, "C"), hm("07:59"))
    assert [describe(j, net) for j in js] == ["R1 A 08:05-C 08:20"]


def test_trip_after_midnight_keeps_counting_past_24h():
    net = parse("""
        route N1
          A 23:50 B 24:20 C 24:40
    """)
    js = TransitSearch(net.timetable).depart_at(at(net, "A"), at(net, "C"), hm("23:45"))
    assert len(js) == 1
    assert js[0].arrive_s == 24 * 3600 + 40 * 60
    assert describe(js[0], net) == "N1 A 23:50-C 24:40"


def test_unreachable_target_gives_an_empty_list_not_an_error():
    net = parse("""
        route R1
          A 08:00 B 08:10
        route R2
          C 08:00 D 08:10
    """)
    js = TransitSearch(net.timetable).depart_at(at(net, "A"), at(net, "D"), hm("07:00"))
    assert js == []


def test_no_trip_left_after_the_last_departure_gives_an_empty_list():
    net = parse("""
        route R1
          A 08:00 B 08:10
    """)
    assert TransitSearch(net.timetable).depart_at(at(net, "A"), at(net, "B"), hm("09:00")) == []


def test_origin_equal_to_destination_only_finds_the_loop_ride():
    # RAPTOR itself reports the round trip; the planner's direct walk (zero metres) beats it
    net = parse("""
        route R1
          A 08:00 B 08:10 A 08:20
        route R2
          C 08:00 D 08:10
    """)
    js = TransitSearch(net.timetable).depart_at(at(net, "A"), at(net, "A"), hm("07:00"))
    assert [describe(j, net) for j in js] == ["R1 A 08:00-A 08:20"]
    assert TransitSearch(net.timetable).depart_at(at(net, "C"), at(net, "C"), 0) == []


def test_pareto_set_offers_direct_slow_ride_and_faster_transfer():
    net = parse("""
        route Slow
          A 08:00 D 09:00
        route R2
          A 08:00 B 08:10
        route R3
          C 08:15 D 08:30
        walk B C 120
    """)
    js = TransitSearch(net.timetable).depart_at(at(net, "A"), at(net, "D"), hm("07:55"))
    assert [describe(j, net) for j in js] == [
        "Slow A 08:00-D 09:00",
        "R2 A 08:00-B 08:10 | walk B-C 120s | R3 C 08:15-D 08:30",
    ]
    assert [j.n_transfers for j in js] == [0, 1]


def test_max_transfers_zero_keeps_only_direct_rides():
    net = parse("""
        route Slow
          A 08:00 D 09:00
        route R2
          A 08:00 B 08:10
        route R3
          B 08:15 D 08:30
    """)
    js = TransitSearch(net.timetable).depart_at(
        at(net, "A"), at(net, "D"), hm("07:55"), max_transfers=0
    )
    assert [describe(j, net) for j in js] == ["Slow A 08:00-D 09:00"]


def test_footpath_too_long_for_the_connection_misses_it():
    net = parse("""
        route R2
          A 08:00 B 08:10
        route R3
          C 08:12 D 08:30
          C 08:42 D 09:00
        walk B C 180
    """)
    js = TransitSearch(net.timetable).depart_at(at(net, "A"), at(net, "D"), hm("07:55"))
    assert [describe(j, net) for j in js] == [
        "R2 A 08:00-B 08:10 | walk B-C 180s | R3 C 08:42-D 09:00"
    ]


def test_access_and_egress_walks_shape_departure_and_arrival():
    net = parse("""
        route R1
          A 08:00 B 08:10
    """)
    js = TransitSearch(net.timetable).depart_at(at(net, "A", 300), at(net, "B", 240), hm("07:50"))
    (j,) = js
    assert j.depart_s == hm("07:55")  # leave just in time for the 08:00
    assert j.arrive_s == hm("08:14")
    assert j.walk_s == 540


def test_range_query_returns_every_departure_in_the_window():
    net = parse("""
        route R1
          A 07:50 B 08:05
          A 08:10 B 08:25
          A 08:30 B 08:45
          A 08:50 B 09:05
          A 09:10 B 09:25
    """)
    js = TransitSearch(net.timetable).depart_window(at(net, "A"), at(net, "B"), hm("08:00"), 3600)
    assert [describe(j, net) for j in js] == [
        "R1 A 08:10-B 08:25",
        "R1 A 08:30-B 08:45",
        "R1 A 08:50-B 09:05",
    ]


def test_range_query_drops_a_departure_that_a_later_one_beats():
    net = parse("""
        route Slow
          A 08:00 B 09:00
        route Fast
          A 08:20 B 08:40
    """)
    js = TransitSearch(net.timetable).depart_window(at(net, "A"), at(net, "B"), hm("07:55"), 3600)
    assert [describe(j, net) for j in js] == ["Fast A 08:20-B 08:40"]


def test_arrive_by_takes_the_latest_trip_that_arrives_in_time():
    net = parse("""
        route R1
          A 08:00 B 08:10 C 08:20
          A 08:10 B 08:20 C 08:30
          A 08:20 B 08:30 C 08:40
    """)
    js = TransitSearch(net.timetable).arrive_by(at(net, "A"), at(net, "C"), hm("08:35"))
    assert [describe(j, net) for j in js] == ["R1 A 08:10-C 08:30"]
    assert js[0].arrive_s == hm("08:30")


def test_arrive_by_with_a_transfer_reverses_walks_and_rides():
    net = parse("""
        route R2
          A 08:00 B 08:10
          A 08:05 B 08:15
        route R3
          C 08:20 D 08:30
        walk B C 120
    """)
    js = TransitSearch(net.timetable).arrive_by(at(net, "A", 60), at(net, "D", 60), hm("08:45"))
    assert [describe(j, net) for j in js] == [
        "R2 A 08:05-B 08:15 | walk B-C 120s | R3 C 08:20-D 08:30"
    ]
    j = js[0]
    assert j.depart_s == hm("08:04")
    assert j.arrive_s == hm("08:31")


def test_negative_max_transfers_is_a_query_error():
    net = parse("""
        route R1
          A 08:00 B 08:10
    """)
    with pytest.raises(QueryError, match="max_transfers"):
        TransitSearch(net.timetable).depart_at(at(net, "A"), at(net, "B"), 0, max_transfers=-1)


def test_egress_stop_outside_the_timetable_is_a_query_error():
    net = parse("""
        route R1
          A 08:00 B 08:10
    """)
    bad = StopTimes(np.array([99], dtype=np.int32), np.array([0], dtype=np.int32))
    with pytest.raises(QueryError, match="egress stop outside"):
        TransitSearch(net.timetable).depart_at(at(net, "A"), bad, 0)


def test_search_state_is_reused_without_leaking_between_queries():
    net = parse("""
        route R1
          A 08:00 B 08:10 C 08:20
        route R2
          D 08:00 E 08:10
    """)
    search = TransitSearch(net.timetable)
    first = search.depart_at(at(net, "A"), at(net, "C"), hm("07:00"))
    assert search.depart_at(at(net, "D"), at(net, "C"), hm("07:00")) == []
    assert search.depart_at(at(net, "A"), at(net, "C"), hm("07:00")) == first


def test_reach_gives_every_stops_earliest_ride_arrival_and_journey_to_rebuilds_it():
    # the first half of a mid-trip rental: where can a rider be by transit, and how
    net = parse("""
        route R1
          A 08:00 B 08:10 C 08:20
        route R2
          B 08:12 D 08:30
          A 08:02 D 08:40
    """)
    raptor = TransitSearch(net.timetable).forward
    arrive = raptor.reach(at(net, "A"), hm("07:59"))
    assert arrive[net["B"]] == hm("08:10")
    assert arrive[net["C"]] == hm("08:20")
    assert arrive[net["D"]] == hm("08:30")  # via B, not the slower direct R2 trip
    assert arrive[net["A"]] >= 2**30  # reached on foot only: no ride arrives there
    j = raptor.journey_to(net["D"])
    assert j is not None
    assert describe(j, net) == "R1 A 08:00-B 08:10 | R2 B 08:12-D 08:30"
    assert j.arrive_s == hm("08:30")
    assert raptor.journey_to(net["A"]) is None


def test_journey_to_has_nothing_after_another_query_reset_the_state():
    net = parse("""
        route R1
          A 08:00 B 08:10
    """)
    raptor = TransitSearch(net.timetable).forward
    raptor.reach(at(net, "A"), hm("07:59"))
    raptor.earliest_arrival(at(net, "A"), at(net, "B"), hm("07:59"))
    assert raptor.journey_to(net["B"]) is None

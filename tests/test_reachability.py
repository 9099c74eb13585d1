"""Every trip answered honestly: pieces and places, gap connectors, walking limits by time,
reason codes, and walk legs whose distance and duration agree.

All networks here are SYNTHETIC hand-built grids (tests/street_grid.py) near a corner in
Helsinki, with timetables written as text (tests/textnet.py):

* the *main* street: one row of 21 nodes 100 m apart running east from the corner;
* a *dead* piece: a 50 m square 120 m north of it, joined to nothing (a pier);
* an *island*: a 50 m square 1 km east of the main street's end.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ingest.extract_gaps import DETOUR_FACTOR, connect_extracts, gap_connectors
from ingest.network_build import snap_stops, walk_places
from routing.errors import IsolatedPieceError, OutsideNetworkError
from routing.planner import Planner, PlanOptions, ReasonCode, StopSnaps
from routing.streets import StreetGraph, StreetIndex, StreetPieces, StreetSearch
from tests.street_grid import CORNER, grid, union
from tests.textnet import parse

SPEED = 1.33


def at(east_m: float, north_m: float) -> tuple[float, float]:
    """(lat, lon) of a point east and north of the corner."""
    lat, lon = CORNER.to_latlon(east_m, north_m)
    return float(lat), float(lon)


def city() -> StreetGraph:
    main = grid(1, 21, 100.0, SPEED, "walk")
    dead = grid(2, 2, 50.0, SPEED, "walk", east_m=500.0, north_m=120.0)
    island = grid(2, 2, 50.0, SPEED, "walk", east_m=3000.0)
    return union(main, dead, island)


MAIN_NODES = range(21)


def piece_of_edge(graph: StreetGraph, pieces: StreetPieces, edge: int) -> int:
    return int(pieces.node_piece[graph.edge_head[edge]])


# -- pieces and snapping ----------------------------------------------------------------------


def test_only_the_largest_piece_is_a_place_until_a_stop_makes_another_one():
    graph = city()
    pieces = StreetPieces.of(graph)
    assert pieces.n_pieces == 3
    main = int(pieces.node_piece[0])
    assert pieces.piece_place.tolist().count(True) == 1 and pieces.piece_place[main]
    assert set(pieces.node_piece[list(MAIN_NODES)].tolist()) == {main}


def test_a_dead_piece_is_never_a_snap_target_when_a_place_is_within_the_limit():
    graph = city()
    pieces = StreetPieces.of(graph)
    lat, lon = at(525.0, 120.0)  # right on the dead piece's southern street
    anywhere = StreetIndex(graph).snap(lat, lon)
    assert (
        anywhere.offset_m < 1.0
        and not pieces.piece_place[piece_of_edge(graph, pieces, anywhere.edge)]
    )
    snap = StreetIndex(graph, pieces=pieces).snap(lat, lon)
    assert pieces.piece_place[piece_of_edge(graph, pieces, snap.edge)]
    assert snap.offset_m == pytest.approx(120.0, abs=1.0)


def test_a_point_whose_only_streets_are_a_dead_piece_gets_its_own_error():
    graph = city()
    index = StreetIndex(graph, pieces=StreetPieces.of(graph))
    with pytest.raises(IsolatedPieceError) as caught:
        index.snap(*at(525.0, 600.0))  # 430 m from the pier, 600 m from the main street
    err = caught.value
    assert isinstance(err, OutsideNetworkError)  # callers that only know the old error
    assert err.piece_distance_m == pytest.approx(430.0, abs=1.0)
    assert err.place_distance_m == pytest.approx(600.0, abs=1.0)
    assert "connects to nothing" in str(err)


def test_a_point_far_from_every_street_is_outside_the_network_not_isolated():
    graph = city()
    index = StreetIndex(graph, pieces=StreetPieces.of(graph))
    with pytest.raises(OutsideNetworkError) as caught:
        index.snap(*at(-2000.0, -2000.0))
    assert not isinstance(caught.value, IsolatedPieceError)


def test_an_island_with_a_served_stop_is_a_place_and_without_service_it_is_not():
    graph = city()
    lat, lon = (np.array([v]) for v in at(3025.0, 0.0))  # a ferry pier on the island
    served = walk_places(graph, lat, lon, np.array([True]))
    index = StreetIndex(graph, pieces=served)
    snap = index.snap(*at(3025.0, 10.0))
    assert served.piece_place[piece_of_edge(graph, served, snap.edge)]
    assert snap.offset_m == pytest.approx(10.0, abs=1.0)
    unserved = walk_places(graph, lat, lon, np.array([False]))
    with pytest.raises(IsolatedPieceError):
        StreetIndex(graph, pieces=unserved).snap(*at(3025.0, 10.0))


def test_a_served_stop_near_both_a_pier_and_the_main_street_leaves_the_pier_dead():
    graph = city()
    lat, lon = (np.array([v]) for v in at(525.0, 125.0))  # on the pier, 125 m from main
    pieces = walk_places(graph, lat, lon, np.array([True]))
    assert pieces.piece_place.sum() == 1
    snaps = snap_stops(graph, lat, lon, pieces=pieces)
    assert pieces.piece_place[piece_of_edge(graph, pieces, int(snaps.edge[0]))]
    assert snaps.offset_m[0] == pytest.approx(125.0, abs=1.0)


def test_a_stop_whose_only_street_is_a_dead_piece_stays_off_the_streets():
    graph = city()
    lat, lon = (np.array([v]) for v in at(525.0, 250.0))  # 80 m from the pier, 250 m from main
    pieces = StreetPieces.of(graph)
    assert snap_stops(graph, lat, lon).edge[0] >= 0  # without pieces: the pier
    assert snap_stops(graph, lat, lon, pieces=pieces).edge[0] == -1  # straight-line footpaths


def test_a_stop_beyond_the_streets_is_linked_to_a_place_within_reach_and_no_farther():
    graph = city()
    pieces = StreetPieces.of(graph)
    # south of the main street: no street of any piece within 150 m
    lat, lon = (
        np.array([a, b]) for a, b in zip(at(1000.0, -300.0), at(1000.0, -450.0), strict=True)
    )
    snaps = snap_stops(graph, lat, lon, pieces=pieces)
    assert snaps.edge[0] >= 0  # 300 m: linked, the straight line walked as its offset
    assert piece_of_edge(graph, pieces, int(snaps.edge[0])) == int(pieces.node_piece[0])
    assert snaps.offset_m[0] == pytest.approx(300.0, abs=1.0)
    assert snaps.edge[1] == -1  # 450 m: beyond reach, straight-line footpaths only


def test_a_served_stop_beyond_an_islands_streets_makes_the_island_a_place():
    graph = city()
    lat, lon = (np.array([v]) for v in at(3025.0, -250.0))  # 250 m south of the island
    assert walk_places(graph, lat, lon, np.array([False])).piece_place.sum() == 1
    served = walk_places(graph, lat, lon, np.array([True]))
    assert served.piece_place.sum() == 2
    snaps = snap_stops(graph, lat, lon, pieces=served)
    assert served.piece_place[piece_of_edge(graph, served, int(snaps.edge[0]))]
    assert snaps.offset_m[0] == pytest.approx(250.0, abs=1.0)


# -- connectors across the gap between extracts -----------------------------------------------


def _two_extracts() -> tuple[StreetGraph, list[tuple[float, float, float, float]]]:
    south = grid(3, 3, 100.0, SPEED, "walk")
    north = grid(3, 3, 100.0, SPEED, "walk", north_m=500.0)
    boxes = []
    for y0, y1 in ((-10.0, 210.0), (490.0, 710.0)):
        lat0, lon0 = at(-10.0, y0)
        lat1, lon1 = at(210.0, y1)
        boxes.append((lon0, lat0, lon1, lat1))
    return union(south, north), boxes


def test_connectors_bridge_the_strip_between_two_extracts_as_spaced_estimates():
    graph, boxes = _two_extracts()
    pairs = gap_connectors(graph, boxes)
    # south's top row (nodes 6, 7, 8) faces north's bottom row (9, 10, 11), 300 m apart;
    # the middle pair lies within 150 m of both ends of the first one chosen
    assert sorted(map(tuple, pairs.tolist())) == [(6, 9), (8, 11)]
    joined = connect_extracts(graph, boxes)
    assert joined.n_edges == graph.n_edges + 4
    est = np.flatnonzero(joined.estimated)
    assert len(est) == 4
    assert np.allclose(joined.edge_length_m[est], 300.0 * DETOUR_FACTOR, atol=0.5)
    assert np.allclose(joined.edge_time_s[est], 300.0 * DETOUR_FACTOR / SPEED, atol=0.5)
    reverse = joined.edge_reverse
    assert np.all(reverse[reverse[est]] == est)  # two-way, paired
    assert StreetPieces.of(joined).n_pieces == 1
    # the mapped streets keep their own data
    assert np.all(~joined.estimated[joined.edge_length_m == 100.0])


def test_a_walk_across_the_gap_follows_a_connector_and_says_it_is_estimated():
    graph, boxes = _two_extracts()
    joined = connect_extracts(graph, boxes)
    index = StreetIndex(joined, pieces=StreetPieces.of(joined))
    a, b = index.snap(*at(0.0, 100.0)), index.snap(*at(0.0, 600.0))
    path = StreetSearch(joined).route(a, b)
    assert path is not None and joined.estimated[path.edges].any()
    assert path.length_m == pytest.approx(100.0 + 390.0 + 100.0, abs=1.0)


def test_two_pieces_inside_one_extract_are_never_joined():
    graph, boxes = _two_extracts()
    lat0, lon0 = at(-10.0, -10.0)
    lat1, lon1 = at(210.0, 710.0)
    assert len(gap_connectors(graph, [(lon0, lat0, lon1, lat1), boxes[1]])) == 0


# -- walking limits by time, and the reasons ----------------------------------------------------

TIMETABLE = """
route R1
  A 08:10 B 08:20
route R2
  C 08:30 D 08:40
"""
#: where each stop stands on the main street (metres east of the corner)
STOP_EAST = {"A": 600.0, "B": 2000.0, "C": 300.0, "D": 1000.0}


def _planner() -> tuple[Planner, dict[str, int]]:
    graph = city()
    pieces = StreetPieces.of(graph)
    net = parse(TIMETABLE)
    index = StreetIndex(graph, pieces=pieces)
    n = len(net.stop_index)
    lat = np.zeros(n)
    lon = np.zeros(n)
    for name, east in STOP_EAST.items():
        lat[net[name]], lon[net[name]] = at(east, 0.0)
    snaps = [index.snap(float(lat[s]), float(lon[s])) for s in range(n)]
    stop_snaps = StopSnaps(
        np.array([s.edge for s in snaps], dtype=np.int32),
        np.array([s.fraction for s in snaps]),
        np.array([s.offset_m for s in snaps]),
        lat,
        lon,
        np.array([s.snapped_lat for s in snaps]),
        np.array([s.snapped_lon for s in snaps]),
    )
    return Planner(graph, index, stop_snaps, net.timetable), net.stop_index


ORIGIN = at(0.0, 0.0)
DESTINATION = at(2000.0, 0.0)
A_WALK_S = 600.0 / SPEED  # 451.1 s from the origin to stop A


def _plan(planner: Planner, clock: str, **options: object):
    h, m = clock.split(":")
    opts = PlanOptions(max_direct_walk_s=600, max_egress_s=600, **options)  # type: ignore[arg-type]
    return planner.plan(*ORIGIN, *DESTINATION, int(h) * 3600 + int(m) * 60, opts)


def test_a_stop_just_inside_the_access_time_limit_is_used_and_just_past_it_is_not():
    planner, stops = _planner()
    inside = _plan(planner, "08:00", max_access_s=math.ceil(A_WALK_S))
    assert stops["A"] in inside.access.stops.tolist()
    assert [j.arrive_s for j in inside.journeys] == [8 * 3600 + 20 * 60]
    past = _plan(planner, "08:00", max_access_s=math.floor(A_WALK_S))
    assert stops["A"] not in past.access.stops.tolist()
    assert past.journeys == []


def test_a_metre_cap_still_applies_on_top_of_the_time_limit():
    planner, stops = _planner()
    plan = _plan(planner, "08:00", max_access_s=3600, max_walk_m=599.0)
    assert stops["A"] not in plan.access.stops.tolist()
    assert stops["C"] in plan.access.stops.tolist()
    capped = _plan(planner, "08:00", max_access_s=3600, max_walk_m=250.0)
    assert capped.reason.startswith("no stop within 250 m walk of the origin")  # the binding one


def test_nothing_within_the_walk_limit_has_its_code_and_says_which_end():
    planner, _ = _planner()
    plan = _plan(planner, "08:00", max_access_s=60)
    assert plan.journeys == []
    assert plan.reason_code == ReasonCode.NOTHING_WITHIN_WALK_LIMIT
    assert plan.reason.startswith("no stop within 1 min walk of the origin")


def test_no_ride_after_the_departure_time_is_no_service_in_window():
    planner, _ = _planner()
    plan = _plan(planner, "09:00")
    assert plan.journeys == [] and plan.reason_code == ReasonCode.NO_SERVICE_IN_WINDOW
    early = _plan(planner, "08:00", arrive_by=True)  # nothing reaches B by 08:00
    assert early.journeys == [] and early.reason_code == ReasonCode.NO_SERVICE_IN_WINDOW


def test_rides_that_run_but_do_not_join_the_two_ends_are_no_connection():
    planner, _ = _planner()
    plan = _plan(planner, "08:15")  # A's ride has left; C's leaves 08:30 but goes to D
    assert plan.journeys == [] and plan.reason_code == ReasonCode.NO_CONNECTION


def test_a_plan_with_journeys_has_no_reason_code():
    planner, _ = _planner()
    plan = _plan(planner, "08:00")
    assert plan.journeys and plan.reason == "" and plan.reason_code == ""


# -- consistent legs ---------------------------------------------------------------------------


def test_the_same_doorstep_walk_is_timed_and_drawn_as_the_same_straight_line():
    planner, _ = _planner()
    a, b = at(1000.0, 300.0), at(1000.0, 420.0)  # 120 m apart in a park, 300-420 m off-street
    plan = planner.plan(*a, *b, 8 * 3600, PlanOptions(max_access_s=0, max_egress_s=0))
    assert plan.direct_walk_s == pytest.approx(120.0 / SPEED, abs=0.5)
    path = planner.walk_between(plan.origin, plan.destination, doorstep=True)
    assert path is not None
    assert path.length_m == pytest.approx(120.0, abs=0.5)
    assert path.length_m / SPEED == pytest.approx(plan.direct_walk_s, abs=0.01)
    # the street path is what used to be reported next to the straight line's time
    street = planner.walk_between(plan.origin, plan.destination)
    assert street is not None and street.length_m == pytest.approx(720.0, abs=1.0)


def test_a_walk_leg_reports_the_distance_it_was_timed_with():
    from trips.model import Place, to_builtins
    from trips.rental_legs import walk_leg

    planner, _ = _planner()
    a_pt, b_pt = at(1000.0, 300.0), at(1000.0, 420.0)
    a = planner.walk_index.snap(*a_pt)
    b = planner.walk_index.snap(*b_pt)
    door_s = math.ceil(120.0 / SPEED)
    leg = walk_leg(
        planner,
        a,
        b,
        Place(name="Origin", lat=a_pt[0], lon=a_pt[1]),
        Place(name="Destination", lat=b_pt[0], lon=b_pt[1]),
        depart_s=0,
        arrive_s=door_s,
        clock=str,
        walk_speed_mps=SPEED,
        doorstep=True,
    )
    leg = to_builtins(leg)
    assert leg["duration_s"] == door_s
    assert leg["distance_m"] == pytest.approx(120.0, abs=0.5)
    assert abs(leg["distance_m"] / SPEED - leg["duration_s"]) < 1.0
    assert len(leg["geometry"]["coordinates"]) == 2 and leg["estimated"] is False


# -- through the API, on the embedded Helsinki network (real OSM and GTFS) ----------------------

HELSINKI_8AM = "2022-02-22T08:00:00+02:00"
KAMPPI = {"from_lat": 60.1685, "from_lon": 24.9316}


def test_a_point_on_an_island_without_a_bridge_is_a_422_isolated_street_piece(api_client):
    # Suomenlinna's northern tip: its streets are in the extract, its ferry stop is not in
    # the feed, and the mainland is 1.3 km away
    q = {**KAMPPI, "to_lat": 60.1482, "to_lon": 24.9807, "at": HELSINKI_8AM}
    r = api_client.post("/plan", json=q)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "isolated_street_piece" and err["field"] == "to_lat"
    assert "connects to nothing" in err["message"]


def test_an_answer_without_itineraries_has_a_reason_code(api_client):
    q = {**KAMPPI, "to_lat": 60.1725, "to_lon": 24.9560, "at": HELSINKI_8AM,
         "max_access_min": 0, "max_direct_walk_min": 1}  # fmt: skip
    body = api_client.post("/plan", json=q).json()
    assert body["itineraries"] == []
    assert body["reason_code"] == "nothing_within_walk_limit"
    assert body["reason"].startswith("no stop within 0 min walk of the origin")


def test_a_walk_across_the_gap_between_the_extracts_is_marked_estimated(api_client):
    # Kruununhaka (centre extract) to Alppila (the other extract), walking only
    q = {"from_lat": 60.1745, "from_lon": 24.9400, "to_lat": 60.1840, "to_lon": 24.9400,
         "at": HELSINKI_8AM, "modes": "WALK"}  # fmt: skip
    body = api_client.post("/plan", json=q).json()
    assert body["itineraries"], body["reason"]
    (leg,) = body["itineraries"][0]["legs"]
    assert leg["mode"] == "WALK" and leg["estimated"] is True
    # never faster than the walking pace; a little slower where the walk climbs steps
    assert leg["distance_m"] / 1.33 - 1 <= leg["duration_s"] <= leg["distance_m"] / 1.33 * 1.05

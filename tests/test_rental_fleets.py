"""The GBFS -> RentalFleet adapter on the embedded Helsinki network, and the CO2 defaults.

Snapshots are built by hand (a few stations, vehicles and zones placed on real street
nodes), so each test states exactly which station, vehicle or edge it expects to be in or
out. Geofencing expectations are recomputed independently, one shapely predicate per edge
or node, rather than through the adapter's STRtree.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import shapely

from network.compiled import Network
from providers.model import (
    FeedFile,
    FleetSnapshot,
    FormFactor,
    Geofencing,
    GeofencingRule,
    GeofencingZone,
    PricingPlan,
    Propulsion,
    ReturnConstraint,
    Station,
    StationStatus,
    SystemInfo,
    Vehicle,
    VehicleType,
)
from providers.synthetic import (
    StreetNodes,
    churn,
    embedded_synthetic_fleets,
    street_nodes,
    synthetic_snapshots,
)
from routing.streets import StreetGraph
from trips.co2 import DEFAULT_G_CO2_KM, co2_g
from trips.fleets import (
    FREE_RENTALS_PER_H,
    RENTAL_MODES,
    FleetView,
    RentalFleets,
    rental_mode,
)

NOW_S = 1_700_000_000
#: a bike-graph node in the centre (Kluuvi), and others found relative to it
CENTRE = (60.1699, 24.9445)

BIKE = VehicleType(
    "bike", FormFactor.BICYCLE, Propulsion.HUMAN, name="Bike",
    return_constraint=ReturnConstraint.ANY_STATION, default_pricing_plan_id="p",
)  # fmt: skip
SCOOTER = VehicleType(
    "scoot", FormFactor.SCOOTER_STANDING, Propulsion.ELECTRIC, name="Scooter",
    return_constraint=ReturnConstraint.FREE_FLOATING, default_pricing_plan_id="p",
)  # fmt: skip
ROUND_TRIP_CAR = VehicleType(
    "rtcar", FormFactor.CAR, Propulsion.COMBUSTION, name="Round-trip car",
    return_constraint=ReturnConstraint.ROUNDTRIP_STATION, g_co2_km=125,
)  # fmt: skip
PLAN = PricingPlan("p", "Plan", "EUR", 100)


def snapshot(
    provider_id: str = "prov",
    *,
    types: Sequence[VehicleType] = (SCOOTER,),
    stations: Sequence[Station] = (),
    status: Sequence[StationStatus] = (),
    vehicles: Sequence[Vehicle] = (),
    zones: Sequence[GeofencingZone] = (),
    global_rules: Sequence[GeofencingRule] = (),
    version: str = "",
) -> FleetSnapshot:
    """A snapshot whose feed hashes follow its content (the adapter caches on them).

    `version` forces different hashes for equal content (to test the cache itself).
    """
    version += repr((types, stations, status, vehicles, zones, global_rules))
    names = ["system_information", "vehicle_types", "station_status", "vehicle_status"]
    if zones or global_rules:
        names.append("geofencing_zones")
    feeds = tuple(
        FeedFile(n, NOW_S, 60, hashlib.sha256(f"{provider_id}{n}{version}".encode()).hexdigest(), 0)
        for n in names
    )
    return FleetSnapshot(
        provider_id=provider_id,
        gbfs_version="3.0",
        system=SystemInfo(provider_id, f"{provider_id} name", "Europe/Helsinki"),
        feeds=feeds,
        vehicle_types=tuple(types),
        stations=tuple(stations),
        station_status=tuple(status),
        vehicles=tuple(vehicles),
        pricing_plans=(PLAN,),
        geofencing=Geofencing(tuple(zones), tuple(global_rules)),
        source="synthetic",
    )


def box(lat: float, lon: float, half_m: float) -> dict[str, Any]:
    """A GeoJSON square of side 2 * half_m around a point."""
    dlat = half_m / 111_195.0
    dlon = half_m / (111_195.0 * math.cos(math.radians(lat)))
    ring = [
        (lon - dlon, lat - dlat),
        (lon + dlon, lat - dlat),
        (lon + dlon, lat + dlat),
        (lon - dlon, lat + dlat),
        (lon - dlon, lat - dlat),
    ]
    return {"type": "Polygon", "coordinates": (tuple(ring),)}


def zone(geometry: dict[str, Any], **rule: Any) -> GeofencingZone:
    return GeofencingZone(geometry=geometry, rules=(GeofencingRule(**rule),))


def edge_lines(graph: StreetGraph) -> list[shapely.LineString]:
    ptr = graph.geom_ptr
    return [
        shapely.LineString(
            np.column_stack(
                [graph.geom_lon[ptr[e] : ptr[e + 1]], graph.geom_lat[ptr[e] : ptr[e + 1]]]
            )
        )
        for e in range(graph.n_edges)
    ]


@pytest.fixture(scope="module")
def fleets(helsinki: Network) -> RentalFleets:
    return RentalFleets(helsinki)


@pytest.fixture(scope="module")
def bike_lines(helsinki: Network) -> list[shapely.LineString]:
    return edge_lines(helsinki.streets["bike"])


@pytest.fixture(scope="module")
def spots(helsinki: Network) -> list[tuple[float, float]]:
    """Bike-graph node positions 150-1500 m from the centre, spread out, nearest first."""
    g = helsinki.streets["bike"]
    d = np.hypot((g.node_lat - CENTRE[0]) * 111_195, (g.node_lon - CENTRE[1]) * 55_400)
    order = [int(i) for i in np.argsort(d) if 150 < d[i] < 1500]
    chosen: list[int] = []
    for i in order:
        if all(
            abs(g.node_lat[i] - g.node_lat[j]) + abs(g.node_lon[i] - g.node_lon[j]) > 0.002
            for j in chosen
        ):
            chosen.append(i)
        if len(chosen) == 6:
            break
    return [(float(g.node_lat[i]), float(g.node_lon[i])) for i in chosen]


def check(view: FleetView, net: Network) -> None:
    ride = net.streets[view.fleet.profile]
    view.fleet.check(net.streets["walk"].n_edges, ride.n_nodes, ride.n_edges)
    n = view.fleet.n_pickups
    assert len(view.pickup_lat) == len(view.pickup_name) == len(view.pickup_plan) == n
    assert len(view.dropoff_station_id) == len(view.dropoff_docks) == view.fleet.n_dropoffs


def only(views: list[FleetView]) -> FleetView:
    assert len(views) == 1, [v.provider_id for v in views]
    return views[0]


def docked_system(spots: list[tuple[float, float]], **overrides: Any) -> FleetSnapshot:
    """Four stations: s0 normal, s1 empty, s2 full, s3 says nothing about its docks."""
    stations = [Station(f"s{i}", f"Station {i}", *spots[i]) for i in range(4)]
    status = [
        StationStatus("s0", 3, num_docks_available=4, vehicle_types_available=(("bike", 3),)),
        StationStatus("s1", 0, num_docks_available=9, vehicle_types_available=(("bike", 0),)),
        StationStatus("s2", 8, num_docks_available=0, vehicle_types_available=(("bike", 8),)),
        StationStatus("s3", 2, vehicle_types_available=(("bike", 2),)),
    ]
    return snapshot(types=(BIKE,), stations=stations, status=status, **overrides)


# -- stations ---------------------------------------------------------------------------


def test_empty_station_is_not_a_pickup(fleets, helsinki, spots):
    view = only(fleets.views({"prov": docked_system(spots)}, modes=RENTAL_MODES)[0])
    check(view, helsinki)
    assert view.fleet.docked and view.mode == "BICYCLE_RENTAL"
    assert view.pickup_station_id == ("s0", "s2", "s3")
    assert view.pickup_count.tolist() == [3, 8, 2]
    assert view.pickup_vehicle_id == (None, None, None)


def test_full_station_is_not_a_dropoff_and_unknown_docks_are_minus_one(fleets, helsinki, spots):
    view = only(fleets.views({"prov": docked_system(spots)}, modes=RENTAL_MODES)[0])
    assert view.dropoff_station_id == ("s0", "s1", "s3")
    assert view.dropoff_docks.tolist() == [4, 9, -1]
    assert math.isnan(view.dropoff_probability(2, 300))
    assert not view.fleet.node_can_end.any()  # docked: rides end at stations only


def test_station_not_renting_or_returning_is_neither(fleets, spots):
    stations = [Station(f"s{i}", f"Station {i}", *spots[i]) for i in range(2)]
    status = [
        StationStatus("s0", 3, is_renting=False, num_docks_available=2),
        StationStatus("s1", 3, is_returning=False, num_docks_available=2),
    ]
    snap = snapshot(types=(BIKE,), stations=stations, status=status)
    view = only(fleets.views({"prov": snap}, modes=RENTAL_MODES)[0])
    # a single-type system without a per-type breakdown: the station total counts
    assert view.pickup_station_id == ("s1",)
    assert view.dropoff_station_id == ("s0",)


def test_per_type_dock_counts_decide_which_stations_take_the_type(fleets, spots):
    stations = [Station(f"s{i}", f"Station {i}", *spots[i]) for i in range(2)]
    status = [
        StationStatus("s0", 1, num_docks_available=5, vehicle_docks_available=((("other",), 5),)),
        StationStatus("s1", 1, num_docks_available=5, vehicle_docks_available=((("bike",), 2),)),
    ]
    snap = snapshot(types=(BIKE,), stations=stations, status=status)
    view = only(fleets.views({"prov": snap}, modes=RENTAL_MODES)[0])
    assert view.dropoff_station_id == ("s1",)
    assert view.dropoff_docks.tolist() == [2]


# -- free-floating vehicles -----------------------------------------------------------


def test_reserved_disabled_and_unplaced_vehicles_are_not_pickups(fleets, helsinki, spots):
    vehicles = [
        Vehicle("ok", *spots[0], vehicle_type_id="scoot", current_range_m=5000.0),
        Vehicle("reserved", *spots[1], vehicle_type_id="scoot", is_reserved=True),
        Vehicle("disabled", *spots[2], vehicle_type_id="scoot", is_disabled=True),
        Vehicle("nowhere", None, None, vehicle_type_id="scoot"),
        Vehicle("norange", *spots[3], vehicle_type_id="scoot"),
        Vehicle("far", 60.5, 25.5, vehicle_type_id="scoot"),  # beyond the streets
    ]
    view = only(fleets.views({"prov": snapshot(vehicles=vehicles)}, modes=RENTAL_MODES)[0])
    check(view, helsinki)
    assert view.pickup_vehicle_id == ("ok", "norange")
    assert view.pickup_name == ("Scooter ok", "Scooter norange")
    assert view.pickup_range_m.tolist() == [5000.0, math.inf]
    assert view.pickup_range_m is view.fleet.pickup_range_m
    assert not view.fleet.docked and view.fleet.node_can_end.all()


def test_vehicle_at_a_station_stands_at_the_station(fleets, spots):
    station = Station("st", "Hub", *spots[4])
    vehicles = [Vehicle("v", None, None, vehicle_type_id="scoot", station_id="st")]
    snap = snapshot(stations=[station], vehicles=vehicles)
    view = only(fleets.views({"prov": snap}, modes=RENTAL_MODES)[0])
    assert (view.pickup_lat[0], view.pickup_lon[0]) == spots[4]
    assert view.pickup_station_id == ("st",) and view.pickup_vehicle_id == ("v",)


def test_round_trip_type_is_left_out_with_a_note(fleets, spots):
    vehicles = [Vehicle("c", *spots[0], vehicle_type_id="rtcar")]
    snap = snapshot(types=(ROUND_TRIP_CAR,), vehicles=vehicles)
    views, notes = fleets.views({"prov": snap}, modes=RENTAL_MODES)
    assert views == []
    assert len(notes) == 1
    assert "prov" in notes[0] and "Round-trip car" in notes[0] and "one-way" in notes[0]


# -- geofencing ---------------------------------------------------------------------------


def test_no_ride_through_zone_blocks_exactly_the_edges_crossing_it(
    fleets, helsinki, spots, bike_lines
):
    area = box(*spots[0], 120.0)
    vehicles = [Vehicle("v", *spots[3], vehicle_type_id="scoot")]
    snap = snapshot(vehicles=vehicles, zones=[zone(area, ride_through_allowed=False)])
    view = only(fleets.views({"prov": snap}, modes=RENTAL_MODES)[0])
    check(view, helsinki)
    polygon = shapely.geometry.shape(area)
    expected = {e for e, line in enumerate(bike_lines) if line.intersects(polygon)}
    assert expected, "the zone must cross some street"
    assert set(np.flatnonzero(view.fleet.edge_blocked).tolist()) == expected
    # ending and speed are untouched by a through-only rule
    assert view.fleet.node_can_end.all()
    base = helsinki.streets["bike"].edge_time_s
    assert np.array_equal(view.fleet.edge_time_s, base)


def test_no_parking_zone_makes_nodes_inside_unable_to_end(fleets, helsinki, spots):
    area = box(*spots[1], 150.0)
    vehicles = [
        Vehicle("outside", *spots[3], vehicle_type_id="scoot"),
        Vehicle("inside", *spots[1], vehicle_type_id="scoot"),
    ]
    zones = [zone(area, ride_end_allowed=False, ride_start_allowed=False)]
    view = only(
        fleets.views({"prov": snapshot(vehicles=vehicles, zones=zones)}, modes=RENTAL_MODES)[0]
    )
    g = helsinki.streets["bike"]
    inside = shapely.intersects_xy(shapely.geometry.shape(area), g.node_lon, g.node_lat)
    assert inside.any()
    assert np.array_equal(view.fleet.node_can_end, ~inside)
    # a vehicle where starting is forbidden is not offered
    assert view.pickup_vehicle_id == ("outside",)
    assert not view.fleet.edge_blocked.any()


def test_speed_zone_slows_the_edges_inside_and_only_those(fleets, helsinki, spots, bike_lines):
    area = box(*spots[2], 150.0)
    vehicles = [Vehicle("v", *spots[3], vehicle_type_id="scoot")]
    zones = [zone(area, maximum_speed_kph=10)]
    view = only(
        fleets.views({"prov": snapshot(vehicles=vehicles, zones=zones)}, modes=RENTAL_MODES)[0]
    )
    g = helsinki.streets["bike"]
    polygon = shapely.geometry.shape(area)
    touched = np.array([line.intersects(polygon) for line in bike_lines])
    slow = np.maximum(g.edge_time_s, (g.edge_length_m / np.float32(10 / 3.6)).astype(np.float32))
    assert np.allclose(view.fleet.edge_time_s[touched], slow[touched])
    assert (view.fleet.edge_time_s[touched] > g.edge_time_s[touched]).any()
    assert np.array_equal(view.fleet.edge_time_s[~touched], g.edge_time_s[~touched])


def test_global_speed_rule_caps_edges_outside_zones(fleets, helsinki, spots):
    vehicles = [Vehicle("v", *spots[3], vehicle_type_id="scoot")]
    snap = snapshot(vehicles=vehicles, global_rules=[GeofencingRule(maximum_speed_kph=9)])
    view = only(fleets.views({"prov": snap}, modes=RENTAL_MODES)[0])
    g = helsinki.streets["bike"]
    assert np.allclose(
        view.fleet.edge_time_s, np.maximum(g.edge_time_s, g.edge_length_m / (9 / 3.6))
    )


def test_first_listed_zone_wins_where_zones_overlap(fleets, helsinki, spots):
    inner, outer = box(*spots[0], 60.0), box(*spots[0], 200.0)
    vehicles = [Vehicle("v", *spots[3], vehicle_type_id="scoot")]
    forbid_outer = zone(outer, ride_through_allowed=False, ride_end_allowed=False)
    allow_inner = zone(inner)
    first = snapshot(vehicles=vehicles, zones=[allow_inner, forbid_outer], version="a")
    second = snapshot(vehicles=vehicles, zones=[forbid_outer, allow_inner], version="b")
    view_a = only(fleets.views({"prov": first}, modes=RENTAL_MODES)[0])
    view_b = only(fleets.views({"prov": second}, modes=RENTAL_MODES)[0])
    # the node at the centre of both zones: ending allowed only when the allowing zone is first
    g = helsinki.streets["bike"]
    node = int(np.argmin(np.hypot(g.node_lat - spots[0][0], g.node_lon - spots[0][1])))
    assert view_a.fleet.node_can_end[node] and not view_b.fleet.node_can_end[node]
    assert view_a.fleet.node_can_end.sum() > view_b.fleet.node_can_end.sum()
    assert view_a.fleet.edge_blocked.sum() < view_b.fleet.edge_blocked.sum()


def test_zone_outside_its_time_window_is_not_applied(fleets, spots):
    area = box(*spots[0], 120.0)
    vehicles = [Vehicle("v", *spots[3], vehicle_type_id="scoot")]
    later = GeofencingZone(
        geometry=area,
        rules=(GeofencingRule(ride_through_allowed=False),),
        start_s=NOW_S + 3600,
        end_s=NOW_S + 7200,
    )
    snap = snapshot(vehicles=vehicles, zones=[later])
    now = only(fleets.views({"prov": snap}, modes=RENTAL_MODES)[0])
    then = only(fleets.views({"prov": snap}, modes=RENTAL_MODES, now_s=NOW_S + 4000)[0])
    assert not now.fleet.edge_blocked.any()
    assert then.fleet.edge_blocked.any()


def test_rule_for_another_type_does_not_apply(fleets, spots):
    area = box(*spots[0], 120.0)
    vehicles = [Vehicle("v", *spots[3], vehicle_type_id="scoot")]
    zones = [zone(area, vehicle_type_ids=("other",), ride_through_allowed=False)]
    view = only(
        fleets.views({"prov": snapshot(vehicles=vehicles, zones=zones)}, modes=RENTAL_MODES)[0]
    )
    assert not view.fleet.edge_blocked.any()


# -- filtering ----------------------------------------------------------------------------


def test_modes_and_provider_allow_and_deny_lists_filter_views(fleets, spots):
    bikes = docked_system(spots, provider_id="bikes")
    a = snapshot("a", vehicles=[Vehicle("v", *spots[0], vehicle_type_id="scoot")])
    b = snapshot("b", vehicles=[Vehicle("w", *spots[1], vehicle_type_id="scoot")])
    snaps = {"bikes": bikes, "a": a, "b": b}

    def ids(**kw: Any) -> list[str | None]:
        return [v.provider_id for v in fleets.views(snaps, **kw)[0]]

    assert ids(modes=RENTAL_MODES) == ["bikes", "a", "b"]
    assert ids(modes={"SCOOTER_RENTAL", "WALK", "TRANSIT"}) == ["a", "b"]
    assert ids(modes={"CAR_RENTAL"}) == []
    assert ids(modes=RENTAL_MODES, providers={"b", "bikes"}) == ["bikes", "b"]
    assert ids(modes=RENTAL_MODES, exclude_providers={"a"}) == ["bikes", "b"]
    _, notes = fleets.views(snaps, modes=RENTAL_MODES, providers={"nope"})
    assert notes == ["no fleet data for provider 'nope'"]


def test_rental_mode_of_each_form_factor():
    def mode(ff: FormFactor) -> str:
        return rental_mode(VehicleType("t", ff, Propulsion.ELECTRIC))

    assert mode(FormFactor.BICYCLE) == mode(FormFactor.CARGO_BICYCLE) == "BICYCLE_RENTAL"
    for ff in (
        FormFactor.SCOOTER_STANDING,
        FormFactor.SCOOTER_SEATED,
        FormFactor.MOPED,
        FormFactor.OTHER,
    ):
        assert mode(ff) == "SCOOTER_RENTAL"
    assert mode(FormFactor.CAR) == "CAR_RENTAL"


# -- probabilities ----------------------------------------------------------------------


def test_pickup_probability_falls_with_lead_time_and_rises_with_count(fleets, spots):
    view = only(fleets.views({"prov": docked_system(spots)}, modes=RENTAL_MODES)[0])
    # pickups: s0 has 3 bikes, s2 has 8
    leads = [0, 60, 300, 900, 3600, 4 * 3600]
    for i in (0, 1):
        p = [view.pickup_probability(i, t) for t in leads]
        assert p[0] == 1.0
        assert all(x > y for x, y in itertools.pairwise(p))
    for t in leads[1:]:
        assert view.pickup_probability(1, t) > view.pickup_probability(0, t)
    # docks fill the same way: 9 free docks outlast 4
    assert view.dropoff_probability(1, 1800) > view.dropoff_probability(0, 1800)
    assert view.dropoff_probability(0, 1800) > view.dropoff_probability(0, 3600)


def test_free_vehicle_probability_is_exponential_in_lead_time(fleets, spots):
    vehicles = [Vehicle("v", *spots[0], vehicle_type_id="scoot")]
    view = only(fleets.views({"prov": snapshot(vehicles=vehicles)}, modes=RENTAL_MODES)[0])
    rate_s = FREE_RENTALS_PER_H["SCOOTER_RENTAL"] / 3600
    assert view.pickup_probability(0, 600) == pytest.approx(math.exp(-rate_s * 600))
    assert view.pickup_probability(0, -5) == 1.0


# -- caching ------------------------------------------------------------------------------


def test_unchanged_snapshot_reuses_its_view_and_changed_one_is_rebuilt(helsinki, spots):
    fleets = RentalFleets(helsinki)
    a = snapshot("a", vehicles=[Vehicle("v", *spots[0], vehicle_type_id="scoot")])
    b = snapshot("b", vehicles=[Vehicle("w", *spots[1], vehicle_type_id="scoot")])
    first, _ = fleets.views({"a": a, "b": b}, modes=RENTAL_MODES)
    b2 = snapshot("b", vehicles=[Vehicle("x", *spots[2], vehicle_type_id="scoot")], version="2")
    second, _ = fleets.views({"a": a, "b": b2}, modes=RENTAL_MODES)
    assert second[0] is first[0]
    assert second[1] is not first[1] and second[1].pickup_vehicle_id == ("x",)
    # a provider that disappears leaves the cache; coming back, it is rebuilt
    fleets.views({"b": b2}, modes=RENTAL_MODES)
    third, _ = fleets.views({"a": a, "b": b2}, modes=RENTAL_MODES)
    assert third[0] is not first[0] and third[1] is second[1]


def test_view_arrays_are_read_only(fleets, spots):
    vehicles = [Vehicle("v", *spots[0], vehicle_type_id="scoot")]
    view = only(fleets.views({"prov": snapshot(vehicles=vehicles)}, modes=RENTAL_MODES)[0])
    with pytest.raises(ValueError, match="read-only"):
        view.fleet.node_can_end[0] = False
    with pytest.raises(ValueError, match="read-only"):
        view.pickup_range_m[0] = 1.0


# -- synthetic Helsinki fleets and the rider's own bike ----------------------------------


def test_synthetic_fleets_give_city_bike_scooter_and_free_ev_views(fleets, helsinki):
    feeds = embedded_synthetic_fleets(helsinki, now_s=NOW_S)
    snaps = {s.provider_id: s for s in synthetic_snapshots(feeds, NOW_S)}
    views, notes = fleets.views(snaps, modes=RENTAL_MODES)
    by_type = {v.vehicle_type.id: v for v in views if v.vehicle_type is not None}
    assert set(by_type) == {
        "hsl-citybike-synthetic",
        "escooter-synthetic",
        "ev-freefloating-synthetic",
    }
    for view in views:
        check(view, helsinki)
        assert view.synthetic and view.fleet.n_pickups > 0
    bikes = by_type["hsl-citybike-synthetic"]
    assert bikes.fleet.docked and bikes.fleet.n_dropoffs > 0 and bikes.co2_source == "default"
    scooters = by_type["escooter-synthetic"]
    assert scooters.fleet.edge_blocked.any()  # Esplanadi park: no riding through
    assert not scooters.fleet.node_can_end.all()  # Esplanadi and Senate Square: no parking
    ev = by_type["ev-freefloating-synthetic"]
    assert ev.fleet.profile == "car" and (ev.g_co2_km, ev.co2_source) == (0.0, "feed")
    assert any("compact-roundtrip" in n or "round trip" in n for n in notes)


def test_own_bike_starts_at_the_origin_and_ends_anywhere(fleets, helsinki):
    view = fleets.own_bike(*CENTRE)
    check(view, helsinki)
    assert view.mode == "BICYCLE" and view.provider_id is None and view.pricing_plan is None
    assert view.fleet.n_pickups == 1 and math.isinf(view.pickup_range_m[0])
    assert view.fleet.node_can_end.all() and not view.fleet.edge_blocked.any()
    assert (view.fleet.unlock_s, view.fleet.lock_s) == (60, 60)
    assert view.g_co2_km == DEFAULT_G_CO2_KM["BICYCLE"]


# -- CO2 ----------------------------------------------------------------------------------


def test_co2_uses_the_feed_figure_over_the_mode_default():
    assert co2_g("SCOOTER_RENTAL", 2500) == round(DEFAULT_G_CO2_KM["SCOOTER_RENTAL"] * 2.5)
    assert co2_g("CAR_RENTAL", 2500, g_co2_km=0) == 0
    assert co2_g("WALK", 10_000) == 0


def test_co2_refuses_unknown_modes_and_bad_distances():
    with pytest.raises(ValueError, match="HOVERCRAFT"):
        co2_g("HOVERCRAFT", 100)
    with pytest.raises(ValueError, match="distance"):
        co2_g("BUS", -1)


def test_views_after_a_churn_round_equal_a_fresh_build(fleets, helsinki):
    """Reused snaps of unmoved vehicles and stations must not change any array."""

    feeds = embedded_synthetic_fleets(helsinki, now_s=NOW_S)
    nodes = StreetNodes(walk=street_nodes(helsinki, "walk"), car=street_nodes(helsinki, "car"))
    moved = churn(feeds, rng=np.random.default_rng(7), now_s=NOW_S + 10, nodes=nodes)
    before = {s.provider_id: s for s in synthetic_snapshots(feeds, NOW_S)}
    after = {s.provider_id: s for s in synthetic_snapshots(moved, NOW_S + 10)}
    fleets.views(before, modes=RENTAL_MODES)
    reused, _ = fleets.views(after, modes=RENTAL_MODES)
    fresh, _ = RentalFleets(helsinki).views(after, modes=RENTAL_MODES)
    assert len(reused) == len(fresh) == 3
    for a, b in zip(reused, fresh, strict=True):
        assert a.pickup_vehicle_id == b.pickup_vehicle_id
        assert a.pickup_station_id == b.pickup_station_id
        for name in (
            "pickup_walk_edge",
            "pickup_walk_fraction",
            "pickup_walk_offset_m",
            "pickup_ride_node",
            "pickup_ride_offset_m",
            "dropoff_walk_edge",
            "dropoff_ride_node",
        ):
            assert np.array_equal(getattr(a.fleet, name), getattr(b.fleet, name)), name

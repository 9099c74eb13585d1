"""Rendering StreetWalk and Rental legs on Helsinki, and pricing them with the transit fare.

The journeys are made by hand (a bike path followed edge by edge on the bike graph), so
what is checked is the edge's rendering, not the router: places and ids, clock times,
geometry end points, the rental block, the rental price and the CO2.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from pricing.rental import rental_price
from providers.model import (
    FormFactor,
    PriceSegment,
    PricingPlan,
    Propulsion,
    RentalUris,
    VehicleType,
)
from routing.fleet import RentalFleet
from routing.geo import haversine_m
from routing.journey import Journey, Rental, Spot, SpotKind, StreetWalk
from routing.planner import Plan, PlanOptions
from trips.co2 import co2_g
from trips.fare_facts import RideFactsReader
from trips.fleets import FleetView
from trips.itinerary import ItineraryWriter
from trips.model import TripPlan, to_builtins
from trips.prices import ItineraryPricer
from trips.rental_legs import PARKED_NAME
from trips.service import priced_itinerary
from trips.text import format_text

KAMPPI = (60.1685, 24.9316)
KRUUNUNHAKA = (60.1725, 24.9560)
EIGHT_AM_S = 8 * 3600
PLAN_EUR = PricingPlan(
    id="bike-basic",
    name="Basic",
    currency="EUR",
    price_minor=100,
    per_min=(PriceSegment(start=0, rate_minor=25, interval=1),),
)
BIKE = VehicleType(
    id="city-bike", form_factor=FormFactor.BICYCLE, propulsion=Propulsion.HUMAN, name="City bike"
)
SCOOTER = VehicleType(
    id="scooter",
    form_factor=FormFactor.SCOOTER_STANDING,
    propulsion=Propulsion.ELECTRIC,
    name="E-scooter",
)


@pytest.fixture(scope="module")
def day(helsinki):
    """(date, timetable key, planner) of the embedded feed's service day."""
    date, key, _ = helsinki.resolve(dt.datetime.fromisoformat("2022-02-22T08:00:00+02:00"))
    return date, key, helsinki.planner(key)


def bike_path(net, lat: float, lon: float, n_edges: int) -> list[int]:
    """`n_edges` consecutive bike-graph edges, never revisiting a node, from the node
    nearest (lat, lon) that has such a path (a greedy walk can run into a dead end).
    """
    g = net.streets["bike"]
    for start in np.argsort(haversine_m(g.node_lat, g.node_lon, lat, lon))[:50]:
        node = int(start)
        seen, edges = {node}, []
        while len(edges) < n_edges:
            out = [e for e in range(g.edge_ptr[node], g.edge_ptr[node + 1])
                   if int(g.edge_head[e]) not in seen]
            if not out:
                break
            edges.append(out[0])
            node = int(g.edge_head[out[0]])
            seen.add(node)
        if len(edges) == n_edges:
            return edges
    raise AssertionError(f"no {n_edges}-edge bike path near {lat},{lon}")


def make_view(net, edges: list[int], *, docked: bool, **overrides) -> FleetView:
    """A one-pickup fleet at the tail of `edges`; docked: one drop-off at the path's end."""
    g = net.streets["bike"]
    first, last = int(g.edge_tail[edges[0]]), int(g.edge_head[edges[-1]])
    p_lat, p_lon = float(g.node_lat[first]), float(g.node_lon[first])
    d_lat, d_lon = float(g.node_lat[last]), float(g.node_lon[last])
    ps = net.walk_index.snap(p_lat, p_lon)
    ds = net.walk_index.snap(d_lat, d_lon)
    n_drop = 1 if docked else 0
    fleet = RentalFleet(
        profile="bike",
        docked=docked,
        pickup_walk_edge=np.array([ps.edge], dtype=np.int32),
        pickup_walk_fraction=np.array([ps.fraction]),
        pickup_walk_offset_m=np.array([ps.offset_m]),
        pickup_ride_node=np.array([first], dtype=np.int32),
        pickup_ride_offset_m=np.zeros(1),
        pickup_range_m=np.array([overrides.pop("range_m", 20_000.0)]),
        dropoff_walk_edge=np.array([ds.edge] * n_drop, dtype=np.int32),
        dropoff_walk_fraction=np.array([ds.fraction] * n_drop),
        dropoff_walk_offset_m=np.array([ds.offset_m] * n_drop),
        dropoff_ride_node=np.array([last] * n_drop, dtype=np.int32),
        dropoff_ride_offset_m=np.zeros(n_drop),
        node_can_end=np.ones(g.n_nodes, dtype=np.bool_),
        edge_time_s=g.edge_time_s.copy(),
        edge_blocked=np.zeros(g.n_edges, dtype=np.bool_),
        ride_speed_mps=4.5,
        unlock_s=30,
        lock_s=30,
    )
    fields = {
        "fleet": fleet,
        "mode": "BICYCLE_RENTAL",
        "provider_id": "acme-bikes",
        "provider_name": "Acme Bikes",
        "synthetic": False,
        "vehicle_type": BIKE,
        "pricing_plan": PLAN_EUR,
        "g_co2_km": 40.0,
        "co2_source": "default",
        "return_constraint": "any_station" if docked else "free_floating",
        "pickup_lat": np.array([p_lat]),
        "pickup_lon": np.array([p_lon]),
        "pickup_vehicle_id": (None,),
        "pickup_station_id": ("st-kamppi",),
        "pickup_name": ("Kamppi bikes",),
        "pickup_count": np.array([3], dtype=np.int32),
        "pickup_range_m": fleet.pickup_range_m,
        "pickup_uris": (RentalUris(android="acme://st-kamppi", web="https://acme.test/k"),),
        "pickup_plan": (None,),
        "dropoff_lat": np.array([d_lat] * n_drop),
        "dropoff_lon": np.array([d_lon] * n_drop),
        "dropoff_station_id": ("st-end",) * n_drop,
        "dropoff_name": ("End station",) * n_drop,
        "dropoff_docks": np.array([4] * n_drop, dtype=np.int32),
    }
    fields.update(overrides)
    return FleetView(**fields)


def ridden_m(net, edges: list[int]) -> float:
    return float(net.streets["bike"].edge_length_m[edges].sum())


def rental_journey(net, view: FleetView, edges: list[int], end: Spot, *, t0: int) -> Journey:
    """origin -> walk 120 s -> rent 600 s -> walk 180 s -> destination."""
    ride = Rental(fleet=0, pickup=0, end=end, depart_s=t0 + 120, arrive_s=t0 + 720,
                  distance_m=ridden_m(net, edges), edges=tuple(edges))
    end_spot = Spot(end.kind, end.index, 0)
    return Journey((
        StreetWalk(Spot(SpotKind.ORIGIN), Spot(SpotKind.PICKUP, 0, 0), t0, t0 + 120),
        ride,
        StreetWalk(end_spot, Spot(SpotKind.DESTINATION), t0 + 720, t0 + 900),
    ))


def drawn(writer: ItineraryWriter, plan: Plan, pricer: ItineraryPricer | None = None) -> dict:
    """The plan's one journey drawn and priced, as the JSON a client reads."""
    if pricer is None:
        facts = RideFactsReader(writer.net, writer.tt, writer.trips)
        pricer = ItineraryPricer(writer.net.fares, facts,
                                 dt.date.fromisoformat(writer.date), None)
    (journey,) = plan.journeys
    return to_builtins(priced_itinerary(writer, pricer, plan, journey, draw=True))


def plan_near(net, view: FleetView, end_lat: float, end_lon: float, journey: Journey) -> Plan:
    """A plan starting ~100 m south of the pickup and ending ~100 m north of the end point."""
    origin = net.walk_index.snap(float(view.pickup_lat[0]) - 0.0009, float(view.pickup_lon[0]))
    destination = net.walk_index.snap(end_lat + 0.0009, end_lon)
    return Plan(origin=origin, destination=destination, journeys=[journey])


def test_docked_rental_renders_places_times_geometry_and_the_rental_block(helsinki, day):
    date, key, planner = day
    edges = bike_path(helsinki, *KAMPPI, 8)
    view = make_view(helsinki, edges, docked=True)
    journey = rental_journey(helsinki, view, edges, Spot(SpotKind.DROPOFF, 0), t0=EIGHT_AM_S)
    plan = plan_near(helsinki, view, float(view.dropoff_lat[0]), float(view.dropoff_lon[0]),
                     journey)
    writer = ItineraryWriter(helsinki, planner, date, key, fleets=[view])
    it = drawn(writer, plan)

    walk_to, ride, walk_from = it["legs"]
    assert [leg["mode"] for leg in it["legs"]] == ["WALK", "BICYCLE_RENTAL", "WALK"]
    assert it["modes"] == ["WALK", "BICYCLE_RENTAL"]
    pickup = {"name": "Kamppi bikes", "lat": round(float(view.pickup_lat[0]), 6),
              "lon": round(float(view.pickup_lon[0]), 6), "stop_id": None,
              "station_id": "st-kamppi", "vehicle_id": None}
    dropoff = {"name": "End station", "lat": round(float(view.dropoff_lat[0]), 6),
               "lon": round(float(view.dropoff_lon[0]), 6), "stop_id": None,
               "station_id": "st-end", "vehicle_id": None}
    assert walk_to["to"] == pickup == ride["from"]
    assert ride["to"] == dropoff == walk_from["from"]
    assert walk_to["from"]["name"] == "Origin" and walk_from["to"]["name"] == "Destination"
    # clock times with the feed's offset, seconds as given
    assert ride["start"] == "2022-02-22T08:02:00+02:00"
    assert ride["end"] == "2022-02-22T08:12:00+02:00" and ride["duration_s"] == 600
    assert walk_from["end"] == it["end"] == "2022-02-22T08:15:00+02:00"
    # geometry: walks on the streets from point to point; the ride from pickup to dropoff
    # through every ridden edge's polyline
    assert walk_to["geometry"]["coordinates"][0] == [
        round(plan.origin.lon, 6), round(plan.origin.lat, 6)]
    assert walk_to["geometry"]["coordinates"][-1] == [pickup["lon"], pickup["lat"]]
    assert len(walk_to["geometry"]["coordinates"]) > 2 and walk_to["distance_m"] > 50
    coords = ride["geometry"]["coordinates"]
    assert coords[0] == [pickup["lon"], pickup["lat"]]
    assert coords[-1] == [dropoff["lon"], dropoff["lat"]]
    g = helsinki.streets["bike"]
    inner = {(round(float(x), 6), round(float(y), 6))
             for e in edges for x, y in zip(g.geom_lon[g.geom_ptr[e]:g.geom_ptr[e + 1]],
                                            g.geom_lat[g.geom_ptr[e]:g.geom_ptr[e + 1]],
                                            strict=True)}
    assert inner <= {tuple(c) for c in coords}
    assert ride["distance_m"] == round(ridden_m(helsinki, edges), 1)
    assert it["walk_distance_m"] == pytest.approx(
        walk_to["distance_m"] + walk_from["distance_m"], abs=0.05
    )

    r = ride["rental"]
    assert r["provider_id"] == "acme-bikes" and r["provider_name"] == "Acme Bikes"
    assert r["synthetic"] is False
    assert (r["station_id"], r["vehicle_id"], r["dropoff_station_id"]) == (
        "st-kamppi", None, "st-end")
    assert r["vehicle_type"] == {"id": "city-bike", "name": "City bike",
                                 "form_factor": "bicycle", "propulsion": "human"}
    assert r["range_start_m"] == 20_000.0
    assert r["range_end_m"] == pytest.approx(20_000.0 - ridden_m(helsinki, edges), abs=0.1)
    assert (r["rental_start"], r["rental_end"]) == (ride["start"], ride["end"])
    # the rider reaches the bike 120 s after setting off and returns it 720 s after
    assert r["pickup_probability"] == round(view.pickup_probability(0, 120), 3)
    assert r["dropoff_probability"] == round(view.dropoff_probability(0, 720), 3)
    assert 0 < r["dropoff_probability"] < 1
    assert r["rental_uris"] == {"android": "acme://st-kamppi", "ios": None,
                                "web": "https://acme.test/k"}
    assert r["pricing_plan_id"] == "bike-basic"
    # CO2: the ride at the fleet's figure, walking free
    assert ride["co2_g"] == co2_g("BICYCLE_RENTAL", ridden_m(helsinki, edges), 40.0) > 0
    assert walk_to["co2_g"] == walk_from["co2_g"] == 0
    assert it["co2_g"] == ride["co2_g"]
    assert it["labels"] == []


def test_lead_times_count_from_the_snapshot_when_now_is_given(helsinki, day):
    date, key, planner = day
    edges = bike_path(helsinki, *KAMPPI, 4)
    view = make_view(helsinki, edges, docked=True)
    journey = rental_journey(helsinki, view, edges, Spot(SpotKind.DROPOFF, 0), t0=EIGHT_AM_S)
    plan = plan_near(helsinki, view, float(view.dropoff_lat[0]), float(view.dropoff_lon[0]),
                     journey)
    writer = ItineraryWriter(helsinki, planner, date, key, fleets=[view],
                             now_s=EIGHT_AM_S - 1800)
    r = drawn(writer, plan)["legs"][1]["rental"]
    assert r["pickup_probability"] == round(view.pickup_probability(0, 1800 + 120), 3)


def test_free_floating_scooter_parks_at_a_ride_node_with_unknown_range(helsinki, day):
    date, key, planner = day
    edges = bike_path(helsinki, *KRUUNUNHAKA, 6)
    view = make_view(
        helsinki, edges, docked=False, mode="SCOOTER_RENTAL", vehicle_type=SCOOTER,
        provider_id="zoom", provider_name=None, synthetic=True, g_co2_km=109.0,
        pickup_vehicle_id=("v-42",), pickup_station_id=(None,), pickup_name=("E-scooter v-42",),
        pickup_count=np.array([1], dtype=np.int32), pickup_uris=(None,), range_m=math.inf,
        pricing_plan=None,
    )
    g = helsinki.streets["bike"]
    end_node = int(g.edge_head[edges[-1]])
    journey = rental_journey(helsinki, view, edges, Spot(SpotKind.PARKED, end_node),
                             t0=EIGHT_AM_S)
    plan = plan_near(helsinki, view, float(g.node_lat[end_node]), float(g.node_lon[end_node]),
                     journey)
    it = drawn(ItineraryWriter(helsinki, planner, date, key, fleets=[view]), plan)
    ride = it["legs"][1]
    assert ride["mode"] == "SCOOTER_RENTAL" and it["modes"] == ["WALK", "SCOOTER_RENTAL"]
    assert ride["from"]["vehicle_id"] == "v-42" and ride["from"]["station_id"] is None
    assert ride["to"] == {"name": PARKED_NAME, "lat": round(float(g.node_lat[end_node]), 6),
                          "lon": round(float(g.node_lon[end_node]), 6), "stop_id": None,
                          "station_id": None, "vehicle_id": None}
    assert it["legs"][2]["from"] == ride["to"]
    r = ride["rental"]
    assert r["vehicle_id"] == "v-42" and r["station_id"] is None
    assert r["dropoff_station_id"] is None and r["dropoff_probability"] is None
    assert r["range_start_m"] is None and r["range_end_m"] is None
    assert r["rental_uris"] is None and r["pricing_plan_id"] is None
    assert ride["co2_g"] == co2_g("SCOOTER_RENTAL", ridden_m(helsinki, edges), 109.0)


def pricer(helsinki, date: str, key: str) -> ItineraryPricer:
    tt, trips = helsinki.timetable(key)
    return ItineraryPricer(helsinki.fares, RideFactsReader(helsinki, tt, trips),
                           dt.date.fromisoformat(date), None)


def transit_then_rental(helsinki, planner, view_kw: dict) -> tuple[Plan, FleetView]:
    """The Kamppi -> Kruununhaka transit journey, its last walk replaced by a bike rental
    from the alight stop (pickup at the stop's nearest bike node, docked at the path's end).
    """
    base = planner.plan(*KAMPPI, *KRUUNUNHAKA, EIGHT_AM_S, PlanOptions())
    transit = next(j for j in base.journeys if j.rides)
    last_ride = transit.rides[-1]
    s = helsinki.stops
    stop = last_ride.alight_stop
    edges = bike_path(helsinki, float(s.lat[stop]), float(s.lon[stop]), 5)
    view = make_view(helsinki, edges, docked=True, **view_kw)
    t = last_ride.arrive_s
    legs = [leg for leg in transit.legs if leg.depart_s < t] + [
        StreetWalk(Spot(SpotKind.STOP, stop), Spot(SpotKind.PICKUP, 0, 0), t, t + 60),
        Rental(fleet=0, pickup=0, end=Spot(SpotKind.DROPOFF, 0), depart_s=t + 60,
               arrive_s=t + 360, distance_m=ridden_m(helsinki, edges), edges=tuple(edges)),
        StreetWalk(Spot(SpotKind.DROPOFF, 0, 0), Spot(SpotKind.DESTINATION), t + 360, t + 400),
    ]
    return Plan(origin=base.origin, destination=base.destination,
                journeys=[Journey(tuple(legs))]), view


def test_itinerary_price_is_the_transit_fare_plus_the_rental(helsinki, day):
    date, key, planner = day
    plan, view = transit_then_rental(helsinki, planner, {})
    p = pricer(helsinki, date, key)
    writer = ItineraryWriter(helsinki, planner, date, key, fleets=[view])
    it = drawn(writer, plan, p)
    journey = plan.journeys[0]
    fare = p.quote(journey).total
    (rental,) = journey.rentals
    quote = rental_price(PLAN_EUR, duration_s=rental.duration_s, distance_m=rental.distance_m)
    assert quote.amount.amount_minor == 100 + 5 * 25  # unlock + 5 started minutes
    ride = next(leg for leg in it["legs"] if leg["rental"] is not None)
    assert ride["price"]["base"]["amount_minor"] == quote.amount.amount_minor
    assert ride["price"]["final"]["amount_minor"] == quote.amount.amount_minor
    assert ride["price"]["reason"] == quote.reason and ride["price"]["fare_id"] == "bike-basic"
    total = fare.amount_minor + quote.amount.amount_minor
    assert it["price"]["base"]["amount_minor"] == it["price"]["final"]["amount_minor"] == total
    legs_sum = sum(leg["price"]["final"]["amount_minor"] for leg in it["legs"])
    assert legs_sum == total
    assert it["modes"][-1] == "BICYCLE_RENTAL" and it["transfers"] == journey.n_transfers
    assert it["co2_g"] == sum(leg["co2_g"] for leg in it["legs"]) > ride["co2_g"]


def test_rental_in_another_currency_leaves_the_total_unknown(helsinki, day):
    date, key, planner = day
    usd = PricingPlan(id="usd", name="USD", currency="USD", price_minor=100)
    plan, view = transit_then_rental(helsinki, planner, {"pricing_plan": usd})
    writer = ItineraryWriter(helsinki, planner, date, key, fleets=[view])
    it = drawn(writer, plan, pricer(helsinki, date, key))
    assert it["price"]["final"] is None and "USD" in it["price"]["reason"]
    ride = next(leg for leg in it["legs"] if leg["rental"] is not None)
    assert ride["price"]["final"]["currency"] == "USD"


def test_rental_without_a_pricing_plan_has_an_unknown_price(helsinki, day):
    date, key, planner = day
    plan, view = transit_then_rental(helsinki, planner, {"pricing_plan": None})
    writer = ItineraryWriter(helsinki, planner, date, key, fleets=[view])
    it = drawn(writer, plan, pricer(helsinki, date, key))
    ride = next(leg for leg in it["legs"] if leg["rental"] is not None)
    assert ride["price"]["base"] is None and "Acme Bikes" in ride["price"]["reason"]
    assert it["price"]["final"] is None and "no pricing plan" in it["price"]["reason"]


def test_the_riders_own_bike_is_free(helsinki, day):
    date, key, planner = day
    edges = bike_path(helsinki, *KAMPPI, 5)
    g = helsinki.streets["bike"]
    end_node = int(g.edge_head[edges[-1]])
    view = make_view(helsinki, edges, docked=False, mode="BICYCLE", provider_id=None,
                     provider_name=None, vehicle_type=None, pricing_plan=None,
                     pickup_station_id=(None,), pickup_name=("Your bike",), range_m=math.inf)
    journey = rental_journey(helsinki, view, edges, Spot(SpotKind.PARKED, end_node),
                             t0=EIGHT_AM_S)
    plan = plan_near(helsinki, view, float(g.node_lat[end_node]), float(g.node_lon[end_node]),
                     journey)
    writer = ItineraryWriter(helsinki, planner, date, key, fleets=[view])
    it = drawn(writer, plan, pricer(helsinki, date, key))
    ride = it["legs"][1]
    assert ride["mode"] == "BICYCLE" and ride["rental"]["vehicle_type"] is None
    assert ride["price"]["final"]["amount_minor"] == 0
    assert it["price"]["final"]["amount_minor"] == 0


def test_terminal_text_names_the_rental_and_its_ends(helsinki, day):
    date, key, planner = day
    plan, view = transit_then_rental(helsinki, planner, {})
    writer = ItineraryWriter(helsinki, planner, date, key, fleets=[view])
    it = priced_itinerary(writer, pricer(helsinki, date, key), plan, plan.journeys[0], draw=True)
    text = format_text(TripPlan(network="n", service_date=date, itineraries=[it], reason=""))
    assert "bicycle_rental (Acme Bikes) Kamppi bikes -> End station" in text

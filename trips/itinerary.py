"""Turn the routing core's journeys into typed legs and itineraries people and apps read.

This is the boundary where dense indexes become GTFS ids and names, service-day seconds
become clock times with a UTC offset, and walking legs get their street geometry. Each leg
is drawn together with the router leg it came from (`DrawnLeg`), so pricing reads the
router's rides and rentals directly instead of matching legs to them by position.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from network.compiled import Network
from routing.geo import haversine_m
from routing.journey import Journey, Ride, StreetWalk, Walk
from routing.journey import Leg as RouterLeg
from routing.planner import DEFAULT_WALK_SPEED_MPS, Plan, Planner
from routing.streets import Snap
from trips.co2 import DEFAULT_G_CO2_KM, co2_g
from trips.model import IntermediateStop, Itinerary, ItineraryPrice, Leg, Place, RouteInfo
from trips.rental_legs import PathMemo, RentalLegWriter, line, walk_leg

if TYPE_CHECKING:
    from trips.fleets import FleetView

#: GTFS route_type (basic and extended) -> rider-facing mode
_BASIC_MODES = {
    0: "TRAM",
    1: "SUBWAY",
    2: "RAIL",
    3: "BUS",
    4: "FERRY",
    5: "CABLE_TRAM",
    6: "GONDOLA",
    7: "FUNICULAR",
    11: "TROLLEYBUS",
    12: "MONORAIL",
}
_EXTENDED_MODES = (
    (100, 200, "RAIL"),
    (200, 300, "BUS"),
    (400, 500, "SUBWAY"),
    (700, 800, "BUS"),
    (800, 900, "TROLLEYBUS"),
    (900, 1000, "TRAM"),
    (1000, 1100, "FERRY"),
    (1300, 1400, "GONDOLA"),
    (1400, 1500, "FUNICULAR"),
)


def transit_mode(route_type: int) -> str:
    """Mode name for a GTFS route_type; unknown types are reported as TRANSIT."""
    if route_type in _BASIC_MODES:
        return _BASIC_MODES[route_type]
    for lo, hi, mode in _EXTENDED_MODES:
        if lo <= route_type < hi:
            return mode
    return "TRANSIT"


def transit_co2_g(mode: str, distance_m: float) -> int:
    """CO2 of a transit leg from the default per-passenger-km figure of its mode.

    Modes without a figure of their own (a funicular, a gondola) use the generic TRANSIT one.
    """
    return co2_g(mode if mode in DEFAULT_G_CO2_KM else "TRANSIT", distance_m)


#: a stop counts as on its shape when a shape point lies this close (loops pass a stop twice;
#: the first close point after the previous stop is the right pass)
_ON_SHAPE_M = 40.0


def shape_cuts(
    shape_lat: np.ndarray, shape_lon: np.ndarray, stop_lat: np.ndarray, stop_lon: np.ndarray
) -> np.ndarray:
    """Index of the shape point matching each stop, in order and never going backwards.

    Each stop takes the first shape point within `_ON_SHAPE_M` after the previous stop's
    point, or else the nearest point after it; matching in order keeps loop routes right.
    """
    cuts = np.zeros(len(stop_lat), dtype=np.int64)
    start = 0
    for k in range(len(stop_lat)):
        d = haversine_m(shape_lat[start:], shape_lon[start:], stop_lat[k], stop_lon[k])
        close = np.flatnonzero(d <= _ON_SHAPE_M)
        start += int(close[0]) if len(close) else int(np.argmin(d))
        cuts[k] = start
    return cuts


@dataclass(frozen=True, slots=True)
class DrawnLeg:
    """A rider-facing leg and the router leg it was drawn from."""

    source: RouterLeg
    leg: Leg


class ItineraryWriter:
    """Draws the journeys of one plan; holds what every leg needs to look things up.

    `fleets` are the shared-vehicle fleets (and the rider's own bike) the plan was searched
    with, in the order `Rental.fleet` and `Spot.fleet` index them. `now_s` (service-day
    seconds) is the moment the fleets were seen: a vehicle's chance of still being there is
    judged over the time from it to the pickup; None judges it from each journey's departure.
    Every drawing method takes `draw`: False makes a cheap draft (straight lines, no street
    or shape searches) to price and filter candidates before the kept ones are drawn.
    """

    def __init__(
        self,
        network: Network,
        planner: Planner,
        date: str,
        key: str,
        *,
        walk_speed_mps: float = DEFAULT_WALK_SPEED_MPS,
        fleets: Sequence[FleetView] = (),
        now_s: int | None = None,
    ) -> None:
        self.net = network
        self.planner = planner
        self.date = date
        self.tt, self.trips = network.timetable(key)
        self.walk_speed_mps = walk_speed_mps
        self.fleets = tuple(fleets)
        self.now_s = now_s
        agencies = network.manifest.get("agencies") or {}
        self.agencies: dict[str, dict[str, str]] = agencies
        #: service-day seconds -> clock text and epoch seconds, and the street paths drawn
        #: so far: shared by the drafts and the full drawings of this plan
        self._clocks: dict[int, str] = {}
        self._epochs: dict[int, float] = {}
        self._paths: PathMemo = {}
        self.street_legs = RentalLegWriter(
            network,
            planner,
            self.fleets,
            clock=self.clock,
            stop_place=self._stop_place,
            walk_speed_mps=walk_speed_mps,
            paths=self._paths,
        )

    # -- places and times ------------------------------------------------------------------
    def _stop_place(self, stop: int) -> Place:
        # places are immutable: every leg shares the worker's one table of stop places
        places: list[Place] = self.net.derived("stop_places", self._stop_places)
        return places[stop]

    def _stop_places(self) -> list[Place]:
        s = self.net.stops
        return [
            Place(name=str(name), stop_id=str(stop_id), lat=round(lat, 6), lon=round(lon, 6))
            for name, stop_id, lat, lon in zip(
                s.name.tolist(), s.stop_id.tolist(), s.lat.tolist(), s.lon.tolist(), strict=True
            )
        ]

    def _place(self, stop: int, end: Snap, label: str) -> Place:
        if stop >= 0:
            return self._stop_place(stop)
        return Place(name=label, lat=end.lat, lon=end.lon)

    def _snap_of(self, stop: int, end: Snap) -> Snap | None:
        if stop < 0:
            return end
        snaps = self.net.stop_snaps
        if snaps is None or snaps.edge[stop] < 0:
            return None
        return snaps.snap(stop)

    def clock(self, seconds: int) -> str:
        """Service-day seconds as the ISO time with offset a rider reads."""
        text = self._clocks.get(seconds)
        if text is None:
            text = self._clocks[seconds] = self.net.at(self.date, seconds).isoformat()
        return text

    def epoch(self, seconds: int) -> float:
        """Service-day seconds as epoch seconds: what times are compared by (string order
        breaks across a change of UTC offset).
        """
        value = self._epochs.get(seconds)
        if value is None:
            value = self._epochs[seconds] = self.net.at(self.date, seconds).timestamp()
        return value

    # -- legs ------------------------------------------------------------------------------
    def _walk_leg(self, leg: Walk, plan: Plan, draw: bool) -> Leg:
        return walk_leg(
            self.planner,
            self._snap_of(leg.from_stop, plan.origin),
            self._snap_of(leg.to_stop, plan.destination),
            self._place(leg.from_stop, plan.origin, "Origin"),
            self._place(leg.to_stop, plan.destination, "Destination"),
            depart_s=leg.depart_s,
            arrive_s=leg.arrive_s,
            clock=self.clock,
            walk_speed_mps=self.walk_speed_mps,
            route=draw,
            # the walk-only trip: drawn by the same doorstep rule the planner timed it with
            doorstep=leg.from_stop < 0 and leg.to_stop < 0,
            paths=self._paths,
        )

    def _ride_leg(self, leg: Ride, draw: bool) -> Leg:
        tt = self.tt
        stops, arr, _dep = tt.trip_times(leg.trip)
        src = int(tt.trip_source[leg.trip])
        route = int(self.trips.route[src])
        r = self.net.routes
        s = self.net.stops
        ride_stops = stops[leg.board_pos : leg.alight_pos + 1]
        lats, lons = s.lat[ride_stops], s.lon[ride_stops]
        geometry = self._ride_geometry(src, stops, leg.board_pos, leg.alight_pos) if draw else None
        if geometry is None:  # no shapes.txt for this trip: straight lines between stops
            glat, glon = lats, lons
        else:
            glat, glon = geometry
        distance = float(np.sum(haversine_m(glat[:-1], glon[:-1], glat[1:], glon[1:])))
        agency_id = str(r.agency_id[route])
        agency = self.agencies.get(agency_id) or next(iter(self.agencies.values()), None)
        mode = transit_mode(int(r.route_type[route]))
        shift = int(tt.trip_shift_s[leg.trip])
        return Leg(
            mode=mode,
            from_=self._stop_place(leg.board_stop),
            to=self._stop_place(leg.alight_stop),
            start=self.clock(leg.depart_s),
            end=self.clock(leg.arrive_s),
            duration_s=leg.arrive_s - leg.depart_s,
            distance_m=round(distance, 1),
            route=RouteInfo(
                route_id=str(r.route_id[route]),
                short_name=str(r.short_name[route]),
                long_name=str(r.long_name[route]),
                agency_id=agency_id,
                agency_name=agency["name"] if agency else None,
            ),
            trip_id=str(self.trips.trip_id[src]),
            trip_start_time=str(self.trips.start_time[src]) or None,
            headsign=str(self.trips.headsign[src]),
            service_date=self.date
            if shift == 0
            else str(self.net.at(self.date, shift).date()),
            intermediate_stops=[
                self._passed(int(stops[i]), int(arr[i]))
                for i in range(leg.board_pos + 1, leg.alight_pos)
            ],
            geometry=line(glat, glon),
            co2_g=transit_co2_g(mode, distance),
        )

    def _passed(self, stop: int, arrival_s: int) -> IntermediateStop:
        p = self._stop_place(stop)
        return IntermediateStop(
            name=p.name, lat=p.lat, lon=p.lon, stop_id=p.stop_id, arrival=self.clock(arrival_s)
        )

    def _ride_geometry(
        self, src: int, stops: np.ndarray, board_pos: int, alight_pos: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The trip's shapes.txt polyline between its board and alight stops, if it has one."""
        shape_id = str(self.trips.shape_id[src])
        points = self.net.shapes.points(shape_id) if shape_id else None
        if points is None or len(points[0]) < 2:
            return None
        s = self.net.stops
        # the same for every trip of a pattern that follows this shape: worked out once
        cuts = self.net.derived(
            ("shape_cuts", shape_id, stops.tobytes()),
            lambda: shape_cuts(points[0], points[1], s.lat[stops], s.lon[stops]),
        )
        a, b = int(cuts[board_pos]), int(cuts[alight_pos])
        board, alight = int(stops[board_pos]), int(stops[alight_pos])
        # start and end exactly at the stops, following the shape in between
        lats = np.concatenate(([s.lat[board]], points[0][a : b + 1], [s.lat[alight]]))
        lons = np.concatenate(([s.lon[board]], points[1][a : b + 1], [s.lon[alight]]))
        return lats, lons

    def _leg(self, leg: RouterLeg, plan: Plan, lead_from_s: int, draw: bool) -> Leg:
        if isinstance(leg, Ride):
            return self._ride_leg(leg, draw)
        if isinstance(leg, Walk):
            return self._walk_leg(leg, plan, draw)
        if isinstance(leg, StreetWalk):
            return self.street_legs.walk_leg(leg, plan, draw=draw)
        return self.street_legs.rental_leg(leg, plan, lead_from_s=lead_from_s, draw=draw)

    def legs(self, journey: Journey, plan: Plan, *, draw: bool = True) -> list[DrawnLeg]:
        """The journey's legs, without walks of no duration (a walk-only trip on one spot
        keeps its one leg).
        """
        lead_from_s = journey.depart_s if self.now_s is None else self.now_s
        drawn = [
            DrawnLeg(leg, self._leg(leg, plan, lead_from_s, draw)) for leg in journey.legs
        ]
        kept = [d for d in drawn if d.leg.mode != "WALK" or d.leg.duration_s > 0]
        return kept or drawn[:1]

    def itinerary(
        self, journey: Journey, legs: Sequence[Leg], price: ItineraryPrice | None
    ) -> Itinerary:
        """The itinerary of `journey` drawn as `legs` (labels are set by the chooser)."""
        walk_m = sum(leg.distance_m for leg in legs if leg.mode == "WALK")
        identity = [
            (leg.mode, leg.trip_id, leg.from_.stop_id, leg.start)
            if leg.rental is None
            else (leg.mode, leg.rental.provider_id, leg.from_.station_id,
                  leg.from_.vehicle_id, leg.start)
            for leg in legs
        ]
        return Itinerary(
            id=hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16],
            start=self.clock(journey.depart_s),
            end=self.clock(journey.arrive_s),
            duration_s=journey.arrive_s - journey.depart_s,
            walk_distance_m=round(walk_m, 1),
            transfers=journey.n_transfers,
            legs=list(legs),
            price=price,
            co2_g=sum(leg.co2_g or 0 for leg in legs),
            modes=list(dict.fromkeys(leg.mode for leg in legs)),
        )

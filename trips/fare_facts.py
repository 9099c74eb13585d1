"""What the fare engine needs to know about a ride, read from the compiled network.

The routing core hands back rides as dense indexes (trip, pattern positions); fare rules
speak GTFS ids (route, stop, zone). This adapter is the one place that translates, with the
id columns turned into plain lists once so a quote inside /plan costs microseconds.
"""

from __future__ import annotations

from network.compiled import Network, Trips
from pricing.fares import RideFacts
from routing.journey import Journey, Ride
from routing.timetable import Timetable


class RideFactsReader:
    """Turns rides of one timetable into `RideFacts`; built once per timetable and worker."""

    def __init__(self, network: Network, timetable: Timetable, trips: Trips) -> None:
        self.tt = timetable
        self.trip_route = trips.route
        routes = network.routes
        self.route_id = [str(x) for x in routes.route_id.tolist()]
        self.agency_id = [str(x) for x in routes.agency_id.tolist()]
        self.route_type = [int(x) for x in routes.route_type.tolist()]
        self.stop_id = [str(x) for x in network.stops.stop_id.tolist()]
        self.zone_id = [str(x) for x in network.stops.zone_id.tolist()]

    def ride(self, ride: Ride) -> RideFacts:
        """The facts of one ride: route, end stops and every fare zone it passes."""
        tt = self.tt
        route = int(self.trip_route[int(tt.trip_source[ride.trip])])
        a = int(tt.pattern_stop_ptr[ride.pattern])
        passed = tt.pattern_stops[a + ride.board_pos : a + ride.alight_pos + 1].tolist()
        zones = frozenset(z for z in (self.zone_id[s] for s in passed) if z)
        return RideFacts(
            route_id=self.route_id[route],
            agency_id=self.agency_id[route],
            route_type=self.route_type[route],
            board_stop_id=self.stop_id[ride.board_stop],
            alight_stop_id=self.stop_id[ride.alight_stop],
            board_zone=self.zone_id[ride.board_stop],
            alight_zone=self.zone_id[ride.alight_stop],
            zones=zones,
            board_s=ride.depart_s,
            alight_s=ride.arrive_s,
        )

    def rides(self, journey: Journey) -> list[RideFacts]:
        """The facts of every ride of a journey, in order."""
        return [self.ride(r) for r in journey.rides]

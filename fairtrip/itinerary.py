"""Turn the routing core's journeys into itineraries people and apps read.

This is the boundary where dense indexes become GTFS ids and names, service-day seconds
become clock times with a UTC offset, and walking legs get their street geometry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import numpy as np

from fairtrip.itinerary_prices import ItineraryPricer
from fairtrip.network import Network
from routing.geo import haversine_m
from routing.journey import Journey, Ride, Walk
from routing.planner import DEFAULT_WALK_SPEED_MPS, Plan, Planner
from routing.streets import Snap

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


def _line(lats: np.ndarray, lons: np.ndarray) -> dict[str, Any]:
    coords: list[list[float]] = []
    for x, y in zip(lons, lats, strict=True):
        point = [round(float(x), 6), round(float(y), 6)]
        if not coords or coords[-1] != point:  # rounding can make neighbours equal
            coords.append(point)
    if len(coords) == 1:
        coords.append(coords[0])
    return {"type": "LineString", "coordinates": coords}


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


class ItineraryWriter:
    """Renders the journeys of one plan; holds what every leg needs to look things up."""

    def __init__(
        self,
        network: Network,
        planner: Planner,
        date: str,
        key: str,
        *,
        walk_speed_mps: float = DEFAULT_WALK_SPEED_MPS,
    ) -> None:
        self.net = network
        self.planner = planner
        self.date = date
        self.tt, self.trips = network.timetable(key)
        self.walk_speed_mps = walk_speed_mps
        agencies = network.manifest.get("agencies") or {}
        self.agencies: dict[str, dict[str, Any]] = agencies

    # -- places ----------------------------------------------------------------------------
    def _stop_place(self, stop: int) -> dict[str, Any]:
        s = self.net.stops
        return {
            "name": str(s.name[stop]),
            "stop_id": str(s.stop_id[stop]),
            "lat": round(float(s.lat[stop]), 6),
            "lon": round(float(s.lon[stop]), 6),
        }

    def _place(self, stop: int, end: Snap, label: str) -> dict[str, Any]:
        if stop >= 0:
            return self._stop_place(stop)
        return {"name": label, "lat": end.lat, "lon": end.lon}

    def _snap_of(self, stop: int, end: Snap) -> Snap | None:
        if stop < 0:
            return end
        snaps = self.net.stop_snaps
        if snaps is None or snaps.edge[stop] < 0:
            return None
        return snaps.snap(stop)

    def _clock(self, seconds: int) -> str:
        return self.net.at(self.date, seconds).isoformat()

    # -- legs ------------------------------------------------------------------------------
    def _walk_leg(self, leg: Walk, plan: Plan) -> dict[str, Any]:
        a = self._snap_of(leg.from_stop, plan.origin)
        b = self._snap_of(leg.to_stop, plan.destination)
        start = self._place(leg.from_stop, plan.origin, "Origin")
        end = self._place(leg.to_stop, plan.destination, "Destination")
        path = (
            self.planner.walk_between(a, b, walk_speed_mps=self.walk_speed_mps)
            if a is not None and b is not None and leg.duration_s > 0
            else None
        )
        if path is not None:
            distance = path.length_m
            geometry = _line(path.lats, path.lons)
        else:  # off the streets (a stop beyond the extracts, or no distance): a straight line
            distance = float(haversine_m(start["lat"], start["lon"], end["lat"], end["lon"]))
            geometry = _line(
                np.array([start["lat"], end["lat"]]), np.array([start["lon"], end["lon"]])
            )
        return {
            "mode": "WALK",
            "from": start,
            "to": end,
            "start": self._clock(leg.depart_s),
            "end": self._clock(leg.arrive_s),
            "duration_s": leg.duration_s,
            "distance_m": round(distance, 1),
            "geometry": geometry,
        }

    def _ride_leg(self, leg: Ride) -> dict[str, Any]:
        tt = self.tt
        stops, arr, _dep = tt.trip_times(leg.trip)
        src = int(tt.trip_source[leg.trip])
        route = int(self.trips.route[src])
        r = self.net.routes
        between = range(leg.board_pos + 1, leg.alight_pos)
        s = self.net.stops
        ride_stops = stops[leg.board_pos : leg.alight_pos + 1]
        lats, lons = s.lat[ride_stops], s.lon[ride_stops]
        geometry = self._ride_geometry(src, stops, leg.board_pos, leg.alight_pos)
        if geometry is None:  # no shapes.txt for this trip: straight lines between stops
            glat, glon = lats, lons
        else:
            glat, glon = geometry
        distance = float(np.sum(haversine_m(glat[:-1], glon[:-1], glat[1:], glon[1:])))
        agency_id = str(r.agency_id[route])
        agency = self.agencies.get(agency_id) or next(iter(self.agencies.values()), None)
        return {
            "mode": transit_mode(int(r.route_type[route])),
            "from": self._stop_place(leg.board_stop),
            "to": self._stop_place(leg.alight_stop),
            "start": self._clock(leg.depart_s),
            "end": self._clock(leg.arrive_s),
            "duration_s": leg.arrive_s - leg.depart_s,
            "distance_m": round(distance, 1),
            "route": {
                "route_id": str(r.route_id[route]),
                "short_name": str(r.short_name[route]),
                "long_name": str(r.long_name[route]),
                "agency_id": agency_id,
                "agency_name": agency["name"] if agency else None,
            },
            "trip_id": str(self.trips.trip_id[src]),
            "trip_start_time": str(self.trips.start_time[src]) or None,
            "headsign": str(self.trips.headsign[src]),
            "service_date": self.date
            if int(tt.trip_shift_s[leg.trip]) == 0
            else str(self.net.at(self.date, int(tt.trip_shift_s[leg.trip])).date()),
            "intermediate_stops": [
                {**self._stop_place(int(stops[i])), "arrival": self._clock(int(arr[i]))}
                for i in between
            ],
            "geometry": _line(glat, glon),
        }

    def _ride_geometry(
        self, src: int, stops: np.ndarray, board_pos: int, alight_pos: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The trip's shapes.txt polyline between its board and alight stops, if it has one."""
        shape_id = str(self.trips.shape_id[src])
        points = self.net.shapes.points(shape_id) if shape_id else None
        if points is None or len(points[0]) < 2:
            return None
        s = self.net.stops
        cuts = shape_cuts(points[0], points[1], s.lat[stops], s.lon[stops])
        a, b = int(cuts[board_pos]), int(cuts[alight_pos])
        board, alight = int(stops[board_pos]), int(stops[alight_pos])
        # start and end exactly at the stops, following the shape in between
        lats = np.concatenate(([s.lat[board]], points[0][a : b + 1], [s.lat[alight]]))
        lons = np.concatenate(([s.lon[board]], points[1][a : b + 1], [s.lon[alight]]))
        return lats, lons

    def itinerary(self, journey: Journey, plan: Plan) -> dict[str, Any]:
        """One journey as a JSON-ready itinerary."""
        legs = [
            self._ride_leg(leg) if isinstance(leg, Ride) else self._walk_leg(leg, plan)
            for leg in journey.legs
        ]
        legs = [leg for leg in legs if leg["mode"] != "WALK" or leg["duration_s"] > 0]
        if not legs:  # origin and destination on the same spot
            legs = [self._walk_leg(journey.legs[0], plan)]
        walk_m = sum(leg["distance_m"] for leg in legs if leg["mode"] == "WALK")
        identity = [
            (leg["mode"], leg.get("trip_id"), leg["from"].get("stop_id"), leg["start"])
            for leg in legs
        ]
        return {
            "id": hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16],
            "start": self._clock(journey.depart_s),
            "end": self._clock(journey.arrive_s),
            "duration_s": journey.arrive_s - journey.depart_s,
            "walk_distance_m": round(walk_m, 1),
            "transfers": journey.n_transfers,
            "legs": legs,
        }


def plan_to_dict(
    writer: ItineraryWriter, plan: Plan, *, pricer: ItineraryPricer | None = None
) -> dict[str, Any]:
    """The JSON document `fairtrip plan --json` prints; priced when a pricer is given."""
    its = []
    for j in plan.journeys:
        it = writer.itinerary(j, plan)
        if pricer is not None:
            pricer.price(
                j, it, origin=(plan.origin.lat, plan.origin.lon),
                destination=(plan.destination.lat, plan.destination.lon),
            )
        its.append(it)
    its.sort(key=lambda it: (_ts(it["end"]), it["transfers"]))
    return {
        "network": writer.net.name,
        "service_date": writer.date,
        "itineraries": its,
        "reason": plan.reason,
    }


def select_itineraries(
    itineraries: list[dict[str, Any]], *, limit: int, arrive_by: bool, window: bool
) -> list[dict[str, Any]]:
    """Drop near-duplicates, order as a rider expects, keep at most `limit`.

    Two itineraries that ride the very same vehicles are duplicates whatever the walking
    around them; the better one is kept (earlier arrival, or later departure for
    arrive-by; then less walking). Order: by arrival for depart-at, latest departure first
    for arrive-by, departure order for a window query (a list of departures to choose from).
    """

    def better(it: dict[str, Any]) -> tuple[Any, ...]:
        primary = -_ts(it["start"]) if arrive_by else _ts(it["end"])
        return (primary, it["walk_distance_m"], it["transfers"])

    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for it in itineraries:
        rides = tuple(
            (leg["trip_id"], leg.get("trip_start_time"), leg.get("service_date"))
            for leg in it["legs"]
            if "trip_id" in leg
        )
        key = rides or ("walk-only",)
        if key not in best or better(it) < better(best[key]):
            best[key] = it
    kept = list(best.values())
    if window:
        kept.sort(key=lambda it: (_ts(it["start"]), _ts(it["end"]), it["transfers"]))
    elif arrive_by:
        kept.sort(key=lambda it: (-_ts(it["start"]), it["transfers"], _ts(it["end"])))
    else:
        kept.sort(key=lambda it: (_ts(it["end"]), it["transfers"], it["walk_distance_m"]))
    return kept[:limit]


def _ts(iso: str) -> float:
    """An ISO time with offset as epoch seconds: string order breaks across a DST change."""
    return dt.datetime.fromisoformat(iso).timestamp()


def format_text(doc: dict[str, Any]) -> str:
    """Readable itineraries for a terminal."""

    def hhmm(iso: str) -> str:
        return iso[11:16]

    def minutes(seconds: int) -> int:
        return max(1, round(seconds / 60)) if seconds > 0 else 0

    if not doc["itineraries"]:
        return f"No itinerary: {doc['reason']}\n"
    lines = []
    for n, it in enumerate(doc["itineraries"], 1):
        transfers = it["transfers"]
        plural = "s" if transfers != 1 else ""
        lines.append(
            f"Itinerary {n}: {hhmm(it['start'])} -> {hhmm(it['end'])} "
            f"({minutes(it['duration_s'])} min, {transfers} transfer{plural}, "
            f"walk {it['walk_distance_m']:.0f} m)"
        )
        for leg in it["legs"]:
            if leg["mode"] == "WALK":
                lines.append(
                    f"  {hhmm(leg['start'])}  walk {leg['distance_m']:.0f} m "
                    f"({minutes(leg['duration_s'])} min) to {leg['to']['name']}"
                    + (f" [{leg['to']['stop_id']}]" if "stop_id" in leg["to"] else "")
                )
            else:
                route = leg["route"]["short_name"] or leg["route"]["long_name"]
                lines.append(
                    f"  {hhmm(leg['start'])}  {leg['mode'].lower()} {route} "
                    f"towards {leg['headsign']}: {leg['from']['name']} "
                    f"[{leg['from']['stop_id']}] {hhmm(leg['start'])} -> {leg['to']['name']} "
                    f"[{leg['to']['stop_id']}] {hhmm(leg['end'])} "
                    f"({len(leg['intermediate_stops'])} stops between)"
                )
        lines.append(f"  {hhmm(it['end'])}  arrive")
    return "\n".join(lines) + "\n"

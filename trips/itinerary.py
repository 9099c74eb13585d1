"""Turn the routing core's journeys into itineraries people and apps read.

This is the boundary where dense indexes become GTFS ids and names, service-day seconds
become clock times with a UTC offset, and walking legs get their street geometry.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from network.compiled import Network
from routing.geo import haversine_m
from routing.journey import Journey, Rental, Ride, StreetWalk, Walk
from routing.planner import DEFAULT_WALK_SPEED_MPS, Plan, Planner
from routing.streets import Snap
from trips.co2 import DEFAULT_G_CO2_KM, co2_g
from trips.prices import ItineraryPricer
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


class ItineraryWriter:
    """Renders the journeys of one plan; holds what every leg needs to look things up.

    `fleets` are the shared-vehicle fleets (and the rider's own bike) the plan was searched
    with, in the order `Rental.fleet` and `Spot.fleet` index them. `now_s` (service-day
    seconds) is the moment the fleets were seen: a vehicle's chance of still being there is
    judged over the time from it to the pickup; None judges it from each journey's departure.
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
        geometry: bool = True,
    ) -> None:
        self.net = network
        #: False draws legs as straight lines without street or shape searches: a cheap
        #: draft of every candidate, to price and filter before drawing the few kept
        self.geometry = geometry
        self.planner = planner
        self.date = date
        self.tt, self.trips = network.timetable(key)
        self.walk_speed_mps = walk_speed_mps
        self.fleets = tuple(fleets)
        self.now_s = now_s
        agencies = network.manifest.get("agencies") or {}
        self.agencies: dict[str, dict[str, Any]] = agencies
        #: service-day seconds -> clock text, and the street paths drawn so far: shared by the
        #: drafts and the full drawings of this plan, whose itineraries repeat both
        self._clocks: dict[int, str] = {}
        self._paths: PathMemo = {}
        self.street_legs = RentalLegWriter(
            network,
            planner,
            self.fleets,
            clock=self._clock,
            stop_place=self._stop_place,
            walk_speed_mps=walk_speed_mps,
            geometry=geometry,
            paths=self._paths,
        )

    # -- places ----------------------------------------------------------------------------
    def _stop_place(self, stop: int) -> dict[str, Any]:
        # a fresh dict per leg from the worker's table of every stop's place
        return dict(self.net.derived("stop_places", self._stop_places)[stop])

    def _stop_places(self) -> list[dict[str, Any]]:
        s = self.net.stops
        return [
            {"name": str(name), "stop_id": str(stop_id), "lat": round(lat, 6), "lon": round(lon, 6)}
            for name, stop_id, lat, lon in zip(
                s.name.tolist(), s.stop_id.tolist(), s.lat.tolist(), s.lon.tolist(), strict=True
            )
        ]

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
        text = self._clocks.get(seconds)
        if text is None:
            text = self._clocks[seconds] = self.net.at(self.date, seconds).isoformat()
        return text

    # -- legs ------------------------------------------------------------------------------
    def _walk_leg(self, leg: Walk, plan: Plan) -> dict[str, Any]:
        return walk_leg(
            self.planner,
            self._snap_of(leg.from_stop, plan.origin),
            self._snap_of(leg.to_stop, plan.destination),
            self._place(leg.from_stop, plan.origin, "Origin"),
            self._place(leg.to_stop, plan.destination, "Destination"),
            depart_s=leg.depart_s,
            arrive_s=leg.arrive_s,
            clock=self._clock,
            walk_speed_mps=self.walk_speed_mps,
            route=self.geometry,
            # the walk-only trip: drawn by the same doorstep rule the planner timed it with
            doorstep=leg.from_stop < 0 and leg.to_stop < 0,
            paths=self._paths,
        )

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
        geometry = (
            self._ride_geometry(src, stops, leg.board_pos, leg.alight_pos)
            if self.geometry
            else None
        )
        if geometry is None:  # no shapes.txt for this trip: straight lines between stops
            glat, glon = lats, lons
        else:
            glat, glon = geometry
        distance = float(np.sum(haversine_m(glat[:-1], glon[:-1], glat[1:], glon[1:])))
        agency_id = str(r.agency_id[route])
        agency = self.agencies.get(agency_id) or next(iter(self.agencies.values()), None)
        mode = transit_mode(int(r.route_type[route]))
        return {
            "mode": mode,
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
            "geometry": line(glat, glon),
            "co2_g": transit_co2_g(mode, distance),
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

    def _leg(self, leg: Ride | Walk | StreetWalk | Rental, plan: Plan, lead_from_s: int
             ) -> dict[str, Any]:
        if isinstance(leg, Ride):
            return self._ride_leg(leg)
        if isinstance(leg, Walk):
            return self._walk_leg(leg, plan)
        if isinstance(leg, StreetWalk):
            return self.street_legs.walk_leg(leg, plan)
        return self.street_legs.rental_leg(leg, plan, lead_from_s=lead_from_s)

    def itinerary(self, journey: Journey, plan: Plan) -> dict[str, Any]:
        """One journey as a JSON-ready itinerary (labels are set by `choose_itineraries`)."""
        lead_from_s = journey.depart_s if self.now_s is None else self.now_s
        legs = [self._leg(leg, plan, lead_from_s) for leg in journey.legs]
        legs = [leg for leg in legs if leg["mode"] != "WALK" or leg["duration_s"] > 0]
        if not legs:  # origin and destination on the same spot
            legs = [self._leg(journey.legs[0], plan, lead_from_s)]
        walk_m = sum(leg["distance_m"] for leg in legs if leg["mode"] == "WALK")
        identity = [
            (leg["mode"], leg.get("trip_id"), leg["from"].get("stop_id"), leg["start"])
            if "rental" not in leg
            else (leg["mode"], leg["rental"]["provider_id"], leg["from"].get("station_id"),
                  leg["from"].get("vehicle_id"), leg["start"])
            for leg in legs
        ]
        return {
            "id": hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16],
            "start": self._clock(journey.depart_s),
            "end": self._clock(journey.arrive_s),
            "duration_s": journey.arrive_s - journey.depart_s,
            "walk_distance_m": round(walk_m, 1),
            "transfers": journey.n_transfers,
            "co2_g": sum(leg["co2_g"] for leg in legs),
            "modes": list(dict.fromkeys(leg["mode"] for leg in legs)),
            "labels": [],
            "legs": legs,
        }


def _priced(
    writer: ItineraryWriter, plan: Plan, journey: Journey, pricer: ItineraryPricer | None
) -> dict[str, Any]:
    it = writer.itinerary(journey, plan)
    if pricer is not None:
        pricer.price(
            journey,
            it,
            origin=(plan.origin.lat, plan.origin.lon),
            destination=(plan.destination.lat, plan.destination.lon),
            fleets=writer.fleets,
        )
    return it


def plan_to_dict(
    writer: ItineraryWriter, plan: Plan, *, pricer: ItineraryPricer | None = None
) -> dict[str, Any]:
    """The JSON document `fairtrip plan --json` prints; priced when a pricer is given."""
    its = [_priced(writer, plan, j, pricer) for j in plan.journeys]
    its.sort(key=lambda it: (_ts(it["end"]), it["transfers"]))
    return {
        "network": writer.net.name,
        "service_date": writer.date,
        "itineraries": its,
        "reason": plan.reason,
        "reason_code": plan.reason_code,
    }


def chosen_plan(
    writer: ItineraryWriter,
    plan: Plan,
    *,
    pricer: ItineraryPricer | None,
    limit: int,
    arrive_by: bool,
    window: bool,
) -> dict[str, Any]:
    """`plan_to_dict` of the itineraries `choose_itineraries` keeps, with the `choices`.

    A multimodal plan has dozens of candidates and most are dominated. Each is first drawn
    as a draft (no street or shape searches, which are most of the cost), priced and
    filtered; only the kept ones are drawn in full, and the labels are set again on the
    full drawings (walking distances are then the streets', not the draft's estimate).
    """
    draft = copy.copy(writer)
    draft.geometry = False
    draft.street_legs = copy.copy(writer.street_legs)
    draft.street_legs.geometry = False
    drafts = [(_priced(draft, plan, j, pricer), j) for j in plan.journeys]
    journey_of = {it["id"]: j for it, j in drafts}
    kept, _ = choose_itineraries(
        [it for it, _ in drafts], limit=limit, arrive_by=arrive_by, window=window
    )
    full = [_priced(writer, plan, journey_of[it["id"]], pricer) for it in kept]
    its, choices = choose_itineraries(full, limit=limit, arrive_by=arrive_by, window=window)
    return {
        "network": writer.net.name,
        "service_date": writer.date,
        "itineraries": its,
        "reason": plan.reason,
        "reason_code": plan.reason_code,
        "choices": choices,
    }


#: the labels `choose_itineraries` gives, in the order they are shown
LABELS = ("fastest", "cheapest", "fewest_transfers", "least_walking")


def _vehicles(it: dict[str, Any]) -> tuple[Any, ...]:
    """What an itinerary rides: its transit trips and its rentals (fleet and pickup)."""
    key: list[tuple[Any, ...]] = []
    for leg in it["legs"]:
        if "trip_id" in leg:
            key.append((leg["trip_id"], leg.get("trip_start_time"), leg.get("service_date")))
        elif "rental" in leg:
            r = leg["rental"]
            key.append((leg["mode"], r["provider_id"], r["station_id"], r["vehicle_id"]))
    return tuple(key) or ("walk-only",)


def _final_price(it: dict[str, Any]) -> tuple[str, float]:
    """(currency, amount in minor units); an unknown or missing price is +inf."""
    final = (it.get("price") or {}).get("final")
    if final is None:
        return "", math.inf
    return final["currency"], float(final["amount_minor"])


def _dominates(a: dict[str, Any], b: dict[str, Any], arrive_by: bool) -> bool:
    """`a` is no worse than `b` on time, price and transfers, and better on one of them.

    Prices in two different currencies are not compared: neither itinerary dominates.
    """
    time_a = -_ts(a["start"]) if arrive_by else _ts(a["end"])
    time_b = -_ts(b["start"]) if arrive_by else _ts(b["end"])
    (cur_a, price_a), (cur_b, price_b) = _final_price(a), _final_price(b)
    if cur_a != cur_b and math.isfinite(price_a) and math.isfinite(price_b):
        return False
    pa, pb = (time_a, price_a, a["transfers"]), (time_b, price_b, b["transfers"])
    return all(x <= y for x, y in zip(pa, pb, strict=True)) and pa != pb


def _label(kept: list[dict[str, Any]], arrive_by: bool) -> dict[str, str | None]:
    """Set each itinerary's `labels` and return {label: id of the itinerary that has it}.

    Ties go to the earlier arriving itinerary, then to the first in `kept`'s order.
    """
    for it in kept:
        it["labels"] = []
    if not kept:
        return dict.fromkeys(LABELS)
    order = {id(it): n for n, it in enumerate(kept)}

    def tie(it: dict[str, Any]) -> tuple[float, int]:
        return (_ts(it["end"]), order[id(it)])

    priced = [it for it in kept if math.isfinite(_final_price(it)[1])]
    currencies = {_final_price(it)[0] for it in priced}
    winners: dict[str, dict[str, Any] | None] = {
        "fastest": min(
            kept, key=lambda it: ((-_ts(it["start"]) if arrive_by else _ts(it["end"])), *tie(it))
        ),
        # with prices in several currencies there is no cheapest to name
        "cheapest": min(priced, key=lambda it: (_final_price(it)[1], *tie(it)))
        if priced and len(currencies) == 1
        else None,
        "fewest_transfers": min(kept, key=lambda it: (it["transfers"], *tie(it))),
        "least_walking": min(kept, key=lambda it: (it["walk_distance_m"], *tie(it))),
    }
    choices: dict[str, str | None] = {}
    for label in LABELS:
        winner = winners[label]
        choices[label] = winner["id"] if winner is not None else None
        if winner is not None:
            winner["labels"].append(label)
    return choices


def choose_itineraries(
    itineraries: list[dict[str, Any]], *, limit: int, arrive_by: bool, window: bool
) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    """The itineraries worth showing, in the order a rider expects, and the labelled choices.

    1. Near-duplicates go: two itineraries that ride the very same vehicles (the same
       transit trips, and rentals from the same fleet and pickup) are one choice whatever
       the walking around them; the better one stays (earlier arrival, or later departure
       for arrive-by; then less walking).
    2. Depart-at and arrive-by: an itinerary is dropped when another is at least as good on
       arrival (departure, reversed, for arrive-by), final price (unknown counts as the
       highest) and transfers, and better on one of them (Pareto filter).
    3. Labels: fastest, cheapest, fewest_transfers, least_walking, each on one itinerary
       (ties to the earlier arriving). A labelled itinerary is kept even past `limit`; the
       other places go to the rest in order (by arrival for depart-at, latest departure
       first for arrive-by).

    A window query is a list of departures to pick from: no dominance across departures,
    ordered by departure and cut at `limit`; its labels are given among what is kept, so
    the list never grows past `limit`.

    Returns the itineraries (each with its `labels` set) and {label: itinerary id or None}.
    """

    def better(it: dict[str, Any]) -> tuple[Any, ...]:
        primary = -_ts(it["start"]) if arrive_by else _ts(it["end"])
        return (primary, it["walk_distance_m"], it["transfers"], _final_price(it)[1])

    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for it in itineraries:
        key = _vehicles(it)
        if key not in best or better(it) < better(best[key]):
            best[key] = it
    kept = list(best.values())
    if window:
        kept.sort(key=lambda it: (_ts(it["start"]), _ts(it["end"]), it["transfers"]))
        kept = kept[:limit]
        return kept, _label(kept, arrive_by)
    kept = [it for it in kept if not any(_dominates(o, it, arrive_by) for o in kept)]
    # of two that tie on every criterion, one that takes every vehicle the other takes and
    # more (a one-minute bike ride to the same tram) is clutter: the simpler one stays
    kept = [it for it in kept if not any(_simpler_tie(o, it, arrive_by) for o in kept)]
    if arrive_by:
        kept.sort(key=lambda it: (-_ts(it["start"]), it["transfers"], _ts(it["end"])))
    else:
        kept.sort(key=lambda it: (_ts(it["end"]), it["transfers"], it["walk_distance_m"]))
    choices = _label(kept, arrive_by)
    room = max(limit - sum(1 for it in kept if it["labels"]), 0)
    shown = []
    for it in kept:
        if it["labels"]:
            shown.append(it)
        elif room > 0:
            shown.append(it)
            room -= 1
    return shown, choices


def _simpler_tie(a: dict[str, Any], b: dict[str, Any], arrive_by: bool) -> bool:
    """`a` ties with `b` on time, price and transfers and rides a strict subset of its vehicles."""
    if _dominates(a, b, arrive_by) or _dominates(b, a, arrive_by):
        return False
    when = (lambda it: it["start"]) if arrive_by else (lambda it: it["end"])
    if _ts(when(a)) != _ts(when(b)) or a["transfers"] != b["transfers"]:
        return False
    if _final_price(a) != _final_price(b):
        return False
    va, vb = set(_vehicles(a)), set(_vehicles(b))
    return va < vb


@functools.lru_cache(maxsize=4096)
def _ts(iso: str) -> float:
    """An ISO time with offset as epoch seconds: string order breaks across a DST change.

    Cached: choosing among a plan's itineraries compares the same few times many times.
    """
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
            elif "rental" in leg:
                who = leg["rental"]["provider_name"] or "your own"
                lines.append(
                    f"  {hhmm(leg['start'])}  {leg['mode'].lower()} ({who}) "
                    f"{leg['from']['name']} -> {leg['to']['name']} {hhmm(leg['end'])} "
                    f"({minutes(leg['duration_s'])} min, {leg['distance_m']:.0f} m)"
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

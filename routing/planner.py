"""Coordinate-to-coordinate planning: walk to stops, ride with RAPTOR, walk to the destination.

A `Planner` is what one worker keeps per service day: the walk graph's reusable search
state, the transit searcher and the stops' positions on the walk graph. A query snaps both
coordinates to the nearest street edge, runs two bounded walking searches (origin -> every
stop in reach, every stop in reach -> destination), runs RAPTOR between them, and adds the
direct walk when it is reasonable. Everything it returns is dense indexes and seconds.

Walking is limited by time, as OpenTripPlanner and MOTIS do it, not by distance: a rider
thinks "a quarter of an hour to the stop", and a time limit treats slow walkers and steps
fairly. The access and egress limits default to `DEFAULT_MAX_ACCESS_S` (see there for why),
the direct walk to `DEFAULT_MAX_DIRECT_WALK_S`; a metre cap (`max_walk_m`) still applies on
top when a caller gives one. A plan without journeys says why in one `ReasonCode`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from routing.errors import QueryError
from routing.geo import haversine_m
from routing.journey import Journey, Walk
from routing.raptor import StopTimes
from routing.streets import Snap, StreetGraph, StreetIndex, StreetPath, StreetSearch
from routing.timetable import Timetable
from routing.transit import TransitSearch

DEFAULT_WALK_SPEED_MPS = 1.33
#: the longest walk from the origin to a stop (and, `DEFAULT_MAX_EGRESS_S`, from a stop to the
#: destination). MOTIS allows 15 min, OpenTripPlanner 2 45 min, Valhalla about 2.1 km (27 min).
#: 20 min (1.6 km at 1.33 m/s) lies between MOTIS's 15 min and Valhalla's 2,145 m (27 min
#: at this pace; OpenTripPlanner allows 45): it reaches the stop beyond the nearest one in a
#: city with a stop every few hundred metres, and a peripheral resident's real walk to the
#: one line that serves them. The access search's cost grows with the area walked (the
#: square of the time); with 15 min, 9 more of the 1,000 benchmark pairs go unanswered
DEFAULT_MAX_ACCESS_S = 20 * 60
DEFAULT_MAX_EGRESS_S = 20 * 60
#: the longest walk-only trip offered (about the 5 km the planner allowed before)
DEFAULT_MAX_DIRECT_WALK_S = 60 * 60
#: upper bound of any walking limit a request may set
MAX_WALK_LIMIT_S = 2 * 3600


class ReasonCode(StrEnum):
    """Why a plan has no journeys: one code per cause (the API's `reason_code`).

    The two causes that lie in the request's coordinates are errors rather than codes
    (`OutsideNetworkError`, `IsolatedPieceError`): those points cannot be routed at all.
    """

    #: no stop within the access (or egress) walking limit, and no direct walk within its limit
    NOTHING_WITHIN_WALK_LIMIT = "nothing_within_walk_limit"
    #: stops within reach at both ends, but no ride leaves the origin's stops (arrives at the
    #: destination's, for arrive-by) in the searched time window
    NO_SERVICE_IN_WINDOW = "no_service_in_window"
    #: rides leave within the window, but none connects the two ends' stops
    NO_CONNECTION = "no_connection"
    #: journeys exist, but not with the modes the request allows
    NO_ITINERARY_WITH_ALLOWED_MODES = "no_itinerary_with_allowed_modes"


def doorstep_walk_s(a: Snap, b: Snap, walk_speed_mps: float) -> float | None:
    """Seconds of the straight walk between two points that are nearer to each other than
    to any street (the same doorstep, one park), else None.

    The one rule both the planner (timing the direct walk) and `Planner.walk_between`
    (drawing it) use, so the leg's distance, duration and geometry describe the same walk.
    """
    apart_m = float(haversine_m(a.lat, a.lon, b.lat, b.lon))
    if apart_m <= a.offset_m + b.offset_m:
        return apart_m / walk_speed_mps
    return None


@dataclass(frozen=True, slots=True)
class StopSnaps:
    """Where each stop sits on the walk graph: edge -1 means beyond the streets we have."""

    edge: npt.NDArray[np.int32]
    fraction: npt.NDArray[np.float64]
    offset_m: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]  # the stop's own coordinate
    lon: npt.NDArray[np.float64]
    snapped_lat: npt.NDArray[np.float64]  # the nearest point on its edge
    snapped_lon: npt.NDArray[np.float64]

    def snap(self, stop: int) -> Snap:
        """The stop as a `Snap` (for walking paths that start or end at it)."""
        return Snap(
            lat=float(self.lat[stop]),
            lon=float(self.lon[stop]),
            edge=int(self.edge[stop]),
            fraction=float(self.fraction[stop]),
            offset_m=float(self.offset_m[stop]),
            snapped_lat=float(self.snapped_lat[stop]),
            snapped_lon=float(self.snapped_lon[stop]),
        )


@dataclass(frozen=True, slots=True)
class StopTargets:
    """The stops that sit on the walk graph, laid out as a one-to-many walk search takes them.

    Built once per network (per worker), so no query re-slices the stop arrays.
    """

    stops: npt.NDArray[np.int32]
    edge: npt.NDArray[np.int32]
    fraction: npt.NDArray[np.float64]
    offset_m: npt.NDArray[np.float64]

    @classmethod
    def of(cls, snaps: StopSnaps) -> StopTargets:
        """The snapped stops of `snaps` (edge >= 0)."""
        stops = np.flatnonzero(snaps.edge >= 0).astype(np.int32)
        return cls(
            stops,
            np.ascontiguousarray(snaps.edge[stops], dtype=np.int32),
            np.ascontiguousarray(snaps.fraction[stops], dtype=np.float64),
            np.ascontiguousarray(snaps.offset_m[stops], dtype=np.float64),
        )

    def walk_times(
        self,
        search: StreetSearch,
        point: Snap,
        *,
        max_time_s: float,
        walk_speed_mps: float = DEFAULT_WALK_SPEED_MPS,
        to_point: bool = False,
    ) -> StopTimes:
        """Whole walking seconds between `point` and every stop within `max_time_s`.

        to_point=False walks from the point to the stops (access, footpaths); True walks from
        the stops to the point (egress), following one-way footways backwards if any.
        """
        times = search.times_to(
            point,
            self.edge,
            self.fraction,
            self.offset_m,
            max_time_s=max_time_s,
            speed_factor=DEFAULT_WALK_SPEED_MPS / walk_speed_mps,
            offset_speed_mps=walk_speed_mps,
            reverse=to_point,
        )
        ok = np.isfinite(times)
        return StopTimes(self.stops[ok], np.ceil(times[ok]).astype(np.int32))


@dataclass(frozen=True)
class PlanOptions:
    """What a rider can tune; validated in `check`."""

    arrive_by: bool = False
    window_s: int = 0
    #: a metre cap on the walks to and from stops on top of the time limits (None: none)
    max_walk_m: float | None = None
    walk_speed_mps: float = DEFAULT_WALK_SPEED_MPS
    max_transfers: int = 8
    #: a metre cap on the walk-only trip on top of `max_direct_walk_s` (None: none)
    max_direct_walk_m: float | None = None
    max_access_s: int = DEFAULT_MAX_ACCESS_S
    max_egress_s: int = DEFAULT_MAX_EGRESS_S
    max_direct_walk_s: int = DEFAULT_MAX_DIRECT_WALK_S

    def check(self) -> None:
        """Raise QueryError naming the first option out of range."""
        limits = (
            ("window_s", self.window_s, 0, 4 * 3600),
            ("max_walk_m", self.max_walk_m, 0.0, 5000.0),
            ("walk_speed_mps", self.walk_speed_mps, 0.3, 3.0),
            ("max_transfers", self.max_transfers, 0, 12),
            ("max_direct_walk_m", self.max_direct_walk_m, 0.0, 20000.0),
            ("max_access_s", self.max_access_s, 0, MAX_WALK_LIMIT_S),
            ("max_egress_s", self.max_egress_s, 0, MAX_WALK_LIMIT_S),
            ("max_direct_walk_s", self.max_direct_walk_s, 0, 4 * 3600),
        )
        for name, value, lo, hi in limits:
            if value is None and name in ("max_walk_m", "max_direct_walk_m"):
                continue
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise QueryError(f"{name} must be a finite number, got {value!r}")
            if not lo <= value <= hi:
                raise QueryError(f"{name} must be in {lo}..{hi}, got {value}")
        if self.arrive_by and self.window_s:
            raise QueryError("a departure window cannot be combined with arrive_by")

    def _capped(self, limit_s: float, cap_m: float | None) -> float:
        return limit_s if cap_m is None else min(limit_s, cap_m / self.walk_speed_mps)

    @property
    def access_limit_s(self) -> float:
        """The longest walk from the origin to a stop, seconds (time limit and metre cap)."""
        return self._capped(self.max_access_s, self.max_walk_m)

    @property
    def egress_limit_s(self) -> float:
        """The longest walk from a stop to the destination, seconds."""
        return self._capped(self.max_egress_s, self.max_walk_m)

    @property
    def direct_limit_s(self) -> float:
        """The longest walk-only trip, seconds."""
        return self._capped(self.max_direct_walk_s, self.max_direct_walk_m)


@dataclass(frozen=True)
class Plan:
    """The journeys found, with the snapped end points the edge needs for geometry."""

    origin: Snap
    destination: Snap
    journeys: list[Journey]
    direct_walk_s: float | None = None
    reason: str = ""
    access: StopTimes | None = field(default=None, repr=False)
    egress: StopTimes | None = field(default=None, repr=False)
    reason_code: str = ""  # a `ReasonCode` when there are no journeys, else ""


class Planner:
    """One worker's planner for one service day; not thread-safe."""

    def __init__(
        self,
        walk: StreetGraph,
        walk_index: StreetIndex,
        stop_snaps: StopSnaps,
        timetable: Timetable,
        *,
        walk_search: StreetSearch | None = None,
    ) -> None:
        self.walk = walk
        self.walk_index = walk_index
        self.stops = stop_snaps
        self.timetable = timetable
        self.walk_search = walk_search or StreetSearch(walk)
        self.transit = TransitSearch(timetable)
        self._targets = StopTargets.of(stop_snaps)

    @property
    def stop_targets(self) -> StopTargets:
        """The stops on the walk graph, as one-to-many searches take them."""
        return self._targets

    def stop_walk_times(
        self,
        point: Snap,
        *,
        walk_speed_mps: float,
        to_point: bool,
        max_time_s: float | None = None,
        max_walk_m: float | None = None,
    ) -> StopTimes:
        """Walking seconds between `point` and every stop within the limits: `max_time_s`
        and `max_walk_m` (at `walk_speed_mps`), whichever is stricter; at least one is needed
        (see `StopTargets.walk_times`).
        """
        limits = [
            x
            for x in (max_time_s, None if max_walk_m is None else max_walk_m / walk_speed_mps)
            if x is not None
        ]
        if not limits:
            raise QueryError("stop_walk_times needs max_time_s or max_walk_m")
        return self._targets.walk_times(
            self.walk_search,
            point,
            max_time_s=min(limits),
            walk_speed_mps=walk_speed_mps,
            to_point=to_point,
        )

    def plan(
        self,
        origin_lat: float,
        origin_lon: float,
        dest_lat: float,
        dest_lon: float,
        time_s: int,
        options: PlanOptions | None = None,
    ) -> Plan:
        """Journeys between two coordinates leaving at (or, arrive_by, arriving by) `time_s`."""
        opts = options or PlanOptions()
        opts.check()
        check_time(time_s)
        origin = self.walk_index.snap(origin_lat, origin_lon)
        dest = self.walk_index.snap(dest_lat, dest_lon)
        access = self.stop_walk_times(
            origin,
            max_time_s=opts.access_limit_s,
            walk_speed_mps=opts.walk_speed_mps,
            to_point=False,
        )
        egress = self.stop_walk_times(
            dest, max_time_s=opts.egress_limit_s, walk_speed_mps=opts.walk_speed_mps, to_point=True
        )
        journeys: list[Journey] = []
        if len(access.stops) and len(egress.stops):
            if opts.arrive_by:
                journeys = self.transit.arrive_by(
                    access, egress, time_s, max_transfers=opts.max_transfers
                )
            elif opts.window_s:
                journeys = self.transit.depart_window(
                    access, egress, time_s, opts.window_s, max_transfers=opts.max_transfers
                )
            else:
                journeys = self.transit.depart_at(
                    access, egress, time_s, max_transfers=opts.max_transfers
                )
        direct_limit_s = opts.direct_limit_s
        direct_s = self.walk_search.travel_time(
            origin,
            dest,
            speed_factor=DEFAULT_WALK_SPEED_MPS / opts.walk_speed_mps,
            offset_speed_mps=opts.walk_speed_mps,
            max_time_s=direct_limit_s,
        )
        door_s = doorstep_walk_s(origin, dest, opts.walk_speed_mps)
        if door_s is not None and door_s <= direct_limit_s:
            direct_s = min(direct_s if direct_s is not None else math.inf, door_s)
        if direct_s is not None:
            walk_s = math.ceil(direct_s)
            start = time_s - walk_s if opts.arrive_by else time_s
            walk_only = Journey((Walk(-1, -1, start, start + walk_s),))
            # a ride that arrives no earlier than walking the whole way is not worth offering
            if opts.arrive_by:
                journeys = [j for j in journeys if j.depart_s > walk_only.depart_s]
            else:
                journeys = [j for j in journeys if j.arrive_s < walk_only.arrive_s]
            journeys.append(walk_only)
        reason, code = ("", "") if journeys else self._why_none(access, egress, time_s, opts)
        return Plan(origin, dest, journeys, direct_s, reason, access, egress, code)

    def _why_none(
        self, access: StopTimes, egress: StopTimes, time_s: int, opts: PlanOptions
    ) -> tuple[str, ReasonCode]:
        """(text, code) of why a plan found nothing, the direct walk included."""
        walk = (
            "and the destination is beyond "
            f"{_limit(opts.direct_limit_s, opts.max_direct_walk_s, opts.max_direct_walk_m)} "
            "walk (or on streets that do not join the origin's)"
        )
        if not len(access.stops):
            limit = _limit(opts.access_limit_s, opts.max_access_s, opts.max_walk_m)
            return (
                f"no stop within {limit} walk of the origin {walk}",
                ReasonCode.NOTHING_WITHIN_WALK_LIMIT,
            )
        if not len(egress.stops):
            limit = _limit(opts.egress_limit_s, opts.max_egress_s, opts.max_walk_m)
            return (
                f"no stop within {limit} walk of the destination {walk}",
                ReasonCode.NOTHING_WITHIN_WALK_LIMIT,
            )
        if not self.transit.has_service(
            access, egress, time_s, window_s=opts.window_s, arrive_by=opts.arrive_by
        ):
            if opts.arrive_by:
                text = "no ride reaches the stops near the destination by that time"
            else:
                text = "no ride leaves the stops near the origin at or after that time"
            if opts.window_s:
                text = "no ride leaves the stops near the origin within the departure window"
            return text, ReasonCode.NO_SERVICE_IN_WINDOW
        return (
            f"no transit connection at that time with at most {opts.max_transfers} transfers",
            ReasonCode.NO_CONNECTION,
        )

    def walk_between(
        self,
        a: Snap,
        b: Snap,
        *,
        walk_speed_mps: float = DEFAULT_WALK_SPEED_MPS,
        doorstep: bool = False,
    ) -> StreetPath | None:
        """The street path of a walking leg, for its geometry and distance.

        doorstep=True applies the planner's rule for the walk-only trip (`doorstep_walk_s`):
        when it is what the planner timed, the path is that straight line, so the leg's
        distance and duration agree.

        Right after `plan`, the access walks (origin to a stop), the egress walks (a stop to
        the destination) and the walk-only trip are read off the searches the plan timed
        them with (see `StreetSearch`), so drawing them searches nothing again.
        """
        path = self.walk_search.route(
            a,
            b,
            speed_factor=DEFAULT_WALK_SPEED_MPS / walk_speed_mps,
            offset_speed_mps=walk_speed_mps,
        )
        door_s = doorstep_walk_s(a, b, walk_speed_mps) if doorstep else None
        if door_s is not None and (path is None or door_s < path.time_s):
            return StreetPath(
                time_s=door_s,
                length_m=door_s * walk_speed_mps,
                edges=np.zeros(0, dtype=np.int32),
                lats=np.array([a.lat, b.lat]),
                lons=np.array([a.lon, b.lon]),
            )
        return path


def _limit(limit_s: float, time_s: float, cap_m: float | None) -> str:
    """The walking limit that binds, as people say it: "15 min", or "800 m" for a metre cap."""
    if cap_m is not None and limit_s < time_s:
        return f"{cap_m:.0f} m"
    minutes = time_s / 60
    return f"{minutes:.0f} min" if minutes >= 1 or minutes == 0 else f"{time_s:.0f} s"


def check_time(time_s: int) -> None:
    """Refuse service-day seconds that no timetable could hold."""
    if not -86_400 <= time_s <= 2 * 86_400:
        raise QueryError(f"time of day must be within the service day, got {time_s} s")

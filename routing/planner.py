"""Coordinate-to-coordinate planning: walk to stops, ride with RAPTOR, walk to the destination.

A `Planner` is what one worker keeps per service day: the walk graph's reusable search
state, the transit searcher and the stops' positions on the walk graph. A query snaps both
coordinates to the nearest street edge, runs two bounded walking searches (origin -> every
stop in reach, every stop in reach -> destination), runs RAPTOR between them, and adds the
direct walk when it is reasonable. Everything it returns is dense indexes and seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
    max_walk_m: float = 1000.0
    walk_speed_mps: float = DEFAULT_WALK_SPEED_MPS
    max_transfers: int = 8
    max_direct_walk_m: float = 5000.0

    def check(self) -> None:
        """Raise QueryError naming the first option out of range."""
        limits = (
            ("window_s", self.window_s, 0, 4 * 3600),
            ("max_walk_m", self.max_walk_m, 0.0, 5000.0),
            ("walk_speed_mps", self.walk_speed_mps, 0.3, 3.0),
            ("max_transfers", self.max_transfers, 0, 12),
            ("max_direct_walk_m", self.max_direct_walk_m, 0.0, 20000.0),
        )
        for name, value, lo, hi in limits:
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise QueryError(f"{name} must be a finite number, got {value!r}")
            if not lo <= value <= hi:
                raise QueryError(f"{name} must be in {lo}..{hi}, got {value}")
        if self.arrive_by and self.window_s:
            raise QueryError("a departure window cannot be combined with arrive_by")


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
        self, point: Snap, *, max_walk_m: float, walk_speed_mps: float, to_point: bool
    ) -> StopTimes:
        """Walking seconds between `point` and every stop within `max_walk_m` (see
        `StopTargets.walk_times`).
        """
        return self._targets.walk_times(
            self.walk_search,
            point,
            max_time_s=max_walk_m / walk_speed_mps,
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
            origin, max_walk_m=opts.max_walk_m, walk_speed_mps=opts.walk_speed_mps, to_point=False
        )
        egress = self.stop_walk_times(
            dest, max_walk_m=opts.max_walk_m, walk_speed_mps=opts.walk_speed_mps, to_point=True
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
        direct_s = self.walk_search.travel_time(
            origin,
            dest,
            speed_factor=DEFAULT_WALK_SPEED_MPS / opts.walk_speed_mps,
            offset_speed_mps=opts.walk_speed_mps,
            max_time_s=opts.max_direct_walk_m / opts.walk_speed_mps,
        )
        # two points nearer to each other than to any street (the same doorstep, one park)
        # are walked between directly
        apart_m = float(haversine_m(origin.lat, origin.lon, dest.lat, dest.lon))
        if apart_m <= min(origin.offset_m + dest.offset_m, opts.max_direct_walk_m):
            direct_s = min(direct_s or math.inf, apart_m / opts.walk_speed_mps)
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
        reason = ""
        if not journeys:
            if not len(access.stops):
                reason = f"no stop within {opts.max_walk_m:.0f} m walk of the origin"
            elif not len(egress.stops):
                reason = f"no stop within {opts.max_walk_m:.0f} m walk of the destination"
            else:
                reason = "no transit connection at that time"
        return Plan(origin, dest, journeys, direct_s, reason, access, egress)

    def walk_between(
        self, a: Snap, b: Snap, *, walk_speed_mps: float = DEFAULT_WALK_SPEED_MPS
    ) -> StreetPath | None:
        """The street path of a walking leg, for its geometry and distance."""
        return self.walk_search.route(
            a,
            b,
            speed_factor=DEFAULT_WALK_SPEED_MPS / walk_speed_mps,
            offset_speed_mps=walk_speed_mps,
        )


def check_time(time_s: int) -> None:
    """Refuse service-day seconds that no timetable could hold."""
    if not -86_400 <= time_s <= 2 * 86_400:
        raise QueryError(f"time of day must be within the service day, got {time_s} s")

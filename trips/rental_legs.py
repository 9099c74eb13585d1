"""Street legs of a multimodal itinerary: walks to and from vehicles, and the rentals.

The router's `StreetWalk` and `Rental` legs name places by kind and dense index (a stop, a
fleet's pickup or drop-off, a ride-graph node where a free-floating vehicle is parked). Here
they become what a rider reads: named places with coordinates and station or vehicle ids,
clock times, street geometry, and for a rental what the operator needs to be found (the
provider, the vehicle, its remaining range, the app links), how likely the vehicle (and a
free dock) still is there when the rider arrives, and the CO2 of the ride.

Prices are not set here: `trips.prices.ItineraryPricer` prices the rental legs
together with the transit fare, so the itinerary total has one owner. Every function takes
`draw`: False makes a cheap draft (straight lines, no street searches) used to price and
filter the candidates before the few kept ones are drawn in full.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numba
import numpy as np
import numpy.typing as npt

from network.cache import STOP_SNAP_M
from network.compiled import Network
from routing.errors import RoutingError
from routing.geo import haversine_m
from routing.journey import Rental, Spot, SpotKind, StreetWalk
from routing.planner import DEFAULT_WALK_SPEED_MPS, Plan, Planner
from routing.streets import Snap, StreetPath
from trips.co2 import co2_g
from trips.model import Leg, LineString, Place, RentalInfo, RentalUrisOut, VehicleTypeOut

if TYPE_CHECKING:
    from trips.fleets import FleetView

#: name of the place a free-floating vehicle is left at (a street corner has no name of its own)
PARKED_NAME = "Parking spot"

#: street paths already found for one plan: (from, to, pace, doorstep rule) -> path or None
PathMemo = dict[tuple[Snap, Snap, float, bool], StreetPath | None]


#: |x * 1e6 - k| within this of a half counts as a near tie that numpy's scaled rounding may
#: get wrong: far above the product's own rounding error (under 6e-8 for |x| < `_ROUND6_MAX`),
#: far below 0.5
_NEAR_TIE = 1e-6
#: larger magnitudes (never a coordinate) are left to Python's `round`
_ROUND6_MAX = 1000.0


def round6(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """`round(float(v), 6)` of every value, vectorised and bit-for-bit the same.

    numpy rounds ``v * 1e6`` to the nearest integer and divides back; that integer is the
    correctly rounded one unless the product sits next to a half, where its own rounding
    error can tip it. Those rare near ties (and magnitudes beyond `_ROUND6_MAX`, NaN, inf)
    are rounded by Python's `round` (decimal-exact); every other value then divides back to
    the same double `round` returns (both are the double nearest to the integer / 10**6).
    """
    v = np.asarray(values, dtype=np.float64)
    if not (np.abs(v) < _ROUND6_MAX).all():
        return np.array(
            [round(x, 6) if math.isfinite(x) else x for x in v.ravel().tolist()]
        ).reshape(v.shape)
    scaled = v * 1e6
    whole = np.rint(scaled)
    out = whole / 1e6
    near_tie = np.abs(np.abs(scaled - whole) - 0.5) < _NEAR_TIE
    if near_tie.any():
        flat, src = out.reshape(-1), v.reshape(-1)
        for i in np.flatnonzero(near_tie.reshape(-1)).tolist():
            flat[i] = round(float(src[i]), 6)
    return out


@numba.njit(cache=True)
def _rounded_rows(
    lats: np.ndarray, lons: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """[lon, lat] rows rounded with `round6`'s arithmetic, and the flat indexes (into the
    rows) of the values that arithmetic cannot settle: near ties, huge or not finite.
    """
    out = np.empty((len(lats), 2), dtype=np.float64)
    flagged = np.empty(2 * len(lats), dtype=np.int64)
    n_flagged = 0
    for i in range(len(lats)):
        for c in range(2):
            v = lons[i] if c == 0 else lats[i]
            scaled = v * 1e6
            whole = np.rint(scaled)
            out[i, c] = whole / 1e6
            if not abs(v) < _ROUND6_MAX or abs(abs(scaled - whole) - 0.5) < _NEAR_TIE:
                flagged[n_flagged] = 2 * i + c
                n_flagged += 1
    return out, flagged[:n_flagged]


@numba.njit(cache=True)
def _distinct_rows(rows: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """The rows without those equal to the row before them."""
    n = 0
    for i in range(len(rows)):
        if n > 0 and rows[i, 0] == rows[n - 1, 0] and rows[i, 1] == rows[n - 1, 1]:
            continue
        rows[n, 0] = rows[i, 0]
        rows[n, 1] = rows[i, 1]
        n += 1
    return rows[:n]


def line(lats: npt.ArrayLike, lons: npt.ArrayLike) -> LineString:
    """A GeoJSON LineString ([lon, lat], 6 decimals) with repeated points dropped.

    Rounding can make neighbours equal; a line keeps at least two points so a zero-length
    leg is still a valid LineString. Rounding (`round6`'s arithmetic, its near ties left to
    Python's `round` as there) and dropping run in two small kernels: a plan draws a dozen
    lines, and numpy calls or a Python `round` per coordinate were a tenth of the planning
    time.
    """
    lat_a = np.ascontiguousarray(lats, dtype=np.float64)
    lon_a = np.ascontiguousarray(lons, dtype=np.float64)
    if lat_a.ndim != 1 or lat_a.shape != lon_a.shape:
        raise ValueError(
            f"lats and lons must be 1-d and of equal length, got {lat_a.shape}, {lon_a.shape}"
        )
    rows, flagged = _rounded_rows(lat_a, lon_a)
    if len(flagged):
        flat = rows.reshape(-1)
        for k in flagged.tolist():
            value = float(lat_a[k // 2] if k % 2 else lon_a[k // 2])
            flat[k] = round(value, 6) if math.isfinite(value) else value
    coords: list[list[float]] = _distinct_rows(rows).tolist()
    if len(coords) == 1:
        coords.append(coords[0])
    return LineString(type="LineString", coordinates=coords)  # type: ignore[arg-type]


def straight(a: Place, b: Place) -> LineString:
    """The straight line between two places (drafts, and ends beyond the streets)."""
    return line(np.array([a.lat, b.lat]), np.array([a.lon, b.lon]))


def walk_leg(
    planner: Planner,
    a: Snap | None,
    b: Snap | None,
    start: Place,
    end: Place,
    *,
    depart_s: int,
    arrive_s: int,
    clock: Callable[[int], str],
    walk_speed_mps: float,
    route: bool = True,
    doorstep: bool = False,
    paths: PathMemo | None = None,
) -> Leg:
    """A WALK leg dict: the walk-graph path between `a` and `b`, else a straight line.

    The straight line is for ends beyond the streets (a stop outside the extracts) and for
    legs of no duration, where a search would only find the point itself. `route=False`
    skips the path search (a draft for filtering): the distance is then the time walked at
    the rider's pace. `doorstep` is for the walk-only trip (see `Planner.walk_between`). A
    leg walked along a straight-line connector between extracts, or drawn as a straight line
    because an end is beyond the streets, is marked ``"estimated": true``. `paths` keeps
    the paths found, so a walk two itineraries of a plan share is searched once.
    """
    path = None
    if route and a is not None and b is not None and arrive_s > depart_s:
        key = (a, b, walk_speed_mps, doorstep)
        if paths is not None and key in paths:
            path = paths[key]
        else:
            path = planner.walk_between(a, b, walk_speed_mps=walk_speed_mps, doorstep=doorstep)
            if paths is not None:
                paths[key] = path
    estimated = False
    if path is not None:
        distance = path.length_m
        geometry = line(path.lats, path.lons)
        # a connector between extracts, or a long straight line from an end to its street
        # (a stop beyond the extracts' edge, a point off the streets)
        estimated = bool(planner.walk.estimated[path.edges].any()) or (
            not doorstep and any(s.offset_m > STOP_SNAP_M for s in (a, b) if s is not None)
        )
    elif not route:
        distance = (arrive_s - depart_s) * walk_speed_mps
        geometry = straight(start, end)
    else:
        distance = float(haversine_m(start.lat, start.lon, end.lat, end.lon))
        geometry = straight(start, end)
        estimated = arrive_s > depart_s and distance > 0
    return Leg(
        mode="WALK",
        from_=start,
        to=end,
        start=clock(depart_s),
        end=clock(arrive_s),
        duration_s=arrive_s - depart_s,
        distance_m=round(distance, 1),
        geometry=geometry,
        co2_g=0,
        estimated=estimated,
    )


def _uris(view: FleetView, pickup: int) -> RentalUrisOut | None:
    uris = view.pickup_uris[pickup]
    if uris is None:
        return None
    return RentalUrisOut(android=uris.android, ios=uris.ios, web=uris.web)


def _vehicle_type(view: FleetView) -> VehicleTypeOut | None:
    vt = view.vehicle_type
    if vt is None:  # the rider's own bike
        return None
    return VehicleTypeOut(
        id=vt.id, name=vt.name, form_factor=str(vt.form_factor), propulsion=str(vt.propulsion)
    )


def _probability(p: float) -> float | None:
    """A probability for JSON: 3 decimals, and None for NaN (the feed gives nothing to go on)."""
    p = float(p)
    if math.isnan(p):
        return None
    return round(min(max(p, 0.0), 1.0), 3)


class RentalLegWriter:
    """Renders `StreetWalk` and `Rental` legs of one plan against the query's fleets.

    Parameters
    ----------
    network
        The loaded city (walk index, stop snaps, the ride graphs by profile).
    planner
        The service day's planner: its walk search draws the walk geometry.
    fleets
        The fleets the plan was searched with, in the same order: `Rental.fleet` and
        `Spot.fleet` index them.
    clock
        Service-day seconds -> ISO time with offset (the itinerary writer's clock).
    stop_place
        Stop index -> its place, so a stop reads the same in every leg.
    walk_speed_mps
        The rider's pace (walk distances do not depend on it; the path does not either).
    paths
        The plan's street paths found so far (see `walk_leg`), shared with the writer.
    """

    def __init__(
        self,
        network: Network,
        planner: Planner,
        fleets: Sequence[FleetView],
        *,
        clock: Callable[[int], str],
        stop_place: Callable[[int], Place],
        walk_speed_mps: float = DEFAULT_WALK_SPEED_MPS,
        paths: PathMemo | None = None,
    ) -> None:
        self.net = network
        self.planner = planner
        self.fleets = fleets
        self.clock = clock
        self.stop_place = stop_place
        self.walk_speed_mps = walk_speed_mps
        #: the plan's street paths found so far (see `walk_leg`)
        self.paths: PathMemo = {} if paths is None else paths

    # -- places ----------------------------------------------------------------------------
    def _view(self, fleet: int) -> FleetView:
        if not 0 <= fleet < len(self.fleets):
            raise IndexError(f"leg names fleet {fleet}, the plan has {len(self.fleets)} fleets")
        return self.fleets[fleet]

    def _parked_latlon(self, spot: Spot) -> tuple[float, float]:
        graph = self.net.streets[self._view(spot.fleet).fleet.profile]
        return float(graph.node_lat[spot.index]), float(graph.node_lon[spot.index])

    def place(self, spot: Spot, plan: Plan) -> Place:
        """The rider-facing place of `spot`: name, lat, lon and any stop/station/vehicle id."""
        kind = spot.kind
        if kind == SpotKind.ORIGIN:
            return Place(name="Origin", lat=plan.origin.lat, lon=plan.origin.lon)
        if kind == SpotKind.DESTINATION:
            return Place(name="Destination", lat=plan.destination.lat, lon=plan.destination.lon)
        if kind == SpotKind.STOP:
            return self.stop_place(spot.index)
        if kind == SpotKind.PICKUP:
            view, i = self._view(spot.fleet), spot.index
            return Place(
                name=view.pickup_name[i],
                lat=round(float(view.pickup_lat[i]), 6),
                lon=round(float(view.pickup_lon[i]), 6),
                station_id=view.pickup_station_id[i],
                vehicle_id=view.pickup_vehicle_id[i],
            )
        if kind == SpotKind.DROPOFF:
            view, j = self._view(spot.fleet), spot.index
            return Place(
                name=view.dropoff_name[j],
                lat=round(float(view.dropoff_lat[j]), 6),
                lon=round(float(view.dropoff_lon[j]), 6),
                station_id=view.dropoff_station_id[j],
            )
        lat, lon = self._parked_latlon(spot)
        return Place(name=PARKED_NAME, lat=round(lat, 6), lon=round(lon, 6))

    def snap(self, spot: Spot, plan: Plan) -> Snap | None:
        """Where `spot` sits on the walk graph, or None when it lies beyond the streets."""
        if spot.kind == SpotKind.ORIGIN:
            return plan.origin
        if spot.kind == SpotKind.DESTINATION:
            return plan.destination
        if spot.kind == SpotKind.STOP:
            snaps = self.net.stop_snaps
            if snaps is None or snaps.edge[spot.index] < 0:
                return None
            return snaps.snap(spot.index)
        p = self.place(spot, plan)
        try:
            return self.net.walk_index.snap(p.lat, p.lon)
        except RoutingError:  # beyond the walk graph: the leg is drawn as a straight line
            return None

    # -- legs ------------------------------------------------------------------------------
    def walk_leg(self, leg: StreetWalk, plan: Plan, *, draw: bool = True) -> Leg:
        """A walk to or from a vehicle (or any two spots) as a WALK leg on the streets."""
        return walk_leg(
            self.planner,
            self.snap(leg.start, plan) if draw else None,
            self.snap(leg.end, plan) if draw else None,
            self.place(leg.start, plan),
            self.place(leg.end, plan),
            depart_s=leg.depart_s,
            arrive_s=leg.arrive_s,
            clock=self.clock,
            walk_speed_mps=self.walk_speed_mps,
            route=draw,
            paths=self.paths,
        )

    def _ride_geometry(self, leg: Rental, view: FleetView, end: Place) -> LineString:
        """Pickup point, then the polylines of the ridden edges, then the end point."""
        graph = self.net.streets[view.fleet.profile]
        ptr = graph.geom_ptr
        lats = [np.array([view.pickup_lat[leg.pickup]], dtype=np.float64)]
        lons = [np.array([view.pickup_lon[leg.pickup]], dtype=np.float64)]
        for e in leg.edges:
            lats.append(graph.geom_lat[ptr[e] : ptr[e + 1]])
            lons.append(graph.geom_lon[ptr[e] : ptr[e + 1]])
        lats.append(np.array([end.lat], dtype=np.float64))
        lons.append(np.array([end.lon], dtype=np.float64))
        return line(np.concatenate(lats), np.concatenate(lons))

    def rental_leg(
        self, leg: Rental, plan: Plan, *, lead_from_s: int, draw: bool = True
    ) -> Leg:
        """A rental (or own-bike ride) as a leg with its `rental` block and CO2.

        `lead_from_s` is the moment availability is judged from (the plan's departure, or
        the fleet snapshot's time): the pickup and drop-off probabilities use the seconds
        from it to the leg's start and end.
        """
        view = self._view(leg.fleet)
        i = leg.pickup
        start = self.place(Spot(SpotKind.PICKUP, i, leg.fleet), plan)
        end_spot = Spot(leg.end.kind, leg.end.index, leg.fleet)
        end = self.place(end_spot, plan)
        docked_end = leg.end.kind == SpotKind.DROPOFF
        range_m = float(view.pickup_range_m[i])
        range_start = round(range_m, 1) if math.isfinite(range_m) else None
        range_end = round(range_m - leg.distance_m, 1) if range_start is not None else None
        plan_used = view.pickup_plan[i] if view.pickup_plan[i] is not None else view.pricing_plan
        pickup_lead = max(leg.depart_s - lead_from_s, 0)
        dropoff_lead = max(leg.arrive_s - lead_from_s, 0)
        rental = RentalInfo(
            provider_id=view.provider_id,
            provider_name=view.provider_name,
            synthetic=view.synthetic,
            vehicle_id=view.pickup_vehicle_id[i],
            station_id=view.pickup_station_id[i],
            dropoff_station_id=end.station_id if docked_end else None,
            vehicle_type=_vehicle_type(view),
            range_start_m=range_start,
            range_end_m=range_end,
            rental_start=self.clock(leg.depart_s),
            rental_end=self.clock(leg.arrive_s),
            pickup_probability=_probability(view.pickup_probability(i, pickup_lead)),
            dropoff_probability=_probability(
                view.dropoff_probability(leg.end.index, dropoff_lead)
            )
            if docked_end
            else None,
            rental_uris=_uris(view, i),
            pricing_plan_id=plan_used.id if plan_used is not None else None,
        )
        return Leg(
            mode=view.mode,
            from_=start,
            to=end,
            start=self.clock(leg.depart_s),
            end=self.clock(leg.arrive_s),
            duration_s=leg.duration_s,
            distance_m=round(leg.distance_m, 1),
            geometry=self._ride_geometry(leg, view, end) if draw else straight(start, end),
            rental=rental,
            co2_g=co2_g(view.mode, leg.distance_m, view.g_co2_km),
        )

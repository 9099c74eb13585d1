"""Trips that combine walking, transit and shared vehicles: the multi-criteria planner.

The result should be the Pareto set over (arrival, price, transfers). Price is not known in
here (the edge prices legs), but every way a trip can be paid for is a *combination*: walk
and transit only; a rental as the access to transit, as the egress from it, or both; a
rental in the middle, between two transit rides; or a rental the whole way. Each
combination is searched on its own, because one search over all of them would let a faster
paid option hide a slower free one:

* walk + transit: the ordinary `Planner.plan` (and the direct walk);
* per fleet, a *chain* search (`RentalSearch`: walk -> vehicle -> ride -> return -> walk)
  from the origin to every stop and to the destination (access and direct), and from every
  stop to the destination (egress);
* per (access option, egress option) pair, one RAPTOR run with those stop times; RAPTOR's
  rounds give the (arrival, transfers) front of that combination;
* mid-trip: RAPTOR from the origin without a target gives the earliest arrival by ride at
  every stop; one chain search seeded at all those stops gives the earliest arrival at every
  other stop after a rental; a second RAPTOR from there reaches the destination. The rides
  before the rental are the ride-earliest ones to the stop where it starts.

The edge prices the union and keeps what no other itinerary beats on all three criteria.
Within a combination the search is exact for arrival and transfers; across combinations the
price decides. What is approximate is said where it is: mid-trip keeps one arrival per stop
(not one per round), and only depart-at queries get mid-trip rentals.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from routing.errors import QueryError, RoutingError
from routing.fleet import RentalFleet
from routing.journey import Journey, Leg, Rental, Ride, Spot, SpotKind, StreetWalk, Walk
from routing.planner import Plan, Planner, PlanOptions, ReasonCode
from routing.raptor import Raptor, StopTimes
from routing.rental import ChainTimes, RentalChain, RentalSearch, WalkPoints
from routing.streets import StreetGraph
from routing.timetable import INF_TIME

#: most journeys kept per combination before the edge prices and filters them
_PER_COMBINATION = 4


@dataclass(frozen=True)
class FleetRoles:
    """Where in a trip a fleet may be used."""

    access: bool = True
    egress: bool = True
    direct: bool = True
    mid: bool = True


@dataclass(frozen=True)
class MultiModalOptions:
    """What a multimodal request may tune beyond `PlanOptions`."""

    plan: PlanOptions = field(default_factory=PlanOptions)
    transit: bool = True  # offer itineraries with public transport
    walk_only: bool = True  # offer the direct walk
    max_ride_s: int = 1800  # longest ride of one rental
    max_vehicle_walk_m: float = 500.0  # farthest walk to or from a vehicle or station

    def check(self) -> None:
        """Raise QueryError naming the first option out of range."""
        self.plan.check()
        if not 60 <= self.max_ride_s <= 4 * 3600:
            raise QueryError(f"max_ride_s must be in 60..14400, got {self.max_ride_s}")
        if not 0 <= self.max_vehicle_walk_m <= 5000 or math.isnan(self.max_vehicle_walk_m):
            raise QueryError(
                f"max_vehicle_walk_m must be in 0..5000, got {self.max_vehicle_walk_m}"
            )


def _times(chains: ChainTimes, stops: np.ndarray, n: int) -> StopTimes:
    """The first `n` targets of a chain search (the stops) as RAPTOR access/egress times."""
    t = chains.time_s[:n]
    ok = np.isfinite(t)
    return StopTimes(stops[ok].astype(np.int32), np.ceil(t[ok]).astype(np.int32))


class _End(NamedTuple):
    """One way onto or off transit: on foot (fleet -1, no chains) or by a fleet's rental
    chains, with the stop times RAPTOR takes for it.
    """

    fleet: int
    chains: ChainTimes | None
    times: StopTimes


@dataclass
class _RentalEnds:
    """What one plan's chain searches found at the trip's ends."""

    direct: list[tuple[int, RentalChain]] = field(default_factory=list)  # (fleet, whole way)
    access: list[_End] = field(default_factory=list)  # rentals from the origin to stops
    egress: list[_End] = field(default_factory=list)  # rentals from stops to the destination


class MultiModalPlanner:
    """One worker's multimodal planner for one service day; not thread-safe."""

    def __init__(self, planner: Planner, rental: RentalSearch | None) -> None:
        self.planner = planner
        self.rental = rental
        #: a second forward searcher: mid-trip keeps the first half's labels while it runs
        #: the second half on the planner's own
        self._first_half = Raptor(planner.timetable)
        targets = planner.stop_targets
        self._stops = targets.stops
        self._stop_points = WalkPoints(
            targets.edge, targets.fraction, targets.offset_m, np.zeros(len(targets.stops))
        )

    def warm_up(self) -> None:
        """Run one small plan of every kind (docked and free-floating fleets on every ride
        graph; depart-at and arrive-by) so numba compiles every kernel before the first
        request: a cold request would otherwise spend seconds of its budget compiling.
        """
        if self.rental is None or len(self._stops) < 2:
            return
        fleets = [
            self._warm_up_fleet(profile, ride, docked)
            for profile, ride in self.rental.rides.items()
            if ride.n_nodes
            for docked in (False, True)
        ]
        a, b = int(self._stops[0]), int(self._stops[len(self._stops) // 2])
        stops = self.planner.stops
        for arrive_by in (False, True):
            with contextlib.suppress(RoutingError):
                self.plan(
                    float(stops.lat[a]),
                    float(stops.lon[a]),
                    float(stops.lat[b]),
                    float(stops.lon[b]),
                    8 * 3600,
                    MultiModalOptions(plan=PlanOptions(arrive_by=arrive_by)),
                    fleets,
                    [FleetRoles()] * len(fleets),
                )

    def _warm_up_fleet(self, profile: str, ride: StreetGraph, docked: bool) -> RentalFleet:
        """A made-up fleet on the first few stops (valid indexes; the answer is thrown away)."""
        k = min(3, len(self._stops))
        points = self._stop_points
        nodes = (np.arange(k, dtype=np.int32) * 7) % ride.n_nodes
        n_docks = k if docked else 0  # a free-floating fleet has no drop-off stations
        return RentalFleet(
            profile=profile,
            docked=docked,
            pickup_walk_edge=points.edge[:k].copy(),
            pickup_walk_fraction=points.fraction[:k].copy(),
            pickup_walk_offset_m=points.offset_m[:k].copy(),
            pickup_ride_node=nodes,
            pickup_ride_offset_m=np.zeros(k),
            pickup_range_m=np.array([np.inf, 5000.0, 800.0][:k]),
            dropoff_walk_edge=points.edge[:n_docks].copy(),
            dropoff_walk_fraction=points.fraction[:n_docks].copy(),
            dropoff_walk_offset_m=points.offset_m[:n_docks].copy(),
            dropoff_ride_node=nodes[:n_docks].copy(),
            dropoff_ride_offset_m=np.zeros(n_docks),
            node_can_end=np.ones(ride.n_nodes, dtype=np.bool_),
            edge_time_s=ride.edge_time_s,
            edge_blocked=np.zeros(ride.n_edges, dtype=np.bool_),
            ride_speed_mps=4.5,
            unlock_s=30,
            lock_s=30,
        )

    # -- the query -------------------------------------------------------------------------
    def plan(
        self,
        origin_lat: float,
        origin_lon: float,
        dest_lat: float,
        dest_lon: float,
        time_s: int,
        options: MultiModalOptions,
        fleets: Sequence[RentalFleet] = (),
        roles: Sequence[FleetRoles] = (),
    ) -> Plan:
        """Journeys of every allowed combination; `Rental.fleet` indexes `fleets`."""
        rental = self._checked_rental(options, fleets, roles)
        opts = options.plan
        base = self.planner.plan(origin_lat, origin_lon, dest_lat, dest_lon, time_s, opts)
        journeys = _allowed_modes(base.journeys, options)
        if rental is not None:
            walk_s = options.max_vehicle_walk_m / opts.walk_speed_mps
            ends = self._rental_ends(rental, base, fleets, roles, options, walk_s)
            journeys += [self._direct(i, chain, time_s, opts.arrive_by) for i, chain in ends.direct]
            if options.transit and base.access is not None and base.egress is not None:
                journeys += self._combinations(ends, base.access, base.egress, time_s, opts)
                journeys += self._mid_trips(rental, base, fleets, roles, time_s, options, walk_s)
        return _answer(base, _unique(journeys))

    def _checked_rental(
        self, options: MultiModalOptions, fleets: Sequence[RentalFleet], roles: Sequence[FleetRoles]
    ) -> RentalSearch | None:
        """Check the request against this network: the rental search the fleets need, or None
        when the request has no fleets (the query then never touches `self.rental`).
        """
        options.check()
        if len(roles) != len(fleets):
            raise QueryError(f"{len(fleets)} fleets but {len(roles)} role sets")
        if not fleets:
            return None
        rental = self.rental
        if rental is None:
            raise QueryError("this network has no bike or car streets for shared vehicles")
        n_walk_edges = self.planner.walk.n_edges
        for f in fleets:
            ride = rental.rides.get(f.profile)
            if ride is None:
                raise QueryError(f"no {f.profile} street graph for a fleet on it")
            f.check(n_walk_edges, ride.n_nodes, ride.n_edges)
        return rental

    def _rental_ends(
        self,
        rental: RentalSearch,
        base: Plan,
        fleets: Sequence[RentalFleet],
        roles: Sequence[FleetRoles],
        options: MultiModalOptions,
        walk_s: float,
    ) -> _RentalEnds:
        """Per fleet, the chain searches at the trip's two ends: from the origin (a rental the
        whole way, or to transit) and to the destination (from transit).
        """
        origin = WalkPoints.of_snaps([base.origin])
        destination = WalkPoints.of_snaps([base.destination])
        targets = _concat(self._stop_points, destination)
        ends = _RentalEnds()
        for i, (fleet, role) in enumerate(zip(fleets, roles, strict=True)):
            if role.access or role.direct:
                self._from_origin(rental, i, fleet, role, origin, targets, options, walk_s, ends)
            if role.egress and options.transit:
                self._to_destination(rental, i, fleet, destination, options, walk_s, ends)
        return ends

    def _from_origin(
        self,
        rental: RentalSearch,
        index: int,
        fleet: RentalFleet,
        role: FleetRoles,
        origin: WalkPoints,
        targets: WalkPoints,
        options: MultiModalOptions,
        walk_s: float,
        ends: _RentalEnds,
    ) -> None:
        """One forward chain search from the origin to every stop and the destination (the
        last target): the rental the whole way, and the stops it reaches as transit access.
        """
        n_stops = len(self._stops)
        fw = rental.forward(
            origin,
            fleet,
            targets,
            max_walk_s=walk_s,
            max_ride_s=options.max_ride_s,
            walk_speed_mps=options.plan.walk_speed_mps,
        )
        if role.direct and math.isfinite(fw.time_s[n_stops]):
            chain = fw.chain(n_stops)
            if chain is not None:
                ends.direct.append((index, chain))
        if role.access and options.transit:
            times = _times(fw, self._stops, n_stops)
            if len(times.stops):
                ends.access.append(_End(index, fw, times))

    def _to_destination(
        self,
        rental: RentalSearch,
        index: int,
        fleet: RentalFleet,
        destination: WalkPoints,
        options: MultiModalOptions,
        walk_s: float,
        ends: _RentalEnds,
    ) -> None:
        """One backward chain search from every stop to the destination: transit egress."""
        bw = rental.backward(
            destination,
            fleet,
            self._stop_points,
            max_walk_s=walk_s,
            max_ride_s=options.max_ride_s,
            walk_speed_mps=options.plan.walk_speed_mps,
        )
        times = _times(bw, self._stops, len(self._stops))
        if len(times.stops):
            ends.egress.append(_End(index, bw, times))

    def _combinations(
        self,
        ends: _RentalEnds,
        walk_access: StopTimes,
        walk_egress: StopTimes,
        time_s: int,
        opts: PlanOptions,
    ) -> list[Journey]:
        """One transit search per (access, egress) pair with a rental at one end or both (the
        walk-walk pair is the base plan's), each journey spliced with the chains it used.
        """
        walked_to = _End(-1, None, walk_access)
        walked_from = _End(-1, None, walk_egress)
        pairs = [(a, walked_from) for a in ends.access] + [(walked_to, e) for e in ends.egress]
        pairs += [(a, e) for a in ends.access for e in ends.egress]
        return [
            self._splice(a.fleet, a.chains, e.fleet, e.chains, j)
            for a, e in pairs
            for j in self._transit(a.times, e.times, time_s, opts)[:_PER_COMBINATION]
        ]

    def _mid_trips(
        self,
        rental: RentalSearch,
        base: Plan,
        fleets: Sequence[RentalFleet],
        roles: Sequence[FleetRoles],
        time_s: int,
        options: MultiModalOptions,
        walk_s: float,
    ) -> list[Journey]:
        """Rentals between two rides, for the fleets allowed mid-trip (depart-at only)."""
        opts = options.plan
        mid = [i for i, role in enumerate(roles) if role.mid]
        if not mid or opts.arrive_by or opts.window_s:
            return []
        first_half = self._first_half_seeds(base, time_s, opts)
        journeys: list[Journey] = []
        for i in mid:
            journeys += self._mid_trip(
                rental, i, fleets[i], base, first_half, time_s, options, walk_s
            )
        return journeys

    # -- pieces ----------------------------------------------------------------------------
    def _transit(
        self, access: StopTimes, egress: StopTimes, time_s: int, opts: PlanOptions
    ) -> list[Journey]:
        transit = self.planner.transit
        if opts.arrive_by:
            return transit.arrive_by(access, egress, time_s, max_transfers=opts.max_transfers)
        if opts.window_s:
            return transit.depart_window(
                access, egress, time_s, opts.window_s, max_transfers=opts.max_transfers
            )
        return transit.depart_at(access, egress, time_s, max_transfers=opts.max_transfers)

    def _direct(self, fleet: int, chain: RentalChain, time_s: int, arrive_by: bool) -> Journey:
        total = chain.walk_to_s + chain.rental_s + chain.walk_from_s
        start = time_s - total if arrive_by else time_s
        return Journey(
            tuple(
                _chain_legs(fleet, chain, start, Spot(SpotKind.ORIGIN), Spot(SpotKind.DESTINATION))
            )
        )

    def _splice(
        self,
        fa: int,
        access: ChainTimes | None,
        fe: int,
        egress: ChainTimes | None,
        journey: Journey,
    ) -> Journey:
        """Replace the walks at either end of a transit journey by the rental chains used."""
        legs = list(journey.legs)
        first, last = legs[0], legs[-1]
        if access is not None and isinstance(first, Walk) and first.to_stop >= 0:
            chain = access.chain(self._target_of(first.to_stop))
            if chain is not None:
                # leave as late as the first ride allows; the chain fills exactly the walk's slot
                end = first.arrive_s
                total = chain.walk_to_s + chain.rental_s + chain.walk_from_s
                pieces = _chain_legs(
                    fa,
                    chain,
                    end - total,
                    Spot(SpotKind.ORIGIN),
                    Spot(SpotKind.STOP, first.to_stop),
                )
                legs[:1] = pieces
        if egress is not None and isinstance(last, Walk) and last.from_stop >= 0:
            chain = egress.chain(self._target_of(last.from_stop))
            if chain is not None:
                pieces = _chain_legs(
                    fe,
                    chain,
                    last.depart_s,
                    Spot(SpotKind.STOP, last.from_stop),
                    Spot(SpotKind.DESTINATION),
                )
                legs[-1:] = pieces
        return Journey(tuple(legs))

    def _target_of(self, stop: int) -> int:
        """Index of a stop among the chain targets (the planner's snapped stops)."""
        i = int(np.searchsorted(self._stops, stop))
        if i >= len(self._stops) or int(self._stops[i]) != stop:
            raise QueryError(f"stop {stop} is not on the walk graph")
        return i

    def _first_half_seeds(
        self, base: Plan, time_s: int, opts: PlanOptions
    ) -> tuple[WalkPoints, np.ndarray] | None:
        """Every stop a ride reaches from the origin, as chain seeds at its arrival time, and
        their stop indexes; once per plan, shared by every fleet's mid-trip search (the
        rides before the rental come from `self._first_half`, which keeps these labels).
        """
        if base.access is None or base.egress is None or not len(base.access.stops):
            return None
        arrive = self._first_half.reach(base.access, time_s, max_transfers=opts.max_transfers)
        reached = arrive[self._stops]
        ok = reached < INF_TIME
        if not ok.any():
            return None
        seeds = WalkPoints(
            self._stop_points.edge[ok],
            self._stop_points.fraction[ok],
            self._stop_points.offset_m[ok],
            (reached[ok] - time_s).astype(np.float64),
        )
        return seeds, self._stops[ok]

    def _mid_trip(
        self,
        rental: RentalSearch,
        index: int,
        fleet: RentalFleet,
        base: Plan,
        first_half: tuple[WalkPoints, np.ndarray] | None,
        time_s: int,
        options: MultiModalOptions,
        walk_s: float,
    ) -> list[Journey]:
        """Transit, then a rental between two stops, then transit again."""
        opts = options.plan
        if first_half is None or base.egress is None:
            return []
        seeds, seed_stops = first_half
        chains = rental.forward(
            seeds,
            fleet,
            self._stop_points,
            max_walk_s=walk_s,
            max_ride_s=options.max_ride_s,
            walk_speed_mps=opts.walk_speed_mps,
        )
        after = _times(chains, self._stops, len(self._stops))
        if not len(after.stops):
            return []
        found = self.planner.transit.depart_at(
            after, base.egress, time_s, max_transfers=opts.max_transfers
        )
        return self._after_rental(index, chains, seed_stops, found, opts.max_transfers)

    def _after_rental(
        self,
        index: int,
        chains: ChainTimes,
        seed_stops: np.ndarray,
        found: list[Journey],
        max_transfers: int,
    ) -> list[Journey]:
        """The mid-trip journeys of fleet `index`: each second-half journey `found` (the
        best `_PER_COMBINATION`) joined to the rental chain it boarded from and to the rides
        of the last `reach` that brought the rider to the chain's start (one place for this
        rule, so the batch search in `routing.batch` joins them the same way).
        """
        out: list[Journey] = []
        for j in found[:_PER_COMBINATION]:
            first = j.legs[0]
            if not isinstance(first, Walk) or first.to_stop < 0:
                continue
            chain = chains.chain(self._target_of(first.to_stop))
            if chain is None:
                continue
            start_stop = int(seed_stops[chain.seed])
            if start_stop == first.to_stop:
                continue
            before = self._first_half.journey_to(start_stop)
            if before is None:
                continue
            t0 = before.arrive_s
            pieces = _chain_legs(
                index,
                chain,
                t0,
                Spot(SpotKind.STOP, start_stop),
                Spot(SpotKind.STOP, first.to_stop),
            )
            if pieces[-1].arrive_s > j.legs[1].depart_s:  # rounding: the ride would be missed
                continue
            rides = len(before.rides) + len(j.rides)
            if rides - 1 > max_transfers:
                continue
            out.append(Journey((*before.legs, *pieces, *j.legs[1:])))
        return out


def _allowed_modes(journeys: list[Journey], options: MultiModalOptions) -> list[Journey]:
    """The base plan's journeys the request allows: with rides if transit is on, the direct
    walk if walk-only trips are.
    """
    return [j for j in journeys if (options.transit if j.rides else options.walk_only)]


def _answer(base: Plan, journeys: list[Journey]) -> Plan:
    """The base plan with the combined journeys; the reason stays only when none was found."""
    reason, code = (base.reason, base.reason_code) if not journeys else ("", "")
    if not journeys and not base.reason:
        reason = "no itinerary with the allowed modes"
        code = ReasonCode.NO_ITINERARY_WITH_ALLOWED_MODES
    return replace(base, journeys=journeys, reason=reason, reason_code=code)


def _chain_legs(fleet: int, chain: RentalChain, start_s: int, start: Spot, end: Spot) -> list[Leg]:
    """Walk -> rental -> walk from `start` at `start_s` to `end` (zero-length walks dropped)."""
    pickup = Spot(SpotKind.PICKUP, chain.pickup, fleet)
    drop = replace(chain.end, fleet=fleet)
    t1 = start_s + chain.walk_to_s
    t2 = t1 + chain.rental_s
    t3 = t2 + chain.walk_from_s
    legs: list[Leg] = []
    if chain.walk_to_s > 0:
        legs.append(StreetWalk(start, pickup, start_s, t1))
    legs.append(Rental(fleet, chain.pickup, drop, t1, t2, chain.ride_m, chain.edges))
    if chain.walk_from_s > 0:
        legs.append(StreetWalk(drop, end, t2, t3))
    return legs


def _concat(a: WalkPoints, b: WalkPoints) -> WalkPoints:
    return WalkPoints(
        np.concatenate([a.edge, b.edge]).astype(np.int32),
        np.concatenate([a.fraction, b.fraction]),
        np.concatenate([a.offset_m, b.offset_m]),
        np.concatenate([a.cost_s, b.cost_s]),
    )


def _signature(j: Journey) -> tuple[object, ...]:
    parts: list[object] = []
    for leg in j.legs:
        if isinstance(leg, Ride):
            parts.append(("ride", leg.trip, leg.board_stop, leg.alight_stop))
        elif isinstance(leg, Rental):
            parts.append(("rent", leg.fleet, leg.pickup, leg.end, leg.depart_s))
    parts.append(j.arrive_s)
    parts.append(j.depart_s)
    return tuple(parts)


def _unique(journeys: list[Journey]) -> list[Journey]:
    """Drop exact repeats (the same rides and rentals at the same times)."""
    seen: set[tuple[object, ...]] = set()
    out: list[Journey] = []
    for j in journeys:
        key = _signature(j)
        if key not in seen:
            seen.add(key)
            out.append(j)
    return out

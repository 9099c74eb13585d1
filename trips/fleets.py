"""GBFS snapshots -> the dense `RentalFleet`s the router searches, plus the ids to explain them.

One `FleetView` per (provider, vehicle type): the routing core's `routing.fleet.RentalFleet`
(indexes and numbers only) next to everything the edge needs to name, price and explain a
rental (station and vehicle ids, names, deep links, pricing plans, CO2, probabilities).
`RentalFleets` is the per-worker adapter: it holds the ride graphs' spatial indexes (built
once) and caches views per snapshot content, so the 60-second churn of real-time files only
rebuilds the providers whose files changed, and geofencing (which changes rarely) is compiled
once per content.

Off the request path. A background thread (`trips.fleet_refresh.FleetRefresher`) reads the
store's fresh snapshots every refresh period and right after this worker stored a push, a
poll or the synthetic fleets, and calls `RentalFleets.refresh`, which builds the changed
providers and swaps in an immutable mapping. A request asks `RentalFleets.current`, which
only filters that mapping (and drops snapshots gone stale since, by their timestamps). So a
push answered by this worker is planned with at once, and a push to another worker (the
store is shared through Redis) within one refresh period.

Modes. Bicycles and cargo bicycles are BICYCLE_RENTAL; standing and seated scooters and
"other" are SCOOTER_RENTAL; cars are CAR_RENTAL. Mopeds are SCOOTER_RENTAL too: riders and
operators (Felyx, Cityscoot, "e-scooter sharing") call shared e-mopeds scooters, and the
rider choosing "no cars" would not expect one. They ride on the car graph, though: in
Finland, as in most of Europe, a moped uses the carriageway, not cycle paths.

Return constraints. `roundtrip_station` types are left out (a one-way trip cannot use
them) with a note for the rider. `any_station` types use docked semantics over the system's
stations. `free_floating` types end at any ride-graph node where geofencing allows ending.
`hybrid` types are treated as free-floating (the simplest reading; stations also lie on the
street, so ending near one is possible). A type without a constraint is docked when the
system has stations and none of the type's vehicles float free, else free-floating.

Geofencing (GBFS): at a point, the first zone listed (among zones active now and having a
rule for the type) that contains it decides, with the first matching rule of that zone;
outside every such zone the first matching global rule (3.0) applies; with neither,
everything is allowed. Zone precedence is applied to areas: each zone is reduced by the
zones listed before it, and a ride-graph edge is blocked when its polyline intersects the
reduced area of a zone forbidding ride-through, and slowed to the lowest speed limit of the
areas it touches (the global limit counts when the edge is not wholly inside the zones).
Nodes may end a ride where ending is allowed and `station_parking` is not required (a
free-floating vehicle cannot be left at a station here). Free-floating vehicles must also
stand where starting is allowed. Zones with start/end times are applied when active at
`now_s` (by default the newest `last_updated` of the snapshot's files). Zone geometry
stays in lon/lat degrees: every intersection predicate is unchanged by the local
equirectangular projection, which is affine.

Availability probability. Between the snapshot and the rider's arrival, vehicles leave a
station as a Poisson process of rate `STATION_RENTALS_PER_H`; the station still has one when
fewer than `count` left: P = P(Poisson(rate * lead) < count). Docks fill the same way at
`STATION_RETURNS_PER_H`. A free-floating vehicle is taken at its own rate
(`FREE_RENTALS_PER_H` by mode): P = exp(-rate * lead). Returns that refill a station are
ignored, so the station figures lean pessimistic; the rates are stated assumptions, not
fitted. The synthetic churn (`providers.synthetic.churn`) moves vehicles far faster than
these rates (2 % of scooters per 10-second round), so on synthetic data the probabilities
are optimistic about what the simulator will do.

Isolation. Providers are tenants: nothing one of them pushes may break planning for the
others. `RentalFleets` builds each provider's views inside its own guard; a provider
whose snapshot cannot be turned into fleets (a count that cannot be true, or any unexpected
error) is left out of the request with a note for the rider, logged once per snapshot
content with its provider id, and counted in `RentalFleets.failures`. The failure is cached
per content like a view, so a broken feed costs one build, not one per request or refresh.
A refresh builds every rental mode, so a provider one of whose types cannot be built is left
out whole, whatever modes a request asks for. Points
farther from the streets than the snap limit are dropped; a type with nothing left on the
network is noted as such.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt
import scipy.special
import shapely
import shapely.geometry
from cachetools import LRUCache
from scipy.spatial import cKDTree

from network.compiled import Network
from providers.model import (
    RENTAL_MODE_OF_FORM_FACTOR,
    FleetSnapshot,
    FormFactor,
    GeofencingRule,
    PricingPlan,
    RentalUris,
    ReturnConstraint,
    Station,
    StationStatus,
    Vehicle,
    VehicleType,
)
from providers.store.freshness import is_stale
from routing.errors import QueryError
from routing.fleet import RentalFleet
from routing.geo import LocalProjection
from routing.streets import StreetGraph, StreetIndex
from trips.co2 import DEFAULT_G_CO2_KM
from trips.model import RENTAL_MODES, Mode

log = logging.getLogger(__name__)

I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
B = npt.NDArray[np.bool_]

#: the rider's own bicycle (not a rental; no provider)
OWN_BIKE_MODE: Final = Mode.BICYCLE

#: form factor -> rider-facing mode (the table lives with the GBFS model)
_MODE_OF: Final[Mapping[FormFactor, str]] = RENTAL_MODE_OF_FORM_FACTOR

# Timing (seconds): finding, unlocking and adjusting a vehicle, and docking/parking it.
DOCK_UNLOCK_S: Final = 30
DOCK_LOCK_S: Final = 30
LIGHT_UNLOCK_S: Final = 30  # free-floating bicycles, e-bikes, scooters, mopeds
LIGHT_LOCK_S: Final = 30
CAR_UNLOCK_S: Final = 120  # walk round, unlock in the app, adjust seat and mirrors
CAR_LOCK_S: Final = 180  # find a legal spot, park, end the rental
OWN_BIKE_UNLOCK_S: Final = 60  # fetch from the rack, unlock
OWN_BIKE_LOCK_S: Final = 60
RANGE_MARGIN: Final = 1.2
#: the largest g_CO2_km a vehicle type may declare (the parser's bound, checked again here
#: because the store can hold snapshots that did not come through the parser)
MAX_G_CO2_KM: Final = 100_000
#: pace on the straight hops between a vehicle and its ride-graph node
BIKE_HOP_MPS: Final = 4.5
SCOOTER_HOP_MPS: Final = 4.5
CAR_HOP_MPS: Final = 8.0

# Availability rates (events per hour); see the module docstring for the model.
#: Vehicles leaving one docked station. HSL's city bikes made on the order of 3 million rides
#: a season over ~450 stations and ~200 days: ~35 departures per station-day, ~2.5/h over
#: the active day on average and several times that at busy central stations at peak. 6/h
#: sits between, on the careful side for the central stations a planner mostly offers.
STATION_RENTALS_PER_H: Final = 6.0
#: Vehicles returned to one docked station (filling its free docks): the same flow inward.
STATION_RETURNS_PER_H: Final = 6.0
#: One free-floating vehicle being rented. Shared e-scooters in European cities average
#: roughly 3-4 rides per vehicle-day over ~14 active hours (~0.25/h); free-floating bicycles
#: a little fewer; free-floating cars 2-4 rentals per car-day over ~16 h (~0.15/h).
FREE_RENTALS_PER_H: Final[Mapping[str, float]] = {
    Mode.BICYCLE_RENTAL: 0.2,
    Mode.SCOOTER_RENTAL: 0.25,
    Mode.CAR_RENTAL: 0.15,
    OWN_BIKE_MODE: 0.0,
}

#: how many compiled geofencing rule sets to keep (a few providers x types x profiles)
_ZONE_CACHE_SIZE: Final = 32
#: the most vehicles or free docks one station may report. The largest docked stations hold a
#: few hundred vehicles and event "corrals" a few thousand, so a count past this is a defect
#: of the feed, not a busy station; it also keeps every count far inside int32.
MAX_STATION_COUNT: Final = 10_000


class FleetDataError(ValueError):
    """A snapshot holds a value the router cannot use (the feed is wrong, not the query)."""

    def __init__(self, provider_id: str, where: str, value: object, expected: str) -> None:
        self.provider_id = provider_id
        self.where = where
        self.value = value
        self.expected = expected
        super().__init__(f"{where} is {value!r}, expected {expected}")


def rental_mode(vt: VehicleType) -> str:
    """The rider-facing mode of a vehicle type (see the module docstring for mopeds)."""
    return _MODE_OF[vt.form_factor]


def _profile(vt: VehicleType) -> str:
    """The ride graph a type moves on: cars and mopeds on the car graph, the rest on bike."""
    return "car" if vt.form_factor in (FormFactor.CAR, FormFactor.MOPED) else "bike"


def _readonly(*arrays: np.ndarray) -> None:
    """Freeze arrays handed out in views: views are shared between queries."""
    for a in arrays:
        a.setflags(write=False)


@dataclass(frozen=True, eq=False)
class FleetView:
    """A RentalFleet plus everything the edge needs to name, price and explain it.

    Pickup and drop-off arrays run parallel to the fleet's `pickup_*` / `dropoff_*` arrays.
    """

    fleet: RentalFleet
    mode: str  # BICYCLE_RENTAL | SCOOTER_RENTAL | CAR_RENTAL | BICYCLE (own bike)
    provider_id: str | None  # None for the rider's own bike
    provider_name: str | None
    synthetic: bool  # snapshot.source == "synthetic"
    vehicle_type: VehicleType | None
    pricing_plan: PricingPlan | None  # the type's plan; a vehicle's own plan wins per pickup
    g_co2_km: float  # the feed's g_CO2_km, else trips.co2's default for the mode
    co2_source: str  # "feed" | "default"
    return_constraint: str | None
    # pickup -> where it is and what is there
    pickup_lat: F64
    pickup_lon: F64
    pickup_vehicle_id: tuple[str | None, ...]  # free-floating vehicle id, None for a station
    pickup_station_id: tuple[str | None, ...]
    pickup_name: tuple[str, ...]  # station name, or "<type name> <vehicle id>"
    pickup_count: I32  # vehicles of the type available there (1 for a free-floating one)
    pickup_range_m: F64  # current range (inf unknown): the same array as the fleet's
    pickup_uris: tuple[RentalUris | None, ...]  # the vehicle's, else the station's
    pickup_plan: tuple[PricingPlan | None, ...]
    # dropoff -> a station that takes the vehicle back
    dropoff_lat: F64
    dropoff_lon: F64
    dropoff_station_id: tuple[str, ...]
    dropoff_name: tuple[str, ...]
    dropoff_docks: I32  # free docks, -1 when the feed does not say
    #: vehicles leaving a pickup per hour: a station's rentals, or one vehicle's
    pickup_rate_per_h: float = STATION_RENTALS_PER_H
    #: vehicles arriving at a drop-off station per hour (filling its docks)
    dropoff_rate_per_h: float = STATION_RETURNS_PER_H

    def pickup_probability(self, pickup: int, lead_s: float) -> float:
        """P(a vehicle is still there `lead_s` seconds after the snapshot).

        At least one of `pickup_count[pickup]` vehicles remains unless that many leave,
        departures being Poisson at `pickup_rate_per_h` (module docstring).
        """
        count = int(self.pickup_count[pickup])
        return _p_fewer_than(count, self.pickup_rate_per_h, lead_s)

    def dropoff_probability(self, dropoff: int, lead_s: float) -> float:
        """P(a dock is still free `lead_s` seconds after the snapshot); NaN when unknown.

        NaN means the feed does not say how many docks are free (`dropoff_docks` -1): the
        station takes returns, but nothing supports a number.
        """
        docks = int(self.dropoff_docks[dropoff])
        if docks < 0:
            return math.nan
        return _p_fewer_than(docks, self.dropoff_rate_per_h, lead_s)


def _p_fewer_than(count: int, rate_per_h: float, lead_s: float) -> float:
    """P(Poisson(rate * lead) < count): fewer than `count` events in `lead_s` seconds."""
    if count <= 0:
        return 0.0
    mean = rate_per_h * max(float(lead_s), 0.0) / 3600.0
    if mean == 0.0:
        return 1.0
    if math.isinf(mean):
        return 0.0
    return float(scipy.special.pdtr(count - 1, mean))


@dataclass(frozen=True)
class _Rules:
    """One vehicle type's geofencing at one moment: active zones in precedence order."""

    geoms: tuple[shapely.Geometry, ...]  # zone geometry, lon/lat, prepared
    rules: tuple[GeofencingRule, ...]  # the zone's first rule matching the type
    global_rule: GeofencingRule | None

    def at_points(self, lat: F64, lon: F64) -> tuple[B, B]:
        """(ride_start_allowed, may_park) per point; boundary counts as inside."""
        n = len(lat)
        start = np.full(n, self.global_rule.ride_start_allowed if self.global_rule else True)
        park = np.full(n, _may_park(self.global_rule))
        free = np.ones(n, dtype=bool)
        for geom, rule in zip(self.geoms, self.rules, strict=True):
            inside = free & shapely.intersects_xy(geom, lon, lat)
            start[inside] = rule.ride_start_allowed
            park[inside] = _may_park(rule)
            free &= ~inside
        return start, park

    @property
    def zoned(self) -> bool:
        """Whether any rule applies (without one, everything is allowed everywhere)."""
        return bool(self.geoms) or self.global_rule is not None

    @cached_property
    def areas(self) -> tuple[shapely.Geometry, ...]:
        """Each zone minus the zones before it: where its rule is the one that applies."""
        out: list[shapely.Geometry] = []
        before: shapely.Geometry | None = None
        for geom in self.geoms:
            out.append(geom if before is None else shapely.difference(geom, before))
            before = geom if before is None else shapely.union(before, geom)
        return tuple(out)

    @cached_property
    def union(self) -> shapely.Geometry | None:
        """Everything any zone covers (None without zones)."""
        return shapely.union_all(self.geoms) if self.geoms else None


def _may_park(rule: GeofencingRule | None) -> bool:
    """A free-floating ride may end here (station_parking asks for a station: not a node)."""
    return rule is None or (rule.ride_end_allowed and rule.station_parking is not True)


def _kph_to_mps(kph: int | None) -> float:
    return math.inf if kph is None or kph <= 0 else kph / 3.6


@dataclass(frozen=True)
class _RideRules:
    """Geofencing applied to one ride graph: the fleet's three per-graph arrays."""

    node_can_end: B
    edge_time_s: F32
    edge_blocked: B


class _RideGraph:
    """A ride graph with its node KD-tree (metric) and, on demand, an STRtree of its edges."""

    def __init__(self, graph: StreetGraph) -> None:
        self.graph = graph
        min_lon, min_lat, max_lon, max_lat = graph.bbox
        self.projection = LocalProjection((min_lat + max_lat) / 2, (min_lon + max_lon) / 2)
        x, y = self.projection.to_xy(graph.node_lat, graph.node_lon)
        self.tree = cKDTree(np.column_stack([x, y]))
        self.base_time_s = np.ascontiguousarray(graph.edge_time_s, dtype=np.float32)
        self.all_nodes = np.ones(graph.n_nodes, dtype=bool)
        self.no_nodes = np.zeros(graph.n_nodes, dtype=bool)
        self.no_edges = np.zeros(graph.n_edges, dtype=bool)
        _readonly(self.base_time_s, self.all_nodes, self.no_nodes, self.no_edges)

    def nearest(self, lat: F64, lon: F64, max_m: float) -> tuple[I32, F64]:
        """(node, straight distance) of each point's nearest node; -1 / inf beyond max_m."""
        x, y = self.projection.to_xy(lat, lon)
        dist, node = self.tree.query(np.column_stack([x, y]), distance_upper_bound=max_m)
        found = np.isfinite(dist)
        return np.where(found, node, -1).astype(np.int32), np.asarray(dist, dtype=np.float64)

    @cached_property
    def edge_tree(self) -> shapely.STRtree:
        """Every directed edge's polyline in lon/lat (tree item == edge index)."""
        g = self.graph
        counts = np.diff(g.geom_ptr)
        lines = shapely.linestrings(
            np.column_stack([g.geom_lon, g.geom_lat]),
            indices=np.repeat(np.arange(g.n_edges), counts),
        )
        return shapely.STRtree(lines)

    def apply(self, rules: _Rules) -> _RideRules:
        """The fleet arrays for this graph under `rules`."""
        g = self.graph
        _, can_end = rules.at_points(g.node_lat, g.node_lon)
        limit = np.full(g.n_edges, np.inf)
        blocked = np.zeros(g.n_edges, dtype=bool)
        for area, rule in zip(rules.areas, rules.rules, strict=True):
            if shapely.is_empty(area):
                continue
            hit = self.edge_tree.query(area, predicate="intersects")
            if not rule.ride_through_allowed:
                blocked[hit] = True
            limit[hit] = np.minimum(limit[hit], _kph_to_mps(rule.maximum_speed_kph))
        glob = rules.global_rule
        if glob is not None:
            outside = np.ones(g.n_edges, dtype=bool)
            if rules.union is not None:
                outside[self.edge_tree.query(rules.union, predicate="contains")] = False
            if not glob.ride_through_allowed:
                blocked |= outside
            limit[outside] = np.minimum(limit[outside], _kph_to_mps(glob.maximum_speed_kph))
        time_s = self.base_time_s
        if np.isfinite(limit).any():
            capped = (g.edge_length_m / limit).astype(np.float32)
            time_s = np.maximum(self.base_time_s, capped)
        _readonly(can_end, blocked)
        if time_s is not self.base_time_s:
            _readonly(time_s)
        return _RideRules(node_can_end=can_end, edge_time_s=time_s, edge_blocked=blocked)


@dataclass
class _Compiled:
    """A `_Rules` plus its per-profile arrays, built on first use."""

    rules: _Rules
    by_profile: dict[str, _RideRules] = field(default_factory=dict)


_SnapRow = tuple[int, float, float, int, float]
#: what `_snap` gives: (kept point indexes, walk edge, fraction, offset, ride node, ride offset)
_Snapped = tuple[npt.NDArray[np.intp], I32, F64, F64, I32, F64]


@dataclass(frozen=True, slots=True)
class Offered:
    """A vehicle type the router may use: its view."""

    view: FleetView


@dataclass(frozen=True, slots=True)
class NotOffered:
    """A vehicle type left out of planning, and the rider's note saying why."""

    note: str


#: what building one vehicle type gives (`RentalFleets._build`)
TypeOutcome = Offered | NotOffered


@dataclass
class _ProviderEntry:
    """The build cache of one snapshot content: vehicle type id -> its outcome."""

    key: tuple[object, ...]
    outcomes: dict[str, TypeOutcome] = field(default_factory=dict)
    #: (profile, lat, lon) -> (walk edge, fraction, offset, ride node, ride offset): the
    #: snaps of this content, and of the previous content (most vehicles do not move
    #: between two snapshots, and stations never do), so only moved points are snapped
    snaps: dict[tuple[str, float, float], _SnapRow] = field(default_factory=dict)
    previous: dict[tuple[str, float, float], _SnapRow] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class _ProviderFleets:
    """One provider's fleets for one snapshot content; immutable, so requests share it.

    `types` holds (mode, outcome) in the snapshot's vehicle type order; `failure` is the
    rider's note when the whole feed could not be used (`types` is empty then).
    """

    key: tuple[object, ...]
    #: kept for the request-time staleness check (`RentalFleets.current`)
    snapshot: FleetSnapshot
    types: tuple[tuple[str, TypeOutcome], ...] = ()
    failure: str | None = None

    def select(self, wanted: Collection[str]) -> tuple[list[FleetView], list[str]]:
        """The views of the wanted modes, and the notes on what was left out."""
        if self.failure is not None:
            return [], [self.failure]
        chosen = [outcome for mode, outcome in self.types if mode in wanted]
        views = [o.view for o in chosen if isinstance(o, Offered)]
        notes = [o.note for o in chosen if isinstance(o, NotOffered)]
        return views, notes


@dataclass(frozen=True)
class _Points:
    """Candidate pickups or drop-offs before snapping (parallel lists)."""

    lat: list[float] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    vehicle_id: list[str | None] = field(default_factory=list)
    station_id: list[str | None] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    count: list[int] = field(default_factory=list)
    range_m: list[float] = field(default_factory=list)
    uris: list[RentalUris | None] = field(default_factory=list)
    plan: list[PricingPlan | None] = field(default_factory=list)


@dataclass(frozen=True)
class _Placed:
    """A type's candidates after snapping: the points on the network and their snaps."""

    pickups: _Points
    dropoffs: _Points
    docks: list[int]  # free docks per kept drop-off (-1 unknown)
    pickup_snap: _Snapped
    dropoff_snap: _Snapped
    #: how many candidates there were before snapping (to tell "none" from "off the map")
    n_pickups: int
    n_dropoffs: int


class RentalFleets:
    """Per worker: turns snapshots into FleetViews, cached per snapshot content, and keeps
    the current ones ready for requests.

    Two ways in. `refresh(snapshots)` builds every rental mode of the snapshots whose content
    changed and swaps in an immutable mapping; a background thread calls it
    (`trips.fleet_refresh.FleetRefresher`). `current(...)`, the request path, reads that
    mapping: it never builds and never touches a store. `views(snapshots, ...)` builds on
    demand on the caller's thread (tests, tools, and planning until it moves to `current`).

    Threads. `refresh` and `views` share the build caches and serialize on a lock;
    `current`, `own_bike` and `broken` take no lock. The build cache holds one entry per
    provider present in the last `refresh` or `views` call, keyed by the content hashes of
    its files and the set of active geofencing zones; entries of providers no longer
    present are dropped.
    """

    def __init__(self, net: Network, *, max_snap_m: float | None = None) -> None:
        self._walk_index: StreetIndex = net.walk_index
        self._n_walk_edges = net.streets["walk"].n_edges
        self._max_snap_m = self._walk_index.max_snap_m if max_snap_m is None else max_snap_m
        self._rides: dict[str, _RideGraph] = {
            p: _RideGraph(net.streets[p]) for p in ("bike", "car") if p in net.streets
        }
        self._lock = threading.Lock()
        self._entries: dict[str, _ProviderEntry] = {}
        self._zones: LRUCache[tuple[object, ...], _Compiled] = LRUCache(maxsize=_ZONE_CACHE_SIZE)
        #: provider id -> (content key, rider note) of its current content that failed
        self._failed: dict[str, tuple[tuple[object, ...], str]] = {}
        #: what `current` serves: provider id -> its fleets, swapped whole by `refresh`
        self._current: Mapping[str, _ProviderFleets] = MappingProxyType({})
        #: provider id -> how many of its snapshot contents could not be turned into fleets
        #: (one per content, however many requests met it); kept for the worker's lifetime
        self.failures: dict[str, int] = {}

    # -- public API ---------------------------------------------------------------------

    def views(
        self,
        snapshots: Mapping[str, FleetSnapshot],
        *,
        modes: Collection[str],
        providers: Collection[str] | None = None,
        exclude_providers: Collection[str] = (),
        now_s: int | None = None,
    ) -> tuple[list[FleetView], list[str]]:
        """The fleets a query may use, and notes for the rider on what was left out.

        Builds what is not cached yet on the calling thread (waiting for a `refresh` that
        is building at the time).

        Parameters
        ----------
        snapshots
            provider id -> its current snapshot (the store's fresh snapshots).
        modes
            rider-facing modes; only the RENTAL_MODES among them matter here.
        providers
            allow-list of provider ids (None: all); an id with no snapshot gets a note.
        exclude_providers
            provider ids never used.
        now_s
            when geofencing zones with start/end times are judged; default: the newest
            `last_updated` of each snapshot's files.

        Returns
        -------
        (views in snapshot order, then vehicle type order; notes). A type with nothing to
        rent now, or (docked) no station taking returns, gets a note instead of a view.
        """
        wanted = {m for m in modes if m in RENTAL_MODES}
        excluded = set(exclude_providers)
        with self._lock:
            self._forget_gone(snapshots)
            built = {
                pid: self._provider(pid, snap, wanted, now_s)
                for pid, snap in snapshots.items()
                if wanted and _chosen(pid, providers, excluded)
            }
        return _gather(built, snapshots, wanted, providers, excluded)

    def refresh(self, snapshots: Mapping[str, FleetSnapshot]) -> tuple[str, ...]:
        """Build every rental mode of `snapshots` and make them what `current` serves.

        Blocking (a changed snapshot costs its build): call it off the request path. Only
        providers whose content changed are built; the others keep their cached outcome,
        failures included (one build, one log line, one count per content). Geofencing is
        judged at each snapshot's own time, as `views` does by default.

        Parameters
        ----------
        snapshots
            provider id -> its current snapshot (the store's fresh snapshots).

        Returns
        -------
        The ids of the providers whose content is new since the previous refresh.
        """
        with self._lock:
            self._forget_gone(snapshots)
            before = self._current
            ready = {
                pid: self._provider(pid, snap, RENTAL_MODES, None)
                for pid, snap in snapshots.items()
            }
            self._current = MappingProxyType(ready)
        return tuple(
            pid for pid, got in ready.items() if pid not in before or before[pid].key != got.key
        )

    def current(
        self,
        modes: Collection[str],
        *,
        providers: Collection[str] | None = None,
        exclude_providers: Collection[str] = (),
        now_s: int | None = None,
    ) -> tuple[list[FleetView], list[str]]:
        """The prebuilt fleets a query may use, and the notes `views` would give.

        Never builds and never reads a store: it serves what the last `refresh` built
        (nothing before the first one). A snapshot that went stale since that refresh is
        left out here, by its timestamps (`providers.store.freshness.is_stale`), exactly as
        the store's fresh snapshots would leave it out.

        Parameters
        ----------
        modes
            rider-facing modes; only the RENTAL_MODES among them matter here.
        providers
            allow-list of provider ids (None: all); an id with no fresh snapshot gets a note.
        exclude_providers
            provider ids never used.
        now_s
            the request's epoch second, for the staleness check; default: now.

        Returns
        -------
        (views in provider order, then vehicle type order; notes), as `views` returns them.
        """
        now = int(time.time()) if now_s is None else now_s
        served = self._current  # one read: a refresh replaces the whole mapping
        live = {pid: f for pid, f in served.items() if not is_stale(f.snapshot, now)}
        wanted = {m for m in modes if m in RENTAL_MODES}
        return _gather(live, live, wanted, providers, set(exclude_providers))

    def broken(self) -> dict[str, str]:
        """Provider id -> why its current snapshot cannot be used for planning.

        Safe to call from another thread (e.g. a readiness probe): it reads a copy.
        """
        return {pid: note for pid, (_, note) in dict(self._failed).items()}

    def _forget_gone(self, snapshots: Mapping[str, FleetSnapshot]) -> None:
        """Drop the caches and failures of providers that have no snapshot any more."""
        for gone in set(self._entries) - set(snapshots):
            del self._entries[gone]
        for gone in set(self._failed) - set(snapshots):
            del self._failed[gone]

    def _provider(
        self,
        pid: str,
        snap: FleetSnapshot,
        wanted: Collection[str],
        now_s: int | None,
    ) -> _ProviderFleets:
        """One provider's fleets of the wanted modes, inside its own guard (isolation)."""
        content = tuple(sorted((f.name, f.content_sha256) for f in snap.feeds))
        try:
            active = _active_mask(snap, now_s if now_s is not None else _snapshot_time(snap))
        except Exception as exc:  # isolation: an unreadable zone fails this provider only
            return self._failed_fleets(pid, snap, (content, None), exc)
        key = (content, active)
        failed = self._failed.get(pid)
        if failed is not None and failed[0] == key:
            return _ProviderFleets(key, snap, failure=failed[1])
        self._failed.pop(pid, None)
        try:
            types = self._outcomes(pid, snap, wanted, active, key)
        except Exception as exc:  # isolation: no provider's data may fail the request
            return self._failed_fleets(pid, snap, key, exc)
        return _ProviderFleets(key, snap, types)

    def _outcomes(
        self,
        pid: str,
        snap: FleetSnapshot,
        wanted: Collection[str],
        active: tuple[bool, ...],
        key: tuple[object, ...],
    ) -> tuple[tuple[str, TypeOutcome], ...]:
        """(mode, outcome) of each wanted vehicle type (built on first use per content)."""
        entry = self._entries.get(pid)
        if entry is None or entry.key != key:
            previous = entry.snaps if entry is not None else {}
            entry = self._entries[pid] = _ProviderEntry(key, previous=previous)
        out: list[tuple[str, TypeOutcome]] = []
        for vt in snap.vehicle_types:
            mode = rental_mode(vt)
            if mode not in wanted:
                continue
            outcome = entry.outcomes.get(vt.id)
            if outcome is None:
                outcome = entry.outcomes[vt.id] = self._build(snap, vt, active, entry)
            out.append((mode, outcome))
        return tuple(out)

    def _failed_fleets(
        self, pid: str, snap: FleetSnapshot, key: tuple[object, ...], exc: Exception
    ) -> _ProviderFleets:
        """The provider left out for content `key` (recorded once per content)."""
        failed = self._failed.get(pid)
        note = failed[1] if failed is not None and failed[0] == key else self._fail(pid, key, exc)
        return _ProviderFleets(key, snap, failure=note)

    def _fail(self, pid: str, key: tuple[object, ...], exc: Exception) -> str:
        """Record that provider `pid`'s content `key` cannot be used; the rider's note.

        Logged and counted once per content: the note is cached under the same key as views
        are, so later requests on the same content skip the provider without rebuilding.
        """
        self._entries.pop(pid, None)
        self.failures[pid] = self.failures.get(pid, 0) + 1
        if isinstance(exc, FleetDataError):
            reason = str(exc)
            log.warning("provider %s: feed left out of planning: %s", pid, reason)
        else:  # a bug met by this data: the details are for the server's log, not the rider
            reason = f"internal error ({type(exc).__name__}) while reading it"
            log.error(
                "provider %s: building its fleets failed; left out of planning",
                pid,
                exc_info=exc,
            )
        note = f"provider {pid}'s feed could not be used for planning: {reason}"
        self._failed[pid] = (key, note)
        return note

    def own_bike(self, origin_lat: float, origin_lon: float) -> FleetView:
        """The rider's own bicycle, standing at the origin: ridden anywhere, left anywhere.

        Raises routing's OutsideNetworkError when the origin is off the walk graph, and
        QueryError when no bike-graph node lies within the snap limit.
        """
        snap = self._walk_index.snap(origin_lat, origin_lon)
        ride = self._rides["bike"]
        lat = np.array([origin_lat], dtype=np.float64)
        lon = np.array([origin_lon], dtype=np.float64)
        node, dist = ride.nearest(lat, lon, self._max_snap_m)
        if node[0] < 0:
            raise QueryError(
                f"no bike street within {self._max_snap_m:.0f} m of {origin_lat},{origin_lon}"
            )
        fleet = RentalFleet(
            profile="bike",
            docked=False,
            pickup_walk_edge=np.array([snap.edge], dtype=np.int32),
            pickup_walk_fraction=np.array([snap.fraction], dtype=np.float64),
            pickup_walk_offset_m=np.array([snap.offset_m], dtype=np.float64),
            pickup_ride_node=node,
            pickup_ride_offset_m=dist,
            pickup_range_m=np.array([np.inf]),
            dropoff_walk_edge=np.zeros(0, dtype=np.int32),
            dropoff_walk_fraction=np.zeros(0),
            dropoff_walk_offset_m=np.zeros(0),
            dropoff_ride_node=np.zeros(0, dtype=np.int32),
            dropoff_ride_offset_m=np.zeros(0),
            node_can_end=ride.all_nodes,
            edge_time_s=ride.base_time_s,
            edge_blocked=ride.no_edges,
            ride_speed_mps=BIKE_HOP_MPS,
            unlock_s=OWN_BIKE_UNLOCK_S,
            lock_s=OWN_BIKE_LOCK_S,
            range_margin=RANGE_MARGIN,
        )
        return FleetView(
            fleet=fleet,
            mode=OWN_BIKE_MODE,
            provider_id=None,
            provider_name=None,
            synthetic=False,
            vehicle_type=None,
            pricing_plan=None,
            g_co2_km=DEFAULT_G_CO2_KM[OWN_BIKE_MODE],
            co2_source="default",
            return_constraint=None,
            pickup_lat=lat,
            pickup_lon=lon,
            pickup_vehicle_id=(None,),
            pickup_station_id=(None,),
            pickup_name=("Your bicycle",),
            pickup_count=np.ones(1, dtype=np.int32),
            pickup_range_m=fleet.pickup_range_m,
            pickup_uris=(None,),
            pickup_plan=(None,),
            dropoff_lat=np.zeros(0),
            dropoff_lon=np.zeros(0),
            dropoff_station_id=(),
            dropoff_name=(),
            dropoff_docks=np.zeros(0, dtype=np.int32),
            pickup_rate_per_h=0.0,
            dropoff_rate_per_h=0.0,
        )

    # -- building ------------------------------------------------------------------------

    def _build(
        self,
        snap: FleetSnapshot,
        vt: VehicleType,
        active: tuple[bool, ...],
        entry: _ProviderEntry,
    ) -> TypeOutcome:
        """One type's view, or the note saying why it is not offered.

        Raises FleetDataError (or any error a defect meets) when the feed cannot be used;
        the caller leaves the whole provider out then.
        """
        label = f"{snap.system.name} ({snap.provider_id}): {vt.name or vt.id}"
        if vt.return_constraint == ReturnConstraint.ROUNDTRIP_STATION:
            return NotOffered(
                f"{label} must be returned to the station it was taken from (round trip); "
                "not offered for one-way trips"
            )
        profile = _profile(vt)
        ride = self._rides.get(profile)
        if ride is None:
            return NotOffered(f"{label}: the network has no {profile} street graph")
        plans = {p.id: p for p in snap.pricing_plans}
        plan = _type_plan(vt, plans, snap)
        docked = _is_docked(snap, vt)
        if docked:
            pickups, dropoffs, docks = self._docked_points(snap, vt, plan)
        else:
            pickups, dropoffs, docks = self._free_points(snap, vt, plan, plans), _Points(), []
        compiled = self._compiled(snap, vt, active)
        if not docked:
            pickups = _startable(pickups, compiled.rules)
        placed = self._place(pickups, dropoffs, docks, profile, entry)
        note = self._unplaced_note(label, placed, docked)
        if note is not None:
            return NotOffered(note)
        rules = _ride_rules(ride, compiled, profile)
        return Offered(_view(snap, vt, plan, docked, placed, rules, ride))

    def _place(
        self,
        pickups: _Points,
        dropoffs: _Points,
        docks: list[int],
        profile: str,
        entry: _ProviderEntry,
    ) -> _Placed:
        """Snap the candidates; the ones off this network's streets are dropped."""
        p_snap = self._snap(pickups, profile, entry)
        d_snap = self._snap(dropoffs, profile, entry)
        return _Placed(
            pickups=_subset(pickups, p_snap[0]),
            dropoffs=_subset(dropoffs, d_snap[0]),
            docks=[docks[i] for i in d_snap[0]],
            pickup_snap=p_snap,
            dropoff_snap=d_snap,
            n_pickups=len(pickups.lat),
            n_dropoffs=len(dropoffs.lat),
        )

    def _unplaced_note(self, label: str, placed: _Placed, docked: bool) -> str | None:
        """Why the type has nothing the router can use, or None when it has."""
        off_streets = f"within {self._max_snap_m:.0f} m of this network's streets"
        if not placed.pickups.lat:
            if placed.n_pickups:
                return f"{label}: none of its {placed.n_pickups} places to rent lies {off_streets}"
            return f"{label}: none available to rent now"
        if docked and not placed.dropoffs.lat:
            if placed.n_dropoffs:
                return (
                    f"{label}: none of its {placed.n_dropoffs} stations taking returns lies "
                    f"{off_streets}"
                )
            return f"{label}: no station can take a vehicle back now"
        return None

    def _snap(
        self, points: _Points, profile: str, entry: _ProviderEntry
    ) -> tuple[npt.NDArray[np.intp], I32, F64, F64, I32, F64]:
        """(kept indexes, walk edge, fraction, offset, ride node, ride offset) of points
        that lie within the snap limit of both the walk graph and the ride graph.

        Points snapped for this content or the previous one are looked up, not snapped again.
        """
        keys = [(profile, la, lo) for la, lo in zip(points.lat, points.lon, strict=True)]
        rows: list[_SnapRow | None] = []
        for k in keys:
            row = entry.snaps.get(k)
            if row is None:
                row = entry.previous.get(k)
            rows.append(row)
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            lat = np.asarray([points.lat[i] for i in missing], dtype=np.float64)
            lon = np.asarray([points.lon[i] for i in missing], dtype=np.float64)
            edge, fraction, offset = self._walk_index.snap_many(
                lat, lon, max_snap_m=self._max_snap_m
            )
            node, dist = self._rides[profile].nearest(lat, lon, self._max_snap_m)
            for j, i in enumerate(missing):
                rows[i] = (
                    int(edge[j]), float(fraction[j]), float(offset[j]), int(node[j]), float(dist[j])
                )  # fmt: skip
        for k, row in zip(keys, rows, strict=True):
            assert row is not None  # every missing row was just filled
            entry.snaps[k] = row
        table = np.array(rows, dtype=np.float64).reshape(len(rows), 5)
        keep = np.flatnonzero((table[:, 0] >= 0) & (table[:, 3] >= 0))
        if len(keep) < len(rows):
            log.debug(
                "%d of %d points beyond the streets, dropped", len(rows) - len(keep), len(rows)
            )
        kept = table[keep]
        return (
            keep,
            np.ascontiguousarray(kept[:, 0], dtype=np.int32),
            np.ascontiguousarray(kept[:, 1]),
            np.ascontiguousarray(kept[:, 2]),
            np.ascontiguousarray(kept[:, 3], dtype=np.int32),
            np.ascontiguousarray(kept[:, 4]),
        )

    def _docked_points(
        self, snap: FleetSnapshot, vt: VehicleType, plan: PricingPlan | None
    ) -> tuple[_Points, _Points, list[int]]:
        """Stations with a vehicle of the type to rent, and stations with a dock for it."""
        stations = {s.id: s for s in snap.stations}
        only_type = len(snap.vehicle_types) == 1
        at_station = _vehicles_at_stations(snap, vt)
        pickups, dropoffs, docks = _Points(), _Points(), []
        for status in snap.station_status:
            station = stations.get(status.station_id)
            if station is None or not status.is_installed:
                continue
            count = _available(status, vt, only_type, at_station)
            _check_count(snap, station.id, "vehicles available", count, unknown_ok=False)
            if status.is_renting and count > 0:
                ranges = [
                    v.current_range_m
                    for v in at_station.get(station.id, ())
                    if v.current_range_m is not None
                ]
                _append(
                    pickups, station, None, station.name, count,
                    max(ranges) if ranges else math.inf, station.rental_uris, plan,
                )  # fmt: skip
            free = _free_docks(status, vt)
            _check_count(snap, station.id, "free docks", free, unknown_ok=True)
            if status.is_returning and free != 0:
                _append(dropoffs, station, None, station.name, 0, math.inf, None, None)
                docks.append(free)
        return pickups, dropoffs, docks

    def _free_points(
        self,
        snap: FleetSnapshot,
        vt: VehicleType,
        plan: PricingPlan | None,
        plans: Mapping[str, PricingPlan],
    ) -> _Points:
        """Rentable vehicles of the type (a vehicle at a station stands at the station)."""
        stations = {s.id: s for s in snap.stations}
        only_type = len(snap.vehicle_types) == 1
        type_name = vt.name or vt.id
        out = _Points()
        for v in snap.vehicles:
            if v.is_reserved or v.is_disabled:
                continue
            if v.vehicle_type_id != vt.id and not (v.vehicle_type_id is None and only_type):
                continue
            station = stations.get(v.station_id) if v.station_id is not None else None
            if v.lat is not None and v.lon is not None:
                lat, lon = v.lat, v.lon
            elif station is not None:
                lat, lon = station.lat, station.lon
            else:
                continue
            out.lat.append(lat)
            out.lon.append(lon)
            out.vehicle_id.append(v.id)
            out.station_id.append(station.id if station is not None else None)
            out.name.append(station.name if station is not None else f"{type_name} {v.id}")
            out.count.append(1)
            out.range_m.append(v.current_range_m if v.current_range_m is not None else math.inf)
            out.uris.append(v.rental_uris or (station.rental_uris if station is not None else None))
            out.plan.append(plans.get(v.pricing_plan_id, plan) if v.pricing_plan_id else plan)
        return out

    def _compiled(
        self, snap: FleetSnapshot, vt: VehicleType, active: tuple[bool, ...]
    ) -> _Compiled:
        """The type's geofencing rules, cached by geofencing content, type and active zones."""
        key = (snap.provider_id, _geofencing_digest(snap), vt.id, active)
        found = self._zones.get(key)
        if found is not None:
            return found
        geoms: list[shapely.Geometry] = []
        rules: list[GeofencingRule] = []
        for zone, on in zip(snap.geofencing.zones, active, strict=True):
            rule = _matching_rule(zone.rules, vt.id) if on else None
            if rule is None:
                continue
            geom = shapely.geometry.shape(zone.geometry)
            shapely.prepare(geom)
            geoms.append(geom)
            rules.append(rule)
        compiled = _Compiled(
            _Rules(tuple(geoms), tuple(rules), _matching_rule(snap.geofencing.global_rules, vt.id))
        )
        self._zones[key] = compiled  # the least recently used set goes when full
        return compiled


# -- helpers -----------------------------------------------------------------------------


def _startable(pickups: _Points, rules: _Rules) -> _Points:
    """The free-floating vehicles standing where geofencing lets a ride start."""
    if not pickups.lat or not rules.zoned:
        return pickups
    start_ok, _ = rules.at_points(
        np.asarray(pickups.lat, dtype=np.float64), np.asarray(pickups.lon, dtype=np.float64)
    )
    return _subset(pickups, np.flatnonzero(start_ok))


def _ride_rules(ride: _RideGraph, compiled: _Compiled, profile: str) -> _RideRules:
    """The ride graph's arrays under the type's geofencing (applied once per profile)."""
    if not compiled.rules.zoned:
        return _RideRules(ride.all_nodes, ride.base_time_s, ride.no_edges)
    rules = compiled.by_profile.get(profile)
    if rules is None:
        rules = compiled.by_profile[profile] = ride.apply(compiled.rules)
    return rules


def _co2(snap: FleetSnapshot, vt: VehicleType, mode: str) -> tuple[float, str]:
    """(g_CO2_km, "feed" | "default"): the feed's figure when it gives a sane one."""
    g_feed = vt.g_co2_km
    if g_feed is None:
        return DEFAULT_G_CO2_KM[mode], "default"
    if not (math.isfinite(g_feed) and 0 <= g_feed <= MAX_G_CO2_KM):
        raise FleetDataError(
            snap.provider_id,
            f"vehicle type {vt.id!r} g_CO2_km",
            g_feed,
            f"a finite number in 0..{MAX_G_CO2_KM}",
        )
    return float(g_feed), "feed"


def _view(
    snap: FleetSnapshot,
    vt: VehicleType,
    plan: PricingPlan | None,
    docked: bool,
    placed: _Placed,
    rules: _RideRules,
    ride: _RideGraph,
) -> FleetView:
    """The router's fleet and the edge's view of one type, from its snapped points."""
    mode = rental_mode(vt)
    pickups, dropoffs = placed.pickups, placed.dropoffs
    p_snap, d_snap = placed.pickup_snap, placed.dropoff_snap
    range_m = np.asarray(pickups.range_m, dtype=np.float64)
    p_lat, p_lon = (np.asarray(a, dtype=np.float64) for a in (pickups.lat, pickups.lon))
    d_lat, d_lon = (np.asarray(a, dtype=np.float64) for a in (dropoffs.lat, dropoffs.lon))
    count = np.asarray(pickups.count, dtype=np.int32)
    docks = np.asarray(placed.docks, dtype=np.int32)
    _readonly(*p_snap[1:], *d_snap[1:], range_m, p_lat, p_lon, d_lat, d_lon, count, docks)
    unlock_s, lock_s = _timing(vt, docked)
    fleet = RentalFleet(
        profile=_profile(vt),
        docked=docked,
        pickup_walk_edge=p_snap[1],
        pickup_walk_fraction=p_snap[2],
        pickup_walk_offset_m=p_snap[3],
        pickup_ride_node=p_snap[4],
        pickup_ride_offset_m=p_snap[5],
        pickup_range_m=range_m,
        dropoff_walk_edge=d_snap[1],
        dropoff_walk_fraction=d_snap[2],
        dropoff_walk_offset_m=d_snap[3],
        dropoff_ride_node=d_snap[4],
        dropoff_ride_offset_m=d_snap[5],
        node_can_end=ride.no_nodes if docked else rules.node_can_end,
        edge_time_s=rules.edge_time_s,
        edge_blocked=rules.edge_blocked,
        ride_speed_mps=_hop_speed(vt),
        unlock_s=unlock_s,
        lock_s=lock_s,
        range_margin=RANGE_MARGIN,
    )
    g_co2_km, co2_source = _co2(snap, vt, mode)
    constraint = vt.return_constraint
    return FleetView(
        fleet=fleet,
        mode=mode,
        provider_id=snap.provider_id,
        provider_name=snap.system.name,
        synthetic=snap.source == "synthetic",
        vehicle_type=vt,
        pricing_plan=plan,
        g_co2_km=g_co2_km,
        co2_source=co2_source,
        return_constraint=str(constraint) if constraint is not None else None,
        pickup_lat=p_lat,
        pickup_lon=p_lon,
        pickup_vehicle_id=tuple(pickups.vehicle_id),
        pickup_station_id=tuple(pickups.station_id),
        pickup_name=tuple(pickups.name),
        pickup_count=count,
        pickup_range_m=range_m,
        pickup_uris=tuple(pickups.uris),
        pickup_plan=tuple(pickups.plan),
        dropoff_lat=d_lat,
        dropoff_lon=d_lon,
        dropoff_station_id=tuple(s or "" for s in dropoffs.station_id),
        dropoff_name=tuple(dropoffs.name),
        dropoff_docks=docks,
        pickup_rate_per_h=STATION_RENTALS_PER_H if docked else FREE_RENTALS_PER_H[mode],
        dropoff_rate_per_h=STATION_RETURNS_PER_H,
    )


def _chosen(pid: str, providers: Collection[str] | None, excluded: Collection[str]) -> bool:
    """Whether a request's provider filters let it use provider `pid`."""
    return pid not in excluded and (providers is None or pid in providers)


def _gather(
    fleets: Mapping[str, _ProviderFleets],
    present: Collection[str],
    wanted: Collection[str],
    providers: Collection[str] | None,
    excluded: Collection[str],
) -> tuple[list[FleetView], list[str]]:
    """One request's views and notes from the providers' fleets, in provider order.

    `present` are the providers with a usable snapshot: an allow-listed id not among them
    gets a note first.
    """
    notes: list[str] = []
    if providers is not None:
        notes.extend(
            f"no fleet data for provider {pid!r}" for pid in sorted(set(providers) - set(present))
        )
    out: list[FleetView] = []
    if not wanted:
        return out, notes
    for pid, provider in fleets.items():
        if not _chosen(pid, providers, excluded):
            continue
        views, more = provider.select(wanted)
        out.extend(views)
        notes.extend(more)
    return out, notes


def _snapshot_time(snap: FleetSnapshot) -> int:
    """The moment a snapshot describes: its newest file's last_updated."""
    return max((f.last_updated_s for f in snap.feeds), default=0)


def _active_mask(snap: FleetSnapshot, now_s: int) -> tuple[bool, ...]:
    """Per zone: active at now_s (no start/end = always)."""
    return tuple(
        (z.start_s is None or z.start_s <= now_s) and (z.end_s is None or now_s <= z.end_s)
        for z in snap.geofencing.zones
    )


def _geofencing_digest(snap: FleetSnapshot) -> str:
    """Content key of the snapshot's geofencing: the file's hash, else a hash of the rules."""
    record = snap.feed("geofencing_zones")
    if record is not None:
        return record.content_sha256
    if not snap.geofencing.zones and not snap.geofencing.global_rules:
        return "none"
    return hashlib.sha256(repr(snap.geofencing).encode()).hexdigest()


def _matching_rule(rules: Sequence[GeofencingRule], type_id: str) -> GeofencingRule | None:
    """The first rule naming the type or naming no types (GBFS precedence)."""
    return next((r for r in rules if not r.vehicle_type_ids or type_id in r.vehicle_type_ids), None)


def _type_plan(
    vt: VehicleType, plans: Mapping[str, PricingPlan], snap: FleetSnapshot
) -> PricingPlan | None:
    """The type's default plan, else its first listed plan, else the system's only plan."""
    for plan_id in (vt.default_pricing_plan_id, *vt.pricing_plan_ids):
        if plan_id is not None and plan_id in plans:
            return plans[plan_id]
    if len(snap.vehicle_types) == 1 and len(snap.pricing_plans) == 1:
        return snap.pricing_plans[0]
    return None


def _is_docked(snap: FleetSnapshot, vt: VehicleType) -> bool:
    """Docked semantics for any_station types, and for unconstrained types of station systems."""
    constraint = vt.return_constraint
    if constraint == ReturnConstraint.ANY_STATION:
        return True
    if constraint is not None:
        return False
    if not snap.station_status:
        return False
    return not any(
        v.station_id is None and v.lat is not None and v.vehicle_type_id in (vt.id, None)
        for v in snap.vehicles
    )


def _vehicles_at_stations(snap: FleetSnapshot, vt: VehicleType) -> dict[str, list[Vehicle]]:
    """Station id -> rentable vehicles of the type parked there (when the feed lists them)."""
    out: dict[str, list[Vehicle]] = {}
    for v in snap.vehicles:
        rentable = not v.is_reserved and not v.is_disabled
        if rentable and v.station_id is not None and v.vehicle_type_id == vt.id:
            out.setdefault(v.station_id, []).append(v)
    return out


def _available(
    status: StationStatus,
    vt: VehicleType,
    only_type: bool,
    at_station: Mapping[str, list[Vehicle]],
) -> int:
    """Vehicles of the type to rent at a station: the per-type count when the feed gives
    one, else the total for a single-type system, else the vehicles listed there.
    """
    if status.vehicle_types_available:
        return sum(n for t, n in status.vehicle_types_available if t == vt.id)
    if only_type:
        return status.num_vehicles_available
    return len(at_station.get(status.station_id, ()))


def _check_count(
    snap: FleetSnapshot, station_id: str, what: str, value: int, *, unknown_ok: bool
) -> None:
    """Raise FleetDataError for a station count no station can have (before any int32)."""
    low = -1 if unknown_ok else 0  # -1: the feed does not say (free docks only)
    if not low <= value <= MAX_STATION_COUNT:
        raise FleetDataError(
            snap.provider_id,
            f"{what} at station {station_id!r}",
            value,
            f"0..{MAX_STATION_COUNT}",
        )


def _free_docks(status: StationStatus, vt: VehicleType) -> int:
    """Docks that take the type: per-type counts, else the total, else -1 (unknown)."""
    if status.vehicle_docks_available:
        return sum(n for types, n in status.vehicle_docks_available if vt.id in types)
    if status.num_docks_available is not None:
        return status.num_docks_available
    return -1


def _append(
    points: _Points,
    station: Station,
    vehicle_id: str | None,
    name: str,
    count: int,
    range_m: float,
    uris: RentalUris | None,
    plan: PricingPlan | None,
) -> None:
    points.lat.append(station.lat)
    points.lon.append(station.lon)
    points.vehicle_id.append(vehicle_id)
    points.station_id.append(station.id)
    points.name.append(name)
    points.count.append(count)
    points.range_m.append(range_m)
    points.uris.append(uris)
    points.plan.append(plan)


def _subset(points: _Points, keep: npt.NDArray[np.intp]) -> _Points:
    """The points at `keep` (all of them when nothing was dropped)."""
    if len(keep) == len(points.lat):
        return points
    idx = keep.tolist()
    return _Points(
        lat=[points.lat[i] for i in idx],
        lon=[points.lon[i] for i in idx],
        vehicle_id=[points.vehicle_id[i] for i in idx],
        station_id=[points.station_id[i] for i in idx],
        name=[points.name[i] for i in idx],
        count=[points.count[i] for i in idx],
        range_m=[points.range_m[i] for i in idx],
        uris=[points.uris[i] for i in idx],
        plan=[points.plan[i] for i in idx],
    )


def _timing(vt: VehicleType, docked: bool) -> tuple[int, int]:
    """(unlock_s, lock_s) for the type (one place for the timing constants)."""
    if vt.form_factor == FormFactor.CAR:
        return CAR_UNLOCK_S, CAR_LOCK_S
    if docked:
        return DOCK_UNLOCK_S, DOCK_LOCK_S
    return LIGHT_UNLOCK_S, LIGHT_LOCK_S


def _hop_speed(vt: VehicleType) -> float:
    """Pace of the straight hop between a vehicle and its ride-graph node."""
    if vt.form_factor in (FormFactor.CAR, FormFactor.MOPED):
        return CAR_HOP_MPS
    if vt.form_factor in (FormFactor.BICYCLE, FormFactor.CARGO_BICYCLE):
        return BIKE_HOP_MPS
    return SCOOTER_HOP_MPS

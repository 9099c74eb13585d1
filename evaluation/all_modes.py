"""Every mode for every OD pair of a demand table, at several departures: the `OptionTable`
the mobility-wide evaluation (issue 13) works on.

The routing is `trips.batch.BatchPricing`: per origin and departure one search reaches every
destination, and each journey is priced by /plan's own pricer. This module adds the
evaluation's shape around it:

1. the demand's unique origin and destination points (zone representative points);
2. `MatrixRouter.block`: some origins against every destination at every departure, the
   unit of work (`route_matrix` runs all blocks in this process; `options_block` runs one
   from an `OptionsSpec` of plain data, the network's path and the fleet snapshots, as a
   Dask task would: `evaluation.distributed` can submit it and `assemble` the results);
3. `option_table`: the demand's OD pairs x departures as `pricing.options.TripSlots` (trips
   shared equally between the departures, as accessibility studies average over a peak)
   and, per slot, the options of every family that no other option of the family beats on
   both duration and price (`trips.batch.family_fronts`), with their parts by payee.

What is left out, and said so in `AllModes.left_out`: pairs whose points /plan refuses (off
the embedded streets: the same answer /plan gives them; with `beyond_streets` their walks
are estimated instead and `AllModes.slot_on_streets` marks those slots), slots outside the
zone layer, and options with an unknown price. Own bike to a stop then transit is searched
but not listed (see `trips.batch`); an origin beyond the streets gets no vehicle, not even
mid-trip. Arrive-by and window searches stay with /plan.

On the embedded Helsinki city every peripheral zone lies beyond the streets (the OSM
extracts cover the centre and Alppila), so without `beyond_streets` the table has no
peripheral slot with an option; with it, peripheral residents get walk + transit measured
by straight-line walks while central ones get street walks, which is not the same yardstick
(`evaluation.od_matrix` uses straight lines for every zone for that reason).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from cachetools import LRUCache

from network.compiled import Network
from pricing.demand import Demand
from pricing.names import source_name
from pricing.options import OptionTable, TripSlots
from pricing.zones import ZoneLayer
from providers.model import FleetSnapshot
from routing.batch import Destinations
from trips.batch import BatchPricing, PairBest, Priced, best_of, family_fronts
from trips.request import TripRequest
from trips.service import PlanningService

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass
class MatrixBlock:
    """Some origins' answers to every destination at every departure.

    ``options[i][k][j]`` are origin i's family fronts to destination j at departure k (empty
    when /plan would refuse the pair); ``best`` holds /plan's fastest arrival and cheapest
    price per (i, k, j), -1 where there is none.
    """

    options: list[list[list[list[Priced]]]]
    best_arrive_s: npt.NDArray[np.int64]  # (n_o, n_dep, n_d)
    best_price_minor: npt.NDArray[np.int64]  # (n_o, n_dep, n_d)
    #: seconds per origin: its searches at every departure, pricing included (NaN for an
    #: origin /plan refuses)
    origin_s: list[float] = field(default_factory=list)
    refused_origins: int = 0
    #: origin -> whether /plan can route it (False: refused, or estimated beyond the streets)
    origin_on_streets: list[bool] = field(default_factory=list)


class MatrixRouter:
    """Destinations searched once; origins routed block by block (one thread)."""

    def __init__(
        self,
        service: PlanningService,
        template: TripRequest,
        d_lat: npt.ArrayLike,
        d_lon: npt.ArrayLike,
        departures: Sequence[dt.datetime],
        *,
        beyond_streets: bool = False,
        fleets_at_s: int | None = None,
    ) -> None:
        if not departures:
            raise ValueError("departures is empty; give at least one departure time")
        self.batch = BatchPricing(
            service, template, beyond_streets=beyond_streets, fleets_at_s=fleets_at_s
        )
        self.seconds = [self.batch.seconds(d) for d in departures]
        self.dests: Destinations = self.batch.destinations(d_lat, d_lon)

    def block(
        self, o_lat: npt.ArrayLike, o_lon: npt.ArrayLike, *, progress: Progress | None = None
    ) -> MatrixBlock:
        """The answers of these origins (progress after each origin, of this block)."""
        lats = np.asarray(o_lat, dtype=np.float64)
        lons = np.asarray(o_lon, dtype=np.float64)
        n_o, n_k, n_d = len(lats), len(self.seconds), len(self.dests)
        out = MatrixBlock(
            options=[],
            best_arrive_s=np.full((n_o, n_k, n_d), -1, dtype=np.int64),
            best_price_minor=np.full((n_o, n_k, n_d), -1, dtype=np.int64),
        )
        for i in range(n_o):
            started = time.perf_counter()
            out.origin_on_streets.append(self.batch.on_streets(float(lats[i]), float(lons[i])))
            refused = out.refused_origins
            out.options.append(self._origin(float(lats[i]), float(lons[i]), i, out))
            routed = out.refused_origins == refused
            out.origin_s.append(time.perf_counter() - started if routed else math.nan)
            if progress is not None:
                progress(i + 1, n_o)
        return out

    def _origin(self, lat: float, lon: float, i: int, out: MatrixBlock) -> list[list[list[Priced]]]:
        n_d = len(self.dests)
        origin = self.batch.origin(lat, lon, self.dests)
        if origin is None:
            out.refused_origins += 1
            return [[[] for _ in range(n_d)] for _ in self.seconds]
        rows: list[list[list[Priced]]] = []
        for k, time_s in enumerate(self.seconds):
            found = self.batch.options_at(origin, self.dests, time_s)
            row = []
            for j, options in enumerate(found):
                best: PairBest = best_of(options)
                out.best_arrive_s[i, k, j] = best.arrive_s
                out.best_price_minor[i, k, j] = best.price_minor
                row.append(family_fronts(options))
            rows.append(row)
        return rows


# -- one block as a task (what a Dask worker would run) -----------------------------------


@dataclass(frozen=True)
class OptionsSpec:
    """What every block of one run shares, as plain picklable data: a worker builds its own
    service from it (the network by path, the fleets from the snapshots) and keeps it for
    the run's next blocks.
    """

    run_id: str  # the key a worker keeps the run's router under
    network_dir: str
    template: TripRequest
    departures: tuple[dt.datetime, ...]
    d_lat: np.ndarray
    d_lon: np.ndarray
    #: the providers' snapshots the run plans with, and the epoch second they are read at
    snapshots: tuple[FleetSnapshot, ...]
    fleets_at_s: int
    beyond_streets: bool = False


_THREAD = threading.local()
#: runs whose routers a worker thread keeps
_RUNS_KEPT = 2


def options_block(spec: OptionsSpec, o_lat: np.ndarray, o_lon: np.ndarray) -> MatrixBlock:
    """One task: the answers of a block of origins (a Dask worker can run it; the first
    block of a run on a thread builds the service and the destinations' searches).
    """
    routers: LRUCache[str, MatrixRouter] | None = getattr(_THREAD, "routers", None)
    if routers is None:
        routers = _THREAD.routers = LRUCache(maxsize=_RUNS_KEPT)
    router = routers.get(spec.run_id)
    if router is None:
        router = MatrixRouter(
            _service_of(spec), spec.template, spec.d_lat, spec.d_lon, spec.departures,
            beyond_streets=spec.beyond_streets, fleets_at_s=spec.fleets_at_s,
        )
        routers[spec.run_id] = router
    return router.block(o_lat, o_lon)


def _service_of(spec: OptionsSpec) -> PlanningService:
    """A planning service on the spec's network with exactly the spec's fleets."""
    service = PlanningService(Network.load(Path(spec.network_dir)))
    service.warm_up()
    if service.rental_fleets is not None:
        service.rental_fleets.refresh({s.provider_id: s for s in spec.snapshots})
    return service


def assemble(blocks: Sequence[MatrixBlock]) -> MatrixBlock:
    """Consecutive origin blocks as one (in origin order)."""
    return MatrixBlock(
        options=[row for b in blocks for row in b.options],
        best_arrive_s=np.concatenate([b.best_arrive_s for b in blocks]),
        best_price_minor=np.concatenate([b.best_price_minor for b in blocks]),
        origin_s=[s for b in blocks for s in b.origin_s],
        refused_origins=sum(b.refused_origins for b in blocks),
        origin_on_streets=[x for b in blocks for x in b.origin_on_streets],
    )


def route_matrix(
    router: MatrixRouter,
    o_lat: npt.ArrayLike,
    o_lon: npt.ArrayLike,
    *,
    block_size: int = 16,
    progress: Progress | None = None,
) -> MatrixBlock:
    """Every origin against every destination, in blocks of `block_size` origins."""
    lats = np.asarray(o_lat, dtype=np.float64)
    lons = np.asarray(o_lon, dtype=np.float64)
    n = len(lats)
    blocks = []
    for start in range(0, n, max(block_size, 1)):
        stop = min(start + max(block_size, 1), n)
        blocks.append(router.block(lats[start:stop], lons[start:stop]))
        if progress is not None:
            progress(stop, n)
    return assemble(blocks)


@dataclass(frozen=True)
class AllModes:
    """The option table of a demand over several departures, and what was left out."""

    table: OptionTable
    matrix: MatrixBlock
    #: why slots or options are missing -> how many
    left_out: dict[str, int]
    seconds: float
    #: slot -> both ends on the streets, so its options are /plan's; False: an end was
    #: estimated beyond the streets (`beyond_streets`) or refused (then it has no options)
    slot_on_streets: np.ndarray
    #: demand zone id -> whether its point lies on the streets (vehicles reach only those)
    zone_on_streets: dict[str, bool] = field(default_factory=dict)


def _unique_points(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique points as an (n, 2) array, row -> unique index), exact to 1e-6 degrees."""
    key = np.round(np.column_stack([lat, lon]), 6)
    pts, inverse = np.unique(key, axis=0, return_inverse=True)
    return pts, inverse.reshape(-1)


def all_mode_options(
    service: PlanningService,
    template: TripRequest,
    demand: Demand,
    zones: ZoneLayer,
    departures: Sequence[dt.datetime],
    *,
    block_size: int = 16,
    beyond_streets: bool = False,
    progress: Progress | None = None,
) -> AllModes:
    """Route and price every OD pair of `demand` at every departure (see the module
    docstring); the demand's trips are summed per OD pair and shared between departures.
    `beyond_streets` estimates the walks of points off the streets instead of leaving
    their pairs without options (see `trips.batch.BatchPricing`).
    """
    started = time.perf_counter()
    o_pts, row_o = _unique_points(demand.origin_lat, demand.origin_lon)
    d_pts, row_d = _unique_points(demand.dest_lat, demand.dest_lon)
    router = MatrixRouter(
        service, template, d_pts[:, 0], d_pts[:, 1], departures, beyond_streets=beyond_streets
    )
    matrix = route_matrix(
        router, o_pts[:, 0], o_pts[:, 1], block_size=block_size, progress=progress
    )
    table, left_out, cells = option_table(
        matrix, demand, zones, row_o, row_d, router.seconds, router.batch.currency,
        synthetic_note=_synthetic_note(demand, router.batch),
    )
    d_on = np.array([s is not None for s in router.dests.snaps], dtype=bool)
    o_on = np.array(matrix.origin_on_streets, dtype=bool)
    slot_on = o_on[cells[:, 0]] & d_on[cells[:, 1]]
    left_out["slots_estimated_or_refused_beyond_streets"] = int((~slot_on).sum())
    zone_on = _zone_on_streets(demand, row_o, row_d, o_on, d_on)
    seconds = time.perf_counter() - started
    log.info("options of %d slots in %.1f s (%s left out)", len(table.slots), seconds, left_out)
    return AllModes(table, matrix, left_out, seconds, slot_on, zone_on)


def _zone_on_streets(
    demand: Demand, row_o: np.ndarray, row_d: np.ndarray, o_on: np.ndarray, d_on: np.ndarray
) -> dict[str, bool]:
    """Demand zone id -> its point is on the streets (rows given by coordinates are skipped)."""
    out: dict[str, bool] = {}
    for ids, rows, on in ((demand.origin_id, row_o, o_on), (demand.dest_id, row_d, d_on)):
        for zone_id, point in zip(ids.tolist(), rows.tolist(), strict=True):
            if zone_id:
                out[str(zone_id)] = bool(on[point])
    return out


def _synthetic_note(demand: Demand, batch: BatchPricing) -> str | None:
    notes = []
    if demand.synthetic:
        notes.append(f"SYNTHETIC demand ({source_name(demand.source)})")
    fake = sorted({str(v.provider_id) for v in batch.views if v.synthetic})
    if fake:
        notes.append(f"SYNTHETIC fleets ({', '.join(fake)})")
    return "; ".join(notes) or None


def option_table(
    matrix: MatrixBlock,
    demand: Demand,
    zones: ZoneLayer,
    row_o: np.ndarray,
    row_d: np.ndarray,
    seconds: Sequence[int],
    currency: str,
    *,
    synthetic_note: str | None = None,
) -> tuple[OptionTable, dict[str, int], npt.NDArray[np.int64]]:
    """The demand's OD pairs x departures as slots, their options from `matrix`, what was
    left out, and per slot its (origin, destination) row and column of the matrix.
    """
    pairs: dict[tuple[int, int], float] = {}
    ids: dict[tuple[int, int], tuple[str, str]] = {}
    o_class = zones.classes(zones.assign(demand.origin_lat, demand.origin_lon))
    d_class = zones.classes(zones.assign(demand.dest_lat, demand.dest_lon))
    classes: dict[tuple[int, int], tuple[str, str]] = {}
    outside = 0
    for r in range(len(demand)):
        if not o_class[r] or not d_class[r]:
            outside += 1
            continue
        key = (int(row_o[r]), int(row_d[r]))
        pairs[key] = pairs.get(key, 0.0) + float(demand.trips[r])
        ids[key] = (str(demand.origin_id[r]), str(demand.dest_id[r]))
        classes[key] = (str(o_class[r]), str(d_class[r]))
    slot_cols: dict[str, list[object]] = {
        k: [] for k in ("origin_zone", "dest_zone", "origin_class", "dest_class", "dep", "trips")
    }
    builder = _Options()
    cells: list[tuple[int, int]] = []
    for (o, d), trips in sorted(pairs.items()):
        for k, time_s in enumerate(seconds):
            slot = len(slot_cols["trips"])
            cells.append((o, d))
            for name, value in zip(
                slot_cols, (*ids[o, d], *classes[o, d], time_s, trips / len(seconds)),
                strict=True,
            ):
                slot_cols[name].append(value)
            builder.add(slot, matrix.options[o][k][d])
    slots = TripSlots(
        origin_zone=np.array(slot_cols["origin_zone"], dtype=object),
        dest_zone=np.array(slot_cols["dest_zone"], dtype=object),
        origin_class=np.array(slot_cols["origin_class"], dtype=object),
        dest_class=np.array(slot_cols["dest_class"], dtype=object),
        departure_s=np.array(slot_cols["dep"], dtype=np.int32),
        trips=np.array(slot_cols["trips"], dtype=np.float64),
    )
    no_option = len(slots) - len(set(builder.slot))
    table = builder.table(slots, currency, synthetic_note)
    left_out = {"demand_rows_outside_zones": outside, "slots_without_options": no_option}
    return table, left_out, np.array(cells, dtype=np.int64).reshape(-1, 2)


class _Options:
    """Columns of an OptionTable, filled option by option."""

    def __init__(self) -> None:
        self.slot: list[int] = []
        self.family: list[str] = []
        self.duration_s: list[int] = []
        self.distance_m: list[int] = []
        self.price_minor: list[int] = []
        self.parts: list[tuple[int, str, str, bool, int, str]] = []

    def add(self, slot: int, options: Sequence[Priced]) -> None:
        for o in options:
            if o.price_minor is None:
                continue
            row = len(self.slot)
            self.slot.append(slot)
            self.family.append(o.family)
            self.duration_s.append(o.duration_s)
            self.distance_m.append(o.distance_m)
            self.price_minor.append(o.price_minor)
            self.parts += [(row, *part) for part in o.parts]

    def table(self, slots: TripSlots, currency: str, note: str | None) -> OptionTable:
        parts: list[tuple[object, ...]] = (
            list(zip(*self.parts, strict=True)) if self.parts else [()] * 6
        )
        return OptionTable(
            slots=slots,
            slot=np.array(self.slot, dtype=np.int32),
            family=np.array(self.family, dtype=object),
            duration_s=np.array(self.duration_s, dtype=np.int32),
            distance_m=np.array(self.distance_m, dtype=np.int32),
            price_minor=np.array(self.price_minor, dtype=np.int64),
            part_option=np.array(parts[0], dtype=np.int32),
            part_operator=np.array(parts[1], dtype=object),
            part_kind=np.array(parts[2], dtype=object),
            part_access=np.array(parts[3], dtype=bool),
            part_minor=np.array(parts[4], dtype=np.int64),
            part_vehicle=np.array(parts[5], dtype=object),
            currency=currency,
            synthetic_note=note,
        )

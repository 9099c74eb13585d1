"""A compiled network on disk: one directory of .npy arrays plus `manifest.json`.

Arrays are saved one per file so that loading memory-maps them: loading is near-instant,
and several worker processes serving the same directory share one copy in the page cache.
The manifest records the hash of every input, which is how a build knows it is up to date.

Layout::

    manifest.json              format, input hash, time zone, service dates -> timetable key
    stops/*.npy                stop index -> GTFS id, name, lat, lon, zone
    routes/*.npy               route index -> GTFS id, names, type, agency
    streets/<profile>/*.npy    CSR street graph per profile (walk, bike, car)
    stop_snaps/*.npy           stop index -> position on the walk graph
    walk_pieces/*.npy          walk node -> connected piece, piece -> a trip may start there
    timetables/<key>/*.npy     one service-day timetable, shared by every date with that key
    timetables/<key>/trips/    that timetable's source trips: GTFS id, route, headsign, shape
    shapes/*.npy               shape index -> polyline points (CSR), for transit leg geometry
    fares.json                 the feed's fare rules, compiled by `ingest.fares` (absent: none)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from network.cache import MANIFEST
from pricing.fares import FareSystem, fare_system_from_json
from routing.errors import QueryError, ServiceDateError
from routing.planner import Planner, StopSnaps
from routing.rental import RentalSearch
from routing.streets import StreetGraph, StreetIndex, StreetPieces, StreetSearch
from routing.timetable import Timetable

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
#: the compiled fare rules (pricing.fares JSON), when the feed has any
FARES = "fares.json"
#: a query this long after the start of a compiled service day may still use its timetable
#: when the next day has none (a 01:30 query on the feed's last night)
LATE_NIGHT_HORIZON_S = 30 * 3600
#: service-day starts remembered per loaded network (a few dates are asked for at a time)
_DAY_STARTS_KEPT = 64
#: values `Network.derived` keeps per worker before it starts over
DERIVED_KEPT = 4096

T = TypeVar("T")


class NetworkFileError(FileNotFoundError):
    """A network directory is missing, incomplete or of another format version."""


def save_arrays(directory: Path, arrays: dict[str, np.ndarray]) -> None:
    """One .npy per array (no pickles), so `load_arrays` can memory-map each."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        np.save(directory / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)


def load_arrays(directory: Path, *, mmap: bool = True) -> dict[str, np.ndarray]:
    """Every .npy in `directory`, memory-mapped read-only by default.

    A mapped array is handed out as a plain ndarray view of the map (its `base` is the
    `np.memmap`): the same pages, still shared between workers, but indexing it skips the
    memmap subclass's Python-level `__getitem__` and `__array_finalize__`, which cost more
    than the lookups themselves on the planning path's many small reads.
    """
    if not directory.is_dir():
        raise NetworkFileError(f"network part {directory} is missing")
    if not mmap:
        return {p.stem: np.load(p, allow_pickle=False) for p in sorted(directory.glob("*.npy"))}
    return {
        p.stem: np.asarray(np.load(p, mmap_mode="r", allow_pickle=False))
        for p in sorted(directory.glob("*.npy"))
    }


def dataclass_arrays(obj: Any) -> dict[str, np.ndarray]:
    """A dataclass of arrays as name -> array."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


@dataclass(frozen=True)
class Stops:
    """Stop index -> GTFS id, name, position and fare zone (ids at the edge)."""

    stop_id: np.ndarray
    name: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    zone_id: np.ndarray


@dataclass(frozen=True)
class Routes:
    """Route index -> GTFS id and rider-facing names."""

    route_id: np.ndarray
    short_name: np.ndarray
    long_name: np.ndarray
    route_type: np.ndarray
    agency_id: np.ndarray


@dataclass(frozen=True)
class Trips:
    """One timetable's source trips (Timetable.trip_source indexes these)."""

    trip_id: np.ndarray  # GTFS trip id (the template's, for a frequency-based trip)
    start_time: np.ndarray  # HH:MM:SS start of a frequency-based trip, "" otherwise
    route: np.ndarray
    headsign: np.ndarray
    shape_id: np.ndarray


@dataclass(frozen=True)
class Shapes:
    """shapes.txt in CSR form: shape index -> its points (ids sorted, for binary search)."""

    shape_id: np.ndarray  # shape index -> GTFS shape_id (sorted)
    point_ptr: np.ndarray  # shape index -> first point (len n_shapes + 1)
    lat: np.ndarray  # point -> latitude, in shape_pt_sequence order
    lon: np.ndarray  # point -> longitude

    @classmethod
    def empty(cls) -> Shapes:
        """A table with no shapes (a feed without shapes.txt)."""
        return cls(
            np.array([], dtype=str),
            np.zeros(1, dtype=np.int64),
            np.array([], dtype=np.float64),
            np.array([], dtype=np.float64),
        )

    def points(self, shape_id: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(lats, lons) of one shape, or None if the feed has no such shape."""
        i = int(np.searchsorted(self.shape_id, shape_id))
        if i >= len(self.shape_id) or self.shape_id[i] != shape_id:
            return None
        a, b = int(self.point_ptr[i]), int(self.point_ptr[i + 1])
        return self.lat[a:b], self.lon[a:b]


@dataclass
class Network:
    """A loaded network: tables at the edge, arrays for the routing core, per-worker searchers."""

    path: Path
    manifest: dict[str, Any]
    stops: Stops
    routes: Routes
    streets: dict[str, StreetGraph]
    stop_snaps: StopSnaps | None
    shapes: Shapes = field(default_factory=Shapes.empty)
    fares: FareSystem | None = None  # the feed's fare rules (GTFS Fares v1 or v2), if it has any
    #: the walk graph's pieces and places (None: every edge may be snapped to)
    walk_pieces: StreetPieces | None = None
    _timetables: dict[str, tuple[Timetable, Trips]] = field(default_factory=dict, repr=False)
    _planners: dict[str, Planner] = field(default_factory=dict, repr=False)
    _walk_index: StreetIndex | None = field(default=None, repr=False)
    _walk_search: StreetSearch | None = field(default=None, repr=False)
    _rental_search: RentalSearch | None = field(default=None, repr=False)
    #: service date -> the UTC instant its service day starts (see `service_day_start`)
    _day_starts: dict[str, dt.datetime] = field(default_factory=dict, repr=False)
    _zone: ZoneInfo | None = field(default=None, repr=False)
    _derived: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path) -> Network:
        """Open a compiled network directory (memory-mapped; timetables load on first use)."""
        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise NetworkFileError(
                f"{path} is not a compiled network (no {MANIFEST}); run `fairtrip build` first"
            )
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("format") != FORMAT_VERSION:
            raise NetworkFileError(
                f"{path} has network format {manifest.get('format')}, this fairtrip reads "
                f"{FORMAT_VERSION}; rebuild it"
            )
        stops = Stops(**load_arrays(path / "stops"))
        routes = Routes(**load_arrays(path / "routes"))
        streets = {
            p: StreetGraph.from_arrays(p, load_arrays(path / "streets" / p))
            for p in manifest.get("profiles", [])
        }
        snaps = None
        if (path / "stop_snaps").is_dir():
            snaps = StopSnaps(**load_arrays(path / "stop_snaps"))
        shapes = Shapes(**load_arrays(path / "shapes")) if (path / "shapes").is_dir() else None
        fares = None
        if (path / FARES).is_file():
            try:
                fares = fare_system_from_json(json.loads((path / FARES).read_text()))
            except (ValueError, KeyError, TypeError) as e:
                raise NetworkFileError(
                    f"{path / FARES} is damaged ({e}); rebuild the network"
                ) from e
        pieces = None
        if (path / "walk_pieces").is_dir():
            pieces = StreetPieces.from_arrays(load_arrays(path / "walk_pieces"))
        return cls(
            path, manifest, stops, routes, streets, snaps, shapes or Shapes.empty(), fares, pieces
        )

    # -- what it covers --------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The city or feed name given at build time."""
        return str(self.manifest.get("name", self.path.name))

    @property
    def timezone(self) -> ZoneInfo:
        """The agency time zone every timetable time is relative to."""
        if self._zone is None:
            self._zone = ZoneInfo(self.manifest["timezone"])
        return self._zone

    @property
    def service_dates(self) -> list[str]:
        """Dates with a timetable, ISO format, sorted."""
        return sorted(self.manifest["service_dates"])

    def timetable(self, key: str) -> tuple[Timetable, Trips]:
        """The timetable stored under `key` and its trip table (memory-mapped, cached)."""
        if key not in self._timetables:
            d = self.path / "timetables" / key
            tt = Timetable.from_arrays(load_arrays(d))
            self._timetables[key] = (tt, Trips(**load_arrays(d / "trips")))
        return self._timetables[key]

    # -- time ------------------------------------------------------------------------------
    def service_day_start(self, date: str) -> dt.datetime:
        """Noon minus 12 hours local time: GTFS's zero for times of `date` (differs from
        midnight on daylight-saving days).
        """
        return self._day_start_utc(date).astimezone(self.timezone)

    def _day_start_utc(self, date: str) -> dt.datetime:
        """`service_day_start` in UTC, worked out once per date: every clock time of an
        answer (dozens per itinerary) is this plus seconds.
        """
        start = self._day_starts.get(date)
        if start is None:
            d = dt.date.fromisoformat(date)
            noon = dt.datetime(d.year, d.month, d.day, 12, tzinfo=self.timezone)
            # in UTC: arithmetic on a zone-aware datetime would move the wall clock instead
            start = noon.astimezone(dt.UTC) - dt.timedelta(hours=12)
            if len(self._day_starts) >= _DAY_STARTS_KEPT:
                self._day_starts.clear()  # a long-running worker meets a new date each day
            self._day_starts[date] = start
        return start

    def resolve(self, when: dt.datetime) -> tuple[str, str, int]:
        """(service date, timetable key, seconds into that service day) for an aware datetime."""
        if when.tzinfo is None:
            raise QueryError(f"time {when.isoformat()} needs a UTC offset, e.g. +02:00")
        local = when.astimezone(self.timezone)
        date = local.date().isoformat()
        table = self.manifest["service_dates"]
        if date not in table:
            # after midnight, yesterday's service day may still run (times past 24:00)
            yesterday = (local.date() - dt.timedelta(days=1)).isoformat()
            late = (when - self.service_day_start(yesterday)).total_seconds()
            if yesterday in table and late < LATE_NIGHT_HORIZON_S:
                return yesterday, table[yesterday], round(late)
            raise ServiceDateError(date, self.service_dates)
        seconds = round((when - self.service_day_start(date)).total_seconds())
        return date, table[date], seconds

    def at(self, date: str, seconds: int) -> dt.datetime:
        """Service-day seconds back to an aware local datetime."""
        start = self._day_start_utc(date)
        return (start + dt.timedelta(seconds=seconds)).astimezone(self.timezone)

    # -- per-worker memory ------------------------------------------------------------------
    def derived(self, key: Hashable, make: Callable[[], T]) -> T:
        """`make()`, computed once per worker for `key` and kept for the next requests.

        For values that follow from the network's read-only arrays alone (where a trip
        pattern's stops lie on its shape, each stop's place), which answers ask for again
        and again. Bounded: past `DERIVED_KEPT` values it starts over rather than grow.
        """
        try:
            return self._derived[key]  # type: ignore[no-any-return]
        except KeyError:
            pass
        value = make()
        if len(self._derived) >= DERIVED_KEPT:
            self._derived.clear()
        self._derived[key] = value
        return value

    # -- per-worker searchers ---------------------------------------------------------------
    @property
    def walk_index(self) -> StreetIndex:
        """Snapping index of the walk graph, built once on first use."""
        if self._walk_index is None:
            walk = self.streets.get("walk")
            if walk is None:
                raise QueryError(
                    f"network {self.name} has no street network; coordinates cannot be routed"
                )
            self._walk_index = StreetIndex(walk, pieces=self.walk_pieces)
        return self._walk_index

    @property
    def rental_search(self) -> RentalSearch | None:
        """The shared-vehicle chain searcher (one per worker), None without ride streets."""
        if self._rental_search is None:
            rides = {p: g for p, g in self.streets.items() if p in ("bike", "car")}
            if "walk" not in self.streets or not rides:
                return None
            self._rental_search = RentalSearch(self.streets["walk"], rides)
        return self._rental_search

    def planner(self, key: str) -> Planner:
        """The coordinate-to-coordinate planner for one timetable (one per worker)."""
        if key not in self._planners:
            if self.stop_snaps is None:
                raise QueryError(f"network {self.name} has no street network")
            if self._walk_search is None:
                self._walk_search = StreetSearch(self.streets["walk"])
            tt, _ = self.timetable(key)
            self._planners[key] = Planner(
                self.streets["walk"],
                self.walk_index,
                self.stop_snaps,
                tt,
                walk_search=self._walk_search,
            )
        return self._planners[key]


def write_network(
    path: Path,
    manifest: dict[str, Any],
    *,
    stops: Stops,
    routes: Routes,
    streets: dict[str, StreetGraph],
    stop_snaps: StopSnaps | None,
    timetables: dict[str, tuple[Timetable, Trips]],
    shapes: Shapes | None = None,
    fares: dict[str, Any] | None = None,
    walk_pieces: StreetPieces | None = None,
) -> Path:
    """Write a complete network next to `path`, then swap it in, so a reader never sees half."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    save_arrays(tmp / "stops", dataclass_arrays(stops))
    save_arrays(tmp / "routes", dataclass_arrays(routes))
    for profile, graph in streets.items():
        save_arrays(tmp / "streets" / profile, graph.arrays())
    if stop_snaps is not None:
        save_arrays(tmp / "stop_snaps", dataclass_arrays(stop_snaps))
    if walk_pieces is not None:
        save_arrays(tmp / "walk_pieces", walk_pieces.arrays())
    if shapes is not None and len(shapes.shape_id):
        save_arrays(tmp / "shapes", dataclass_arrays(shapes))
    if fares is not None:
        (tmp / FARES).write_text(json.dumps(fares, sort_keys=True))
    for key, (tt, trips) in timetables.items():
        save_arrays(tmp / "timetables" / key, tt.arrays())
        save_arrays(tmp / "timetables" / key / "trips", dataclass_arrays(trips))
    manifest = {**manifest, "format": FORMAT_VERSION, "profiles": sorted(streets)}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    old = path.with_name(path.name + ".old")
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    if old.exists():
        shutil.rmtree(old)
    log.info("wrote network %s", path)
    return path

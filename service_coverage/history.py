"""Availability history, aggregated: per provider, zone and vehicle type, at a fixed cadence.

`aggregate` turns one provider's snapshot into `ZoneSample` rows; `HistoryStore` keeps them
durably in the SQLite file policies and provider accounts live in, with a retention.

What counts as available (the same reading as `trips.fleets`, which plans with these
vehicles). A free-floating vehicle counts where it stands when it is neither reserved nor
disabled and has coordinates. A vehicle parked at a known station is counted through the
station instead, never twice: at an installed station that is renting, the feed's count
per type (`vehicle_types_available`), else its total for a single-type system, else the
rentable vehicles listed there. A vehicle without a type counts as the type of a
single-type system and is left out otherwise (as the planner does).

Rows. Every zone with residents gets one row per vehicle type of the snapshot at every
sample, also when no vehicle of the type is near ("no vehicle" is a fact the measures
need); a zone without residents gets a row only when a vehicle of the type is in it or in
its reach. The station row of a zone (type "") counts the zone's docked stations (installed
and not virtual): `stations_empty` those with no vehicle to rent now (none available, or
not renting), `stations_full` those taking no vehicle back now (no free dock, or not
returning; a station that does not say how many docks are free is not full), and
`docks_free` the free docks of those returning. Vehicles and stations outside every zone
are not recorded: the zones are the area service is measured over.

Distances. `vehicles_in_reach` counts the available vehicles within walking reach of any
point of the zone (`service_coverage.zones`); `nearest_m` is the walk from the zone's resident point
to the nearest available vehicle of the type: the straight line (`routing.geo.haversine_m`)
times `routing.geo.DETOUR_FACTOR`, rounded to `NEAREST_ROUND_M`, None when the provider has
no available vehicle of the type at all.

Privacy. A row holds counts, a rounded distance and four labels (provider, zone, vehicle
type, form factor): no position, no vehicle id, no station id. A rider's trip is a vehicle
leaving one place and reappearing at another under a new id; at 5-minute cadence with
counts per zone the history only says how many vehicles each zone had, never which.

Storage. Two tables: `coverage_series` names each (provider, zone, type, form factor) once
and `coverage_samples` holds the figures per (sample time, series), clustered by time, so
time-range reads and purges are range scans and a row costs ~25 bytes: 35 days of 5-minute
samples of three providers over the embedded city's 162 zones (~7.6 million rows) take
~190 MB (`bench/coverage.py`). A sample is replaced, not duplicated, when recorded again
(every worker of a server records the same slots). A series whose form factor changes
(a provider redefining a type) starts a new series: the key includes the form factor.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeVar
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from network.cache import cache_root
from providers.model import FleetSnapshot, Station, StationStatus, Vehicle
from routing.geo import DETOUR_FACTOR, haversine_m
from service_coverage.errors import CoverageDataError, HistoryStoreError
from service_coverage.model import ZoneSample
from service_coverage.zones import ServiceZones
from storage.sqlite_file import SchemaVersionError, SqliteFile

log = logging.getLogger(__name__)
T = TypeVar("T")

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: samples older than this (behind the newest one recorded) are purged when recording
DEFAULT_RETENTION_S: Final = 35 * 86_400
#: walks to the nearest vehicle are kept to this many metres (enough for a 400 m reach)
NEAREST_ROUND_M: Final = 10.0
#: the most vehicles or free docks one station may report (as `trips.fleets` allows)
MAX_STATION_COUNT: Final = 10_000
#: schema of the history's tables; a file written by a newer fairtrip is refused
SQLITE_SCHEMA_VERSION: Final = 1
#: the file history goes to when the durable store is not SQLite (a Redis policy store)
HISTORY_FILE_NAME: Final = "history.sqlite3"


# -- aggregation --------------------------------------------------------------------------


@dataclass
class _Points:
    """Available vehicles as weighted points: where, which type (index), how many."""

    lat: list[float] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    type_idx: list[int] = field(default_factory=list)
    count: list[int] = field(default_factory=list)

    def add(self, lat: float, lon: float, type_idx: int, count: int) -> None:
        self.lat.append(lat)
        self.lon.append(lon)
        self.type_idx.append(type_idx)
        self.count.append(count)


@dataclass(frozen=True)
class _StationFigures:
    """Per zone: docked stations, those empty, those full, and free docks."""

    stations: I64
    empty: I64
    full: I64
    docks_free: I64


def aggregate(
    snapshot: FleetSnapshot, zones: ServiceZones, *, sampled_at_s: int
) -> list[ZoneSample]:
    """One provider's availability per zone and vehicle type at `sampled_at_s` (module
    docstring: what is counted, which rows are written).

    Raises
    ------
    CoverageDataError
        a station reports a count no station can have (negative, or above
        `MAX_STATION_COUNT`).
    """
    types = snapshot.vehicle_types
    type_index = {vt.id: i for i, vt in enumerate(types)}
    points = _available_points(snapshot, type_index)
    lat = np.asarray(points.lat, dtype=np.float64)
    lon = np.asarray(points.lon, dtype=np.float64)
    type_idx = np.asarray(points.type_idx, dtype=np.int64)
    count = np.asarray(points.count, dtype=np.int64)
    n_zones, n_types = len(zones), len(types)

    in_zone = np.zeros((n_zones, n_types), dtype=np.int64)
    zone_idx = zones.zone_of(lat, lon)
    ok = zone_idx >= 0
    np.add.at(in_zone, (zone_idx[ok], type_idx[ok]), count[ok])
    in_reach = np.zeros((n_zones, n_types), dtype=np.int64)
    pt, zn = zones.in_reach(lat, lon)
    np.add.at(in_reach, (zn, type_idx[pt]), count[pt])
    nearest = _nearest_walk_m(zones, lat, lon, type_idx, n_types)
    stations = _station_figures(snapshot, zones)

    out: list[ZoneSample] = []
    for z, zone in enumerate(zones.zones):
        for t, vt in enumerate(types):
            if zone.population <= 0 and in_zone[z, t] == 0 and in_reach[z, t] == 0:
                continue
            walk = nearest[z, t]
            out.append(
                ZoneSample(
                    provider_id=snapshot.provider_id,
                    sampled_at_s=sampled_at_s,
                    zone_id=zone.zone_id,
                    vehicle_type_id=vt.id,
                    form_factor=str(vt.form_factor),
                    vehicles=int(in_zone[z, t]),
                    vehicles_in_reach=int(in_reach[z, t]),
                    nearest_m=None if np.isnan(walk) else float(walk),
                    docks_free=0,
                    stations=0,
                    stations_empty=0,
                    stations_full=0,
                )
            )
        if stations.stations[z] > 0:
            out.append(
                ZoneSample(
                    provider_id=snapshot.provider_id,
                    sampled_at_s=sampled_at_s,
                    zone_id=zone.zone_id,
                    vehicle_type_id="",
                    form_factor="",
                    vehicles=0,
                    vehicles_in_reach=0,
                    nearest_m=None,
                    docks_free=int(stations.docks_free[z]),
                    stations=int(stations.stations[z]),
                    stations_empty=int(stations.empty[z]),
                    stations_full=int(stations.full[z]),
                )
            )
    return out


def _vehicle_type(v: Vehicle, type_index: dict[str, int], only: int | None) -> int | None:
    """The vehicle's type index; a typeless vehicle is the single type's, else unknown."""
    if v.vehicle_type_id is None:
        return only
    return type_index.get(v.vehicle_type_id)


def _available_points(snapshot: FleetSnapshot, type_index: dict[str, int]) -> _Points:
    """Every available vehicle as a point: free-floating ones one by one, those at stations
    as one weighted point per (station, type).
    """
    only = 0 if len(type_index) == 1 else None
    stations = {s.id: s for s in snapshot.stations}
    points = _Points()
    # station id -> type index -> rentable vehicles listed there
    listed: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for v in snapshot.vehicles:
        if v.is_reserved or v.is_disabled:
            continue
        t = _vehicle_type(v, type_index, only)
        if t is None:
            continue
        if v.station_id is not None and v.station_id in stations:
            listed[v.station_id][t] += 1
        elif v.lat is not None and v.lon is not None:
            points.add(v.lat, v.lon, t, 1)
    for status in snapshot.station_status:
        station = stations.get(status.station_id)
        if station is None or not status.is_installed or not status.is_renting:
            continue
        for t, n in _station_counts(snapshot, status, type_index, only, listed):
            if n > 0:
                points.add(station.lat, station.lon, t, n)
    return points


def _station_counts(
    snapshot: FleetSnapshot,
    status: StationStatus,
    type_index: dict[str, int],
    only: int | None,
    listed: dict[str, dict[int, int]],
) -> list[tuple[int, int]]:
    """(type index, vehicles to rent) at one station (module docstring: which count)."""
    if status.vehicle_types_available:
        out = [(type_index[t], n) for t, n in status.vehicle_types_available if t in type_index]
    elif only is not None:
        out = [(only, status.num_vehicles_available)]
    else:
        out = list(listed.get(status.station_id, {}).items())
    for _, n in out:
        _check_count(snapshot, status.station_id, "vehicles available", n)
    return out


def _check_count(snapshot: FleetSnapshot, station_id: str, what: str, value: int) -> None:
    """Raise CoverageDataError for a station count no station can have."""
    if not 0 <= value <= MAX_STATION_COUNT:
        raise CoverageDataError(
            snapshot.provider_id,
            f"{what} at station {station_id!r}",
            value,
            f"0..{MAX_STATION_COUNT}",
        )


def _free_docks(status: StationStatus) -> int | None:
    """Free docks at a station: the total, else the sum by type, else None (unknown)."""
    if status.num_docks_available is not None:
        return status.num_docks_available
    if status.vehicle_docks_available:
        return sum(n for _, n in status.vehicle_docks_available)
    return None


def _station_figures(snapshot: FleetSnapshot, zones: ServiceZones) -> _StationFigures:
    """Per zone: docked stations, empty ones, full ones and free docks (module docstring)."""
    n = len(zones)
    figures = _StationFigures(*(np.zeros(n, dtype=np.int64) for _ in range(4)))
    stations: dict[str, Station] = {s.id: s for s in snapshot.stations if not s.is_virtual}
    rows: list[tuple[Station, StationStatus]] = [
        (stations[st.station_id], st)
        for st in snapshot.station_status
        if st.is_installed and st.station_id in stations
    ]
    if not rows:
        return figures
    zone_idx = zones.zone_of([s.lat for s, _ in rows], [s.lon for s, _ in rows])
    for z, (station, status) in zip(zone_idx.tolist(), rows, strict=True):
        if z < 0:
            continue
        _check_count(snapshot, station.id, "vehicles available", status.num_vehicles_available)
        docks = _free_docks(status)
        if docks is not None:
            _check_count(snapshot, station.id, "free docks", docks)
        figures.stations[z] += 1
        if not status.is_renting or status.num_vehicles_available == 0:
            figures.empty[z] += 1
        if not status.is_returning or docks == 0:
            figures.full[z] += 1
        if status.is_returning and docks is not None:
            figures.docks_free[z] += docks
    return figures


def _nearest_walk_m(zones: ServiceZones, lat: F64, lon: F64, type_idx: I64, n_types: int) -> F64:
    """Zone x type -> walk from the zone's resident point to the nearest available vehicle
    of the type, metres rounded to `NEAREST_ROUND_M` (NaN: none of the type).
    """
    out = np.full((len(zones), n_types), np.nan)
    if lat.size == 0 or len(zones) == 0:
        return out
    x, y = zones.projection.to_xy(lat, lon)
    res_lat = np.array([z.lat for z in zones.zones])
    res_lon = np.array([z.lon for z in zones.zones])
    query = np.column_stack((zones.resident_x_m, zones.resident_y_m))
    for t in range(n_types):
        mine = np.flatnonzero(type_idx == t)
        if mine.size == 0:
            continue
        tree = cKDTree(np.column_stack((x[mine], y[mine])))
        _, hit = tree.query(query, k=1)
        near = mine[np.asarray(hit, dtype=np.int64)]
        walk = haversine_m(res_lat, res_lon, lat[near], lon[near]) * DETOUR_FACTOR
        out[:, t] = np.round(walk / NEAREST_ROUND_M) * NEAREST_ROUND_M
    return out


# -- the durable store --------------------------------------------------------------------

_SCHEMA: Final[tuple[str, ...]] = (
    "CREATE TABLE IF NOT EXISTS coverage_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS coverage_series (
        series_id       INTEGER PRIMARY KEY,
        provider_id     TEXT    NOT NULL,
        zone_id         TEXT    NOT NULL,
        vehicle_type_id TEXT    NOT NULL,   -- '': the zone's station row
        form_factor     TEXT    NOT NULL,   -- '': the zone's station row
        last_s          INTEGER NOT NULL,   -- newest sample: retention drops the series with it
        replayed        INTEGER NOT NULL DEFAULT 0,  -- 1: holds replayed samples, never purged
        UNIQUE (provider_id, zone_id, vehicle_type_id, form_factor)
    )""",
    """CREATE TABLE IF NOT EXISTS coverage_samples (
        sampled_at_s      INTEGER NOT NULL,
        series_id         INTEGER NOT NULL, -- coverage_series (no FK: a purge would scan)
        vehicles          INTEGER NOT NULL,
        vehicles_in_reach INTEGER NOT NULL,
        nearest_m         REAL,             -- NULL: the provider has none of the type
        docks_free        INTEGER NOT NULL,
        stations          INTEGER NOT NULL,
        stations_empty    INTEGER NOT NULL,
        stations_full     INTEGER NOT NULL,
        replayed          INTEGER NOT NULL DEFAULT 0, -- 1: `fairtrip service replay` wrote it
        PRIMARY KEY (sampled_at_s, series_id)
    ) WITHOUT ROWID""",
)

_Key = tuple[str, str, str, str]  # (provider_id, zone_id, vehicle_type_id, form_factor)


class HistoryStore:
    """The aggregated availability history in one SQLite file (module docstring).

    Parameters
    ----------
    path
        the SQLite file (shared with policies and provider accounts), or ":memory:".
    retention_s
        samples more than this behind the newest sample of a `record` call are purged by
        that call; None keeps everything (a replay of a past day into its own file).
    timeout_s
        how long a write waits for another process holding the file.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        retention_s: int | None = DEFAULT_RETENTION_S,
        timeout_s: float = 5.0,
    ) -> None:
        if retention_s is not None and retention_s <= 0:
            raise ValueError(f"retention_s must be > 0 or None, got {retention_s}")
        self.path = str(path)
        self.retention_s = retention_s
        try:
            self._db = SqliteFile(
                self.path,
                schema=_SCHEMA,
                meta_table="coverage_meta",
                schema_version=SQLITE_SCHEMA_VERSION,
                timeout_s=timeout_s,
            )
        except SchemaVersionError as exc:
            raise HistoryStoreError(f"{self.path}: availability history {exc}") from exc
        except sqlite3.Error as exc:
            raise HistoryStoreError(
                f"cannot open the availability history {self.path}: {exc}"
            ) from exc

    def _read(self, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self._db.read(fn)
        except sqlite3.Error as exc:
            raise HistoryStoreError(f"availability history: {what} failed: {exc}") from exc

    def _write(self, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self._db.write(fn)
        except sqlite3.Error as exc:
            raise HistoryStoreError(f"availability history: {what} failed: {exc}") from exc

    def record(self, samples: Sequence[ZoneSample], *, replayed: bool = False) -> int:
        """Store samples (replacing any with the same provider, time, zone and type), then
        apply the retention; returns how many were stored.

        `replayed` marks a day filled by `fairtrip service replay` (SYNTHETIC, usually long
        past): the retention keeps those samples, so a demonstration day is not purged by
        the next live record; they go when that day is replayed again or `purge` is called.
        """
        if not samples:
            return 0
        newest_s = max(s.sampled_at_s for s in samples)

        def write(conn: sqlite3.Connection) -> int:
            ids = _series_ids(conn, samples, replayed=replayed)
            conn.executemany(
                "INSERT OR REPLACE INTO coverage_samples (sampled_at_s, series_id, vehicles, "
                "vehicles_in_reach, nearest_m, docks_free, stations, stations_empty, "
                "stations_full, replayed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        s.sampled_at_s,
                        ids[(s.provider_id, s.zone_id, s.vehicle_type_id, s.form_factor)],
                        s.vehicles,
                        s.vehicles_in_reach,
                        s.nearest_m,
                        s.docks_free,
                        s.stations,
                        s.stations_empty,
                        s.stations_full,
                        int(replayed),
                    )
                    for s in samples
                ),
            )
            if self.retention_s is not None:
                _purge(conn, newest_s - self.retention_s, keep_replayed=True)
            return len(samples)

        return self._write("record", write)

    def samples(
        self, *, from_s: int, to_s: int, provider_id: str | None = None
    ) -> list[ZoneSample]:
        """Samples taken at from_s <= t < to_s (one provider's, or all), by time, provider,
        zone and type.
        """
        sql = (
            "SELECT s.provider_id, x.sampled_at_s, s.zone_id, s.vehicle_type_id, s.form_factor, "
            "x.vehicles, x.vehicles_in_reach, x.nearest_m, x.docks_free, x.stations, "
            "x.stations_empty, x.stations_full "
            "FROM coverage_samples x JOIN coverage_series s ON s.series_id = x.series_id "
            "WHERE x.sampled_at_s >= ? AND x.sampled_at_s < ?"
        )
        args: tuple[object, ...] = (from_s, to_s)
        if provider_id is not None:
            sql += " AND s.provider_id = ?"
            args += (provider_id,)
        sql += " ORDER BY x.sampled_at_s, s.provider_id, s.zone_id, s.vehicle_type_id"
        rows = self._read("samples", lambda c: c.execute(sql, args).fetchall())
        return [ZoneSample(*row) for row in rows]

    def purge(self, before_s: int) -> int:
        """Delete the samples taken before `before_s`; returns how many went."""
        return self._write("purge", lambda c: _purge(c, before_s))

    def providers(self) -> list[str]:
        """The providers with samples in the history, sorted."""
        rows = self._read(
            "read",
            lambda c: c.execute(
                "SELECT DISTINCT provider_id FROM coverage_series ORDER BY provider_id"
            ).fetchall(),
        )
        return [str(r[0]) for r in rows]

    def span(self) -> tuple[int, int] | None:
        """(first, last) sample time in the history, or None when it is empty."""
        row = self._read(
            "read",
            lambda c: c.execute(
                "SELECT MIN(sampled_at_s), MAX(sampled_at_s) FROM coverage_samples"
            ).fetchone(),
        )
        return None if row is None or row[0] is None else (int(row[0]), int(row[1]))

    def close(self) -> None:
        """Close the file."""
        self._db.close()


def _series_ids(
    conn: sqlite3.Connection, samples: Iterable[ZoneSample], *, replayed: bool = False
) -> dict[_Key, int]:
    """The series id of every sample's (provider, zone, type, form factor), creating the
    missing ones and moving each series' newest time forward.
    """
    newest: dict[_Key, int] = {}
    for s in samples:
        key = (s.provider_id, s.zone_id, s.vehicle_type_id, s.form_factor)
        newest[key] = max(newest.get(key, s.sampled_at_s), s.sampled_at_s)
    conn.executemany(
        "INSERT INTO coverage_series (provider_id, zone_id, vehicle_type_id, form_factor, "
        "last_s, replayed) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (provider_id, zone_id, "
        "vehicle_type_id, form_factor) DO UPDATE SET last_s = max(last_s, excluded.last_s), "
        "replayed = max(replayed, excluded.replayed)",
        ((*key, t, int(replayed)) for key, t in newest.items()),
    )
    ids: dict[_Key, int] = {}
    for provider_id in {k[0] for k in newest}:
        for sid, zone_id, type_id, form in conn.execute(
            "SELECT series_id, zone_id, vehicle_type_id, form_factor FROM coverage_series "
            "WHERE provider_id = ?",
            (provider_id,),
        ):
            ids[(provider_id, zone_id, type_id, form)] = int(sid)
    return ids


def _purge(conn: sqlite3.Connection, before_s: int, *, keep_replayed: bool = False) -> int:
    """Delete samples before `before_s`, and the series with no sample left; the retention
    keeps replayed samples (and their series), an explicit purge does not.
    """
    only_live = " AND replayed = 0" if keep_replayed else ""
    deleted = conn.execute(
        f"DELETE FROM coverage_samples WHERE sampled_at_s < ?{only_live}", (before_s,)
    ).rowcount
    conn.execute(f"DELETE FROM coverage_series WHERE last_s < ?{only_live}", (before_s,))
    if deleted:
        log.debug("availability history: %d samples before %d purged", deleted, before_s)
    return int(deleted)


def history_path(store_url: str) -> str:
    """The SQLite file the history lives in, for the durable store's URL.

    ``sqlite:///abs/path.sqlite3`` -> that file (history sits with policies and accounts);
    ``sqlite:///:memory:`` -> ":memory:"; a Redis store -> `HISTORY_FILE_NAME` in the cache
    directory (history is volume, not configuration: it does not belong in Redis memory).
    """
    parts = urlsplit(store_url)
    if parts.scheme == "sqlite":
        path = store_url[len("sqlite://") :]
        if path == "/:memory:":
            return ":memory:"
        if parts.netloc or not path.startswith("/") or parts.query or parts.fragment:
            raise HistoryStoreError(
                f"invalid SQLite store URL {store_url!r}; expected sqlite:///abs/path.sqlite3"
            )
        return path
    if parts.scheme in ("redis", "rediss"):
        root = cache_root()
        root.mkdir(parents=True, exist_ok=True)
        return str((root / HISTORY_FILE_NAME).resolve())
    raise HistoryStoreError(
        f"unsupported store URL {store_url!r}; expected sqlite:///... or redis://..."
    )


def open_history_store(
    store_url: str, *, retention_s: int | None = DEFAULT_RETENTION_S
) -> HistoryStore:
    """The history for the durable store's URL (`history_path`)."""
    path = history_path(store_url)
    if path != ":memory:" and not Path(path).parent.is_dir():
        raise HistoryStoreError(
            f"availability history directory {Path(path).parent} does not exist"
        )
    return HistoryStore(path, retention_s=retention_s)

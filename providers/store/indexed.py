"""One stored snapshot with what readers derive from it, built once per snapshot version.

Both backends keep these: `MemoryStore` as its data, `RedisStore` as the in-process copy of
the last good version (what it answers from while Redis is down). The spatial indexes are
scipy `cKDTree`s over unit vectors on the sphere, built lazily on the first nearby query of a
version and never per query. Distances use Redis's own earth radius and haversine, so the two
backends rank and measure identically.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import numpy as np
from scipy.spatial import cKDTree

from providers.model import FleetSnapshot, StationStatus
from providers.store.base import NearbyStation, NearbyVehicle
from providers.store.codec import encode_snapshot
from providers.store.freshness import is_stale

#: the radius Redis uses for GEO distances (src/geohash_helper.c), in metres
EARTH_RADIUS_M = 6372797.560856


def haversine_m(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distances from one point to many, as Redis computes them."""
    p1, p2 = math.radians(lat1), np.radians(lat2)
    dlat = p2 - p1
    dlon = np.radians(lon2) - math.radians(lon1)
    a = np.sin(dlat / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    distance_m: np.ndarray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    return distance_m


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))


class PointIndex:
    """Points of one snapshot (each tagged with its index in the snapshot's tuple)."""

    def __init__(self, items: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> None:
        self.items = items  # point -> index into snapshot.vehicles / snapshot.stations
        self.lat = lat  # point -> latitude, degrees
        self.lon = lon  # point -> longitude, degrees
        self._tree = cKDTree(_unit_vectors(lat, lon)) if len(items) else None

    def query(self, lat: float, lon: float, radius_m: float, limit: int) -> list[tuple[int, float]]:
        """(item index, distance_m) of the points within `radius_m`, nearest first."""
        if self._tree is None:
            return []
        # chord length of the arc, slightly widened so float error never drops a point
        chord = 2 * math.sin(min(radius_m / (2 * EARTH_RADIUS_M), math.pi / 2)) * (1 + 1e-9)
        hits = np.asarray(
            self._tree.query_ball_point(_unit_vectors(np.array([lat]), np.array([lon]))[0], chord),
            dtype=np.int64,
        )
        if hits.size == 0:
            return []
        dist = haversine_m(lat, lon, self.lat[hits], self.lon[hits])
        keep = dist <= radius_m
        hits, dist = hits[keep], dist[keep]
        order = np.lexsort((self.items[hits], dist))[:limit]
        return [(int(self.items[hits[k]]), float(dist[k])) for k in order]


class IndexedSnapshot:
    """A snapshot, its canonical bytes' sha256, its store version, and lazy spatial indexes."""

    def __init__(
        self, snapshot: FleetSnapshot, *, version: str = "", blob: bytes | None = None
    ) -> None:
        self.snapshot = snapshot
        self.version = version
        self.blob_sha256 = hashlib.sha256(
            blob if blob is not None else encode_snapshot(snapshot)
        ).hexdigest()
        self._lock = threading.Lock()
        self._vehicles: PointIndex | None = None
        self._stations: PointIndex | None = None
        self._status_by_station: Mapping[str, StationStatus] | None = None

    @property
    def provider_id(self) -> str:
        """The provider this snapshot belongs to."""
        return self.snapshot.provider_id

    def rentable_vehicles(self) -> list[tuple[int, float, float]]:
        """(index, lat, lon) of the vehicles a rider could take now: what gets indexed."""
        return [
            (i, float(v.lat), float(v.lon))  # plain floats: numpy scalars do not encode
            for i, v in enumerate(self.snapshot.vehicles)
            if v.lat is not None and v.lon is not None and not v.is_reserved and not v.is_disabled
        ]

    def station_points(self) -> list[tuple[int, float, float]]:
        """(index, lat, lon) of every station."""
        return [(i, float(s.lat), float(s.lon)) for i, s in enumerate(self.snapshot.stations)]

    def build_indexes(self) -> None:
        """Build both spatial indexes now (a writer does it, so readers never wait)."""
        self._vehicle_index()
        self._station_index()

    def _vehicle_index(self) -> PointIndex:
        index = self._vehicles
        if index is None:
            with self._lock:  # build once even when many threads ask at the same moment
                if self._vehicles is None:
                    self._vehicles = _point_index(self.rentable_vehicles())
                index = self._vehicles
        return index

    def _station_index(self) -> PointIndex:
        index = self._stations
        if index is None:
            with self._lock:
                if self._stations is None:
                    self._stations = _point_index(self.station_points())
                index = self._stations
        return index

    def status_of(self, station_id: str) -> StationStatus | None:
        """The station's status in this snapshot, if the feed gave one."""
        if self._status_by_station is None:
            self._status_by_station = MappingProxyType(
                {s.station_id: s for s in self.snapshot.station_status}
            )
        return self._status_by_station.get(station_id)

    def nearby_vehicles(
        self, lat: float, lon: float, radius_m: float, limit: int
    ) -> list[NearbyVehicle]:
        """Rentable vehicles of this snapshot within `radius_m`, nearest first."""
        index = self._vehicle_index()
        vehicles = self.snapshot.vehicles
        return [
            NearbyVehicle(self.provider_id, vehicles[i], d)
            for i, d in index.query(lat, lon, radius_m, limit)
        ]

    def nearby_stations(
        self, lat: float, lon: float, radius_m: float, limit: int
    ) -> list[NearbyStation]:
        """Stations of this snapshot within `radius_m`, nearest first."""
        index = self._station_index()
        return [self.station_hit(i, d) for i, d in index.query(lat, lon, radius_m, limit)]

    def station_hit(self, index: int, distance_m: float) -> NearbyStation:
        """The NearbyStation for station number `index` of this snapshot."""
        station = self.snapshot.stations[index]
        return NearbyStation(self.provider_id, station, self.status_of(station.id), distance_m)


def _point_index(points: list[tuple[int, float, float]]) -> PointIndex:
    arr = np.array(points, dtype=np.float64).reshape(-1, 3)
    return PointIndex(arr[:, 0].astype(np.int64), arr[:, 1].copy(), arr[:, 2].copy())


def select(
    entries: Mapping[str, IndexedSnapshot],
    provider_ids: Iterable[str] | None,
    now_s: int | None,
) -> list[IndexedSnapshot]:
    """The entries a nearby query searches: the requested providers, fresh ones when `now_s`."""
    chosen = (
        entries.values()
        if provider_ids is None
        else (entries[p] for p in sorted(set(provider_ids)) if p in entries)
    )
    return [e for e in chosen if now_s is None or not is_stale(e.snapshot, now_s)]


def merge_vehicles(hits: Iterable[NearbyVehicle], limit: int) -> list[NearbyVehicle]:
    """Per-provider results merged nearest first (ties by provider, then vehicle id)."""
    return sorted(hits, key=lambda h: (h.distance_m, h.provider_id, h.vehicle.id))[:limit]


def merge_stations(hits: Iterable[NearbyStation], limit: int) -> list[NearbyStation]:
    """Per-provider results merged nearest first (ties by provider, then station id)."""
    return sorted(hits, key=lambda h: (h.distance_m, h.provider_id, h.station.id))[:limit]


def fresh_mapping(
    entries: Mapping[str, IndexedSnapshot], now_s: int
) -> Mapping[str, FleetSnapshot]:
    """A read-only mapping of the non-stale snapshots, sorted by provider id."""
    return MappingProxyType(
        {pid: e.snapshot for pid, e in sorted(entries.items()) if not is_stale(e.snapshot, now_s)}
    )


def digest_of(blob_sha256_by_provider: Mapping[str, str]) -> str:
    """sha256 over `provider_id<TAB>sha256(blob)` lines sorted by provider: one per store state."""
    h = hashlib.sha256()
    for pid in sorted(blob_sha256_by_provider):
        h.update(f"{pid}\t{blob_sha256_by_provider[pid]}\n".encode())
    return h.hexdigest()

"""Stops near a point, and stops by GTFS id: indexes a service builds once per worker."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from routing.geo import LocalProjection, haversine_m

#: the projection is local; candidates within a little more than the radius are re-checked
#: with the exact great-circle distance
_SLACK = 1.05


@dataclass(frozen=True)
class NearStop:
    """A stop index and its great-circle distance from the query point."""

    stop: int
    distance_m: float


class StopIndex:
    """A k-d tree over stop positions in a metric projection centred on the network."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray, stop_ids: np.ndarray) -> None:
        self.lat = np.asarray(lat, dtype=np.float64)
        self.lon = np.asarray(lon, dtype=np.float64)
        centre_lat = float(np.mean(self.lat)) if len(self.lat) else 0.0
        centre_lon = float(np.mean(self.lon)) if len(self.lon) else 0.0
        self.projection = LocalProjection(centre_lat, centre_lon)
        x, y = self.projection.to_xy(self.lat, self.lon)
        self.tree = cKDTree(np.column_stack([x, y])) if len(x) else None
        self.by_id = {str(s): i for i, s in enumerate(stop_ids.tolist())}

    def near(self, lat: float, lon: float, radius_m: float, *, limit: int) -> list[NearStop]:
        """Stops within `radius_m` of (lat, lon), nearest first, at most `limit`."""
        if self.tree is None:
            return []
        x, y = self.projection.to_xy(lat, lon)
        found = self.tree.query_ball_point([float(x), float(y)], radius_m * _SLACK + 1.0)
        if not found:
            return []
        idx = np.asarray(found, dtype=np.int64)
        d = haversine_m(self.lat[idx], self.lon[idx], lat, lon)
        keep = d <= radius_m
        idx, d = idx[keep], d[keep]
        order = np.lexsort((idx, d))[:limit]
        return [NearStop(int(idx[k]), float(d[k])) for k in order]

    def lookup(self, stop_id: str) -> int | None:
        """The dense index of a GTFS stop id, or None."""
        return self.by_id.get(stop_id)

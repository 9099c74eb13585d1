"""The zones service is measured in: demand zones with residents, and fast lookups on them.

A service zone is a demand zone (``zone_id``, ``class`` central/peripheral, ``population``)
read from the same GeoJSON the pricing side reads (`pricing.zones.ZoneLayer.from_geojson`
does the strict parsing), plus a whole-number ``population`` >= 0 per feature. For the
embedded city that is `data/helsinki/demand/demand-zones.geojson`, whose populations are
real HSY figures in the centre and SYNTHETIC estimates elsewhere (see its README).

Residents are taken to live at one point per zone: its centroid (or, for a zone whose
centroid falls outside it, a point shapely guarantees inside). The zones are small (250 m
cells in the centre, 1 km outside), so this moves nobody by more than ~700 m.

Everything is built once, when the zones are loaded: the point-in-zone STRtree (the layer's
own), a local metric projection around the zones, the zone polygons in that projection in a
second STRtree for "within walking reach" queries, and the resident points in metres.
"Within walking reach" of a zone means a walk of at most `REACH_M` from some point of the
zone, a walk being the straight line times `routing.geo.DETOUR_FACTOR`; so a point is in
reach when its straight-line distance to the polygon is at most `REACH_STRAIGHT_M`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import shapely

from network.embedded import data_dir
from pricing.zones import ZoneError, ZoneLayer
from routing.geo import DETOUR_FACTOR, LocalProjection
from service_coverage.model import REACH_M, ServiceZone

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

#: straight-line metres that walk `REACH_M` (a walk is the straight line x the detour factor)
REACH_STRAIGHT_M: Final = REACH_M / DETOUR_FACTOR


@dataclass(frozen=True, eq=False)
class ServiceZones:
    """Zones with residents, their polygons, and the spatial indexes built once.

    Build it with `service_zones_from_geojson`, `load_service_zones` or
    `default_service_zones`; the lookups take and return numpy arrays, one entry per point.
    """

    #: the zones' polygons (lon/lat) with the point-in-zone STRtree; `layer.to_geojson()`
    #: gives them back as GeoJSON (for maps)
    layer: ZoneLayer
    #: zone -> id, class, population, resident point (parallel to `layer.zones`)
    zones: tuple[ServiceZone, ...]
    #: the local metric projection the reach and distance lookups use
    projection: LocalProjection
    #: zone -> residents
    population: I64 = field(repr=False)
    #: zone -> resident point, metres east / north in `projection`
    resident_x_m: F64 = field(repr=False)
    resident_y_m: F64 = field(repr=False)
    #: zone -> True when peripheral
    peripheral: B = field(repr=False)
    #: the zone polygons in `projection` metres, in zone order (for "within reach")
    reach_tree: shapely.STRtree = field(repr=False)
    #: zone id -> zone index
    index: Mapping[str, int] = field(repr=False)

    def __len__(self) -> int:
        return len(self.zones)

    @property
    def polygons(self) -> tuple[Any, ...]:
        """Zone -> its polygon in lon/lat (shapely Polygon or MultiPolygon)."""
        return tuple(z.geometry for z in self.layer.zones)

    @property
    def source(self) -> str:
        """The file (name only) or label the zones were read from."""
        return self.layer.source

    def index_of(self, zone_id: str) -> int:
        """Position of a zone; `pricing.zones.UnknownZoneError` when it is not there."""
        return self.layer.index_of(zone_id)

    def get(self, zone_id: str) -> ServiceZone | None:
        """The zone with this id, or None."""
        i = self.index.get(zone_id)
        return None if i is None else self.zones[i]

    def zone_of(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> I64:
        """Zone index of every point, -1 outside every zone (first zone on a shared border)."""
        return self.layer.assign(lat, lon)

    def in_reach(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[I64, I64]:
        """(point index, zone index) of every pair where the point is within walking reach of
        the zone (module docstring); a point may be in reach of several zones, or of none.
        """
        x, y = self.projection.to_xy(lat, lon)
        if x.size == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty.copy()
        points = shapely.points(x, y)
        point_idx, zone_idx = self.reach_tree.query(
            points, predicate="dwithin", distance=REACH_STRAIGHT_M
        )
        return point_idx.astype(np.int64), zone_idx.astype(np.int64)

    def class_of(self, zone_class: str) -> I64:
        """Indexes of the zones of one class ("central" or "peripheral")."""
        return np.flatnonzero([z.zone_class == zone_class for z in self.zones]).astype(np.int64)


def service_zones_from_layer(layer: ZoneLayer, population: Sequence[int]) -> ServiceZones:
    """Service zones from a zone layer and each zone's residents (parallel to the layer)."""
    if len(population) != len(layer.zones):
        raise ZoneError(
            f"{layer.source}: {len(population)} populations for {len(layer.zones)} zones; "
            "expected one per zone"
        )
    geoms = [z.geometry for z in layer.zones]
    centroids = shapely.centroid(geoms)
    inside = shapely.contains(geoms, centroids)
    points = np.where(inside, centroids, shapely.point_on_surface(geoms))
    xy = shapely.get_coordinates(points)
    lat, lon = xy[:, 1], xy[:, 0]
    min_lon, min_lat, max_lon, max_lat = shapely.total_bounds(geoms)
    proj = LocalProjection(float(min_lat + max_lat) / 2.0, float(min_lon + max_lon) / 2.0)
    x, y = proj.to_xy(lat, lon)
    metric = [
        shapely.transform(g, lambda xy: np.column_stack(proj.to_xy(xy[:, 1], xy[:, 0])))
        for g in geoms
    ]
    zones = tuple(
        ServiceZone(
            zone_id=z.zone_id,
            zone_class=z.zone_class,
            population=int(pop),
            lat=float(la),
            lon=float(lo),
        )
        for z, pop, la, lo in zip(layer.zones, population, lat.tolist(), lon.tolist(), strict=True)
    )
    return ServiceZones(
        layer=layer,
        zones=zones,
        projection=proj,
        population=np.asarray(population, dtype=np.int64),
        resident_x_m=x,
        resident_y_m=y,
        peripheral=np.array([z.zone_class == "peripheral" for z in zones], dtype=bool),
        reach_tree=shapely.STRtree(metric),
        index=MappingProxyType({z.zone_id: i for i, z in enumerate(zones)}),
    )


def service_zones_from_geojson(
    doc: Mapping[str, Any] | str | bytes, *, source: str
) -> ServiceZones:
    """Service zones from a GeoJSON FeatureCollection of demand zones.

    Every feature needs what `ZoneLayer.from_geojson` asks (polygon, unique ``zone_id``,
    ``class``) and a ``population``: a whole number >= 0.

    Raises
    ------
    pricing.zones.ZoneError
        naming the feature and the field that is wrong.
    """
    layer = ZoneLayer.from_geojson(doc, source=source)
    population = [
        _population(i, z.properties.get("population"), source) for i, z in enumerate(layer.zones)
    ]
    return service_zones_from_layer(layer, population)


def load_service_zones(path: Path) -> ServiceZones:
    """Service zones from a demand-zones GeoJSON file (named by its file name in errors).

    Raises
    ------
    pricing.zones.ZoneError
        the file cannot be read or a feature is wrong (module docstring).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ZoneError(f"{path.name}: cannot read the service zones: {exc.strerror}") from exc
    return service_zones_from_geojson(raw, source=path.name)


def default_zones_path() -> Path:
    """The embedded city's demand zones (SYNTHETIC populations outside the centre)."""
    return data_dir() / "helsinki" / "demand" / "demand-zones.geojson"


def default_service_zones() -> ServiceZones:
    """The embedded city's service zones: its demand zones."""
    return load_service_zones(default_zones_path())


def _population(i: int, value: object, source: str) -> int:
    """A feature's residents: a whole number >= 0 (an integral float is taken as one)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ZoneError(
            f"{source}: feature {i}: properties.population {value!r}; expected a whole "
            "number of residents >= 0"
        )
    return value

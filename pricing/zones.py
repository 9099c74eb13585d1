"""Zones that a pricing policy can tell apart: which polygon is a trip's origin or destination in.

Equity questions ("do peripheral residents pay more per kilometre?") need every origin and
destination labelled with a zone and a zone class (``"central"`` or ``"peripheral"``, with an
optional ring number where 0 is the centre). This module holds that layer: polygons in
lon/lat (EPSG:4326) read strictly from GeoJSON, a point-in-zone lookup vectorised through one
shapely ``STRtree`` built when the layer is made (never per query), and `fare_zone_layer`, which
derives polygons for GTFS fare zones from the stops when a feed has zone ids but no shapes
(this is how the embedded Helsinki gets its central A / peripheral B layer).

No pandas or geopandas here: the pricing side works on numpy arrays and shapely geometries.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, cast, get_args

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

from pricing.errors import PricingError
from routing.geo import LocalProjection

log = logging.getLogger(__name__)

ZoneClass = Literal["central", "peripheral"]
ZONE_CLASSES: tuple[str, ...] = get_args(ZoneClass)

#: a zone layer is a small, hand-made or derived file; anything larger is refused, not parsed
MAX_FEATURES = 5000
MAX_GEOJSON_BYTES = 2 * 1024 * 1024

#: grid (degrees) that derived fare-zone polygons are snapped to: 1e-7 deg is about 1 cm,
#: far below stop-position accuracy, and keeps the GeoJSON short and valid after a round trip
FARE_ZONE_GRID_DEG = 1e-7

#: stops closer than this (metres) are one Voronoi site: GEOS needs distinct sites
_SITE_MERGE_M = 0.001


class ZoneError(PricingError, ValueError):
    """A zone layer or a zone lookup is unusable: names the feature/zone and what was expected."""


class UnknownZoneError(ZoneError, KeyError):
    """A zone id that the layer does not hold."""

    def __str__(self) -> str:
        # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


#: a zone's geometry (shapely ships no type information, so to mypy this is Any)
Polygonal: TypeAlias = Polygon | MultiPolygon


@dataclass(frozen=True)
class Zone:
    """One zone: an id, its class, an optional ring, its polygon(s) and the feature properties."""

    zone_id: str
    zone_class: ZoneClass
    ring: int | None
    geometry: Polygonal  # lon/lat, EPSG:4326
    properties: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ZoneLayer:
    """An ordered set of zones with a spatial index built once, at construction.

    Layer order matters in one place: a point on a border shared by two zones (or inside an
    overlap, which `from_geojson` does not forbid) is assigned to the zone that comes first.
    """

    zones: tuple[Zone, ...]
    source: str
    _tree: shapely.STRtree = field(init=False, repr=False, compare=False)
    _index: Mapping[str, int] = field(init=False, repr=False, compare=False)
    _class_lookup: npt.NDArray[np.str_] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, int] = {}
        for i, zone in enumerate(self.zones):
            if zone.zone_id in index:
                raise ZoneError(
                    f"{self.source}: zone {i}: zone_id {zone.zone_id!r} is also zone "
                    f"{index[zone.zone_id]}; expected unique zone ids"
                )
            index[zone.zone_id] = i
        object.__setattr__(self, "zones", tuple(self.zones))
        object.__setattr__(self, "_index", MappingProxyType(index))
        object.__setattr__(self, "_tree", shapely.STRtree([z.geometry for z in self.zones]))
        # one slot per zone plus "" at the end, so that index -1 reads as "no zone"
        lookup = np.array([z.zone_class for z in self.zones] + [""], dtype="<U10")
        object.__setattr__(self, "_class_lookup", lookup)

    def __len__(self) -> int:
        return len(self.zones)

    def __contains__(self, zone_id: object) -> bool:
        return zone_id in self._index

    @classmethod
    def from_geojson(cls, doc: Mapping[str, Any] | str | bytes, *, source: str) -> ZoneLayer:
        """Read a zone layer from a GeoJSON FeatureCollection, refusing anything doubtful.

        Each feature must be a Polygon or MultiPolygon in lon/lat, valid in shapely's sense
        (an invalid ring is refused with GEOS's reason, never silently repaired), with a
        unique non-empty string ``properties.zone_id`` and either ``properties.class`` in
        {"central", "peripheral"} or an integer ``properties.ring`` >= 0 (ring 0 is central,
        any other ring peripheral; when both are given, ``class`` decides and ``ring`` is kept).
        At most 5000 features and 2 MB of JSON.

        Raises
        ------
        ZoneError
            naming the feature index and the field that is wrong.
        """
        parsed = _parse_document(doc, source)
        if not isinstance(parsed, Mapping) or parsed.get("type") != "FeatureCollection":
            got = parsed.get("type") if isinstance(parsed, Mapping) else type(parsed).__name__
            raise ZoneError(f"{source}: expected a GeoJSON FeatureCollection, got {got!r}")
        features = parsed.get("features")
        if not isinstance(features, list):
            raise ZoneError(f"{source}: 'features' must be a list, got {type(features).__name__}")
        if not features:
            raise ZoneError(f"{source}: the FeatureCollection has no features; expected >= 1")
        if len(features) > MAX_FEATURES:
            raise ZoneError(
                f"{source}: {len(features)} features; at most {MAX_FEATURES} are accepted"
            )
        zones = [_zone_from_feature(i, f, source) for i, f in enumerate(features)]
        seen: dict[str, int] = {}
        for i, zone in enumerate(zones):
            if zone.zone_id in seen:
                raise ZoneError(
                    f"{source}: feature {i}: properties.zone_id {zone.zone_id!r} repeats "
                    f"feature {seen[zone.zone_id]}; expected unique zone ids"
                )
            seen[zone.zone_id] = i
        return cls(zones=tuple(zones), source=source)

    def assign(self, lats: npt.ArrayLike, lons: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Zone index of every point, -1 for a point outside every zone (or with NaN coords).

        A point on a shared border, or in an overlap, gets the first of its zones in layer
        order. Points on a zone's outer boundary count as inside it.
        """
        lat = np.asarray(lats, dtype=np.float64)
        lon = np.asarray(lons, dtype=np.float64)
        if lat.shape != lon.shape or lat.ndim != 1:
            raise ZoneError(
                f"{self.source}: lats and lons must be 1-d arrays of one length, got shapes "
                f"{lat.shape} and {lon.shape}"
            )
        out = np.full(lat.shape[0], -1, dtype=np.int64)
        ok = np.isfinite(lat) & np.isfinite(lon)
        if not ok.any() or not self.zones:
            return out
        pts_idx = np.flatnonzero(ok)
        points = shapely.points(lon[ok], lat[ok])
        hit_pt, hit_zone = self._tree.query(points, predicate="intersects")
        if hit_pt.size:
            first = np.full(points.shape[0], len(self.zones), dtype=np.int64)
            np.minimum.at(first, hit_pt, hit_zone.astype(np.int64))
            found = first < len(self.zones)
            out[pts_idx[found]] = first[found]
        return out

    def classes(self, idx: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """Class ("central"/"peripheral") of each zone index; "" for -1 (outside every zone)."""
        arr = np.asarray(idx)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ZoneError(f"{self.source}: zone indexes must be integers, got {arr.dtype}")
        arr = arr.astype(np.int64, copy=False)
        bad = (arr < -1) | (arr >= len(self.zones))
        if bad.any():
            raise ZoneError(
                f"{self.source}: zone index {int(arr[bad][0])} out of range; expected -1.."
                f"{len(self.zones) - 1}"
            )
        classes: npt.NDArray[np.str_] = self._class_lookup[arr]
        return classes

    def index_of(self, zone_id: str) -> int:
        """Position of a zone in the layer; UnknownZoneError if the id is not there."""
        try:
            return self._index[zone_id]
        except KeyError:
            raise UnknownZoneError(
                f"{self.source}: no zone {zone_id!r}; the layer has {len(self.zones)} zones"
            ) from None

    def representative_points(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(lats, lons) of a point guaranteed inside each zone (shapely representative_point)."""
        pts = shapely.point_on_surface([z.geometry for z in self.zones])
        xy = shapely.get_coordinates(pts)
        return xy[:, 1].copy(), xy[:, 0].copy()

    def to_geojson(self) -> dict[str, Any]:
        """The layer as a GeoJSON FeatureCollection (plain dicts/lists, ready for json.dumps).

        Properties are the zone's own properties with ``zone_id``, ``class`` and (when set)
        ``ring`` written from the zone, so the result reads back with `from_geojson`.
        """
        features = []
        for zone in self.zones:
            props: dict[str, Any] = dict(zone.properties)
            props["zone_id"] = zone.zone_id
            props["class"] = zone.zone_class
            if zone.ring is not None:
                props["ring"] = zone.ring
            features.append(
                {
                    "type": "Feature",
                    "geometry": _lists(mapping(zone.geometry)),
                    "properties": props,
                }
            )
        return {"type": "FeatureCollection", "features": features}


def _lists(obj: Any) -> Any:
    """Shapely's `mapping` gives nested tuples; JSON writers and equality tests want lists."""
    if isinstance(obj, dict):
        return {k: _lists(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_lists(v) for v in obj]
    return obj


def _parse_document(doc: Mapping[str, Any] | str | bytes, source: str) -> Any:
    if isinstance(doc, Mapping):
        # the same 2 MB budget as for text, measured on the compact JSON form
        try:
            size = len(json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8"))
        except (TypeError, ValueError) as exc:
            raise ZoneError(
                f"{source}: the GeoJSON mapping is not JSON-serialisable: {exc}"
            ) from exc
        if size > MAX_GEOJSON_BYTES:
            raise ZoneError(f"{source}: {size} bytes of GeoJSON; at most {MAX_GEOJSON_BYTES}")
        return doc
    if not isinstance(doc, str | bytes):
        raise ZoneError(
            f"{source}: expected a GeoJSON mapping, str or bytes, got {type(doc).__name__}"
        )
    size = len(doc.encode("utf-8")) if isinstance(doc, str) else len(doc)
    if size > MAX_GEOJSON_BYTES:
        raise ZoneError(f"{source}: {size} bytes of GeoJSON; at most {MAX_GEOJSON_BYTES}")
    try:
        return json.loads(doc)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ZoneError(f"{source}: not valid JSON: {exc}") from exc


def _zone_from_feature(i: int, feature: Any, source: str) -> Zone:
    where = f"{source}: feature {i}"
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise ZoneError(f"{where}: expected a GeoJSON Feature object")
    props = feature.get("properties")
    if not isinstance(props, Mapping):
        raise ZoneError(f"{where}: properties must be an object, got {type(props).__name__}")
    zone_id = props.get("zone_id")
    if not isinstance(zone_id, str) or not zone_id.strip():
        raise ZoneError(f"{where}: properties.zone_id {zone_id!r}; expected a non-empty string")
    ring = props.get("ring")
    if ring is not None and (not isinstance(ring, int) or isinstance(ring, bool) or ring < 0):
        raise ZoneError(f"{where}: properties.ring {ring!r}; expected an integer >= 0")
    zone_class = props.get("class")
    if zone_class is None:
        if ring is None:
            raise ZoneError(
                f"{where}: properties.class is missing and there is no properties.ring; "
                f"expected class in {ZONE_CLASSES} or an integer ring >= 0"
            )
        zone_class = "central" if ring == 0 else "peripheral"
    if zone_class not in ZONE_CLASSES:
        raise ZoneError(f"{where}: properties.class {zone_class!r}; expected one of {ZONE_CLASSES}")
    geometry = _geometry_from_feature(where, feature.get("geometry"))
    return Zone(
        zone_id=zone_id,
        zone_class=cast("ZoneClass", zone_class),
        ring=ring,
        geometry=geometry,
        properties=MappingProxyType(dict(props)),
    )


def _geometry_from_feature(where: str, geom: Any) -> Polygonal:
    if not isinstance(geom, Mapping) or geom.get("type") not in ("Polygon", "MultiPolygon"):
        got = geom.get("type") if isinstance(geom, Mapping) else geom
        raise ZoneError(f"{where}: geometry type {got!r}; expected Polygon or MultiPolygon")
    try:
        parsed = shape(geom)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ZoneError(f"{where}: geometry cannot be read: {exc}") from exc
    except shapely.errors.ShapelyError as exc:
        raise ZoneError(f"{where}: geometry cannot be read: {exc}") from exc
    if parsed.is_empty:
        raise ZoneError(f"{where}: geometry is empty; expected a polygon with an area")
    coords = shapely.get_coordinates(parsed)
    if not np.isfinite(coords).all():
        raise ZoneError(f"{where}: geometry has non-finite coordinates")
    lon, lat = coords[:, 0], coords[:, 1]
    if (np.abs(lon) > 180).any() or (np.abs(lat) > 90).any():
        k = int(np.flatnonzero((np.abs(lon) > 180) | (np.abs(lat) > 90))[0])
        raise ZoneError(
            f"{where}: geometry coordinate ({lon[k]}, {lat[k]}) is not lon/lat; expected "
            f"-180 <= lon <= 180 and -90 <= lat <= 90 (EPSG:4326, lon first)"
        )
    if not parsed.is_valid:
        raise ZoneError(
            f"{where}: geometry is invalid ({shapely.is_valid_reason(parsed)}); "
            f"fix the polygon, it is not repaired here"
        )
    return cast("Polygonal", parsed)


def _polygonal(geom: shapely.Geometry) -> Polygonal:
    """Keep the polygon parts of an overlay result (which may hold stray lines or points)."""
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty]
    if len(parts) == 1:
        return parts[0]
    return MultiPolygon(parts)


def fare_zone_layer(
    stop_lats: npt.ArrayLike,
    stop_lons: npt.ArrayLike,
    stop_zone_ids: npt.ArrayLike,
    *,
    class_of: Mapping[str, str],
    ring_of: Mapping[str, int] | None = None,
    buffer_m: float = 500.0,
    source: str,
) -> ZoneLayer:
    """Polygons for GTFS fare zones, derived from the stops that carry each zone id.

    Method (cited by the demand README):

    1. Project the stops to metres with an equirectangular projection about their centroid
       (`routing.geo.LocalProjection`; under a metre of error per km across a city).
    2. Merge stops closer than 1 mm into one Voronoi site (GEOS needs distinct sites; several
       GTFS stops share coordinates). If merged stops disagree on the zone id, the first stop
       in input order decides and a warning is logged.
    3. Voronoi cells of the sites (``shapely.voronoi_polygons``), each cell taking its site's
       zone id; cells are dissolved (``union_all``) by zone id. Every place is thus in the
       zone of its nearest stop, and the zones tile the plane without overlap.
    4. Clip to the union of ``buffer_m`` discs around all stops, so the layer ends where
       service ends and does not reach into the sea or unserved land.
    5. Back to lon/lat, snapped to a 1e-7 degree grid (about 1 cm; keeps polygons valid).

    Zones are ordered by zone id. A stop lies strictly inside its own cell, so every stop
    falls in its own zone's polygon, except (a) a stop merged in step 2 into a site of
    another zone and (b) a stop within ~1 cm of its cell border, which snapping in step 5 may
    move across it (only possible for stops a few cm from a stop of another zone). The
    embedded Helsinki feed has neither: all 1,388 stops land in their own zone (tested).

    Parameters
    ----------
    stop_lats, stop_lons
        Stop positions in degrees.
    stop_zone_ids
        GTFS ``zone_id`` of every stop; stops with an empty zone id are ignored.
    class_of
        Zone class ("central"/"peripheral") of every zone id that occurs.
    ring_of
        Optional ring number (0 = centre) per zone id.
    buffer_m
        Radius of the service discs that clip the cells.
    source
        Where the stops came from (kept as the layer's ``source``).
    """
    if not (math.isfinite(buffer_m) and buffer_m > 0):
        raise ZoneError(f"{source}: buffer_m {buffer_m!r}; expected a finite number > 0")
    lat, lon, zid = _zoned_stops(stop_lats, stop_lons, stop_zone_ids, source)
    zone_ids = sorted(set(zid.tolist()))
    if not zone_ids:
        raise ZoneError(f"{source}: no stop carries a zone id; cannot derive fare zones")
    _check_zone_classes(zone_ids, class_of, ring_of, source)

    proj = LocalProjection(float(lat.mean()), float(lon.mean()))
    x, y = proj.to_xy(lat, lon)
    site_x, site_y, site_zone = _voronoi_sites(x, y, zid, source)
    zone_geoms = _dissolved_cells(site_x, site_y, site_zone, zone_ids, buffer_m)

    def to_lonlat(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        la, lo = proj.to_latlon(xy[:, 0], xy[:, 1])
        return np.column_stack([lo, la])

    zones = []
    for z in zone_ids:
        geom = shapely.transform(zone_geoms[z], to_lonlat)
        geom = _polygonal(shapely.set_precision(geom, FARE_ZONE_GRID_DEG))
        ring = ring_of[z] if ring_of is not None else None
        props: dict[str, Any] = {"stops": int((zid == z).sum()), "derived_from": "stops"}
        zones.append(
            Zone(
                zone_id=z,
                zone_class=cast("ZoneClass", class_of[z]),
                ring=ring,
                geometry=geom,
                properties=MappingProxyType(props),
            )
        )
    log.info("fare zones from %d stops (%s): %s", lat.shape[0], source, ", ".join(zone_ids))
    return ZoneLayer(zones=tuple(zones), source=source)


def _zoned_stops(
    stop_lats: npt.ArrayLike, stop_lons: npt.ArrayLike, stop_zone_ids: npt.ArrayLike, source: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.str_]]:
    """(lat, lon, zone id) of the stops that carry a zone id, checked; ids stripped."""
    lat = np.asarray(stop_lats, dtype=np.float64)
    lon = np.asarray(stop_lons, dtype=np.float64)
    zid = np.asarray(stop_zone_ids).astype(str)
    if not (lat.shape == lon.shape == zid.shape) or lat.ndim != 1:
        raise ZoneError(
            f"{source}: stop_lats, stop_lons and stop_zone_ids must be 1-d of one length, got "
            f"{lat.shape}, {lon.shape}, {zid.shape}"
        )
    keep = np.char.str_len(np.char.strip(zid)) > 0
    lat, lon, zid = lat[keep], lon[keep], np.char.strip(zid[keep])
    if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        raise ZoneError(f"{source}: a stop with a zone id has a non-finite coordinate")
    if (np.abs(lat) > 90).any() or (np.abs(lon) > 180).any():
        raise ZoneError(f"{source}: a stop coordinate is outside lat/lon range")
    return lat, lon, zid


def _check_zone_classes(
    zone_ids: Sequence[str],
    class_of: Mapping[str, str],
    ring_of: Mapping[str, int] | None,
    source: str,
) -> None:
    """Every fare zone needs a known class (and a ring >= 0 when rings are given)."""
    for z in zone_ids:
        if class_of.get(z) not in ZONE_CLASSES:
            raise ZoneError(
                f"{source}: fare zone {z!r} has class {class_of.get(z)!r}; expected class_of "
                f"to map it to one of {ZONE_CLASSES}"
            )
        if ring_of is not None:
            r = ring_of.get(z)
            if not isinstance(r, int) or isinstance(r, bool) or r < 0:
                raise ZoneError(f"{source}: fare zone {z!r} ring {r!r}; expected an int >= 0")


def _voronoi_sites(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    zid: npt.NDArray[np.str_],
    source: str,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.str_]]:
    """One site per distinct position (1 mm grid); the first stop in input order decides."""
    key = np.column_stack([np.round(x / _SITE_MERGE_M), np.round(y / _SITE_MERGE_M)])
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    conflicts = int((zid != zid[first][inverse]).sum())
    if conflicts:
        log.warning(
            "%s: %d stops share a position with a stop of another fare zone; the first stop "
            "in input order decides the zone there",
            source,
            conflicts,
        )
    return x[first], y[first], zid[first]


def _dissolved_cells(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    site_zone: npt.NDArray[np.str_],
    zone_ids: list[str],
    buffer_m: float,
) -> dict[str, shapely.Geometry]:
    """Voronoi cells dissolved by zone id and clipped to the service discs (metric coords)."""
    sites = shapely.points(x, y)
    clip = shapely.union_all(shapely.buffer(sites, buffer_m, quad_segs=8))
    if sites.shape[0] == 1:
        # a single site has no Voronoi diagram: its cell is the whole plane
        return {site_zone[0]: clip}
    pad = 4.0 * buffer_m
    extent = shapely.box(x.min() - pad, y.min() - pad, x.max() + pad, y.max() + pad)
    cells = np.asarray(
        shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(sites), extend_to=extent))
    )
    # match cells to sites by containment rather than trusting output order: each site is
    # strictly inside exactly its own cell
    site_idx, cell_idx = shapely.STRtree(cells).query(sites, predicate="within")
    cell_zone = np.full(cells.shape[0], "", dtype=site_zone.dtype)
    cell_zone[cell_idx] = site_zone[site_idx]
    out: dict[str, shapely.Geometry] = {}
    for z in zone_ids:
        dissolved = shapely.union_all(cells[cell_zone == z])
        out[z] = shapely.intersection(dissolved, clip)
    return out

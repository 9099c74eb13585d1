"""The base map the web pages draw, built from the served network's own data.

The pages must work with no internet, so there are no map tiles: the map is drawn in the
browser as SVG from a few GeoJSON layers this module builds from what the server already
holds — the street graph the router walks and rides on, the stops of the timetable, and
the zone layers pricing and the service measures use. Each layer is built once per worker,
on first request, and kept encoded (plain and gzip) with an ETag, so later page loads cost
one small cached response per layer.

Layers are meant to be looked at, not computed with: street lines are merged and
simplified to a few metres and coordinates rounded to 1e-5 degrees (about a metre).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from network.compiled import Network
from pricing.zones import ZoneError, ZoneLayer

log = logging.getLogger(__name__)

#: the layers `GET /map/layers/{name}.geojson` serves
LAYER_NAMES: tuple[str, ...] = ("streets", "stops", "zones", "fare_zones")
#: street profiles in order of preference for the streets layer: the car graph looks like
#: a street map (no park paths or pavements drawn twice) and is the smallest
STREET_PROFILES: tuple[str, ...] = ("car", "bike", "walk")
#: Douglas-Peucker tolerance for street lines, degrees (about 3 m at Helsinki's latitude)
SIMPLIFY_DEG = 3e-5
#: coordinates are rounded to this grid, degrees (about 1 m)
GRID_DEG = 1e-5


class UnknownLayerError(KeyError):
    """A layer name the base map does not have."""

    def __str__(self) -> str:
        # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class LayerUnavailableError(LookupError):
    """A layer this network has no data for (no zone file, say); names what is missing."""


@dataclass(frozen=True)
class EncodedLayer:
    """One layer's GeoJSON as bytes, plain and gzip, with an ETag of the content."""

    body: bytes
    gzipped: bytes
    etag: str
    features: int


def encode_layer(doc: dict[str, Any]) -> EncodedLayer:
    """Compact JSON, its gzip and a strong ETag (sha256 of the JSON, shortened)."""
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    # mtime=0: the same content gives the same bytes on every worker
    return EncodedLayer(body, gzip.compress(body, mtime=0), etag, len(doc["features"]))


def street_lines(network: Network) -> dict[str, Any]:
    """The streets of the first profile the network has, as one MultiLineString feature.

    Each two-way street is drawn once (an edge and its reverse are the same line), lines
    are merged where they meet end to end and simplified: one feature draws as one SVG
    path, which is what keeps a map of thousands of streets fast in the browser.
    """
    profile = next((p for p in STREET_PROFILES if p in network.streets), None)
    if profile is None:
        raise LayerUnavailableError(f"network {network.name} has no street graph to draw")
    g = network.streets[profile]
    edges = np.arange(len(g.edge_head))
    # one direction of each street: one-way edges, and the lower index of a two-way pair
    kept = edges[(g.edge_reverse < 0) | (edges < g.edge_reverse)]
    lines = []
    for e in kept:
        start, end = int(g.geom_ptr[e]), int(g.geom_ptr[e + 1])
        if end - start >= 2:
            lines.append(np.column_stack((g.geom_lon[start:end], g.geom_lat[start:end])))
    merged = shapely.line_merge(shapely.MultiLineString(lines))
    drawn = shapely.set_precision(shapely.simplify(merged, SIMPLIFY_DEG), GRID_DEG)
    feature = {
        "type": "Feature",
        "geometry": json.loads(shapely.to_geojson(drawn)),
        "properties": {"kind": "street", "profile": profile, "source_edges": len(kept)},
    }
    return {"type": "FeatureCollection", "features": [feature]}


def stop_points(network: Network) -> dict[str, Any]:
    """Every stop of the timetable as a Point with its GTFS id, name and fare zone."""
    s = network.stops
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [round(float(s.lon[i]), 5), round(float(s.lat[i]), 5)],
            },
            "properties": {
                "stop_id": str(s.stop_id[i]),
                "name": str(s.name[i]),
                "zone_id": str(s.zone_id[i]) or None,
            },
        }
        for i in range(len(s.stop_id))
    ]
    return {"type": "FeatureCollection", "features": features}


def zone_polygons(path: Path | None, *, what: str) -> dict[str, Any]:
    """A zone file as drawn: zone_id, class (central/peripheral), ring and residents.

    The file is read through `ZoneLayer.from_geojson`, the reader pricing uses, so the map
    shows exactly the zones the prices and measures are computed on.
    """
    if path is None or not path.is_file():
        raise LayerUnavailableError(f"this server has no {what} file configured")
    try:
        layer = ZoneLayer.from_geojson(path.read_bytes(), source=path.name)
    except ZoneError as exc:
        raise LayerUnavailableError(f"the {what} file cannot be read: {exc}") from exc
    features = []
    for zone in layer.zones:
        props: dict[str, Any] = {"zone_id": zone.zone_id, "class": zone.zone_class}
        if zone.ring is not None:
            props["ring"] = zone.ring
        if "population" in zone.properties:
            props["population"] = zone.properties["population"]
        geometry = shapely.set_precision(zone.geometry, GRID_DEG)
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(shapely.to_geojson(geometry)),
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features, "source": layer.source}


class BaseMap:
    """One worker's base-map layers, each built on first request and then kept.

    Building a layer takes up to a second (the street merge); a lock per layer makes
    concurrent first requests wait for one build instead of each doing it.
    """

    def __init__(
        self, network: Network, *, fare_zones: Path | None, demand_zones: Path | None
    ) -> None:
        self.network = network
        self._makers: dict[str, Callable[[], dict[str, Any]]] = {
            "streets": lambda: street_lines(network),
            "stops": lambda: stop_points(network),
            "zones": lambda: zone_polygons(demand_zones, what="demand zones"),
            "fare_zones": lambda: zone_polygons(fare_zones, what="fare zones"),
        }
        self._built: dict[str, EncodedLayer] = {}
        self._locks = {name: threading.Lock() for name in self._makers}

    def layer(self, name: str) -> EncodedLayer:
        """The encoded layer; UnknownLayerError or LayerUnavailableError when there is none."""
        if name not in self._makers:
            raise UnknownLayerError(
                f"no map layer {name!r}; expected one of {', '.join(LAYER_NAMES)}"
            )
        with self._locks[name]:
            built = self._built.get(name)
            if built is None:
                built = encode_layer(self._makers[name]())
                self._built[name] = built
                log.info(
                    "map layer %s: %d features, %d bytes (%d gzip)",
                    name,
                    built.features,
                    len(built.body),
                    len(built.gzipped),
                )
            return built

    def bounds(self) -> list[float]:
        """[min_lon, min_lat, max_lon, max_lat] of the network (the manifest's bbox, else the
        stops' extent).
        """
        bbox = self.network.manifest.get("bbox")
        if isinstance(bbox, list) and len(bbox) == 4:
            return [float(v) for v in bbox]
        s = self.network.stops
        return [float(s.lon.min()), float(s.lat.min()), float(s.lon.max()), float(s.lat.max())]

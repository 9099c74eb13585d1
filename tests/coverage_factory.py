"""Small hand-built service zones for the coverage tests: 500 m squares east of a point.

Positions are metres east / north of `ORIGIN`, so a test reads its geometry in metres:

    zone  class       residents  east (m)     north (m)  resident point
    a     central     1000       0 .. 500     0 .. 500   (250, 250)
    b     central     500        500 .. 1000  0 .. 500   (750, 250)
    c     peripheral  2000       3000 .. 3500 0 .. 500   (3250, 250)
    d     peripheral  0          5000 .. 5500 0 .. 500   (5250, 250)
"""

from __future__ import annotations

from typing import Any

from service_coverage.zones import ServiceZones, service_zones_from_geojson
from tests.fleet_factory import offset

#: south-west corner of zone a (central Helsinki)
ORIGIN = (60.17, 24.94)

#: zone id -> (class, residents, west edge east of ORIGIN in metres)
ZONES: dict[str, tuple[str, int, float]] = {
    "a": ("central", 1000, 0.0),
    "b": ("central", 500, 500.0),
    "c": ("peripheral", 2000, 3000.0),
    "d": ("peripheral", 0, 5000.0),
}


def at(east_m: float, north_m: float) -> tuple[float, float]:
    """(lat, lon) of the point `east_m`, `north_m` metres from ORIGIN."""
    return offset(*ORIGIN, north_m, east_m)


def square(west_m: float, south_m: float = 0.0, side_m: float = 500.0) -> list[list[float]]:
    """A closed lon/lat ring of a square given in metres."""
    corners = [(0, 0), (side_m, 0), (side_m, side_m), (0, side_m), (0, 0)]
    ring = []
    for e, n in corners:
        lat, lon = at(west_m + e, south_m + n)
        ring.append([lon, lat])
    return ring


def zones_geojson(zones: dict[str, tuple[str, int, float]] | None = None) -> dict[str, Any]:
    """The zones as a demand-zones GeoJSON document."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [square(west)]},
                "properties": {"zone_id": zid, "class": cls, "population": pop},
            }
            for zid, (cls, pop, west) in (zones or ZONES).items()
        ],
    }


def hand_zones() -> ServiceZones:
    """The four zones of the table above."""
    return service_zones_from_geojson(zones_geojson(), source="hand-built")

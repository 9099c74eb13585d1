"""Geofencing zones of the synthetic scooter operator, drawn on real places in central Helsinki.

The polygons were traced by hand from the OpenStreetMap outlines of the places (centre
extract of 2024-08-15, © OpenStreetMap contributors, ODbL) and simplified to a few
vertices. Rings are counter-clockwise, as RFC 7946's right-hand rule (which GBFS cites)
asks. The rules are illustrative, not Helsinki's actual scooter regulations:

- Esplanadi park (Esplanadin puisto): no riding through, starting or ending (a busy
  pedestrian park);
- Senate Square (Senaatintori): no parking, riding through allowed;
- Market Square (Kauppatori): slow zone, 10 km/h, parking allowed.

Zones do not overlap, so GBFS's "first zone listed wins" precedence never matters here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from providers.synthetic._common import TTL_STATIC_S, FloatArray, document, text

#: (name, ring as (lon, lat) pairs, closed, counter-clockwise)
Ring = tuple[tuple[float, float], ...]

ESPLANADI_PARK: Ring = (
    (24.94421, 60.16761),
    (24.94425, 60.16718),
    (24.94440, 60.16714),
    (24.95088, 60.16730),
    (24.95086, 60.16778),
    (24.94421, 60.16761),
)
SENATE_SQUARE: Ring = (
    (24.95120, 60.16971),
    (24.95127, 60.16923),
    (24.95334, 60.16929),
    (24.95325, 60.16980),
    (24.95120, 60.16971),
)
MARKET_SQUARE: Ring = (
    (24.95254, 60.16760),
    (24.95259, 60.16654),
    (24.95384, 60.16658),
    (24.95447, 60.16729),
    (24.95612, 60.16749),
    (24.95611, 60.16767),
    (24.95532, 60.16784),
    (24.95287, 60.16777),
    (24.95254, 60.16760),
)

#: the operator-wide speed cap outside any zone (km/h)
GLOBAL_MAX_SPEED_KPH = 20
SLOW_ZONE_KPH = 10


def _rule(
    type_ids: Sequence[str],
    *,
    start: bool = True,
    end: bool = True,
    through: bool = True,
    max_kph: int | None = None,
) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "vehicle_type_ids": list(type_ids),
        "ride_start_allowed": start,
        "ride_end_allowed": end,
        "ride_through_allowed": through,
    }
    if max_kph is not None:
        rule["maximum_speed_kph"] = max_kph
    return rule


def _feature(name: str, ring: Ring, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "MultiPolygon", "coordinates": [[[list(p) for p in ring]]]},
        "properties": {"name": text(name), "rules": rules},
    }


def geofencing_zones(
    type_ids: Sequence[str], *, now_s: int, places: bool = True
) -> dict[str, Any]:
    """The `geofencing_zones` file: three zones on real places of Helsinki (unless `places`
    is False) plus the global rules.
    """
    features = [] if not places else [
        _feature(
            "Esplanadi park: no riding (SYNTHETIC rule)",
            ESPLANADI_PARK,
            [_rule(type_ids, start=False, end=False, through=False)],
        ),
        _feature(
            "Senate Square: no parking (SYNTHETIC rule)",
            SENATE_SQUARE,
            [_rule(type_ids, end=False)],
        ),
        _feature(
            "Market Square: slow zone 10 km/h (SYNTHETIC rule)",
            MARKET_SQUARE,
            [_rule(type_ids, max_kph=SLOW_ZONE_KPH)],
        ),
    ]
    data = {
        "geofencing_zones": {"type": "FeatureCollection", "features": features},
        "global_rules": [_rule(type_ids, max_kph=GLOBAL_MAX_SPEED_KPH)],
    }
    return document(data, now_s=now_s, ttl_s=TTL_STATIC_S)


def no_parking_polygons(
    zones_doc: Mapping[str, Any] | None, vehicle_type_id: str
) -> list[shapely.Geometry]:
    """Zones of a `geofencing_zones` document where a ride of this type may not end.

    The first rule of a zone that names the type (or names no types) is the one that
    applies, as GBFS says; a zone without such a rule does not restrict the type.
    """
    if zones_doc is None:
        return []
    out: list[shapely.Geometry] = []
    for feature in zones_doc["data"]["geofencing_zones"]["features"]:
        rules = feature["properties"].get("rules", [])
        rule = next(
            (
                r
                for r in rules
                if not r.get("vehicle_type_ids") or vehicle_type_id in r["vehicle_type_ids"]
            ),
            None,
        )
        if rule is not None and not rule["ride_end_allowed"]:
            out.append(shapely.geometry.shape(feature["geometry"]))
    return out


def outside(
    polygons: Sequence[shapely.Geometry], lat: FloatArray, lon: FloatArray
) -> npt.NDArray[np.bool_]:
    """Per point: True when it lies in none of the polygons (boundary counts as inside)."""
    ok = np.ones(len(lat), dtype=bool)
    for poly in polygons:
        ok &= ~shapely.intersects_xy(poly, lon, lat)
    return ok

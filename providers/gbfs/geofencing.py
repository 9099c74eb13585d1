"""`geofencing_zones`: GeoJSON zones with ride rules, validated with shapely, kept as mappings.

Zone order is kept exactly as published: the spec gives the zone listed first precedence
where zones overlap. Each geometry must be a (Multi)Polygon whose rings have at least four
positions, are closed, lie within lon [-180, 180] and lat [-MAX_LAT, MAX_LAT], and form a
geometry shapely calls valid (no self-intersections). The stored mapping holds plain float
tuples, so a snapshot serialises without shapely; consumers build shapely geometries once.

A feature with a null geometry (RFC 7946's "unlocated feature"; Check's real Almere 3.0
feed has two) covers no area, so it is skipped with a logged warning after its rules are
type-checked.

2.x rules say `ride_allowed` (start and end) and `vehicle_type_id` (an array despite the
singular name); 3.0 splits `ride_start_allowed`/`ride_end_allowed`, names the array
`vehicle_type_ids`, and adds `global_rules` for everywhere outside the zones.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

import shapely.geometry
from shapely.validation import explain_validity

from providers.gbfs.envelope import Dialect
from providers.gbfs.fields import (
    FEATURE,
    FEATURE_COLLECTION,
    GEOMETRY,
    ZONE_PROPERTIES,
    data_fields,
    record_fields,
)
from providers.gbfs.timestamps import read_timestamp
from providers.gbfs.values import (
    MAX_LAT,
    MAX_LON,
    MAX_SPEED_KPH,
    Loc,
    as_array,
    as_object,
    check_fields,
    get_bool,
    get_int,
    get_str,
    get_str_list,
    get_text,
    to_decimal,
)
from providers.model import Geofencing, GeofencingRule, GeofencingZone

logger = logging.getLogger(__name__)

#: Most positions over all zones of one file.
MAX_VERTICES: Final = 1_000_000
_Ring = tuple[tuple[float, ...], ...]


def rule_types_key(dialect: Dialect) -> str:
    """The member naming a rule's vehicle types in this version."""
    return "vehicle_type_ids" if dialect.v3 else "vehicle_type_id"


def parse_rule(item: object, loc: Loc, dialect: Dialect) -> GeofencingRule:
    """One zone rule or 3.0 global rule."""
    rule = as_object(item, loc)
    family = "2" if dialect.legacy else dialect.family
    check_fields(rule, record_fields("geofencing_rule", family), loc)
    types = get_str_list(rule, rule_types_key(dialect), loc, required=False) or ()
    if dialect.v3:
        start = get_bool(rule, "ride_start_allowed", loc)
        end = get_bool(rule, "ride_end_allowed", loc)
    else:
        start = end = get_bool(rule, "ride_allowed", loc)
    through = get_bool(rule, "ride_through_allowed", loc)
    assert start is not None and end is not None and through is not None  # required
    return GeofencingRule(
        vehicle_type_ids=types,
        ride_start_allowed=start,
        ride_end_allowed=end,
        ride_through_allowed=through,
        maximum_speed_kph=get_int(
            rule, "maximum_speed_kph", loc, required=False, maximum=MAX_SPEED_KPH
        ),
        station_parking=get_bool(rule, "station_parking", loc, required=False),
    )


def _position(value: object, loc: Loc) -> tuple[float, ...]:
    pos = as_array(value, loc, max_items=3)
    if len(pos) < 2:
        raise loc.error(f"a position needs [lon, lat], got {len(pos)} number(s)")
    lon, lat = (float(to_decimal(v, loc.at(i))) for i, v in enumerate(pos[:2]))
    if not -MAX_LON <= lon <= MAX_LON:
        raise loc.at(0).error(f"longitude {lon} is outside [-180, 180]")
    if not -MAX_LAT <= lat <= MAX_LAT:
        raise loc.at(1).error(f"latitude {lat} is outside [-{MAX_LAT}, {MAX_LAT}]")
    return (lon, lat)


def _polygon(value: object, loc: Loc, budget: list[int]) -> tuple[_Ring, ...]:
    rings = as_array(value, loc, max_items=10_000)
    if not rings:
        raise loc.error("a polygon needs at least an exterior ring")
    out: list[_Ring] = []
    for r, ring_value in enumerate(rings):
        ring_loc = loc.at(r)
        ring = as_array(ring_value, ring_loc, max_items=MAX_VERTICES)
        budget[0] -= len(ring)
        if budget[0] < 0:
            raise ring_loc.error(f"more than {MAX_VERTICES} positions in one file")
        if len(ring) < 4:
            raise ring_loc.error(f"a linear ring needs at least 4 positions, got {len(ring)}")
        positions = tuple(_position(p, ring_loc.at(i)) for i, p in enumerate(ring))
        if positions[0] != positions[-1]:
            raise ring_loc.error(
                "linear ring is not closed: the last position must equal the first"
            )
        out.append(positions)
    return tuple(out)


def parse_geometry(value: object, loc: Loc, budget: list[int]) -> dict[str, Any]:
    """A validated GeoJSON (Multi)Polygon as a plain mapping of float tuples."""
    geom = as_object(value, loc)
    check_fields(geom, GEOMETRY, loc)
    kind = get_str(geom, "type", loc)
    if "coordinates" not in geom:
        raise loc.at("coordinates").error("missing required field 'coordinates'")
    coords_loc = loc.at("coordinates")
    coordinates: Any
    if kind == "Polygon":
        coordinates = _polygon(geom["coordinates"], coords_loc, budget)
    elif kind == "MultiPolygon":
        polygons = as_array(geom["coordinates"], coords_loc, max_items=10_000)
        if not polygons:
            raise coords_loc.error("a MultiPolygon needs at least one polygon")
        coordinates = tuple(_polygon(p, coords_loc.at(i), budget) for i, p in enumerate(polygons))
    else:
        raise loc.at("type").error(f"expected 'Polygon' or 'MultiPolygon', got {kind!r}")
    mapping = {"type": kind, "coordinates": coordinates}
    try:
        shape = shapely.geometry.shape(mapping)
        valid = shape.is_valid
        reason = "" if valid else explain_validity(shape)
    except (ValueError, TypeError) as exc:  # shapely's own complaint about the structure
        raise loc.error(f"invalid geometry: {exc}") from None
    if not valid:
        raise loc.error(f"invalid geometry: {reason}")
    return mapping


#: (location, vehicle_type_id) of every type a rule names, for the cross-file checks.
TypeRefs = tuple[tuple[Loc, str], ...]


def _rules(
    value: object, loc: Loc, dialect: Dialect, refs: list[tuple[Loc, str]]
) -> tuple[GeofencingRule, ...]:
    """A rule array, noting each vehicle type it names (with its exact location)."""
    key = rule_types_key(dialect)
    rules: list[GeofencingRule] = []
    for j, item in enumerate(as_array(value, loc, max_items=1_000)):
        rule = parse_rule(item, loc.at(j), dialect)
        refs.extend((loc.at(j).at(key).at(k), t) for k, t in enumerate(rule.vehicle_type_ids))
        rules.append(rule)
    return tuple(rules)


def parse_geofencing(
    data: Mapping[str, Any], loc: Loc, dialect: Dialect
) -> tuple[Geofencing, TypeRefs]:
    """The zones (in file order = precedence) and 3.0 global rules of one file."""
    family = "2" if dialect.legacy else dialect.family
    check_fields(data, data_fields("geofencing_zones", family), loc)
    features, features_loc = _features(data, loc)
    budget = [MAX_VERTICES]
    refs: list[tuple[Loc, str]] = []
    zones: list[GeofencingZone] = []
    for i, item in enumerate(features):
        zone = _zone(item, features_loc.at(i), dialect, refs, budget)
        if zone is not None:
            zones.append(zone)
    global_rules: tuple[GeofencingRule, ...] = ()
    if dialect.v3:
        if "global_rules" not in data:
            raise loc.at("global_rules").error("missing required field 'global_rules' (3.0)")
        global_rules = _rules(data["global_rules"], loc.at("global_rules"), dialect, refs)
    return Geofencing(zones=tuple(zones), global_rules=global_rules), tuple(refs)


def _features(data: Mapping[str, Any], loc: Loc) -> tuple[list[Any], Loc]:
    """The features of the file's FeatureCollection, and where they are."""
    if "geofencing_zones" not in data:
        raise loc.at("geofencing_zones").error("missing required field 'geofencing_zones'")
    fc_loc = loc.at("geofencing_zones")
    collection = as_object(data["geofencing_zones"], fc_loc)
    check_fields(collection, FEATURE_COLLECTION, fc_loc)
    if get_str(collection, "type", fc_loc) != "FeatureCollection":
        raise fc_loc.at("type").error(f"expected 'FeatureCollection', got {collection['type']!r}")
    if "features" not in collection:
        raise fc_loc.at("features").error("missing required field 'features'")
    features_loc = fc_loc.at("features")
    return as_array(collection["features"], features_loc), features_loc


def _zone(
    item: object, f_loc: Loc, dialect: Dialect, refs: list[tuple[Loc, str]], budget: list[int]
) -> GeofencingZone | None:
    """One feature as a zone; None for a feature without geometry (its rules still checked)."""
    feature = as_object(item, f_loc)
    check_fields(feature, FEATURE, f_loc)
    if get_str(feature, "type", f_loc) != "Feature":
        raise f_loc.at("type").error(f"expected 'Feature', got {feature['type']!r}")
    for key in ("geometry", "properties"):
        if key not in feature:
            raise f_loc.at(key).error(f"missing required field {key!r}")
    p_loc = f_loc.at("properties")
    props = as_object(feature["properties"], p_loc)
    check_fields(props, ZONE_PROPERTIES, p_loc)
    if feature["geometry"] is None:
        # RFC 7946 3.2: an unlocated feature. It covers no area, so no rule of it can
        # apply anywhere; Check's real 3.0 Almere feed has two. Kept out, logged.
        _rules(props.get("rules", []), p_loc.at("rules"), dialect, refs)  # still checked
        f_loc.at("geometry").warn("skipped", "zone with null geometry left out")
        return None
    geometry = parse_geometry(feature["geometry"], f_loc.at("geometry"), budget)
    start_s = _zone_time(props, "start", p_loc, dialect)
    end_s = _zone_time(props, "end", p_loc, dialect)
    if start_s is not None and end_s is not None and end_s < start_s:
        raise p_loc.at("end").error(f"zone ends ({end_s}) before it starts ({start_s})")
    return GeofencingZone(
        geometry=geometry,
        rules=_rules(props.get("rules", []), p_loc.at("rules"), dialect, refs),
        name=get_text(props, "name", p_loc, localized=dialect.v3, required=False),
        start_s=start_s,
        end_s=end_s,
    )


def _zone_time(props: Mapping[str, Any], key: str, p_loc: Loc, dialect: Dialect) -> int | None:
    """A zone's optional `start` or `end` as epoch seconds."""
    return read_timestamp(props[key], p_loc.at(key), v3=dialect.v3) if key in props else None


def rule_type_refs(geofencing: Geofencing, dialect: Dialect) -> TypeRefs:
    """The type references of a stored `Geofencing` (for merges into a stored snapshot).

    Feature indexes here count kept zones; they match the file unless it had features with
    null geometry before the one named.
    """
    key = rule_types_key(dialect)
    base = Loc("geofencing_zones", "/data")
    refs: list[tuple[Loc, str]] = []
    for i, zone in enumerate(geofencing.zones):
        r_loc = base.at("geofencing_zones").at("features").at(i).at("properties").at("rules")
        for j, rule in enumerate(zone.rules):
            refs.extend((r_loc.at(j).at(key).at(k), t) for k, t in enumerate(rule.vehicle_type_ids))
    for j, rule in enumerate(geofencing.global_rules):
        g_loc = base.at("global_rules").at(j).at(key)
        refs.extend((g_loc.at(k), t) for k, t in enumerate(rule.vehicle_type_ids))
    return tuple(refs)

"""Whole-feed parsing and single-file merges, with every cross-file check in one place.

A snapshot is only ever built by `_assemble`, whether from a full push (`parse_feed`) or
from a stored snapshot plus one replaced file (`merge_file`), so both paths enforce the
same rules:

- every file of a snapshot declares the same GBFS version, and only files that exist in
  that version (`free_bike_status` is 1.x/2.x, `vehicle_status` 3.0, `vehicle_types` and
  `geofencing_zones` 2.1+);
- `system_information` is required, plus station_information + station_status, or a
  vehicle file, or geofencing_zones (a geofencing-only system such as Tier Oslo's 2.3 feed
  is a valid snapshot with no stations and no vehicles);
- no dangling references: statuses name known stations, vehicles name known stations,
  types and pricing plans, vehicle types name known plans, type counts and geofencing rules
  name known types (geofencing rules only when the feed has `vehicle_types`: Tier Oslo's
  rules name types it does not publish);
- in 1.x a status for an unknown station is dropped with a warning instead (1.x stations
  with broken ids or coordinates are dropped, see `records`);
- without `vehicle_types`, the spec says every vehicle is a human-powered bicycle: the
  snapshot then carries one implied type, `IMPLIED_VEHICLE_TYPE_ID`, and every vehicle
  names it. With `vehicle_types`, every vehicle must name its type, and a motorised one
  must report `current_range_meters` (2.x/3.0 spec).

Bounds at the door (issue 11): every count is an integer in 0..`MAX_STATION_COUNT` and every
other integer fits int32 (`values`); positions are checked against the server's
`ServiceArea` when the caller gives one:

- a station or free-floating vehicle outside the area is left out, with a warning naming
  it; statuses of a left-out station and vehicles docked there go with it; the ids of
  left-out stations are kept on the snapshot so a later `station_status` push naming them
  is not a dangling reference;
- a feed with stations or vehicles of which not one lies inside is refused
  (`OutsideServiceAreaError`, naming the area): it is another city's feed, or a unit error.

Counts above a station's `capacity` are accepted as published, with a warning, not refused.
`capacity` is "docking points installed"; but a valet station (`is_valet_station`, 2.1+)
takes vehicles beyond its docks, a virtual station's capacity is a parking estimate, and
real feeds get it wrong the other way (Lillestrøm bysykkel's 2.2 feed publishes capacities
1..6 at stations holding 6..12 bikes, so the capacity, not the count, is the wrong number).
The count is what riders rent from, it is bounded by `MAX_STATION_COUNT` whatever the
capacity says, and so it cannot hurt the router; refusing it would refuse a real feed.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, TypedDict

from providers.errors import FeedError, OutsideServiceAreaError
from providers.gbfs.envelope import Dialect, Envelope, read_envelope
from providers.gbfs.geofencing import TypeRefs, parse_geofencing, rule_type_refs
from providers.gbfs.pricing import parse_plans
from providers.gbfs.records import (
    parse_station_status,
    parse_stations,
    parse_system,
    parse_vehicle_types,
    parse_vehicles,
)
from providers.gbfs.values import Loc, Notes
from providers.model import (
    FeedFile,
    FleetSnapshot,
    FormFactor,
    Geofencing,
    PricingPlan,
    Propulsion,
    Station,
    StationStatus,
    SystemInfo,
    Vehicle,
    VehicleType,
)
from providers.service_area import ServiceArea

logger = logging.getLogger(__name__)

#: File names (without `.json`) accepted for push, in the order they are read.
FILE_ORDER: Final = (
    "system_information",
    "vehicle_types",
    "system_pricing_plans",
    "station_information",
    "station_status",
    "vehicle_status",
    "free_bike_status",
    "geofencing_zones",
)
GBFS_FILES: Final = frozenset(FILE_ORDER)
#: Which of them exist in each version family.
FILES_BY_FAMILY: Final[Mapping[str, frozenset[str]]] = {
    "1": frozenset(
        {
            "system_information",
            "system_pricing_plans",
            "station_information",
            "station_status",
            "free_bike_status",
        }
    ),
    "2": GBFS_FILES - {"vehicle_status"},
    "3": GBFS_FILES - {"free_bike_status"},
}
#: The one vehicle type of a feed without `vehicle_types` (GBFS: all bicycles then).
IMPLIED_VEHICLE_TYPE_ID: Final = "bicycle"
_IMPLIED_TYPE: Final = VehicleType(
    id=IMPLIED_VEHICLE_TYPE_ID, form_factor=FormFactor.BICYCLE, propulsion=Propulsion.HUMAN
)


@dataclass(frozen=True, slots=True)
class _Parts:
    """The parsed content of each file, None where the file is absent."""

    dialect: Dialect
    system: SystemInfo
    feeds: Mapping[str, FeedFile]
    vehicle_types: tuple[VehicleType, ...] | None = None
    plans: tuple[PricingPlan, ...] | None = None
    stations: tuple[Station, ...] | None = None
    station_status: tuple[StationStatus, ...] | None = None
    vehicles: tuple[Vehicle, ...] | None = None
    geofencing: Geofencing | None = None
    geofencing_refs: TypeRefs = ()
    #: stations left out for lying outside the service area (by an earlier push, in a merge)
    outside_station_ids: tuple[str, ...] = ()
    #: warnings found while reading the files and assembling them
    notes: Notes = dataclasses.field(default_factory=Notes)

    @property
    def vehicles_file(self) -> str:
        """The name of this version's vehicle file."""
        return "vehicle_status" if self.dialect.v3 else "free_bike_status"


class _PartValues(TypedDict, total=False):
    """The `_Parts` fields one file fills (what `_read_part` returns)."""

    system: SystemInfo
    vehicle_types: tuple[VehicleType, ...]
    plans: tuple[PricingPlan, ...]
    stations: tuple[Station, ...]
    station_status: tuple[StationStatus, ...]
    vehicles: tuple[Vehicle, ...]
    geofencing: Geofencing
    geofencing_refs: TypeRefs
    outside_station_ids: tuple[str, ...]


def _check_file_name(name: object) -> str:
    if not isinstance(name, str) or name not in GBFS_FILES:
        shown = name[:40] if isinstance(name, str) else repr(name)[:40]
        raise FeedError(
            str(shown),
            "",
            f"not a GBFS file this parser accepts; expected one of: {', '.join(FILE_ORDER)}",
        )
    return name


def _check_file_in_version(name: str, dialect: Dialect) -> None:
    if name not in FILES_BY_FAMILY[dialect.family]:
        raise FeedError(
            name,
            "",
            f"{name} is not part of GBFS {dialect.version}; that version's files "
            f"are: {', '.join(f for f in FILE_ORDER if f in FILES_BY_FAMILY[dialect.family])}",
        )


def _read_part(env: Envelope, received_at_s: int, notes: Notes) -> _PartValues:
    """Parse one file's data into the `_Parts` fields it fills (warnings into `notes`)."""
    loc = Loc(env.name, "/data", notes)
    dialect = env.dialect
    match env.name:
        case "system_information":
            return {"system": parse_system(env.data, loc, dialect)}
        case "vehicle_types":
            return {"vehicle_types": parse_vehicle_types(env.data, loc, dialect)}
        case "system_pricing_plans":
            return {"plans": parse_plans(env.data, loc, dialect)}
        case "station_information":
            # a new station list is judged afresh against the area
            return {"stations": parse_stations(env.data, loc, dialect), "outside_station_ids": ()}
        case "station_status":
            return {
                "station_status": parse_station_status(
                    env.data, loc, dialect, received_at_s=received_at_s
                )
            }
        case "vehicle_status" | "free_bike_status":
            return {
                "vehicles": parse_vehicles(
                    env.data, loc, dialect, file=env.name, received_at_s=received_at_s
                )
            }
        case _:
            geofencing, refs = parse_geofencing(env.data, loc, dialect)
            return {"geofencing": geofencing, "geofencing_refs": refs}


def _freshness(env: Envelope, received_at_s: int) -> FeedFile:
    return FeedFile(
        name=env.name,
        last_updated_s=env.last_updated_s,
        ttl_s=env.ttl_s,
        content_sha256=env.content_sha256,
        received_at_s=received_at_s,
    )


def _require_files(parts: _Parts) -> None:
    has_info, has_status = parts.stations is not None, parts.station_status is not None
    if has_info and not has_status:
        raise FeedError("station_status", "", "missing: station_information needs station_status")
    if has_status and not has_info:
        raise FeedError(
            "station_information", "", "missing: station_status needs station_information"
        )
    if not (has_info or parts.vehicles is not None or parts.geofencing is not None):
        raise FeedError(
            parts.vehicles_file,
            "",
            "missing: a snapshot needs station_information + "
            f"station_status, {parts.vehicles_file}, or geofencing_zones",
        )


def _check_type_plans(types: tuple[VehicleType, ...], plan_ids: set[str]) -> None:
    base = Loc("vehicle_types", "/data/vehicle_types")
    for i, vt in enumerate(types):
        if vt.default_pricing_plan_id is not None and vt.default_pricing_plan_id not in plan_ids:
            raise (
                base.at(i)
                .at("default_pricing_plan_id")
                .error(
                    f"unknown pricing plan {vt.default_pricing_plan_id!r} (not in "
                    "system_pricing_plans)"
                )
            )
        for k, plan_id in enumerate(vt.pricing_plan_ids):
            if plan_id not in plan_ids:
                raise (
                    base.at(i)
                    .at("pricing_plan_ids")
                    .at(k)
                    .error(f"unknown pricing plan {plan_id!r} (not in system_pricing_plans)")
                )


def _check_status(parts: _Parts, type_ids: set[str] | None) -> tuple[StationStatus, ...]:
    """Statuses with known stations and types (1.x: dangling statuses dropped)."""
    stations = {s.id: s for s in parts.stations or ()}
    outside = set(parts.outside_station_ids)
    base = Loc("station_status", "/data/stations", parts.notes)
    kept: list[StationStatus] = []
    for i, status in enumerate(parts.station_status or ()):
        if status.station_id in outside and status.station_id not in stations:
            base.at(i).at("station_id").warn(
                "outside-area",
                f"status of station {status.station_id!r}, which lies outside the service "
                "area, left out",
            )
            continue
        if status.station_id not in stations:
            if parts.dialect.legacy:
                base.at(i).at("station_id").warn(
                    "dropped",
                    f"status of unknown station {status.station_id[:40]!r} left out",
                )
                continue
            raise (
                base.at(i)
                .at("station_id")
                .error(
                    f"status for unknown station {status.station_id!r} (not in station_information)"
                )
            )
        for j, (type_id, _count) in enumerate(status.vehicle_types_available):
            _check_type(type_id, type_ids, base.at(i).at("vehicle_types_available").at(j))
        for j, (dock_types, _count) in enumerate(status.vehicle_docks_available):
            for k, type_id in enumerate(dock_types):
                d_loc = base.at(i).at("vehicle_docks_available").at(j)
                _check_type(type_id, type_ids, d_loc.at("vehicle_type_ids").at(k))
        _warn_over_capacity(
            status,
            stations[status.station_id],
            base.at(i),
            count_key="num_vehicles_available" if parts.dialect.v3 else "num_bikes_available",
        )
        kept.append(status)
    return tuple(kept)


def _warn_over_capacity(
    status: StationStatus, station: Station, loc: Loc, *, count_key: str
) -> None:
    """Counts above the station's capacity: kept as published, with a warning (module doc)."""
    capacity = station.capacity
    if capacity is None:
        return
    for key, count, what in (
        (count_key, status.num_vehicles_available, "vehicles available"),
        ("num_docks_available", status.num_docks_available, "docks available"),
    ):
        if count is not None and count > capacity:
            loc.at(key).warn(
                "over-capacity",
                f"{count} {what} at station {station.id!r} whose capacity is {capacity} "
                "(kept as published)",
            )


def _check_type(type_id: str, type_ids: set[str] | None, loc: Loc) -> None:
    if type_ids is None:
        raise loc.error(f"names vehicle type {type_id!r} but the feed has no vehicle_types")
    if type_id not in type_ids:
        raise loc.error(f"unknown vehicle_type_id {type_id!r} (not in vehicle_types)")


def _check_vehicles(
    parts: _Parts, types: Mapping[str, VehicleType] | None, plan_ids: set[str]
) -> tuple[Vehicle, ...]:
    """Vehicles with known stations, types and plans; typeless feeds get the implied type."""
    station_ids = {s.id for s in parts.stations or ()}
    outside = set(parts.outside_station_ids) - station_ids
    base = Loc(
        parts.vehicles_file, "/data/vehicles" if parts.dialect.v3 else "/data/bikes", parts.notes
    )
    out: list[Vehicle] = []
    for i, vehicle in enumerate(parts.vehicles or ()):
        v_loc = base.at(i)
        if vehicle.station_id in outside:
            v_loc.at("station_id").warn(
                "outside-area",
                f"vehicle {vehicle.id!r} at station {vehicle.station_id!r}, which lies outside "
                "the service area, left out",
            )
            continue
        if vehicle.station_id is not None and vehicle.station_id not in station_ids:
            raise v_loc.at("station_id").error(
                f"unknown station {vehicle.station_id!r} (not in station_information)"
            )
        if vehicle.pricing_plan_id is not None and vehicle.pricing_plan_id not in plan_ids:
            raise v_loc.at("pricing_plan_id").error(
                f"unknown pricing plan {vehicle.pricing_plan_id!r} (not in system_pricing_plans)"
            )
        if types is None:
            if vehicle.vehicle_type_id is not None:
                _check_type(vehicle.vehicle_type_id, None, v_loc.at("vehicle_type_id"))
            out.append(dataclasses.replace(vehicle, vehicle_type_id=IMPLIED_VEHICLE_TYPE_ID))
            continue
        if vehicle.vehicle_type_id is None:
            raise v_loc.at("vehicle_type_id").error(
                "missing required field 'vehicle_type_id' (required when vehicle_types is "
                "published)"
            )
        _check_type(vehicle.vehicle_type_id, set(types), v_loc.at("vehicle_type_id"))
        vt = types[vehicle.vehicle_type_id]
        if (
            vt.propulsion is not Propulsion.HUMAN
            and vehicle.current_range_m is None
            and not parts.dialect.legacy
        ):
            raise v_loc.at("current_range_meters").error(
                f"missing required field 'current_range_meters' (vehicle type "
                f"{vt.id!r} is {vt.propulsion.value})"
            )
        out.append(vehicle)
    return tuple(out)


def _assemble(
    parts: _Parts, provider_id: str, source: str, area: ServiceArea | None
) -> FleetSnapshot:
    """Cross-check the parts, keep what lies in `area` (when given), build the snapshot."""
    _require_files(parts)
    plan_ids = {p.id for p in parts.plans or ()}
    explicit = parts.vehicle_types
    type_ids = {t.id for t in explicit} if explicit is not None else None
    if explicit is not None:
        _check_type_plans(explicit, plan_ids)
    statuses = _check_status(parts, type_ids)
    vehicles = _check_vehicles(
        parts, {t.id: t for t in explicit} if explicit is not None else None, plan_ids
    )
    if parts.geofencing is not None and type_ids is not None:
        for loc, type_id in parts.geofencing_refs:
            _check_type(type_id, type_ids, loc)
    stations = parts.stations or ()
    outside_ids = parts.outside_station_ids
    if area is not None:
        stations, statuses, vehicles, outside_ids = _within_area(
            parts, area, stations, statuses, vehicles
        )
    if explicit is not None:
        vehicle_types = explicit
    elif parts.stations or parts.vehicles:
        vehicle_types = (_IMPLIED_TYPE,)
    else:
        vehicle_types = ()
    return FleetSnapshot(
        provider_id=provider_id,
        gbfs_version=parts.dialect.version,
        system=parts.system,
        feeds=tuple(parts.feeds[name] for name in FILE_ORDER if name in parts.feeds),
        vehicle_types=vehicle_types,
        stations=stations,
        station_status=statuses,
        vehicles=vehicles,
        pricing_plans=parts.plans or (),
        geofencing=parts.geofencing or Geofencing(),
        source=source,
        warnings=parts.notes.messages(),
        outside_station_ids=outside_ids,
    )


def _within_area(
    parts: _Parts,
    area: ServiceArea,
    stations: tuple[Station, ...],
    statuses: tuple[StationStatus, ...],
    vehicles: tuple[Vehicle, ...],
) -> tuple[tuple[Station, ...], tuple[StationStatus, ...], tuple[Vehicle, ...], tuple[str, ...]]:
    """Stations, statuses and vehicles inside `area`, and the ids of all left-out stations.

    Each left-out station or vehicle is one warning. Raises `OutsideServiceAreaError` when
    the snapshot has stations or vehicles and not one of them is inside (module doc).
    """
    notes = parts.notes
    inside_stations: list[Station] = []
    dropped: list[str] = []
    for station in stations:
        if area.contains(station.lat, station.lon):
            inside_stations.append(station)
            continue
        dropped.append(station.id)
        notes.add(
            f"station_information: station {station.id!r} at {station.lat:.5f}, "
            f"{station.lon:.5f} lies outside the service area {area.describe()}; left out"
        )
    gone = set(dropped)
    inside_vehicles: list[Vehicle] = []
    for vehicle in vehicles:
        if vehicle.lat is not None and vehicle.lon is not None:
            if area.contains(vehicle.lat, vehicle.lon):
                inside_vehicles.append(vehicle)
                continue
            where = f"at {vehicle.lat:.5f}, {vehicle.lon:.5f}"
        elif vehicle.station_id in gone:
            where = f"at station {vehicle.station_id!r}"
        else:
            inside_vehicles.append(vehicle)
            continue
        notes.add(
            f"{parts.vehicles_file}: vehicle {vehicle.id!r} {where} lies outside the service "
            f"area {area.describe()}; left out"
        )
    if (stations or vehicles) and not (inside_stations or inside_vehicles):
        if stations:
            first = stations[0]
            file, path = "station_information", "/data/stations"
            example = f"station {first.id!r} at {first.lat:.5f}, {first.lon:.5f}"
        else:
            first_vehicle = vehicles[0]
            file = parts.vehicles_file
            path = "/data/vehicles" if parts.dialect.v3 else "/data/bikes"
            example = f"vehicle {first_vehicle.id!r} at {first_vehicle.lat}, {first_vehicle.lon}"
        raise OutsideServiceAreaError(file, path, area.describe(), example)
    kept_statuses = tuple(s for s in statuses if s.station_id not in gone)
    outside_ids = tuple(dict.fromkeys((*parts.outside_station_ids, *dropped)))
    return tuple(inside_stations), kept_statuses, tuple(inside_vehicles), outside_ids


def parse_feed(
    provider_id: str,
    files: Mapping[str, bytes],
    *,
    received_at_s: int,
    source: str = "push",
    area: ServiceArea | None = None,
) -> FleetSnapshot:
    """Parse a whole GBFS feed (file name without `.json` -> raw bytes) into a snapshot.

    With `area`, stations and vehicles outside it are left out (each named in the
    snapshot's `warnings`) and a feed with none inside is refused (module doc).

    Raises
    ------
    FeedError
        For any malformed, inconsistent or hostile input (see the module docstrings of
        `jsonload`, `timestamps`, `fields`, `records` and this module for the rules).
    """
    if not isinstance(files, Mapping):
        raise FeedError("", "", f"expected a mapping of file name -> bytes, got {type(files)}")
    names = [_check_file_name(name) for name in files]
    if "system_information" not in names:
        raise FeedError("system_information", "", "missing: every snapshot needs it")
    system_env = read_envelope(
        "system_information", files["system_information"], received_at_s=received_at_s
    )
    dialect = system_env.dialect
    envelopes = {"system_information": system_env}
    for name in FILE_ORDER[1:]:
        if name in files:
            envelopes[name] = read_envelope(
                name, files[name], received_at_s=received_at_s, expected_version=dialect.version
            )
    for name in envelopes:
        _check_file_in_version(name, dialect)
    notes = Notes()
    values: _PartValues = {}
    for env in envelopes.values():
        values.update(_read_part(env, received_at_s, notes))
    system = values.pop("system")
    assert isinstance(system, SystemInfo)
    parts = _Parts(
        dialect=dialect,
        system=system,
        feeds={name: _freshness(env, received_at_s) for name, env in envelopes.items()},
        notes=notes,
    )
    parts = dataclasses.replace(parts, **values)
    return _assemble(parts, provider_id, source, area)


def _parts_of(snapshot: FleetSnapshot) -> _Parts:
    """The parts a stored snapshot was built from (absent files stay None)."""
    has = {f.name for f in snapshot.feeds}
    typed = "vehicle_types" in has
    vehicles = snapshot.vehicles
    if not typed:  # undo the implied type so a later vehicle_types push is checked afresh
        vehicles = tuple(dataclasses.replace(v, vehicle_type_id=None) for v in vehicles)
    return _Parts(
        dialect=Dialect(snapshot.gbfs_version),
        system=snapshot.system,
        feeds={f.name: f for f in snapshot.feeds},
        vehicle_types=snapshot.vehicle_types if typed else None,
        plans=snapshot.pricing_plans if "system_pricing_plans" in has else None,
        stations=snapshot.stations if "station_information" in has else None,
        station_status=snapshot.station_status if "station_status" in has else None,
        vehicles=vehicles if has & {"vehicle_status", "free_bike_status"} else None,
        geofencing=snapshot.geofencing if "geofencing_zones" in has else None,
        geofencing_refs=rule_type_refs(snapshot.geofencing, Dialect(snapshot.gbfs_version)),
        outside_station_ids=snapshot.outside_station_ids,
    )


def merge_file(
    snapshot: FleetSnapshot,
    name: str,
    raw: bytes,
    *,
    received_at_s: int,
    area: ServiceArea | None = None,
) -> FleetSnapshot:
    """Replace one file of a stored snapshot, cross-checked against the rest; a new snapshot.

    An inconsistency the new file causes elsewhere (say, a new station_information that
    drops a station vehicles are parked at) is reported against the pushed file, naming the
    stored file and location it breaks.
    """
    name = _check_file_name(name)
    env = read_envelope(
        name, raw, received_at_s=received_at_s, expected_version=snapshot.gbfs_version
    )
    parts = _parts_of(snapshot)
    _check_file_in_version(name, parts.dialect)
    values = _read_part(env, received_at_s, parts.notes)
    system = values.get("system")
    if isinstance(system, SystemInfo) and system.system_id != snapshot.system.system_id:
        raise FeedError(
            name,
            "/data/system_id",
            f"system_id changed from {snapshot.system.system_id!r} "
            f"to {system.system_id!r}; a provider publishes one system",
        )
    parts = dataclasses.replace(
        parts, feeds={**parts.feeds, name: _freshness(env, received_at_s)}, **values
    )
    try:
        return _assemble(parts, snapshot.provider_id, snapshot.source, area)
    except FeedError as exc:
        if exc.file == name or isinstance(exc, OutsideServiceAreaError):
            raise
        raise FeedError(
            name, "", f"conflicts with the stored {exc.file}: at {exc.path or '/'}: {exc.message}"
        ) from None

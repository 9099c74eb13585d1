"""Per-file record readers: `data` of one GBFS file into model records.

Each reader checks field names (strict in 2.x/3.0, tolerant in 1.x, see `fields`), types,
ranges and enums, and ids unique within the file. References between files are checked
later, in `snapshot`, once every file is read.

The 1.x tolerance rules (HSL's real 1.x capture has these defects; in 2.x/3.0 each is an
error):

- a station with a null or empty `station_id`, or null `lat`/`lon`, is dropped with a logged
  warning (its status, if any, is then dropped as dangling, see `snapshot`);
- a station whose `name` is null or empty is named by its `station_id`;
- integer ids (some 1.x feeds publish `"station_id": 72`) are read as strings;
- null optional fields count as absent.

The integers 0/1 for booleans are read in every version (with a warning outside 1.x, see
`values.get_bool`). Counts are bounded by `values.MAX_STATION_COUNT`, ranges by
`values.MAX_RANGE_M`, every other integer by int32.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

from providers.gbfs.envelope import Dialect
from providers.gbfs.fields import (
    RENTAL_URIS,
    TYPE_COUNT,
    TYPES_COUNT,
    data_fields,
    record_fields,
)
from providers.gbfs.timestamps import read_last_reported
from providers.gbfs.values import (
    MAX_RANGE_M,
    MAX_STATION_COUNT,
    Loc,
    as_array,
    as_object,
    check_fields,
    get_bool,
    get_int,
    get_lat_lon,
    get_number,
    get_str,
    get_str_list,
    get_text,
    present,
    to_int,
    unique_id,
)
from providers.model import (
    FormFactor,
    Propulsion,
    RentalUris,
    ReturnConstraint,
    Station,
    StationStatus,
    SystemInfo,
    Vehicle,
    VehicleType,
)

logger = logging.getLogger(__name__)
#: Highest life-cycle emission per km accepted (a heavy car emits a few hundred g/km).
MAX_G_CO2_KM = 100_000
_E = TypeVar("_E", FormFactor, Propulsion, ReturnConstraint)

#: 2.x's `scooter` is 3.0's `scooter_standing` (the spec's own mapping).
_FORM_FACTOR_ALIASES = {"scooter": FormFactor.SCOOTER_STANDING}


@cache
def _timezones() -> frozenset[str]:
    """IANA zone names known to this system; read once, never probed with feed input."""
    return frozenset(zoneinfo.available_timezones())


def _family(dialect: Dialect) -> str:
    """The field-set family: 1.x is checked against 2.x names (types only; tolerant)."""
    return "2" if dialect.legacy else dialect.family


def _enum(kind: type[_E], value: str, loc: Loc, aliases: Mapping[str, _E] | None = None) -> _E:
    """`value` as a member of the model enum `kind`; unknown values are refused."""
    if aliases and value in aliases:
        return aliases[value]
    try:
        return kind(value)
    except ValueError:
        expected = ", ".join(m.value for m in kind) + (", " + ", ".join(aliases) if aliases else "")
        raise loc.error(f"unknown value {value[:40]!r}; expected one of: {expected}") from None


def _legacy_id(obj: Mapping[str, Any], key: str, loc: Loc, dialect: Dialect) -> str | None:
    """An id; 1.x may give an integer (read as its string) or null/"" (returns None)."""
    if dialect.legacy:
        value = obj.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return get_str(obj, key, loc)


def _records(data: Mapping[str, Any], key: str, loc: Loc, file: str, dialect: Dialect) -> list[Any]:
    """The record array of a file, after checking `data`'s own members."""
    check_fields(data, data_fields(file, _family(dialect)), loc, tolerant=dialect.legacy)
    if key not in data:
        raise loc.at(key).error(f"missing required field {key!r}")
    return as_array(data[key], loc.at(key))


def parse_rental_uris(obj: Mapping[str, Any], loc: Loc, dialect: Dialect) -> RentalUris | None:
    """The optional `rental_uris` object (android/ios/web deep links)."""
    if not present(
        obj, "rental_uris", loc, required=False, allow_null=dialect.legacy, expected="object"
    ):
        return None
    u_loc = loc.at("rental_uris")
    uris = as_object(obj["rental_uris"], u_loc)
    check_fields(uris, RENTAL_URIS, u_loc, tolerant=dialect.legacy)
    return RentalUris(
        **{
            k: get_str(uris, k, u_loc, required=False, allow_null=dialect.legacy)
            for k in RENTAL_URIS
        }
    )


def parse_system(data: Mapping[str, Any], loc: Loc, dialect: Dialect) -> SystemInfo:
    """`system_information`'s `data`."""
    legacy, v3 = dialect.legacy, dialect.v3
    check_fields(data, record_fields("system_information", _family(dialect)), loc, tolerant=legacy)
    system_id = get_str(data, "system_id", loc)
    name = get_text(data, "name", loc, localized=v3)
    timezone = get_str(data, "timezone", loc)
    assert system_id is not None and name is not None and timezone is not None
    if timezone not in _timezones():
        raise loc.at("timezone").error(f"unknown IANA time zone {timezone[:60]!r}")
    if v3:
        languages = get_str_list(data, "languages", loc) or ()
        language = languages[0] if languages else None
    else:
        language = get_str(data, "language", loc, required=not legacy, allow_null=legacy)
    return SystemInfo(
        system_id=system_id,
        name=name,
        timezone=timezone,
        language=language,
        operator=get_text(data, "operator", loc, localized=v3, required=False, allow_null=legacy),
        url=get_str(data, "url", loc, required=False, allow_null=legacy),
    )


def parse_vehicle_types(
    data: Mapping[str, Any], loc: Loc, dialect: Dialect
) -> tuple[VehicleType, ...]:
    """`vehicle_types` (2.1+): form factor, propulsion, range, pricing references."""
    v3 = dialect.v3
    allowed = record_fields("vehicle_types", _family(dialect))
    aliases = None if v3 else _FORM_FACTOR_ALIASES
    out: list[VehicleType] = []
    seen: set[str] = set()
    for i, item in enumerate(_records(data, "vehicle_types", loc, "vehicle_types", dialect)):
        t_loc = loc.at("vehicle_types").at(i)
        vt = as_object(item, t_loc)
        check_fields(vt, allowed, t_loc)
        type_id = get_str(vt, "vehicle_type_id", t_loc)
        form = get_str(vt, "form_factor", t_loc)
        propulsion_name = get_str(vt, "propulsion_type", t_loc)
        assert type_id is not None and form is not None and propulsion_name is not None
        unique_id(seen, type_id, t_loc.at("vehicle_type_id"), "vehicle_type_id")
        propulsion = _enum(Propulsion, propulsion_name, t_loc.at("propulsion_type"))
        max_range = get_number(
            vt,
            "max_range_meters",
            t_loc,
            required=propulsion is not Propulsion.HUMAN,
            maximum=MAX_RANGE_M,
        )
        constraint = get_str(vt, "return_constraint", t_loc, required=False)
        out.append(
            VehicleType(
                id=type_id,
                form_factor=_enum(FormFactor, form, t_loc.at("form_factor"), aliases),
                propulsion=propulsion,
                name=get_text(vt, "name", t_loc, localized=v3, required=False),
                max_range_m=max_range,
                return_constraint=(
                    _enum(ReturnConstraint, constraint, t_loc.at("return_constraint"))
                    if constraint is not None
                    else None
                ),
                default_pricing_plan_id=get_str(
                    vt, "default_pricing_plan_id", t_loc, required=False
                ),
                pricing_plan_ids=get_str_list(vt, "pricing_plan_ids", t_loc, required=False) or (),
                g_co2_km=get_int(vt, "g_CO2_km", t_loc, required=False, maximum=MAX_G_CO2_KM),
            )
        )
    return tuple(out)


def parse_stations(data: Mapping[str, Any], loc: Loc, dialect: Dialect) -> tuple[Station, ...]:
    """`station_information`: id, name, position, capacity (1.x defects: module doc)."""
    legacy = dialect.legacy
    allowed = record_fields("station_information", _family(dialect))
    out: list[Station] = []
    seen: set[str] = set()
    for i, item in enumerate(_records(data, "stations", loc, "station_information", dialect)):
        s_loc = loc.at("stations").at(i)
        st = as_object(item, s_loc)
        check_fields(st, allowed, s_loc, tolerant=legacy)
        station_id = _legacy_id(st, "station_id", s_loc, dialect)
        if station_id is None:
            s_loc.at("station_id").warn("dropped", "station without station_id left out")
            continue
        if legacy and (st.get("lat") is None or st.get("lon") is None):
            s_loc.warn("dropped", f"station {station_id[:40]!r} has no coordinates; left out")
            continue
        unique_id(seen, station_id, s_loc.at("station_id"), "station_id")
        if legacy and st.get("name") in (None, ""):
            s_loc.at("name").warn("named by id", f"station {station_id[:40]!r} has no name; "
                                  "named by its id")
            name: str | None = station_id
        else:
            name = get_text(st, "name", s_loc, localized=dialect.v3)
        position = get_lat_lon(st, s_loc)
        assert name is not None and position is not None
        _check_type_capacities(st, s_loc, dialect)
        out.append(
            Station(
                id=station_id,
                name=name,
                lat=position[0],
                lon=position[1],
                capacity=get_int(
                    st,
                    "capacity",
                    s_loc,
                    required=False,
                    allow_null=legacy,
                    maximum=MAX_STATION_COUNT,
                ),
                is_virtual=bool(
                    get_bool(st, "is_virtual_station", s_loc, required=False, legacy=legacy)
                ),
                rental_uris=parse_rental_uris(st, s_loc, dialect),
            )
        )
    return tuple(out)


def _check_type_capacities(st: Mapping[str, Any], loc: Loc, dialect: Dialect) -> None:
    """Per-type capacities of a station: not modelled, but typed and bounded like counts.

    2.x publishes objects (`vehicle_capacity`, `vehicle_type_capacity`: type id -> count),
    3.0 arrays of `{vehicle_type_id(s), count}`; 1.x has neither (and is read tolerantly).
    """
    if dialect.legacy:
        return
    if not dialect.v3:
        for key in ("vehicle_capacity", "vehicle_type_capacity"):
            if not present(st, key, loc, required=False, allow_null=False, expected="object"):
                continue
            c_loc = loc.at(key)
            for type_id, count in as_object(st[key], c_loc).items():
                to_int(count, c_loc.at(type_id), maximum=MAX_STATION_COUNT)
        return
    for key, fields in (
        ("vehicle_types_capacity", TYPES_COUNT),
        ("vehicle_docks_capacity", TYPES_COUNT),
    ):
        if not present(st, key, loc, required=False, allow_null=False, expected="array"):
            continue
        a_loc = loc.at(key)
        for j, item in enumerate(as_array(st[key], a_loc, max_items=1_000)):
            entry = as_object(item, a_loc.at(j))
            check_fields(entry, fields, a_loc.at(j))
            get_str_list(entry, "vehicle_type_ids", a_loc.at(j))
            get_int(entry, "count", a_loc.at(j), maximum=MAX_STATION_COUNT)


def _type_counts(st: Mapping[str, Any], loc: Loc, dialect: Dialect) -> tuple[tuple[str, int], ...]:
    if not present(
        st,
        "vehicle_types_available",
        loc,
        required=False,
        allow_null=dialect.legacy,
        expected="array",
    ):
        return ()
    a_loc = loc.at("vehicle_types_available")
    out: list[tuple[str, int]] = []
    for j, item in enumerate(as_array(st["vehicle_types_available"], a_loc, max_items=1_000)):
        e_loc = a_loc.at(j)
        entry = as_object(item, e_loc)
        check_fields(entry, TYPE_COUNT, e_loc)
        type_id = get_str(entry, "vehicle_type_id", e_loc)
        count = get_int(entry, "count", e_loc, maximum=MAX_STATION_COUNT)
        assert type_id is not None and count is not None
        out.append((type_id, count))
    return tuple(out)


def _dock_counts(
    st: Mapping[str, Any], loc: Loc, dialect: Dialect
) -> tuple[tuple[tuple[str, ...], int], ...]:
    if not present(
        st,
        "vehicle_docks_available",
        loc,
        required=False,
        allow_null=dialect.legacy,
        expected="array",
    ):
        return ()
    a_loc = loc.at("vehicle_docks_available")
    out: list[tuple[tuple[str, ...], int]] = []
    for j, item in enumerate(as_array(st["vehicle_docks_available"], a_loc, max_items=1_000)):
        e_loc = a_loc.at(j)
        entry = as_object(item, e_loc)
        check_fields(entry, TYPES_COUNT, e_loc)
        type_ids = get_str_list(entry, "vehicle_type_ids", e_loc)
        count = get_int(entry, "count", e_loc, maximum=MAX_STATION_COUNT)
        assert type_ids is not None and count is not None
        out.append((type_ids, count))
    return tuple(out)


def parse_station_status(
    data: Mapping[str, Any], loc: Loc, dialect: Dialect, *, received_at_s: int
) -> tuple[StationStatus, ...]:
    """`station_status`: availability per station (3.0 vehicles / 1.x-2.x bikes counts)."""
    legacy = dialect.legacy
    allowed = record_fields("station_status", _family(dialect))
    count_key = "num_vehicles_available" if dialect.v3 else "num_bikes_available"
    out: list[StationStatus] = []
    seen: set[str] = set()
    for i, item in enumerate(_records(data, "stations", loc, "station_status", dialect)):
        s_loc = loc.at("stations").at(i)
        st = as_object(item, s_loc)
        check_fields(st, allowed, s_loc, tolerant=legacy)
        for extra in ("installed", "renting", "returning"):  # PRODUCER_EXTRAS: typed anyway
            get_bool(st, extra, s_loc, required=False)
        station_id = _legacy_id(st, "station_id", s_loc, dialect)
        if station_id is None:
            s_loc.at("station_id").warn("dropped", "status without station_id left out")
            continue
        unique_id(seen, station_id, s_loc.at("station_id"), "station_id")
        available = get_int(st, count_key, s_loc, maximum=MAX_STATION_COUNT)
        disabled_key = "num_vehicles_disabled" if dialect.v3 else "num_bikes_disabled"
        for key in (disabled_key, "num_docks_disabled"):  # not modelled, but bounded
            get_int(st, key, s_loc, required=False, allow_null=legacy, maximum=MAX_STATION_COUNT)
        flags = [
            get_bool(st, k, s_loc, legacy=legacy)
            for k in ("is_installed", "is_renting", "is_returning")
        ]
        if "last_reported" not in st:
            raise s_loc.at("last_reported").error("missing required field 'last_reported'")
        last_reported = read_last_reported(
            st["last_reported"],
            s_loc.at("last_reported"),
            v3=dialect.v3,
            legacy=legacy,
            received_at_s=received_at_s,
        )
        assert available is not None and None not in flags
        out.append(
            StationStatus(
                station_id=station_id,
                num_vehicles_available=available,
                is_installed=bool(flags[0]),
                is_renting=bool(flags[1]),
                is_returning=bool(flags[2]),
                num_docks_available=get_int(
                    st,
                    "num_docks_available",
                    s_loc,
                    required=False,
                    allow_null=legacy,
                    maximum=MAX_STATION_COUNT,
                ),
                vehicle_types_available=_type_counts(st, s_loc, dialect),
                vehicle_docks_available=_dock_counts(st, s_loc, dialect),
                last_reported_s=last_reported,
            )
        )
    return tuple(out)


def parse_vehicles(
    data: Mapping[str, Any], loc: Loc, dialect: Dialect, *, file: str, received_at_s: int
) -> tuple[Vehicle, ...]:
    """`vehicle_status` (3.0) / `free_bike_status` (1.x/2.x): rentable vehicles."""
    legacy = dialect.legacy
    allowed = record_fields(file, _family(dialect))
    id_key, list_key = ("vehicle_id", "vehicles") if dialect.v3 else ("bike_id", "bikes")
    out: list[Vehicle] = []
    seen: set[str] = set()
    for i, item in enumerate(_records(data, list_key, loc, file, dialect)):
        v_loc = loc.at(list_key).at(i)
        vh = as_object(item, v_loc)
        check_fields(vh, allowed, v_loc, tolerant=legacy)
        vehicle_id = _legacy_id(vh, id_key, v_loc, dialect)
        if vehicle_id is None:
            v_loc.at(id_key).warn("dropped", f"vehicle without {id_key} left out")
            continue
        unique_id(seen, vehicle_id, v_loc.at(id_key), id_key)
        station_id = get_str(vh, "station_id", v_loc, required=False, allow_null=legacy)
        get_str(vh, "home_station_id", v_loc, required=False, allow_null=legacy)
        position = get_lat_lon(vh, v_loc, required=station_id is None)
        flags = [get_bool(vh, k, v_loc, legacy=legacy) for k in ("is_reserved", "is_disabled")]
        last_reported = None
        if present(
            vh, "last_reported", v_loc, required=False, allow_null=legacy, expected="timestamp"
        ):
            last_reported = read_last_reported(
                vh["last_reported"],
                v_loc.at("last_reported"),
                v3=dialect.v3,
                legacy=legacy,
                received_at_s=received_at_s,
            )
        out.append(
            Vehicle(
                id=vehicle_id,
                lat=position[0] if position else None,
                lon=position[1] if position else None,
                vehicle_type_id=get_str(
                    vh, "vehicle_type_id", v_loc, required=False, allow_null=legacy
                ),
                station_id=station_id,
                is_reserved=bool(flags[0]),
                is_disabled=bool(flags[1]),
                current_range_m=get_number(
                    vh,
                    "current_range_meters",
                    v_loc,
                    required=False,
                    allow_null=legacy,
                    maximum=MAX_RANGE_M,
                ),
                current_fuel_percent=get_number(
                    vh,
                    "current_fuel_percent",
                    v_loc,
                    required=False,
                    allow_null=legacy,
                    maximum=1.0,
                ),
                pricing_plan_id=get_str(
                    vh, "pricing_plan_id", v_loc, required=False, allow_null=legacy
                ),
                rental_uris=parse_rental_uris(vh, v_loc, dialect),
                last_reported_s=last_reported,
            )
        )
    return tuple(out)

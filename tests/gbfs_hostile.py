"""A deterministic corpus of hostile GBFS pushes, each of which must be refused.

`hostile_cases()` builds small valid GBFS 3.0 and 2.3 feeds (`valid_feed_v3`,
`valid_feed_v23`) and mutates them systematically: broken JSON and UTF-8, non-finite numbers,
duplicate keys, deep nesting, oversized bodies and arrays, out-of-range coordinates, a wrong
type for every modelled field, booleans posing as words ("yes", "1"; the integers 0/1 are
tolerated with a warning, see `providers.gbfs.values.get_bool`), unknown fields at every
level, missing required fields, dangling references, duplicate ids, bad timestamps, negative
counts, unknown enums, bad money and bad geometry.

Each case is a whole-snapshot push (`files`: file name -> bytes). Parsing it must raise
`FeedError` whose `path` or `message` contains `expect`, and whose `file` is `file` when
that is set. The timestamps are fixed (2024-01-01; "future" means the year 2200), so the
cases are valid-but-for-the-mutation at any realistic receipt time from 2024 on; use
`RECEIVED_AT_S` where a fixed receipt time is needed. API tests reuse the corpus (push ->
4xx, store unchanged), so it stays importable, deterministic and fast.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

BASE_S = 1_704_067_200  # 2024-01-01T00:00:00Z
BASE_RFC3339 = "2024-01-01T00:00:00Z"
RECEIVED_AT_S = BASE_S + 3_600
FUTURE_S = 7_258_118_400  # 2200-01-01: in the future of any receipt time
FUTURE_RFC3339 = "2200-01-01T00:00:00Z"
MAX_FILE_BYTES = 20 * 1024 * 1024  # mirrors providers.gbfs.jsonload.MAX_FILE_BYTES
MAX_RECORDS = 100_000  # mirrors providers.gbfs.values.MAX_RECORDS

Feed = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class HostileCase:
    """One refused push: what it is, the files, and what the error must mention."""

    label: str
    files: dict[str, bytes]
    expect: str
    file: str | None = None

    @property
    def category(self) -> str:
        """The part of the label before the first colon."""
        return self.label.split(":", 1)[0]


def _loc3(text: str) -> list[dict[str, str]]:
    return [{"text": text, "language": "en"}]


def _square(lon: float, lat: float, d: float = 0.01) -> list[list[float]]:
    return [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]


def valid_feed_v3() -> Feed:
    """A small but complete valid GBFS 3.0 feed (every modelled file and field used)."""
    env = {"last_updated": BASE_RFC3339, "ttl": 60, "version": "3.0"}
    return {
        "system_information": {
            **env,
            "data": {
                "system_id": "hostile_v3",
                "languages": ["en"],
                "name": _loc3("Hostile City Bikes"),
                "operator": _loc3("Test Operator"),
                "url": "https://example.org",
                "opening_hours": "24/7",
                "feed_contact_email": "ops@example.org",
                "timezone": "Europe/Helsinki",
            },
        },
        "vehicle_types": {
            **env,
            "data": {
                "vehicle_types": [
                    {
                        "vehicle_type_id": "bike",
                        "form_factor": "bicycle",
                        "propulsion_type": "human",
                        "name": _loc3("City bike"),
                        "return_constraint": "any_station",
                        "default_pricing_plan_id": "p1",
                        "pricing_plan_ids": ["p1"],
                    },
                    {
                        "vehicle_type_id": "scoot",
                        "form_factor": "scooter_standing",
                        "propulsion_type": "electric",
                        "max_range_meters": 20000,
                        "return_constraint": "free_floating",
                        "g_CO2_km": 12,
                        "pricing_plan_ids": ["p1", "p2"],
                    },
                ]
            },
        },
        "system_pricing_plans": {
            **env,
            "data": {
                "plans": [
                    {
                        "plan_id": "p1",
                        "name": _loc3("Single ride"),
                        "currency": "EUR",
                        "price": 1.5,
                        "is_taxable": False,
                        "description": _loc3("1.50 EUR, then 0.25 EUR a minute"),
                        "per_min_pricing": [{"start": 0, "rate": 0.25, "interval": 1}],
                        "per_km_pricing": [{"start": 0, "rate": 0.1, "interval": 1, "end": 10}],
                        "surge_pricing": False,
                    },
                    {
                        "plan_id": "p2",
                        "name": _loc3("Day"),
                        "currency": "EUR",
                        "price": 10,
                        "is_taxable": True,
                        "description": _loc3("Day pass"),
                    },
                ]
            },
        },
        "station_information": {
            **env,
            "data": {
                "stations": [
                    {
                        "station_id": "s1",
                        "name": _loc3("Kamppi"),
                        "lat": 60.1690,
                        "lon": 24.9310,
                        "capacity": 20,
                        "is_virtual_station": False,
                        "rental_uris": {"android": "app://s1", "ios": "app://s1"},
                    },
                    {
                        "station_id": "s2",
                        "name": _loc3("Kaisaniemi"),
                        "lat": 60.1720,
                        "lon": 24.9450,
                        "capacity": 10,
                    },
                ]
            },
        },
        "station_status": {
            **env,
            "data": {
                "stations": [
                    {
                        "station_id": "s1",
                        "num_vehicles_available": 3,
                        "vehicle_types_available": [{"vehicle_type_id": "bike", "count": 3}],
                        "num_docks_available": 17,
                        "vehicle_docks_available": [{"vehicle_type_ids": ["bike"], "count": 17}],
                        "is_installed": True,
                        "is_renting": True,
                        "is_returning": True,
                        "last_reported": BASE_RFC3339,
                    },
                    {
                        "station_id": "s2",
                        "num_vehicles_available": 0,
                        "num_docks_available": 10,
                        "is_installed": True,
                        "is_renting": False,
                        "is_returning": True,
                        "last_reported": BASE_RFC3339,
                    },
                ]
            },
        },
        "vehicle_status": {
            **env,
            "data": {
                "vehicles": [
                    {
                        "vehicle_id": "v1",
                        "lat": 60.1700,
                        "lon": 24.9400,
                        "is_reserved": False,
                        "is_disabled": False,
                        "vehicle_type_id": "scoot",
                        "current_range_meters": 12000,
                        "current_fuel_percent": 0.6,
                        "pricing_plan_id": "p1",
                        "last_reported": BASE_RFC3339,
                        "rental_uris": {"web": "https://example.org/v1"},
                    },
                    {
                        "vehicle_id": "v2",
                        "station_id": "s1",
                        "is_reserved": False,
                        "is_disabled": False,
                        "vehicle_type_id": "bike",
                    },
                ]
            },
        },
        "geofencing_zones": {
            **env,
            "data": {
                "geofencing_zones": {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "geometry": {
                                "type": "MultiPolygon",
                                "coordinates": [[_square(24.93, 60.16)]],
                            },
                            "properties": {
                                "name": _loc3("Park"),
                                "rules": [
                                    {
                                        "vehicle_type_ids": ["scoot"],
                                        "ride_start_allowed": False,
                                        "ride_end_allowed": False,
                                        "ride_through_allowed": True,
                                        "maximum_speed_kph": 10,
                                        "station_parking": False,
                                    }
                                ],
                            },
                        }
                    ],
                },
                "global_rules": [
                    {
                        "vehicle_type_ids": ["scoot"],
                        "ride_start_allowed": True,
                        "ride_end_allowed": True,
                        "ride_through_allowed": True,
                    }
                ],
            },
        },
    }


def valid_feed_v23() -> Feed:
    """A small but complete valid GBFS 2.3 feed (POSIX times, plain names, 2.x names)."""
    env = {"last_updated": BASE_S, "ttl": 60, "version": "2.3"}
    return {
        "system_information": {
            **env,
            "data": {
                "system_id": "hostile_v23",
                "language": "en",
                "name": "Hostile Scooters",
                "operator": "Test Operator",
                "timezone": "Europe/Oslo",
            },
        },
        "vehicle_types": {
            **env,
            "data": {
                "vehicle_types": [
                    {
                        "vehicle_type_id": "bike",
                        "form_factor": "bicycle",
                        "propulsion_type": "human",
                        "name": "City bike",
                    },
                    {
                        "vehicle_type_id": "scoot",
                        "form_factor": "scooter",
                        "propulsion_type": "electric",
                        "max_range_meters": 25000,
                        "default_pricing_plan_id": "p1",
                    },
                ]
            },
        },
        "system_pricing_plans": {
            **env,
            "data": {
                "plans": [
                    {
                        "plan_id": "p1",
                        "name": "Minute",
                        "currency": "NOK",
                        "price": "10.00",
                        "is_taxable": False,
                        "description": "10 NOK + 3 NOK/min",
                        "per_min_pricing": [{"start": 0, "rate": 3, "interval": 1}],
                    }
                ]
            },
        },
        "station_information": {
            **env,
            "data": {
                "stations": [
                    {
                        "station_id": "s1",
                        "name": "Jernbanetorget",
                        "lat": 59.9110,
                        "lon": 10.7500,
                        "capacity": 12,
                    }
                ]
            },
        },
        "station_status": {
            **env,
            "data": {
                "stations": [
                    {
                        "station_id": "s1",
                        "num_bikes_available": 2,
                        "vehicle_types_available": [{"vehicle_type_id": "bike", "count": 2}],
                        "num_docks_available": 10,
                        "is_installed": True,
                        "is_renting": True,
                        "is_returning": True,
                        "last_reported": BASE_S,
                    }
                ]
            },
        },
        "free_bike_status": {
            **env,
            "data": {
                "bikes": [
                    {
                        "bike_id": "b1",
                        "lat": 59.9120,
                        "lon": 10.7510,
                        "is_reserved": False,
                        "is_disabled": False,
                        "vehicle_type_id": "scoot",
                        "current_range_meters": 9000,
                        "last_reported": BASE_S,
                    }
                ]
            },
        },
        "geofencing_zones": {
            **env,
            "data": {
                "geofencing_zones": {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "geometry": {
                                "type": "MultiPolygon",
                                "coordinates": [[_square(10.74, 59.90)]],
                            },
                            "properties": {
                                "name": "Slottsparken",
                                "rules": [
                                    {
                                        "vehicle_type_id": ["scoot"],
                                        "ride_allowed": False,
                                        "ride_through_allowed": True,
                                    }
                                ],
                            },
                        }
                    ],
                },
            },
        },
    }


# --------------------------------------------------------------------------- mutation helpers


def _encode(feed: Feed) -> dict[str, bytes]:
    return {name: json.dumps(doc).encode() for name, doc in feed.items()}


def _tokens(pointer: str) -> list[str | int]:
    return [int(t) if t.isdigit() else t for t in pointer.strip("/").split("/") if t]


def _parent(doc: Any, pointer: str) -> tuple[Any, str | int]:
    tokens = _tokens(pointer)
    node = doc
    for token in tokens[:-1]:
        node = node[token]
    return node, tokens[-1]


def _with(feed: Feed, file: str, pointer: str, value: Any) -> dict[str, bytes]:
    """The feed with `value` set at `pointer` in `file`."""
    mutated = copy.deepcopy(feed)
    parent, key = _parent(mutated[file], pointer)
    parent[key] = value
    return _encode(mutated)


def _without(feed: Feed, file: str, pointer: str) -> dict[str, bytes]:
    """The feed with the member at `pointer` in `file` removed."""
    mutated = copy.deepcopy(feed)
    parent, key = _parent(mutated[file], pointer)
    del parent[key]
    return _encode(mutated)


def _edit(feed: Feed, file: str, edit: Callable[[dict[str, Any]], None]) -> dict[str, bytes]:
    mutated = copy.deepcopy(feed)
    edit(mutated[file])
    return _encode(mutated)


def _raw(feed: Feed, file: str, body: bytes) -> dict[str, bytes]:
    files = _encode(feed)
    files[file] = body
    return files


# ------------------------------------------------------------------------------ field specs

#: Wrong values per field kind (every one is wrong for every field of that kind).
WRONG: dict[str, list[Any]] = {
    "str": [7, True, None, [], {}, ""],
    "int": ["1", 1.5, None, [], {}],
    "num": ["1.0", None, [], {}],
    "bool": ["true", None, [], 2],
    # 0/1 are read as booleans (with a warning) in every version; words are guesses
    "bool_as_word": ["yes", "no", "1", "false "],
    "int_as_bool": [True, False],
    "loc3": ["plain text", [], [{"text": "x"}], [{"text": 1, "language": "en"}], None, {}],
    "ts3": [BASE_S, "2024-01-01", "yesterday", None, True],
    "ts2": [BASE_RFC3339, 1.5, None, True, "1704067200"],
    "strlist": ["scoot", [1], [""], None, {}],
    "array": ["x", {}, 3, None],
    "object": ["x", [], 3, None],
    "geometry": ["x", [], 3],
}
_TEXT = {"3": "loc3", "2": "str"}
_TS = {"3": "ts3", "2": "ts2"}


def _field_specs(v: str) -> list[tuple[str, str, str, bool]]:
    """(file, pointer, kind, required) of every modelled field of the base feed `v`."""
    text, ts = _TEXT[v], _TS[v]
    veh_file, veh_list, veh_id = (
        ("vehicle_status", "vehicles", "vehicle_id")
        if v == "3"
        else ("free_bike_status", "bikes", "bike_id")
    )
    count_key = "num_vehicles_available" if v == "3" else "num_bikes_available"
    specs: list[tuple[str, str, str, bool]] = []
    for file in valid_feed_v3() if v == "3" else valid_feed_v23():
        specs += [(file, "/last_updated", ts, True), (file, "/ttl", "int", True)]
        specs += [(file, "/data", "object", True)]
    si = "/data"
    specs += [
        ("system_information", f"{si}/system_id", "str", True),
        ("system_information", f"{si}/name", text, True),
        ("system_information", f"{si}/timezone", "str", True),
        ("system_information", f"{si}/operator", text, False),
        (
            "system_information",
            f"{si}/languages" if v == "3" else f"{si}/language",
            "strlist" if v == "3" else "str",
            True,
        ),
    ]
    vt = "/data/vehicle_types"
    specs += [
        ("vehicle_types", vt, "array", True),
        ("vehicle_types", f"{vt}/0/vehicle_type_id", "str", True),
        ("vehicle_types", f"{vt}/0/form_factor", "str", True),
        ("vehicle_types", f"{vt}/0/propulsion_type", "str", True),
        ("vehicle_types", f"{vt}/0/name", text, False),
        ("vehicle_types", f"{vt}/1/max_range_meters", "num", True),
    ]
    if v == "3":
        specs += [
            ("vehicle_types", f"{vt}/0/return_constraint", "str", False),
            ("vehicle_types", f"{vt}/0/default_pricing_plan_id", "str", False),
            ("vehicle_types", f"{vt}/0/pricing_plan_ids", "strlist", False),
            ("vehicle_types", f"{vt}/1/g_CO2_km", "int", False),
        ]
    pl = "/data/plans/0"
    specs += [
        ("system_pricing_plans", "/data/plans", "array", True),
        ("system_pricing_plans", f"{pl}/plan_id", "str", True),
        ("system_pricing_plans", f"{pl}/name", text, True),
        ("system_pricing_plans", f"{pl}/is_taxable", "bool", True),
        ("system_pricing_plans", f"{pl}/description", text, True),
        ("system_pricing_plans", f"{pl}/per_min_pricing", "array", False),
        ("system_pricing_plans", f"{pl}/per_min_pricing/0/start", "int", True),
        ("system_pricing_plans", f"{pl}/per_min_pricing/0/interval", "int", True),
    ]
    if v == "3":
        specs += [("system_pricing_plans", f"{pl}/surge_pricing", "bool", False)]
        specs += [("system_pricing_plans", f"{pl}/per_km_pricing/0/end", "int", False)]
    st = "/data/stations/0"
    specs += [
        ("station_information", "/data/stations", "array", True),
        ("station_information", f"{st}/station_id", "str", True),
        ("station_information", f"{st}/name", text, True),
        ("station_information", f"{st}/lat", "num", True),
        ("station_information", f"{st}/lon", "num", True),
        ("station_information", f"{st}/capacity", "int", False),
    ]
    if v == "3":
        specs += [
            ("station_information", f"{st}/is_virtual_station", "bool", False),
            ("station_information", f"{st}/rental_uris", "object", False),
            ("station_information", f"{st}/rental_uris/android", "str", False),
        ]
    specs += [
        ("station_status", "/data/stations", "array", True),
        ("station_status", f"{st}/station_id", "str", True),
        ("station_status", f"{st}/{count_key}", "int", True),
        ("station_status", f"{st}/num_docks_available", "int", False),
        ("station_status", f"{st}/is_installed", "bool", True),
        ("station_status", f"{st}/is_renting", "bool", True),
        ("station_status", f"{st}/is_returning", "bool", True),
        ("station_status", f"{st}/last_reported", ts, True),
        ("station_status", f"{st}/vehicle_types_available", "array", False),
        ("station_status", f"{st}/vehicle_types_available/0/vehicle_type_id", "str", True),
        ("station_status", f"{st}/vehicle_types_available/0/count", "int", True),
    ]
    if v == "3":
        specs += [
            ("station_status", f"{st}/vehicle_docks_available/0/vehicle_type_ids", "strlist", True),
            ("station_status", f"{st}/vehicle_docks_available/0/count", "int", True),
        ]
    vh = f"/data/{veh_list}/0"
    specs += [
        (veh_file, f"/data/{veh_list}", "array", True),
        (veh_file, f"{vh}/{veh_id}", "str", True),
        (veh_file, f"{vh}/lat", "num", True),
        (veh_file, f"{vh}/lon", "num", True),
        (veh_file, f"{vh}/is_reserved", "bool", True),
        (veh_file, f"{vh}/is_disabled", "bool", True),
        (veh_file, f"{vh}/vehicle_type_id", "str", True),
        (veh_file, f"{vh}/current_range_meters", "num", True),
        (veh_file, f"{vh}/last_reported", ts, False),
    ]
    if v == "3":
        specs += [
            (veh_file, f"{vh}/current_fuel_percent", "num", False),
            (veh_file, f"{vh}/pricing_plan_id", "str", False),
            (veh_file, f"{vh}/rental_uris", "object", False),
            (veh_file, "/data/vehicles/1/station_id", "str", False),
        ]
    gz = "/data/geofencing_zones"
    ft = f"{gz}/features/0"
    rule = f"{ft}/properties/rules/0"
    types_key = "vehicle_type_ids" if v == "3" else "vehicle_type_id"
    specs += [
        ("geofencing_zones", gz, "object", True),
        ("geofencing_zones", f"{gz}/type", "str", True),
        ("geofencing_zones", f"{gz}/features", "array", True),
        ("geofencing_zones", f"{ft}/type", "str", True),
        ("geofencing_zones", f"{ft}/geometry", "geometry", True),
        ("geofencing_zones", f"{ft}/properties", "object", True),
        ("geofencing_zones", f"{ft}/properties/name", text, False),
        ("geofencing_zones", f"{ft}/properties/rules", "array", False),
        ("geofencing_zones", f"{rule}/{types_key}", "strlist", False),
        ("geofencing_zones", f"{rule}/ride_through_allowed", "bool", True),
    ]
    if v == "3":
        specs += [
            ("geofencing_zones", f"{rule}/ride_start_allowed", "bool", True),
            ("geofencing_zones", f"{rule}/ride_end_allowed", "bool", True),
            ("geofencing_zones", f"{rule}/maximum_speed_kph", "int", False),
            ("geofencing_zones", f"{rule}/station_parking", "bool", False),
            ("geofencing_zones", "/data/global_rules", "array", True),
            ("geofencing_zones", "/data/global_rules/0/ride_start_allowed", "bool", True),
        ]
    else:
        specs += [("geofencing_zones", f"{rule}/ride_allowed", "bool", True)]
    return specs


#: Objects (file, pointer) at every nesting level that we model, for unknown-field cases.
def _object_levels(v: str) -> list[tuple[str, str]]:
    feed = valid_feed_v3() if v == "3" else valid_feed_v23()
    levels: list[tuple[str, str]] = []
    for file in feed:
        levels += [(file, ""), (file, "/data")]
    veh_file, veh_list = (
        ("vehicle_status", "vehicles") if v == "3" else ("free_bike_status", "bikes")
    )
    levels += [
        ("vehicle_types", "/data/vehicle_types/0"),
        ("system_pricing_plans", "/data/plans/0"),
        ("system_pricing_plans", "/data/plans/0/per_min_pricing/0"),
        ("station_information", "/data/stations/0"),
        ("station_status", "/data/stations/0"),
        ("station_status", "/data/stations/0/vehicle_types_available/0"),
        (veh_file, f"/data/{veh_list}/0"),
        ("geofencing_zones", "/data/geofencing_zones"),
        ("geofencing_zones", "/data/geofencing_zones/features/0"),
        ("geofencing_zones", "/data/geofencing_zones/features/0/geometry"),
        ("geofencing_zones", "/data/geofencing_zones/features/0/properties"),
        ("geofencing_zones", "/data/geofencing_zones/features/0/properties/rules/0"),
    ]
    if v == "3":
        levels += [
            ("system_information", "/data/name/0"),
            ("station_information", "/data/stations/0/rental_uris"),
            ("station_information", "/data/stations/0/name/0"),
            ("station_status", "/data/stations/0/vehicle_docks_available/0"),
            ("vehicle_status", "/data/vehicles/0/rental_uris"),
            ("geofencing_zones", "/data/global_rules/0"),
        ]
    return levels


# ------------------------------------------------------------------------------ generators


def _json_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    body = json.dumps(feed["system_information"]).encode()
    for file in feed:
        good = json.dumps(feed[file]).encode()
        yield HostileCase(
            f"json:{v}:{file}:truncated",
            _raw(feed, file, good[: len(good) // 2]),
            "invalid JSON",
            file,
        )
        yield HostileCase(
            f"json:{v}:{file}:trailing-garbage", _raw(feed, file, good + b"}"), "invalid JSON", file
        )
        yield HostileCase(
            f"json:{v}:{file}:not-an-object",
            _raw(feed, file, b"[" + good + b"]"),
            "expected object",
            file,
        )
    for label, raw in [
        ("empty", b""),
        ("whitespace", b"   \n"),
        ("single-quotes", b"{'last_updated': 1}"),
        ("comment", b'{"ttl": 60 /* c */}'),
        ("bare-word", b"hello"),
        ("unterminated-string", b'{"ttl": "60'),
        ("missing-colon", b'{"ttl" 60}'),
        ("trailing-comma", body[:-1] + b",}"),
        ("huge-integer", b'{"ttl": ' + b"9" * 5000 + b"}"),
    ]:
        yield HostileCase(
            f"json:{v}:{label}",
            _raw(feed, "system_information", raw),
            "invalid JSON",
            "system_information",
        )


def _utf8_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    bad_bytes = {
        "invalid-start": b"\xff\xfe",
        "overlong": b"\xc0\xaf",
        "surrogate": b"\xed\xa0\x80",
        "truncated-multibyte": b"\xe2\x82",
        "latin1": "Tøyen".encode("latin-1"),
    }
    for file in ("system_information", "station_information"):
        good = json.dumps(feed[file]).encode()
        marker = b'"ttl"'
        for label, bad in bad_bytes.items():
            body = good.replace(marker, b'"_x' + bad + b'": 1, ' + marker, 1)
            yield HostileCase(
                f"utf8:{v}:{file}:{label}", _raw(feed, file, body), "invalid UTF-8", file
            )


def _nonfinite_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    targets = [
        ("station_information", "/data/stations/0/lat"),
        ("station_status", "/data/stations/0/num_docks_available"),
        ("system_pricing_plans", "/data/plans/0/price"),
        ("vehicle_types", "/data/vehicle_types/1/max_range_meters"),
    ]
    for file, pointer in targets:
        for value in (float("nan"), float("inf"), float("-inf")):
            yield HostileCase(
                f"nonfinite:{v}:{file}{pointer}:{value}",
                _with(feed, file, pointer, value),
                "is not valid JSON",
                file,
            )


def _duplicate_key_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    for file in feed:
        good = json.dumps(feed[file]).encode()
        top = good.replace(b'"ttl": 60', b'"ttl": 60, "ttl": 61', 1)
        yield HostileCase(f"dupkey:{v}:{file}:top", _raw(feed, file, top), "duplicate key", file)
    nested = [
        ("station_information", b'"lat": '),
        ("station_status", b'"station_id": '),
        ("system_pricing_plans", b'"price": '),
        ("vehicle_types", b'"form_factor": '),
        ("geofencing_zones", b'"type": "Feature"'),
    ]
    for file, key in nested:
        good = json.dumps(feed[file]).encode()
        name = key.split(b":")[0]
        body = good.replace(key, name + b': "dup", ' + key, 1)
        yield HostileCase(
            f"dupkey:{v}:{file}:nested", _raw(feed, file, body), "duplicate key", file
        )


def _size_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    deep_arrays = b"[" * 10_000 + b"]" * 10_000
    deep_objects = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    yield HostileCase(
        f"depth:{v}:arrays-10000",
        _raw(feed, "system_information", deep_arrays),
        "nesting depth",
        "system_information",
    )
    yield HostileCase(
        f"depth:{v}:objects-10000",
        _raw(feed, "station_status", deep_objects),
        "nesting depth",
        "station_status",
    )
    just_too_deep = b'{"_x": ' + b"[" * 40 + b"]" * 40 + b"}"
    yield HostileCase(
        f"depth:{v}:40-levels",
        _raw(feed, "station_information", just_too_deep),
        "nesting depth",
        "station_information",
    )
    in_data = _edit(feed, "vehicle_types", lambda d: d["data"].update(_x=_nest(40)))
    yield HostileCase(f"depth:{v}:inside-data", in_data, "nesting depth", "vehicle_types")
    huge = b'{"_pad": "' + b"a" * (MAX_FILE_BYTES + 1) + b'"}'
    yield HostileCase(
        f"size:{v}:over-cap", _raw(feed, "system_information", huge), "bytes", "system_information"
    )
    veh_file, veh_list = (
        ("vehicle_status", "vehicles") if v == "3" else ("free_bike_status", "bikes")
    )

    def many(doc: dict[str, Any]) -> None:
        doc["data"][veh_list] = [{}] * (MAX_RECORDS + 1)

    yield HostileCase(
        f"size:{v}:huge-array", _edit(feed, veh_file, many), f"at most {MAX_RECORDS}", veh_file
    )


def _nest(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def _coordinate_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    veh_file, veh_list = (
        ("vehicle_status", "vehicles") if v == "3" else ("free_bike_status", "bikes")
    )
    points = [("station_information", "/data/stations/0"), (veh_file, f"/data/{veh_list}/0")]
    for file, base in points:
        for lat in (85.06, -85.06, 90.0, -90.0, 91.0, 1e9):
            yield HostileCase(
                f"coords:{v}:{file}:lat={lat}",
                _with(feed, file, f"{base}/lat", lat),
                f"{base}/lat",
                file,
            )
        for lon in (180.0001, -180.5, 360.0, -1e9):
            yield HostileCase(
                f"coords:{v}:{file}:lon={lon}",
                _with(feed, file, f"{base}/lon", lon),
                f"{base}/lon",
                file,
            )


def _type_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    for file, pointer, kind, _required in _field_specs(v):
        for value in WRONG[kind]:
            yield HostileCase(
                f"type:{v}:{file}{pointer}={json.dumps(value)}",
                _with(feed, file, pointer, value),
                pointer,
                file,
            )
        if kind == "bool":
            for value in WRONG["bool_as_word"]:
                yield HostileCase(
                    f"bool-as-word:{v}:{file}{pointer}={value}",
                    _with(feed, file, pointer, value),
                    "expected boolean",
                    file,
                )
        if kind == "int":
            for value in WRONG["int_as_bool"]:
                yield HostileCase(
                    f"int-as-bool:{v}:{file}{pointer}={value}",
                    _with(feed, file, pointer, value),
                    "expected integer",
                    file,
                )


def _unknown_field_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    for file, pointer in _object_levels(v):

        def add(doc: dict[str, Any], pointer: str = pointer) -> None:
            node: Any = doc
            for token in _tokens(pointer):
                node = node[token]
            node["surprise"] = 1

        yield HostileCase(
            f"unknown-field:{v}:{file}{pointer or '/'}",
            _edit(feed, file, add),
            f"{pointer}/surprise",
            file,
        )


def _missing_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    for file, pointer, _kind, required in _field_specs(v):
        if required:
            yield HostileCase(
                f"missing:{v}:{file}{pointer}", _without(feed, file, pointer), pointer, file
            )
    yield HostileCase(
        f"missing:{v}:system_information-file",
        {k: b for k, b in _encode(feed).items() if k != "system_information"},
        "missing",
        "system_information",
    )
    no_status = {k: b for k, b in _encode(feed).items() if k != "station_status"}
    yield HostileCase(
        f"missing:{v}:station_status-file", no_status, "needs station_status", "station_status"
    )
    no_info = {k: b for k, b in _encode(feed).items() if k != "station_information"}
    yield HostileCase(
        f"missing:{v}:station_information-file",
        no_info,
        "needs station_information",
        "station_information",
    )
    only_system = {"system_information": _encode(feed)["system_information"]}
    yield HostileCase(f"missing:{v}:nothing-but-system", only_system, "a snapshot needs", None)


def _reference_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    veh_file, veh_list = (
        ("vehicle_status", "vehicles") if v == "3" else ("free_bike_status", "bikes")
    )
    vh = f"/data/{veh_list}/0"
    refs: list[tuple[str, str, Any]] = [
        ("station_status", "/data/stations/0/station_id", "nowhere"),
        ("station_status", "/data/stations/0/vehicle_types_available/0/vehicle_type_id", "ufo"),
        (veh_file, f"{vh}/vehicle_type_id", "ufo"),
        (veh_file, f"{vh}/station_id", "nowhere"),
        (veh_file, f"{vh}/pricing_plan_id", "no-plan"),
        ("vehicle_types", "/data/vehicle_types/1/default_pricing_plan_id", "no-plan"),
        ("vehicle_types", "/data/vehicle_types/1/pricing_plan_ids", ["p1", "no-plan"]),
    ]
    rule = "/data/geofencing_zones/features/0/properties/rules/0"
    if v == "3":
        refs += [
            (
                "station_status",
                "/data/stations/0/vehicle_docks_available/0/vehicle_type_ids",
                ["ufo"],
            ),
            ("geofencing_zones", f"{rule}/vehicle_type_ids", ["ufo"]),
            ("geofencing_zones", "/data/global_rules/0/vehicle_type_ids", ["scoot", "ufo"]),
            ("vehicle_status", "/data/vehicles/1/station_id", "nowhere"),
        ]
    else:
        refs += [("geofencing_zones", f"{rule}/vehicle_type_id", ["ufo"])]
    for file, pointer, value in refs:
        yield HostileCase(
            f"dangling:{v}:{file}{pointer}", _with(feed, file, pointer, value), "unknown", file
        )
    no_types = {k: b for k, b in _encode(feed).items() if k != "vehicle_types"}
    yield HostileCase(
        f"dangling:{v}:type-counts-without-vehicle_types", no_types, "no vehicle_types", None
    )
    no_plans = {k: b for k, b in _encode(feed).items() if k != "system_pricing_plans"}
    yield HostileCase(f"dangling:{v}:plans-file-absent", no_plans, "unknown pricing plan", None)


def _duplicate_id_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    veh_file, veh_list = (
        ("vehicle_status", "vehicles") if v == "3" else ("free_bike_status", "bikes")
    )
    lists = [
        ("station_information", "stations"),
        ("station_status", "stations"),
        (veh_file, veh_list),
        ("vehicle_types", "vehicle_types"),
        ("system_pricing_plans", "plans"),
    ]
    for file, key in lists:

        def dup(doc: dict[str, Any], key: str = key) -> None:
            doc["data"][key].append(copy.deepcopy(doc["data"][key][0]))

        yield HostileCase(f"duplicate-id:{v}:{file}", _edit(feed, file, dup), "duplicate", file)


def _timestamp_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    future = FUTURE_RFC3339 if v == "3" else FUTURE_S
    ancient = "1999-12-31T23:59:59Z" if v == "3" else 946_684_799
    for file in feed:
        yield HostileCase(
            f"timestamp:{v}:{file}:future",
            _with(feed, file, "/last_updated", future),
            "in the future",
            file,
        )
        yield HostileCase(
            f"timestamp:{v}:{file}:before-2000",
            _with(feed, file, "/last_updated", ancient),
            "before 2000",
            file,
        )
        if v == "2":
            yield HostileCase(
                f"timestamp:{v}:{file}:milliseconds",
                _with(feed, file, "/last_updated", BASE_S * 1000),
                "milliseconds",
                file,
            )
        for ttl in (-1, 86_401, 10**12):
            yield HostileCase(
                f"timestamp:{v}:{file}:ttl={ttl}", _with(feed, file, "/ttl", ttl), "/ttl", file
            )
    st = "/data/stations/0/last_reported"
    yield HostileCase(
        f"timestamp:{v}:last_reported-future",
        _with(feed, "station_status", st, future),
        "in the future",
        "station_status",
    )
    if v == "2":
        yield HostileCase(
            f"timestamp:{v}:last_reported-ms",
            _with(feed, "station_status", st, BASE_S * 1000),
            "milliseconds",
            "station_status",
        )
        yield HostileCase(
            f"timestamp:{v}:last_reported-zero",
            _with(feed, "station_status", st, 0),
            "before 2000",
            "station_status",
        )
    else:
        for bad in (
            "2024-13-01T00:00:00Z",
            "2024-01-01T25:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00+0100",
            "0000-01-01T00:00:00Z",
        ):
            yield HostileCase(
                f"timestamp:{v}:rfc3339={bad}",
                _with(feed, "station_status", st, bad),
                st,
                "station_status",
            )


def _negative_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    veh_file, veh_list = (
        ("vehicle_status", "vehicles") if v == "3" else ("free_bike_status", "bikes")
    )
    count_key = "num_vehicles_available" if v == "3" else "num_bikes_available"
    targets = [
        ("station_status", f"/data/stations/0/{count_key}"),
        ("station_status", "/data/stations/0/num_docks_available"),
        ("station_status", "/data/stations/0/vehicle_types_available/0/count"),
        ("station_information", "/data/stations/0/capacity"),
        ("vehicle_types", "/data/vehicle_types/1/max_range_meters"),
        (veh_file, f"/data/{veh_list}/0/current_range_meters"),
        ("system_pricing_plans", "/data/plans/0/per_min_pricing/0/start"),
        ("system_pricing_plans", "/data/plans/0/per_min_pricing/0/interval"),
    ]
    if v == "3":
        targets += [
            ("vehicle_types", "/data/vehicle_types/1/g_CO2_km"),
            (
                "geofencing_zones",
                "/data/geofencing_zones/features/0/properties/rules/0/maximum_speed_kph",
            ),
            ("station_status", "/data/stations/0/vehicle_docks_available/0/count"),
        ]
    for file, pointer in targets:
        yield HostileCase(
            f"negative:{v}:{file}{pointer}", _with(feed, file, pointer, -1), ">= 0", file
        )
    if v == "3":
        yield HostileCase(
            f"negative:{v}:fuel-percent-over-1",
            _with(feed, veh_file, "/data/vehicles/0/current_fuel_percent", 1.5),
            "<= 1.0",
            veh_file,
        )


def _enum_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    vt = "/data/vehicle_types/0"
    bad = [
        (f"{vt}/form_factor", "hovercraft"),
        (f"{vt}/form_factor", "Bicycle"),
        (f"{vt}/propulsion_type", "nuclear"),
        (f"{vt}/propulsion_type", "electric-assist"),
        (f"{vt}/return_constraint", "anywhere"),
    ]
    if v == "3":
        bad.append((f"{vt}/form_factor", "scooter"))  # the 2.x name, gone in 3.0
    for pointer, value in bad:
        yield HostileCase(
            f"enum:{v}:{pointer}={value}",
            _with(feed, "vehicle_types", pointer, value),
            "unknown value",
            "vehicle_types",
        )
    yield HostileCase(
        f"enum:{v}:timezone",
        _with(feed, "system_information", "/data/timezone", "Mars/Olympus_Mons"),
        "time zone",
        "system_information",
    )
    yield HostileCase(
        f"enum:{v}:version=4.0",
        _with(feed, "station_status", "/version", "4.0"),
        "unsupported GBFS version",
        "station_status",
    )
    yield HostileCase(
        f"enum:{v}:version-number",
        _with(feed, "station_status", "/version", 2.3),
        "/version",
        "station_status",
    )
    other = "2.3" if v == "3" else "3.0"
    yield HostileCase(
        f"enum:{v}:version-mismatch",
        _with(feed, "station_status", "/version", other),
        "differs",
        "station_status",
    )
    files = _encode(feed)
    files["system_alerts"] = b"{}"
    yield HostileCase(f"enum:{v}:unknown-file", files, "not a GBFS file", "system_alerts")
    wrong_vehicle_file = "free_bike_status" if v == "3" else "vehicle_status"
    files = _encode(feed)
    files[wrong_vehicle_file] = files["vehicle_status" if v == "3" else "free_bike_status"]
    yield HostileCase(
        f"enum:{v}:vehicle-file-of-other-version", files, "not part of GBFS", wrong_vehicle_file
    )


def _money_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    pl = "/data/plans/0"
    f = "system_pricing_plans"
    for code in ("XXX", "eur", "EURO", "EU", "", "€", "nok"):
        yield HostileCase(
            f"currency:{v}:{code!r}", _with(feed, f, f"{pl}/currency", code), "currency", f
        )
    for code in (978, None, True, ["EUR"]):
        yield HostileCase(
            f"currency:{v}:{json.dumps(code)}",
            _with(feed, f, f"{pl}/currency", code),
            f"{pl}/currency",
            f,
        )
    prices: list[tuple[Any, str]] = [
        (-1, ">= 0"),
        (1.234, "more decimals"),
        (0.001, "more decimals"),
        (1e12, "exceeds"),
        (True, "expected number"),
        (None, "expected number"),
    ]
    if v == "3":
        prices += [("1.50", "expected number")]
    else:
        prices += [
            ("1.5.0", "not a decimal amount"),
            ("1e3", "not a decimal amount"),
            ("NaN", "not a decimal amount"),
            (" 1.50", "not a decimal amount"),
            ("1.234", "more decimals"),
        ]
    for price, expect in prices:
        yield HostileCase(
            f"money:{v}:price={json.dumps(price)}", _with(feed, f, f"{pl}/price", price), expect, f
        )
    yield HostileCase(
        f"money:{v}:rate-sub-cent",
        _with(feed, f, f"{pl}/per_min_pricing/0/rate", 0.255),
        "more decimals",
        f,
    )
    yield HostileCase(
        f"money:{v}:rate-string-in-3.0" if v == "3" else f"money:{v}:rate-bad",
        _with(feed, f, f"{pl}/per_min_pricing/0/rate", "abc"),
        "/per_min_pricing/0/rate",
        f,
    )
    yield HostileCase(
        f"money:{v}:end-before-start",
        _with(feed, f, f"{pl}/per_min_pricing/0/end", 0),
        "greater than start",
        f,
    )


def _geometry_cases(feed: Feed, v: str) -> Iterator[HostileCase]:
    g = "/data/geofencing_zones/features/0/geometry"
    f = "geofencing_zones"
    sq = _square(24.93, 60.16) if v == "3" else _square(10.74, 59.90)
    lon, lat = sq[0]
    bowtie = [
        [lon, lat],
        [lon + 0.01, lat + 0.01],
        [lon + 0.01, lat],
        [lon, lat + 0.01],
        [lon, lat],
    ]
    cases: list[tuple[str, Any, str]] = [
        ("unclosed-ring", [[[*sq[:-1], [lon + 0.005, lat + 0.02]]]], "not closed"),
        ("self-intersecting", [[bowtie]], "invalid geometry"),
        ("ring-too-short", [[[sq[0], sq[1], sq[0]]]], "at least 4 positions"),
        (
            "lon-out-of-range",
            [[[[200.0, lat], [200.01, lat], [200.01, lat + 0.01], [200.0, lat]]]],
            "longitude",
        ),
        (
            "lat-out-of-range",
            [[[[lon, 86.0], [lon + 0.01, 86.0], [lon, 86.01], [lon, 86.0]]]],
            "latitude",
        ),
        (
            "position-one-number",
            [[[[lon], [lon + 0.01, lat], [lon, lat + 0.01], [lon]]]],
            "[lon, lat]",
        ),
        ("position-four-numbers", [[[[lon, lat, 0, 0]] * 4]], "at most 3"),
        ("string-coordinate", [[[[str(lon), lat], *sq[1:]]]], "expected number"),
        ("empty-multipolygon", [], "at least one polygon"),
        ("empty-polygon", [[]], "exterior ring"),
        ("hole-outside-shell", [[sq, _square(lon + 1, lat + 1)]], "invalid geometry"),
        ("nan-coordinate", [[[[lon, float("nan")], *sq[1:]]]], "is not valid JSON"),
    ]
    for label, coords, expect in cases:
        yield HostileCase(
            f"geometry:{v}:{label}", _with(feed, f, f"{g}/coordinates", coords), expect, f
        )
    for kind in ("Point", "LineString", "multipolygon", "GeometryCollection"):
        yield HostileCase(
            f"geometry:{v}:type={kind}", _with(feed, f, f"{g}/type", kind), f"{g}/type", f
        )
    yield HostileCase(
        f"geometry:{v}:collection-type",
        _with(feed, f, "/data/geofencing_zones/type", "Feature"),
        "FeatureCollection",
        f,
    )
    yield HostileCase(
        f"geometry:{v}:zone-ends-before-start",
        _edit(
            feed,
            f,
            lambda d: d["data"]["geofencing_zones"]["features"][0]["properties"].update(
                start=BASE_RFC3339 if v == "3" else BASE_S,
                end="2023-01-01T00:00:00Z" if v == "3" else BASE_S - 86_400,
            ),
        ),
        "before it starts",
        f,
    )


_GENERATORS = (
    _json_cases,
    _utf8_cases,
    _nonfinite_cases,
    _duplicate_key_cases,
    _size_cases,
    _coordinate_cases,
    _type_cases,
    _unknown_field_cases,
    _missing_cases,
    _reference_cases,
    _duplicate_id_cases,
    _timestamp_cases,
    _negative_cases,
    _enum_cases,
    _money_cases,
    _geometry_cases,
)


def hostile_cases() -> list[HostileCase]:
    """Every hostile case, for the 3.0 and the 2.3 base feeds, in a fixed order."""
    cases: list[HostileCase] = []
    for version, build in (("3", valid_feed_v3), ("2", valid_feed_v23)):
        feed = build()
        for generate in _GENERATORS:
            cases.extend(generate(feed, version))
    return cases

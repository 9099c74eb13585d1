"""Typed access to parsed JSON values, each failure a `FeedError` at a precise JSON pointer.

Every reader in the package goes through these helpers, so a wrong type anywhere in any file
is reported the same way: where (`file` + `/data/stations/3/lat`), what was found and what
was expected. JSON numbers arrive as `int` or `Decimal` (see `jsonload`), never `float`, so
money stays exact; helpers that return floats convert at this edge.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from providers.errors import FeedError
from providers.gbfs.fields import LOCALIZED_TEXT

logger = logging.getLogger(__name__)

#: Web Mercator's latitude limit, which is also what Redis GEO accepts.
MAX_LAT: Final = 85.05112878
MAX_LON: Final = 180.0
#: Most records one array of one file may hold (stations, vehicles, zones, ...).
MAX_RECORDS: Final = 100_000
#: Longest string we keep (ids, names, URLs); longer is hostile, not a name.
MAX_STRING_CHARS: Final = 2_048
#: Largest integer any GBFS field may hold unless a tighter bound is given: the router keeps
#: counts and capacities in int32 arrays, so nothing larger may get past the door.
MAX_INT32: Final = 2**31 - 1
#: Largest station capacity or vehicle/dock count at one station. The biggest docked stations
#: in the world have a few hundred docks; ten thousand is a unit error or an attack.
MAX_STATION_COUNT: Final = 10_000
#: Longest vehicle range, current or maximum (1,000 km: beyond any car on one charge or tank).
MAX_RANGE_M: Final = 1_000_000.0
#: Highest speed limit a geofencing rule may set.
MAX_SPEED_KPH: Final = 300
#: Most warnings one snapshot keeps (the rest are counted in a last line).
MAX_WARNINGS: Final = 50

_INDEX = re.compile(r"/\d+(?=/|$)")


def _escape(token: str | int) -> str:
    """RFC 6901 escaping of one JSON-pointer token."""
    return str(token).replace("~", "~0").replace("/", "~1")


class Notes:
    """Warnings about tolerated quirks, collected while one feed is read.

    Tolerance is the twin of refusal: where the meaning of a value is unambiguous but not
    what the spec says (an integer 1 for `true` in GBFS 2.x), the value is read and the
    provider is told, in the push response and in its status. One quirk repeated on every
    record of a file is one warning (the first place, and how many more), so a 2,000-station
    feed publishing 0/1 gets three lines, not 6,000.
    """

    def __init__(self) -> None:
        #: in the order found: a message of its own, or the key of a folded warning
        self._entries: list[str | tuple[str, str]] = []
        self._first: dict[tuple[str, str], str] = {}
        self._more: dict[tuple[str, str], int] = {}

    def add(self, message: str) -> None:
        """One warning of its own (an item left out, say), never folded into others."""
        self._entries.append(message)

    def repeated(self, loc: Loc, kind: str, message: str) -> None:
        """A warning folded with others of the same `kind` at the same field of any record
        of the same file (`/data/stations/*/is_installed`).
        """
        key = (f"{loc.file}{_INDEX.sub('/*', loc.path)}", kind)
        if key in self._first:
            self._more[key] += 1
            return
        self._first[key] = f"{loc.file}{loc.path}: {message}"
        self._more[key] = 0
        self._entries.append(key)

    def messages(self) -> tuple[str, ...]:
        """The warnings in the order found, at most `MAX_WARNINGS` (then one summary line)."""
        out: list[str] = []
        for entry in self._entries:
            if isinstance(entry, str):
                out.append(entry)
                continue
            more = self._more[entry]
            suffix = f" (and {more} more like it at {entry[0]})" if more else ""
            out.append(self._first[entry] + suffix)
        return bounded_warnings(out)


def bounded_warnings(messages: Iterable[str]) -> tuple[str, ...]:
    """At most `MAX_WARNINGS` messages; beyond that a last line says how many were left out."""
    items = list(messages)
    if len(items) <= MAX_WARNINGS:
        return tuple(items)
    kept = items[: MAX_WARNINGS - 1]
    return (*kept, f"and {len(items) - len(kept)} more warnings")


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a value sits: the GBFS file name and a JSON pointer inside it.

    `notes`, when set, collects warnings about tolerated values; it is shared by every
    location derived with `at`, so a reader deep in a file can warn without another argument.
    """

    file: str
    path: str = ""
    notes: Notes | None = field(default=None, compare=False, repr=False)

    def at(self, token: str | int) -> Loc:
        """The location of a member or array element below this one."""
        return Loc(self.file, f"{self.path}/{_escape(token)}", self.notes)

    def error(self, message: str) -> FeedError:
        """A `FeedError` at this location (returned, so callers write `raise loc.error()`)."""
        return FeedError(self.file, self.path, message)

    def warn(self, kind: str, message: str) -> None:
        """Record a tolerated quirk here (folded per field, see `Notes.repeated`)."""
        if self.notes is None:
            logger.warning("%s%s: %s", self.file, self.path, message)
            return
        self.notes.repeated(self, kind, message)


def type_name(value: object) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _short(value: object) -> str:
    """A short rendering of an offending value for a message (never the whole payload)."""
    if isinstance(value, list | dict):
        text = type_name(value)
    elif isinstance(value, Decimal):
        text = str(value)
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def wrong_type(value: object, expected: str, loc: Loc) -> FeedError:
    """The one message shape for a value of the wrong JSON type."""
    return loc.error(f"expected {expected}, got {type_name(value)} {_short(value)}")


def as_object(value: object, loc: Loc) -> dict[str, Any]:
    """`value` as a JSON object."""
    if not isinstance(value, dict):
        raise wrong_type(value, "object", loc)
    return value


def as_array(value: object, loc: Loc, *, max_items: int = MAX_RECORDS) -> list[Any]:
    """`value` as a JSON array of at most `max_items` elements."""
    if not isinstance(value, list):
        raise wrong_type(value, "array", loc)
    if len(value) > max_items:
        raise loc.error(f"array has {len(value)} elements; at most {max_items} are accepted")
    return value


def check_fields(
    obj: Mapping[str, Any], allowed: Iterable[str], loc: Loc, *, tolerant: bool = False
) -> None:
    """Reject members not in `allowed` (unless `tolerant`, the 1.x rule).

    Names starting with `_` are producer extensions, which the GBFS spec asks producers to
    prefix that way; they are accepted and ignored.
    """
    if tolerant:
        return
    allowed_set = frozenset(allowed)
    for key in obj:
        if key not in allowed_set and not key.startswith("_"):
            expected = ", ".join(sorted(allowed_set))
            raise loc.at(key).error(f"unknown field {key!r}; expected one of: {expected}")


def present(
    obj: Mapping[str, Any], key: str, loc: Loc, *, required: bool, allow_null: bool, expected: str
) -> bool:
    """Whether `key` holds a value to read.

    Absent: fine when optional, an error when required. JSON `null`: an error (the 2.x/3.0
    schemas never allow it) unless `allow_null` (the tolerant 1.x reading), where a null
    optional field counts as absent.
    """
    if key not in obj:
        if required:
            raise loc.at(key).error(f"missing required field {key!r}")
        return False
    if obj[key] is None:
        if allow_null and not required:
            return False
        raise wrong_type(None, expected, loc.at(key))
    return True


def get_str(
    obj: Mapping[str, Any],
    key: str,
    loc: Loc,
    *,
    required: bool = True,
    allow_null: bool = False,
) -> str | None:
    """A non-empty string member, at most `MAX_STRING_CHARS` long."""
    if not present(obj, key, loc, required=required, allow_null=allow_null, expected="string"):
        return None
    value = obj[key]
    if not isinstance(value, str):
        raise wrong_type(value, "string", loc.at(key))
    if not value:
        raise loc.at(key).error("expected a non-empty string")
    if len(value) > MAX_STRING_CHARS:
        raise loc.at(key).error(f"string is {len(value)} characters; at most {MAX_STRING_CHARS}")
    return value


def get_bool(
    obj: Mapping[str, Any],
    key: str,
    loc: Loc,
    *,
    required: bool = True,
    legacy: bool = False,
) -> bool | None:
    """A boolean member; the integers 0 and 1 are read as false and true in every version.

    GBFS 1.x specified 1/0 for booleans; 2.0 moved to true/false, but large systems still
    publish 0/1 in 2.x feeds, and the meaning is unambiguous. So 0/1 is accepted everywhere,
    with a warning outside 1.x (where it is what the spec says). Anything else that is not a
    JSON boolean (`"yes"`, `"true"`, `2`) stays refused: its meaning is a guess. `legacy`
    (1.x) also lets a null optional member count as absent.
    """
    expected = "boolean (true/false, or 0/1)"
    if not present(obj, key, loc, required=required, allow_null=legacy, expected=expected):
        return None
    value = obj[key]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        if not legacy:
            loc.at(key).warn(
                "bool-as-int",
                f"integer {value} read as {'true' if value else 'false'} "
                "(GBFS 2.0 and later ask for a JSON boolean)",
            )
        return bool(value)
    raise wrong_type(value, expected, loc.at(key))


def to_int(
    value: object, loc: Loc, *, minimum: int | None = 0, maximum: int | None = MAX_INT32
) -> int:
    """`value` as an integer within bounds; `true` is not 1 and `2.0` is not an integer.

    Every integer has an upper bound (int32 unless the field has a tighter one), because
    the router and the store keep these values in fixed-width arrays.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(value, "integer", loc)
    if minimum is not None and value < minimum:
        raise loc.error(f"expected an integer >= {minimum}, got {_short(value)}")
    if maximum is not None and value > maximum:
        raise loc.error(f"integer {_short(value)} is too large; expected an integer <= {maximum}")
    return value


def get_int(
    obj: Mapping[str, Any],
    key: str,
    loc: Loc,
    *,
    required: bool = True,
    allow_null: bool = False,
    minimum: int | None = 0,
    maximum: int | None = MAX_INT32,
) -> int | None:
    """An integer member within bounds (by default 0..int32 max: counts, capacities)."""
    if not present(obj, key, loc, required=required, allow_null=allow_null, expected="integer"):
        return None
    return to_int(obj[key], loc.at(key), minimum=minimum, maximum=maximum)


def to_decimal(value: object, loc: Loc) -> Decimal:
    """A JSON number (integer or decimal) as an exact `Decimal`."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise wrong_type(value, "number", loc)
    number = Decimal(value) if isinstance(value, int) else value
    if not number.is_finite():
        raise loc.error(f"expected a finite number, got {value}")
    return number


def get_number(
    obj: Mapping[str, Any],
    key: str,
    loc: Loc,
    *,
    required: bool = True,
    allow_null: bool = False,
    minimum: float | None = 0.0,
    maximum: float | None = None,
) -> float | None:
    """A number member as a float within bounds (distances, percentages)."""
    if not present(obj, key, loc, required=required, allow_null=allow_null, expected="number"):
        return None
    value = obj[key]
    number = to_decimal(value, loc.at(key))
    if minimum is not None and number < Decimal(str(minimum)):
        raise loc.at(key).error(f"expected a number >= {minimum}, got {_short(value)}")
    if maximum is not None and number > Decimal(str(maximum)):
        raise loc.at(key).error(
            f"number {_short(value)} is too large; expected a number <= {maximum}"
        )
    as_float = float(number)
    if not math.isfinite(as_float):
        raise loc.at(key).error(f"number {value} is too large")
    return as_float


def get_str_list(
    obj: Mapping[str, Any], key: str, loc: Loc, *, required: bool = True, allow_null: bool = False
) -> tuple[str, ...] | None:
    """An array of non-empty strings (vehicle type ids, pricing plan ids)."""
    expected = "array of strings"
    if not present(obj, key, loc, required=required, allow_null=allow_null, expected=expected):
        return None
    items = as_array(obj[key], loc.at(key))
    out: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise wrong_type(item, "string", loc.at(key).at(i))
        if not item or len(item) > MAX_STRING_CHARS:
            raise loc.at(key).at(i).error("expected a non-empty string of sane length")
        out.append(item)
    return tuple(out)


def get_lat_lon(
    obj: Mapping[str, Any], loc: Loc, *, required: bool = True
) -> tuple[float, float] | None:
    """`lat` and `lon` together, within the Web Mercator / Redis GEO range.

    Both or neither: one without the other is an error. With `required=False` both absent
    gives None (a vehicle parked at a station).
    """
    has_lat, has_lon = "lat" in obj, "lon" in obj
    if not has_lat and not has_lon and not required:
        return None
    lat = get_number(obj, "lat", loc, minimum=None)
    lon = get_number(obj, "lon", loc, minimum=None)
    assert lat is not None and lon is not None  # required=True above guarantees it
    if not -MAX_LAT <= lat <= MAX_LAT:
        raise loc.at("lat").error(
            f"latitude {lat} is outside [-{MAX_LAT}, {MAX_LAT}] (the Web Mercator range)"
        )
    if not -MAX_LON <= lon <= MAX_LON:
        raise loc.at("lon").error(f"longitude {lon} is outside [-180, 180]")
    return lat, lon


def unique_id(seen: set[str], value: str, loc: Loc, kind: str) -> None:
    """Record an id, failing on a duplicate within one file."""
    if value in seen:
        raise loc.error(f"duplicate {kind} {value!r}")
    seen.add(value)


def get_text(
    obj: Mapping[str, Any],
    key: str,
    loc: Loc,
    *,
    localized: bool,
    required: bool = True,
    allow_null: bool = False,
) -> str | None:
    """A human-readable text: a plain string (1.x/2.x) or a 3.0 localized array.

    A 3.0 localized value is `[{"text": ..., "language": ...}, ...]`; the English entry is
    taken when there is one, else the first (the model keeps one name per thing).
    """
    if not localized:
        return get_str(obj, key, loc, required=required, allow_null=allow_null)
    if not present(obj, key, loc, required=required, allow_null=False, expected="array"):
        return None
    items = as_array(obj[key], loc.at(key), max_items=200)
    if not items:
        raise loc.at(key).error("expected at least one {text, language} entry")
    texts: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        item_loc = loc.at(key).at(i)
        entry = as_object(item, item_loc)
        check_fields(entry, LOCALIZED_TEXT, item_loc)
        text = get_str(entry, "text", item_loc)
        language = get_str(entry, "language", item_loc)
        assert text is not None and language is not None  # both required above
        texts.append((language, text))
    return next((t for lang, t in texts if lang.lower() in ("en", "en-gb", "en-us")), texts[0][1])

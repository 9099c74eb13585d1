"""GBFS timestamps and TTLs: one set of rules, with the limits as named constants.

GBFS 1.x/2.x give `last_updated` and `last_reported` as POSIX seconds (integers); 3.0 gives
RFC 3339 strings. Both are read into integer epoch seconds. The rules, and why:

- A number above `MILLISECONDS_THRESHOLD` (1e11 s is the year 5138) is almost certainly
  milliseconds. It is rejected, not divided by 1000: a push is the producer's statement of
  truth, and guessing its unit would hide a real bug in the producer.
- `last_updated` before `MIN_TIMESTAMP_S` (2000-01-01) is a zeroed or broken clock.
- `last_updated` more than `MAX_FUTURE_SKEW_S` after the moment we received the file is a
  skewed producer clock; accepting it would make stale data look fresh for as long as the
  skew lasts.
- `ttl` is an integer in 0..`MAX_TTL_S`; a negative or day-plus TTL is rejected, not clamped
  (it describes the producer's cadence, so a wrong one means the producer is confused).
- `last_reported` follows the same unit and future rules. In 1.x only, a value before 2000
  reads as "unknown" (None): Citi Bike's real 1.x feed reports 18001 for stations that are
  out of service. From 2.x on it is an error.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

from providers.gbfs.values import Loc, wrong_type

#: 2000-01-01T00:00:00Z: anything earlier is a zeroed or broken clock.
MIN_TIMESTAMP_S: Final = 946_684_800
#: Larger POSIX values are taken to be milliseconds (1e11 s is in the year 5138).
MILLISECONDS_THRESHOLD: Final = 100_000_000_000
#: How far after our receipt a producer's `last_updated` may be (clock skew allowance).
MAX_FUTURE_SKEW_S: Final = 60
#: Longest `ttl` accepted: one day.
MAX_TTL_S: Final = 86_400

#: RFC 3339 date-time with a mandatory offset (`Z` or +hh:mm), optional fraction.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)


def posix_seconds(value: object, loc: Loc) -> int:
    """A 1.x/2.x POSIX timestamp: a non-negative integer number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(value, "integer POSIX seconds", loc)
    if value >= MILLISECONDS_THRESHOLD:
        raise loc.error(
            f"timestamp {value} looks like milliseconds; GBFS 1.x/2.x timestamps are POSIX seconds"
        )
    if value < 0:
        raise loc.error(f"timestamp {value} is negative")
    return value


def rfc3339_seconds(value: object, loc: Loc) -> int:
    """A 3.0 RFC 3339 timestamp (offset required) as epoch seconds, fraction dropped."""
    if not isinstance(value, str):
        raise wrong_type(value, "RFC 3339 date-time string (GBFS 3.0)", loc)
    if len(value) > 40 or not _RFC3339.fullmatch(value):
        raise loc.error(
            f"{value[:40]!r} is not an RFC 3339 date-time with offset, e.g. "
            "'2025-05-21T07:47:43+00:00'"
        )
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise loc.error(f"{value!r} is not a valid date-time: {exc}") from None
    return int(moment.astimezone(UTC).timestamp())


def read_timestamp(value: object, loc: Loc, *, v3: bool) -> int:
    """A GBFS timestamp in the encoding of its version, as epoch seconds."""
    return rfc3339_seconds(value, loc) if v3 else posix_seconds(value, loc)


def check_not_ancient(ts_s: int, loc: Loc) -> int:
    """Reject timestamps before 2000 (a zeroed clock)."""
    if ts_s < MIN_TIMESTAMP_S:
        raise loc.error(f"timestamp {ts_s} is before 2000-01-01; the producer clock is broken")
    return ts_s


def check_not_future(ts_s: int, received_at_s: int, loc: Loc) -> int:
    """Reject timestamps more than `MAX_FUTURE_SKEW_S` after we received the file."""
    if ts_s > received_at_s + MAX_FUTURE_SKEW_S:
        raise loc.error(
            f"timestamp {ts_s} is {ts_s - received_at_s} s in the future of its receipt "
            f"({received_at_s}); at most {MAX_FUTURE_SKEW_S} s of clock skew is accepted"
        )
    return ts_s


def read_last_updated(value: object, loc: Loc, *, v3: bool, received_at_s: int | None) -> int:
    """A file's `last_updated`: version encoding, not before 2000, not in the future.

    `received_at_s` None skips the future check (discovery files parsed on their own).
    """
    ts_s = check_not_ancient(read_timestamp(value, loc, v3=v3), loc)
    if received_at_s is not None:
        check_not_future(ts_s, received_at_s, loc)
    return ts_s


def read_last_reported(
    value: object, loc: Loc, *, v3: bool, legacy: bool, received_at_s: int
) -> int | None:
    """A record's `last_reported`; in 1.x a pre-2000 value means unknown (see module doc)."""
    ts_s = read_timestamp(value, loc, v3=v3)
    if ts_s < MIN_TIMESTAMP_S and legacy:
        return None
    check_not_ancient(ts_s, loc)
    return check_not_future(ts_s, received_at_s, loc)


def read_ttl(value: object, loc: Loc) -> int:
    """A file's `ttl`: integer seconds in 0..`MAX_TTL_S`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(value, "integer seconds", loc)
    if not 0 <= value <= MAX_TTL_S:
        raise loc.error(f"ttl {value} is outside 0..{MAX_TTL_S} seconds")
    return value

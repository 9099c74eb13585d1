"""Command-line values people type: coordinates, times, the city, and the one error for a
bad one.

Shared by every subcommand, so a coordinate or a time reads the same everywhere and a
mistake ends the same way (one line on stderr, exit status 2).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

from network.embedded import CITY_KEYS, DEFAULT_CITY, UnknownCityError, ensure_embedded_network


class UsageError(ValueError):
    """A command-line argument that cannot be understood."""


def parse_latlon(text: str) -> tuple[float, float]:
    """'60.1685,24.9316' -> (60.1685, 24.9316), checking range and finiteness."""
    parts = text.replace(" ", "").split(",")
    if len(parts) != 2:
        raise UsageError(f"coordinate {text!r} must be LAT,LON, e.g. 60.1685,24.9316")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise UsageError(f"coordinate {text!r} must be two numbers, LAT,LON") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise UsageError(f"coordinate {text!r} must be finite")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise UsageError(f"coordinate {text!r} is outside lat -90..90 / lon -180..180")
    return lat, lon


def parse_when(text: str) -> dt.datetime:
    """ISO-8601 date-time with a UTC offset, e.g. 2022-02-22T08:00+02:00."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"time {text!r} is not ISO-8601; use e.g. 2022-02-22T08:00+02:00"
        ) from None
    if when.tzinfo is None:
        raise UsageError(f"time {text!r} needs a UTC offset, e.g. 2022-02-22T08:00+02:00")
    return when


#: a value that starts with a minus sign but is a coordinate pair, not an option
_NEGATIVE_PAIR = re.compile(r"^-\d")

#: the options whose value is a LAT,LON pair
COORDINATE_OPTIONS = ("--from", "--to", "--near")


def join_negative_coordinates(argv: Sequence[str]) -> list[str]:
    """`--from -23.55,-46.63` as `--from=-23.55,-46.63`.

    argparse takes a value that starts with "-" and is not a plain number for an option,
    so a southern or western coordinate written the way people write it would be refused
    as a missing value. Joining it to its option with "=" is what argparse understands.
    """
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if arg in COORDINATE_OPTIONS and nxt is not None and _NEGATIVE_PAIR.match(nxt):
            out.append(f"{arg}={nxt}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


#: the server setting that picks the built-in city; the CLI's default too, so one
#: environment plans, serves and evaluates the same city
CITY_ENV = "FAIRTRIP_CITY"


def parse_city(text: str) -> str:
    """A built-in city's key, e.g. 'nky'; argparse turns the error into exit status 2."""
    if text not in CITY_KEYS:
        raise argparse.ArgumentTypeError(str(UnknownCityError(text)))
    return text


def add_network_options(parser: argparse.ArgumentParser) -> None:
    """--city KEY | --network DIR: a built-in city (compiled on first use) or a compiled
    network directory, never both.
    """
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--city",
        type=parse_city,
        metavar="KEY",
        help=f"built-in city: {', '.join(CITY_KEYS)} (default ${CITY_ENV}, else {DEFAULT_CITY})",
    )
    where.add_argument("--network", type=Path, help="compiled network directory")


def city_key(args: argparse.Namespace) -> str:
    """The city the options name: --city, else $FAIRTRIP_CITY, else the default city."""
    chosen = getattr(args, "city", None)
    if chosen is not None:
        return str(chosen)
    env = os.environ.get(CITY_ENV, "").strip()
    if not env:
        return DEFAULT_CITY
    if env not in CITY_KEYS:
        raise UsageError(f"${CITY_ENV}: {UnknownCityError(env)}")
    return env


def network_path(args: argparse.Namespace, *, progress: bool = True) -> Path:
    """--network, else the built-in city `city_key` names (compiled on first use)."""
    if getattr(args, "network", None) is not None:
        return Path(args.network)
    return ensure_embedded_network(city=city_key(args), progress=progress)

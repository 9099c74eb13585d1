"""The built-in cities, shipped in `data/<city>/` and compiled on first use.

Helsinki (`helsinki`, the default) and Northern Kentucky (`nky`) are registered in `CITIES`;
`--city` on the command line and `FAIRTRIP_CITY` on the server pick one by its key.
Compiling needs the build stack (gtfs-kit, pandas, osmnx, networkx, pyosmium), which a
serving process must never load: it costs memory and seconds in every worker. So a missing
cache is filled by a child process (`python -m ingest.embedded`), and this module only
hashes the inputs and checks the cache.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from network.cache import build_options, cache_root, input_hash, is_up_to_date
from network.compiled import NetworkFileError

log = logging.getLogger(__name__)

#: the module the child process runs to compile the embedded city
BUILD_MODULE = "ingest.embedded"


class EmbeddedBuildError(NetworkFileError):
    """The child process compiling the embedded city failed or left no up-to-date network."""


class UnknownCityError(ValueError):
    """A city key that is not one of the built-in cities; the message names them."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"unknown city {key!r}; the built-in cities are {', '.join(CITY_KEYS)}"
        )
        self.key = key


@dataclass(frozen=True)
class CityInputs:
    """The files a city is compiled from; `key` names its cache directory."""

    key: str
    name: str
    gtfs: Path
    osm: tuple[Path, ...]


@dataclass(frozen=True)
class CityFiles:
    """A built-in city: its build inputs and the planner's files shipped beside them.

    Attributes
    ----------
    inputs
        what the network is compiled from.
    policy_zones
        central/peripheral polygons /plan applies an active policy with.
    demand_zones, demand_csv
        the SYNTHETIC demand model's zones (with class and population) and OD table.
    depart
        the evaluation's default departure (ISO-8601 with offset): a weekday morning peak
        inside the feed.
    """

    inputs: CityInputs
    policy_zones: Path
    demand_zones: Path
    demand_csv: Path
    depart: str

    @property
    def key(self) -> str:
        """The city's key (`--city`, `FAIRTRIP_CITY`)."""
        return self.inputs.key


def data_dir() -> Path:
    """$FAIRTRIP_DATA, or the repository's `data/` directory."""
    env = os.environ.get("FAIRTRIP_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data"


def helsinki() -> CityInputs:
    """HSL's GTFS (one service day, 2022-02-22) and the two OSM extracts of central Helsinki."""
    d = data_dir() / "helsinki"
    return CityInputs(
        key="helsinki",
        name="Helsinki (HSL 2022-02-22, OSM centre + Alppila-Vallila)",
        gtfs=d / "gtfs" / "hsl-gtfs-2022-02-22.zip",
        osm=(
            d / "osm" / "helsinki-centre-2024-08-15.osm.pbf",
            d / "osm" / "helsinki-alppila-vallila-2024-01-26.osm.pbf",
        ),
    )


def nky() -> CityInputs:
    """TANK's GTFS (feed 20190902-A) and the OSM streets within 500 m of its routes."""
    d = data_dir() / "nky"
    return CityInputs(
        key="nky",
        name="Northern Kentucky (TANK GTFS 20190902-A, OSM streets along the routes)",
        gtfs=d / "gtfs" / "TANK-GTFS.zip",
        osm=(d / "osm" / "streets.osm.pbf",),
    )


#: key -> the function giving the city's inputs (paths depend on $FAIRTRIP_DATA, read late)
CITIES = {"helsinki": helsinki, "nky": nky}
CITY_KEYS = tuple(CITIES)
DEFAULT_CITY = "helsinki"
#: the evaluation's default departure per city: 08:00 on a working day of each feed
_DEPART = {"helsinki": "2022-02-22T08:00+02:00", "nky": "2019-11-05T08:00-05:00"}


def city_inputs(key: str) -> CityInputs:
    """The inputs of the built-in city `key` (UnknownCityError naming the cities if none)."""
    make = CITIES.get(key)
    if make is None:
        raise UnknownCityError(key)
    return make()


def city_files(key: str) -> CityFiles:
    """The built-in city `key` with its demand and zone files."""
    inputs = city_inputs(key)
    demand = data_dir() / key / "demand"
    # Helsinki's policies apply by its real fare zones; Northern Kentucky's fares are by
    # route, not zone, so its policies apply by the demand zones' core/suburb classes
    policy_zones = "fare-zones.geojson" if key == "helsinki" else "demand-zones.geojson"
    return CityFiles(
        inputs=inputs,
        policy_zones=demand / policy_zones,
        demand_zones=demand / "demand-zones.geojson",
        demand_csv=demand / "od-gravity-synthetic.csv",
        depart=_DEPART[key],
    )


def city_of_manifest(manifest: Mapping[str, Any]) -> CityFiles | None:
    """The built-in city a compiled network was built from (by its GTFS file's name), or
    None for a network compiled from other inputs.

    Looking at the inputs rather than a setting means a built-in city compiled with
    `fairtrip build --gtfs ... --out DIR` still gets its demand, zones and fleets.
    """
    inputs = manifest.get("inputs") or []
    for key in CITY_KEYS:
        if city_inputs(key).gtfs.name in inputs:
            return city_files(key)
    return None


def embedded_target(city: CityInputs) -> tuple[Path, str]:
    """The cache directory the city compiles into and the hash of its inputs.

    The directory is named by the hash, so a changed input or compiler gets a new directory
    instead of overwriting one another process may be reading.
    """
    digest = input_hash([city.gtfs, *city.osm], build_options(None))
    return cache_root() / "networks" / f"{city.key}-{digest[:12]}", digest


def ensure_embedded_network(*, city: str = DEFAULT_CITY, progress: bool = True) -> Path:
    """Path of the compiled built-in city `city`, compiling it first if the cache lacks it.

    The build runs in a child process whose progress bar and log lines go straight to this
    process's stderr (`progress=False` silences the bar).
    """
    inputs = city_inputs(city)
    out, digest = embedded_target(inputs)
    if is_up_to_date(out, digest):
        return out
    log.info("compiling the built-in city %s into %s (first run only)", city, out)
    _build_in_child(city=city, progress=progress)
    if not is_up_to_date(out, digest):
        raise EmbeddedBuildError(f"the {city} build left no up-to-date network in {out}")
    return out


def _build_in_child(*, city: str, progress: bool) -> None:
    """Run `python -m ingest.embedded` with this interpreter and wait for it.

    The child logs at the level the build's loggers have here, so its lines show exactly
    when an in-process build's would have.
    """
    level = logging.getLogger("ingest").getEffectiveLevel()
    command = [sys.executable, "-m", BUILD_MODULE, "--city", city, "--log-level", str(level)]
    if not progress:
        command.append("--quiet")
    done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise EmbeddedBuildError(
            f"compiling the embedded city failed ({' '.join(command[1:])} exited with "
            f"status {done.returncode}; its messages are above)"
        )

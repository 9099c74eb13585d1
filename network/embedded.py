"""The embedded default city (Helsinki), shipped in `data/helsinki/` and compiled on first use.

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
from dataclasses import dataclass
from pathlib import Path

from network.cache import build_options, cache_root, input_hash, is_up_to_date
from network.compiled import NetworkFileError

log = logging.getLogger(__name__)

#: the module the child process runs to compile the embedded city
BUILD_MODULE = "ingest.embedded"


class EmbeddedBuildError(NetworkFileError):
    """The child process compiling the embedded city failed or left no up-to-date network."""


@dataclass(frozen=True)
class CityInputs:
    """The files a city is compiled from."""

    name: str
    gtfs: Path
    osm: tuple[Path, ...]


def data_dir() -> Path:
    """$FAIRTRIP_DATA, or the repository's `data/` directory."""
    env = os.environ.get("FAIRTRIP_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data"


def helsinki() -> CityInputs:
    """HSL's GTFS (one service day, 2022-02-22) and the two OSM extracts of central Helsinki."""
    d = data_dir() / "helsinki"
    return CityInputs(
        name="Helsinki (HSL 2022-02-22, OSM centre + Alppila-Vallila)",
        gtfs=d / "gtfs" / "hsl-gtfs-2022-02-22.zip",
        osm=(
            d / "osm" / "helsinki-centre-2024-08-15.osm.pbf",
            d / "osm" / "helsinki-alppila-vallila-2024-01-26.osm.pbf",
        ),
    )


def embedded_target(city: CityInputs) -> tuple[Path, str]:
    """The cache directory the city compiles into and the hash of its inputs.

    The directory is named by the hash, so a changed input or compiler gets a new directory
    instead of overwriting one another process may be reading.
    """
    digest = input_hash([city.gtfs, *city.osm], build_options(None))
    return cache_root() / "networks" / f"helsinki-{digest[:12]}", digest


def ensure_embedded_network(*, progress: bool = True) -> Path:
    """Path of the compiled embedded city, compiling it first if the cache lacks it.

    The build runs in a child process whose progress bar and log lines go straight to this
    process's stderr (`progress=False` silences the bar).
    """
    out, digest = embedded_target(helsinki())
    if is_up_to_date(out, digest):
        return out
    log.info("compiling the embedded Helsinki network into %s (first run only)", out)
    _build_in_child(progress=progress)
    if not is_up_to_date(out, digest):
        raise EmbeddedBuildError(f"the embedded city build left no up-to-date network in {out}")
    return out


def _build_in_child(*, progress: bool) -> None:
    """Run `python -m ingest.embedded` with this interpreter and wait for it.

    The child logs at the level the build's loggers have here, so its lines show exactly
    when an in-process build's would have.
    """
    level = logging.getLogger("ingest").getEffectiveLevel()
    command = [sys.executable, "-m", BUILD_MODULE, "--log-level", str(level)]
    if not progress:
        command.append("--quiet")
    done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise EmbeddedBuildError(
            f"compiling the embedded city failed ({' '.join(command[1:])} exited with "
            f"status {done.returncode}; its messages are above)"
        )

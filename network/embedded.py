"""The embedded default city (Helsinki), shipped in `data/helsinki/` and compiled on first use."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from network.cache import build_options, cache_root, input_hash, is_up_to_date

log = logging.getLogger(__name__)


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


def ensure_embedded_network(*, progress: bool = True) -> Path:
    """Path of the compiled embedded city, compiling it first if the cache lacks it.

    The cache directory is named by the hash of the inputs, so a changed input or compiler
    gets a new directory instead of overwriting one another process may be reading.
    """
    city = helsinki()
    digest = input_hash([city.gtfs, *city.osm], build_options(None))
    out = cache_root() / "networks" / f"helsinki-{digest[:12]}"
    if is_up_to_date(out, digest):
        return out
    log.info("compiling the embedded Helsinki network into %s (first run only)", out)
    from ingest.network_build import build_network

    return build_network(city.gtfs, list(city.osm), out, name=city.name, progress=progress)

"""Where compiled networks are kept and how a build knows it is up to date.

Kept apart from `ingest` so that opening a cached network never imports the build stack
(gtfs-kit, osmnx), which takes seconds on its own.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: bump when the timetable compiler's output changes, so cached networks are rebuilt (the
#: street builder has its own version, `STREETS_BUILD_VERSION`, hashed alongside)
BUILD_VERSION = "7"  # 7: stops with no street near linked within STOP_REACH_M
#: bump whenever a street rule of `ingest.osm_streets` or the compiled street layout changes;
#: kept here, not in ingest, so that computing a cache key never imports the build stack
STREETS_BUILD_VERSION = "osm-streets-1"
MANIFEST = "manifest.json"
#: a stop farther than this from any walkable street is treated as off the street network
STOP_SNAP_M = 150.0
#: a stop with no street within `STOP_SNAP_M` (it lies beyond the extracts' edge, or in a
#: gap between them) is linked by an estimated straight line to the nearest street of a
#: place within this distance; farther stops get straight-line footpaths only
STOP_REACH_M = 400.0


class InputMissingError(FileNotFoundError):
    """A build input does not exist or is not a file."""


def input_hash(paths: Sequence[Path], options: dict[str, Any]) -> str:
    """SHA-256 over the input files' names and bytes (in order), the options and the build
    version: the key a compiled network is cached under.
    """
    h = hashlib.sha256()
    h.update(f"fairtrip-build {BUILD_VERSION} {STREETS_BUILD_VERSION}\n".encode())
    h.update(json.dumps(options, sort_keys=True).encode())
    for given in paths:
        p = Path(given)
        if p.is_dir():  # a GTFS directory: every file in it, in name order
            files = sorted(f for f in p.iterdir() if f.is_file())
        elif p.is_file():
            files = [p]
        else:
            raise InputMissingError(f"input {p} does not exist")
        for f in files:
            h.update(f.name.encode())
            with f.open("rb") as fh:
                for chunk in iter(functools.partial(fh.read, 1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def is_up_to_date(out: Path, digest: str) -> bool:
    """True if `out` holds a network built from exactly the inputs hashed in `digest`."""
    m = Path(out) / MANIFEST
    if not m.is_file():
        return False
    try:
        manifest = json.loads(m.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("input_hash") == digest


def cache_root() -> Path:
    """$FAIRTRIP_CACHE, or ~/.cache/fairtrip."""
    env = os.environ.get("FAIRTRIP_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "fairtrip"


def build_options(dates: Sequence[str] | None) -> dict[str, Any]:
    """The build options that change the output, as hashed into the cache key."""
    return {
        "dates": sorted(dates) if dates else None,
        "stop_snap_m": STOP_SNAP_M,
        "stop_reach_m": STOP_REACH_M,
    }

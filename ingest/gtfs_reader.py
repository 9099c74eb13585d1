"""Read a GTFS zip or directory into a gtfs-kit `Feed` with an explicit, widened schema.

gtfs-kit's own `read_feed` declares some columns as Int16 (`headway_secs`,
`transfer_duration`, `min_transfer_time`); real feeds exceed that (HSL has a 71,760 s
headway), so we read each table ourselves with gtfs-kit's schema widened to Int32 and then
hand the tables to gtfs-kit for everything else (calendars, frequency expansion).
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

import gtfs_kit as gk
import pandas as pd

from ingest.errors import GtfsError, InputFileError

log = logging.getLogger(__name__)

#: tables without which no timetable can be built
REQUIRED = ("agency", "stops", "routes", "trips", "stop_times")

_CSV_OPTIONS: dict[str, object] = {
    "na_values": ["", " "],
    "keep_default_na": False,
    "dtype_backend": "numpy_nullable",
    "encoding": "utf-8-sig",
}


def gtfs_schema() -> dict[str, dict[str, str]]:
    """gtfs-kit's declared dtypes with every Int16 widened to Int32."""
    return {
        table: {col: ("Int32" if dtype == "Int16" else dtype) for col, dtype in cols.items()}
        for table, cols in gk.DTYPES.items()
    }


def _read_table(raw: bytes, table: str, dtypes: dict[str, str], source: str) -> pd.DataFrame:
    try:
        df = pd.read_csv(io.BytesIO(raw), dtype=dtypes, **_CSV_OPTIONS)
    except (ValueError, TypeError, pd.errors.ParserError) as exc:
        raise GtfsError(f"{source}: {table}.txt cannot be read: {exc}") from exc
    df.columns = [str(c).strip() for c in df.columns]
    return df


def read_gtfs(path: Path) -> gk.Feed:
    """Read a GTFS zip or directory with declared dtypes; raise GtfsError if it is unusable."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"GTFS feed {path} does not exist")
    schema = gtfs_schema()
    raws = _raw_tables(path, schema)
    missing = [t for t in REQUIRED if t not in raws]
    if "calendar" not in raws and "calendar_dates" not in raws:
        missing.append("calendar or calendar_dates")
    if missing:
        raise GtfsError(f"{path}: missing GTFS tables: {', '.join(missing)}")
    tables = {t: _read_table(raw, t, schema[t], str(path)) for t, raw in raws.items()}
    _check_columns(path, tables)
    log.info(
        "read GTFS %s: %s",
        path.name,
        ", ".join(f"{t} {len(df):,}" for t, df in tables.items()),
    )
    return gk.Feed(dist_units="km", **tables)


def _raw_tables(path: Path, schema: dict[str, dict[str, str]]) -> dict[str, bytes]:
    """Table name -> bytes of every non-empty GTFS table the schema knows, from a directory
    or a zip file.
    """
    raws: dict[str, bytes] = {}
    if path.is_dir():
        for p in path.glob("*.txt"):
            if p.stem in schema and p.stat().st_size:
                raws[p.stem] = p.read_bytes()
        return raws
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                stem = Path(info.filename).stem
                if info.filename.endswith(".txt") and stem in schema and info.file_size:
                    raws[stem] = zf.read(info)
    except zipfile.BadZipFile as exc:
        raise GtfsError(f"{path} is neither a GTFS directory nor a zip file") from exc
    return raws


def _check_columns(path: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Raise GtfsError naming the first required table that lacks a column the build needs."""
    for table, cols in (
        ("stops", ("stop_id", "stop_lat", "stop_lon")),
        ("routes", ("route_id",)),
        ("trips", ("trip_id", "route_id", "service_id")),
        ("stop_times", ("trip_id", "stop_id", "stop_sequence")),
        ("agency", ("agency_timezone",)),
    ):
        absent = [c for c in cols if c not in tables[table].columns]
        if absent:
            raise GtfsError(f"{path}: {table}.txt lacks column(s) {', '.join(absent)}")

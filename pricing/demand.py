"""Origin-destination demand: how many trips go from where to where, read strictly from CSV.

Equity metrics weigh every price by the trips that pay it, so a policy evaluation needs an OD
table. This module reads one into flat numpy arrays (one row per OD pair and, optionally, per
income group and mode family). Demand files are often modelled rather than observed; a file
says so itself with a leading ``# synthetic: <what and how>`` comment line, and `Demand`
carries that flag so that every report built on it can repeat it.

File format (UTF-8, comma-separated, csv-module quoting)::

    # synthetic: gravity model on the HSY grid, see README.md      <- optional comment lines
    # any other comment line is kept as a note
    origin_zone,dest_zone,trips,income_group,income_minor          <- header
    hsy-12,est-3-4,12.5,low,180000

Columns: either coordinates (``origin_lat,origin_lon,dest_lat,dest_lon``) or zone ids
(``origin_zone,dest_zone``, resolved to each zone's representative point through a
`ZoneLayer`; the zone ids then become ``origin_id``/``dest_id``); ``trips`` (required,
finite > 0); optional ``origin_id,dest_id`` labels (coordinate form only), ``income_group``,
``income_minor`` (monthly income, int minor units > 0) and ``mode_family`` (default transit).
Everything else is refused with the line number and column, never guessed.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from pricing.errors import PricingError
from pricing.zones import ZoneLayer

log = logging.getLogger(__name__)

MODE_FAMILIES: Final = ("transit", "bike_share", "scooter", "car_share", "moped")
COORD_COLUMNS: Final = ("origin_lat", "origin_lon", "dest_lat", "dest_lon")
ZONE_COLUMNS: Final = ("origin_zone", "dest_zone")
LABEL_COLUMNS: Final = ("origin_id", "dest_id")
OPTIONAL_COLUMNS: Final = ("income_group", "income_minor", "mode_family")
ALLOWED_COLUMNS: Final = (
    *COORD_COLUMNS,
    *ZONE_COLUMNS,
    "trips",
    *LABEL_COLUMNS,
    *OPTIONAL_COLUMNS,
)

#: a file larger than this is refused before it is decoded (1M rows of ~60 bytes fit)
MAX_DEMAND_BYTES = 128 * 1024 * 1024
#: largest monthly income of a row, in minor units (10 billion in a two-decimal currency):
#: an income of 10**400 would otherwise overflow int64 (a 500) instead of naming the cell
MAX_INCOME_MINOR = 10**12
#: largest trip count of one OD row: sums over a million rows stay finite and exact enough
MAX_TRIPS_PER_ROW = 1e9

_SYNTHETIC_RE = re.compile(r"^#\s*synthetic\s*:\s*(.*)$", re.IGNORECASE)
#: plain decimal numbers only: float() would also take "nan", "inf" and "1_000"
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INT_RE = re.compile(r"^[+-]?\d+$")


class DemandError(PricingError, ValueError):
    """A demand file is unusable: names the source, line and column, and what was expected."""


@dataclass(frozen=True)
class Demand:
    """OD demand as parallel arrays, one row per OD pair (per income group / mode family)."""

    origin_id: npt.NDArray[np.str_]  # row -> origin label or zone id ("" when not given)
    dest_id: npt.NDArray[np.str_]  # row -> destination label or zone id
    origin_lat: npt.NDArray[np.float64]  # row -> origin latitude, degrees
    origin_lon: npt.NDArray[np.float64]
    dest_lat: npt.NDArray[np.float64]
    dest_lon: npt.NDArray[np.float64]
    trips: npt.NDArray[np.float64]  # row -> trips per day, > 0
    income_group: npt.NDArray[np.str_]  # row -> income group label, "" when absent
    income_minor: npt.NDArray[np.int64]  # row -> monthly income in minor units, 0 when absent
    mode_family: npt.NDArray[np.str_]  # row -> one of MODE_FAMILIES
    source: str
    synthetic: bool
    #: the text of the file's leading comment lines (the synthetic label first), "" if none
    note: str = ""

    def __len__(self) -> int:
        return int(self.trips.shape[0])

    @property
    def has_income(self) -> bool:
        """True when every row carries a monthly income (the file had an income_minor column)."""
        return bool(self.income_minor.size) and bool((self.income_minor > 0).all())

    @property
    def total_trips(self) -> float:
        """Sum of trips over all rows."""
        return float(self.trips.sum())


def load_demand(
    path_or_bytes: str | os.PathLike[str] | bytes,
    *,
    zones: ZoneLayer | None = None,
    source: str | None = None,
    max_rows: int = 1_000_000,
) -> Demand:
    """Read an OD demand CSV (a path, or the file's bytes) into a `Demand`.

    Parameters
    ----------
    path_or_bytes
        A file path (str or PathLike) or the raw bytes of the file.
    zones
        The layer that resolves ``origin_zone``/``dest_zone`` ids; required for that form.
    source
        Name used in errors and kept on the result; defaults to the path (or ``"<bytes>"``).
    max_rows
        Data rows accepted at most.

    Raises
    ------
    DemandError
        for an unreadable or empty file, wrong encoding, unknown/missing/duplicate columns, a
        malformed or out-of-range value, an unknown zone id or too many rows; the message
        names the line number and column.
    """
    raw, src = _read_raw(path_or_bytes, source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DemandError(f"{src}: line {line}: not UTF-8 text ({exc.reason})") from exc
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise DemandError(f"{src}: line {line}: NUL byte; expected a text CSV file")

    lines = text.splitlines(keepends=True)
    n_comments = 0
    while n_comments < len(lines) and lines[n_comments].lstrip().startswith("#"):
        n_comments += 1
    synthetic, note = _read_comments(lines[:n_comments])
    body = "".join(lines[n_comments:])
    parsed = _Parsed.read(body, src, line_offset=n_comments, max_rows=max_rows)

    if parsed.zone_form:
        if zones is None:
            raise DemandError(
                f"{src}: the file names zones (origin_zone, dest_zone); pass the ZoneLayer "
                f"that defines them as zones="
            )
        origin_id, o_lat, o_lon = _resolve_zones(parsed, "origin_zone", zones)
        dest_id, d_lat, d_lon = _resolve_zones(parsed, "dest_zone", zones)
    else:
        o_lat, o_lon = _floats(parsed, "origin_lat"), _floats(parsed, "origin_lon")
        d_lat, d_lon = _floats(parsed, "dest_lat"), _floats(parsed, "dest_lon")
        origin_id = _str_array(parsed.column_str("origin_id", ""))
        dest_id = _str_array(parsed.column_str("dest_id", ""))

    income_minor = (
        np.array(parsed.column_int("income_minor"), dtype=np.int64)
        if "income_minor" in parsed.header
        else np.zeros(parsed.n_rows, dtype=np.int64)
    )
    demand = Demand(
        origin_id=origin_id,
        dest_id=dest_id,
        origin_lat=np.asarray(o_lat, dtype=np.float64),
        origin_lon=np.asarray(o_lon, dtype=np.float64),
        dest_lat=np.asarray(d_lat, dtype=np.float64),
        dest_lon=np.asarray(d_lon, dtype=np.float64),
        trips=np.array(parsed.column_float("trips"), dtype=np.float64),
        income_group=_str_array(parsed.column_str("income_group", "")),
        income_minor=income_minor,
        mode_family=_str_array(parsed.column_str("mode_family", "transit")),
        source=src,
        synthetic=synthetic,
        note=note,
    )
    log.info(
        "demand %s: %d rows, %.1f trips%s",
        src,
        len(demand),
        demand.total_trips,
        " (synthetic)" if synthetic else "",
    )
    return demand


def _read_raw(
    path_or_bytes: str | os.PathLike[str] | bytes, source: str | None
) -> tuple[bytes, str]:
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        raw = bytes(path_or_bytes)
        src = source or "<bytes>"
        if len(raw) > MAX_DEMAND_BYTES:
            raise DemandError(f"{src}: {len(raw)} bytes; at most {MAX_DEMAND_BYTES} accepted")
        return raw, src
    if not isinstance(path_or_bytes, str | os.PathLike):
        raise DemandError(
            f"expected a path or bytes for the demand file, got {type(path_or_bytes).__name__}"
        )
    path = Path(path_or_bytes)
    src = source or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_DEMAND_BYTES:
            raise DemandError(f"{src}: {size} bytes; at most {MAX_DEMAND_BYTES} accepted")
        return path.read_bytes(), src
    except OSError as exc:
        raise DemandError(f"{src}: cannot read the demand file: {exc.strerror or exc}") from exc


def _read_comments(comments: list[str]) -> tuple[bool, str]:
    synthetic = False
    notes: list[str] = []
    for line in comments:
        text = line.strip()
        m = _SYNTHETIC_RE.match(text)
        if m:
            synthetic = True
            notes.insert(0, "synthetic: " + m.group(1).strip())
        else:
            notes.append(text.lstrip("#").strip())
    return synthetic, "\n".join(n for n in notes if n)


def _floats(parsed: _Parsed, column: str) -> npt.NDArray[np.float64]:
    return np.asarray(parsed.column_float(column), dtype=np.float64)


def _str_array(values: list[str]) -> npt.NDArray[np.str_]:
    return np.array(values, dtype=str) if values else np.array([], dtype="<U1")


@dataclass
class _Parsed:
    """The CSV body split into a checked header and raw rows, with their file line numbers."""

    src: str
    header: dict[str, int]
    rows: list[list[str]]
    line_no: list[int]
    zone_form: bool

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @classmethod
    def read(cls, body: str, src: str, *, line_offset: int, max_rows: int) -> _Parsed:
        reader = csv.reader(io.StringIO(body, newline=""), strict=True)
        try:
            first = next(reader, None)
            if first is None or not any(c.strip() for c in first):
                raise DemandError(f"{src}: empty file; expected a header line and data rows")
            header = cls._check_header(first, src, line_offset + reader.line_num)
            width = len(first)
            rows: list[list[str]] = []
            line_no: list[int] = []
            for row in reader:
                line = line_offset + reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) != width:
                    raise DemandError(
                        f"{src}: line {line}: {len(row)} fields; the header has {width}"
                    )
                if len(rows) >= max_rows:
                    raise DemandError(
                        f"{src}: line {line}: more than {max_rows} data rows; raise max_rows "
                        f"or split the file"
                    )
                rows.append(row)
                line_no.append(line)
        except csv.Error as exc:
            raise DemandError(
                f"{src}: line {line_offset + reader.line_num}: malformed CSV: {exc}"
            ) from exc
        if not rows:
            raise DemandError(f"{src}: no data rows after the header")
        zone_form = "origin_zone" in header
        return cls(src=src, header=header, rows=rows, line_no=line_no, zone_form=zone_form)

    @staticmethod
    def _check_header(first: list[str], src: str, line: int) -> dict[str, int]:
        names = [c.strip() for c in first]
        header: dict[str, int] = {}
        for i, name in enumerate(names):
            if name not in ALLOWED_COLUMNS:
                raise DemandError(
                    f"{src}: line {line}: unknown column {name!r} (column {i + 1}); allowed "
                    f"columns are {', '.join(ALLOWED_COLUMNS)}"
                )
            if name in header:
                raise DemandError(f"{src}: line {line}: column {name!r} appears twice")
            header[name] = i
        has_coords = any(c in header for c in COORD_COLUMNS)
        has_zones = any(c in header for c in ZONE_COLUMNS)
        if has_coords and has_zones:
            raise DemandError(
                f"{src}: line {line}: both coordinate and zone columns; expected either "
                f"{', '.join(COORD_COLUMNS)} or {', '.join(ZONE_COLUMNS)}"
            )
        if not has_coords and not has_zones:
            raise DemandError(
                f"{src}: line {line}: missing columns: expected either "
                f"{', '.join(COORD_COLUMNS)} or {', '.join(ZONE_COLUMNS)}"
            )
        required = [*(ZONE_COLUMNS if has_zones else COORD_COLUMNS), "trips"]
        missing = [c for c in required if c not in header]
        if missing:
            raise DemandError(f"{src}: line {line}: missing column(s) {', '.join(missing)}")
        if has_zones:
            labels = [c for c in LABEL_COLUMNS if c in header]
            if labels:
                raise DemandError(
                    f"{src}: line {line}: column(s) {', '.join(labels)} are only allowed with "
                    f"coordinates; with origin_zone/dest_zone the zone ids are the labels"
                )
        return header

    def error(self, k: int, column: str, message: str) -> DemandError:
        return DemandError(f"{self.src}: line {self.line_no[k]}: column {column}: {message}")

    def column_str(self, column: str, default: str) -> list[str]:
        if column not in self.header:
            return [default] * self.n_rows
        j = self.header[column]
        values = [row[j].strip() for row in self.rows]
        if column == "mode_family":
            for k, v in enumerate(values):
                if v not in MODE_FAMILIES:
                    allowed = ", ".join(MODE_FAMILIES)
                    raise self.error(k, column, f"{v!r}; expected one of {allowed}")
        return values

    def column_float(self, column: str) -> list[float]:
        j = self.header[column]
        out: list[float] = []
        for k, row in enumerate(self.rows):
            cell = row[j].strip()
            if not _NUMBER_RE.match(cell):
                raise self.error(k, column, f"{cell!r} is not a finite decimal number")
            value = float(cell)
            if not math.isfinite(value):  # "1e999" passes the pattern
                raise self.error(k, column, f"{cell!r} is not finite")
            self._check_range(k, column, cell, value)
            out.append(value)
        return out

    def _check_range(self, k: int, column: str, cell: str, value: float) -> None:
        if column == "trips" and not value > 0:
            raise self.error(k, column, f"{cell!r}; expected trips > 0")
        if column == "trips" and value > MAX_TRIPS_PER_ROW:
            raise self.error(k, column, f"{cell!r}; expected trips <= {MAX_TRIPS_PER_ROW:.0e}")
        if column.endswith("_lat") and not -90 <= value <= 90:
            raise self.error(k, column, f"{cell!r}; expected a latitude in [-90, 90]")
        if column.endswith("_lon") and not -180 <= value <= 180:
            raise self.error(k, column, f"{cell!r}; expected a longitude in [-180, 180]")

    def column_int(self, column: str) -> list[int]:
        j = self.header[column]
        out: list[int] = []
        for k, row in enumerate(self.rows):
            cell = row[j].strip()
            if not _INT_RE.match(cell):
                raise self.error(k, column, f"{cell!r}; expected an integer in minor units")
            # length first: int() of thousands of digits is slow, and refused past 4300
            value = int(cell) if len(cell) <= 20 else MAX_INCOME_MINOR + 1
            if value <= 0:
                raise self.error(k, column, f"{cell!r}; expected an income > 0")
            if value > MAX_INCOME_MINOR:
                shown = cell if len(cell) <= 24 else f"{cell[:20]}... ({len(cell)} digits)"
                raise self.error(
                    k, column, f"{shown!r}; expected an income <= {MAX_INCOME_MINOR} minor units"
                )
            out.append(value)
        return out


def _resolve_zones(
    parsed: _Parsed, column: str, zones: ZoneLayer
) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Zone ids of one column and the lat/lon of each zone's representative point."""
    ids = parsed.column_str(column, "")
    rep_lat, rep_lon = zones.representative_points()
    idx = np.empty(len(ids), dtype=np.int64)
    for k, zone_id in enumerate(ids):
        if zone_id not in zones:
            raise parsed.error(
                k, column, f"unknown zone id {zone_id!r}; not in the zone layer {zones.source}"
            )
        idx[k] = zones.index_of(zone_id)
    return _str_array(ids), rep_lat[idx], rep_lon[idx]

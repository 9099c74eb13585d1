"""Build time: read a GTFS feed's fare tables into a compiled `pricing` fare system.

The network build calls `read_fare_system` once and stores the result's `to_json()` beside
the timetable; the query path only ever sees the compiled system. Fares v2 is preferred when
a feed has both (the GTFS reference recommends it), v1 is the fallback, and a feed without
fare tables gets None (its itineraries are then unpriced, which the API says, rather than
priced by a guess).

Tables are read with the `csv` module as plain strings (every value a `str`, nothing
inferred), so `"2.80"` reaches `pricing.money` as the decimal text the publisher wrote. All
validation (required columns, prices, currencies, references) happens in one place, the
`from_records` builders of `pricing.fares_v1` / `pricing.fares_v2`, and is reported as a
`FareDataError` naming the file, the row (the header is row 1) and the field. The only
checks made here are those that need the header itself (a required column missing from a
table with no rows) and the calendar, which only ingest reads.
"""

from __future__ import annotations

import csv
import datetime
import io
import logging
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from ingest.errors import GtfsError, InputFileError
from pricing.errors import FareDataError
from pricing.fares import FareSystem, field_text
from pricing.fares_v1 import FARE_ATTRIBUTES, FARE_RULES, FareAttribute, FaresV1
from pricing.fares_v1 import REQUIRED_COLUMNS as V1_COLUMNS
from pricing.fares_v2 import (
    FARE_LEG_RULES,
    FARE_PRODUCTS,
    FARE_TRANSFER_RULES,
    RIDER_CATEGORIES,
    ROUTE_NETWORKS,
    ROUTES,
    STOP_AREAS,
    STOPS,
    TIMEFRAMES,
    FaresV2,
)
from pricing.fares_v2 import REQUIRED_COLUMNS as V2_COLUMNS

log = logging.getLogger(__name__)

CALENDAR = "calendar.txt"
CALENDAR_DATES = "calendar_dates.txt"
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

Rows = list[dict[str, str]]


class _Feed:
    """The .txt members of a GTFS zip or directory, by file name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._raw: dict[str, bytes] = {}
        if path.is_dir():
            self._files = {p.name: p for p in path.glob("*.txt")}
            self._zip: zipfile.ZipFile | None = None
        else:
            try:
                self._zip = zipfile.ZipFile(path)
            except zipfile.BadZipFile as exc:
                raise GtfsError(f"{path} is neither a GTFS directory nor a zip file") from exc
            self._members = {
                Path(info.filename).name: info
                for info in self._zip.infolist()
                if info.filename.endswith(".txt")
            }

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def has(self, name: str) -> bool:
        """True when the feed has the table and it is not an empty file."""
        if self._zip is None:
            p = self._files.get(name)
            return p is not None and p.stat().st_size > 0
        info = self._members.get(name)
        return info is not None and info.file_size > 0

    def read(self, name: str, required: Sequence[str] = ()) -> tuple[list[str], Rows]:
        """Header and rows (dicts of str) of one table; empty when the table is absent."""
        if not self.has(name):
            return [], []
        raw = (
            self._files[name].read_bytes()
            if self._zip is None
            else self._zip.read(self._members[name])
        )
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FareDataError(
                f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=name
            ) from None
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [h.strip() for h in next(reader, [])]
        for column in required:
            if column not in header:
                raise FareDataError(
                    f"missing required column {column!r} (header: {', '.join(header)})",
                    file=name,
                    row=1,
                    field=column,
                )
        rows: Rows = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue  # blank line
            # a short row leaves its last fields empty rather than missing
            padded = [*values, *[""] * (len(header) - len(values))]
            rows.append(dict(zip(header, padded, strict=False)))
        return header, rows


def read_fare_system(gtfs_path: Path) -> FareSystem | None:
    """The feed's fare system: v2 if it has `fare_products.txt` + `fare_leg_rules.txt`, else
    v1 if it has `fare_attributes.txt`, else None.

    Raises `InputFileError` when the path does not exist, `GtfsError` when it is neither a
    directory nor a zip, and `FareDataError` (file, row, field) for malformed fare tables.
    """
    path = Path(gtfs_path)
    if not path.exists():
        raise InputFileError(f"GTFS feed {path} does not exist")
    feed = _Feed(path)
    try:
        if feed.has(FARE_PRODUCTS) and feed.has(FARE_LEG_RULES):
            system: FareSystem | None = _read_v2(feed)
        elif feed.has(FARE_ATTRIBUTES):
            system = _read_v1(feed)
        else:
            log.info("%s has no fare tables; itineraries will be unpriced", path)
            system = None
    finally:
        feed.close()
    return system


def _read_v1(feed: _Feed) -> FaresV1 | None:
    _, attributes = feed.read(FARE_ATTRIBUTES, V1_COLUMNS[FARE_ATTRIBUTES])
    if not attributes:
        log.warning("%s: %s has no rows; itineraries will be unpriced", feed.path, FARE_ATTRIBUTES)
        return None
    _, rules = feed.read(FARE_RULES, V1_COLUMNS[FARE_RULES])
    system = FaresV1.from_records(attributes, rules)
    log.info(
        "%s: GTFS Fares v1, %d fares and %d fare rules in %s",
        feed.path,
        len(attributes),
        len(rules),
        system.currency,
    )
    _warn_zero_transfer_duration(feed.path, system.attributes)
    return system


def _warn_zero_transfer_duration(path: Path, attributes: Sequence[FareAttribute]) -> None:
    """Say so when a fare allows transfers but gives them `transfer_duration` 0.

    Real feeds publish this (Northern Kentucky's TANK: `transfers=1, transfer_duration=0`).
    It is ambiguous: 0 may be a placeholder for "no time limit" (which the reference spells
    as an empty field), but read literally the transfer expires at the first boarding, so a
    second ride pays again. Refusing the feed would leave a real network unpriced, and
    guessing a limit would invent a fare, so the literal reading (the reference's "seconds
    before a transfer expires") is kept and the build names the fares it affects.
    """
    fare_ids = [
        a.fare_id
        for a in attributes
        if a.transfer_duration_s == 0 and (a.transfers is None or a.transfers > 0)
    ]
    if fare_ids:
        log.warning(
            "%s: %s gives fare(s) %s transfers but transfer_duration 0 seconds, which is "
            "ambiguous; read literally: a transfer expires at the first boarding, so each "
            "later ride on these fares pays again",
            path,
            FARE_ATTRIBUTES,
            ", ".join(repr(f) for f in fare_ids),
        )


def _read_v2(feed: _Feed) -> FaresV2:
    def table(name: str) -> Rows:
        return feed.read(name, V2_COLUMNS.get(name, ()))[1]

    leg_header, leg_rules = feed.read(FARE_LEG_RULES, V2_COLUMNS[FARE_LEG_RULES])
    routes_header, routes = feed.read(ROUTES)
    timeframes = table(TIMEFRAMES)
    service_ids = {field_text(t, "service_id", TIMEFRAMES, i + 2) for i, t in enumerate(timeframes)}
    system = FaresV2.from_records(
        table(FARE_PRODUCTS),
        leg_rules,
        table(FARE_TRANSFER_RULES),
        timeframes,
        stop_areas=table(STOP_AREAS),
        routes=routes if "network_id" in routes_header else (),
        route_networks=table(ROUTE_NETWORKS),
        stops=table(STOPS) if feed.has(STOP_AREAS) else (),
        rider_categories=table(RIDER_CATEGORIES),
        service_dates=_service_dates(feed, service_ids - {""}),
        has_rule_priority="rule_priority" in leg_header,
    )
    log.info(
        "%s: GTFS Fares v2, %d products, %d leg rules, %d transfer rules in %s",
        feed.path,
        len(system.products),
        len(system.leg_rules),
        len(system.transfer_rules),
        system.currency,
    )
    return system


def _date(raw: str, file: str, row_no: int, field: str) -> datetime.date:
    try:
        if len(raw) == 8 and raw.isdigit():
            return datetime.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        pass
    raise FareDataError(
        f"{raw!r} is not a date YYYYMMDD", file=file, row=row_no, field=field, value=raw
    )


def _service_dates(feed: _Feed, service_ids: set[str]) -> Mapping[str, set[datetime.date]]:
    """The days each of `service_ids` runs, from calendar.txt and calendar_dates.txt."""
    days: dict[str, set[datetime.date]] = {}
    if not service_ids:
        return days
    for i, row in enumerate(feed.read(CALENDAR)[1]):
        row_no = i + 2
        sid = field_text(row, "service_id", CALENDAR, row_no, required=True)
        if sid not in service_ids:
            continue
        start = _date(
            field_text(row, "start_date", CALENDAR, row_no, required=True),
            CALENDAR,
            row_no,
            "start_date",
        )
        end = _date(
            field_text(row, "end_date", CALENDAR, row_no, required=True),
            CALENDAR,
            row_no,
            "end_date",
        )
        weekdays = {
            k for k, name in enumerate(_WEEKDAYS) if field_text(row, name, CALENDAR, row_no) == "1"
        }
        running = days.setdefault(sid, set())
        day = start
        while day <= end:
            if day.weekday() in weekdays:
                running.add(day)
            day += datetime.timedelta(days=1)
    for i, row in enumerate(feed.read(CALENDAR_DATES)[1]):
        row_no = i + 2
        sid = field_text(row, "service_id", CALENDAR_DATES, row_no, required=True)
        if sid not in service_ids:
            continue
        day = _date(
            field_text(row, "date", CALENDAR_DATES, row_no, required=True),
            CALENDAR_DATES,
            row_no,
            "date",
        )
        kind = field_text(row, "exception_type", CALENDAR_DATES, row_no, required=True)
        if kind == "1":
            days.setdefault(sid, set()).add(day)
        elif kind == "2":
            days.setdefault(sid, set()).discard(day)
        else:
            raise FareDataError(
                f"exception_type {kind!r} is not 1 (added) or 2 (removed)",
                file=CALENDAR_DATES,
                row=row_no,
                field="exception_type",
                value=kind,
            )
    return days

"""Reading a period of the history for one answer, with bounded memory, and naming rules.

An answer about one zone over a month must not hold a month of history rows in memory: a
day of the embedded city's three synthetic providers is ~300,000 rows. So a period is read
a day at a time (`read_by_day`), each day's rows are cut down to the zones the answer needs
and then merged (`merge_rows`) into one vehicle row and one station row per (sample time,
zone): vehicles in reach summed, the nearest walk the shortest, stations summed. That is
exactly how `service_coverage.measures` combines the rows of one sample time and zone
(module docstring there: "a zone's figures add up the kept rows"), so the measures of the
merged rows equal those of the rows themselves (tests/test_coverage_report.py checks it); a
month for the largest class then fits in a few hundred megabytes.

Rules are named by id: a rule stored in the durable rule store (`service_coverage.rule_store`), or
else the example rules shipped with the embedded city (`data/policies/rules/`), so
`--rule scooters-peripheral-20` works before anyone has stored a rule.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from service_coverage.history import HistoryStore
from service_coverage.model import ZoneSample
from service_coverage.rule_store import RuleStore, UnknownRuleError
from service_coverage.rules import Rule, shipped_rules

#: the history is read in chunks of this many seconds (a day)
CHUNK_S: Final = 86_400
#: the provider id merged rows carry (they add up several providers)
MERGED_PROVIDER: Final = "*"
#: the vehicle type id and form factor of a merged vehicle row (never "": that is a station row)
MERGED_TYPE: Final = "*"


def read_by_day(
    store: HistoryStore,
    from_s: int,
    to_s: int,
    *,
    provider_id: str | None = None,
    keep: Callable[[ZoneSample], bool] | None = None,
) -> Iterator[list[ZoneSample]]:
    """The samples of [from_s, to_s), one chunk of at most `CHUNK_S` seconds at a time (one
    provider's, or all), each chunk cut to the rows `keep` accepts.
    """
    start = from_s
    while start < to_s:
        end = min(start + CHUNK_S, to_s)
        rows = store.samples(from_s=start, to_s=end, provider_id=provider_id)
        yield rows if keep is None else [s for s in rows if keep(s)]
        start = end


@dataclass(slots=True)
class _Cell:
    """One (sample time, zone): the vehicle and station figures added up."""

    vehicles: int = 0
    reach: int = 0
    nearest_m: float = math.inf
    has_vehicle_row: bool = False
    docks_free: int = 0
    stations: int = 0
    empty: int = 0
    full: int = 0
    has_station_row: bool = False


@dataclass(slots=True)
class Merged:
    """Merged rows, and the providers whose rows went into them."""

    rows: list[ZoneSample] = field(default_factory=list)
    providers: set[str] = field(default_factory=set)

    def add(self, samples: Iterable[ZoneSample]) -> None:
        """Merge `samples` (module docstring) and append them to `rows`."""
        cells: dict[tuple[int, str], _Cell] = {}
        for s in samples:
            self.providers.add(s.provider_id)
            cell = cells.get((s.sampled_at_s, s.zone_id))
            if cell is None:
                cell = cells[(s.sampled_at_s, s.zone_id)] = _Cell()
            if s.vehicle_type_id:
                cell.has_vehicle_row = True
                cell.vehicles += s.vehicles
                cell.reach += s.vehicles_in_reach
                if s.nearest_m is not None:
                    cell.nearest_m = min(cell.nearest_m, s.nearest_m)
            else:
                cell.has_station_row = True
                cell.docks_free += s.docks_free
                cell.stations += s.stations
                cell.empty += s.stations_empty
                cell.full += s.stations_full
        for (at_s, zone_id), c in cells.items():
            if c.has_vehicle_row:
                nearest = None if math.isinf(c.nearest_m) else c.nearest_m
                self.rows.append(
                    ZoneSample(
                        MERGED_PROVIDER, at_s, zone_id, MERGED_TYPE, MERGED_TYPE,
                        c.vehicles, c.reach, nearest, 0, 0, 0, 0,
                    )
                )  # fmt: skip
            if c.has_station_row:
                self.rows.append(
                    ZoneSample(
                        MERGED_PROVIDER, at_s, zone_id, "", "",
                        0, 0, None, c.docks_free, c.stations, c.empty, c.full,
                    )
                )  # fmt: skip


def merged_period(
    store: HistoryStore,
    from_s: int,
    to_s: int,
    *,
    zone_ids: Collection[str],
    provider_id: str | None = None,
) -> Merged:
    """The period's rows of `zone_ids` (one provider's, or all), merged day by day."""
    wanted = frozenset(zone_ids)
    merged = Merged()
    for chunk in read_by_day(
        store, from_s, to_s, provider_id=provider_id, keep=lambda s: s.zone_id in wanted
    ):
        merged.add(chunk)
    return merged


def find_rule(store: RuleStore | None, rule_id: str) -> Rule:
    """The rule named `rule_id`: its latest stored version, else a shipped example rule.

    Raises
    ------
    service_coverage.rule_store.UnknownRuleError
        Neither the store nor the shipped rule has this id.
    """
    if store is not None:
        try:
            return store.get(rule_id).rule
        except UnknownRuleError:
            pass
    for shipped in shipped_rules():
        if shipped.id == rule_id:
            return shipped
    raise UnknownRuleError(rule_id)


def known_rule_ids(store: RuleStore | None) -> list[str]:
    """Every rule id `find_rule` answers, sorted (for messages that list them)."""
    ids = {stored.rule.id for stored in store.list()} if store is not None else set()
    ids.update(rule.id for rule in shipped_rules())
    return sorted(ids)


def local_day_spans(from_s: int, to_s: int, tz: dt.tzinfo) -> list[tuple[dt.date, int, int]]:
    """Each local day the period [from_s, to_s) touches, with its part of the period."""
    out: list[tuple[dt.date, int, int]] = []
    day = dt.datetime.fromtimestamp(from_s, tz).date()
    while True:
        start = int(dt.datetime.combine(day, dt.time(), tz).timestamp())
        end = int(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz).timestamp())
        if start >= to_s:
            return out
        out.append((day, max(start, from_s), min(end, to_s)))
        day += dt.timedelta(days=1)

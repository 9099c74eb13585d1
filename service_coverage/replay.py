"""A day of availability history for the SYNTHETIC fleets, computed in seconds.

The history a server records takes a day to fill. For tests, demos and the service report
on the embedded city, `replay_day` fills one local day at once: it builds the synthetic
fleets at the day's local midnight, runs their churn over the day in simulated time (one
round every `ROUND_S`, following the daily pattern of `providers.synthetic.churn`: morning
commutes into the centre, evening commutes out, rebalancing at night), parses each state
through the GBFS parser as the server parses pushed feeds (a round's changed files as
single-file pushes, `providers.synthetic.refreshed_snapshots`), aggregates it per zone and
vehicle type (`service_coverage.history.aggregate`) at every `period_s` and records the
rows in the history.

Samples are stamped with the replayed day's times, so the history reads like that day's
recording; everything in it is SYNTHETIC (the providers' ids say so). The replay is
deterministic: the same network, day, seed and period give the same rows, and replaying a
day again replaces its rows rather than adding to them.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Final

import numpy as np

from network.compiled import Network
from providers.model import FleetSnapshot
from providers.synthetic import (
    DEFAULT_SEED,
    Feeds,
    StreetNodes,
    churn,
    embedded_synthetic_fleets,
    refreshed_snapshots,
    street_nodes,
)
from service_coverage.history import HistoryStore, aggregate
from service_coverage.model import FIRST_YEAR, LAST_YEAR, ZoneSample
from service_coverage.zones import ServiceZones

log = logging.getLogger(__name__)

#: simulated seconds per round of churn (the rates in `churn` are tuned to this)
ROUND_S: Final = 300
#: seconds between two samples by default (the server's recording cadence)
DEFAULT_PERIOD_S: Final = 300
#: samples recorded per write transaction (an hour at the default period)
_BATCH: Final = 12


class ReplayError(ValueError):
    """The replay cannot run as asked (a bad period, a network without streets)."""


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay wrote: the day, its sample times and rows, and how long it took."""

    day: dt.date
    timezone: str
    period_s: int
    #: first and last sample time (epoch seconds)
    first_s: int
    last_s: int
    #: provider -> sample times recorded
    samples: dict[str, int]
    #: rows written
    rows: int
    #: churn rounds run
    rounds: int
    elapsed_s: float


def day_bounds(day: dt.date, tz: dt.tzinfo) -> tuple[int, int]:
    """(start, end) of a local day in epoch seconds (23 or 25 hours on a DST change)."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ReplayError(f"date {day.isoformat()} is outside the years {FIRST_YEAR}..{LAST_YEAR}")
    start = dt.datetime.combine(day, dt.time(), tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
    return int(start.timestamp()), int(end.timestamp())


def _check_period(period_s: int) -> None:
    if isinstance(period_s, bool) or not isinstance(period_s, int):
        raise ReplayError(f"period must be whole seconds, got {period_s!r}")
    if not 60 <= period_s <= 3600 or 3600 % period_s:
        raise ReplayError(
            f"period {period_s} s: expected a divisor of an hour from 60 to 3600 s "
            "(1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60 minutes)"
        )


class _Fleets:
    """The synthetic fleets advanced round by round; round k is seeded by (seed, k)."""

    def __init__(self, network: Network, start_s: int, seed: int, base: Feeds | None) -> None:
        if "walk" not in network.streets or "car" not in network.streets:
            raise ReplayError(
                f"network {network.name!r} has no walk and car street graphs: the synthetic "
                "fleets stand on streets; build it with --osm"
            )
        self.start_s = start_s
        self.seed = seed
        self.nodes = StreetNodes(
            walk=street_nodes(network, "walk"), car=street_nodes(network, "car")
        )
        if base is None:
            base = embedded_synthetic_fleets(network, now_s=start_s, seed=seed)
        self.feeds: Feeds = base
        self.rounds = 0

    def advance_to(self, now_s: int) -> None:
        """Run every round due by `now_s`."""
        while self.start_s + (self.rounds + 1) * ROUND_S <= now_s:
            self.rounds += 1
            rng = np.random.default_rng([self.seed, self.rounds])
            round_s = self.start_s + self.rounds * ROUND_S
            self.feeds = churn(self.feeds, rng=rng, now_s=round_s, nodes=self.nodes)


def replay_day(
    network: Network,
    day: dt.date,
    history: HistoryStore,
    zones: ServiceZones,
    *,
    period_s: int = DEFAULT_PERIOD_S,
    seed: int = DEFAULT_SEED,
    base: Feeds | None = None,
) -> ReplayResult:
    """Fill `history` with the synthetic fleets' local `day` on `network` (module docstring).

    Samples are taken at the day's local midnight and every `period_s` after it (288 on a
    24-hour day at 5 minutes), in the network's time zone. `seed` seeds the fleets and
    every round of churn; `base` replaces the embedded city's fleets at midnight (smaller
    fleets for tests; documents dated at the day's start).

    Raises
    ------
    ReplayError
        `period_s` does not divide an hour, or the network has no walk and car streets.
    service_coverage.errors.CoverageError
        the history cannot be written, or a snapshot cannot be aggregated.
    """
    _check_period(period_s)
    started = time.perf_counter()
    tz = network.timezone
    start_s, end_s = day_bounds(day, tz)
    fleets = _Fleets(network, start_s, seed, base)
    samples: dict[str, int] = {}
    rows = 0
    batch: list[ZoneSample] = []
    times = range(start_s, end_s, period_s)
    parsed_feeds: Feeds = {}
    snapshots: dict[str, FleetSnapshot] = {}
    for i, now_s in enumerate(times):
        fleets.advance_to(now_s)
        snapshots = refreshed_snapshots(parsed_feeds, snapshots, fleets.feeds, now_s)
        parsed_feeds = fleets.feeds
        for snapshot in snapshots.values():
            batch += aggregate(snapshot, zones, sampled_at_s=now_s)
            samples[snapshot.provider_id] = samples.get(snapshot.provider_id, 0) + 1
        if (i + 1) % _BATCH == 0 or i + 1 == len(times):
            rows += history.record(batch, replayed=True)
            batch = []
            log.info("replay %s: %s local recorded", day, dt.datetime.fromtimestamp(now_s, tz))
    elapsed = time.perf_counter() - started
    log.info("replayed %s: %d rows in %.1f s", day, rows, elapsed)
    return ReplayResult(
        day=day,
        timezone=str(tz),
        period_s=period_s,
        first_s=times[0],
        last_s=times[-1],
        samples=samples,
        rows=rows,
        rounds=fleets.rounds,
        elapsed_s=elapsed,
    )

"""Recording the availability history while the server runs, on a thread of its own.

Every `period_s` (5 minutes by default) the recorder reads the availability store's fresh
snapshots (stale providers are left out, as the planner leaves them out), aggregates each
per zone and vehicle type (`service_coverage.history.aggregate`) and records the rows in the
durable history. Samples are stamped at the start of the cadence slot they fall in, so the
workers of one server, each running a recorder, write the same rows (the later write
replaces the earlier) instead of near-duplicates a few seconds apart.

Never a danger to the server: a provider whose snapshot cannot be aggregated is left out
of that sample (logged once per provider until it aggregates again), and a failing store
or any other error is logged once until a sample succeeds again and kept in `last_error`.
Nothing is raised into the server from the thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from pricing.zones import ZoneError
from providers.store import AvailabilityStore
from service_coverage.errors import CoverageError
from service_coverage.history import HistoryStore, aggregate, open_history_store
from service_coverage.model import ZoneSample
from service_coverage.zones import ServiceZones, load_service_zones

log = logging.getLogger(__name__)

#: seconds between two samples of the history
DEFAULT_PERIOD_S: Final = 300.0


class HistoryRecorder:
    """One worker's recording of the aggregated availability history.

    Parameters
    ----------
    history
        where samples go.
    availability
        the availability store whose fresh snapshots are sampled.
    zones
        the service zones the snapshots are aggregated over.
    period_s
        seconds between two samples (> 0).
    clock
        wall clock in epoch seconds (tests pass their own).
    """

    def __init__(
        self,
        history: HistoryStore,
        availability: AvailabilityStore,
        zones: ServiceZones,
        *,
        period_s: float = DEFAULT_PERIOD_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        self.history = history
        self.availability = availability
        self.zones = zones
        self.period_s = period_s
        self._clock = clock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one sample at a time: the thread and record_now
        #: provider -> the error that left it out of the samples (logged once)
        self._provider_errors: dict[str, str] = {}
        #: why the last sample failed (None once one succeeds)
        self.last_error: str | None = None
        #: the slot time of the last sample recorded (None before the first)
        self.recorded_at_s: int | None = None

    def slot_s(self, now_s: float) -> int:
        """The sample time `now_s` is stamped with: the start of its cadence slot."""
        return int(now_s // self.period_s * self.period_s)

    def record_now(self, now_s: float | None = None) -> int:
        """Sample the fresh snapshots at `now_s` (default: the clock) into the history;
        returns the rows recorded. Store errors are raised (`HistoryStoreError`); a
        provider whose snapshot cannot be aggregated is left out and logged.
        """
        now = self._clock() if now_s is None else now_s
        sampled_at_s = self.slot_s(now)
        with self._lock:
            rows: list[ZoneSample] = []
            snapshots = self.availability.fresh_snapshots(int(now))
            for provider_id, snapshot in sorted(snapshots.items()):
                try:
                    rows.extend(aggregate(snapshot, self.zones, sampled_at_s=sampled_at_s))
                except (CoverageError, ValueError) as exc:
                    self._provider_failed(provider_id, exc)
                else:
                    if self._provider_errors.pop(provider_id, None) is not None:
                        log.info("availability history: provider %s recorded again", provider_id)
            recorded = self.history.record(rows)
            self.recorded_at_s = sampled_at_s
            return recorded

    def _provider_failed(self, provider_id: str, exc: Exception) -> None:
        """Log a provider left out of the history, once per distinct error."""
        message = f"{type(exc).__name__}: {exc}"
        if self._provider_errors.get(provider_id) != message:
            log.warning(
                "availability history: provider %s left out of the samples: %s",
                provider_id,
                message,
            )
        self._provider_errors[provider_id] = message

    def start(self) -> None:
        """Start the thread (once); it samples at every slot boundary until `stop`."""
        if self._thread is not None:
            raise RuntimeError("the history recorder is already started")
        self._thread = threading.Thread(target=self._run, name="history-recorder", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (at shutdown); a sample under way finishes first."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def close(self) -> None:
        """Stop the thread and close the history store."""
        self.stop()
        self.history.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            now = self._clock()
            wait_s = self.slot_s(now) + self.period_s - now
            if self._stopping.wait(max(wait_s, 0.0)):
                break
            self._tick()

    def _tick(self) -> None:
        """One sample on the thread: any failure is logged once and kept, never raised."""
        try:
            self.record_now()
        except Exception as exc:  # the recorder must outlive any one failure
            if self.last_error is None:
                log.exception("availability history not recorded; trying again next period")
            self.last_error = f"{type(exc).__name__}: {exc}"
            return
        if self.last_error is not None:
            log.info("availability history recorded again after: %s", self.last_error)
        self.last_error = None


def start_history_recorder(
    store_url: str,
    zones_path: Path | None,
    availability: AvailabilityStore,
    *,
    period_s: float,
) -> HistoryRecorder | None:
    """Open the history next to the durable store and start recording (None: disabled).

    Recording is off when `period_s` is 0, when no demand zones are known (a network that
    is not the embedded city, without `FAIRTRIP_DEMAND_ZONES`), or when the zones or the
    history file cannot be opened (logged: the server serves without history).
    """
    if period_s <= 0:
        log.info("availability history disabled (history_period_s = 0)")
        return None
    if zones_path is None or not zones_path.is_file():
        log.info("availability history disabled: no demand zones with residents for this network")
        return None
    try:
        zones = load_service_zones(zones_path)
        history = open_history_store(store_url)
    except (ZoneError, CoverageError) as exc:
        log.error("availability history disabled: %s", exc)
        return None
    recorder = HistoryRecorder(history, availability, zones, period_s=period_s)
    recorder.start()
    log.info(
        "availability history: every %g s over %d zones of %s", period_s, len(zones), zones.source
    )
    return recorder

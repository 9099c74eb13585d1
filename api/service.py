"""The service coverage side of a worker: the availability history, the service zones and
the distribution rules the `/zones` and `/providers/{id}/compliance` endpoints read.

Built in the lifespan after the fleets. A worker that records the history
(`api.fleets.Fleets.history`) answers from the recorder's own open file and zones, so
reads and writes share one connection (`storage.sqlite_file.SqliteFile` serialises them).
A worker that does not record (`FAIRTRIP_HISTORY_PERIOD_S=0`) still answers from the
history others recorded, or a replay wrote, in the same durable file. A network without
demand zones has no service zones: the endpoints then say so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import tzinfo

from api.fleets import Fleets
from api.pricing import default_paths, default_policy_store_url
from api.settings import Settings
from network.compiled import Network
from pricing.zones import ZoneError
from service_coverage.errors import CoverageError
from service_coverage.history import HistoryStore, open_history_store
from service_coverage.rule_store import RuleStore, open_rule_store
from service_coverage.zones import ServiceZones, load_service_zones

log = logging.getLogger(__name__)


@dataclass
class ServiceCoverage:
    """What the service endpoints read: history, zones, stored rules, the local time zone."""

    history: HistoryStore
    zones: ServiceZones
    #: stored distribution rules (None: the store could not be opened; the shipped rule
    #: is still known)
    rules: RuleStore | None
    #: hours of day and days are local to the network
    timezone: tzinfo
    #: whether this object opened `history` (else the recorder did, and closes it)
    owns_history: bool

    def close(self) -> None:
        """Close what this object opened."""
        if self.rules is not None:
            self.rules.close()
        if self.owns_history:
            self.history.close()


def open_service_coverage(
    settings: Settings, network: Network, fleets: Fleets
) -> ServiceCoverage | None:
    """The worker's service coverage, or None when the network has no service zones or the
    history cannot be opened (logged; the rest of the server works without it).
    """
    url = default_policy_store_url(settings)
    recorder = fleets.history
    if recorder is not None:
        history, zones, owns = recorder.history, recorder.zones, False
    else:
        zones_path = default_paths(settings, network)[1]
        if zones_path is None or not zones_path.is_file():
            log.info("service coverage off: no demand zones with residents for this network")
            return None
        try:
            zones = load_service_zones(zones_path)
            history = open_history_store(url)
        except (ZoneError, CoverageError) as exc:
            log.error("service coverage off: %s", exc)
            return None
        owns = True
    rules: RuleStore | None
    try:
        rules = open_rule_store(url)
    except CoverageError as exc:
        log.error("distribution rules store not opened (the shipped rule still works): %s", exc)
        rules = None
    return ServiceCoverage(history, zones, rules, network.timezone, owns)

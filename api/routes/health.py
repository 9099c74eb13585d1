"""`/health` (the process is up) and `/ready` (the network is loaded, what it covers, and
whether the availability store is healthy).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.examples import HEALTH, READY, responses
from api.schemas import Health, Ready
from api.state import StateDep

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses=responses(HEALTH))
def health() -> dict[str, str]:
    """The process is up (no dependency is checked)."""
    return {"status": "ok"}


@router.get("/ready", response_model=Ready, responses=responses(READY))
def ready(state: StateDep) -> dict[str, Any]:
    """The network is loaded: which city, which dates, the store and the providers' freshness.

    `status` is "degraded", with `reasons`, while the availability store is unreachable or
    re-seeding after it lost its data, and the answer is still 200. On purpose: the store is
    shared by every worker and pod, so a non-2xx here would take *all* of them out of the
    load balancer at once and turn "no shared vehicles for a few seconds" into "no trip
    planning at all", while each worker can still plan walk + transit and answer from its
    last good copy. Monitoring should alert on `status`; `GET /health` says only whether the
    process is up.
    """
    net = state.network
    m = net.manifest
    body: dict[str, Any] = {
        "network": {
            "name": net.name,
            "service_dates": net.service_dates,
            "feed_start_date": iso_date(m.get("feed_start_date")),
            "feed_end_date": iso_date(m.get("feed_end_date")),
            "timezone": m["timezone"],
            "stops": len(net.stops.stop_id),
            "bbox": m.get("bbox"),
        },
    }
    body.update(state.fleets.readiness())
    refresher = state.fleets.refresher
    broken = refresher.fleets.broken() if refresher is not None else {}
    for entry in body["providers"]:  # feeds this worker could not turn into router fleets
        if entry["provider_id"] in broken:
            entry["planning_error"] = broken[entry["provider_id"]]
    return body


def iso_date(gtfs_date: str | None) -> str | None:
    """GTFS YYYYMMDD as ISO YYYY-MM-DD (None and odd values pass through)."""
    if gtfs_date and len(gtfs_date) == 8 and gtfs_date.isdigit():
        return f"{gtfs_date[:4]}-{gtfs_date[4:6]}-{gtfs_date[6:]}"
    return gtfs_date

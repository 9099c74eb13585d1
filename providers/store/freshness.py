"""How old a provider's data is, and when it stops being offered to the router: one place.

A provider is *stale* when its newest dynamic data (the files that say where vehicles are
now: `station_status`, `vehicle_status`, `free_bike_status`) was last updated more than
`STALE_AFTER_S` ago. A feed that publishes none of those (a `system_information`-only feed)
is judged by the files it has. Age is measured from the publisher's `last_updated_s`, not from
when we received it: a poller that re-fetches an unchanged, hour-old file must not make the
data look fresh.
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.model import FleetSnapshot

#: a provider whose newest dynamic data is older than this is not offered to the router
STALE_AFTER_S = 300
#: files that describe the fleet's current state; the others change rarely
DYNAMIC_FILES = frozenset({"station_status", "vehicle_status", "free_bike_status"})


@dataclass(frozen=True, slots=True)
class FileStatus:
    """Freshness of one feed file at `now_s`."""

    name: str
    last_updated_s: int
    ttl_s: int
    age_s: int
    content_sha256: str
    received_at_s: int


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """Freshness and size of one provider's current snapshot at one moment.

    `age_s` is the age of the newest data that decides staleness (None when the snapshot has
    no feed records at all, which also counts as stale).
    """

    provider_id: str
    source: str
    gbfs_version: str
    age_s: int | None
    stale: bool
    vehicles: int
    stations: int
    files: tuple[FileStatus, ...]


def data_age_s(snapshot: FleetSnapshot, now_s: int) -> int | None:
    """Age in seconds of the newest data that decides staleness (never negative)."""
    dynamic = [f for f in snapshot.feeds if f.name in DYNAMIC_FILES]
    judged = dynamic or list(snapshot.feeds)
    if not judged:
        return None
    newest_s = max(f.last_updated_s for f in judged)
    return max(0, now_s - newest_s)


def is_stale(snapshot: FleetSnapshot, now_s: int) -> bool:
    """True when the snapshot must no longer be offered to the router."""
    age_s = data_age_s(snapshot, now_s)
    return age_s is None or age_s > STALE_AFTER_S


def provider_status(snapshot: FleetSnapshot, now_s: int) -> ProviderStatus:
    """The freshness report of one snapshot at `now_s`."""
    age_s = data_age_s(snapshot, now_s)
    files = tuple(
        FileStatus(
            name=f.name,
            last_updated_s=f.last_updated_s,
            ttl_s=f.ttl_s,
            age_s=max(0, now_s - f.last_updated_s),
            content_sha256=f.content_sha256,
            received_at_s=f.received_at_s,
        )
        for f in sorted(snapshot.feeds, key=lambda f: f.name)
    )
    return ProviderStatus(
        provider_id=snapshot.provider_id,
        source=snapshot.source,
        gbfs_version=snapshot.gbfs_version,
        age_s=age_s,
        stale=age_s is None or age_s > STALE_AFTER_S,
        vehicles=len(snapshot.vehicles),
        stations=len(snapshot.stations),
        files=files,
    )

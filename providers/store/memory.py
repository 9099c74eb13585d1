"""`MemoryStore`: the embedded default, for one process (tests, the demo, a single worker).

The whole state is one immutable mapping of `IndexedSnapshot`s. A writer builds the new
mapping and swaps the reference under a lock (writers are serialised; readers never take the
lock): a reader that fetched the reference keeps a consistent view for as long as it likes,
and an assignment of one attribute is atomic in CPython, so there is no torn state.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any

from providers.errors import UnknownProviderError
from providers.model import FleetSnapshot
from providers.store.base import (
    AvailabilityStore,
    NearbyStation,
    NearbyVehicle,
    check_nearby_query,
)
from providers.store.freshness import ProviderStatus, provider_status
from providers.store.indexed import (
    IndexedSnapshot,
    digest_of,
    fresh_mapping,
    merge_stations,
    merge_vehicles,
    select,
)
from providers.store.validate import encode_valid


class MemoryStore(AvailabilityStore):
    """Snapshots held in this process; nothing survives a restart."""

    def __init__(self) -> None:
        self._write_lock = threading.Lock()
        self._entries: Mapping[str, IndexedSnapshot] = MappingProxyType({})
        self._epoch = secrets.token_hex(16)

    def put_snapshot(self, snapshot: FleetSnapshot) -> None:
        """Validate, encode and index outside the lock, then swap one reference."""
        entry = IndexedSnapshot(snapshot, blob=encode_valid(snapshot))
        entry.build_indexes()  # now, so the first reader after the swap pays nothing
        with self._write_lock:
            self._entries = MappingProxyType({**self._entries, snapshot.provider_id: entry})

    def snapshot(self, provider_id: str) -> FleetSnapshot | None:
        """The provider's current snapshot, or None."""
        entry = self._entries.get(provider_id)
        return None if entry is None else entry.snapshot

    def provider_ids(self) -> list[str]:
        """Ids of the providers with a snapshot, sorted."""
        return sorted(self._entries)

    def delete_provider(self, provider_id: str) -> None:
        """Forget the provider's fleet."""
        with self._write_lock:
            if provider_id not in self._entries:
                raise UnknownProviderError(provider_id)
            rest = {p: e for p, e in self._entries.items() if p != provider_id}
            self._entries = MappingProxyType(rest)

    def nearby_vehicles(
        self,
        lat: float,
        lon: float,
        radius_m: float,
        *,
        limit: int = 100,
        provider_ids: Collection[str] | None = None,
        now_s: int | None = None,
    ) -> list[NearbyVehicle]:
        """Rentable vehicles nearest first, from each snapshot's cKDTree."""
        lat, lon, radius_m = check_nearby_query(lat, lon, radius_m, limit)
        entries = select(self._entries, provider_ids, now_s)
        hits = [h for e in entries for h in e.nearby_vehicles(lat, lon, radius_m, limit)]
        return merge_vehicles(hits, limit)

    def nearby_stations(
        self,
        lat: float,
        lon: float,
        radius_m: float,
        *,
        limit: int = 100,
        provider_ids: Collection[str] | None = None,
        now_s: int | None = None,
    ) -> list[NearbyStation]:
        """Stations nearest first, from each snapshot's cKDTree."""
        lat, lon, radius_m = check_nearby_query(lat, lon, radius_m, limit)
        entries = select(self._entries, provider_ids, now_s)
        hits = [h for e in entries for h in e.nearby_stations(lat, lon, radius_m, limit)]
        return merge_stations(hits, limit)

    def status(self, provider_id: str, now_s: int) -> ProviderStatus:
        """Freshness report of the provider's snapshot."""
        entry = self._entries.get(provider_id)
        if entry is None:
            raise UnknownProviderError(provider_id)
        return provider_status(entry.snapshot, now_s)

    def fresh_snapshots(self, now_s: int) -> Mapping[str, FleetSnapshot]:
        """Non-stale snapshots at `now_s`, read-only."""
        return fresh_mapping(self._entries, now_s)

    def digest(self) -> str:
        """sha256 over the canonical bytes of every snapshot, by provider id."""
        return digest_of({p: e.blob_sha256 for p, e in self._entries.items()})

    def epoch(self, *, create: bool = True) -> str | None:
        """One token for the store's life: process memory is lost only with the process."""
        return self._epoch

    def ping(self) -> bool:
        """Always True: memory does not go away."""
        return True

    def health(self) -> dict[str, Any]:
        """Backend name and size."""
        return {"backend": "memory", "ok": True, "providers": len(self._entries)}

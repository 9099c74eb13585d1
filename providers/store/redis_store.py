"""`RedisStore`: the availability store shared by every API worker and the poller.

Atomic swap. `put_snapshot` writes the new version under fresh keys (blob, GEO set of
rentable vehicles, GEO set of stations; see `keys.py`) in one transactional pipeline, with a
*pending* TTL so a writer that dies halfway leaves nothing behind for long. It then switches
the provider's `current` pointer in a WATCH/MULTI/EXEC transaction that also PERSISTs the new
keys, puts a TTL (`old_version_ttl_s`) on the previous version's keys and bumps a global
generation counter. Readers resolve the pointer first and then only touch that version's keys,
so they see the old fleet or the new one, never a mix; a reader that read the old pointer just
before the swap still finds the old keys for `old_version_ttl_s`. `put_snapshot` returns only
after Redis acknowledged the EXEC, so nothing acknowledged is lost.

Reads and outages. Each instance keeps the last good decoded snapshots in process. A read
costs one round trip when nothing changed: the generation counter and the epoch token are
fetched in the same pipeline as the GEOSEARCHes of the cached versions; only when either
moved are the pointers re-read and the changed blobs fetched and decoded (so workers see each
other's pushes on their next read). Every call passes a circuit breaker; while Redis is
unreachable, reads answer from the in-process copy (nearby queries then use its cKDTree) and
writes raise `StoreUnavailableError` with the breaker's remaining cooldown as `retry_after_s`.

Loss. Redis is a cache here: restarted without persistence, flushed or failed over to an
empty replica, it comes back empty. The epoch key (a random token written with SET NX, no
TTL) names the data's incarnation; `epoch()` re-creates it when missing and returns it, so a
caller that remembers the token it saw notices a loss by the token changing. The in-process
copy is keyed by (epoch, generation), not by the generation alone: after a loss the counter
restarts from zero and could reach the value this worker cached, which would otherwise make
the worker keep serving snapshots whose keys are gone.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import redis

from providers.errors import StoreUnavailableError, UnknownProviderError
from providers.model import FleetSnapshot
from providers.store.base import (
    AvailabilityStore,
    NearbyStation,
    NearbyVehicle,
    check_nearby_query,
)
from providers.store.codec import CodecError, decode_snapshot
from providers.store.freshness import ProviderStatus, provider_status
from providers.store.indexed import (
    IndexedSnapshot,
    digest_of,
    fresh_mapping,
    merge_stations,
    merge_vehicles,
    select,
)
from providers.store.keys import DEFAULT_NAMESPACE, PROVIDER_ID_RE, Keys
from providers.store.validate import encode_valid
from storage.breaker import CircuitBreaker
from storage.redis_conn import BackendUnavailableError, guarded, make_client, watch

log = logging.getLogger(__name__)

#: GEOADD members per command: bounds one command's size for 100,000-vehicle fleets
_GEOADD_CHUNK = 5000
#: how often a swap is retried when another writer of the same provider got in between
_MAX_SWAP_ATTEMPTS = 16


@dataclass(frozen=True, slots=True)
class _State:
    """The in-process copy: the (epoch, generation) it reflects (None: unknown) and its
    snapshots.
    """

    generation: tuple[str | None, int] | None
    entries: Mapping[str, IndexedSnapshot]


class RedisStore(AvailabilityStore):
    """Snapshots in Redis, shared by processes; last good copy kept in this process."""

    def __init__(
        self,
        client_or_url: redis.Redis | str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        socket_timeout_s: float = 0.5,
        old_version_ttl_s: int = 60,
        pending_ttl_s: int = 600,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        if isinstance(client_or_url, str):
            self._client = make_client(client_or_url, socket_timeout_s=socket_timeout_s)
        else:
            self._client = client_or_url
        if old_version_ttl_s < 1 or pending_ttl_s < 1:
            raise ValueError(
                f"old_version_ttl_s={old_version_ttl_s} and pending_ttl_s={pending_ttl_s} "
                "must be >= 1 s"
            )
        self.keys = Keys(namespace)
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self.old_version_ttl_s = old_version_ttl_s
        self.pending_ttl_s = pending_ttl_s
        self._state = _State(None, MappingProxyType({}))
        self._state_lock = threading.Lock()

    # -- writes ----------------------------------------------------------------------------
    def put_snapshot(self, snapshot: FleetSnapshot) -> None:
        """Validate and encode, write the new version, then swap the pointer atomically."""
        blob = encode_valid(snapshot)
        entry = IndexedSnapshot(snapshot, version=secrets.token_hex(8), blob=blob)
        try:
            guarded(self.breaker, "put_snapshot", lambda: self._write_version(entry, blob))
            generation = guarded(self.breaker, "put_snapshot", lambda: self._swap(entry))
        except BackendUnavailableError as e:
            raise StoreUnavailableError(e.reason, e.retry_after_s) from e
        with self._state_lock:
            st = self._state
            entries = {**st.entries, entry.provider_id: entry}
            self._state = _State(_next(st.generation, generation), MappingProxyType(entries))

    def _write_version(self, entry: IndexedSnapshot, blob: bytes) -> None:
        pid, ver = entry.provider_id, entry.version
        blob_key, vehicles_key, stations_key = self.keys.version_keys(pid, ver)
        pipe = self._client.pipeline(transaction=True)
        pipe.set(blob_key, blob, ex=self.pending_ttl_s)
        for key, points in (
            (vehicles_key, entry.rentable_vehicles()),
            (stations_key, entry.station_points()),
        ):
            for start in range(0, len(points), _GEOADD_CHUNK):
                flat: list[Any] = []
                for i, lat, lon in points[start : start + _GEOADD_CHUNK]:
                    flat += (lon, lat, i)
                pipe.geoadd(key, flat)
            if points:
                pipe.expire(key, self.pending_ttl_s)
        pipe.execute()

    def _swap(self, entry: IndexedSnapshot) -> tuple[str | None, int]:
        """Point the provider at `entry.version`; return the new (epoch, generation)."""
        pid, ver = entry.provider_id, entry.version
        current_key = self.keys.current(pid)
        for _ in range(_MAX_SWAP_ATTEMPTS):
            with self._client.pipeline(transaction=True) as pipe:
                try:
                    watch(pipe, current_key)
                    old = _text(pipe.get(current_key))
                    pipe.multi()
                    pipe.set(current_key, ver)
                    for key in self.keys.version_keys(pid, ver):
                        pipe.persist(key)
                    if old is not None and old != ver:
                        for key in self._old_keys(pid, old):
                            pipe.expire(key, self.old_version_ttl_s)
                    pipe.sadd(self.keys.providers(), pid)
                    pipe.incr(self.keys.generation())
                    pipe.get(self.keys.epoch())
                    *_, generation, epoch = pipe.execute()
                    return _text(epoch), int(generation)
                except redis.WatchError:
                    continue
        raise BackendUnavailableError(f"swap of {pid!r} kept losing to concurrent writers", 1)

    def _old_keys(self, provider_id: str, version: str) -> tuple[str, ...]:
        try:
            return self.keys.version_keys(provider_id, version)
        except ValueError:
            log.error("provider %r had a corrupt version pointer %r", provider_id, version)
            return ()

    def delete_provider(self, provider_id: str) -> None:
        """Drop the pointer and the current version's keys in one transaction."""
        if not isinstance(provider_id, str) or not PROVIDER_ID_RE.fullmatch(provider_id):
            raise UnknownProviderError(provider_id)
        try:
            generation = guarded(self.breaker, "delete_provider", lambda: self._delete(provider_id))
        except BackendUnavailableError as e:
            raise StoreUnavailableError(e.reason, e.retry_after_s) from e
        with self._state_lock:
            st = self._state
            entries = {p: e for p, e in st.entries.items() if p != provider_id}
            self._state = _State(_next(st.generation, generation), MappingProxyType(entries))

    def _delete(self, provider_id: str) -> tuple[str | None, int]:
        current_key = self.keys.current(provider_id)
        for _ in range(_MAX_SWAP_ATTEMPTS):
            with self._client.pipeline(transaction=True) as pipe:
                try:
                    watch(pipe, current_key)
                    old = _text(pipe.get(current_key))
                    if old is None:
                        raise UnknownProviderError(provider_id)
                    pipe.multi()
                    pipe.delete(current_key, *self._old_keys(provider_id, old))
                    pipe.srem(self.keys.providers(), provider_id)
                    pipe.incr(self.keys.generation())
                    pipe.get(self.keys.epoch())
                    *_, generation, epoch = pipe.execute()
                    return _text(epoch), int(generation)
                except redis.WatchError:
                    continue
        raise BackendUnavailableError(
            f"delete of {provider_id!r} kept losing to concurrent writers", 1
        )

    # -- in-process copy -------------------------------------------------------------------
    def _read_state(self) -> _State:
        """The in-process copy, refreshed from Redis when reachable (else as it was)."""
        try:
            return guarded(self.breaker, "read", self._refresh)
        except BackendUnavailableError as e:
            log.debug("answering from the in-process copy: %s", e.reason)
            return self._state

    def _refresh(self) -> _State:
        generation = self._marker(self._client.mget(self.keys.generation(), self.keys.epoch()))
        st = self._state
        if st.generation is not None and st.generation == generation:
            return st
        return self._reload(generation)

    def _marker(self, reply: list[Any]) -> tuple[str | None, int]:
        """(epoch, generation) from an MGET of the generation and epoch keys."""
        raw_generation, raw_epoch = reply
        return _text(raw_epoch), _int(raw_generation)

    def _reload(self, generation: tuple[str | None, int]) -> _State:
        """Re-read the pointers; fetch and decode only the versions that changed."""
        with self._state_lock:
            st = self._state
            if st.generation is not None and st.generation == generation:
                return st  # another thread reloaded meanwhile
            pids = self._member_ids()
            pointers = self._client.mget([self.keys.current(p) for p in pids]) if pids else []
            entries: dict[str, IndexedSnapshot] = {}
            missing: list[tuple[str, str]] = []
            for pid, raw in zip(pids, pointers, strict=True):
                version = _text(raw)
                if version is None:
                    continue  # deleted between SMEMBERS and MGET
                old = st.entries.get(pid)
                if old is not None and old.version == version:
                    entries[pid] = old
                else:
                    missing.append((pid, version))
            complete = True
            blob_keys = [self.keys.blob(p, v) for p, v in missing]
            blobs = self._client.mget(blob_keys) if blob_keys else []
            for (pid, version), blob in zip(missing, blobs, strict=True):
                entry = _decode_entry(pid, version, blob)
                if entry is None:
                    complete = False  # keep the last good copy; try again next read
                    if pid in st.entries:
                        entries[pid] = st.entries[pid]
                    continue
                entries[pid] = entry
            new = _State(generation if complete else None, MappingProxyType(entries))
            self._state = new
            return new

    def _member_ids(self) -> list[str]:
        """Provider ids in the providers set (ids that could not be ours are ignored)."""
        members = (_text(p) for p in self._client.smembers(self.keys.providers()))
        return sorted(p for p in members if p is not None and PROVIDER_ID_RE.fullmatch(p))

    # -- reads -----------------------------------------------------------------------------
    def snapshot(self, provider_id: str) -> FleetSnapshot | None:
        """The provider's current snapshot, or None."""
        entry = self._read_state().entries.get(provider_id)
        return None if entry is None else entry.snapshot

    def provider_ids(self) -> list[str]:
        """Ids of the providers with a snapshot, sorted."""
        return sorted(self._read_state().entries)

    def status(self, provider_id: str, now_s: int) -> ProviderStatus:
        """Freshness report of the provider's snapshot."""
        entry = self._read_state().entries.get(provider_id)
        if entry is None:
            raise UnknownProviderError(provider_id)
        return provider_status(entry.snapshot, now_s)

    def fresh_snapshots(self, now_s: int) -> Mapping[str, FleetSnapshot]:
        """Non-stale snapshots at `now_s`, read-only."""
        return fresh_mapping(self._read_state().entries, now_s)

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
        """GEOSEARCH in Redis; from the in-process cKDTree while Redis is unreachable."""
        lat, lon, radius_m = check_nearby_query(lat, lon, radius_m, limit)
        try:
            hits = guarded(
                self.breaker,
                "nearby_vehicles",
                lambda: self._geosearch(True, lat, lon, radius_m, limit, provider_ids, now_s),
            )
            found = [NearbyVehicle(e.provider_id, e.snapshot.vehicles[i], d) for e, i, d in hits]
        except BackendUnavailableError:
            entries = select(self._state.entries, provider_ids, now_s)
            found = [h for e in entries for h in e.nearby_vehicles(lat, lon, radius_m, limit)]
        return merge_vehicles(found, limit)

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
        """GEOSEARCH in Redis; from the in-process cKDTree while Redis is unreachable."""
        lat, lon, radius_m = check_nearby_query(lat, lon, radius_m, limit)
        try:
            hits = guarded(
                self.breaker,
                "nearby_stations",
                lambda: self._geosearch(False, lat, lon, radius_m, limit, provider_ids, now_s),
            )
            found = [e.station_hit(i, d) for e, i, d in hits]
        except BackendUnavailableError:
            entries = select(self._state.entries, provider_ids, now_s)
            found = [h for e in entries for h in e.nearby_stations(lat, lon, radius_m, limit)]
        return merge_stations(found, limit)

    def _geosearch(
        self,
        vehicles: bool,
        lat: float,
        lon: float,
        radius_m: float,
        limit: int,
        provider_ids: Collection[str] | None,
        now_s: int | None,
    ) -> list[tuple[IndexedSnapshot, int, float]]:
        """(entry, index into its vehicles/stations, distance_m) of the GEOSEARCH hits.

        One round trip when nothing changed: the generation is read in the same pipeline as
        the GEOSEARCHes of the cached versions; only if it moved is the copy reloaded and the
        search repeated on the new versions.
        """
        st = self._state
        for attempt in range(2):
            chosen = select(st.entries, provider_ids, now_s)
            pipe = self._client.pipeline(transaction=False)
            if attempt == 0:
                pipe.mget(self.keys.generation(), self.keys.epoch())
            for e in chosen:
                key = (self.keys.vehicles if vehicles else self.keys.stations)(
                    e.provider_id, e.version
                )
                pipe.geosearch(
                    key,
                    longitude=lon,
                    latitude=lat,
                    radius=radius_m,
                    unit="m",
                    sort="ASC",
                    count=limit,
                    withdist=True,
                )
            replies = pipe.execute()
            if attempt == 0:
                generation = self._marker(replies.pop(0))
                if st.generation is None or st.generation != generation:
                    st = self._reload(generation)
                    continue
            return _hits(vehicles, chosen, replies)
        raise AssertionError("unreachable: the second attempt always returns")

    def digest(self) -> str:
        """sha256 over the canonical bytes of every current blob, read from Redis."""
        try:
            shas = guarded(self.breaker, "digest", self._blob_shas)
        except BackendUnavailableError as e:
            raise StoreUnavailableError(e.reason, e.retry_after_s) from e
        return digest_of(shas)

    def _blob_shas(self) -> dict[str, str]:
        pids = self._member_ids()
        pointers = self._client.mget([self.keys.current(p) for p in pids]) if pids else []
        live = [(p, v) for p, v in zip(pids, map(_text, pointers), strict=True) if v]
        blobs = self._client.mget([self.keys.blob(p, v) for p, v in live]) if live else []
        return {
            p: hashlib.sha256(_bytes(b)).hexdigest()
            for (p, _), b in zip(live, blobs, strict=True)
            if b is not None
        }

    def epoch(self, *, create: bool = True) -> str | None:
        """The epoch token in Redis, created (SET NX, in the same transaction as the read)
        when missing unless `create` is False.
        """

        def read_or_create() -> str | None:
            if not create:
                return _text(self._client.get(self.keys.epoch()))
            pipe = self._client.pipeline(transaction=True)
            pipe.set(self.keys.epoch(), secrets.token_hex(16), nx=True)
            pipe.get(self.keys.epoch())
            created, token = pipe.execute()
            if created:
                log.info("availability cache epoch %s created", _text(token))
            return _text(token)

        try:
            return guarded(self.breaker, "epoch", read_or_create)
        except BackendUnavailableError as e:
            raise StoreUnavailableError(e.reason, e.retry_after_s) from e

    def ping(self) -> bool:
        """True when Redis answers PING (through the breaker: fails fast while open)."""
        try:
            return bool(guarded(self.breaker, "ping", self._client.ping))
        except BackendUnavailableError:
            return False

    def health(self) -> dict[str, Any]:
        """Reachability, breaker state and the size of the in-process copy."""
        ok = self.ping()
        return {
            "backend": "redis",
            "ok": ok,
            "breaker": str(self.breaker.state),
            "retry_after_s": None if ok else self.breaker.retry_after_s(),
            "providers_in_process": len(self._state.entries),
            "namespace": self.keys.namespace,
        }


def _hits(
    vehicles: bool, chosen: list[IndexedSnapshot], replies: list[Any]
) -> list[tuple[IndexedSnapshot, int, float]]:
    """Map GEOSEARCH members (indexes into the version's tuples) back to their entries."""
    out: list[tuple[IndexedSnapshot, int, float]] = []
    for entry, reply in zip(chosen, replies, strict=True):
        n_items = len(entry.snapshot.vehicles if vehicles else entry.snapshot.stations)
        for member, dist in reply:
            i = int(member)
            if not 0 <= i < n_items:
                log.error("provider %r: GEO member %r out of range", entry.provider_id, member)
                continue
            out.append((entry, i, float(dist)))
    return out


def _decode_entry(pid: str, version: str, blob: bytes | str | None) -> IndexedSnapshot | None:
    if blob is None:
        log.warning("provider %r: version %s vanished before it was read", pid, version)
        return None
    try:
        raw = _bytes(blob)
        return IndexedSnapshot(decode_snapshot(raw), version=version, blob=raw)
    except CodecError as e:
        log.error("provider %r: version %s is not a readable snapshot: %s", pid, version, e)
        return None


def _next(
    cached: tuple[str | None, int] | None, written: tuple[str | None, int]
) -> tuple[str | None, int] | None:
    """The marker after our own write: known only if it directly follows the cached one."""
    if cached is None or cached[0] != written[0] or cached[1] != written[1] - 1:
        return None
    return written


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _int(value: bytes | str | None) -> int:
    return 0 if value is None else int(value)

"""The availability store: providers' current fleets, swapped atomically, queried nearby.

`open_store(None)` or `open_store("memory")` gives the embedded `MemoryStore`;
`open_store("redis://host:6379/0", namespace=...)` a `RedisStore` shared between workers.
"""

from __future__ import annotations

from typing import Any

from providers.store.base import (
    MAX_LIMIT,
    MAX_RADIUS_M,
    AvailabilityStore,
    NearbyStation,
    NearbyVehicle,
)
from providers.store.freshness import STALE_AFTER_S, FileStatus, ProviderStatus
from providers.store.memory import MemoryStore
from providers.store.redis_store import RedisStore
from storage.breaker import BreakerState, CircuitBreaker

__all__ = [
    "MAX_LIMIT",
    "MAX_RADIUS_M",
    "STALE_AFTER_S",
    "AvailabilityStore",
    "BreakerState",
    "CircuitBreaker",
    "FileStatus",
    "MemoryStore",
    "NearbyStation",
    "NearbyVehicle",
    "ProviderStatus",
    "RedisStore",
    "open_store",
]

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def open_store(url: str | None, **kw: Any) -> AvailabilityStore:
    """The store a settings URL names: None/"memory" -> MemoryStore, redis URLs -> RedisStore.

    Keyword arguments go to `RedisStore` (namespace, socket_timeout_s, ...); a memory store
    takes none, so passing any with "memory" is refused rather than silently ignored.
    """
    if url is None or url == "memory":
        if kw:
            raise ValueError(f"MemoryStore takes no options, got {sorted(kw)}")
        return MemoryStore()
    if url.startswith(_REDIS_SCHEMES):
        return RedisStore(url, **kw)
    raise ValueError(
        f"unknown store URL {url!r}: expected 'memory' or redis://, rediss://, unix://"
    )

"""The providers side of the service: store, accounts, poller and the synthetic fleets.

Built in the lifespan (`start_fleets`), torn down at shutdown. The synthetic Helsinki
providers are refreshed in process every `SYNTHETIC_ROUND_S`: one round of churn, seeded by
the round number, so every worker process computes the same fleet for the same minute and
the fleets never go stale while the server runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from api.settings import Settings
from fairtrip.network import Network
from providers.accounts import MemoryAccounts, ProviderAccounts, ProviderExistsError
from providers.errors import ProviderError
from providers.gbfs import parse_feed
from providers.model import FleetSnapshot
from providers.store import AvailabilityStore, open_store

log = logging.getLogger(__name__)

#: how often the in-process synthetic fleets take one round of churn
SYNTHETIC_ROUND_S = 60


def feed_bytes(files: Mapping[str, Any]) -> dict[str, bytes]:
    """GBFS documents as the raw bytes the parser reads (discovery files left out)."""
    return {
        name: json.dumps(doc, allow_nan=False).encode()
        for name, doc in files.items()
        if name not in ("gbfs", "manifest")
    }


@dataclass
class Fleets:
    """What the provider endpoints and /ready use."""

    store: AvailabilityStore
    accounts: ProviderAccounts
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    poller: Any = None
    synthetic_ids: tuple[str, ...] = ()

    def readiness(self) -> dict[str, Any]:
        """The store's health and each provider's freshness, for /ready."""
        now = int(time.time())
        providers = []
        for pid in self.store.provider_ids():
            try:
                st = self.store.status(pid, now)
            except ProviderError:
                continue
            providers.append(
                {
                    "provider_id": pid,
                    "source": st.source,
                    "stale": st.stale,
                    "age_s": st.age_s,
                    "vehicles": st.vehicles,
                    "stations": st.stations,
                }
            )
        return {"store": self.store.health(), "providers": providers}

    async def close(self) -> None:
        """Stop background work."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.poller is not None:
            await self.poller.stop()


def uses_redis(settings: Settings) -> bool:
    """Whether the configured store is Redis (fleets and accounts then both live there)."""
    return settings.store_url.startswith(("redis://", "rediss://", "unix://"))


def open_accounts(settings: Settings) -> ProviderAccounts:
    """Accounts kept where the fleets are: in memory, or in the same Redis."""
    if uses_redis(settings):
        from providers.accounts import RedisAccounts

        return RedisAccounts(settings.store_url, namespace=settings.redis_namespace)
    return MemoryAccounts()


def synthetic_snapshots(
    feeds: Mapping[str, Mapping[str, Any]], now_s: int
) -> list[FleetSnapshot]:
    """Parse synthetic feeds through the same parser as pushed ones (no shortcut)."""
    return [
        parse_feed(pid, feed_bytes(files), received_at_s=now_s, source="synthetic")
        for pid, files in feeds.items()
    ]


async def _refresh_synthetic(
    fleets: Fleets, base: Mapping[str, Mapping[str, Any]], nodes: Any, started_s: int
) -> None:
    """Every round: churn the base fleets round-many times deterministically, store them."""
    from providers.synthetic import DEFAULT_SEED, churn

    current = {k: dict(v) for k, v in base.items()}
    done = 0
    while True:
        await asyncio.sleep(SYNTHETIC_ROUND_S - time.time() % SYNTHETIC_ROUND_S)
        now = int(time.time())
        target = (now - started_s) // SYNTHETIC_ROUND_S
        try:
            while done < target:
                done += 1
                rng = np.random.default_rng([DEFAULT_SEED, done])
                current = churn(current, rng=rng, now_s=now, nodes=nodes)
            for snapshot in synthetic_snapshots(current, now):
                stored = await asyncio.to_thread(fleets.store.snapshot, snapshot.provider_id)
                # a provider someone pushes to (the simulator, say) is theirs from then on
                if stored is None or stored.source == "synthetic":
                    await asyncio.to_thread(fleets.store.put_snapshot, snapshot)
        except ProviderError as exc:  # Redis down: keep the last good fleet, try next round
            log.warning("synthetic fleets not refreshed: %s", exc)


async def start_fleets(settings: Settings, network: Network) -> Fleets:
    """Open the store and accounts; load and start refreshing the synthetic fleets; start
    polling every provider registered with a poll URL.
    """
    options = {"namespace": settings.redis_namespace} if uses_redis(settings) else {}
    store = open_store(settings.store_url, **options)
    fleets = Fleets(store, open_accounts(settings))
    if settings.synthetic_providers and "walk" in network.streets and "car" in network.streets:
        from providers.synthetic import embedded_synthetic_fleets, street_nodes

        # the fleets' clock starts at a round boundary, so all workers agree on it
        started = int(time.time()) // SYNTHETIC_ROUND_S * SYNTHETIC_ROUND_S
        base = embedded_synthetic_fleets(network, now_s=started)
        snapshots = synthetic_snapshots(base, started)
        for snapshot in snapshots:
            store.put_snapshot(snapshot)
            with contextlib.suppress(ProviderExistsError):
                fleets.accounts.create_provider(
                    snapshot.provider_id, snapshot.system.name
                )
        fleets.synthetic_ids = tuple(s.provider_id for s in snapshots)
        from providers.synthetic import StreetNodes

        nodes = StreetNodes(walk=street_nodes(network, "walk"), car=street_nodes(network, "car"))
        fleets.tasks.append(
            asyncio.create_task(_refresh_synthetic(fleets, base, nodes, started))
        )
        log.info("synthetic providers loaded: %s", ", ".join(fleets.synthetic_ids))
    polled = [a for a in fleets.accounts.list() if a.poll_url]
    if polled:
        from providers.fetch import SafeFetcher
        from providers.poller import Poller

        async def on_snapshot(snapshot: FleetSnapshot) -> None:
            await asyncio.to_thread(store.put_snapshot, snapshot)

        fetcher = SafeFetcher(allow_hosts=frozenset(h.lower() for h in settings.poll_allow_hosts))
        fleets.poller = Poller(fetcher, on_snapshot)
        for account in polled:
            fleets.poller.add(account.provider_id, str(account.poll_url))
        fleets.tasks.append(asyncio.create_task(fleets.poller.run()))
    return fleets

"""The providers side of the service: store, accounts, poller, the synthetic fleets, and the
watch that notices when the availability cache lost its data.

Built in the lifespan (`start_fleets`), torn down at shutdown.

Two stores, two promises. Provider accounts and key hashes are credentials: they live in the
durable store the policies use (SQLite by default, `Settings.policy_store_url`). Fleets live
in the availability store (`Settings.store_url`: memory, or Redis shared by the workers),
which is a cache: a Redis restarted without persistence, flushed or failed over comes back
empty. Every worker therefore checks the cache's epoch token every `cache_check_s`
(`Fleets.check_cache`). When the token is gone or changed it re-seeds the synthetic fleets,
marks in the durable accounts every provider whose data the cache held and no longer holds
(`data_lost`, cleared by its next push), and reports `recovering` to /ready until the
synthetic fleets are back. The durable store remembers the last epoch too, so a loss while
the whole server was down is noticed at the next start.

The synthetic Helsinki providers are refreshed in process every `SYNTHETIC_ROUND_S`: one
round of churn, seeded by the round number, so every worker process computes the same fleet
for the same minute, the fleets never go stale while the server runs, and any worker can put
them back after a loss.

Fleet views. Planning never reads the store: each worker's `FleetRefresher` (its own
thread) rebuilds the router's fleet views from the store's fresh snapshots every
`Settings.fleet_refresh_s`, and at once after this worker stored a push, a poll or the
synthetic fleets. A push's response waits for that refresh (`Fleets.refreshed`), so a plan
sent after it sees the vehicles; another worker's push is seen within one refresh period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from api.settings import Settings
from network.compiled import Network
from providers.accounts import ProviderAccount, ProviderAccounts, ProviderExistsError
from providers.accounts import open_accounts as open_accounts_at
from providers.errors import ProviderError, StoreUnavailableError
from providers.fetch import SafeFetcher
from providers.model import FleetSnapshot
from providers.poller import Poller
from providers.service_area import ServiceArea
from providers.store import AvailabilityStore, open_store
from providers.synthetic import (
    DEFAULT_SEED,
    StreetNodes,
    churn,
    embedded_synthetic_fleets,
    street_nodes,
    synthetic_snapshots,
)
from service_coverage.recorder import HistoryRecorder, start_history_recorder
from trips.fleet_refresh import FleetRefresher
from trips.fleets import RentalFleets

log = logging.getLogger(__name__)

#: how often the in-process synthetic fleets take one round of churn
SYNTHETIC_ROUND_S = 60
#: the longest a push's response waits for this worker's fleet views to include it; past
#: that the push is still stored and acknowledged, and planned with once the build is done
PUSH_REFRESH_WAIT_S = 10.0


class SyntheticFleets:
    """The SYNTHETIC providers of one worker: base fleets churned once per round.

    Round n's fleet is the base fleet churned n times, round k seeded by (seed, k) and
    stamped at its round boundary, so every worker (and a worker re-seeding a cache that
    lost its data) computes the same fleet for the same round. Churning is incremental and
    guarded by a lock: the refresh task and the cache watch may both ask.
    """

    def __init__(
        self, base: Mapping[str, Mapping[str, Any]], nodes: StreetNodes, started_s: int
    ) -> None:
        self.started_s = started_s
        self.ids = tuple(base)
        self._nodes = nodes
        self._current = {k: dict(v) for k, v in base.items()}
        self._done = 0
        self._parsed: tuple[int, list[FleetSnapshot]] | None = None
        self._lock = threading.Lock()

    def snapshots(self, now_s: int) -> list[FleetSnapshot]:
        """The fleets of the round `now_s` falls in, parsed as pushed feeds are (once per
        round: a re-seed in the same round reuses them).
        """
        target = max(0, (now_s - self.started_s) // SYNTHETIC_ROUND_S)
        with self._lock:
            if self._parsed is not None and self._parsed[0] == target:
                return self._parsed[1]
            while self._done < target:
                self._done += 1
                rng = np.random.default_rng([DEFAULT_SEED, self._done])
                round_s = self.started_s + self._done * SYNTHETIC_ROUND_S
                self._current = churn(self._current, rng=rng, now_s=round_s, nodes=self._nodes)
            parsed = synthetic_snapshots(self._current, now_s)
            self._parsed = (target, parsed)
            return parsed

    def publish(self, store: AvailabilityStore, now_s: int) -> None:
        """Store this round's fleets, except where someone else now pushes under that id
        (the simulator, say: the provider is theirs from then on).
        """
        for snapshot in self.snapshots(now_s):
            stored = store.snapshot(snapshot.provider_id)
            if stored is None or stored.source == "synthetic":
                store.put_snapshot(snapshot)

    def all_present(self, store: AvailabilityStore) -> bool:
        """Whether every synthetic provider has a fleet in the store."""
        return all(store.snapshot(pid) is not None for pid in self.ids)


@dataclass
class Fleets:
    """What the provider endpoints and /ready use."""

    store: AvailabilityStore
    accounts: ProviderAccounts
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    poller: Poller | None = None
    synthetic: SyntheticFleets | None = None
    #: the cache epoch this worker last adopted (None: not yet, the cache was unreachable)
    epoch: str | None = None
    #: set from the moment a loss is noticed until the synthetic fleets are back
    recovering_since_s: int | None = None
    #: why the last cache check failed, if it did (cleared by the next good one)
    check_error: str | None = None
    #: seconds between two cache checks (`Settings.cache_check_s`)
    check_period_s: float = 2.0
    #: where the network routes; pushed and polled feeds are checked against it
    area: ServiceArea | None = None
    #: keeps the planning side's fleet views current (None: the network routes no rentals)
    refresher: FleetRefresher | None = None
    #: records the aggregated availability history (None: not recorded)
    history: HistoryRecorder | None = None
    _check_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def synthetic_ids(self) -> tuple[str, ...]:
        """Ids of the in-process synthetic providers."""
        return self.synthetic.ids if self.synthetic is not None else ()

    # -- the cache watch -------------------------------------------------------------------
    def check_cache(self, now_s: int | None = None) -> None:
        """One check of the availability cache (blocking; run it off the event loop).

        Reads the cache's epoch token (creating it if missing). A token other than the one
        this worker adopted means the cache lost its data: re-seed and mark (`_adopt`).
        Otherwise keep the durable bookkeeping current: which providers have data, and
        whose data-lost mark a new push has cleared.
        """
        now = int(time.time()) if now_s is None else now_s
        with self._check_lock:  # the watch task and a startup call never interleave
            try:
                token = self.store.epoch()
                if token is None:  # epoch() creates one; a store that does not is broken
                    raise ProviderError("the availability store gave no epoch token")
                if token != self.epoch:
                    self._adopt(token, now)
                elif self.recovering_since_s is not None:
                    self._reseed(now)  # an earlier re-seed failed halfway: finish it
                self._record_data()
                self.check_error = None
            except ProviderError as exc:  # Redis or the accounts file unavailable
                if self.check_error is None:
                    log.warning("availability cache check failed: %s", exc)
                self.check_error = str(exc)

    def _adopt(self, token: str, now_s: int) -> None:
        """Take `token` as the cache's epoch; if data was lost, re-seed and mark the losers."""
        durable = self.accounts.cache_epoch()
        lost = self.epoch is not None or (durable is not None and durable != token)
        if lost:
            if self.recovering_since_s is None:
                self.recovering_since_s = now_s
            log.warning(
                "availability cache lost its data (epoch %s -> %s): re-seeding synthetic "
                "fleets, marking providers whose data is gone",
                self.epoch or durable,
                token,
            )
        self._reseed(now_s)
        if lost:
            present = set(self.store.provider_ids())
            candidates = [
                a.provider_id
                for a in self.accounts.list()
                if a.provider_id not in present and a.provider_id not in self.synthetic_ids
            ]
            marked = self.accounts.mark_data_lost(candidates)
            if marked:
                log.warning("providers whose data was lost: %s", ", ".join(marked))
        self.accounts.set_cache_epoch(token)
        self.epoch = token

    def _reseed(self, now_s: int) -> None:
        """Put the synthetic fleets back; the recovery ends once they are all there."""
        if self.synthetic is not None:
            self.synthetic.publish(self.store, now_s)
            self.request_refresh()
            if not self.synthetic.all_present(self.store):
                return
        if self.recovering_since_s is not None:
            log.info("availability cache recovered: synthetic fleets are back")
        self.recovering_since_s = None

    def _record_data(self) -> None:
        """Tell the durable accounts which providers have data now (first sighting, or the
        first push after a loss); costs a write only when something changed.
        """
        present = set(self.store.provider_ids())
        changed = [
            a.provider_id
            for a in self.accounts.list()
            if a.provider_id in present
            and (a.data_seen_at_s is None or a.data_lost_at_s is not None)
        ]
        if changed:
            self.accounts.record_data(changed)

    def note_push(self, provider_id: str) -> None:
        """A push was acknowledged: record in the durable accounts, at once rather than at
        the next cache check, that the provider has data (first push, or the first after a
        loss), so a crash and a wipe right after it still flag the provider as data-lost.
        Costs a read per push and a write only when something changed.
        """
        account = self.accounts.get(provider_id)
        if account is not None and (
            account.data_seen_at_s is None or account.data_lost_at_s is not None
        ):
            self.accounts.record_data([provider_id])

    def _epoch_moved(self) -> bool:
        """Whether the cache's epoch is no longer the one this worker adopted (read-only).

        Lets /ready tell the truth in the moments between a loss and the next check.
        """
        if self.epoch is None:
            return False
        try:
            return self.store.epoch(create=False) != self.epoch
        except ProviderError:
            return False  # unreachable: reported from the store's health instead

    def data_lost_at(self, account: ProviderAccount) -> int | None:
        """When the cache lost the provider's data, or None if it did not (or it pushed since).

        A push after the loss clears the mark at once here, before the next cache check
        clears it in the durable store.
        """
        lost_at = account.data_lost_at_s
        if lost_at is None:
            return None
        snapshot = self.store.snapshot(account.provider_id)
        pushed_s = (
            max((f.received_at_s for f in snapshot.feeds), default=None) if snapshot else None
        )
        return None if pushed_s is not None and pushed_s >= lost_at else lost_at

    # -- fleet views -----------------------------------------------------------------------
    async def start_refresher(self, rental: RentalFleets, period_s: float) -> None:
        """Build the fleet views once (before the first request), then keep them current
        on the refresher's own thread.
        """
        refresher = FleetRefresher(rental, self.store.fresh_snapshots, period_s=period_s)
        await asyncio.to_thread(refresher.refresh_now)
        refresher.start()
        self.refresher = refresher

    def request_refresh(self) -> None:
        """Rebuild the fleet views now, not at the next period: this worker stored
        snapshots (does not wait; safe from any thread).
        """
        if self.refresher is not None:
            self.refresher.request()

    async def refreshed(self, timeout_s: float = PUSH_REFRESH_WAIT_S) -> None:
        """Wait until the fleet views include what was stored before the call (at most
        `timeout_s`; the refresh goes on after that, and the caller's data is stored).
        """
        if self.refresher is None:
            return
        try:
            await asyncio.wait_for(asyncio.wrap_future(self.refresher.request()), timeout_s)
        except TimeoutError:
            log.warning("fleet views not refreshed within %g s of a push; later", timeout_s)

    # -- readiness -------------------------------------------------------------------------
    def readiness(self) -> dict[str, Any]:
        """/ready's verdict and reasons, the store's health and each provider's freshness.

        Degraded while the availability store is unreachable, while the cache is being
        re-seeded after a loss, while the durable accounts cannot be read, or while the
        fleet views cannot be refreshed; providers whose data was lost are listed with
        ``data_lost`` and ``lost_at_s``.
        """
        health = self.store.health()
        reasons = self._store_reasons(bool(health.get("ok", False)))
        providers = self._stored_providers(int(time.time()))
        try:
            accounts = self.accounts.list()
        except StoreUnavailableError as exc:
            reasons.append(f"provider accounts unreadable: {exc.reason}")
            accounts = []
        listed = {str(p["provider_id"]) for p in providers}
        for account in accounts:
            lost_at = self.data_lost_at(account)
            if lost_at is not None and account.provider_id not in listed:
                providers.append(
                    {"provider_id": account.provider_id, "data_lost": True, "lost_at_s": lost_at}
                )
        providers.sort(key=lambda p: str(p["provider_id"]))
        if self.refresher is not None and self.refresher.last_error is not None:
            reasons.append(
                "fleet views not refreshed (planning uses the previous ones): "
                f"{self.refresher.last_error}"
            )
        return {
            "status": "degraded" if reasons else "ready",
            "reasons": reasons,
            "store": health,
            "providers": providers,
        }

    def _store_reasons(self, store_ok: bool) -> list[str]:
        """Why the availability cache makes this worker degraded (empty when it does not)."""
        if not store_ok:
            reasons = [
                "availability store unreachable: planning uses the last good copy and "
                "pushes are refused"
            ]
        else:
            reasons = []
        if self.recovering_since_s is not None:
            reasons.append(
                f"availability cache lost its data at {self.recovering_since_s}; "
                "re-seeding the synthetic fleets"
            )
        elif store_ok and self.check_error is not None:
            reasons.append(f"availability cache check failing: {self.check_error}")
        elif store_ok and self._epoch_moved():
            reasons.append(
                "availability cache lost its data; recovery starts within "
                f"{self.check_period_s:g} s"
            )
        return reasons

    def _stored_providers(self, now_s: int) -> list[dict[str, Any]]:
        """/ready's entry of each provider the store holds a snapshot of."""
        providers: list[dict[str, Any]] = []
        for pid in self.store.provider_ids():
            try:
                st = self.store.status(pid, now_s)
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
                    "data_lost": False,
                }
            )
        return providers

    async def close(self) -> None:
        """Stop background work, record which providers have data (so a restart that finds
        the cache empty knows whose data it lost), release the accounts store.
        """
        if self.refresher is not None:
            await asyncio.to_thread(self.refresher.stop)
        if self.history is not None:
            await asyncio.to_thread(self.history.close)
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.poller is not None:
            await self.poller.stop()
        try:
            await asyncio.to_thread(self._record_data)
        except ProviderError as exc:
            log.warning("could not record which providers have data at shutdown: %s", exc)
        self.accounts.close()


def uses_redis(settings: Settings) -> bool:
    """Whether the configured availability store is Redis."""
    return settings.store_url.startswith(("redis://", "rediss://", "unix://"))


def open_accounts(settings: Settings) -> ProviderAccounts:
    """Accounts in the durable store, next to the policies (never only in the cache)."""
    # deferred: api.pricing imports the planning service, which this module does not need
    from api.pricing import default_policy_store_url

    return open_accounts_at(default_policy_store_url(settings))


async def _refresh_synthetic(fleets: Fleets, synthetic: SyntheticFleets) -> None:
    """At every round boundary: the next round's fleets into the store."""
    while True:
        await asyncio.sleep(SYNTHETIC_ROUND_S - time.time() % SYNTHETIC_ROUND_S)
        now = int(time.time())
        try:
            await asyncio.to_thread(synthetic.publish, fleets.store, now)
        except ProviderError as exc:  # Redis down: keep the last good fleet, try next round
            log.warning("synthetic fleets not refreshed: %s", exc)
        else:
            fleets.request_refresh()


async def _watch_cache(fleets: Fleets, period_s: float) -> None:
    """Check the cache every `period_s`; a failing check is logged, never ends the watch."""
    while True:
        await asyncio.sleep(period_s)
        try:
            await asyncio.to_thread(fleets.check_cache)
        except Exception:  # a bug must not silently stop loss detection for this worker
            log.exception("availability cache check crashed")


def network_service_area(network: Network) -> ServiceArea | None:
    """Where this server routes: the walk graph's bounding box plus a margin (None without
    streets, where no shared vehicle can be routed and positions are not checked).
    """
    bbox = network.manifest.get("bbox")
    if not bbox:
        return None
    return ServiceArea.around_bbox(network.name, bbox)


async def start_fleets(settings: Settings, network: Network) -> Fleets:
    """Open the store and the durable accounts; seed the synthetic fleets; start the
    refresh, the cache watch, and polling every provider registered with a poll URL.

    A cache that is unreachable at start does not stop the worker: /ready says degraded
    and the watch seeds the cache when it answers.
    """
    options = {"namespace": settings.redis_namespace} if uses_redis(settings) else {}
    store = open_store(settings.store_url, **options)
    fleets = Fleets(store, open_accounts(settings), check_period_s=settings.cache_check_s)
    fleets.area = network_service_area(network)
    if settings.synthetic_providers and "walk" in network.streets and "car" in network.streets:
        # the fleets' clock starts at a round boundary, so all workers agree on it
        started = int(time.time()) // SYNTHETIC_ROUND_S * SYNTHETIC_ROUND_S
        base = embedded_synthetic_fleets(network, now_s=started)
        nodes = StreetNodes(walk=street_nodes(network, "walk"), car=street_nodes(network, "car"))
        fleets.synthetic = SyntheticFleets(base, nodes, started)
        for snapshot in fleets.synthetic.snapshots(started):
            with contextlib.suppress(ProviderExistsError):
                fleets.accounts.create_provider(snapshot.provider_id, snapshot.system.name)
        fleets.tasks.append(asyncio.create_task(_refresh_synthetic(fleets, fleets.synthetic)))
        log.info("synthetic providers loaded: %s", ", ".join(fleets.synthetic_ids))
    await asyncio.to_thread(fleets.check_cache)  # adopt the epoch, seed, notice a loss
    fleets.tasks.append(asyncio.create_task(_watch_cache(fleets, fleets.check_period_s)))
    # deferred: api.pricing imports the planning service (as in `open_accounts`)
    from api.pricing import default_paths, default_policy_store_url

    fleets.history = await asyncio.to_thread(
        start_history_recorder,
        default_policy_store_url(settings),
        default_paths(settings, network)[1],
        store,
        period_s=settings.history_period_s,
    )
    polled = [a for a in fleets.accounts.list() if a.poll_url]
    # the poller runs even with nobody to poll yet: a provider registered later with a
    # poll_url is added to it, and a refused URL is recorded there as its status's reason

    async def on_snapshot(snapshot: FleetSnapshot) -> None:
        await asyncio.to_thread(store.put_snapshot, snapshot)
        fleets.request_refresh()

    fetcher = SafeFetcher(allow_hosts=frozenset(h.lower() for h in settings.poll_allow_hosts))
    fleets.poller = Poller(fetcher, on_snapshot, area=fleets.area)
    for account in polled:
        fleets.poller.add(account.provider_id, str(account.poll_url))
    fleets.tasks.append(asyncio.create_task(fleets.poller.run()))
    return fleets

"""Policies for the running service: the durable store, the active policy /plan applies,
and the planners' evaluation jobs.

Every worker process reads the active policy from the store (on start, then every few
seconds), so an activation through any worker reaches all of them, and a restart finds the
policy that was active. Evaluations run on their own thread, never on the planning thread,
so residents' /plan calls keep their latency while a planner's job runs.

Evaluation jobs are shared state (`evaluation.jobs`): they live in the store opened from the
policy store's URL (the durable SQLite file by default, Redis when the policies are there),
so any worker or replica answers any job. A job is stored with its inputs (the policies by
id and version, the uploaded OD table, the limits, the departure), and the worker that
accepted it runs it and writes a heartbeat every few seconds. Every worker, at start and with
each heartbeat, takes over the jobs of workers that stopped and runs them again from their
stored inputs on its own evaluation thread (after `MAX_ATTEMPTS` runs, a job whose worker
stopped again is failed with the reason). A worker that shuts down (SIGTERM) hands its
unfinished jobs over at once, so a rolling restart loses none. Finished results are deleted
`job_retention_days` after they finished (``FAIRTRIP_JOB_RETENTION_DAYS``); the job then
answers 410.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    stop_when_event_set,
    wait_exponential,
)

from api.planning import PlanService
from api.settings import Settings
from evaluation.evaluate import EvaluationError, EvaluationSettings, base_costs, evaluate
from evaluation.jobs import (
    HEARTBEAT_S,
    LEASE_S,
    MAX_ATTEMPTS,
    JobCancelledError,
    JobInputs,
    JobRecord,
    JobReleasedError,
    JobStore,
    JobStoreError,
    ProgressReporter,
    iso,
    new_owner_id,
    open_job_store,
)
from network.cache import cache_root
from network.compiled import Network
from network.embedded import city_of_manifest
from pricing.demand import load_demand
from pricing.names import redact_paths, source_name
from pricing.neutrality import solve_revenue_neutral
from pricing.policy import Policy, PolicyError
from pricing.policy_store import (
    PolicyStore,
    StoredPolicy,
    UnknownPolicyError,
    open_policy_store,
)
from pricing.zones import ZoneLayer
from trips.prices import ActivePolicy

log = logging.getLogger(__name__)
T = TypeVar("T")

#: how often each worker re-reads the active policy from the store
REFRESH_S = 2.0
#: how often each worker deletes expired evaluation results
EXPIRE_EVERY_S = 600.0


def job_document(job: JobRecord, retention_s: float) -> dict[str, Any]:
    """A job's status document, as GET /evaluations/{id} answers (the result is fetched
    separately). `expires_at` says when the result will be deleted (None until finished).
    """
    base = f"/evaluations/{job.job_id}"
    done = job.status == "done"
    expires = None if job.finished_at_s is None else job.finished_at_s + retention_s
    return {
        "job_id": job.job_id,
        "policy_id": job.policy_id,
        "version": job.version,
        "compare_with": list(job.compare_with),
        "status": job.status,
        "stage": job.stage,
        "progress": round(job.progress, 3),
        "error": job.error,
        # runs the job was given: 1, plus one per takeover after its server stopped
        "attempts": job.attempts,
        "created_at": iso(job.created_at_s),
        "finished_at": iso(job.finished_at_s),
        "expires_at": iso(expires),
        # while unfinished: when its worker last showed life (another worker takes the job
        # over once this is more than the lease old)
        "heartbeat_at": None if job.finished else iso(job.heartbeat_at_s),
        "links": {
            "self": base,
            "result": f"{base}/result" if done else None,
            "report": f"{base}/report" if done else None,
        },
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def default_policy_store_url(settings: Settings) -> str:
    """The configured store, or a SQLite file in the cache directory (durable by default)."""
    if settings.policy_store_url:
        return settings.policy_store_url
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(root / 'policies.sqlite3').resolve()}"


def default_paths(
    settings: Settings, network: Network
) -> tuple[Path | None, Path | None, Path | None]:
    """(zones for /plan, demand zones, demand CSV): configured, or — for a network compiled
    from a built-in city's GTFS (Helsinki, Northern Kentucky) — that city's files.
    """
    city = city_of_manifest(network.manifest)
    if city is None:
        return settings.policy_zones, settings.demand_zones, settings.demand_csv
    return (
        settings.policy_zones or city.policy_zones,
        settings.demand_zones or city.demand_zones,
        settings.demand_csv or city.demand_csv,
    )


class PricingService:
    """The stores, the zones, the cached status quo and the evaluation runner of one worker."""

    def __init__(
        self,
        settings: Settings,
        network: Network,
        store: PolicyStore,
        planning: PlanService,
        jobs: JobStore,
    ) -> None:
        self.settings = settings
        self.planning = planning
        self.net = network
        self.store = store
        zones_path, self.demand_zones_path, self.demand_path = default_paths(settings, network)
        self.zones: ZoneLayer | None = None
        if zones_path is not None and zones_path.is_file():
            # sources are named by file name: answers must not carry server paths
            self.zones = ZoneLayer.from_geojson(zones_path.read_bytes(), source=zones_path.name)
        self.active: ActivePolicy | None = None
        self._active_key: tuple[Any, ...] | None = None
        #: every worker's evaluation jobs (shared); this worker runs the ones it accepted
        self.jobs = jobs
        self.owner = new_owner_id()
        self.retention_s = settings.job_retention_days * 86_400.0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evaluate")
        self._base_lock = threading.Lock()
        self._base: Any = None  # BaseCosts of the default demand, computed on first need
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = threading.Event()  # set on shutdown: a closed store is not retried
        # held by the job upkeep and by the handover at shutdown: no claim lands after it
        self._upkeep_lock = threading.Lock()

    # -- the active policy -----------------------------------------------------------------
    def refresh(self) -> None:
        """Read the active policy from the store; swap it in if it changed."""
        stored = self.store.active()
        key = (
            None
            if stored is None
            else (stored.policy.id, stored.policy.version, repr(stored.solved))
        )
        if key == self._active_key:
            return
        self.active = self._activate_view(stored) if stored is not None else None
        # one reference swap: plans see the old policy or the new one
        self.planning.service.active_policy = self.active
        self._active_key = key
        log.info("active policy now %s", key[:2] if key else None)

    def _activate_view(self, stored: StoredPolicy) -> ActivePolicy | None:
        if self.zones is None:
            log.warning(
                "policy %s is active but no zone layer is configured: not applied", stored.policy.id
            )
            return None
        try:
            policy = stored.effective_policy()
        except PolicyError as exc:
            log.warning("active policy %s cannot be applied: %s", stored.policy.id, exc)
            return None
        return ActivePolicy(policy, self.zones, stored.solved)

    async def run_refresh(self) -> None:
        """Background loop: pick up activations made through other workers."""
        while True:
            await asyncio.sleep(REFRESH_S)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # a store hiccup must not end the loop; /plan keeps the last
                log.exception("reading the active policy failed")

    def start(self) -> None:
        """Load the active policy now and keep it fresh; announce this worker to the job
        store, take over the jobs of workers that stopped and drop expired results.
        """
        self.refresh()
        self.job_upkeep()
        self.expire_jobs()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.run_refresh()), loop.create_task(self.run_jobs())]

    async def run_jobs(self) -> None:
        """Background loop: heartbeat, take over other workers' orphaned jobs, expire results."""
        expired_at = time.monotonic()
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await asyncio.to_thread(self.job_upkeep)
                if time.monotonic() - expired_at >= EXPIRE_EVERY_S:
                    expired_at = time.monotonic()
                    await asyncio.to_thread(self.expire_jobs)
            except Exception:  # a store hiccup must not end the loop: the next beat retries
                log.exception("evaluation job upkeep failed")

    def job_upkeep(self) -> list[str]:
        """One heartbeat: this worker is alive, and it claims the jobs of workers that
        stopped (or handed them over) and queues them on its evaluation thread. Returns the
        claimed ids.
        """
        with self._upkeep_lock:
            if self._closing.is_set():
                return []
            claimed = self.jobs.claim_orphans(self.owner, LEASE_S, MAX_ATTEMPTS)
            for job_id in claimed:
                try:
                    self._executor.submit(self._run, job_id, partial(self._stored, job_id))
                except RuntimeError:  # shutting down meanwhile: `close` hands them on
                    log.info("evaluation %s claimed during shutdown: handed on", job_id)
            return claimed

    def expire_jobs(self) -> int:
        """Delete the results of jobs that finished more than the retention period ago."""
        return self.jobs.expire(time.time() - self.retention_s)

    async def close(self) -> None:
        """Stop the loops and the evaluation thread, hand this worker's unfinished jobs over
        to the other workers (they claim them at their next heartbeat; its own runner stops
        at its next progress check) and close the stores.
        """
        self._closing.set()
        for task in self._tasks:
            task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
        try:
            await asyncio.to_thread(self._release)
        except JobStoreError as exc:  # the others take them over after the lease
            log.warning("could not hand over unfinished evaluation jobs: %s", exc)
        self.jobs.close()
        self.store.close()

    def _release(self) -> list[str]:
        with self._upkeep_lock:  # after any claim in flight: what it claimed is handed on
            return self.jobs.release(self.owner)

    # -- status quo for solving ------------------------------------------------------------
    def base_costs(self, progress: Any = None) -> Any:
        """Route and price the default demand once per worker (reused by every solve)."""
        with self._base_lock:
            if self._base is None:
                demand, zones = self._default_demand()
                if demand is None or zones is None:
                    raise EvaluationError(
                        "no default demand is configured (FAIRTRIP_DEMAND_CSV and "
                        "FAIRTRIP_DEMAND_ZONES): a policy with a solved parameter cannot be "
                        "activated"
                    )
                self._base = base_costs(
                    self.net,
                    demand,
                    zones,
                    EvaluationSettings(depart=self.depart()),
                    progress=progress,
                    scheduler=self.settings.dask_scheduler,
                )
            return self._base

    def depart(self) -> dt.datetime:
        """The modelled departure: 08:00 local on the network's first service date."""
        date = dt.date.fromisoformat(self.net.service_dates[0])
        return dt.datetime(date.year, date.month, date.day, 8, tzinfo=self.net.timezone)

    def _default_demand(self) -> tuple[Any, Any]:
        if self.demand_path is None or self.demand_zones_path is None:
            return None, None
        zones = ZoneLayer.from_geojson(
            self.demand_zones_path.read_bytes(), source=self.demand_zones_path.name
        )
        demand = load_demand(self.demand_path, zones=zones, source=self.demand_path.name)
        return demand, zones

    def solve(self, policy: Policy) -> dict[str, Any] | None:
        """The solved parameter of `policy` on the default demand (None if it has none)."""
        if policy.free_parameter is None:
            return None
        base = self.base_costs()
        sol = solve_revenue_neutral(policy, base.trip_arrays())
        return {
            **sol.to_dict(),
            "demand": source_name(base.demand.source),
            "demand_synthetic": base.demand.synthetic,
            "solved_at": _now(),
        }

    # -- evaluation jobs -------------------------------------------------------------------
    def submit(
        self,
        policies: list[Policy],
        *,
        demand_csv: bytes | None,
        max_time_min: float,
        max_price_minor: int,
    ) -> JobRecord:
        """Queue an evaluation of `policies` (the first is the subject) on this worker's
        evaluation thread and return its job, already readable by every worker and stored
        with its inputs, so another worker can run it if this one stops.
        """
        first = policies[0]
        inputs = JobInputs(
            policies=tuple((p.id, p.version) for p in policies),
            depart=self.depart(),
            max_time_min=max_time_min,
            max_price_minor=max_price_minor,
            demand_csv=demand_csv,
            network=self._network_key(),
        )
        job = self.jobs.create(
            policy_id=first.id,
            version=first.version,
            compare_with=[p.id for p in policies[1:]],
            owner=self.owner,
            inputs=inputs,
        )
        self._executor.submit(self._run, job.job_id, lambda: (policies, inputs))
        return job

    def _network_key(self) -> str | None:
        """The network build's input hash: a job is resumed only on the same build."""
        key = self.net.manifest.get("input_hash")
        return str(key) if key else None

    def _stored(self, job_id: str) -> tuple[list[Policy], JobInputs]:
        """A taken-over job's policies and inputs, read back from the stores.

        Raises
        ------
        EvaluationError
            They cannot be: not stored, or for another network build, or a policy is gone.
        """
        inputs = self.jobs.inputs(job_id)
        if inputs is None:
            raise EvaluationError("its inputs were not stored with it, so it cannot be resumed")
        if inputs.network != self._network_key():
            raise EvaluationError(
                "the server that took it over serves another build of the network, so it "
                "cannot be resumed with the same result"
            )
        try:
            policies = [self.store.get(pid, version).policy for pid, version in inputs.policies]
        except UnknownPolicyError as exc:
            raise EvaluationError(f"it cannot be resumed: {exc}") from exc
        return policies, inputs

    def _run(self, job_id: str, load: Callable[[], tuple[list[Policy], JobInputs]]) -> None:
        """The evaluation thread's work, for a job submitted here or taken over: start it,
        `load` its policies and inputs, run it and record how it ended. Every write names
        this worker, so nothing lands once the job is someone else's.
        """
        # deferred: the report loads matplotlib and jinja2, which only an evaluation needs
        from pricing.report import render_report

        owner = self.owner
        try:
            if not self.jobs.start(job_id, owner=owner):
                log.info("evaluation %s was cancelled or handed on before it started", job_id)
                return
            reporter = ProgressReporter(self.jobs, job_id, owner=owner, stopping=self._closing)
            policies, inputs = load()
            doc = self._evaluate(reporter, policies, inputs)
            reporter.checkpoint("report")
            html = render_report(doc)
            if not self._final_write(lambda: self.jobs.finish(job_id, doc, html, owner=owner)):
                log.info(
                    "evaluation %s ended or moved meanwhile (cancelled, failed, taken over): "
                    "result dropped",
                    job_id,
                )
        except JobCancelledError:
            log.info("evaluation %s cancelled: stopped", job_id)
        except JobReleasedError as exc:
            log.info("%s: stopped", exc)
        except Exception as exc:  # the job reports it; the worker stays up
            if self._closing.is_set():  # the store is closing under it: handed over instead
                log.info("evaluation %s stopped by the shutdown: %s", job_id, exc)
                return
            log.warning("evaluation %s failed: %s", job_id, exc)
            # the job's status is readable without authentication: no server paths in it
            reason = redact_paths(f"{type(exc).__name__}: {exc}")
            try:
                self._final_write(lambda: self.jobs.fail(job_id, reason, owner=owner))
            except JobStoreError:
                log.exception("evaluation %s: its failure could not be recorded", job_id)

    def _final_write(self, write: Callable[[], T]) -> T:
        """A job's last write (its result, or why it failed), retried through a short store
        outage: lost, the job would read as running until another worker takes it over.
        """
        retrying = Retrying(
            retry=retry_if_exception_type(JobStoreError),
            stop=stop_after_delay(30) | stop_when_event_set(self._closing),
            wait=wait_exponential(multiplier=0.5, max=5),
            reraise=True,
        )
        return retrying(write)

    def _evaluate(
        self, progress: ProgressReporter, policies: list[Policy], inputs: JobInputs
    ) -> dict[str, Any]:
        """Route the demand (the default one at the default departure is cached per worker)
        and evaluate `policies`.
        """
        settings = EvaluationSettings(
            depart=inputs.depart.astimezone(self.net.timezone),
            access_time_max_min=inputs.max_time_min,
            access_price_max_minor=inputs.max_price_minor,
        )
        progress.checkpoint("routing")
        if inputs.demand_csv is None and settings.depart == self.depart():
            base = self.base_costs(progress)
        else:
            default_demand, zones = self._default_demand()
            if zones is None:
                raise ValueError("no demand zone layer is configured for this network")
            if inputs.demand_csv is None:
                demand = default_demand
            else:
                demand = load_demand(inputs.demand_csv, zones=zones, source="uploaded CSV")
            base = base_costs(
                self.net,
                demand,
                zones,
                settings,
                progress=progress,
                scheduler=self.settings.dask_scheduler,
            )
        progress.checkpoint("policies")
        zones_source = source_name(str(self.demand_zones_path))
        return evaluate(
            base,
            policies,
            settings,
            network=self.net,
            zones_source=zones_source,
            progress=progress,
        )


def open_pricing(settings: Settings, network: Network, planning: PlanService) -> PricingService:
    """The worker's pricing service, with its stores opened from settings: the evaluation
    jobs live in the policy store's backend (same URL), shared by every worker.
    """
    url = default_policy_store_url(settings)
    store = open_policy_store(url)
    return PricingService(settings, network, store, planning, open_job_store(url))

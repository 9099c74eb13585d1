"""Policies for the running service: the durable store, the active policy /plan applies,
and the planners' evaluation jobs.

Every worker process reads the active policy from the store (on start, then every few
seconds), so an activation through any worker reaches all of them, and a restart finds the
policy that was active. Evaluations run on their own thread, never on the planning thread,
so residents' /plan calls keep their latency while a planner's job runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.planning import PlanService
from api.settings import Settings
from evaluation.evaluate import EvaluationError, EvaluationSettings, base_costs, evaluate
from network.cache import cache_root
from network.compiled import Network
from network.embedded import data_dir, helsinki
from pricing.demand import load_demand
from pricing.names import redact_paths, source_name
from pricing.neutrality import solve_revenue_neutral
from pricing.policy import Policy, PolicyError
from pricing.policy_store import PolicyStore, StoredPolicy, open_policy_store
from pricing.zones import ZoneLayer
from trips.prices import ActivePolicy

log = logging.getLogger(__name__)

#: how often each worker re-reads the active policy from the store
REFRESH_S = 2.0
#: finished evaluation jobs kept in memory per worker (oldest dropped first)
MAX_JOBS = 20


@dataclass
class EvaluationJob:
    """A planner's evaluation, as GET /evaluations/{id} reports it."""

    job_id: str
    policy_id: str
    version: int
    compare_with: list[str]
    created_at: str
    status: str = "queued"  # queued | running | done | failed
    stage: str = "queued"
    progress: float = 0.0
    error: str | None = None
    finished_at: str | None = None
    result: dict[str, Any] | None = field(default=None, repr=False)
    html: str | None = field(default=None, repr=False)

    def public(self) -> dict[str, Any]:
        """The job's status document (the result is fetched separately)."""
        base = f"/evaluations/{self.job_id}"
        return {
            "job_id": self.job_id,
            "policy_id": self.policy_id,
            "version": self.version,
            "compare_with": self.compare_with,
            "status": self.status,
            "stage": self.stage,
            "progress": round(self.progress, 3),
            "error": self.error,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "links": {
                "self": base,
                "result": f"{base}/result" if self.status == "done" else None,
                "report": f"{base}/report" if self.status == "done" else None,
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
    from the embedded Helsinki GTFS — the embedded city's files.
    """
    embedded = helsinki().gtfs.name in network.manifest.get("inputs", [])
    if not embedded:
        return settings.policy_zones, settings.demand_zones, settings.demand_csv

    d = data_dir() / "helsinki" / "demand"
    return (
        settings.policy_zones or d / "fare-zones.geojson",
        settings.demand_zones or d / "demand-zones.geojson",
        settings.demand_csv or d / "od-gravity-synthetic.csv",
    )


class PricingService:
    """The store, the zones, the cached status quo and the evaluation jobs of one worker."""

    def __init__(
        self, settings: Settings, network: Network, store: PolicyStore, planning: PlanService
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
        self.jobs: dict[str, EvaluationJob] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evaluate")
        self._base_lock = threading.Lock()
        self._base: Any = None  # BaseCosts of the default demand, computed on first need
        self._task: asyncio.Task[None] | None = None

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
        """Load the active policy now and keep it fresh."""
        self.refresh()
        self._task = asyncio.get_running_loop().create_task(self.run_refresh())

    async def close(self) -> None:
        """Stop the refresh loop and the evaluation thread; close the store."""
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.store.close()

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
    ) -> EvaluationJob:
        """Queue an evaluation of `policies` (the first is the subject) and return its job."""
        first = policies[0]
        job = EvaluationJob(
            job_id=secrets.token_hex(8),
            policy_id=first.id,
            version=first.version,
            compare_with=[p.id for p in policies[1:]],
            created_at=_now(),
        )
        if len(self.jobs) >= MAX_JOBS:
            oldest = min(self.jobs.values(), key=lambda j: j.created_at)
            self.jobs.pop(oldest.job_id, None)
        self.jobs[job.job_id] = job
        self._executor.submit(self._run, job, policies, demand_csv, max_time_min, max_price_minor)
        return job

    def _run(
        self,
        job: EvaluationJob,
        policies: list[Policy],
        demand_csv: bytes | None,
        max_time_min: float,
        max_price_minor: int,
    ) -> None:
        # deferred: the report loads matplotlib and jinja2, which only an evaluation needs
        from pricing.report import render_report

        job.status = "running"

        def progress(stage: str, fraction: float) -> None:
            job.stage = stage
            share = {"routing": (0.0, 0.85), "policies": (0.85, 0.98)}.get(stage, (0, 1))
            job.progress = share[0] + (share[1] - share[0]) * fraction

        try:
            settings = EvaluationSettings(
                depart=self.depart(),
                access_time_max_min=max_time_min,
                access_price_max_minor=max_price_minor,
            )
            if demand_csv is None:
                base = self.base_costs(progress)
            else:
                _, zones = self._default_demand()
                if zones is None:
                    raise ValueError("no demand zone layer is configured for this network")
                demand = load_demand(demand_csv, zones=zones, source="uploaded CSV")
                base = base_costs(self.net, demand, zones, settings, progress=progress)
            zones_source = source_name(str(self.demand_zones_path))
            doc = evaluate(
                base,
                policies,
                settings,
                network=self.net,
                zones_source=zones_source,
                progress=progress,
            )
            job.stage = "report"
            job.html = render_report(doc)
            job.result = doc
            job.status = "done"
            job.progress = 1.0
        except Exception as exc:  # the job reports it; the worker stays up
            log.warning("evaluation %s failed: %s", job.job_id, exc)
            job.status = "failed"
            # the job's status is readable without authentication: no server paths in it
            job.error = redact_paths(f"{type(exc).__name__}: {exc}")
        finally:
            job.finished_at = _now()


def open_pricing(settings: Settings, network: Network, planning: PlanService) -> PricingService:
    """The worker's pricing service, with its store opened from settings."""
    store = open_policy_store(default_policy_store_url(settings))
    return PricingService(settings, network, store, planning)

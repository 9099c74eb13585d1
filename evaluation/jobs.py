"""Evaluation jobs as shared, durable state: any worker or replica answers any job.

A planner's evaluation runs for seconds to minutes on the thread of the worker that accepted
it, but its status, progress and result live in a store every worker reads: the durable
SQLite file the policies use (`SqliteJobStore`) or, when the policies live in Redis, the same
Redis (`RedisJobStore`). So a poll that reaches another worker, or another replica behind the
load balancer, sees the job; and a restart does not lose it.

The life of a job::

    queued -> running -> done | failed | cancelled
    queued -> cancelled | failed
    queued | running -> queued      (taken over after its worker stopped, or handed over)

Every transition is one conditional write (an ``UPDATE ... WHERE status IN (...)`` in SQLite,
a WATCH/MULTI/EXEC in Redis): a job cancelled by one worker while another finishes it ends in
exactly one state, and a result that arrives after a cancel is discarded, not stored.

Inputs. A job is stored with what it evaluates (`JobInputs`: the policies by id and version,
which the policy store keeps for ever; the departure; the limits; the uploaded OD table, if
any; the network build), so any worker can run it again from the store alone. They are
deleted when the job finishes.

Liveness and takeover. Each worker has an owner id (host, pid and a random part) and writes a
heartbeat every `HEARTBEAT_S` seconds. A queued or running job whose owner has not written
one for `LEASE_S` seconds belongs to a server that stopped (crash, kill, lost host):
`claim_orphans`, which every worker runs at start and then with each heartbeat, hands it to
the calling worker, queued again from the start (its ``attempts`` counted), and that worker
runs it. The claim is one conditional write (only while the job is still owned by the silent
worker), so exactly one worker wins it; the loser of a race changes nothing. A job whose
worker stopped `MAX_ATTEMPTS` times is failed with the reason instead: an evaluation that
kills its worker must not go round the replicas for ever. A worker that shuts down cleanly
(`release`) hands its unfinished jobs over at once, without waiting for the lease and
without counting an attempt, so a rolling restart loses nothing.

Fencing. Every write of a runner (start, progress, result, failure) names its owner and lands
only while the job is still its own: the late result of a worker that was presumed dead after
its job was taken over is dropped, like the late result of a cancelled job. A cancel always
wins: a cancelled job is final and never claimed.

Expiry (`expire`). A finished job's result and report (they can be megabytes) are deleted
`retention` after it finished; from then on the job answers 410 Gone, naming when and why,
for one more `retention`; after that its small record is deleted too and its id answers 404.
The API sets `retention` from ``FAIRTRIP_JOB_RETENTION_DAYS`` (default 7 days).

Progress writes are throttled here (`PROGRESS_EVERY_S` per job, and at every change of
stage), so a runner may report after every origin without loading the store.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import re
import secrets
import socket
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, get_args
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import redis
from cachetools import TTLCache

from pricing.policy import Policy
from storage.redis_conn import make_client, watch
from storage.sqlite_file import SchemaVersionError, SqliteFile

log = logging.getLogger(__name__)
T = TypeVar("T")

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
#: every status a job can have
STATUSES: Final[tuple[str, ...]] = get_args(JobStatus)
#: a job in one of these states still has a worker responsible for it
LIVE: Final[frozenset[str]] = frozenset({"queued", "running"})
#: final states: the job's record no longer changes (until it expires)
FINAL: Final[frozenset[str]] = frozenset({"done", "failed", "cancelled"})

#: seconds between two heartbeats of a worker
HEARTBEAT_S: Final[float] = 5.0
#: a worker silent this long has stopped; its unfinished jobs are taken over
LEASE_S: Final[float] = 30.0
#: runs of a job (the first included) before a stopped worker fails it instead of handing it on
MAX_ATTEMPTS: Final[int] = 3
#: the stage a taken-over job shows until its new worker starts it
RESUMED_STAGE: Final[str] = "resumed after its server stopped"
#: the stage of a job its worker handed over at shutdown, until another worker claims it
RELEASED_STAGE: Final[str] = "waiting for another server (its server shut down)"
#: the largest uploaded OD table stored with a job (the API's body limit is lower)
MAX_DEMAND_CSV_BYTES: Final[int] = 64 * 1024 * 1024
#: at most one progress write per job in this many seconds (a change of stage always writes)
PROGRESS_EVERY_S: Final[float] = 0.5
#: default time a finished job's result is kept (and then, again, its 410 record)
DEFAULT_RETENTION_DAYS: Final[float] = 7.0

#: schema of the jobs' tables in the durable file; a newer file is refused, not misread
SQLITE_SCHEMA_VERSION: Final[int] = 1
DEFAULT_NAMESPACE: Final[str] = "fairtrip:"
JOB_ID_RE: Final[re.Pattern[str]] = re.compile(r"^[0-9a-f]{16}$")


def cross_mode_refusal(policies: Sequence[Policy]) -> str | None:
    """Why a job cannot evaluate these policies, or None when it can.

    A cross-mode policy (`Policy.is_cross_mode`) is evaluated over every mode by
    `evaluation.mobility`, which searches every OD pair at four departures with its own
    planner and fleets: minutes of both cores, on a planner that is not the worker's planning
    thread. Jobs run the transit evaluation only, so such a policy is refused when the job is
    submitted, by name, rather than queued to fail.
    """
    cross = [p.id for p in policies if p.is_cross_mode]
    if not cross:
        return None
    return (
        f"{', '.join(cross)} prices whole trips across modes; a cross-mode policy is "
        "evaluated over every mode with the command line for now: fairtrip policy evaluate "
        "POLICY.yaml [--city nky] --out DIR"
    )


class JobStoreError(RuntimeError):
    """The job store cannot be opened or did not answer; nothing was changed."""


class JobCancelledError(Exception):
    """Raised inside a runner when its job was cancelled: the evaluation stops there."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"evaluation {job_id} was cancelled")


class JobReleasedError(Exception):
    """Raised inside a runner whose job is no longer its own: another worker took it over
    (this one was presumed dead), or this worker is shutting down and handed it over. The
    runner stops without writing anything: the job belongs to someone else now.
    """

    def __init__(self, job_id: str, why: str) -> None:
        self.job_id = job_id
        super().__init__(f"evaluation {job_id} is no longer run here: {why}")


def new_owner_id() -> str:
    """An id for this worker process: host and pid for people reading the store, and a
    random part so a restarted process that gets the same pid is another owner.
    """
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def iso(at_s: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC (seconds), as the API shows times."""
    if at_s is None:
        return None
    return dt.datetime.fromtimestamp(at_s, dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One evaluation job as stored (its result and report are read separately).

    Times are epoch seconds. `heartbeat_at_s` is the owner's last heartbeat (None: the owner
    shut down cleanly or was forgotten); `expired_at_s` is set once the result is deleted.
    `attempts` counts the runs the job was given: 1, plus one per takeover after its worker
    stopped (a handover at a clean shutdown is not counted). `owner` is empty while a job
    that was handed over waits for a worker to claim it.
    """

    job_id: str
    policy_id: str
    version: int
    compare_with: tuple[str, ...]
    created_at_s: float
    owner: str
    status: str = "queued"
    stage: str = "queued"
    progress: float = 0.0
    error: str | None = None
    finished_at_s: float | None = None
    expired_at_s: float | None = None
    attempts: int = 1
    heartbeat_at_s: float | None = None

    @property
    def finished(self) -> bool:
        """Done, failed or cancelled: no worker works on it any more."""
        return self.status in FINAL

    @property
    def expired(self) -> bool:
        """Its result and report were deleted by the retention rule."""
        return self.expired_at_s is not None


#: the stored columns / hash fields (the owner's heartbeat is stored per owner, not per job)
_FIELDS: Final[tuple[str, ...]] = tuple(
    f.name for f in fields(JobRecord) if f.name != "heartbeat_at_s"
)


def _record(values: Mapping[str, Any], heartbeat_at_s: float | None) -> JobRecord:
    """A record from stored values (SQLite row or decoded Redis hash)."""

    def number(name: str) -> float | None:
        value = values.get(name)
        return None if value is None else float(value)

    return JobRecord(
        job_id=str(values["job_id"]),
        policy_id=str(values["policy_id"]),
        version=int(values["version"]),
        compare_with=tuple(json.loads(values["compare_with"])),
        created_at_s=float(values["created_at_s"]),
        owner=str(values["owner"]),
        status=str(values["status"]),
        stage=str(values["stage"]),
        progress=float(values["progress"]),
        error=None if values.get("error") is None else str(values["error"]),
        finished_at_s=number("finished_at_s"),
        expired_at_s=number("expired_at_s"),
        attempts=int(values.get("attempts") or 1),
        heartbeat_at_s=heartbeat_at_s,
    )


def _stopped_reason(heartbeat_at_s: float | None, lease_s: float, attempts: int) -> str:
    """Why a job whose worker stopped for the last time failed, in words for the planner (no
    host names: the status is readable by anyone with the job id).
    """
    if heartbeat_at_s is None:
        stopped = "the server running it stopped (it shut down before finishing)"
    else:
        stopped = (
            f"the server running it stopped (no sign of life since {iso(heartbeat_at_s)}, "
            f"more than {lease_s:.0f} s)"
        )
    runs = "once" if attempts == 1 else f"{attempts} times"
    return f"{stopped}; it was run {runs} and is not resumed again; submit it again"


@dataclass(frozen=True, slots=True)
class JobInputs:
    """What a job evaluates, stored with it so that any worker can run it from the store.

    `policies` are (id, version) pairs, the subject first: stored versions never change, so
    a worker that takes the job over reads exactly the policies that were submitted.
    `depart` is the modelled departure (time zone aware); `demand_csv` the uploaded OD table
    (None: the server's configured demand); `network` the input hash of the network build
    the job was submitted on (a worker serving another build does not resume it: its result
    would not be the one asked for).
    """

    policies: tuple[tuple[str, int], ...]
    depart: dt.datetime
    max_time_min: float
    max_price_minor: int
    demand_csv: bytes | None = None
    network: str | None = None

    def __post_init__(self) -> None:
        if not self.policies:
            raise ValueError("a job evaluates at least one policy")
        if self.depart.tzinfo is None:
            raise ValueError(f"depart {self.depart.isoformat()} has no time zone")
        if self.demand_csv is not None and len(self.demand_csv) > MAX_DEMAND_CSV_BYTES:
            raise ValueError(
                f"uploaded demand of {len(self.demand_csv)} bytes; at most "
                f"{MAX_DEMAND_CSV_BYTES} are stored with a job"
            )

    def params_json(self) -> str:
        """Everything but the OD table, as stored JSON."""
        return json.dumps(
            {
                "policies": [list(p) for p in self.policies],
                "depart": self.depart.isoformat(),
                "max_time_min": self.max_time_min,
                "max_price_minor": self.max_price_minor,
                "network": self.network,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_stored(cls, params: str | bytes, demand_csv: bytes | None) -> JobInputs:
        """The inputs from their stored JSON and OD table."""
        raw = json.loads(params)
        return cls(
            policies=tuple((str(pid), int(version)) for pid, version in raw["policies"]),
            depart=dt.datetime.fromisoformat(raw["depart"]),
            max_time_min=float(raw["max_time_min"]),
            max_price_minor=int(raw["max_price_minor"]),
            demand_csv=demand_csv,
            network=raw.get("network"),
        )


@dataclass(frozen=True, slots=True)
class LiveJob:
    """A queued or running job as `claim_orphans` and `release` see it."""

    job_id: str
    owner: str
    heartbeat_at_s: float | None
    attempts: int


class JobStore(ABC):
    """Jobs of every worker: the lifecycle rules live here, backends store rows."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._progress_lock = threading.Lock()
        # job id -> (monotonic time, stage) of this process's last progress write
        self._progress_at: TTLCache[str, tuple[float, str]] = TTLCache(maxsize=4096, ttl=3600)

    # -- creating and reading --------------------------------------------------------------
    def create(
        self,
        *,
        policy_id: str,
        version: int,
        compare_with: Sequence[str],
        owner: str,
        inputs: JobInputs | None = None,
    ) -> JobRecord:
        """A new queued job owned by `owner` (whose heartbeat this also refreshes), stored
        with its `inputs` in the same write. A job without inputs cannot be resumed by
        another worker: if its own stops, the job fails with that reason.
        """
        now = self._clock()
        job = JobRecord(
            job_id=secrets.token_hex(8),
            policy_id=policy_id,
            version=version,
            compare_with=tuple(compare_with),
            created_at_s=now,
            owner=owner,
            heartbeat_at_s=now,
        )
        self._insert(job, now, inputs)
        return job

    def get(self, job_id: str) -> JobRecord | None:
        """The job, or None when no job has this id (never had, or forgotten)."""
        return self._load(job_id) if JOB_ID_RE.match(job_id) else None

    def inputs(self, job_id: str) -> JobInputs | None:
        """What an unfinished job evaluates (None: unknown, finished, or stored without)."""
        if not JOB_ID_RE.match(job_id):
            return None
        stored = self._inputs(job_id)
        return None if stored is None else JobInputs.from_stored(*stored)

    def result(self, job_id: str) -> bytes | None:
        """The evaluation document as stored JSON (None: not done, or expired)."""
        return self._blob(job_id, "result") if JOB_ID_RE.match(job_id) else None

    def report(self, job_id: str) -> bytes | None:
        """The HTML report, UTF-8 (None: not done, or expired)."""
        return self._blob(job_id, "report") if JOB_ID_RE.match(job_id) else None

    # -- the runner's side -------------------------------------------------------------------
    # `owner` (None: anyone, as the tests of the lifecycle alone use it) fences each write:
    # it lands only while the job is still that worker's.
    def start(self, job_id: str, *, owner: str | None = None) -> bool:
        """Move queued -> running; False if it was cancelled (or taken over) before it
        started.
        """
        return self._transition(
            job_id, {"queued"}, {"status": "running", "stage": "starting"}, owner=owner
        )

    def update_progress(
        self, job_id: str, stage: str, progress: float, *, owner: str | None = None
    ) -> None:
        """Record how far a running job is; cheap to call often (throttled per job)."""
        now = time.monotonic()
        with self._progress_lock:
            last = self._progress_at.get(job_id)
            if last is not None and last[1] == stage and now - last[0] < PROGRESS_EVERY_S:
                return
            self._progress_at[job_id] = (now, stage)
        share = min(max(float(progress), 0.0), 1.0)
        self._transition(job_id, {"running"}, {"stage": stage, "progress": share}, owner=owner)

    def finish(
        self, job_id: str, result: Mapping[str, Any], html: str, *, owner: str | None = None
    ) -> bool:
        """Move running -> done, storing the document and the report together.

        False (and nothing stored) when the job is no longer running, or no longer `owner`'s:
        cancelled, failed, or taken over while its worker was unresponsive.

        Raises
        ------
        ValueError
            The document is not JSON with finite numbers.
        """
        blob = json.dumps(result, separators=(",", ":"), allow_nan=False).encode()
        changes = {"status": "done", "stage": "done", "progress": 1.0}
        return self._end(job_id, {"running"}, changes, (blob, html.encode()), owner=owner)

    def fail(self, job_id: str, reason: str, *, owner: str | None = None) -> bool:
        """queued/running -> failed with `reason` (shown to anyone with the job id)."""
        return self._end(job_id, LIVE, {"status": "failed", "error": reason}, None, owner=owner)

    def cancel(self, job_id: str) -> bool:
        """queued/running -> cancelled; False if the job is unknown or already finished.

        A running job's worker sees it at its next check (`cancelled`) and stops there; a
        cancelled job is final, so it is never taken over.
        """
        if not JOB_ID_RE.match(job_id):
            return False
        return self._end(job_id, LIVE, {"status": "cancelled", "error": None}, None)

    def cancelled(self, job_id: str) -> bool:
        """Whether the job was cancelled (the runner checks between stages and blocks)."""
        job = self.get(job_id)
        return job is not None and job.status == "cancelled"

    def _end(
        self,
        job_id: str,
        allowed: set[str] | frozenset[str],
        changes: dict[str, Any],
        blobs: tuple[bytes, bytes] | None,
        *,
        owner: str | None = None,
        silent_since_s: float | None = None,
    ) -> bool:
        self._forget_progress(job_id)
        return self._transition(
            job_id,
            allowed,
            {**changes, "finished_at_s": self._clock()},
            blobs,
            owner=owner,
            silent_since_s=silent_since_s,
        )

    def _forget_progress(self, job_id: str) -> None:
        with self._progress_lock:
            self._progress_at.pop(job_id, None)

    # -- liveness and takeover ---------------------------------------------------------------
    def heartbeat(self, owner: str) -> None:
        """`owner` is alive now."""
        self._set_heartbeat(owner, self._clock())

    def release(self, owner: str) -> list[str]:
        """`owner` stops (a clean shutdown): its unfinished jobs are queued again without an
        owner, so any worker claims them at its next heartbeat (no lease to wait for, no
        attempt counted), and its heartbeat is forgotten. Returns the released ids.

        Its runner, if it is still routing, sees the job is no longer its own at its next
        check and stops; its writes are refused from now on.
        """
        released = []
        for job in self._live_jobs():
            if job.owner != owner:
                continue
            changes = {"owner": "", "status": "queued", "stage": RELEASED_STAGE, "progress": 0.0}
            if self._transition(job.job_id, LIVE, changes, owner=owner):
                self._forget_progress(job.job_id)
                released.append(job.job_id)
        self._drop_owner(owner)
        if released:
            log.info("evaluations %s handed over for another worker to run", released)
        return released

    def claim_orphans(
        self, owner: str, lease_s: float = LEASE_S, max_attempts: int = MAX_ATTEMPTS
    ) -> list[str]:
        """Take over every queued or running job whose owner has been silent for `lease_s`
        (or is gone, or handed it over): each is re-assigned to `owner`, queued again from
        the start, its attempts counted; returns their ids, for `owner` to run.

        A job whose worker stopped while running its `max_attempts`-th run is failed with
        the reason instead. Safe to run from every worker at once: each claim is a conditional
        write, valid only while the job is still the silent worker's, so exactly one worker
        gets each job.
        """
        self.heartbeat(owner)  # fresh: what it claims must not look orphaned to the others
        cutoff = self._clock() - lease_s
        claimed = []
        for job in self._live_jobs():
            if job.owner == owner or (job.heartbeat_at_s or -math.inf) >= cutoff:
                continue
            handed_over = job.owner == ""
            if not handed_over and job.attempts >= max_attempts:
                reason = _stopped_reason(job.heartbeat_at_s, lease_s, job.attempts)
                if self._end(
                    job.job_id,
                    LIVE,
                    {"status": "failed", "error": reason},
                    None,
                    owner=job.owner,
                    silent_since_s=cutoff,
                ):
                    log.warning("evaluation %s: its worker stopped again; failed", job.job_id)
                continue
            changes = {
                "owner": owner,
                "status": "queued",
                "stage": RESUMED_STAGE,
                "progress": 0.0,
                "attempts": job.attempts if handed_over else job.attempts + 1,
            }
            if self._transition(job.job_id, LIVE, changes, owner=job.owner, silent_since_s=cutoff):
                self._forget_progress(job.job_id)
                log.warning("evaluation %s: its worker stopped; taken over", job.job_id)
                claimed.append(job.job_id)
        self._drop_owners_before(cutoff)
        return claimed

    # -- expiry ------------------------------------------------------------------------------
    def expire(self, before_s: float) -> int:
        """Delete the result and report of jobs that finished before `before_s` (they answer
        410 from then on), and forget jobs whose results were deleted before `before_s`.
        Returns how many results were deleted.
        """
        deleted = self._expire_results(before_s, self._clock())
        forgotten = self._forget(before_s)
        if deleted or forgotten:
            log.info(
                "evaluation jobs: %d results expired, %d records forgotten", deleted, forgotten
            )
        return deleted

    @abstractmethod
    def close(self) -> None:
        """Release the backend connection."""

    # -- storage primitives ------------------------------------------------------------------
    @abstractmethod
    def _insert(self, job: JobRecord, heartbeat_at_s: float, inputs: JobInputs | None) -> None:
        """Store a new job, its inputs and its owner's heartbeat, in one write."""

    @abstractmethod
    def _load(self, job_id: str) -> JobRecord | None:
        """One job with its owner's heartbeat, or None."""

    @abstractmethod
    def _inputs(self, job_id: str) -> tuple[bytes, bytes | None] | None:
        """(inputs JSON, uploaded OD table) of a job, or None."""

    @abstractmethod
    def _blob(self, job_id: str, which: Literal["result", "report"]) -> bytes | None:
        """The stored result or report of a done job, or None."""

    @abstractmethod
    def _transition(
        self,
        job_id: str,
        allowed: set[str] | frozenset[str],
        changes: dict[str, Any],
        blobs: tuple[bytes, bytes] | None = None,
        *,
        owner: str | None = None,
        silent_since_s: float | None = None,
    ) -> bool:
        """Apply `changes` (and store `blobs`: result, report) atomically if the job exists,
        has not expired, its status is in `allowed`, it is `owner`'s (when given) and its
        owner has written no heartbeat since `silent_since_s` (when given); whether it did.
        A move to a final status also deletes the job's inputs.
        """

    @abstractmethod
    def _set_heartbeat(self, owner: str, at_s: float) -> None:
        """Record the owner's heartbeat."""

    @abstractmethod
    def _drop_owner(self, owner: str) -> None:
        """Forget the owner's heartbeat."""

    @abstractmethod
    def _live_jobs(self) -> list[LiveJob]:
        """Every queued or running job, with its owner's heartbeat."""

    @abstractmethod
    def _drop_owners_before(self, cutoff_s: float) -> None:
        """Forget owners silent since `cutoff_s` (their jobs were just taken over)."""

    @abstractmethod
    def _expire_results(self, before_s: float, now_s: float) -> int:
        """Delete results of jobs finished before `before_s`; mark them expired at `now_s`."""

    @abstractmethod
    def _forget(self, before_s: float) -> int:
        """Delete the records of jobs whose results expired before `before_s`."""


# -- SQLite ------------------------------------------------------------------------------------

_SCHEMA: Final[tuple[str, ...]] = (
    "CREATE TABLE IF NOT EXISTS jobs_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS evaluation_jobs (
        job_id        TEXT    PRIMARY KEY,
        policy_id     TEXT    NOT NULL,
        version       INTEGER NOT NULL,
        compare_with  TEXT    NOT NULL,            -- JSON list of policy ids
        created_at_s  REAL    NOT NULL,            -- epoch seconds
        owner         TEXT    NOT NULL,            -- worker id: host:pid:random
        status        TEXT    NOT NULL
                      CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
        stage         TEXT    NOT NULL,
        progress      REAL    NOT NULL,
        error         TEXT,
        finished_at_s REAL,
        expired_at_s  REAL,                        -- set when the result was deleted
        attempts      INTEGER NOT NULL DEFAULT 1   -- runs given: 1 + takeovers
    )""",
    "CREATE INDEX IF NOT EXISTS evaluation_jobs_status ON evaluation_jobs (status)",
    "CREATE INDEX IF NOT EXISTS evaluation_jobs_finished ON evaluation_jobs (finished_at_s)",
    "CREATE INDEX IF NOT EXISTS evaluation_jobs_expired ON evaluation_jobs (expired_at_s)",
    """CREATE TABLE IF NOT EXISTS evaluation_results (
        job_id  TEXT PRIMARY KEY REFERENCES evaluation_jobs (job_id) ON DELETE CASCADE,
        result  BLOB NOT NULL,                     -- the evaluation document, JSON
        report  BLOB NOT NULL                      -- the HTML report, UTF-8
    )""",
    """CREATE TABLE IF NOT EXISTS evaluation_inputs (
        job_id      TEXT PRIMARY KEY REFERENCES evaluation_jobs (job_id) ON DELETE CASCADE,
        params      TEXT NOT NULL,                 -- JSON: policies, depart, limits, network
        demand_csv  BLOB                           -- the uploaded OD table; NULL: configured
    )""",
    """CREATE TABLE IF NOT EXISTS job_owners (
        owner          TEXT PRIMARY KEY,
        heartbeat_at_s REAL NOT NULL
    )""",
)
_SELECT: Final[str] = (
    "SELECT " + ", ".join(f"j.{name}" for name in _FIELDS) + ", o.heartbeat_at_s "
    "FROM evaluation_jobs j LEFT JOIN job_owners o ON o.owner = j.owner"
)
_FINAL_SQL: Final[str] = "('done', 'failed', 'cancelled')"


class SqliteJobStore(JobStore):
    """Jobs in the durable SQLite file (their own tables next to policies and accounts)."""

    def __init__(
        self, path: str | Path, *, timeout_s: float = 5.0, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(clock=clock)
        self.path = str(path)
        try:
            self._db = SqliteFile(
                self.path,
                schema=_SCHEMA,
                meta_table="jobs_meta",
                schema_version=SQLITE_SCHEMA_VERSION,
                timeout_s=timeout_s,
            )
        except SchemaVersionError as e:
            raise JobStoreError(f"{self.path}: job store {e}") from e
        except sqlite3.Error as e:
            raise JobStoreError(f"cannot open job store {self.path}: {e}") from e

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self._db.read(fn)
        except sqlite3.Error as e:
            raise JobStoreError(f"job store {self.path}: {e}") from e

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self._db.write(fn)
        except sqlite3.Error as e:
            raise JobStoreError(f"job store {self.path}: write failed: {e}") from e

    def _insert(self, job: JobRecord, heartbeat_at_s: float, inputs: JobInputs | None) -> None:
        values = _columns(job)

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO evaluation_jobs ({', '.join(values)}) "
                f"VALUES ({', '.join('?' * len(values))})",
                tuple(values.values()),
            )
            if inputs is not None:
                conn.execute(
                    "INSERT INTO evaluation_inputs (job_id, params, demand_csv) VALUES (?, ?, ?)",
                    (job.job_id, inputs.params_json(), inputs.demand_csv),
                )
            _upsert_owner(conn, job.owner, heartbeat_at_s)

        self._write(insert)

    def _load(self, job_id: str) -> JobRecord | None:
        def load(conn: sqlite3.Connection) -> JobRecord | None:
            row = conn.execute(f"{_SELECT} WHERE j.job_id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            return _record(dict(zip(_FIELDS, row, strict=False)), row[-1])

        return self._read(load)

    def _inputs(self, job_id: str) -> tuple[bytes, bytes | None] | None:
        row = self._read(
            lambda c: c.execute(
                "SELECT params, demand_csv FROM evaluation_inputs WHERE job_id = ?", (job_id,)
            ).fetchone()
        )
        if row is None:
            return None
        return str(row[0]).encode(), None if row[1] is None else bytes(row[1])

    def _blob(self, job_id: str, which: Literal["result", "report"]) -> bytes | None:
        column = {"result": "result", "report": "report"}[which]
        row = self._read(
            lambda c: c.execute(
                f"SELECT {column} FROM evaluation_results WHERE job_id = ?", (job_id,)
            ).fetchone()
        )
        return None if row is None else bytes(row[0])

    def _transition(
        self,
        job_id: str,
        allowed: set[str] | frozenset[str],
        changes: dict[str, Any],
        blobs: tuple[bytes, bytes] | None = None,
        *,
        owner: str | None = None,
        silent_since_s: float | None = None,
    ) -> bool:
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise ValueError(f"not job columns: {sorted(unknown)}")
        states = sorted(allowed)
        where = [
            "job_id = ?",
            "expired_at_s IS NULL",
            f"status IN ({', '.join('?' * len(states))})",
        ]
        params: list[Any] = [job_id, *states]
        if owner is not None:
            where.append("owner = ?")
            params.append(owner)
        if silent_since_s is not None:
            where.append(
                "NOT EXISTS (SELECT 1 FROM job_owners o "
                "WHERE o.owner = evaluation_jobs.owner AND o.heartbeat_at_s >= ?)"
            )
            params.append(silent_since_s)
        final = changes.get("status") in FINAL

        def write(conn: sqlite3.Connection) -> bool:
            # one statement: the conditions and the change cannot be separated by another
            # worker's write (the transaction is BEGIN IMMEDIATE besides)
            cur = conn.execute(
                f"UPDATE evaluation_jobs SET {', '.join(f'{k} = ?' for k in changes)} "
                f"WHERE {' AND '.join(where)}",
                (*changes.values(), *params),
            )
            if cur.rowcount != 1:
                return False
            if final:
                conn.execute("DELETE FROM evaluation_inputs WHERE job_id = ?", (job_id,))
            if blobs is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO evaluation_results (job_id, result, report) "
                    "VALUES (?, ?, ?)",
                    (job_id, blobs[0], blobs[1]),
                )
            return True

        return self._write(write)

    def _set_heartbeat(self, owner: str, at_s: float) -> None:
        self._write(lambda c: _upsert_owner(c, owner, at_s))

    def _drop_owner(self, owner: str) -> None:
        self._write(lambda c: c.execute("DELETE FROM job_owners WHERE owner = ?", (owner,)))

    def _live_jobs(self) -> list[LiveJob]:
        rows = self._read(
            lambda c: c.execute(
                "SELECT j.job_id, j.owner, o.heartbeat_at_s, j.attempts FROM evaluation_jobs j "
                "LEFT JOIN job_owners o ON o.owner = j.owner "
                "WHERE j.status IN ('queued', 'running') ORDER BY j.created_at_s"
            ).fetchall()
        )
        return [
            LiveJob(str(job_id), str(owner), None if hb is None else float(hb), int(attempts))
            for job_id, owner, hb, attempts in rows
        ]

    def _drop_owners_before(self, cutoff_s: float) -> None:
        self._write(
            lambda c: c.execute("DELETE FROM job_owners WHERE heartbeat_at_s < ?", (cutoff_s,))
        )

    def _expire_results(self, before_s: float, now_s: float) -> int:
        def expire(conn: sqlite3.Connection) -> int:
            ids = [
                row[0]
                for row in conn.execute(
                    f"SELECT job_id FROM evaluation_jobs WHERE status IN {_FINAL_SQL} "
                    "AND expired_at_s IS NULL AND finished_at_s < ?",
                    (before_s,),
                )
            ]
            for job_id in ids:
                conn.execute("DELETE FROM evaluation_results WHERE job_id = ?", (job_id,))
                conn.execute(
                    "UPDATE evaluation_jobs SET expired_at_s = ? WHERE job_id = ?",
                    (now_s, job_id),
                )
            return len(ids)

        return self._write(expire)

    def _forget(self, before_s: float) -> int:
        return self._write(
            lambda c: (
                c.execute(
                    "DELETE FROM evaluation_jobs WHERE expired_at_s < ?", (before_s,)
                ).rowcount
            )
        )

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def _columns(job: JobRecord) -> dict[str, Any]:
    """The stored values of a job (SQLite columns, Redis hash fields), None kept as None."""
    values: dict[str, Any] = {name: getattr(job, name) for name in _FIELDS}
    values["compare_with"] = json.dumps(list(job.compare_with))
    return values


def _upsert_owner(conn: sqlite3.Connection, owner: str, at_s: float) -> None:
    conn.execute(
        "INSERT INTO job_owners (owner, heartbeat_at_s) VALUES (?, ?) "
        "ON CONFLICT (owner) DO UPDATE SET heartbeat_at_s = excluded.heartbeat_at_s",
        (owner, at_s),
    )


# -- Redis -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobKeys:
    """Every Redis key of the job store, under one namespace prefix.

    Layout (``ns`` the namespace, ``id`` a job id: 16 hex digits)::

        ns job:j:id        hash: the job's fields (absent field = None)
        ns job:result:id   string: the evaluation document, JSON
        ns job:report:id   string: the HTML report
        ns job:inputs:id   hash: params (JSON), demand_csv (absent: the configured demand);
                           deleted when the job finishes
        ns job:live        set: ids of queued and running jobs (what a takeover looks at)
        ns job:finished    sorted set: id -> finished_at_s, results not yet expired
        ns job:expired     sorted set: id -> expired_at_s (records that answer 410)
        ns job:owners      hash: worker id -> last heartbeat, epoch seconds
    """

    namespace: str = DEFAULT_NAMESPACE

    def __post_init__(self) -> None:
        if not self.namespace or any(c in self.namespace for c in "*?[] \n"):
            raise ValueError(f"invalid Redis namespace {self.namespace!r}")

    def job(self, job_id: str) -> str:
        """Hash of one job's fields."""
        return f"{self.namespace}job:j:{_checked(job_id)}"

    def result(self, job_id: str) -> str:
        """The stored evaluation document."""
        return f"{self.namespace}job:result:{_checked(job_id)}"

    def report(self, job_id: str) -> str:
        """The stored HTML report."""
        return f"{self.namespace}job:report:{_checked(job_id)}"

    def inputs(self, job_id: str) -> str:
        """What an unfinished job evaluates."""
        return f"{self.namespace}job:inputs:{_checked(job_id)}"

    def live(self) -> str:
        """Set of queued and running job ids."""
        return f"{self.namespace}job:live"

    def finished(self) -> str:
        """Sorted set of finished jobs with results, by finishing time."""
        return f"{self.namespace}job:finished"

    def expired(self) -> str:
        """Sorted set of jobs whose results were deleted, by deletion time."""
        return f"{self.namespace}job:expired"

    def owners(self) -> str:
        """Hash of worker heartbeats."""
        return f"{self.namespace}job:owners"


def _checked(job_id: str) -> str:
    if not JOB_ID_RE.match(job_id):
        raise ValueError(f"invalid job id {job_id!r}; expected 16 hex digits")
    return job_id


def _text(value: Any) -> str:
    """A Redis reply (bytes: the client does not decode) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode_hash(raw: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


class RedisJobStore(JobStore):
    """Jobs in Redis (run with AOF when it is the durable store); transitions are WATCH +
    MULTI/EXEC transactions, retried on conflict.
    """

    def __init__(
        self,
        client_or_url: redis.Redis | str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        socket_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock=clock)
        if isinstance(client_or_url, str):
            # a result of some megabytes takes longer than a status read: a wider timeout
            self._client = make_client(client_or_url, socket_timeout_s=socket_timeout_s)
        else:
            self._client = client_or_url
        self.keys = JobKeys(namespace)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except redis.RedisError as e:
            raise JobStoreError(f"job store (redis) {what} failed: {e}") from e

    def _insert(self, job: JobRecord, heartbeat_at_s: float, inputs: JobInputs | None) -> None:
        values = {k: str(v) for k, v in _columns(job).items() if v is not None}

        def insert() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.hset(self.keys.job(job.job_id), mapping=values)  # type: ignore[arg-type]
            if inputs is not None:
                stored: dict[str, str | bytes] = {"params": inputs.params_json()}
                if inputs.demand_csv is not None:
                    stored["demand_csv"] = inputs.demand_csv
                pipe.hset(self.keys.inputs(job.job_id), mapping=stored)  # type: ignore[arg-type]
            pipe.sadd(self.keys.live(), job.job_id)
            pipe.hset(self.keys.owners(), job.owner, str(heartbeat_at_s))
            pipe.execute()

        self._call("create", insert)

    def _load(self, job_id: str) -> JobRecord | None:
        def load() -> JobRecord | None:
            raw = _decode_hash(self._client.hgetall(self.keys.job(job_id)))
            if "status" not in raw:
                return None
            heartbeat = self._client.hget(self.keys.owners(), raw["owner"])
            return _record(raw, None if heartbeat is None else float(heartbeat))

        return self._call("get", load)

    def _inputs(self, job_id: str) -> tuple[bytes, bytes | None] | None:
        raw = self._call(
            "read inputs",
            lambda: self._client.hmget(self.keys.inputs(job_id), ["params", "demand_csv"]),
        )
        params, demand = (v.encode() if isinstance(v, str) else v for v in raw)
        return None if params is None else (params, demand)

    def _blob(self, job_id: str, which: Literal["result", "report"]) -> bytes | None:
        key = self.keys.result(job_id) if which == "result" else self.keys.report(job_id)
        raw = self._call("read " + which, lambda: self._client.get(key))
        return raw.encode() if isinstance(raw, str) else raw

    def _transition(
        self,
        job_id: str,
        allowed: set[str] | frozenset[str],
        changes: dict[str, Any],
        blobs: tuple[bytes, bytes] | None = None,
        *,
        owner: str | None = None,
        silent_since_s: float | None = None,
    ) -> bool:
        key = self.keys.job(job_id)
        sets = {k: str(v) for k, v in changes.items() if v is not None}
        drops = [k for k, v in changes.items() if v is None]
        # a takeover also watches the heartbeats: the silent owner may speak up meanwhile
        watched = (key,) if silent_since_s is None else (key, self.keys.owners())

        def change(pipe: Any) -> bool:
            status, expired, current = (
                _text(v) if v is not None else None
                for v in pipe.hmget(key, ["status", "expired_at_s", "owner"])
            )
            beat = None
            if silent_since_s is not None and current is not None:
                raw = pipe.hget(self.keys.owners(), current)
                beat = None if raw is None else float(raw)
            pipe.multi()
            if status not in allowed or expired is not None:
                return False
            if owner is not None and current != owner:
                return False
            if silent_since_s is not None and beat is not None and beat >= silent_since_s:
                return False
            if sets:
                pipe.hset(key, mapping=sets)
            if drops:
                pipe.hdel(key, *drops)
            new_status = changes.get("status")
            if new_status in FINAL:
                pipe.srem(self.keys.live(), job_id)
                pipe.zadd(self.keys.finished(), {job_id: float(changes["finished_at_s"])})
                pipe.delete(self.keys.inputs(job_id))
            if blobs is not None:
                pipe.set(self.keys.result(job_id), blobs[0])
                pipe.set(self.keys.report(job_id), blobs[1])
            return True

        return self._transact("update " + job_id, watched, change)

    def _transact(self, what: str, keys: tuple[str, ...], fn: Callable[[Any], T]) -> T:
        """Run `fn(pipe)` under WATCH `keys`; it calls pipe.multi() before queueing writes."""

        def run() -> T:
            for _ in range(10):
                with self._client.pipeline(transaction=True) as pipe:
                    try:
                        watch(pipe, *keys)
                        result = fn(pipe)
                        pipe.execute()
                        return result
                    except redis.WatchError:
                        continue  # another worker changed the job meanwhile: re-read, retry
            raise JobStoreError(f"job store (redis) {what}: too much write contention")

        return self._call(what, run)

    def _set_heartbeat(self, owner: str, at_s: float) -> None:
        self._call("heartbeat", lambda: self._client.hset(self.keys.owners(), owner, str(at_s)))

    def _drop_owner(self, owner: str) -> None:
        self._call("release", lambda: self._client.hdel(self.keys.owners(), owner))

    def _live_jobs(self) -> list[LiveJob]:
        def find() -> list[LiveJob]:
            ids = sorted(_text(m) for m in self._client.smembers(self.keys.live()))
            if not ids:
                return []
            pipe = self._client.pipeline(transaction=False)
            for job_id in ids:
                pipe.hmget(self.keys.job(job_id), ["owner", "attempts", "created_at_s"])
            rows = pipe.execute()
            beats = {
                _text(k): float(v) for k, v in self._client.hgetall(self.keys.owners()).items()
            }
            out: list[tuple[float, LiveJob]] = []
            for job_id, (owner, attempts, created) in zip(ids, rows, strict=True):
                if owner is None:  # the job's hash is gone (deleted by hand): unlist it
                    self._client.srem(self.keys.live(), job_id)
                    continue
                name = _text(owner)
                live = LiveJob(job_id, name, beats.get(name), int(_text(attempts or b"1")))
                out.append((float(_text(created or b"0")), live))
            return [live for _, live in sorted(out, key=lambda pair: pair[0])]

        return self._call("list live jobs", find)

    def _drop_owners_before(self, cutoff_s: float) -> None:
        def drop() -> None:
            beats = self._client.hgetall(self.keys.owners())
            old = [k for k, v in beats.items() if float(v) < cutoff_s]
            if old:
                self._client.hdel(self.keys.owners(), *old)

        self._call("drop silent owners", drop)

    def _expire_results(self, before_s: float, now_s: float) -> int:
        def expire() -> int:
            ids = [
                _text(m)
                for m in self._client.zrangebyscore(self.keys.finished(), "-inf", f"({before_s}")
            ]
            for job_id in ids:
                pipe = self._client.pipeline(transaction=True)
                pipe.delete(self.keys.result(job_id), self.keys.report(job_id))
                pipe.hset(self.keys.job(job_id), "expired_at_s", str(now_s))
                pipe.zrem(self.keys.finished(), job_id)
                pipe.zadd(self.keys.expired(), {job_id: now_s})
                pipe.execute()
            return len(ids)

        return self._call("expire", expire)

    def _forget(self, before_s: float) -> int:
        def forget() -> int:
            ids = [
                _text(m)
                for m in self._client.zrangebyscore(self.keys.expired(), "-inf", f"({before_s}")
            ]
            for job_id in ids:
                pipe = self._client.pipeline(transaction=True)
                pipe.delete(self.keys.job(job_id))
                pipe.zrem(self.keys.expired(), job_id)
                pipe.execute()
            return len(ids)

        return self._call("expire", forget)

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()


# -- opening by URL ----------------------------------------------------------------------------


def open_job_store(url: str, *, clock: Callable[[], float] = time.time) -> JobStore:
    """The job store at `url`: the same URL grammar (and, in a deployment, the same URL) as
    the policy store.

    ``sqlite:///abs/path.sqlite3`` (the directory must exist), ``sqlite:///:memory:`` (one
    process: tests), or ``redis://host:port/db?namespace=x`` / ``rediss://`` (the namespace
    defaults to ``fairtrip:``).
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = url[len("sqlite://") :]
        if path == "/:memory:":
            return SqliteJobStore(":memory:", clock=clock)
        if parts.netloc or not path.startswith("/") or parts.query or parts.fragment:
            raise JobStoreError(
                f"invalid SQLite job store URL {url!r}; expected sqlite:///abs/path.sqlite3"
            )
        if not Path(path).parent.is_dir():
            raise JobStoreError(f"job store directory {Path(path).parent} does not exist")
        return SqliteJobStore(path, clock=clock)
    if parts.scheme in ("redis", "rediss"):
        query = parse_qs(parts.query, keep_blank_values=True)
        namespace = query.pop("namespace", [DEFAULT_NAMESPACE])[-1]
        rest = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
        return RedisJobStore(rest, namespace=namespace, clock=clock)
    raise JobStoreError(f"unsupported job store URL {url!r}; expected sqlite:///... or redis://...")


class ProgressReporter:
    """The runner's progress callback (`evaluation.evaluate.Progress`): maps each stage's
    fraction onto the job's overall progress, writes it (throttled by the store) and stops
    the evaluation once the job was cancelled (`JobCancelledError`) or is no longer this
    runner's (`JobReleasedError`: taken over by another worker, or `stopping` is set because
    this worker shuts down and handed it over).

    The job is read at most every `PROGRESS_EVERY_S` (and at every `checkpoint`), so a
    cancelled evaluation stops within about half a second of routing.
    """

    #: each stage's share of the whole job: routing dominates, the policies are quick
    SHARES: Final[Mapping[str, tuple[float, float]]] = {
        "routing": (0.0, 0.85),
        "policies": (0.85, 0.98),
        "report": (0.98, 1.0),
    }

    def __init__(
        self,
        store: JobStore,
        job_id: str,
        *,
        owner: str | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.owner = owner
        self.stopping = stopping
        self._checked_at = time.monotonic()

    def __call__(self, stage: str, fraction: float) -> None:
        """Report `fraction` (0..1) of `stage` done."""
        if self.stopping is not None and self.stopping.is_set():
            raise JobReleasedError(self.job_id, "this server is shutting down")
        low, high = self.SHARES.get(stage, (0.0, 1.0))
        self.store.update_progress(
            self.job_id, stage, low + (high - low) * fraction, owner=self.owner
        )
        now = time.monotonic()
        if now - self._checked_at >= PROGRESS_EVERY_S:
            self._checked_at = now
            self._stop_if_not_ours()

    def checkpoint(self, stage: str) -> None:
        """Between stages: record the new stage and stop here if cancelled or handed over."""
        if self.stopping is not None and self.stopping.is_set():
            raise JobReleasedError(self.job_id, "this server is shutting down")
        self.store.update_progress(
            self.job_id, stage, self.SHARES.get(stage, (0.0, 0.0))[0], owner=self.owner
        )
        self._checked_at = time.monotonic()
        self._stop_if_not_ours()

    def _stop_if_not_ours(self) -> None:
        job = self.store.get(self.job_id)
        if job is not None and job.status == "cancelled":
            raise JobCancelledError(self.job_id)
        if self.owner is not None and (job is None or job.owner != self.owner):
            raise JobReleasedError(self.job_id, "another server took it over")

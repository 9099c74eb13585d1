"""`/policies` and `/evaluations`: city planners store, evaluate and activate fare policies.

Writes need the admin token (a policy changes what every resident is charged); reads are
open, because a city's fare rules are public. A policy document is posted as YAML or JSON
exactly as a planner wrote it; it is validated strictly, and a 201 means it is durably
stored.

Evaluation jobs are read from the shared job store, so any worker or replica answers any
job. A job whose result was deleted by the retention rule answers 410 Gone (saying when and
why) for as long again, then 404 like an id that never existed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import AdminDep
from api.errors import ApiError, ErrorResponse, error_responses
from api.examples import EVALUATION_JOB, EVALUATION_JOB_CANCELLED, created, responses
from api.pricing import PricingService, job_document
from api.state import AppState, StateDep
from evaluation.jobs import JobRecord, JobStoreError, cross_mode_refusal, iso
from pricing.errors import PricingError
from pricing.names import source_name
from pricing.policy import MAX_VERSION, PolicyError, parse_policy
from pricing.policy_store import PolicyExistsError, StoredPolicy, UnknownPolicyError

log = logging.getLogger(__name__)
T = TypeVar("T")
router = APIRouter(tags=["policies"])

PolicyIdPath = Annotated[
    str,
    Path(
        pattern=r"^[a-z0-9-]{3,64}$",
        description="policy id",
        openapi_examples={"flat": {"value": "city-wide-average"}},
    ),
]
JobIdPath = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-f]{16}$",
        description="evaluation job id",
        openapi_examples={"job": {"value": "3f9a1c0d5e7b2a44"}},
    ),
]
VersionQuery = Annotated[
    int | None,
    Query(ge=1, le=MAX_VERSION, description="policy version (default: the latest)"),
]
#: 410 is documented here: only evaluation jobs expire
_GONE: dict[int | str, dict[str, Any]] = {
    410: {
        "model": ErrorResponse,
        "description": "The job's result was deleted by the retention rule "
        "(FAIRTRIP_JOB_RETENTION_DAYS)",
    }
}

_EXAMPLE_POLICY = {
    "policy": {"fairtrip_policy": 1, "id": "flat-transit", "version": 1},
    "created_at": "2026-11-22T10:00:00+00:00",
    "sha256": "9f2c...",
    "active": False,
    "solved": None,
    "versions": [1],
    "describe": ["every transit trip costs the same (solved for revenue neutrality)"],
}


class ActivateBody(BaseModel):
    """Which version to activate (default: the latest)."""

    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION)


class EvaluateBody(BaseModel):
    """An evaluation request: compare this policy (and others) with the status quo."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    compare_with: list[Annotated[str, Field(pattern=r"^[a-z0-9-]{3,64}$")]] = Field(
        default_factory=list,
        max_length=5,
        description="other stored policy ids to evaluate side by side (latest versions)",
    )
    demand_csv: str | None = Field(
        default=None,
        max_length=4_000_000,
        description="OD table as CSV text (zone ids of the demand zones, or coordinates); "
        "default: the network's configured demand",
    )
    max_time_min: float = Field(default=30.0, gt=0, le=180)
    max_price_minor: int = Field(default=300, ge=0, le=10_000_000)


def _public_solved(solved: dict[str, Any] | None) -> dict[str, Any] | None:
    """The activation's solved record as the open API shows it: the demand it was solved on
    is named by file name (records written by older versions may hold a server path).
    """
    if solved is None or not isinstance(solved.get("demand"), str):
        return solved
    return {**solved, "demand": source_name(solved["demand"])}


def _doc(stored: StoredPolicy) -> dict[str, Any]:
    return {
        "policy": stored.policy.model_dump(mode="json"),
        "created_at": stored.created_at,
        "sha256": stored.sha256,
        "active": stored.active,
        "solved": _public_solved(stored.solved),
        "versions": list(stored.versions),
        "describe": stored.policy.describe(),
    }


def _pricing(state: AppState) -> PricingService:
    return state.pricing


def _get(state: AppState, policy_id: str, version: int | None = None) -> StoredPolicy:
    try:
        return _pricing(state).store.get(policy_id, version)
    except UnknownPolicyError as exc:
        raise ApiError(404, "unknown_policy", str(exc).strip("'\""), field="policy_id") from exc


@router.post(
    "/policies",
    status_code=201,
    responses=created(_EXAMPLE_POLICY, 400, 401, 403, 409, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def create_policy(
    request: Request, state: StateDep, _admin: AdminDep, response: Response
) -> dict[str, Any]:
    """Store a policy document (YAML or JSON); 201 once it is durably stored."""
    raw = await request.body()
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt: Literal["yaml", "json", "auto"] = (
        "json" if ctype == "application/json" else "yaml" if "yaml" in ctype else "auto"
    )
    try:
        policy = parse_policy(raw, format=fmt)
    except PolicyError as exc:
        raise ApiError(422, "invalid_policy", str(exc), field=exc.field) from exc
    try:
        stored = await asyncio.to_thread(_pricing(state).store.create, policy)
    except PolicyExistsError as exc:
        raise ApiError(409, "policy_version_exists", str(exc), field="version") from exc
    response.headers["Location"] = f"/policies/{policy.id}?version={policy.version}"
    return _doc(stored)


@router.get("/policies", responses=responses({"policies": [_EXAMPLE_POLICY]}))
def list_policies(state: StateDep) -> dict[str, Any]:
    """Every stored policy (latest version of each), and which one is active."""
    return {"policies": [_doc(p) for p in _pricing(state).store.list()]}


@router.get("/policies/active", responses=responses({"active": _EXAMPLE_POLICY}))
def active_policy(state: StateDep) -> dict[str, Any]:
    """The policy /plan applies now, or null."""
    stored = _pricing(state).store.active()
    return {"active": _doc(stored) if stored is not None else None}


@router.get("/policies/{policy_id}", responses=responses(_EXAMPLE_POLICY, 404, 422))
def get_policy(
    policy_id: PolicyIdPath, state: StateDep, version: VersionQuery = None
) -> dict[str, Any]:
    """One policy (latest version unless `version` is given)."""
    return _doc(_get(state, policy_id, version))


@router.post(
    "/policies/{policy_id}/activate",
    responses=responses(_EXAMPLE_POLICY, 400, 401, 403, 404, 409, 413, 422),
)
async def activate_policy(
    policy_id: PolicyIdPath,
    state: StateDep,
    _admin: AdminDep,
    body: Annotated[ActivateBody | None, Body()] = None,
) -> dict[str, Any]:
    """Make this policy the one /plan applies; a free parameter is solved first for revenue
    neutrality on the configured demand (the first solve routes that demand: seconds).
    """
    pricing = _pricing(state)
    stored = _get(state, policy_id, body.version if body else None)
    try:
        solved = await asyncio.to_thread(pricing.solve, stored.policy)
    except PricingError as exc:
        raise ApiError(422, "cannot_solve", str(exc)) from exc
    if pricing.zones is None:
        raise ApiError(
            409,
            "no_zones",
            "this network has no central/peripheral zone layer "
            "configured (FAIRTRIP_POLICY_ZONES): a policy cannot be applied",
        )
    try:
        result = await asyncio.to_thread(
            pricing.store.activate, stored.policy.id, stored.policy.version, solved=solved
        )
    except PolicyError as exc:  # e.g. a cross-mode policy: /plan cannot apply it to one itinerary
        raise ApiError(422, "not_applicable", str(exc)) from exc
    await asyncio.to_thread(pricing.refresh)
    return _doc(result)


@router.post(
    "/policies/{policy_id}/deactivate",
    status_code=204,
    responses=created(None, 401, 403, 404, 409, 422),
)
async def deactivate_policy(policy_id: PolicyIdPath, state: StateDep, _admin: AdminDep) -> None:
    """Stop applying this policy; /plan shows base fares again."""
    pricing = _pricing(state)
    _get(state, policy_id)
    current = await asyncio.to_thread(pricing.store.active)
    if current is None or current.policy.id != policy_id:
        raise ApiError(
            409, "not_active", f"policy {policy_id!r} is not the active policy", field="policy_id"
        )
    await asyncio.to_thread(pricing.store.deactivate)
    await asyncio.to_thread(pricing.refresh)


@router.post(
    "/policies/{policy_id}/evaluations",
    status_code=202,
    responses={
        202: {
            "description": "Evaluation queued",
            "content": {"application/json": {"example": EVALUATION_JOB}},
        },
        **created(None, 400, 401, 403, 404, 413, 422, 503),
    },
)
async def evaluate_policy(
    policy_id: PolicyIdPath,
    state: StateDep,
    _admin: AdminDep,
    response: Response,
    body: Annotated[EvaluateBody | None, Body()] = None,
) -> dict[str, Any]:
    """Start an evaluation against the status quo (a background job); poll its status."""
    body = body or EvaluateBody()
    subject = _get(state, policy_id, body.version).policy
    others = [_get(state, other).policy for other in body.compare_with]
    refusal = cross_mode_refusal([subject, *others])
    if refusal is not None:
        raise ApiError(422, "cross_mode_not_in_jobs", refusal, field="policy_id")
    demand = body.demand_csv.encode() if body.demand_csv is not None else None
    if demand is not None:  # fail fast on a bad table: the job would only fail later
        from pricing.demand import DemandError, load_demand

        pricing = _pricing(state)
        if pricing.demand_zones_path is None:
            raise ApiError(
                422, "no_zones", "no demand zone layer is configured", field="demand_csv"
            )
        try:
            _, zones = await asyncio.to_thread(pricing._default_demand)
            await asyncio.to_thread(load_demand, demand, zones=zones, source="uploaded CSV")
        except DemandError as exc:
            raise ApiError(422, "invalid_demand", str(exc), field="demand_csv") from exc
    pricing = _pricing(state)
    job = await asyncio.to_thread(
        _jobs_call,
        lambda: pricing.submit(
            [subject, *others],
            demand_csv=demand,
            max_time_min=body.max_time_min,
            max_price_minor=body.max_price_minor,
        ),
    )
    response.headers["Location"] = f"/evaluations/{job.job_id}"
    return job_document(job, pricing.retention_s)


def _jobs_call(call: Callable[[], T]) -> T:
    """A job store call; an unreachable store is a 503 (its details, which may name a
    server path, go to the log only).
    """
    try:
        return call()
    except JobStoreError as exc:
        log.warning("evaluation job store: %s", exc)
        raise ApiError(
            503,
            "job_store_unavailable",
            "the evaluation job store did not answer; retry shortly",
            headers={"Retry-After": "2"},
        ) from exc


def _job(state: AppState, job_id: str) -> JobRecord:
    """The job, or 404 (no such job) or 410 (its result expired)."""
    pricing = _pricing(state)
    job = _jobs_call(lambda: pricing.jobs.get(job_id))
    if job is None:
        raise ApiError(404, "unknown_job", f"no evaluation job {job_id!r}", field="job_id")
    if job.expired:
        days = pricing.retention_s / 86_400.0
        raise ApiError(
            410,
            "job_expired",
            f"evaluation {job_id} finished at {iso(job.finished_at_s)}; its result and report "
            f"were deleted at {iso(job.expired_at_s)}: results are kept {days:g} days after "
            "an evaluation finishes (FAIRTRIP_JOB_RETENTION_DAYS); run it again",
            field="job_id",
        )
    return job


def _not_ready(job: JobRecord) -> ApiError:
    return ApiError(
        409,
        "not_ready",
        f"evaluation {job.job_id} is {job.status}" + (f": {job.error}" if job.error else ""),
    )


@router.get(
    "/evaluations/{job_id}", responses={**responses(EVALUATION_JOB, 404, 422, 503), **_GONE}
)
def evaluation_status(job_id: JobIdPath, state: StateDep) -> dict[str, Any]:
    """Status and progress of an evaluation job (any worker answers)."""
    return job_document(_job(state, job_id), _pricing(state).retention_s)


@router.delete(
    "/evaluations/{job_id}",
    responses={**responses(EVALUATION_JOB_CANCELLED, 401, 403, 404, 409, 422, 503), **_GONE},
)
async def cancel_evaluation(job_id: JobIdPath, state: StateDep, _admin: AdminDep) -> dict[str, Any]:
    """Cancel a queued or running evaluation; its worker stops within about a second.
    409 if it has already finished.
    """
    pricing = _pricing(state)
    await asyncio.to_thread(_job, state, job_id)
    if not await asyncio.to_thread(_jobs_call, lambda: pricing.jobs.cancel(job_id)):
        job = await asyncio.to_thread(_job, state, job_id)
        raise ApiError(
            409,
            "job_finished",
            f"evaluation {job_id} is already {job.status}; only a queued or running "
            "evaluation can be cancelled",
            field="job_id",
        )
    return job_document(await asyncio.to_thread(_job, state, job_id), pricing.retention_s)


@router.get(
    "/evaluations/{job_id}/result",
    response_model=None,
    responses={**responses({}, 404, 409, 422, 503), **_GONE},
)
def evaluation_result(job_id: JobIdPath, state: StateDep) -> Response:
    """The evaluation document (JSON), once the job is done."""
    job = _job(state, job_id)
    blob = _jobs_call(lambda: _pricing(state).jobs.result(job_id)) if job.status == "done" else None
    if blob is None:
        raise _not_ready(job)
    # stored as the JSON it is served as: no parse and re-encode of megabytes per request
    return Response(blob, media_type=JSONResponse.media_type)


@router.get(
    "/evaluations/{job_id}/report",
    response_model=None,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **error_responses(404, 409, 422, 503),
        **_GONE,
    },
)
def evaluation_report(job_id: JobIdPath, state: StateDep) -> HTMLResponse:
    """The evaluation as a self-contained HTML report (opens offline)."""
    job = _job(state, job_id)
    blob = _jobs_call(lambda: _pricing(state).jobs.report(job_id)) if job.status == "done" else None
    if blob is None:
        raise _not_ready(job)
    return HTMLResponse(blob)

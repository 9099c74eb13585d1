"""`/plan`: itineraries between two coordinates (GET with query parameters, or POST JSON)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from api.errors import ApiError
from api.examples import PLAN, responses
from api.planning import BudgetExceededError
from api.schemas import KAMPPI_TO_KRUUNUNHAKA, PlanQuery, PlanResponse
from api.state import AppState, StateDep

router = APIRouter(tags=["plan"])

_RESPONSES = responses(PLAN, 400, 413, 422, 503)


async def _run(state: AppState, q: PlanQuery) -> dict[str, Any]:
    try:
        return await state.planning.plan(q)
    except BudgetExceededError as exc:
        raise ApiError(503, "time_budget_exceeded", str(exc), headers={"Retry-After": "1"}) from exc


@router.get("/plan", response_model=PlanResponse, responses=_RESPONSES)
async def plan_get(q: Annotated[PlanQuery, Query()], state: StateDep) -> dict[str, Any]:
    """Plan a trip by walking and public transport."""
    return await _run(state, q)


@router.post("/plan", response_model=PlanResponse, responses=_RESPONSES)
async def plan_post(
    q: Annotated[
        PlanQuery,
        Body(openapi_examples={"kamppi-kruununhaka": {"value": KAMPPI_TO_KRUUNUNHAKA}}),
    ],
    state: StateDep,
) -> dict[str, Any]:
    """Plan a trip; the same fields as GET /plan, as a JSON body."""
    return await _run(state, q)

"""`/plan`: itineraries between two coordinates (GET with query parameters, or POST JSON).

The answer's shape is `trips.model.TripPlan`: the route encodes the service's typed plan
with msgspec, and OpenAPI publishes the JSON Schema msgspec derives from the same Structs,
so the document and the answer cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, FastAPI, Query, Response

from api.errors import ApiError, error_responses
from api.examples import PLAN
from api.schemas import KAMPPI_TO_KRUUNUNHAKA, PlanQuery
from api.state import AppState, StateDep
from trips.errors import DeadlineExceededError, TripError
from trips.model import TripPlan, encode_json

router = APIRouter(tags=["plan"])

#: the plan's JSON Schema and the components it refers to, as OpenAPI holds them
(_PLAN_SCHEMA,), _PLAN_COMPONENTS = msgspec.json.schema_components(
    [TripPlan], ref_template="#/components/schemas/{name}"
)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Successful Response",
        "content": {"application/json": {"schema": _PLAN_SCHEMA, "example": PLAN}},
    },
    **error_responses(400, 413, 422, 503),
}


def install_schemas(app: FastAPI) -> None:
    """Add the plan's schema components to the app's OpenAPI document."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()
            doc.setdefault("components", {}).setdefault("schemas", {}).update(_PLAN_COMPONENTS)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _run(state: AppState, q: PlanQuery) -> Response:
    try:
        plan = await state.planning.plan(q.to_request())
    except DeadlineExceededError as exc:
        raise ApiError(503, "time_budget_exceeded", str(exc), headers={"Retry-After": "1"}) from exc
    except TripError as exc:
        raise ApiError(422, exc.code, str(exc), field=exc.field) from exc
    return Response(encode_json(plan), media_type="application/json")


@router.get("/plan", response_class=Response, responses=_RESPONSES)
async def plan_get(q: Annotated[PlanQuery, Query()], state: StateDep) -> Response:
    """Plan a trip by walking, public transport and shared vehicles."""
    return await _run(state, q)


@router.post("/plan", response_class=Response, responses=_RESPONSES)
async def plan_post(
    q: Annotated[
        PlanQuery,
        Body(openapi_examples={"kamppi-kruununhaka": {"value": KAMPPI_TO_KRUUNUNHAKA}}),
    ],
    state: StateDep,
) -> Response:
    """Plan a trip; the same fields as GET /plan, as a JSON body."""
    return await _run(state, q)

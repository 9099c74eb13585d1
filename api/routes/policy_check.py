"""`POST /policies/validate`: check a policy document without storing it.

Planners write policies in the policy workspace and want to hear what is wrong while they
type, before anything is stored: a stored version can never be changed again (a new
version is the only way), so a store-to-check habit would litter the store with broken
drafts. This route runs exactly the validation `POST /policies` runs and answers with the
same 422 (`invalid_policy`, naming the field); on success it says what the policy does and
whether that id and version are already taken (which `POST /policies` would refuse with 409).

It is open like the policy reads: it changes nothing and reveals nothing that
`GET /policies` does not already show.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Request

from api.errors import ApiError
from api.examples import responses
from api.state import StateDep
from pricing.policy import PolicyError, parse_policy
from pricing.policy_store import UnknownPolicyError

router = APIRouter(tags=["policies"])

_EXAMPLE = {
    "valid": True,
    "policy": {"fairtrip_policy": 1, "id": "city-wide-average", "version": 1, "...": "..."},
    "describe": ["every transit trip costs the same (solved for revenue neutrality)"],
    "stored_versions": [],
    "version_taken": False,
}


def document_format(content_type: str) -> Literal["yaml", "json", "auto"]:
    """The parser format a request's content type asks for (`auto` when it says nothing)."""
    ctype = content_type.split(";", maxsplit=1)[0].strip().lower()
    return "json" if ctype == "application/json" else "yaml" if "yaml" in ctype else "auto"


@router.post(
    "/policies/validate",
    responses=responses(_EXAMPLE, 400, 413, 422),
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
async def validate_policy_document(request: Request, state: StateDep) -> dict[str, Any]:
    """Validate a policy document (YAML or JSON) as POST /policies would; stores nothing."""
    raw = await request.body()
    try:
        policy = parse_policy(raw, format=document_format(request.headers.get("content-type", "")))
    except PolicyError as exc:
        raise ApiError(422, "invalid_policy", str(exc), field=exc.field) from exc
    try:
        stored = await asyncio.to_thread(state.pricing.store.get, policy.id)
    except UnknownPolicyError:
        versions: list[int] = []
    else:
        versions = list(stored.versions)
    return {
        "valid": True,
        "policy": policy.model_dump(mode="json"),
        "describe": policy.describe(),
        "stored_versions": versions,
        "version_taken": policy.version in versions,
    }

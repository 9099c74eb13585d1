"""One JSON error shape for every 4xx/5xx the service returns.

    {"error": {"code": "outside_network", "message": "...", "field": "from_lat"}}

`code` is stable (clients switch on it), `message` is for people, `field` names the
offending input when there is one. Typed errors from the packages are mapped here, in one
place, so handlers stay thin and no known failure becomes a 500. An unknown failure (a bug)
is a 500 in the same shape, ``internal_error``, with nothing of the exception's text: that
goes to the server log only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from pricing.policy_store import PolicyStoreError
from providers.errors import StoreUnavailableError
from routing.errors import (
    IsolatedPieceError,
    OutsideNetworkError,
    QueryError,
    RoutingError,
    ServiceDateError,
)

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    """The body of every error response."""

    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    """`{"error": {...}}`."""

    error: ErrorDetail


class ApiError(Exception):
    """Raised by handlers for a precise 4xx/5xx with a stable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one error shape as a response."""
    body = {"error": {"code": code, "message": message, "field": field}}
    return JSONResponse(body, status_code=status, headers=headers)


#: which response codes each kind of operation documents (for OpenAPI and schemathesis)
def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given error statuses, all with the one shape."""
    text = {
        400: "The request is well-formed but cannot be answered as asked",
        401: "Missing or wrong credential",
        403: "The credential is not allowed to do this",
        404: "No such resource",
        408: "The request body did not arrive within the deadline",
        409: "Conflicts with what is stored",
        413: "Request body too large",
        422: "Invalid input: wrong type, out of range, unknown field",
        503: "Temporarily unable to answer; retry later",
    }
    return {s: {"model": ErrorResponse, "description": text.get(s, "Error")} for s in statuses}


def _field_of(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("query", "body", "path", "header")]
    return ".".join(parts) or None


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "invalid request", None
    first = errors[0]
    field = _field_of(tuple(first.get("loc", ())))
    msg = str(first.get("msg", "invalid value"))
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    where = f"{field}: " if field else ""
    return f"{where}{msg}{more}", field


def install_error_handlers(app: FastAPI) -> None:
    """Map every known failure to the one error shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, field = _validation_message(exc)
        return error_response(422, "invalid_request", message, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            400: "malformed_body",
            404: "not_found",
            405: "method_not_allowed",
            408: "body_timeout",
            413: "body_too_large",
        }
        code = codes.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), None, exc.headers)

    @app.exception_handler(PolicyStoreError)
    async def _durable_down(request: Request, exc: PolicyStoreError) -> JSONResponse:
        # the durable store (SQLite file or Redis) failed; nothing was changed. Its text may
        # name files or keys, so the client gets a fixed message and the log the cause
        log.warning("policy store failed on %s %s: %s", request.method, request.url.path, exc)
        return error_response(
            503,
            "policy_store_unavailable",
            "the policy store is unavailable; nothing was changed, retry shortly",
            None,
            {"Retry-After": "5"},
        )

    @app.exception_handler(StoreUnavailableError)
    async def _store_down(_: Request, exc: StoreUnavailableError) -> JSONResponse:
        retry = str(max(1, int(exc.retry_after_s)))
        return error_response(503, "store_unavailable", str(exc), None, {"Retry-After": retry})

    @app.exception_handler(RoutingError)
    async def _routing(_: Request, exc: RoutingError) -> JSONResponse:
        return routing_error_response(exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette runs this in its outermost middleware and re-raises afterwards, so the
        # traceback still reaches the server log; the client gets the one error shape and
        # nothing of the exception (its text may quote paths, SQL or stored data)
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return error_response(
            500, "internal_error", "the server failed to answer this request; it is logged"
        )


def routing_error_response(exc: RoutingError) -> JSONResponse:
    """A routing-core error as a 422 naming what was wrong (area covered, valid dates)."""
    if isinstance(exc, IsolatedPieceError):
        return error_response(422, "isolated_street_piece", str(exc))
    if isinstance(exc, OutsideNetworkError):
        return error_response(422, "outside_network", str(exc))
    if isinstance(exc, ServiceDateError):
        return error_response(422, "date_outside_feed", str(exc), "at")
    if isinstance(exc, QueryError):
        return error_response(422, "invalid_query", str(exc))
    return error_response(422, "routing_error", str(exc))

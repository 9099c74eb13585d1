"""Request body size limits, enforced before a handler reads the body.

A declared Content-Length over the limit is refused at once; a chunked body is counted as
it streams and refused as soon as it passes the limit, so nobody can make a worker buffer
an unbounded body.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response


class BodyLimitMiddleware:
    """Pure ASGI middleware: `limit` bytes by default, larger limits for given path prefixes."""

    def __init__(
        self, app: ASGIApp, *, limit: int, prefix_limits: Sequence[tuple[str, int]] = ()
    ) -> None:
        self.app = app
        self.limit = limit
        self.prefix_limits = tuple(prefix_limits)

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.prefix_limits:
            if path.startswith(prefix):
                return limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an over-limit body before (or while) the app reads it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope.get("path", ""))
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    what = "invalid Content-Length" if declared < 0 else f"{declared} bytes"
                    response = error_response(
                        413 if declared >= 0 else 400,
                        "body_too_large" if declared >= 0 else "bad_content_length",
                        f"request body is {what}; the limit here is {limit} bytes",
                    )
                    await response(scope, receive, send)
                    return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(
                        413, f"request body is over the limit of {limit} bytes here"
                    )
            return message

        await self.app(scope, counted, send)

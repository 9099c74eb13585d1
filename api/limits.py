"""Request body limits, enforced before a handler reads the body: size and time.

A declared Content-Length over the limit is refused at once; a chunked body is counted as
it streams and refused as soon as it passes the limit, so nobody can make a worker buffer
an unbounded body.

The body must also arrive within `read_timeout_s` of the request's start. Without a
deadline, a client that declares ``Content-Length: 1000`` and sends ten bytes (or trickles
a byte a second) holds the handler, and the connection, until it gives up; with one, it
gets a 408 in the one error shape and the connection is closed (the rest of its body, if
it ever comes, is not read).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response


class BodyLimitMiddleware:
    """Pure ASGI middleware: `limit` bytes by default, larger limits for given path prefixes,
    and the whole body within `read_timeout_s` seconds.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        prefix_limits: Sequence[tuple[str, int]] = (),
        read_timeout_s: float = 10.0,
    ) -> None:
        if read_timeout_s <= 0:
            raise ValueError(f"read_timeout_s must be > 0, got {read_timeout_s}")
        self.app = app
        self.limit = limit
        self.prefix_limits = tuple(prefix_limits)
        self.read_timeout_s = read_timeout_s

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.prefix_limits:
            if path.startswith(prefix):
                return limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an over-limit or late body before (or while) the app reads it."""
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
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.read_timeout_s
        received = 0
        body_done = False

        async def counted() -> Message:
            nonlocal received, body_done
            if body_done:  # later reads wait for a disconnect: no deadline on those
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    408,
                    f"the request body did not arrive within {self.read_timeout_s:g} s "
                    f"({received} bytes received)",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(
                        413, f"request body is over the limit of {limit} bytes here"
                    )
                body_done = not message.get("more_body", False)
            else:
                body_done = True  # http.disconnect: nothing more will come
            return message

        await self.app(scope, counted, send)

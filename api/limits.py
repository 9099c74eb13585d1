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
from starlette.responses import JSONResponse
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
        refusal = _declared_refusal(scope, limit)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        body = _GuardedBody(receive, limit, self.read_timeout_s)
        await self.app(scope, body.receive, send)


def _declared_refusal(scope: Scope, limit: int) -> JSONResponse | None:
    """The answer to a Content-Length that is over `limit` or not a length; None if fine."""
    for name, value in scope.get("headers", ()):
        if name != b"content-length":
            continue
        try:
            declared = int(value)
        except ValueError:
            declared = -1
        if declared < 0:
            return error_response(
                400,
                "bad_content_length",
                f"request body is invalid Content-Length; the limit here is {limit} bytes",
            )
        if declared > limit:
            return error_response(
                413,
                "body_too_large",
                f"request body is {declared} bytes; the limit here is {limit} bytes",
            )
    return None


class _GuardedBody:
    """The app's `receive`: counts the body against the limit and the request's deadline.

    Built when the request starts, so the deadline runs from there, not from the first read.
    """

    def __init__(self, receive: Receive, limit: int, read_timeout_s: float) -> None:
        self._receive = receive
        self._limit = limit
        self._read_timeout_s = read_timeout_s
        self._deadline = asyncio.get_running_loop().time() + read_timeout_s
        self._received = 0
        self._done = False

    async def receive(self) -> Message:
        """The next message, or a 408/413 HTTPException when the body is late or too big."""
        if self._done:  # later reads wait for a disconnect: no deadline on those
            return await self._receive()
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            raise HTTPException(
                408,
                f"the request body did not arrive within {self._read_timeout_s:g} s "
                f"({self._received} bytes received)",
                headers={"Connection": "close"},
            ) from None
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limit:
                raise HTTPException(
                    413, f"request body is over the limit of {self._limit} bytes here"
                )
            self._done = not message.get("more_body", False)
        else:
            self._done = True  # http.disconnect: nothing more will come
        return message

"""`HEAD` wherever `GET` is served (RFC 9110 §9.3.2: a server that answers GET answers HEAD).

FastAPI routes declared with ``@router.get`` answer only GET, so ``HEAD /health`` was a 405,
and monitors and caches that probe with HEAD saw the service as broken. Rather than
declaring HEAD on every route (and forgetting it on the next one), this middleware hands a
HEAD request to the app as a GET and drops the body of the answer: the status and headers,
Content-Length included, are exactly those of the GET. A path that serves no GET answers
HEAD with the same 404 or 405 a GET would get.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    """Pure ASGI middleware: HEAD runs the GET handler and sends its headers only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer HEAD as GET without a body; pass everything else through untouched."""
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}  # keeps more_body: the stream still ends
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)

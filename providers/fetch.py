"""Fetch one feed file over HTTP with SSRF checks, a size cap and an overall deadline.

A feed is third-party input served by a third-party server, so every limit is enforced
here rather than trusted to the server: the URL and each redirect hop pass
`providers.urlsafety` (redirects are followed by hand, so a public URL answering
`302 Location: http://169.254.169.254/` is refused); the connection goes to the address
that was checked (the pinned network backend below, see the `urlsafety` docstring); the
body is streamed and cut off past `max_bytes` (counted after content decoding, so a small
gzip bomb cannot inflate into memory); one deadline covers resolution, connect, redirects
and reading, so a server that trickles a byte a second cannot hold a poller for ever.

The backend resolves with `asyncio.to_thread`, so the fetcher runs under asyncio only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import httpcore
import httpx

from providers.errors import FetchError, UnsafeUrlError
from providers.urlsafety import Resolver, check_url_syntax, resolve_checked

logger = logging.getLogger(__name__)

#: media types a GBFS file may arrive with: JSON, and the generic types that misconfigured
#: servers and object stores use for it; anything else (an HTML error page) is refused
_ACCEPTED_MEDIA_TYPES = frozenset(
    {
        "application/json",
        "text/json",
        "text/plain",
        "text/javascript",
        "application/javascript",
        "application/octet-stream",
        "binary/octet-stream",
    }
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_USER_AGENT = "fairtrip-gbfs/0.1 (+https://github.com/fairtrip)"


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One fetched file. `url` is the final URL after redirects.

    `status` is 304 with an empty body when the request was conditional and the file did not
    change; the caller keeps the body it already has.
    """

    url: str
    status: int
    body: bytes
    fetched_at_s: int
    etag: str | None
    last_modified: str | None


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Network backend that resolves once, checks every address, and connects to it.

    httpcore hands `connect_tcp` the URL's host name; TLS (SNI and certificate checks) and
    the Host header still use that name, only the socket goes to the checked address.
    """

    def __init__(self, *, allow_hosts: frozenset[str], resolver: Resolver | None) -> None:
        self._allow_hosts = allow_hosts
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve `host`, refuse forbidden addresses, connect to the first that answers."""
        try:
            addresses = await asyncio.to_thread(
                resolve_checked,
                host,
                port,
                allow_hosts=self._allow_hosts,
                resolver=self._resolver,
            )
        except UnsafeUrlError:
            raise
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                logger.debug("connect to %s (%s) port %d failed: %s", host, address, port, exc)
                last_error = exc
        raise last_error or httpcore.ConnectError(f"{host!r} has no address to connect to")

    async def sleep(self, seconds: float) -> None:
        """Delegate to the wrapped backend (used by httpcore's connect retries)."""
        await self._inner.sleep(seconds)


class _PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport with its connection pool rebuilt on the pinned backend.

    httpx 0.28 has no public `network_backend` option, so the pool (`_pool`, which
    `handle_async_request` uses) is replaced; httpx keeps doing the request/response and
    exception mapping. `tests/test_fetch.py` fails if the pool stops being used (a name that
    only the injected resolver knows would then not resolve).
    """

    def __init__(self, *, backend: httpcore.AsyncNetworkBackend, limits: httpx.Limits) -> None:
        ssl_context = httpx.create_ssl_context()
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


def join_url(base: httpx.URL | str, reference: str) -> str:
    """`reference` (absolute or relative, as in a Location header) read against `base`.

    A reference that is not a URL at all is refused like an unsafe one: it is never fetched.
    """
    try:
        return str(httpx.URL(base).join(reference))
    except httpx.InvalidURL as exc:
        raise UnsafeUrlError(reference, f"not a valid URL: {exc}") from exc


def _check_content_type(url: str, header: str | None) -> None:
    """Refuse a response that is clearly not JSON; a missing header is tolerated."""
    media_type = (header or "").split(";", 1)[0].strip().lower()
    if not media_type or media_type in _ACCEPTED_MEDIA_TYPES or media_type.endswith("+json"):
        return
    raise FetchError(url, f"content type {media_type!r} is not JSON")


class SafeFetcher:
    """Fetches feed files; one instance (one connection pool) is shared by all providers.

    Parameters
    ----------
    allow_hosts
        Exact host names (or IP literals) exempt from the address check, e.g. `127.0.0.1`
        for tests and local deployments. Never relaxes scheme/userinfo/spelling rules.
    max_bytes
        Largest decoded body accepted.
    timeout_s
        Deadline for the whole fetch: resolution, connect, every redirect hop, the body.
    max_redirects
        Redirects followed before giving up; each target is checked like the first URL.
    resolver
        `host, port -> addresses`, defaults to `getaddrinfo`; tests inject one.
    clock
        Source of `fetched_at_s`.
    """

    def __init__(
        self,
        *,
        allow_hosts: frozenset[str] = frozenset(),
        max_bytes: int = 5_000_000,
        timeout_s: float = 10.0,
        max_redirects: int = 3,
        resolver: Resolver | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_bytes <= 0 or timeout_s <= 0 or max_redirects < 0:
            raise ValueError(
                f"need max_bytes > 0, timeout_s > 0, max_redirects >= 0; got {max_bytes}, "
                f"{timeout_s}, {max_redirects}"
            )
        self.allow_hosts = frozenset(host.lower() for host in allow_hosts)
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.max_redirects = max_redirects
        self._resolver = resolver
        self._clock = clock
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        """The shared client, created on first use so it binds to the running loop."""
        if self._client is None:
            backend = _PinnedBackend(allow_hosts=self.allow_hosts, resolver=self._resolver)
            self._client = httpx.AsyncClient(
                transport=_PinnedTransport(backend=backend, limits=httpx.Limits()),
                follow_redirects=False,
                trust_env=False,  # a proxy from the environment would resolve names itself
                timeout=httpx.Timeout(self.timeout_s),
                headers={
                    "User-Agent": _USER_AGENT,
                    "Accept": "application/json, text/plain;q=0.5, */*;q=0.1",
                },
            )
        return self._client

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetch `url` (conditionally, when `etag`/`last_modified` are given).

        Raises UnsafeUrlError for a forbidden URL or redirect target, FetchError for
        everything else that keeps the body from arriving whole and on time.
        """
        conditional: dict[str, str] = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._follow(url, conditional)
        except TimeoutError as exc:
            raise FetchError(url, f"no complete response within {self.timeout_s:g} s") from exc

    async def _follow(self, url: str, conditional: dict[str, str]) -> FetchResult:
        """Follow redirects by hand, checking every hop before connecting to it."""
        current = url
        for _hop in range(self.max_redirects + 1):
            check_url_syntax(current, allow_hosts=self.allow_hosts)
            request = self._http().build_request("GET", current, headers=conditional)
            try:
                response = await self._http().send(request, stream=True)
            except UnsafeUrlError as exc:  # raised by the backend, which only knows host:port
                raise UnsafeUrlError(current, exc.reason) from exc
            except httpx.TimeoutException as exc:
                raise FetchError(current, f"timed out: {type(exc).__name__}") from exc
            except httpx.HTTPError as exc:
                raise FetchError(current, f"{type(exc).__name__}: {exc}") from exc
            try:
                location = response.headers.get("location")
                if response.status_code in _REDIRECT_STATUSES and location is not None:
                    current = join_url(response.url, location)
                    logger.debug("%s redirects to %s", response.url, current)
                    continue
                return await self._read(current, response, conditional=bool(conditional))
            finally:
                await response.aclose()
        raise FetchError(url, f"more than {self.max_redirects} redirects (last to {current})")

    async def _read(self, url: str, response: httpx.Response, *, conditional: bool) -> FetchResult:
        """Check status and content type, then read the body up to `max_bytes`."""
        status = response.status_code
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
        if status == 304 and conditional:
            return FetchResult(url, status, b"", int(self._clock()), etag, last_modified)
        if not 200 <= status < 300:
            raise FetchError(url, f"HTTP {status} {response.reason_phrase}".rstrip())
        _check_content_type(url, response.headers.get("content-type"))
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(url, f"larger than {self.max_bytes} bytes (Content-Length {declared})")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise FetchError(url, f"larger than {self.max_bytes} bytes")
                chunks.append(chunk)
        except httpx.TimeoutException as exc:
            raise FetchError(url, f"timed out reading the body: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"reading the body failed: {type(exc).__name__}: {exc}") from exc
        return FetchResult(url, status, b"".join(chunks), int(self._clock()), etag, last_modified)


__all__ = ["FetchResult", "SafeFetcher", "join_url"]

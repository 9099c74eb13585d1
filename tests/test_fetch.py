"""SafeFetcher against a local `http.server` (loopback allowlisted): caps, deadline, redirects.

`LocalServer` is also used by tests/test_poller.py.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from providers.errors import FetchError, UnsafeUrlError
from providers.fetch import SafeFetcher, join_url
from providers.urlsafety import check_url

LOOPBACK = frozenset({"127.0.0.1"})

Route = Callable[["_Handler"], None]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        local = self.server.local
        path = self.path.split("?", 1)[0]
        with local.lock:
            local.requests.append((path, dict(self.headers.items())))
        route = local.routes.get(path)
        if route is None:
            reply(self, 404, b"not found", content_type="text/plain")
        else:
            route(self)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    local: LocalServer

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # client hung up: expected
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    *,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    if content_type:
        handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


class LocalServer:
    """A threaded HTTP server on 127.0.0.1:<ephemeral>; `routes` maps a path to a handler."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()  # slow handlers wait on it so shutdown is quick
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.local = self
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def static(self, path: str, body: bytes, **kwargs: object) -> None:
        self.routes[path] = lambda h: reply(h, 200, body, **kwargs)  # type: ignore[arg-type]

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


def redirect(target: str) -> Route:
    return lambda h: reply(h, 302, b"", content_type=None, headers={"Location": target})


async def test_fetch_ok(server: LocalServer) -> None:
    server.static("/gbfs.json", b'{"data": {}}', headers={"ETag": '"v1"'})
    async with SafeFetcher(allow_hosts=LOOPBACK, clock=lambda: 1_700_000_000.5) as fetcher:
        result = await fetcher.fetch(server.url("/gbfs.json"))
    assert (result.status, result.body, result.etag) == (200, b'{"data": {}}', '"v1"')
    assert result.fetched_at_s == 1_700_000_000
    assert result.url == server.url("/gbfs.json")


async def test_loopback_refused_without_allowlist(server: LocalServer) -> None:
    server.static("/gbfs.json", b"{}")
    async with SafeFetcher() as fetcher:
        with pytest.raises(UnsafeUrlError, match="loopback"):
            await fetcher.fetch(server.url("/gbfs.json"))
    assert server.paths() == []


async def test_size_cap_with_content_length(server: LocalServer) -> None:
    server.static("/big", b"x" * 1001)
    async with SafeFetcher(allow_hosts=LOOPBACK, max_bytes=1000) as fetcher:
        with pytest.raises(FetchError, match="larger than 1000 bytes"):
            await fetcher.fetch(server.url("/big"))


async def test_size_cap_while_streaming(server: LocalServer) -> None:
    def endless(h: _Handler) -> None:  # no Content-Length: HTTP/1.0, body ends at close
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.end_headers()
        for _ in range(1000):
            h.wfile.write(b"y" * 4096)

    server.routes["/endless"] = endless
    async with SafeFetcher(allow_hosts=LOOPBACK, max_bytes=50_000) as fetcher:
        with pytest.raises(FetchError, match="larger than 50000 bytes"):
            await fetcher.fetch(server.url("/endless"))


async def test_timeout_waiting_for_headers(server: LocalServer) -> None:
    def slow(h: _Handler) -> None:
        if not server.stopping.wait(5):
            reply(h, 200, b"{}")

    server.routes["/slow"] = slow
    async with SafeFetcher(allow_hosts=LOOPBACK, timeout_s=0.3) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"timed out|no complete response"):
            await fetcher.fetch(server.url("/slow"))
    assert time.monotonic() - started < 2


async def test_overall_deadline_beats_a_trickling_server(server: LocalServer) -> None:
    def trickle(h: _Handler) -> None:  # every read succeeds, the whole never arrives
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", "1000")
        h.end_headers()
        for _ in range(1000):
            if server.stopping.wait(0.05):
                return
            h.wfile.write(b" ")
            h.wfile.flush()

    server.routes["/trickle"] = trickle
    async with SafeFetcher(allow_hosts=LOOPBACK, timeout_s=0.5) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"no complete response within 0\.5 s"):
            await fetcher.fetch(server.url("/trickle"))
    assert time.monotonic() - started < 2


async def test_redirect_followed_and_rechecked(server: LocalServer) -> None:
    server.static("/real.json", b"{}")
    server.routes["/old.json"] = redirect("/real.json")
    async with SafeFetcher(allow_hosts=LOOPBACK) as fetcher:
        result = await fetcher.fetch(server.url("/old.json"))
    assert result.url == server.url("/real.json")
    assert server.paths() == ["/old.json", "/real.json"]


async def test_redirect_to_metadata_service_refused(server: LocalServer) -> None:
    server.routes["/gbfs.json"] = redirect("http://169.254.169.254/latest/meta-data/")
    async with SafeFetcher(allow_hosts=LOOPBACK) as fetcher:
        with pytest.raises(UnsafeUrlError, match="link-local") as info:
            await fetcher.fetch(server.url("/gbfs.json"))
    assert info.value.url == "http://169.254.169.254/latest/meta-data/"


async def test_redirect_to_name_of_private_host_refused_at_connect(server: LocalServer) -> None:
    resolved: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["10.0.0.7"]

    target = f"http://intranet.example.com:{server.port}/admin"
    server.routes["/gbfs.json"] = redirect(target)
    async with SafeFetcher(allow_hosts=LOOPBACK, resolver=resolver) as fetcher:
        with pytest.raises(UnsafeUrlError, match="private") as info:
            await fetcher.fetch(server.url("/gbfs.json"))
    assert info.value.url == target
    assert resolved == ["intranet.example.com"]


async def test_redirect_to_garbage_is_a_fetch_error(server: LocalServer) -> None:
    server.routes["/gbfs.json"] = redirect("http://[::1")
    async with SafeFetcher(allow_hosts=LOOPBACK) as fetcher:
        with pytest.raises(FetchError, match="Invalid URL in location"):
            await fetcher.fetch(server.url("/gbfs.json"))


async def test_too_many_redirects(server: LocalServer) -> None:
    server.routes["/loop"] = redirect("/loop")
    async with SafeFetcher(allow_hosts=LOOPBACK, max_redirects=3) as fetcher:
        with pytest.raises(FetchError, match="more than 3 redirects"):
            await fetcher.fetch(server.url("/loop"))
    assert server.paths() == ["/loop"] * 4


@pytest.mark.parametrize("status", [404, 500, 503])
async def test_non_2xx(server: LocalServer, status: int) -> None:
    server.routes["/x"] = lambda h: reply(h, status, b"{}")
    async with SafeFetcher(allow_hosts=LOOPBACK) as fetcher:
        with pytest.raises(FetchError, match=f"HTTP {status}"):
            await fetcher.fetch(server.url("/x"))


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("application/json; charset=utf-8", True),
        ("text/plain", True),
        ("application/vnd.api+json", True),
        (None, True),
        ("text/html; charset=utf-8", False),
        ("image/png", False),
    ],
)
async def test_content_type(server: LocalServer, content_type: str | None, ok: bool) -> None:
    server.static("/x", b"{}", content_type=content_type)
    async with SafeFetcher(allow_hosts=LOOPBACK) as fetcher:
        if ok:
            assert (await fetcher.fetch(server.url("/x"))).body == b"{}"
        else:
            with pytest.raises(FetchError, match="is not JSON"):
                await fetcher.fetch(server.url("/x"))


async def test_conditional_request_gets_304(server: LocalServer) -> None:
    def etagged(h: _Handler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            reply(h, 304, b"", content_type=None, headers={"ETag": '"v1"'})
        else:
            reply(h, 200, b"{}", headers={"ETag": '"v1"'})

    server.routes["/x"] = etagged
    async with SafeFetcher(allow_hosts=LOOPBACK) as fetcher:
        first = await fetcher.fetch(server.url("/x"))
        second = await fetcher.fetch(server.url("/x"), etag=first.etag)
    assert (first.status, second.status, second.body) == (200, 304, b"")


async def test_connects_to_the_address_it_checked(server: LocalServer) -> None:
    """A name only the injected resolver knows: the connection must use its answer."""
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    server.static("/gbfs.json", b"{}")
    url = f"http://feed.invalid:{server.port}/gbfs.json"
    async with SafeFetcher(allow_hosts=frozenset({"feed.invalid"}), resolver=resolver) as fetcher:
        result = await fetcher.fetch(url)
    assert result.body == b"{}"
    assert calls == ["feed.invalid"]  # resolved once, never by the HTTP library again
    assert server.requests[0][1]["Host"] == f"feed.invalid:{server.port}"


async def test_dns_rebinding_is_caught_at_connect(server: LocalServer) -> None:
    """Public to the registration check, loopback a moment later: the fetch refuses."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    url = f"http://rebind.example.com:{server.port}/gbfs.json"
    fetcher = SafeFetcher(allow_hosts=LOOPBACK, resolver=rebinding)
    check_url(url, resolver=rebinding)
    with pytest.raises(UnsafeUrlError, match="loopback"):
        await fetcher.fetch(url)
    await fetcher.aclose()
    assert server.paths() == []


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_is_verified_for_the_name_while_connecting_to_the_pinned_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _self_signed(tmp_path, "feed.test")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust our self-signed certificate

    def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    allow = frozenset({"feed.test", "other.test"})
    with LocalServer(tls=tls) as server:
        server.static("/gbfs.json", b"{}")
        async with SafeFetcher(allow_hosts=allow, resolver=resolver) as fetcher:
            result = await fetcher.fetch(f"https://feed.test:{server.port}/gbfs.json")
            assert result.body == b"{}"
            # same address, same certificate, but the name does not match it
            with pytest.raises(FetchError, match=r"CERTIFICATE_VERIFY_FAILED|hostname"):
                await fetcher.fetch(f"https://other.test:{server.port}/gbfs.json")


async def test_connection_refused_is_a_fetch_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with SafeFetcher(allow_hosts=LOOPBACK) as fetcher:
        with pytest.raises(FetchError, match="ConnectError"):
            await fetcher.fetch(f"http://127.0.0.1:{port}/gbfs.json")


def test_join_url() -> None:
    base = "https://gbfs.example.com/v2/gbfs.json"
    assert (
        join_url(base, "station_status.json") == "https://gbfs.example.com/v2/station_status.json"
    )
    assert join_url(base, "http://other.example/x.json") == "http://other.example/x.json"
    with pytest.raises(UnsafeUrlError, match="not a valid URL"):
        join_url(base, "http://[::1")


def test_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="max_bytes > 0"):
        SafeFetcher(max_bytes=0)

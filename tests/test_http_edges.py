"""HTTP edges of the service: HEAD wherever GET is served, bounded integers at the door, no
plain-text 500, no server paths in open answers, a reason for a refused poll URL, and
request bodies read with a deadline (that one against a real uvicorn on a real socket).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException
from starlette.requests import Request

from api.app import create_app
from api.limits import BodyLimitMiddleware
from api.schemas import KAMPPI_TO_KRUUNUNHAKA
from api.settings import Settings
from pricing.names import redact_paths, source_name
from tests.live_server import LiveServer, live_server

ADMIN = "edges-admin-token-0123456789abcdef"
PLAN = {**KAMPPI_TO_KRUUNUNHAKA, "modes": "WALK,TRANSIT"}
POLICY = {
    "fairtrip_policy": 1,
    "id": "edge-flat",
    "version": 1,
    "name": "Flat fare (edge tests)",
    "currency": "EUR",
    "mode_families": ["transit"],
    "measures": [{"type": "city_wide_average", "charge_minor": 250}],
}


def bearer(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def client(helsinki_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app with the lifespan running; an unhandled exception becomes the 500 the server
    would send (not an exception in the test), which is what the catch-all test looks at.
    """
    store = tmp_path_factory.mktemp("edges") / "policies.sqlite3"
    settings = Settings(
        network=helsinki_dir,
        admin_token=ADMIN,
        policy_store_url=f"sqlite:///{store}",
        synthetic_providers=False,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def assert_error_shape(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message", "field"}
    if code is not None:
        assert error["code"] == code
    return error


# -- HEAD wherever GET is served -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/health", None),
        ("/docs", None),
        ("/openapi.json", None),
        ("/plan", PLAN),
        ("/policies", None),
        ("/stops", {"near": "60.1685,24.9316", "radius": 300}),
    ],
)
def test_head_answers_like_get_without_a_body(client, path, params):
    got = client.get(path, params=params)
    head = client.head(path, params=params)
    assert got.status_code == 200, got.text
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == got.headers["content-length"] != "0"


def test_head_on_ready_is_200_without_a_body(client):
    head = client.head("/ready")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == "application/json"
    assert int(head.headers["content-length"]) > 0


def test_head_where_get_is_not_served_answers_as_get_would(client):
    unknown = client.head("/no-such-path")
    assert unknown.status_code == client.get("/no-such-path").status_code == 404
    assert unknown.content == b""
    post_only = client.head("/policies/edge-flat/activate")
    assert post_only.status_code == client.get("/policies/edge-flat/activate").status_code == 405


def test_head_with_a_bad_query_is_the_same_422_as_get(client):
    bad = {**PLAN, "max_transfers": 99}
    assert client.head("/plan", params=bad).status_code == 422
    assert client.get("/plan", params=bad).status_code == 422


# -- bounded integers, and no plain-text 500 -----------------------------------------------------


def test_a_policy_version_of_two_to_the_63_is_a_422_naming_the_field(client):
    before = client.get("/policies").json()
    r = client.post("/policies", json={**POLICY, "version": 2**63}, headers=bearer())
    error = assert_error_shape(r, 422, "invalid_policy")
    assert error["field"] == "version"
    assert "2147483647" in error["message"]
    assert client.get("/policies").json() == before


@pytest.mark.parametrize("version", [2**63, 2**31, 0])
def test_a_version_query_out_of_range_is_a_422_naming_it(client, version):
    r = client.get("/policies/edge-flat", params={"version": version})
    assert assert_error_shape(r, 422, "invalid_request")["field"] == "version"


def test_versions_in_activation_and_evaluation_bodies_are_bounded(client):
    assert client.post("/policies", json=POLICY, headers=bearer()).status_code == 201
    for path in ("/policies/edge-flat/activate", "/policies/edge-flat/evaluations"):
        r = client.post(path, json={"version": 2**63}, headers=bearer())
        assert assert_error_shape(r, 422, "invalid_request")["field"] == "version"
    assert client.get("/policies/active").json() == {"active": None}


@pytest.mark.parametrize(
    ("cell", "column"), [(str(10**400), "income_minor"), (str(2**63), "income_minor")]
)
def test_an_uploaded_demand_table_with_a_huge_integer_is_a_422_naming_the_cell(
    client, cell, column
):
    assert client.post("/policies", json=POLICY, headers=bearer()).status_code == 201
    table = (
        "origin_lat,origin_lon,dest_lat,dest_lon,trips,income_minor\n"
        f"60.1685,24.9316,60.1725,24.9560,1,{cell}\n"
    )
    r = client.post("/policies/edge-flat/evaluations", json={"demand_csv": table}, headers=bearer())
    error = assert_error_shape(r, 422, "invalid_demand")
    assert error["field"] == "demand_csv"
    assert f"column {column}" in error["message"] and "line 2" in error["message"]


def test_an_unexpected_exception_is_a_json_500_that_keeps_its_text_to_the_log(
    client, monkeypatch, caplog
):
    # what SQLite raised for a 2**63 version before versions were bounded
    def overflow(*_: Any, **__: Any) -> None:
        raise OverflowError("Python int too large to convert to SQLite INTEGER at /srv/db")

    store = client.app.state.fairtrip.pricing.store
    monkeypatch.setattr(store, "create", overflow)
    r = client.post("/policies", json={**POLICY, "id": "edge-boom"}, headers=bearer())
    error = assert_error_shape(r, 500, "internal_error")
    assert "SQLite" not in error["message"] and "/srv" not in error["message"]
    assert "OverflowError" in caplog.text


@pytest.mark.parametrize(
    ("name", "position"),
    [("Flat\x00fare", 4), ("\x1b[31mRed fare", 0), ("Fare \u202eeno", 5), ("Fare\x9b", 4)],
)
def test_a_policy_name_with_a_control_character_is_a_422_naming_the_position(
    client, name, position
):
    before = client.get("/policies").json()
    doc = {**POLICY, "id": "edge-named", "name": name}
    r = client.post("/policies", json=doc, headers=bearer())
    error = assert_error_shape(r, 422, "invalid_policy")
    assert error["field"] == "name"
    assert f"position {position}" in error["message"]
    assert client.get("/policies").json() == before


# -- no server paths in open answers -------------------------------------------------------------


def test_a_source_is_named_by_its_file_name():
    assert source_name("/srv/fairtrip/data/od-gravity-synthetic.csv") == "od-gravity-synthetic.csv"
    assert source_name("C:\\data\\zones.geojson") == "zones.geojson"
    assert source_name("uploaded CSV") == "uploaded CSV"


def test_paths_in_an_error_message_are_cut_to_file_names_and_urls_are_kept():
    text = (
        "FileNotFoundError: [Errno 2] No such file or directory: '/srv/fairtrip/od.csv'; "
        "see https://example.com/gbfs/v3/gbfs.json and /var/lib/x/zones.geojson line 3"
    )
    assert redact_paths(text) == (
        "FileNotFoundError: [Errno 2] No such file or directory: 'od.csv'; "
        "see https://example.com/gbfs/v3/gbfs.json and zones.geojson line 3"
    )


def test_ready_and_providers_carry_no_server_path(client, helsinki_dir):
    root = str(Path(__file__).resolve().parents[1])
    for path in ("/ready", "/providers", "/policies", "/openapi.json"):
        text = client.get(path).text
        assert root not in text, path
        assert str(helsinki_dir) not in text, path


# -- a reason for a refused poll URL -------------------------------------------------------------


def test_a_poll_url_refused_at_connect_time_shows_its_reason_in_the_status(client):
    # 'localhost' passes the syntax check (a host name) and resolves to loopback, which the
    # fetcher refuses at connect time: the provider has no data, and now says why
    r = client.post(
        "/admin/providers",
        json={"provider_id": "edge-sneaky", "name": "Sneaky", "poll_url": "http://localhost:9/g"},
        headers=bearer(),
    )
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 15
    entry: dict[str, Any] = {}
    while time.monotonic() < deadline:
        listed = client.get("/providers").json()["providers"]
        entry = next(p for p in listed if p["provider_id"] == "edge-sneaky")
        if entry["poll_error"] is not None:
            break
        time.sleep(0.1)
    assert entry["source"] is None
    error = entry["poll_error"]
    assert error is not None, entry
    assert error["reason"].startswith("UnsafeUrlError")
    assert "loopback" in error["reason"]
    assert error["consecutive_failures"] >= 1
    assert error["refused"] is False
    status = assert_error_shape(client.get("/providers/edge-sneaky/status"), 404)
    assert "loopback" in status["message"]
    assert client.delete("/admin/providers/edge-sneaky", headers=bearer()).status_code == 204


# -- request bodies read with a deadline ---------------------------------------------------------


async def _never(*_: Any) -> None:
    raise AssertionError("the app must not be called")


def test_the_body_deadline_must_be_positive():
    with pytest.raises(ValueError, match="read_timeout_s"):
        BodyLimitMiddleware(_never, limit=1024, read_timeout_s=0)


def test_a_body_that_stops_arriving_is_a_408_at_the_deadline():
    """The middleware alone (no server): the second chunk never comes."""
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await Request(scope, receive).body()
        except Exception as exc:  # the 408 HTTPException, as the app's handler would see it
            sent.append({"raised": exc})
            raise

    async def receive() -> dict[str, Any]:
        if not sent:
            sent.append({"chunk": 1})
            return {"type": "http.request", "body": b"0123456789", "more_body": True}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: Any) -> None:  # pragma: no cover - nothing is sent on a raise
        sent.append(message)

    middleware = BodyLimitMiddleware(app, limit=1024, read_timeout_s=0.2)
    scope = {"type": "http", "method": "POST", "path": "/plan", "headers": []}
    started = time.monotonic()

    with pytest.raises(HTTPException) as info:
        asyncio.run(middleware(scope, receive, send))
    elapsed = time.monotonic() - started
    assert info.value.status_code == 408
    assert "10 bytes received" in info.value.detail
    assert info.value.headers == {"Connection": "close"}
    assert 0.15 < elapsed < 2.0


#: the deadline of the live server below (short, so the tests are quick)
DEADLINE_S = 1.0


@pytest.fixture(scope="module")
def live(helsinki_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        "FAIRTRIP_BODY_READ_TIMEOUT_S": str(DEADLINE_S),
        "FAIRTRIP_SYNTHETIC_PROVIDERS": "false",
    }
    with live_server(helsinki_dir, tmp_path_factory.mktemp("edges-live"), env=env) as server:
        yield server


def raw_exchange(
    server: LiveServer,
    head: bytes,
    body_parts: list[bytes],
    *,
    gap_s: float = 0.0,
    timeout_s: float = 10.0,
) -> tuple[bytes, float, bool]:
    """Send `head` and the body parts (`gap_s` apart) on one connection; read until the
    server closes it or `timeout_s` passes. (bytes read, seconds to the first byte, closed).
    """
    started = time.monotonic()
    with socket.create_connection((server.host, server.port), timeout=timeout_s) as sock:
        sock.sendall(head)

        def send_body() -> None:
            try:
                for part in body_parts:
                    sock.sendall(part)
                    if gap_s:
                        time.sleep(gap_s)
            except OSError:
                pass  # the server answered and closed before the client finished

        # the body goes out on its own thread, so the answer is timed when it arrives
        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        data = b""
        first_byte_s = -1.0
        closed = False
        sock.settimeout(timeout_s)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    closed = True
                    break
                if first_byte_s < 0:
                    first_byte_s = time.monotonic() - started
                data += chunk
        except TimeoutError:
            pass
        except ConnectionResetError:
            closed = True
        sender.join(timeout=timeout_s)
    return data, first_byte_s, closed


def split_response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def post_head(path: str, declared: int, *, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{auth}Content-Length: {declared}\r\n\r\n"
    ).encode()


def test_a_body_shorter_than_its_content_length_gets_a_408_at_the_deadline(live):
    data, first_byte_s, closed = raw_exchange(live, post_head("/plan", 1000), [b'{"from_lat"'])
    status, headers, body = split_response(data)
    assert status == 408, data
    assert json.loads(body)["error"]["code"] == "body_timeout"
    assert DEADLINE_S * 0.9 <= first_byte_s <= DEADLINE_S + 3.0
    assert closed  # the connection is not held for the rest of a body that never comes
    assert headers.get("connection") == "close"


def test_a_trickled_body_is_cut_at_the_deadline_for_the_whole_body(live):
    # a byte every 0.2 s keeps each read short; the deadline is for the body, not per read
    parts = [b"{"] + [b" "] * 30
    head = post_head("/policies", 1000, token=live.admin_token)
    data, first_byte_s, _ = raw_exchange(live, head, parts, gap_s=0.2)
    status, _, body = split_response(data)
    assert status == 408, data
    assert json.loads(body)["error"]["code"] == "body_timeout"
    assert first_byte_s <= DEADLINE_S + 3.0


def test_a_body_sent_in_time_is_answered_as_usual(live):
    body = json.dumps(PLAN).encode()
    half = len(body) // 2
    data, _, _ = raw_exchange(
        live, post_head("/plan", len(body)), [body[:half], body[half:]], gap_s=0.1, timeout_s=3
    )
    status, _, payload = split_response(data)
    assert status == 200, data[:500]
    assert json.loads(payload)["itineraries"]


def test_head_on_the_live_server_sends_headers_only(live):
    request = b"HEAD /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    data, _, closed = raw_exchange(live, request, [], timeout_s=5)
    status, headers, body = split_response(data)
    assert status == 200
    assert body == b""
    assert closed
    assert headers["content-length"] == str(len(b'{"status":"ok"}'))

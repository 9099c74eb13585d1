"""A hostile suite against a live server: uvicorn in a subprocess, the real Redis, real HTTP.

Providers are tenants and planners are strangers on the network: whatever one of them
sends, the answer is a precise 4xx in the one error shape, and every rider's default-mode
`/plan` keeps answering 200 afterwards. Each case of issue 11 is one test here; the
existing hostile GBFS corpus (`tests/gbfs_hostile.py`) is replayed as HTTP pushes, a
deterministic sample of every category.

To add a case: write one test that sends the hostile request (`push_feed` pushes a GBFS
snapshot for the suite's tenant; `live.client()` and the admin headers do the rest), checks
the refusal with `assert_json_error`, and ends with `assert_plan_still_works(http)`.

The server runs on the real Redis under a namespace of its own, removed at teardown, with
the synthetic Helsinki fleets on (so a default-mode plan routes shared vehicles) and a
short body deadline so the slow-body case is quick.
"""

from __future__ import annotations

import copy
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.schemas import KAMPPI_TO_KRUUNUNHAKA
from tests.gbfs_hostile import HostileCase, _square, hostile_cases, valid_feed_v3, valid_feed_v23
from tests.live_server import LiveServer, delete_namespace, live_server, redis_env

ROOT = Path(__file__).resolve().parents[1]
#: the live server's body deadline, seconds
BODY_DEADLINE_S = 2.0
#: the suite's pushing tenant
TENANT = "hostile-live"
#: cases replayed from the corpus per category (the first and one further along)
SAMPLE_PER_CATEGORY = 2
#: a policy every case may start from (valid as it stands)
POLICY: dict[str, Any] = {
    "fairtrip_policy": 1,
    "id": "hostile-flat",
    "version": 1,
    "name": "Flat fare (hostile suite)",
    "currency": "EUR",
    "mode_families": ["transit"],
    "measures": [{"type": "city_wide_average", "charge_minor": 250}],
}


# -- the server and its tenant -------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(helsinki_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server on the real Redis (own namespace, deleted afterwards)."""
    env = {
        **redis_env(),
        "FAIRTRIP_BODY_READ_TIMEOUT_S": str(BODY_DEADLINE_S),
        "FAIRTRIP_CACHE_CHECK_S": "0.5",
    }
    try:
        with live_server(helsinki_dir, tmp_path_factory.mktemp("hostile-live"), env=env) as srv:
            yield srv
    finally:
        delete_namespace(env["FAIRTRIP_STORE_URL"], env["FAIRTRIP_REDIS_NAMESPACE"])


@pytest.fixture(scope="module")
def http(live: LiveServer) -> Iterator[httpx.Client]:
    """One HTTP client for the suite."""
    with live.client(timeout_s=60.0) as client:
        yield client


@pytest.fixture(scope="module")
def tenant_key(live: LiveServer, http: httpx.Client) -> str:
    """A registered provider with a key and a good snapshot stored."""
    r = http.post(
        "/admin/providers",
        json={"provider_id": TENANT, "name": "Hostile tenant"},
        headers=live.admin_headers,
    )
    assert r.status_code == 201, r.text
    r = http.post(f"/admin/providers/{TENANT}/keys", headers=live.admin_headers)
    assert r.status_code == 201, r.text
    secret = str(r.json()["secret"])
    good = {name: json.dumps(doc).encode() for name, doc in valid_feed_v3().items()}
    r = push_feed(http, secret, good)
    assert r.status_code == 200, r.text
    return secret


# -- helpers -------------------------------------------------------------------------------------


def envelope(files: dict[str, bytes]) -> bytes:
    """The whole-snapshot body with each file's bytes spliced in unchanged (so broken JSON
    and bad UTF-8 reach the server as they are).
    """
    parts = [json.dumps(name).encode() + b": " + raw for name, raw in files.items()]
    return b'{"files": {' + b", ".join(parts) + b"}}"


def push_feed(
    http: httpx.Client, secret: str, files: dict[str, bytes], *, provider_id: str = TENANT
) -> httpx.Response:
    """PUT a whole GBFS snapshot (file name -> raw bytes) for `provider_id`."""
    return http.put(
        f"/providers/{provider_id}/gbfs",
        content=envelope(files),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )


def assert_json_error(
    response: httpx.Response, status: int | None = None, *, code: str | None = None
) -> dict[str, Any]:
    """A 4xx (or exactly `status`) in the one error shape, with a code and a message."""
    if status is None:
        assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    else:
        assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.text[:300]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "field"}
    assert error["code"] and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


def assert_plan_still_works(http: httpx.Client) -> None:
    """A default-mode /plan (every mode, shared vehicles included) answers 200."""
    r = http.get("/plan", params=KAMPPI_TO_KRUUNUNHAKA)
    assert r.status_code == 200, r.text[:500]
    assert r.json()["itineraries"]


def admin_post(live: LiveServer, http: httpx.Client, path: str, **kwargs: Any) -> httpx.Response:
    """POST with the admin token."""
    headers = {**live.admin_headers, **kwargs.pop("headers", {})}
    return http.post(path, headers=headers, **kwargs)


def stored_files(http: httpx.Client, provider_id: str = TENANT) -> list[tuple[str, str, int]]:
    """(file, content hash, receipt time) of each file the server holds for a provider."""
    r = http.get(f"/providers/{provider_id}/status")
    assert r.status_code == 200, r.text
    return [(f["name"], f["content_sha256"], f["received_at_s"]) for f in r.json()["files"]]


def corpus_sample() -> list[HostileCase]:
    """`SAMPLE_PER_CATEGORY` cases of every category of the corpus, deterministically."""
    by_category: dict[str, list[HostileCase]] = {}
    for case in hostile_cases():
        by_category.setdefault(case.category, []).append(case)
    sample = []
    for cases in by_category.values():
        step = max(1, len(cases) // SAMPLE_PER_CATEGORY)
        sample.extend(cases[::step][:SAMPLE_PER_CATEGORY])
    return sample


# -- the server is up ----------------------------------------------------------------------------


def test_the_live_server_runs_on_redis_and_plans_with_shared_vehicles(live, http):
    ready = http.get("/ready").json()
    assert ready["store"]["backend"] == "redis"
    assert ready["providers"], ready
    assert_plan_still_works(http)


# -- issue 11, case 3: a policy version of 2**63 -------------------------------------------------


def test_a_policy_version_of_two_to_the_63_is_a_422_naming_the_version(live, http):
    r = admin_post(live, http, "/policies", json={**POLICY, "version": 2**63})
    assert assert_json_error(r, 422, code="invalid_policy")["field"] == "version"
    r = http.get(f"/policies/{POLICY['id']}", params={"version": 2**63})
    assert assert_json_error(r, 422)["field"] == "version"
    assert_plan_still_works(http)


# -- issue 11, case 6: no server paths in an evaluation result ------------------------------------


def test_an_evaluation_result_names_its_sources_without_server_paths(live, http):
    assert admin_post(live, http, "/policies", json=POLICY).status_code in (200, 201)
    r = admin_post(live, http, f"/policies/{POLICY['id']}/evaluations", json={})
    assert r.status_code == 202, r.text
    job = r.json()
    deadline = time.monotonic() + 240
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
        job = http.get(f"/evaluations/{job['job_id']}").json()
    assert job["status"] == "done", job
    result = http.get(job["links"]["result"])  # no credential: open to anyone with the id
    report = http.get(job["links"]["report"])
    assert result.status_code == report.status_code == 200
    doc = result.json()
    assert doc["demand"]["source"] == "od-gravity-synthetic.csv"
    assert doc["zones"]["source"] == "demand-zones.geojson"
    network_dir = live.env["FAIRTRIP_NETWORK"]
    for text in (result.text, report.text, http.get("/ready").text, http.get("/providers").text):
        assert str(ROOT) not in text
        assert network_dir not in text
    assert_plan_still_works(http)


# -- issue 11, case 7: control characters in names, HEAD, slow bodies ----------------------------


@pytest.mark.parametrize("name", ["Fare\x00NUL", "\x1b[2J\x1b[HFare", "Fare \u202eeno", "a\x85b"])
def test_a_policy_name_with_a_control_character_is_refused(live, http, name):
    doc = {**POLICY, "id": "hostile-named", "name": name}
    error = assert_json_error(admin_post(live, http, "/policies", json=doc), 422)
    assert error["field"] == "name"
    assert "position" in error["message"]
    assert http.get("/policies/hostile-named").status_code == 404
    assert_plan_still_works(http)


@pytest.mark.parametrize(
    ("path", "params"),
    [("/health", None), ("/ready", None), ("/docs", None), ("/plan", KAMPPI_TO_KRUUNUNHAKA)],
)
def test_head_is_served_wherever_get_is(http, path, params):
    head = http.head(path, params=params)
    assert head.status_code == 200, head.text
    assert head.content == b""
    got = http.get(path, params=params)
    assert head.headers["content-type"] == got.headers["content-type"]
    if path != "/ready":  # /ready carries ages in seconds: its length may change between calls
        assert head.headers["content-length"] == got.headers["content-length"]


def test_a_body_that_never_arrives_is_a_408_at_the_deadline(live, http, tenant_key):
    head = (
        f"PUT /providers/{TENANT}/gbfs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {tenant_key}\r\nContent-Type: application/json\r\n"
        "Content-Length: 100000\r\n\r\n"
    ).encode()
    started = time.monotonic()
    with socket.create_connection((live.host, live.port), timeout=BODY_DEADLINE_S + 10) as sock:
        sock.sendall(head + b'{"files": {')
        data = b""
        while chunk := sock.recv(65536):  # until the server closes the connection
            data += chunk
    elapsed = time.monotonic() - started
    status_line, _, rest = data.partition(b"\r\n")
    assert status_line.split()[1] == b"408", data[:300]
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"]["code"] == "body_timeout"
    assert BODY_DEADLINE_S * 0.9 <= elapsed <= BODY_DEADLINE_S + 5
    assert_plan_still_works(http)


# -- the hostile corpus, replayed over HTTP ------------------------------------------------------


@pytest.mark.parametrize("case", corpus_sample(), ids=lambda c: c.label)
def test_a_hostile_push_is_a_json_4xx_and_plans_keep_working(http, tenant_key, case):
    before = stored_files(http)
    r = push_feed(http, tenant_key, case.files)
    assert_json_error(r)
    assert stored_files(http) == before  # the tenant's stored snapshot is unchanged
    assert_plan_still_works(http)


# -- issue 11, cases 1, 2, 4 and 7: what a provider's feed may say ----------------------------


def helsinki_v23() -> dict[str, Any]:
    """The corpus's valid GBFS 2.3 feed, moved from Oslo into the Helsinki network."""
    feed = copy.deepcopy(valid_feed_v23())
    station = feed["station_information"]["data"]["stations"][0]
    station["lat"], station["lon"] = 60.1700, 24.9400
    bike = feed["free_bike_status"]["data"]["bikes"][0]
    bike["lat"], bike["lon"] = 60.1710, 24.9410
    zone = feed["geofencing_zones"]["data"]["geofencing_zones"]["features"][0]
    zone["geometry"]["coordinates"] = [[_square(24.95, 60.16)]]
    return feed


def encoded(feed: dict[str, Any]) -> dict[str, bytes]:
    """Every file of `feed` as JSON bytes."""
    return {name: json.dumps(doc).encode() for name, doc in feed.items()}


def test_a_count_past_int32_is_refused_at_the_door_and_plans_keep_working(http, tenant_key):
    feed = helsinki_v23()
    feed["station_status"]["data"]["stations"][0]["num_bikes_available"] = 2**31
    before = stored_files(http)
    error = assert_json_error(push_feed(http, tenant_key, encoded(feed)), 422)
    assert "num_bikes_available" in error["message"]
    assert "2147483648" in error["message"]
    assert stored_files(http) == before
    assert_plan_still_works(http)


def test_a_feed_wholly_outside_the_network_is_refused_naming_the_area(http, tenant_key):
    feed = helsinki_v23()
    station = feed["station_information"]["data"]["stations"][0]
    station["lat"], station["lon"] = 59.95, 10.72
    bike = feed["free_bike_status"]["data"]["bikes"][0]
    bike["lat"], bike["lon"] = 59.951, 10.721
    before = stored_files(http)
    error = assert_json_error(
        push_feed(http, tenant_key, encoded(feed)), 422, code="outside_service_area"
    )
    assert "60." in error["message"] and "24." in error["message"]  # the area's bounds
    assert stored_files(http) == before
    assert_plan_still_works(http)


def test_a_feed_partly_outside_keeps_the_inside_and_warns_about_the_rest(http, tenant_key):
    feed = helsinki_v23()
    bike = feed["free_bike_status"]["data"]["bikes"][0]
    bike["lat"], bike["lon"] = 59.95, 10.72  # Oslo; the station stays in Helsinki
    r = push_feed(http, tenant_key, encoded(feed))
    assert r.status_code == 200, r.text
    warnings = r.json()["warnings"]
    assert any("b1" in w for w in warnings), warnings
    status = http.get(f"/providers/{TENANT}/status").json()
    assert status["warnings"] == warnings
    assert status["stations"] == 1
    assert status["vehicles"] == 0
    assert_plan_still_works(http)


def test_zero_one_booleans_in_a_2x_feed_are_read_with_a_warning(http, tenant_key):
    feed = helsinki_v23()
    status = feed["station_status"]["data"]["stations"][0]
    status["is_installed"], status["is_renting"] = 1, 1
    r = push_feed(http, tenant_key, encoded(feed))
    assert r.status_code == 200, r.text
    assert any("is_installed" in w for w in r.json()["warnings"])
    assert_plan_still_works(http)


def test_yes_for_a_boolean_stays_refused(http, tenant_key):
    feed = helsinki_v23()
    feed["station_status"]["data"]["stations"][0]["is_installed"] = "yes"
    error = assert_json_error(push_feed(http, tenant_key, encoded(feed)), 422)
    assert "is_installed" in error["message"]
    assert_plan_still_works(http)


@pytest.mark.parametrize("name", ["Bikes\x00", "\x1b]0;pwned\x07Bikes"])
def test_a_provider_name_with_a_control_character_is_refused(live, http, name):
    r = admin_post(
        live, http, "/admin/providers", json={"provider_id": "hostile-name", "name": name}
    )
    assert assert_json_error(r, 422)["field"] == "name"
    assert http.get("/providers/hostile-name/status").status_code == 404
    assert_plan_still_works(http)


# -- issue 11, case 5: Redis comes back empty (runs last: it wipes the suite's namespace) -------


def test_zz_a_wiped_redis_is_noticed_credentials_survive_and_fleets_come_back(
    live, http, tenant_key
):
    namespace = live.env["FAIRTRIP_REDIS_NAMESPACE"]
    assert delete_namespace(live.env["FAIRTRIP_STORE_URL"], namespace) > 0
    deadline = time.monotonic() + 30
    while True:  # the worker notices the lost epoch, re-seeds and says ready again
        ready = http.get("/ready").json()
        synthetic = [p for p in ready["providers"] if p["provider_id"].startswith("synthetic-")]
        if ready["status"] == "ready" and synthetic:
            break
        assert time.monotonic() < deadline, ready
        time.sleep(0.25)
    status = http.get(f"/providers/{TENANT}/status")
    assert status.status_code == 200, status.text
    assert status.json()["data_lost"] is True
    assert TENANT in {p["provider_id"] for p in http.get("/providers").json()["providers"]}
    assert_plan_still_works(http)
    # the key issued before the wipe still authenticates; the next push clears the mark
    good = {name: json.dumps(doc).encode() for name, doc in valid_feed_v3().items()}
    assert push_feed(http, tenant_key, good).status_code == 200
    assert http.get(f"/providers/{TENANT}/status").json()["data_lost"] is False


def gbfs1_feed(*, capacity: str, bikes: int) -> dict[str, bytes]:
    """A one-station GBFS 1.1 feed in Kamppi, `capacity` spliced in as raw JSON text."""
    now = int(time.time())
    info = (
        f'{{"last_updated": {now}, "ttl": 60, "data": {{"stations": [{{"station_id": "k1", '
        f'"name": "Kamppi", "lat": 60.1690, "lon": 24.9316, "capacity": {capacity}}}]}}}}'
    )
    status = {
        "last_updated": now,
        "ttl": 60,
        "data": {
            "stations": [
                {
                    "station_id": "k1",
                    "num_bikes_available": bikes,
                    "num_docks_available": 0,
                    "is_installed": 1,
                    "is_renting": 1,
                    "is_returning": 1,
                    "last_reported": now,
                }
            ]
        },
    }
    system = {
        "last_updated": now,
        "ttl": 60,
        "data": {"system_id": "k", "language": "en", "name": "K", "timezone": "Europe/Helsinki"},
    }
    return {
        "system_information": json.dumps(system).encode(),
        "station_information": info.encode(),
        "station_status": json.dumps(status).encode(),
    }


@pytest.mark.parametrize("capacity", ["1e400", "1" + "0" * 400])
def test_a_gbfs1_capacity_of_ten_to_the_400_is_refused(http, tenant_key, capacity):
    before = stored_files(http)
    error = assert_json_error(push_feed(http, tenant_key, gbfs1_feed(capacity=capacity, bikes=1)))
    # named by its field, or by its text where the envelope's reader already refuses it
    assert "capacity" in error["message"] or capacity in error["message"]
    assert stored_files(http) == before
    assert_plan_still_works(http)


def test_more_bikes_than_capacity_is_kept_with_a_warning(http, tenant_key):
    r = push_feed(http, tenant_key, gbfs1_feed(capacity="10", bikes=12))
    assert r.status_code == 200, r.text
    assert any("capacity" in w for w in r.json()["warnings"]), r.json()
    assert_plan_still_works(http)


def test_a_refused_poll_url_is_named_with_its_reason_in_the_status(live, http):
    r = admin_post(
        live,
        http,
        "/admin/providers",
        json={
            "provider_id": "hostile-poll",
            "name": "Loopback poller",
            "poll_url": "http://127.0.0.1:6379/gbfs.json",
        },
    )
    assert r.status_code in (201, 422), r.text
    if r.status_code == 422:  # refused at the door: the reason is the answer itself
        assert "127.0.0.1" in assert_json_error(r, 422)["message"]
    else:
        listed = {p["provider_id"]: p for p in http.get("/providers").json()["providers"]}
        poll_error = listed["hostile-poll"]["poll_error"]
        assert poll_error["refused"] is True
        assert poll_error["reason"]
    assert_plan_still_works(http)

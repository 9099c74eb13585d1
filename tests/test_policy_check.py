"""`POST /policies/validate`: the workspace's check of a draft policy, which stores nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

ADMIN = "policy-check-admin-token-0123456789"
DRAFT = """\
fairtrip_policy: 1
id: draft-average
version: 1
name: Draft city-wide average (test)
currency: EUR
mode_families: [transit]
revenue_neutral: false
measures:
  - type: city_wide_average
    charge_minor: 250
"""


@pytest.fixture(scope="module")
def client(helsinki_dir, tmp_path_factory):
    from api.app import create_app
    from api.settings import Settings

    store = tmp_path_factory.mktemp("policy-check") / "policies.sqlite3"
    settings = Settings(
        network=helsinki_dir,
        admin_token=ADMIN,
        policy_store_url=f"sqlite:///{store}",
        synthetic_providers=False,
    )
    with TestClient(create_app(settings)) as c:
        yield c


def validate(client: TestClient, text: str, ctype: str = "application/yaml"):
    return client.post("/policies/validate", content=text.encode(), headers={"content-type": ctype})


def test_a_valid_draft_is_described_and_nothing_is_stored(client):
    r = validate(client, DRAFT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["valid"] is True
    assert body["policy"]["id"] == "draft-average"
    assert body["version_taken"] is False and body["stored_versions"] == []
    assert any("2.50" in line for line in body["describe"]), body["describe"]
    assert client.get("/policies/draft-average").status_code == 404


def test_an_invalid_draft_gets_the_same_422_as_storing_it(client):
    bad = DRAFT.replace("type: city_wide_average", "type: flat_fare")
    checked = validate(client, bad)
    stored = client.post(
        "/policies",
        content=bad.encode(),
        headers={"content-type": "application/yaml", "Authorization": f"Bearer {ADMIN}"},
    )
    assert checked.status_code == stored.status_code == 422
    assert checked.json() == stored.json()
    error = checked.json()["error"]
    assert error["code"] == "invalid_policy"
    assert "unknown measure type 'flat_fare'" in error["message"]


def test_a_draft_whose_version_is_stored_says_so(client):
    other = DRAFT.replace("draft-average", "taken-average")
    r = client.post(
        "/policies",
        content=other.encode(),
        headers={"content-type": "application/yaml", "Authorization": f"Bearer {ADMIN}"},
    )
    assert r.status_code == 201, r.text
    body = validate(client, other).json()
    assert body["version_taken"] is True and body["stored_versions"] == [1]
    assert (
        validate(client, other.replace("version: 1", "version: 2")).json()["version_taken"] is False
    )


def test_json_drafts_are_read_as_json(client):
    r = validate(client, '{"fairtrip_policy": 1, "id": "x"}', "application/json")
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "id"
    assert validate(client, "{not json", "application/json").status_code == 422

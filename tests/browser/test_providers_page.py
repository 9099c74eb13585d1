"""The providers' status board in Chromium: the SYNTHETIC fleets fresh, and the admin actions
(register a provider, issue a key, revoke it, remove the provider) done from the page and
checked through the API.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.conftest import assert_clean
from tests.browser.refusals import assert_clean_but_refusals


def give_token(page: Any, token: str) -> None:
    """Answer common.js's admin-token dialog."""
    dialog = page.get_by_role("dialog", name="Admin token")
    dialog.get_by_role("textbox", name="Token").fill(token)
    dialog.get_by_role("button", name="Use token").click()


def empty_fleet(system_id: str) -> dict[str, Any]:
    """SYNTHETIC: a GBFS 3.0 snapshot with no vehicle, last updated now. Pushed, it gives a
    provider data (a status) without changing any plan of the shared server.
    """
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    env = {"last_updated": stamp, "ttl": 60, "version": "3.0"}
    return {
        "system_information": {**env, "data": {
            "system_id": system_id, "languages": ["en"],
            "name": [{"text": f"SYNTHETIC {system_id}", "language": "en"}],
            "opening_hours": "24/7", "feed_contact_email": "ops@example.org",
            "timezone": "Europe/Helsinki",
        }},
        "vehicle_status": {**env, "data": {"vehicles": []}},
    }  # fmt: skip


@pytest.fixture
def api(live_site: Any) -> Iterator[httpx.Client]:
    with live_site.client() as client:
        yield client


@pytest.fixture
def new_provider() -> str:
    """A provider id no other test registers (the session's server is shared). It is not
    deleted afterwards: a registered provider without data changes no other page's answer.
    """
    return f"board-test-{uuid.uuid4().hex[:8]}"


def test_the_synthetic_providers_are_shown_fresh_with_their_fleets(page: Any) -> None:
    # the fleets move while the test runs: the board is compared with the answers it got
    answers: list[Any] = []
    page.on("response", lambda r: answers.append(r) if "/providers" in r.url else None)
    page.goto("/providers-board")
    page.get_by_text(re.compile(r"^\d+ providers?, \d+ stale\.$")).wait_for()
    by_path = {
        urlsplit(r.url).path: r.json()
        for r in answers
        if r.ok and "json" in r.headers.get("content-type", "")
    }
    listed = by_path["/providers"]["providers"]
    synthetic = [p for p in listed if p.get("source") == "synthetic"]
    assert synthetic, "the live server runs no SYNTHETIC fleet"

    for p in synthetic:
        assert p["stale"] is False, p
        row = page.locator(f'#providers-table tr[data-provider="{p["provider_id"]}"]')
        assert row.locator(":scope > th").inner_text().splitlines() == [p["name"], p["provider_id"]]
        assert row.locator(".synthetic-tag").inner_text() == "SYNTHETIC"
        cells = row.locator(":scope > td").all_inner_texts()
        assert row.locator(":scope > td .badge").inner_text() == "fresh"
        age = re.fullmatch(r"fresh updated (?:(\d+) min )?(\d+) s ago", cells[1])
        assert age, cells[1]
        assert int(age.group(1) or 0) * 60 + int(age.group(2)) == p["age_s"]
        assert cells[2:4] == [str(p["vehicles"]), str(p["stations"])]
        assert p["vehicles"] + p["stations"] > 0
        # the last push's details, opened by keyboard (a <details> element)
        status = by_path[f"/providers/{p['provider_id']}/status"]
        summary = row.locator("summary")
        summary.focus()
        page.keyboard.press("Enter")
        assert row.locator("details").get_attribute("open") is not None
        assert row.locator("details table tbody tr").count() == len(status["files"])
        warnings = status["warnings"]
        said = f"{len(warnings)} warning" if warnings else "no warnings"
        assert summary.text_content().startswith(f"{p['name']}: {said}")
        assert row.locator("details li").all_inner_texts() == warnings
    assert page.locator("#providers-table tr.is-stale").count() == 0
    assert_clean(page)


def test_an_admin_registers_a_provider_issues_and_revokes_its_key_then_removes_it(
    page: Any, live_site: Any, api: httpx.Client, new_provider: str
) -> None:
    page.goto("/providers-board")
    page.get_by_text(re.compile(r"^\d+ providers?, \d+ stale\.$")).wait_for()
    page.get_by_label("Provider id").fill(new_provider)
    page.get_by_label("Name").fill("Board test bikes")
    page.get_by_role("button", name="Register").click()
    give_token(page, live_site.admin_token)
    page.get_by_text(f"Registered Board test bikes ({new_provider}).").wait_for()
    row = page.locator(f'#providers-table tr[data-provider="{new_provider}"]')
    assert row.locator(":scope > td .badge").inner_text() == "no data yet"
    assert page.get_by_label("Provider", exact=True).input_value() == new_provider

    # the token is asked once per session: the next admin actions do not ask again
    page.get_by_role("button", name="Issue a new key").click()
    secret_box = page.locator("#new-secret")
    secret_box.wait_for(state="visible")
    assert page.get_by_role("dialog", name="Admin token").count() == 0
    key_id = page.locator("#new-secret-id").inner_text()
    secret = page.get_by_label("Secret").input_value()
    key_row = page.locator(f'#keys-table tr[data-key="{key_id}"]')
    assert key_row.locator("td").nth(2).inner_text() == "active"

    # the key the page showed is a real key of this provider (404: authenticated, no data yet)
    own = f"/providers/{new_provider}/gbfs"
    assert api.get(own, headers={"Authorization": f"Bearer {secret}"}).status_code == 404
    assert api.get(own, headers={"Authorization": "Bearer not-a-key"}).status_code == 403
    # with data pushed, the provider has a status: its 404 at the end is the removal's doing
    key_header = {"Authorization": f"Bearer {secret}"}
    pushed = api.put(own, json={"files": empty_fleet(new_provider)}, headers=key_header)
    assert pushed.status_code == 200, pushed.text
    assert api.get(f"/providers/{new_provider}/status").status_code == 200

    page.once("dialog", lambda d: d.accept())  # "Revoke key ...?" confirmation
    key_row.get_by_role("button", name=f"Revoke key {key_id}").click()
    page.get_by_text(f"Key {key_id} revoked.").wait_for()
    assert key_row.locator("td").nth(2).inner_text() != "active"
    assert key_row.get_by_role("button").count() == 0
    assert api.get(own, headers={"Authorization": f"Bearer {secret}"}).status_code == 403
    keys = api.get(f"/admin/providers/{new_provider}/keys", headers=live_site.admin_headers)
    assert [k["revoked_at_s"] is not None for k in keys.json()["keys"]] == [True]

    # no refresh of the board may read the status between the removal and its own redraw
    page.get_by_label("refresh every 15 s").uncheck()
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.get_by_role("button", name="Remove provider").click()
    page.get_by_text(f"Removed provider Board test bikes ({new_provider}).").wait_for()
    assert len(asked) == 1 and f"Board test bikes ({new_provider})" in asked[0], asked
    assert row.count() == 0
    assert page.locator(f'#keys-provider option[value="{new_provider}"]').count() == 0
    assert page.locator("#keys-table").is_hidden()
    assert api.get(f"/providers/{new_provider}/status").status_code == 404
    keys = api.get(f"/admin/providers/{new_provider}/keys", headers=live_site.admin_headers)
    assert keys.status_code == 404
    listed = api.get("/providers").json()["providers"]
    assert new_provider not in [p["provider_id"] for p in listed]
    assert_clean(page)


def test_registering_a_taken_id_is_refused_next_to_the_id_field(
    page: Any, live_site: Any, api: httpx.Client, new_provider: str
) -> None:
    r = api.post(
        "/admin/providers",
        json={"provider_id": new_provider, "name": "First"},
        headers=live_site.admin_headers,
    )
    assert r.status_code == 201, r.text
    page.goto("/providers-board")
    page.get_by_label("Provider id").fill(new_provider)
    page.get_by_label("Name").fill("Second")
    page.get_by_role("button", name="Register").click()
    give_token(page, live_site.admin_token)
    error = page.locator("#reg-id-error")
    error.get_by_text(new_provider).wait_for()
    assert page.get_by_label("Provider id").get_attribute("aria-invalid") == "true"
    # the first registration stands, unchanged
    listed = api.get("/providers").json()["providers"]
    assert [p["name"] for p in listed if p["provider_id"] == new_provider] == ["First"]
    assert_clean_but_refusals(page, status=409, path="/admin/providers")

"""The planners' policy workspace in Chromium: store a policy, evaluate it, read the results.

The policy is the repository's own `data/policies/city-wide-average.yaml`, typed into the
page's editor as a planner would paste it; the evaluation runs on the live server's default
(SYNTHETIC) demand. What the page shows is compared with what the API answers for the same
job, so the test pins the page to the data rather than to numbers written here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import assert_clean
from tests.browser.refusals import assert_clean_but_refusals

ROOT = Path(__file__).resolve().parents[2]
CITY_WIDE_AVERAGE = (ROOT / "data" / "policies" / "city-wide-average.yaml").read_text()
#: an evaluation of the embedded city takes seconds alone; the machine is shared
EVALUATION_MS = 240_000
#: a document a planner might write: a float amount and a measure type that does not exist
BAD_POLICY = """\
fairtrip_policy: 1
id: typo-policy
version: 1
name: A policy with mistakes
currency: EUR
mode_families: [transit]
revenue_neutral: false
measures:
  - type: flat_fare
    charge_minor: 2.8
"""


def give_token(page: Any, token: str) -> None:
    """Answer common.js's admin-token dialog (asked once per browser session)."""
    dialog = page.get_by_role("dialog", name="Admin token")
    dialog.get_by_role("textbox", name="Token").fill(token)
    dialog.get_by_role("button", name="Use token").click()


def summary_cell(page: Any, row: str, column: int) -> str:
    """The summary table's cell of the metric `row` in scenario column `column` (0-based)."""
    tr = page.locator("#summary-table tbody tr").filter(
        has=page.locator("th", has_text=re.compile(rf"{re.escape(row)}$"))
    )
    return str(tr.locator("td").nth(column).inner_text())


@pytest.fixture
def api(live_site: Any) -> Any:
    with live_site.client() as client:
        yield client


def test_the_city_wide_average_is_stored_and_evaluated_to_its_summary(
    page: Any, live_site: Any, api: httpx.Client
) -> None:
    page.goto("/planner")
    page.get_by_text(re.compile(r"\d+ zones: \d+ central, \d+ peripheral")).wait_for()

    page.get_by_label("Policy document (YAML or JSON)").fill(CITY_WIDE_AVERAGE)
    page.get_by_role("button", name="Store policy").click()
    give_token(page, live_site.admin_token)
    messages = page.locator("#policy-messages")
    messages.get_by_text("Stored city-wide-average v1.").wait_for()
    stored = page.locator('#policies-table tr[data-policy="city-wide-average"]')
    stored.get_by_text("City-wide flat transit charge").wait_for()

    page.get_by_label("Policy", exact=True).select_option("city-wide-average")
    page.get_by_role("button", name="Run evaluation").click()
    page.locator("#eval-progress-box").wait_for(state="visible")
    page.locator("#results").wait_for(state="visible", timeout=EVALUATION_MS)

    job_id = re.search(r"[?&]job=([0-9a-f]{16})", page.url)
    assert job_id, f"the job is not in the URL: {page.url}"
    job = api.get(f"/evaluations/{job_id.group(1)}").json()
    assert job["status"] == "done" and job["policy_id"] == "city-wide-average"
    doc = api.get(job["links"]["result"]).json()
    policy = doc["scenarios"][1]

    assert page.locator("#eval-progress").get_attribute("value") == "1"
    assert page.locator("#eval-stage").inner_text() == "done"
    head = page.locator("#summary-table thead th").all_inner_texts()
    assert head == [s["name"] for s in doc["scenarios"]]
    assert "SYNTHETIC" in page.locator("#summary-table caption").inner_text()
    assert summary_cell(page, "Gini", 1) == f"{policy['gini']:.3f}"
    assert summary_cell(page, "Trips", 1) == f"{round(policy['trips']):,}"
    solved = policy["solved"]
    assert solved["parameter"] == "charge_minor"
    charge = round(solved["value"])
    assert (
        summary_cell(page, "Solved parameter", 1)
        == f"charge = {charge // 100}.{charge % 100:02d} EUR"
    )
    # revenue neutral: the page shows the change the API measured, which is about nothing
    assert abs(policy["revenue_change"]) < 0.0005
    assert summary_cell(page, "Revenue change vs status quo", 1) == "0.00%"

    # one Lorenz curve per scenario, one map panel with one shape per zone
    assert page.locator("#lorenz polyline").count() == len(doc["scenarios"])
    zones = len(doc["zones"]["geojson"]["features"])
    assert page.locator("#change-maps svg").count() == 1
    assert page.locator("#change-maps svg path.zone").count() == zones
    assert page.locator('#winners section[data-scenario="city-wide-average"] table').count() >= 1

    for link, kind in (
        ("Download the evaluation (JSON)", "json"),
        ("Open the report (HTML)", "html"),
    ):
        href = page.get_by_role("link", name=link).get_attribute("href")
        r = api.get(href)
        assert r.status_code == 200 and kind in r.headers["content-type"], (href, r.status_code)
    assert_clean(page)


def test_a_refused_policy_is_explained_in_words_and_nothing_is_stored(
    page: Any, live_site: Any, api: httpx.Client
) -> None:
    refusal = api.post(
        "/policies/validate", content=BAD_POLICY, headers={"content-type": "application/yaml"}
    ).json()["error"]
    page.goto("/planner")
    editor = page.get_by_label("Policy document (YAML or JSON)")
    editor.fill(BAD_POLICY)

    page.get_by_role("button", name="Check").click()
    messages = page.locator("#policy-messages")
    messages.get_by_text("The document was refused:").wait_for()
    shown = messages.locator("li").all_inner_texts()
    # every problem the API named is one line of the panel, in the API's words
    assert "; ".join(shown) == refusal["message"]
    assert any("flat_fare" in line for line in shown)
    assert any(line.startswith("measures[0]") for line in shown)
    assert editor.get_attribute("aria-invalid") is not None

    page.get_by_role("button", name="Store policy").click()
    give_token(page, live_site.admin_token)
    messages.get_by_text("Not stored:").wait_for()
    assert "; ".join(messages.locator("li").all_inner_texts()) == refusal["message"]
    assert api.get("/policies/typo-policy").status_code == 404
    assert_clean_but_refusals(page, status=422, path="/policies")

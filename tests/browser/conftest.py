"""Browser tests: Debian's Chromium, driven by Playwright, against a live fairtrip server.

One server per test session (`live_site`): the app `fairtrip serve` runs, in a subprocess
on a free port of 127.0.0.1, on the embedded city, with the in-memory availability store
and the SYNTHETIC fleets as the default serve has them. One browser per session, a fresh
context and page per test (`page`), which records every request URL and every console
error; `assert_clean(page)` checks that no request left 127.0.0.1 and nothing was logged
as an error.

Chromium is the system's (`/usr/bin/chromium`, the `chromium` package; `.ci/run` installs
it), never a browser build downloaded by `playwright install`. Without it (or without the
`playwright` package) the browser tests are skipped with the reason, except in CI
(`CI=true`, or `FAIRTRIP_REQUIRE_BROWSER=1` as `.ci/run` sets), where a missing browser
fails them: a green CI must have run them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.live_server import LiveServer, live_server

#: Debian's Chromium (overridable, e.g. for a developer's own Chrome)
CHROMIUM = os.environ.get("FAIRTRIP_CHROMIUM", "/usr/bin/chromium")
#: hosts a page may talk to: the live server only
LOCAL_HOSTS = {"127.0.0.1"}
#: URL schemes that are not network requests
LOCAL_SCHEMES = {"data", "blob", "about"}
#: how long a test waits for the page to show something (a plan on a busy 2-core machine)
WAIT_MS = 30_000


def _need_browser() -> Any:
    """The playwright module, or skip (fail in CI) when it or the browser is missing."""
    # .ci/run sets FAIRTRIP_REQUIRE_BROWSER=1; hosted CI systems set CI=true
    in_ci = os.environ.get("CI") == "true" or os.environ.get("FAIRTRIP_REQUIRE_BROWSER") == "1"
    try:
        from playwright import sync_api  # deferred: only the browser tests need it
    except ImportError:  # pragma: no cover - the test extra installs it
        if in_ci:
            pytest.fail("playwright is not installed (pip install -e '.[test]')")
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        if in_ci:
            pytest.fail(f"no Chromium at {CHROMIUM}; .ci/run installs the chromium package")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    return sync_api


@pytest.fixture(scope="package")
def live_site(helsinki_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server for the browser tests, as `fairtrip serve` starts it (memory store,
    SYNTHETIC fleets on).
    """
    _need_browser()
    with live_server(helsinki_dir, tmp_path_factory.mktemp("browser-server")) as server:
        yield server


@pytest.fixture(scope="package")
def browser(live_site: LiveServer) -> Iterator[Any]:
    """One headless Chromium for the browser tests.

    Package scope, not session: Playwright's sync API keeps an event loop running in the main
    thread while it is open, and every later test that calls `asyncio.run` would fail.
    """
    sync_api = _need_browser()
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # root in a container has no user namespace for the sandbox
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class PageLog:
    """What a page did: every request URL, every console error and uncaught exception."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        """Requests to anything but the live server."""
        out = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in LOCAL_SCHEMES:
                continue
            if parts.hostname not in LOCAL_HOSTS:
                out.append(url)
        return out


@pytest.fixture
def page(browser: Any, live_site: LiveServer) -> Iterator[Any]:
    """A fresh page (own context: no cookies or storage from another test) whose requests
    and console errors are recorded in `page.fairtrip_log` (a `PageLog`).
    """
    context = browser.new_context(
        base_url=live_site.base_url, viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(WAIT_MS)
    pg = context.new_page()
    log = PageLog()
    pg.on("request", lambda req: log.requests.append(req.url))
    pg.on(
        "console",
        lambda msg: log.console_errors.append(f"{msg.text} ({msg.location})")
        if msg.type == "error"
        else None,
    )
    pg.on("pageerror", lambda exc: log.console_errors.append(f"uncaught: {exc}"))
    pg.fairtrip_log = log
    try:
        yield pg
    finally:
        context.close()


def assert_clean(page: Any, *, expected_statuses: tuple[int, ...] = ()) -> None:
    """No request left 127.0.0.1 and the console logged no error (the issue's two checks).

    Chromium logs every 4xx answer to a fetch as a console error ("Failed to load
    resource: the server responded with a status of 422"); a test that provokes such an
    answer on purpose names its status in `expected_statuses`, and only those lines are
    let through.
    """
    log: PageLog = page.fairtrip_log
    assert log.requests, "the page made no request at all: the log is not recording"
    assert log.foreign_requests() == [], "requests left 127.0.0.1"
    allowed = tuple(f"status of {status} " for status in expected_statuses)
    errors = [e for e in log.console_errors if not (allowed and any(a in e for a in allowed))]
    assert errors == [], "the console logged errors"

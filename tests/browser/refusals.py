"""Console checks for pages that show an API refusal on purpose.

Chromium writes "Failed to load resource: the server responded with a status of 422" to the
console for every fetch that gets a 4xx, and a page cannot stop it. A test that provokes a
refusal to see it shown in words expects exactly those lines; anything else is still an
error.
"""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import PageLog


def assert_clean_but_refusals(page: Any, *, status: int, path: str) -> None:
    """Like `assert_clean`, except for the browser's notes of `status` answers from `path`.

    At least one such note must be there: the refusal the test provoked did happen.
    """
    log: PageLog = page.fairtrip_log
    assert log.requests, "the page made no request at all: the log is not recording"
    assert log.foreign_requests() == [], "requests left 127.0.0.1"
    note = f"Failed to load resource: the server responded with a status of {status}"
    expected = [e for e in log.console_errors if e.startswith(note) and path in e]
    others = [e for e in log.console_errors if e not in expected]
    assert expected, f"no {status} from {path} was logged: {log.console_errors}"
    assert others == [], "the console logged errors"

"""The web pages are served by the API server itself, from files shipped in the package, and
load nothing from anywhere else.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest

from api.routes.pages import PAGES, STATIC_DIR

ROOT = Path(__file__).resolve().parents[1]
#: an address a page could fetch from: a scheme-ful URL, or protocol-relative //host
EXTERNAL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.IGNORECASE)
#: XML namespace names are identifiers, not addresses: nothing is fetched from them
NAMESPACES = {"http://www.w3.org/2000/svg"}


def static_files() -> list[Path]:
    return sorted(p for p in STATIC_DIR.rglob("*") if p.is_file())


def test_every_static_file_is_package_data():
    # a file the package-data patterns miss would be absent from a non-editable install
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["api"]
    missed = [
        str(p.relative_to(STATIC_DIR.parent))
        for p in static_files()
        if not any(fnmatch.fnmatch(str(p.relative_to(STATIC_DIR.parent)), pat) for pat in patterns)
    ]
    assert static_files() and missed == []


@pytest.mark.parametrize("path", static_files(), ids=lambda p: p.name)
def test_no_static_file_names_an_outside_address(path: Path):
    text = path.read_text(encoding="utf-8")
    found = [m.group(0) for m in EXTERNAL.finditer(text)]
    assert [u for u in found if not any(ns.startswith(u) for ns in NAMESPACES)] == []


def test_the_trip_planner_page_is_served_with_a_self_only_policy(api_client):
    r = api_client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp
    assert "connect-src 'self'" in csp
    assert '<script type="module" src="/static/js/trip.js">' in r.text


@pytest.mark.parametrize("url", sorted(PAGES))
def test_each_page_links_the_others(api_client, url: str):
    html = api_client.get(url).text
    for other in PAGES:
        assert f'href="{other}"' in html


def test_modules_are_served_as_javascript(api_client):
    for name in ("common.js", "map.js", "trip.js"):
        r = api_client.get(f"/static/js/{name}")
        assert r.status_code == 200
        media_type = r.headers["content-type"].split(";")[0]
        assert media_type in ("text/javascript", "application/javascript")


def test_an_asset_that_does_not_exist_is_a_404(api_client):
    assert api_client.get("/static/js/nope.js").status_code == 404

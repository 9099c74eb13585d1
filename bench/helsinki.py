"""Helsinki benchmark: the embedded city, coordinate-to-coordinate queries.

    python -m bench.helsinki

Times, on random points of the two OSM extracts (origin and destination each snapped to the
nearest walkable street; points farther than 500 m from any street are redrawn):
  * earliest arrival, leaving at a random time 06:00-22:00: the full `Planner.plan` call
    (snapping, access and egress walking searches, RAPTOR, the direct walk), and the core
    alone (snapping, walking searches, RAPTOR);
  * range queries over the 08:00-09:00 departure window (rRAPTOR);
  * build time and peak memory of a fresh compile, and load time in a fresh interpreter.
Figures are printed and saved to `bench/results/helsinki.json`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import machine, run_snippet, save, stats_ms
from routing.planner import Planner

ROOT = Path(__file__).resolve().parents[1]

BUILD_SNIPPET = """
import json, resource, sys, time
from network.embedded import helsinki
from ingest.network_build import build_network
c = helsinki()
t = time.perf_counter()
build_network(c.gtfs, list(c.osm), sys.argv[1], name=c.name, progress=False, force=True)
print(json.dumps({"seconds": time.perf_counter() - t,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

LOAD_SNIPPET = """
import json, resource, sys, time
t = time.perf_counter()
from network.compiled import Network
net = Network.load(sys.argv[1])
planner = net.planner(sys.argv[2])
loaded = time.perf_counter() - t
planner.plan(60.1685, 24.9316, 60.1725, 24.9560, 8 * 3600)
print(json.dumps({"load_s": loaded, "first_query_s": time.perf_counter() - t - loaded,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _random_points(
    planner: Planner, rng: np.random.Generator, n: int
) -> list[tuple[float, float, float, float]]:
    from routing.errors import OutsideNetworkError

    min_lon, min_lat, max_lon, max_lat = planner.walk.bbox
    out = []
    while len(out) < n:
        lat = rng.uniform(min_lat, max_lat, 2)
        lon = rng.uniform(min_lon, max_lon, 2)
        try:
            planner.walk_index.snap(lat[0], lon[0])
            planner.walk_index.snap(lat[1], lon[1])
        except OutsideNetworkError:
            continue
        out.append((lat[0], lon[0], lat[1], lon[1]))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--range-queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2022)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from network.compiled import Network
    from network.embedded import ensure_embedded_network
    from routing.planner import PlanOptions

    with tempfile.TemporaryDirectory() as tmp:
        build = run_snippet(BUILD_SNIPPET, str(Path(tmp) / "net"))

    path = ensure_embedded_network(progress=False)
    net = Network.load(path)
    key = net.manifest["service_dates"]["2022-02-22"]
    loads = [run_snippet(LOAD_SNIPPET, str(path), key) for _ in range(5)]

    planner = net.planner(key)
    rng = np.random.default_rng(args.seed)
    planner.plan(60.1685, 24.9316, 60.1725, 24.9560, 8 * 3600)  # JIT warm-up (cached on disk)
    points = _random_points(planner, rng, args.queries)
    times = rng.integers(6 * 3600, 22 * 3600, args.queries)

    full, core, with_transit = [], [], 0
    opts = PlanOptions()
    for (la1, lo1, la2, lo2), t0 in zip(points, times.tolist(), strict=True):
        t = time.perf_counter()
        plan = planner.plan(la1, lo1, la2, lo2, t0, opts)
        full.append(time.perf_counter() - t)
        with_transit += any(j.rides for j in plan.journeys)
        t = time.perf_counter()
        o = planner.walk_index.snap(la1, lo1)
        d = planner.walk_index.snap(la2, lo2)
        acc = planner.stop_walk_times(o, max_walk_m=1000, walk_speed_mps=1.33, to_point=False)
        egr = planner.stop_walk_times(d, max_walk_m=1000, walk_speed_mps=1.33, to_point=True)
        planner.transit.depart_at(acc, egr, t0)
        core.append(time.perf_counter() - t)

    rng2 = np.random.default_rng(args.seed + 1)
    range_times, n_journeys = [], []
    window = PlanOptions(window_s=3600)
    for la1, lo1, la2, lo2 in _random_points(planner, rng2, args.range_queries):
        t = time.perf_counter()
        plan = planner.plan(la1, lo1, la2, lo2, 8 * 3600, window)
        range_times.append(time.perf_counter() - t)
        n_journeys.append(len(plan.journeys))

    tt = planner.timetable
    result = {
        "benchmark": "helsinki",
        "machine": machine(),
        "network": {
            "stops": int(tt.n_stops),
            "stops_on_streets": int((net.stop_snaps.edge >= 0).sum()),
            "patterns": int(tt.n_patterns),
            "trips": int(tt.n_trips),
            "stop_events": int(tt.n_events),
            "footpaths": len(tt.transfer_to),
            "streets": net.manifest["counts"]["streets"],
        },
        "build": {
            "seconds": round(build["seconds"], 1),
            "peak_rss_mib": round(build["peak_rss_mib"], 1),
        },
        "load": {
            "median_s": round(float(np.median([x["load_s"] for x in loads])), 3),
            "first_query_s": round(float(np.median([x["first_query_s"] for x in loads])), 3),
            "peak_rss_mib": round(float(np.median([x["peak_rss_mib"] for x in loads])), 1),
        },
        "earliest_arrival_plan": {**stats_ms(full), "with_transit": with_transit},
        "earliest_arrival_core": stats_ms(core),
        "range_08_09": {
            **stats_ms(range_times),
            "mean_itineraries": round(float(np.mean(n_journeys)), 2),
        },
    }
    out = save("helsinki", result)
    sys.stdout.write(json.dumps(result, indent=2) + f"\nsaved {out}\n")


if __name__ == "__main__":
    main()

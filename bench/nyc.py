"""New York scale benchmark: MTA subway, buses of all five boroughs, LIRR and Metro-North.

    python -m bench.nyc            # fetch + convert (first run), compile one weekday, time

Footpaths here come from `transfers.txt` and straight-line distance between stops (times a
detour factor of 1.3 at 1.33 m/s, up to 10 minutes): the project has no New York street
network, so queries are stop to stop. Figures are printed and saved to
`bench/results/nyc.json`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import numpy as np

from bench.common import machine, peak_rss_mib, run_snippet, save, stats_ms
from bench.nyc_gtfs import DEFAULT_CACHE_DIR, prepare_nyc_gtfs, weekday_in_range

log = logging.getLogger("bench.nyc")

LOAD_SNIPPET = """
import time, sys
t = time.perf_counter()
from network.compiled import Network
from routing.raptor import Raptor
net = Network.load(sys.argv[1])
tt, trips = net.timetable(sys.argv[2])
r = Raptor(tt)
print(time.perf_counter() - t)  # a JSON number
"""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--range-queries", type=int, default=100)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    from ingest.network_build import build_network
    from network.compiled import Network
    from routing.raptor import Raptor, StopTimes

    gtfs = prepare_nyc_gtfs()
    date = weekday_in_range(gtfs)
    out = DEFAULT_CACHE_DIR / f"network-{date}"
    t = time.perf_counter()
    build_network(
        gtfs, [], out, name=f"New York MTA {date}", dates=[date], progress=False, force=args.rebuild
    )
    build_s = time.perf_counter() - t
    net = Network.load(out)
    key = net.manifest["service_dates"][date]
    build_seconds = net.manifest["build_seconds"]

    # load time in a fresh interpreter (page cache warm: the files were just written or read)
    loads = [float(run_snippet(LOAD_SNIPPET, str(out), key)) for _ in range(5)]

    tt, _ = net.timetable(key)
    raptor = Raptor(tt)
    served = np.flatnonzero(np.diff(tt.stop_pat_ptr) > 0)
    rng = np.random.default_rng(args.seed)
    # warm the JIT (compiled code is cached on disk after the first run)
    raptor.earliest_arrival(
        StopTimes.of({int(served[0]): 0}), StopTimes.of({int(served[1]): 0}), 8 * 3600
    )

    ea_times, found, transfers = [], 0, []
    for _ in range(args.queries):
        a, b = (int(x) for x in rng.choice(served, 2, replace=False))
        t0 = int(rng.integers(6 * 3600, 22 * 3600))
        t = time.perf_counter()
        js = raptor.earliest_arrival(StopTimes.of({a: 0}), StopTimes.of({b: 0}), t0)
        ea_times.append(time.perf_counter() - t)
        if js:
            found += 1
            transfers.append(js[-1].n_transfers)

    range_times, range_found = [], []
    for _ in range(args.range_queries):
        a, b = (int(x) for x in rng.choice(served, 2, replace=False))
        t = time.perf_counter()
        js = raptor.range_query(StopTimes.of({a: 0}), StopTimes.of({b: 0}), 8 * 3600, 3600)
        range_times.append(time.perf_counter() - t)
        range_found.append(len(js))

    result = {
        "benchmark": "nyc",
        "machine": machine(),
        "service_date": date,
        "network": {
            "stops": int(tt.n_stops),
            "stops_served": len(served),
            "patterns": int(tt.n_patterns),
            "trips": int(tt.n_trips),
            "stop_events": int(tt.n_events),
            "footpaths": len(tt.transfer_to),
            "footpaths_source": "transfers.txt + straight-line distance x1.3 (no street network)",
        },
        "build_seconds": build_seconds,
        "build_call_seconds": round(build_s, 1),
        "load_seconds": {
            "median": round(float(np.median(loads)), 3),
            "max": round(max(loads), 3),
            "runs": len(loads),
        },
        "earliest_arrival": {
            **stats_ms(ea_times),
            "queries_with_result": found,
            "mean_transfers": round(float(np.mean(transfers)), 2),
        },
        "range_08_09": {
            **stats_ms(range_times),
            "mean_journeys": round(float(np.mean(range_found)), 2),
        },
        "peak_rss_mib": peak_rss_mib(),
    }
    path = save("nyc", result)
    sys.stdout.write(f"{result}\nsaved {path}\n")


if __name__ == "__main__":
    main()

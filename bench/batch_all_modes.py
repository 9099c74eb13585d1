"""Batch benchmark: the embedded city's zone matrix, 4 departures, every mode (issue 13).

    python -m bench.batch_all_modes [--origins N]

The matrix is the evaluation's: the representative points of the 162 demand zones
(`data/helsinki/demand/`, the points the demand's zone ids resolve to), every zone
against every zone, departing 07:15, 07:45, 08:15 and 08:45 on the embedded service
day. It is routed and priced twice by `evaluation.all_modes` (one search per origin and
departure, /plan's pricer): with walk + transit only, and with every mode (walk, transit,
the rider's own bike and the SYNTHETIC fleets at full density: 219 city-bike stations, 900
scooters, the car-share fleet). Each is run twice: as /plan answers (62 of the 162 points
lie beyond the embedded streets, and /plan refuses them), and with `beyond_streets` (their
walks estimated, walk + transit from and to them). Then the last matrix is turned into the
`OptionTable` of the SYNTHETIC gravity demand.

Printed and saved to `bench/results/batch_all_modes.json`: wall time of each run (the
destinations' searches, then the origins), per origin the median and p95 (its 4
departures), the sizes (points, pairs, points /plan refuses, options by family) and the
machine. One process, one thread.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, save, stats_ms

log = logging.getLogger("bench.batch_all_modes")

DEPARTURES_S = (7 * 3600 + 15 * 60, 7 * 3600 + 45 * 60, 8 * 3600 + 15 * 60, 8 * 3600 + 45 * 60)
EVERY_MODE = ("WALK", "TRANSIT", "BICYCLE", "BICYCLE_RENTAL", "SCOOTER_RENTAL", "CAR_RENTAL")
WALK_TRANSIT = ("WALK", "TRANSIT")
DEMAND = "data/helsinki/demand/od-gravity-synthetic.csv"
ZONES = "data/helsinki/demand/demand-zones.geojson"


def _service(net: Any) -> Any:
    from providers.store import open_store
    from providers.synthetic import embedded_synthetic_fleets, synthetic_snapshots
    from trips.service import PlanningService

    now = int(time.time())
    store = open_store("memory")
    for snapshot in synthetic_snapshots(embedded_synthetic_fleets(net, now_s=now), now):
        store.put_snapshot(snapshot)
    service = PlanningService(net, max_window_min=240)
    service.warm_up()
    assert service.rental_fleets is not None
    service.rental_fleets.refresh(store.fresh_snapshots(now))
    return service


def _run(
    service: Any, modes: tuple[str, ...], o_pts: np.ndarray, d_pts: np.ndarray, beyond: bool
) -> Any:
    from evaluation.all_modes import MatrixRouter, route_matrix
    from trips.request import TripRequest

    net = service.net
    date = net.service_dates[0]
    departures = [net.at(date, s) for s in DEPARTURES_S]
    template = TripRequest(0.0, 0.0, 0.0, 0.0, at=departures[0], modes=frozenset(modes))
    started = time.perf_counter()
    router = MatrixRouter(
        service, template, d_pts[:, 0], d_pts[:, 1], departures, beyond_streets=beyond
    )
    dests_s = time.perf_counter() - started

    def progress(done: int, total: int) -> None:
        log.info("  %s: %d / %d origins, %.0f s", "+".join(modes), done, total,
                 time.perf_counter() - started)

    matrix = route_matrix(router, o_pts[:, 0], o_pts[:, 1], block_size=16, progress=progress)
    wall_s = time.perf_counter() - started
    routed = [s for s in matrix.origin_s if math.isfinite(s)]
    families: Counter[str] = Counter(
        o.family for row in matrix.options for dep in row for pair in dep for o in pair
    )
    answered = int((matrix.best_arrive_s >= 0).sum())
    figures = {
        "modes": list(modes),
        "beyond_streets": beyond,
        "wall_s": round(wall_s, 2),
        "destinations_s": round(dests_s, 2),
        "per_origin_4_departures": stats_ms(routed),
        "pairs_x_departures": int(matrix.best_arrive_s.size),
        "answered_pairs_x_departures": answered,
        "origins_refused": matrix.refused_origins,
        "destinations_refused": sum(s is None for s in router.dests.snaps),
        "options_by_family": dict(sorted(families.items())),
    }
    return matrix, router, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origins", type=int, default=0, help="first N origins only (0: all)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from evaluation.all_modes import option_table
    from network.compiled import Network
    from network.embedded import ensure_embedded_network
    from pricing.demand import load_demand
    from pricing.zones import ZoneLayer

    net = Network.load(ensure_embedded_network(progress=False))
    service = _service(net)
    zones = ZoneLayer.from_geojson(Path(ZONES).read_bytes(), source=ZONES)
    demand = load_demand(DEMAND, zones=zones)
    # every zone's representative point (the points the demand's zone ids resolve to)
    lat, lon = zones.representative_points()
    o_pts = d_pts = np.column_stack([lat, lon])
    row_o = np.array([zones.index_of(str(z)) for z in demand.origin_id])
    row_d = np.array([zones.index_of(str(z)) for z in demand.dest_id])
    if args.origins:
        o_pts = o_pts[: args.origins]
    result: dict[str, Any] = {
        "benchmark": "batch_all_modes",
        "city": "embedded Helsinki (HSL GTFS 2022-02-22, OSM centre + Alppila)",
        "synthetic": "fleets and demand are SYNTHETIC",
        "origins": len(o_pts),
        "destinations": len(d_pts),
        "departures_s": list(DEPARTURES_S),
        "caveat": "measured on a 2-core machine shared with other work; one process",
    }
    runs = (
        ("walk_transit", WALK_TRANSIT, False),
        ("every_mode", EVERY_MODE, False),
        ("walk_transit_beyond_streets", WALK_TRANSIT, True),
        ("every_mode_beyond_streets", EVERY_MODE, True),
    )
    for name, modes, beyond in runs:
        matrix, router, result[name] = _run(service, modes, o_pts, d_pts, beyond)
        print(name, result[name])
    if not args.origins:  # the last run's matrix: every mode, every zone
        started = time.perf_counter()
        table, left_out, _ = option_table(
            matrix, demand, zones, row_o, row_d, router.seconds, router.batch.currency,
            synthetic_note="SYNTHETIC demand and fleets",
        )
        result["option_table"] = {
            "seconds": round(time.perf_counter() - started, 2),
            "slots": len(table.slots),
            "options": len(table),
            "parts": len(table.part_option),
            "left_out": left_out,
        }
    result["machine"] = machine()
    result["when"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    print(result)
    save("batch_all_modes", result)


if __name__ == "__main__":
    main()

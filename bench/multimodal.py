"""Multimodal /plan benchmark: all modes against walk + transit on the same queries.

    python -m bench.multimodal

Runs the request path of `/plan` (PlanService on its planning thread's code, without HTTP:
fleet views from the store, the multimodal search, itineraries, prices, the Pareto filter
and labels) between random pairs of walk-graph nodes (so both ends are on the streets, and
denser streets get more trips), departing 07:00-20:00 on the embedded service day.
The SYNTHETIC fleets are loaded in an in-memory store at their full density: 219 city-bike
stations, 900 scooters, the car-share stations and 80 free-floating cars.

Each query is planned twice, with `modes=WALK,TRANSIT` and with every mode, in alternating
order so neither side gets the warmer cache. Figures are printed and saved to
`bench/results/multimodal.json`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import sys
import time

import numpy as np

from bench.common import machine, save, stats_ms

log = logging.getLogger("bench.multimodal")

N_QUERIES = 200
ALL_MODES = "WALK,TRANSIT,BICYCLE_RENTAL,SCOOTER_RENTAL,CAR_RENTAL"
BASE_MODES = "WALK,TRANSIT"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from api.schemas import PlanQuery
    from network.compiled import Network
    from network.embedded import ensure_embedded_network
    from providers.store import open_store
    from providers.synthetic import embedded_synthetic_fleets, synthetic_snapshots
    from routing.errors import RoutingError
    from trips.errors import TripError
    from trips.model import TripPlan
    from trips.service import PlanningService

    net = Network.load(ensure_embedded_network(progress=False))
    now = int(time.time())
    store = open_store("memory")
    for snapshot in synthetic_snapshots(embedded_synthetic_fleets(net, now_s=now), now):
        store.put_snapshot(snapshot)
    service = PlanningService(net, max_window_min=240)
    service.warm_up()
    assert service.rental_fleets is not None
    service.rental_fleets.refresh(store.fresh_snapshots(now))
    walk = net.streets["walk"]
    rng = np.random.default_rng(6)
    date = net.service_dates[0]
    day = dt.datetime.fromisoformat(f"{date}T00:00:00+02:00")

    def query(modes: str, coords: tuple[float, ...], at: dt.datetime) -> TripPlan:
        q = PlanQuery(
            from_lat=coords[0],
            from_lon=coords[1],
            to_lat=coords[2],
            to_lon=coords[3],
            at=at,
            modes=modes,
        )
        return service.plan(q.to_request())

    # warm-up: compile kernels, build and cache the fleet views
    def node() -> tuple[float, float]:
        i = int(rng.integers(walk.n_nodes))
        return float(walk.node_lat[i]), float(walk.node_lon[i])

    for _ in range(5):
        with contextlib.suppress(RoutingError, TripError):
            query(ALL_MODES, (*node(), *node()), day + dt.timedelta(hours=8))
    all_s: list[float] = []
    base_s: list[float] = []
    counts: list[int] = []
    with_rental = 0
    mixed = 0
    skipped = 0
    while len(all_s) < N_QUERIES:
        at = day + dt.timedelta(seconds=int(rng.integers(7 * 3600, 20 * 3600)))
        coords = (*node(), *node())
        order = (ALL_MODES, BASE_MODES) if len(all_s) % 2 else (BASE_MODES, ALL_MODES)
        times: dict[str, float] = {}
        docs: dict[str, TripPlan] = {}
        try:
            for modes in order:
                t = time.perf_counter()
                docs[modes] = query(modes, coords, at)
                times[modes] = time.perf_counter() - t
        except (RoutingError, TripError):
            skipped += 1
            continue
        all_s.append(times[ALL_MODES])
        base_s.append(times[BASE_MODES])
        its = docs[ALL_MODES].itineraries
        counts.append(len(its))
        kinds = [{leg.mode for leg in it.legs} for it in its]
        rental = [k for k in kinds if k & {"BICYCLE_RENTAL", "SCOOTER_RENTAL", "CAR_RENTAL"}]
        with_rental += bool(rental)
        transit = {"BUS", "TRAM", "SUBWAY", "RAIL", "FERRY"}
        mixed += any(k & transit for k in rental)
    all_stats = stats_ms(all_s)
    base_stats = stats_ms(base_s)
    result = {
        "machine": machine(),
        "queries": N_QUERIES,
        "skipped_off_streets": skipped,
        "fleets": {pid: store.status(pid, now).vehicles for pid in store.provider_ids()},
        "stations": {pid: store.status(pid, now).stations for pid in store.provider_ids()},
        "all_modes": all_stats,
        "walk_transit": base_stats,
        "ratio_median": round(all_stats["median_ms"] / base_stats["median_ms"], 2),
        "ratio_p95": round(all_stats["p95_ms"] / base_stats["p95_ms"], 2),
        "itineraries_median": float(np.median(counts)),
        "queries_with_a_rental_itinerary": with_rental,
        "queries_with_transit_plus_rental": mixed,
    }
    path = save("multimodal", result)
    sys.stdout.write(json.dumps(result, indent=2) + f"\nsaved {path}\n")


if __name__ == "__main__":
    main()

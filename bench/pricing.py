"""Pricing benchmarks: what prices cost inside /plan, and a planner's 100 x 100 evaluation.

    python -m bench.pricing

1. /plan pricing overhead: for random Helsinki queries (walk network bbox, 06-22 h), the
   time `ItineraryPricer.price` adds to building the itineraries of one plan (real HSL fares,
   with and without an active policy), per plan call.
2. Evaluation: one revenue-neutral policy over a 100 x 100 OD matrix (10,000 pairs) of
   embedded demand zones (origins and destinations drawn with a fixed seed; one SYNTHETIC
   trip per pair), split into routing, policies (solve + metrics) and report rendering.

Figures are printed and saved to `bench/results/pricing.json`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, save, stats_ms

log = logging.getLogger("bench.pricing")

N_PLANS = 300
N_ZONES = 100
POLICY = "data/policies/city-wide-average.yaml"


def plan_overhead(net: Any, zones_path: Path) -> dict[str, Any]:
    """Time of pricing the itineraries of each plan, with no policy and with one active."""
    from pricing.policy import parse_policy
    from pricing.zones import ZoneLayer
    from routing.errors import OutsideNetworkError
    from trips.fare_facts import RideFactsReader
    from trips.itinerary import ItineraryWriter
    from trips.prices import ActivePolicy, ItineraryPricer

    date = net.service_dates[0]
    key = net.manifest["service_dates"][date]
    planner = net.planner(key)
    tt, trips = net.timetable(key)
    facts = RideFactsReader(net, tt, trips)
    zones = ZoneLayer.from_geojson(zones_path.read_bytes(), source=str(zones_path))
    flat = parse_policy(Path(POLICY).read_bytes()).with_parameter(263)
    active = ActivePolicy(flat, zones)
    writer = ItineraryWriter(net, planner, date, key)
    rng = np.random.default_rng(2022)
    min_lon, min_lat, max_lon, max_lat = net.streets["walk"].bbox
    base_s: list[float] = []
    policy_s: list[float] = []
    itineraries = 0
    while len(base_s) < N_PLANS:
        lat1, lat2 = rng.uniform(min_lat, max_lat, 2)
        lon1, lon2 = rng.uniform(min_lon, max_lon, 2)
        t0 = int(rng.integers(6 * 3600, 22 * 3600))
        try:
            plan = planner.plan(lat1, lon1, lat2, lon2, t0)
        except OutsideNetworkError:
            continue
        docs = [[d.source for d in writer.legs(j, plan)] for j in plan.journeys]
        ends = {"origin": (lat1, lon1), "destination": (lat2, lon2)}
        for sink, pol in ((base_s, None), (policy_s, active)):
            pricer = ItineraryPricer(net.fares, facts, dt.date.fromisoformat(date), pol)
            t = time.perf_counter()
            for j, legs in zip(plan.journeys, docs, strict=True):
                pricer.price(j, legs, **ends)
            sink.append(time.perf_counter() - t)
        itineraries += len(docs)
    return {
        "plans": N_PLANS,
        "itineraries": itineraries,
        "base_fares_per_plan": stats_ms(base_s),
        "with_policy_per_plan": stats_ms(policy_s),
    }


def evaluation(net: Any, zones_path: Path) -> dict[str, Any]:
    """A 100 x 100 matrix of demand zones, one policy, timed by stage."""
    from evaluation.evaluate import EvaluationSettings, base_costs, evaluate
    from pricing.demand import load_demand
    from pricing.policy import parse_policy
    from pricing.report import render_report
    from pricing.zones import ZoneLayer

    zones = ZoneLayer.from_geojson(zones_path.read_bytes(), source=str(zones_path))
    rng = np.random.default_rng(100)
    ids = [z.zone_id for z in zones.zones]
    origins = rng.choice(ids, size=min(N_ZONES, len(ids)), replace=False)
    dests = rng.choice(ids, size=min(N_ZONES, len(ids)), replace=False)
    lines = ["# synthetic: benchmark matrix, one trip per pair", "origin_zone,dest_zone,trips"]
    lines += [f"{o},{d},1" for o in origins for d in dests if o != d]
    demand = load_demand("\n".join(lines).encode(), zones=zones, source="bench 100x100")
    settings = EvaluationSettings(depart=dt.datetime.fromisoformat("2022-02-22T08:00+02:00"))
    t = time.perf_counter()
    base = base_costs(net, demand, zones, settings)
    routing_s = time.perf_counter() - t
    policy = parse_policy(Path(POLICY).read_bytes())
    t = time.perf_counter()
    doc = evaluate(base, [policy], settings, network=net, zones_source=str(zones_path))
    policies_s = time.perf_counter() - t
    t = time.perf_counter()
    html = render_report(doc)
    report_s = time.perf_counter() - t
    return {
        "pairs": len(demand.trips),
        "matrix": list(base.matrix.price_minor.shape),
        "routing_s": round(routing_s, 2),
        "routing_per_origin_ms": round(1000 * routing_s / base.matrix.price_minor.shape[0], 1),
        "policies_s": round(policies_s, 2),
        "report_s": round(report_s, 2),
        "total_s": round(routing_s + policies_s + report_s, 2),
        "report_bytes": len(html.encode()),
        "json_bytes": len(json.dumps(doc).encode()),
    }


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from network.compiled import Network
    from network.embedded import data_dir, ensure_embedded_network

    net = Network.load(ensure_embedded_network(progress=False))
    demand_dir = data_dir() / "helsinki" / "demand"
    net.planner(net.manifest["service_dates"][net.service_dates[0]])  # compile kernels
    result = {
        "machine": machine(),
        "plan_pricing": plan_overhead(net, demand_dir / "fare-zones.geojson"),
        "evaluation_100x100": evaluation(net, demand_dir / "demand-zones.geojson"),
    }
    path = save("pricing", result)
    sys.stdout.write(json.dumps(result, indent=2) + f"\nsaved {path}\n")


if __name__ == "__main__":
    main()

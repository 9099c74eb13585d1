"""New York at metro scale: one fare policy over ~4M OD pairs, walk + transit, on Dask.

    python -m bench.nyc_eval --workers 1 2

On the MTA weekday that `bench.nyc` compiles (subway, the buses of the five boroughs, LIRR
and Metro-North), the benchmark evaluates one policy (by default
``data/policies/city-wide-average.yaml``, its currency set to USD) against the status quo
over every pair of about 2,000 grid zones (`bench.nyc_eval_inputs`: 600 m cells holding a
served stop; SYNTHETIC gravity demand; a DECLARED base fare table, because the MTA's feeds
publish no fare files). It runs the real evaluation code: `pricing.demand.load_demand`,
`evaluation.evaluate.base_costs` with the OD matrix routed as origin blocks on a Dask
LocalCluster (`evaluation.distributed`), `evaluation.evaluate.evaluate`, and the JSON
document written out.

Each worker count is measured in a fresh interpreter (no warm caches, a clean peak RSS),
one after the other. Per run it records the wall time of each stage (zones + demand read,
cluster start, routing, the rest of the base costs, pricing + metrics of both scenarios, the
document), the peak RSS of every Dask worker and of the client, the CPU seconds each worker
spent (against the routing's wall time they tell whether the workers had their cores: other
jobs on a shared machine skew the speed-up), the load average, and the sizes. Then it gives
the speed-up of 2 workers over 1 and projects the time on N machines by Amdahl's law from
the 2-worker run: everything but the routing is serial (it runs in the client), the routing
divides by the number of machines. Figures are printed and saved to
``bench/results/nyc_eval.json``.

The inputs are written into the git-ignored ``.cache/nyc/eval/``: a copy of the merged feed
(symlinks) with the declared fare tables, the network compiled from it, ``zones.geojson``,
``demand-synthetic.csv``, the policy in USD and each run's evaluation document. Footpaths
and access/egress walks are straight-line distance x 1.3 (no New York street network).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, save
from bench.nyc_eval_inputs import (
    CELL_M,
    CENTRAL_RADIUS_M,
    DEMAND_NAME,
    FARES_NOTE,
    ZONES_NAME,
    demand_label,
    link_feed_with_fares,
    stop_departures,
    synthetic_demand,
    write_demand,
    write_zones,
    zone_grid,
)
from bench.nyc_gtfs import DEFAULT_CACHE_DIR, prepare_nyc_gtfs, weekday_in_range
from network.compiled import Network

log = logging.getLogger("bench.nyc_eval")

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = DEFAULT_CACHE_DIR / "eval"
DEFAULT_POLICY = REPO / "data" / "policies" / "city-wide-average.yaml"
#: the currency of the declared fare table; the policy is rewritten into it
CURRENCY = "USD"
#: local departure time of every trip (a weekday morning peak)
DEPART_LOCAL = "08:00"
#: machines the projection is given for
PROJECT_MACHINES = (1, 2, 4, 8, 16, 32)
#: demand rows accepted (the default of `load_demand` is 1M; 2,041 zones give 4.2M)
MAX_DEMAND_ROWS = 5_000_000


# -- inputs (once, in the parent) -------------------------------------------------------------


def prepare(cell_m: float, policy_src: Path) -> dict[str, Any]:
    """Feed, fares, network, zones, demand and policy on disk; returns their paths and sizes."""
    # deferred: the network build pulls in gtfs-kit and osmnx; a measured run never needs them
    from ingest.network_build import build_network

    t0 = time.perf_counter()
    gtfs = prepare_nyc_gtfs()
    date = weekday_in_range(gtfs)
    EVAL_DIR.mkdir(parents=True, exist_ok=True)
    fare_routes = link_feed_with_fares(gtfs, EVAL_DIR / "gtfs")
    network_dir = build_network(
        EVAL_DIR / "gtfs", [], EVAL_DIR / f"network-{date}",
        name=f"New York MTA {date} (declared fares)", dates=[date], progress=False,
    )
    network_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    net = Network.load(network_dir)
    tt, _ = net.timetable(net.manifest["service_dates"][date])
    departures = stop_departures(
        tt.n_stops, tt.stop_pat_ptr, tt.stop_pat_pattern, tt.pattern_trip_ptr
    )
    grid = zone_grid(net.stops.lat, net.stops.lon, departures, cell_m=cell_m)
    write_zones(EVAL_DIR / ZONES_NAME, grid)
    rows = write_demand(EVAL_DIR / DEMAND_NAME, grid, synthetic_demand(grid))
    policy_path = EVAL_DIR / f"{policy_src.stem}-{CURRENCY.lower()}.yaml"
    policy_path.write_text(_in_currency(policy_src.read_text(encoding="utf-8"), CURRENCY))
    return {
        "service_date": date,
        # paths relative to the repository: the saved result names no machine's directories
        "network_dir": _in_repo(network_dir),
        "zones_path": _in_repo(EVAL_DIR / ZONES_NAME),
        "demand_path": _in_repo(EVAL_DIR / DEMAND_NAME),
        "policy_path": _in_repo(policy_path),
        "policy_source": str(policy_src.relative_to(REPO)) if policy_src.is_relative_to(REPO)
        else policy_src.name,
        "seconds": {"feed_fares_network": round(network_s, 1),
                    "zones_demand_written": round(time.perf_counter() - t0, 1)},
        "sizes": {
            "stops": int(tt.n_stops),
            "stops_served": int((departures > 0).sum()),
            "zones": len(grid),
            "zones_central": int(grid.central.sum()),
            "demand_rows": rows,
            "routes_by_fare_kind": fare_routes,
            "demand_bytes": (EVAL_DIR / DEMAND_NAME).stat().st_size,
        },
        "demand_label": demand_label(grid),
    }


def _in_repo(path: Path) -> str:
    """`path` relative to the repository (where the benchmark keeps everything it writes)."""
    return str(Path(path).resolve().relative_to(REPO))


def _in_currency(policy_text: str, currency: str) -> str:
    """The policy document with its ``currency:`` line set to `currency` (amounts, if any,
    are kept as written: the default policy has none, its charge is solved).
    """
    lines = policy_text.splitlines()
    if not any(line.startswith("currency:") for line in lines):
        raise ValueError("the policy document has no top-level 'currency:' line to set")
    out = [f"currency: {currency}" if line.startswith("currency:") else line for line in lines]
    return "\n".join(out) + "\n"


# -- one measured run (in a fresh interpreter) --------------------------------------------


def peak_rss_of_this_process_mib() -> float:
    """Peak RSS of the calling process since it was started, from ``VmHWM``.

    Not `getrusage`'s ``ru_maxrss``: Linux keeps that across fork and exec, so a Dask worker
    (forked from the client, then exec'd) would report the client's size at the fork.
    """
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _cpu_seconds() -> float:
    """User + system CPU seconds of the calling process (run on each Dask worker)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_one(workers: int, inputs: dict[str, Any]) -> dict[str, Any]:
    """One evaluation on a LocalCluster of `workers` processes, timed stage by stage."""
    # deferred: the child imports the evaluation stack only once it knows it is a child
    from evaluation.distributed import dask_client
    from evaluation.evaluate import EvaluationSettings, base_costs, evaluate
    from pricing.demand import load_demand
    from pricing.policy import parse_policy
    from pricing.zones import ZoneLayer

    started = time.perf_counter()
    # other jobs on the machine skew a run: its load average says how busy the machine was
    load_before = os.getloadavg()
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    zones_path, demand_path = REPO / inputs["zones_path"], REPO / inputs["demand_path"]
    zones = ZoneLayer.from_geojson(zones_path.read_bytes(), source=zones_path.name)
    demand = load_demand(demand_path, zones=zones, source=demand_path.name,
                         max_rows=MAX_DEMAND_ROWS)
    policy = parse_policy((REPO / inputs["policy_path"]).read_bytes())
    net = Network.load(REPO / inputs["network_dir"])
    stages["zones_demand_read"] = time.perf_counter() - t0
    day = dt.date.fromisoformat(inputs["service_date"])
    hour, minute = (int(x) for x in DEPART_LOCAL.split(":"))
    settings = EvaluationSettings(
        depart=dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=net.timezone)
    )

    t0 = time.perf_counter()
    with dask_client("local", workers=workers) as client:
        stages["cluster_start"] = time.perf_counter() - t0
        cpu_before = client.run(_cpu_seconds)
        base = base_costs(net, demand, zones, settings, scheduler=client)
        # peak RSS of each worker process over the run, asked before the cluster closes
        worker_rss = client.run(peak_rss_of_this_process_mib)
        # CPU seconds each worker spent in the run: next to the routing's wall time it shows
        # whether the workers had their cores (other jobs on a shared machine take them)
        cpu_after = client.run(_cpu_seconds)
        worker_cpu = {w: cpu_after[w] - cpu_before.get(w, 0.0) for w in cpu_after}
    stages["routing"] = base.timing_s["routing"]
    stages["base_costs_other"] = base.timing_s["base_total"] - base.timing_s["routing"]

    t0 = time.perf_counter()
    doc = evaluate(base, [policy], settings, network=net, zones_source=zones_path.name)
    stages["pricing_metrics"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    out = EVAL_DIR / f"evaluation-{workers}-workers.json"
    text = json.dumps(doc, indent=1)
    out.write_text(text, encoding="utf-8")
    stages["document"] = time.perf_counter() - t0
    total = time.perf_counter() - started

    m = base.matrix
    return {
        "workers": workers,
        "total_s": round(total, 2),
        "stages_s": {k: round(v, 2) for k, v in stages.items()},
        "serial_s": round(total - stages["routing"], 2),
        "load_average_1_5_15": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in os.getloadavg()],
        },
        "peak_rss_mib": {
            "client": peak_rss_of_this_process_mib(),
            "workers": sorted(worker_rss.values()),
        },
        "worker_cpu_s": sorted(round(v, 1) for v in worker_cpu.values()),
        # share of the routing's wall time x workers the workers spent on a CPU (1.0: each
        # had a core to itself throughout)
        "worker_cpu_share": round(
            sum(worker_cpu.values()) / (stages["routing"] * workers), 3
        ),
        "sizes": {
            "demand_rows": len(demand),
            "matrix": list(m.price_minor.shape),
            "pairs_routed": m.pairs,
            "pairs_transit": int(m.is_transit.sum()),
            "pairs_walk": int((np.isfinite(m.travel_time_s) & ~m.is_transit).sum()),
            "pairs_unreachable": int((~np.isfinite(m.travel_time_s)).sum()),
            "pairs_unpriced": int(((m.price_minor < 0) & m.is_transit).sum()),
            "pairs_evaluated": int(base.keep.sum()),
            "document_bytes": len(text.encode()),
        },
        "routing_ms_per_origin": round(1000 * stages["routing"] / max(m.price_minor.shape[0], 1),
                                       1),
        "scenarios": [_scenario_summary(s) for s in doc["scenarios"]],
        "unreachable_by_reason": doc["demand"]["matrix_unreachable_by_reason"],
        "demand_note": doc["demand"]["note"],
        # equal across worker counts when the runs computed the same evaluation
        "scenarios_sha256": hashlib.sha256(
            json.dumps(doc["scenarios"], sort_keys=True).encode()
        ).hexdigest(),
        "document": _in_repo(out),
    }


def _scenario_summary(s: dict[str, Any]) -> dict[str, Any]:
    """What the summary shows of one scenario."""
    return {
        "policy_id": s["policy_id"],
        "solved": s["solved"],
        "revenue_minor": s["revenue_minor"],
        "trips": round(s["trips"], 1),
        "mean_price_minor": {k: round(v, 1) for k, v in s["mean_price_minor"].items()},
        "gini": round(s["gini"], 4),
        "accessibility": {k: round(v, 1) for k, v in s["accessibility"].items()},
    }


# -- the comparison --------------------------------------------------------------------------


def _child(workers: int, inputs_path: Path, out_path: Path) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and read its result."""
    cmd = [sys.executable, "-m", "bench.nyc_eval", "--run-one", str(workers),
           "--inputs", str(inputs_path), "--out", str(out_path)]
    log.info("run with %d Dask worker(s): %s", workers, " ".join(cmd[1:]))
    subprocess.run(cmd, cwd=REPO, check=True)
    result: dict[str, Any] = json.loads(out_path.read_text(encoding="utf-8"))
    return result


def projection(run: dict[str, Any]) -> dict[str, Any]:
    """Amdahl's law from one run: serial part + routing / N machines like this one."""
    serial = run["serial_s"]
    routing = run["stages_s"]["routing"]
    return {
        "from_run_with_workers": run["workers"],
        "method": (
            "T(N) = serial + routing / N: the serial part (reading zones and demand, cluster "
            "start, zone assignment, pricing, metrics, document; all in the client) as "
            "measured, the routing of that run divided by N machines of this kind with the "
            "same workers each; ignores the extra transfer of blocks and assumes the origin "
            "blocks spread evenly"
        ),
        "serial_s": serial,
        "routing_s": routing,
        "minutes_on_n_machines": {
            str(n): round((serial + routing / n) / 60, 1) for n in PROJECT_MACHINES
        },
        "limit_minutes": round(serial / 60, 1),
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The printed summary."""
    sizes = result["inputs"]["sizes"]
    lines = [
        f"New York {result['service_date']} {DEPART_LOCAL}: {sizes['stops_served']:,} served "
        f"stops, {sizes['zones']:,} zones ({result['cell_m']:g} m cells, "
        f"{sizes['zones_central']} central), {sizes['demand_rows']:,} SYNTHETIC OD rows",
        f"  {FARES_NOTE}",
    ]
    for run in result["runs"]:
        st = run["stages_s"]
        lines.append(
            f"  {run['workers']} worker(s): total {run['total_s'] / 60:.1f} min; "
            + ", ".join(f"{k} {v:.1f} s" for k, v in st.items())
            + f"; peak RSS client {run['peak_rss_mib']['client']:.0f} MiB, workers "
            + ", ".join(f"{v:.0f}" for v in run["peak_rss_mib"]["workers"])
            + f" MiB; workers on a CPU {run['worker_cpu_share']:.0%} of the routing time"
        )
    if result.get("speedup_2_vs_1") is not None:
        lines.append(f"  speed-up 2 vs 1 workers: {result['speedup_2_vs_1']:.2f}x "
                     f"(routing alone {result['routing_speedup_2_vs_1']:.2f}x)")
    if result.get("same_results") is not None:
        lines.append(f"  same scenarios with every worker count: {result['same_results']}")
    proj = result.get("projection")
    if proj:
        lines.append(
            "  projected minutes on N machines: "
            + ", ".join(f"N={n}: {v}" for n, v in proj["minutes_on_n_machines"].items())
            + f" (limit {proj['limit_minutes']})"
        )
    return lines


def compare(workers: list[int], cell_m: float, policy: Path) -> dict[str, Any]:
    """Prepare once, run each worker count in its own interpreter, compare and project."""
    inputs = prepare(cell_m, policy)
    inputs_path = EVAL_DIR / "inputs.json"
    inputs_path.write_text(json.dumps(inputs, indent=2), encoding="utf-8")
    runs = [_child(w, inputs_path, EVAL_DIR / f"run-{w}.json") for w in workers]
    by_workers = {r["workers"]: r for r in runs}
    result: dict[str, Any] = {
        "benchmark": "nyc_eval",
        "machine": machine(),
        "note": "measured on a machine shared with other jobs unless stated otherwise",
        "service_date": inputs["service_date"],
        "depart_local": DEPART_LOCAL,
        "cell_m": cell_m,
        "central_rule": f"cell centre within {CENTRAL_RADIUS_M / 1000:g} km of Times Square",
        "fares": FARES_NOTE,
        "demand": inputs["demand_label"],
        "walking": "access, egress and footpaths: straight line x 1.3 at 1.33 m/s "
        "(no New York street network)",
        "inputs": inputs,
        "runs": runs,
        "speedup_2_vs_1": None,
        "same_results": len({r["scenarios_sha256"] for r in runs}) == 1 if len(runs) > 1
        else None,
    }
    if 1 in by_workers and 2 in by_workers:
        one, two = by_workers[1], by_workers[2]
        result["speedup_2_vs_1"] = round(one["total_s"] / two["total_s"], 3)
        result["routing_speedup_2_vs_1"] = round(
            one["stages_s"]["routing"] / two["stages_s"]["routing"], 3
        )
    result["projection"] = projection(by_workers[max(by_workers)])
    return result


def main(argv: list[str] | None = None) -> None:
    """Parse the command line: the comparison, or (internal) one measured run."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                    help="Dask worker counts to measure, each in a fresh interpreter")
    ap.add_argument("--cell-m", type=float, default=CELL_M, help="zone grid cell side, metres")
    ap.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
    ap.add_argument("--run-one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--inputs", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.run_one is not None:
        # deferred: dask logs every worker start at INFO; a child keeps its output short
        import dask.config

        dask.config.set({"logging.distributed": "warning"})
        inputs = json.loads(args.inputs.read_text(encoding="utf-8"))
        result = run_one(args.run_one, inputs)
        args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
        return
    if any(w < 1 for w in args.workers):
        ap.error(f"--workers {args.workers}: every count must be at least 1")
    result = compare(sorted(set(args.workers)), args.cell_m, args.policy.resolve())
    path = save("nyc_eval", result)
    sys.stdout.write("\n".join(summary_lines(result)) + f"\nsaved {path}\n")


if __name__ == "__main__":
    main()

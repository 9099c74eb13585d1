"""`fairtrip policy validate|evaluate`: a planner's tools, without running the server.

`evaluate` compares one or more policies with the status quo on an OD demand table and
writes `evaluation.json` and an offline `report.html`. On the embedded city the demand and
zones default to the shipped SYNTHETIC gravity-model table and its zones. `--scheduler`
routes the OD matrix on Dask instead of in this process (same results).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from fairtrip.args import UsageError, parse_when
from network.compiled import Network
from network.embedded import data_dir, ensure_embedded_network

if TYPE_CHECKING:
    from pricing.demand import Demand
    from pricing.policy import Policy
    from pricing.zones import ZoneLayer

log = logging.getLogger(__name__)

#: the embedded city's demand files (see data/helsinki/demand/README.md)
EMBEDDED_DEMAND = "helsinki/demand/od-gravity-synthetic.csv"
EMBEDDED_ZONES = "helsinki/demand/demand-zones.geojson"
EMBEDDED_DEPART = "2022-02-22T08:00+02:00"


def _read_policy(path: Path) -> Policy:
    # deferred, like every pricing and evaluation import here: they load pydantic, shapely
    # and matplotlib, and every `fairtrip` command imports this module to build its parser
    from pricing.policy import parse_policy

    if not path.is_file():
        raise UsageError(f"policy file {path} does not exist")
    return parse_policy(path.read_bytes())


def _validate(args: argparse.Namespace) -> int:
    for path in args.policy:
        p = _read_policy(path)
        sys.stdout.write(f"{path}: ok — {p.id} v{p.version}: {p.name}\n")
        for line in p.describe():
            sys.stdout.write(f"  - {line}\n")
    return 0


def load_inputs(
    network_arg: Path | None, demand_arg: Path | None, zones_arg: Path | None
) -> tuple[Network, Demand, ZoneLayer, str]:
    """(network, demand, zones, zones source) with the embedded defaults filled in."""
    from pricing.demand import load_demand  # deferred: see _read_policy
    from pricing.zones import ZoneLayer  # deferred: see _read_policy

    embedded = network_arg is None
    net = Network.load(
        network_arg if network_arg is not None else ensure_embedded_network(progress=True)
    )
    zones_path = zones_arg or (data_dir() / EMBEDDED_ZONES if embedded else None)
    if zones_path is None:
        raise UsageError("give --zones ZONES.geojson (central/peripheral polygons)")
    if not zones_path.is_file():
        raise UsageError(f"zones file {zones_path} does not exist")
    zones = ZoneLayer.from_geojson(zones_path.read_bytes(), source=str(zones_path))
    demand_path = demand_arg or (data_dir() / EMBEDDED_DEMAND if embedded else None)
    if demand_path is None:
        raise UsageError("give --demand OD.csv")
    if not demand_path.is_file():
        raise UsageError(f"demand file {demand_path} does not exist")
    demand = load_demand(demand_path, zones=zones, source=str(demand_path))
    return net, demand, zones, str(zones_path)


def _evaluate(args: argparse.Namespace) -> int:
    # deferred: see _read_policy
    from evaluation.evaluate import EvaluationSettings, base_costs, evaluate
    from pricing.report import write_report  # deferred: see _read_policy

    if args.dask_workers is not None and args.scheduler != "local":
        raise UsageError("--dask-workers sizes a LocalCluster: use it with --scheduler local")
    if args.scheduler and not getattr(args, "verbose", False):
        # deferred like the rest; distributed sets its loggers from dask's config when it is
        # imported (INFO: every worker start, every cancelled task): WARNING, like this command
        import dask.config

        dask.config.set({"logging.distributed": "warning"})
    policies = [_read_policy(p) for p in args.policy]
    started = time.perf_counter()
    net, demand, zones, zones_source = load_inputs(args.network, args.demand, args.zones)
    settings = EvaluationSettings(
        depart=parse_when(args.at or EMBEDDED_DEPART),
        access_time_max_min=args.max_time_min,
        access_price_max_minor=args.max_price_minor,
    )
    bar = tqdm(total=100, desc="evaluate", unit="%", disable=args.quiet)
    stage_share = {"routing": (0, 85), "policies": (85, 99)}

    def progress(stage: str, fraction: float) -> None:
        lo, hi = stage_share.get(stage, (0, 100))
        bar.n = int(lo + (hi - lo) * fraction)
        bar.set_postfix_str(stage)
        bar.refresh()

    base = base_costs(
        net, demand, zones, settings, progress=progress, scheduler=args.scheduler,
        dask_workers=args.dask_workers,
    )
    doc = evaluate(base, policies, settings, network=net, zones_source=zones_source,
                   progress=progress)
    t0 = time.perf_counter()
    doc["timing_s"]["total"] = round(time.perf_counter() - started, 3)
    json_path, html_path = write_report(doc, args.out)
    doc["timing_s"]["report"] = round(time.perf_counter() - t0, 3)
    bar.n = 100
    bar.close()
    sys.stdout.write(f"{json_path}\n{html_path}\n")
    for s in doc["scenarios"]:
        means = s["mean_price_minor"]
        sys.stdout.write(
            f"  {s['policy_id']}: revenue {s['revenue_minor'] / 100:,.2f} "
            f"({s['revenue_change']:+.3%}), mean central {means.get('central', 0):.0f} / "
            f"peripheral {means.get('peripheral', 0):.0f} minor, gini {s['gini']:.4f}\n"
        )
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: expected a whole number of at least 1")
    return value


def add_cli(sub: Any) -> None:
    """Register `fairtrip policy ...` on the main parser's subcommands."""
    p = sub.add_parser("policy", help="validate and evaluate fare policies")
    ps = p.add_subparsers(dest="policy_command", required=True)
    v = ps.add_parser("validate", help="check policy documents (YAML or JSON)")
    v.add_argument("policy", type=Path, nargs="+")
    v.set_defaults(func=_validate)
    e = ps.add_parser(
        "evaluate", help="compare policies with the status quo on OD demand; JSON + HTML report"
    )
    e.add_argument("policy", type=Path, nargs="+", help="policy documents to compare")
    e.add_argument("--demand", type=Path, help="OD CSV (default: embedded synthetic gravity)")
    e.add_argument("--zones", type=Path, help="zones GeoJSON (default: embedded demand zones)")
    e.add_argument("--network", type=Path, help="compiled network (default: embedded Helsinki)")
    e.add_argument("--at", help=f"departure, ISO-8601 with offset (default {EMBEDDED_DEPART})")
    e.add_argument("--max-time-min", type=float, default=30.0,
                   help="accessibility: travel time limit (default 30)")
    e.add_argument("--max-price-minor", type=int, default=300,
                   help="accessibility: fare limit in minor units (default 300)")
    e.add_argument("--out", type=Path, required=True, help="directory for the JSON and HTML")
    e.add_argument(
        "--scheduler",
        help="route on Dask: 'local' (a LocalCluster for this run) or the address of an "
        "existing scheduler, tcp://host:8786 (its workers must see the network directory); "
        "default: in this process",
    )
    e.add_argument("--dask-workers", type=_positive_int, metavar="N",
                   help="worker processes of the LocalCluster (default: one per core)")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=_evaluate)

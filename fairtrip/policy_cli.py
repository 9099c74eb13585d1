"""`fairtrip policy validate|evaluate`: a planner's tools, without running the server.

`evaluate` compares one or more policies with the status quo on an OD demand table and
writes `evaluation.json` and an offline `report.html`. On a built-in city (`--city`, or a
network compiled from one) the demand, zones and departure default to the city's shipped
SYNTHETIC gravity-model table, its zones and a weekday 08:00 of its feed. `--scheduler`
routes the OD matrix on Dask instead of in this process (same results).

A cross-mode policy (one charge per trip, per-km averaging, a first/last-mile credit, caps
across modes) prices whole trips over every mode, so `evaluate` sends it through
`evaluation.mobility` instead: every mode at 4 departures across the peak, a choice rule,
whole-system revenue neutrality, the money owed to each operator, and `mobility.json` +
`mobility.html`. Cross-mode and transit policies are evaluated in separate runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from fairtrip.args import UsageError, add_network_options, network_path, parse_when
from network.compiled import Network
from network.embedded import CityFiles, city_of_manifest

if TYPE_CHECKING:
    from evaluation.mobility import MobilitySettings

    # deferred: see _read_policy
    from pricing.choice import ChoiceRule
    from pricing.demand import Demand
    from pricing.policy import Policy
    from pricing.zones import ZoneLayer

log = logging.getLogger(__name__)



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
    args: argparse.Namespace,
) -> tuple[Network, Demand, ZoneLayer, str, CityFiles | None]:
    """(network, demand, zones, zones source, built-in city or None) with the city's
    defaults filled in.
    """
    from pricing.demand import load_demand  # deferred: see _read_policy
    from pricing.zones import ZoneLayer  # deferred: see _read_policy

    net = Network.load(network_path(args))
    city = city_of_manifest(net.manifest)
    zones_arg, demand_arg = args.zones, args.demand
    zones_path = zones_arg or (city.demand_zones if city is not None else None)
    if zones_path is None:
        raise UsageError("give --zones ZONES.geojson (central/peripheral polygons)")
    if not zones_path.is_file():
        raise UsageError(f"zones file {zones_path} does not exist")
    zones = ZoneLayer.from_geojson(zones_path.read_bytes(), source=str(zones_path))
    demand_path = demand_arg or (city.demand_csv if city is not None else None)
    if demand_path is None:
        raise UsageError("give --demand OD.csv")
    if not demand_path.is_file():
        raise UsageError(f"demand file {demand_path} does not exist")
    demand = load_demand(demand_path, zones=zones, source=str(demand_path))
    return net, demand, zones, str(zones_path), city


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
    if any(p.is_cross_mode for p in policies):
        return _evaluate_mobility(args, policies)
    started = time.perf_counter()
    net, demand, zones, zones_source, city = load_inputs(args)
    if args.at is None and city is None:
        raise UsageError("give --at (the departure): the network is not a built-in city")
    settings = EvaluationSettings(
        depart=parse_when(args.at or (city.depart if city is not None else "")),
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


def _mobility_settings(args: argparse.Namespace, depart: str) -> MobilitySettings:
    """The mobility evaluation's settings from the command line."""
    # deferred: see _read_policy
    from evaluation.mobility import MobilitySettings

    # deferred: see _read_policy
    from pricing.choice import CheapestNearFastestRule, ChoiceRuleError, LogitRule

    rule: ChoiceRule
    try:
        if args.rule == "cheapest":
            if args.value_of_time_minor is not None:
                raise UsageError("--value-of-time-minor is for --rule logit")
            rule = CheapestNearFastestRule()
        else:
            rule = LogitRule(value_of_time_minor_per_h=args.value_of_time_minor)
    except ChoiceRuleError as exc:
        raise UsageError(str(exc)) from None
    return MobilitySettings(
        depart=parse_when(depart), rule=rule, rechoose=not args.fixed_choice
    )


def _evaluate_mobility(args: argparse.Namespace, policies: list[Policy]) -> int:
    """Cross-mode policies over every mode (`evaluation.mobility`): mobility.json + .html."""
    # deferred: see _read_policy
    from evaluation.mobility import run_mobility, sample_zones

    # deferred: see _read_policy
    from pricing.mobility_report import policy_lines, write_mobility_report

    transit = [p.id for p in policies if not p.is_cross_mode]
    if transit:
        raise UsageError(
            f"{', '.join(transit)}: transit policies and cross-mode policies are evaluated in "
            "separate runs (cross-mode ones over every mode, transit ones on the transit matrix)"
        )
    if args.scheduler:
        raise UsageError("--scheduler routes the transit matrix; a cross-mode evaluation runs "
                         "in this process")
    started = time.perf_counter()
    net, demand, zones, zones_source, city = load_inputs(args)
    if args.at is None and city is None:
        raise UsageError("give --at (the departure): the network is not a built-in city")
    settings = _mobility_settings(args, args.at or (city.depart if city is not None else ""))
    if args.sample_zones is not None:
        demand = sample_zones(demand, zones, args.sample_zones)
    bar = tqdm(total=100, desc="evaluate", unit="%", disable=args.quiet)
    stage_share = {"routing": (0, 90), "policies": (90, 99)}

    def progress(stage: str, fraction: float) -> None:
        lo, hi = stage_share.get(stage, (0, 100))
        bar.n = int(lo + (hi - lo) * fraction)
        bar.set_postfix_str(stage)
        bar.refresh()

    doc = run_mobility(
        net, demand, zones, policies, settings, zones_source=zones_source, progress=progress
    )
    doc["timing_s"]["total"] = round(time.perf_counter() - started, 3)
    json_path, html_path = write_mobility_report(doc, args.out)
    bar.n = 100
    bar.close()
    sys.stdout.write(f"{json_path}\n{html_path}\n")
    for line in policy_lines(doc):
        sys.stdout.write(f"{line}\n")
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
    e.add_argument(
        "--demand", type=Path, help="OD CSV (default: the city's SYNTHETIC gravity table)"
    )
    e.add_argument("--zones", type=Path, help="zones GeoJSON (default: the city's demand zones)")
    add_network_options(e)
    e.add_argument(
        "--at",
        help="departure, ISO-8601 with offset (default: the city's, e.g. helsinki "
        "2022-02-22T08:00+02:00, nky 2019-11-05T08:00-05:00)",
    )
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
    m = e.add_argument_group("cross-mode policies (evaluated over every mode)")
    m.add_argument("--rule", choices=("logit", "cheapest"), default="logit",
                   help="choice rule: a logit over generalized cost (default) or the cheapest "
                   "option within 10 min of the fastest")
    m.add_argument("--value-of-time-minor", type=_positive_int, metavar="N",
                   help="the logit's value of time, minor units per hour (default: the "
                   "currency's, e.g. 1000 EUR cents, 1500 USD cents)")
    m.add_argument("--fixed-choice", action="store_true",
                   help="residents keep the status quo's choices under a policy (default: "
                   "they re-choose under its prices)")
    m.add_argument("--sample-zones", type=_positive_int, metavar="N",
                   help="only the trips between N zones, half central, half peripheral (a "
                   "quick check; the full run is the default)")
    e.set_defaults(func=_evaluate)

"""`fairtrip service ...`: the availability history and service equity, without the server.

`replay` fills one day of SYNTHETIC availability history for the embedded city's fleets, in
the durable store the server records into, so measures and distribution-rule compliance
can be looked at without waiting a day. Each subcommand is registered by its own `add_*`
function (see `add_cli`), and the store options (`add_store_options`, `store_url`) are
shared by every subcommand that reads or writes the history.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairtrip.args import UsageError, add_network_options, network_path, parse_when
from network.compiled import Network
from providers.synthetic import DEFAULT_SEED

if TYPE_CHECKING:
    from service_coverage.rule_store import RuleStore
    from service_coverage.rules import Rule
    from service_coverage.zones import ServiceZones

log = logging.getLogger(__name__)


# -- shared by the subcommands -----------------------------------------------------------------


def add_store_options(p: argparse.ArgumentParser) -> None:
    """--store-url / --db: where the history is (default: the server's durable store)."""
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--store-url",
        help="durable store URL (sqlite:///abs/path.sqlite3 or redis://...); default: the "
        "server's ($FAIRTRIP_POLICY_STORE_URL, else policies.sqlite3 in $FAIRTRIP_CACHE or "
        "~/.cache/fairtrip)",
    )
    where.add_argument("--db", type=Path, help="SQLite file for the history (tests, demos)")


def store_url(args: argparse.Namespace) -> str:
    """The durable store URL the options name, else the one the server uses."""
    if args.db is not None:
        if not args.db.parent.is_dir():
            raise UsageError(f"directory {args.db.parent} does not exist")
        return "sqlite:///" + str(args.db.resolve()).lstrip("/")
    if args.store_url:
        return str(args.store_url)
    # deferred: api.pricing loads the planning stack; only the server's default needs it
    from api.pricing import default_policy_store_url
    from api.settings import get_settings  # deferred: with api.pricing above

    return default_policy_store_url(get_settings())


def load_network(args: argparse.Namespace) -> Network:
    """The network --network names, or the built-in city (compiled on first use)."""
    return Network.load(network_path(args))


def service_zones(path: Path | None, network: Network) -> ServiceZones:
    """The zones given, else those the server records over (the embedded city's demand
    zones, or $FAIRTRIP_DEMAND_ZONES).
    """
    # deferred: shapely and the zone layer load for the service commands alone
    from service_coverage.zones import load_service_zones

    if path is None:
        # deferred: api.pricing loads the planning stack; only the server's default needs it
        from api.pricing import default_paths
        from api.settings import get_settings  # deferred: with api.pricing above

        path = default_paths(get_settings(), network)[1]
        if path is None:
            raise UsageError(
                f"network {network.name!r} is not the embedded city: give --zones "
                "ZONES.geojson (zones with class and population)"
            )
    if not path.is_file():
        raise UsageError(f"zones file {path} does not exist")
    return load_service_zones(path)


# -- replay ------------------------------------------------------------------------------------


def _parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"date {text!r} is not YYYY-MM-DD, e.g. 2022-02-22") from None


def _replay(args: argparse.Namespace) -> int:
    # deferred, like every service_coverage import here: the history, the churn and the
    # GBFS parser load for the service commands alone, not for every `fairtrip` command
    from service_coverage.errors import CoverageError
    from service_coverage.history import open_history_store  # deferred
    from service_coverage.replay import ReplayError, replay_day  # deferred: see above

    day = _parse_day(args.date)
    net = load_network(args)
    zones = service_zones(args.zones, net)
    url = store_url(args)
    try:
        # a replay deletes nothing: the server's recorder applies the retention
        history = open_history_store(url, retention_s=None)
        try:
            result = replay_day(
                net, day, history, zones, period_s=args.period_min * 60, seed=args.seed
            )
        finally:
            history.close()
    except (ReplayError, CoverageError) as exc:
        raise UsageError(str(exc)) from None
    out = sys.stdout
    out.write(
        f"SYNTHETIC availability history replayed: {result.day} ({result.timezone}), "
        f"every {args.period_min} min, {result.rounds} rounds of churn\n"
    )
    for provider_id, count in sorted(result.samples.items()):
        out.write(f"  {provider_id}: {count} samples\n")
    where = "/" + history.path.lstrip("/") if history.path != ":memory:" else history.path
    out.write(f"  {result.rows:,} rows in {result.elapsed_s:.1f} s -> {where}\n")
    return 0


def add_replay(ps: Any) -> None:
    """Register `fairtrip service replay`."""
    r = ps.add_parser(
        "replay",
        help="fill one day of SYNTHETIC availability history for the embedded city's fleets",
    )
    r.add_argument("--date", required=True, help="local day to replay, YYYY-MM-DD")
    add_network_options(r)
    r.add_argument(
        "--zones", type=Path, help="service zones GeoJSON (default: the server's demand zones)"
    )
    r.add_argument(
        "--period-min",
        type=int,
        default=5,
        help="minutes between samples, a divisor of 60 (default 5: 288 samples a day)",
    )
    r.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"seed of fleets and churn ({DEFAULT_SEED})"
    )
    add_store_options(r)
    r.set_defaults(func=_replay)


# -- report ------------------------------------------------------------------------------------


def _rules(store: RuleStore, wanted: list[str] | None) -> list[Rule]:
    """The rules named on the command line, else every stored rule and the shipped one."""
    # deferred: the rules load for the service commands alone
    from service_coverage.queries import find_rule, known_rule_ids

    known = known_rule_ids(store)
    unknown = [rule_id for rule_id in wanted or () if rule_id not in known]
    if unknown:
        raise UsageError(f"no distribution rule {unknown[0]!r}; known: {', '.join(known)}")
    return [find_rule(store, rule_id) for rule_id in wanted or known]


def _report(args: argparse.Namespace) -> int:
    # deferred: the history, the measures and matplotlib load for the service commands alone
    from service_coverage.errors import CoverageError
    from service_coverage.history import open_history_store  # deferred: as above
    from service_coverage.report import (  # deferred: as above
        EmptyPeriodError,
        build_service_report,
        write_service_report,
    )
    from service_coverage.rule_store import open_rule_store  # deferred: as above

    start, end = parse_when(args.from_), parse_when(args.to)
    if args.db is not None and not args.db.is_file():
        raise UsageError(
            f"no history file {args.db}; run `fairtrip service replay --date YYYY-MM-DD "
            f"--db {args.db}` first"
        )
    net = load_network(args)
    zones = service_zones(args.zones, net)
    url = store_url(args)
    where = url
    try:
        with contextlib.closing(open_history_store(url, retention_s=None)) as history:
            where = history.path
            with contextlib.closing(open_rule_store(url)) as rule_store:
                rules = _rules(rule_store, args.rule)
            doc = build_service_report(history, zones, rules, start=start, end=end, tz=net.timezone)
        paths = write_service_report(doc, args.out)
    except EmptyPeriodError:
        raise UsageError(
            f"no availability history between {start.isoformat()} and {end.isoformat()} in "
            f"{where}; record it with `fairtrip service replay --date "
            f"{start.astimezone(net.timezone).date()}` (SYNTHETIC fleets) or a running "
            "server (`fairtrip serve`)"
        ) from None
    except CoverageError as exc:
        raise UsageError(str(exc)) from None
    for path in paths:
        sys.stdout.write(f"{path}\n")
    return 0


def add_report(ps: Any) -> None:
    """Register `fairtrip service report`."""
    r = ps.add_parser(
        "report",
        help="service measures and rule compliance over a period: service.json + report.html",
    )
    r.add_argument(
        "--from",
        dest="from_",
        required=True,
        metavar="ISO",
        help="start, ISO-8601 with offset (included), e.g. 2022-02-22T00:00+02:00",
    )
    r.add_argument(
        "--to", required=True, metavar="ISO", help="end, ISO-8601 with offset (excluded)"
    )
    r.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="directory to write the two files to"
    )
    r.add_argument(
        "--rule",
        action="extend",
        nargs="+",
        metavar="ID",
        help="distribution rules to judge (default: every stored rule and the shipped one)",
    )
    add_network_options(r)
    r.add_argument(
        "--zones", type=Path, help="service zones GeoJSON (default: the server's demand zones)"
    )
    add_store_options(r)
    r.set_defaults(func=_report)


# -- the command -------------------------------------------------------------------------------


def add_cli(sub: Any) -> None:
    """Register `fairtrip service ...` on the main parser's subcommands."""
    p = sub.add_parser(
        "service", help="service equity: availability history, measures, distribution rules"
    )
    ps = p.add_subparsers(dest="service_command", required=True)
    for register in (add_replay, add_report):  # one function per subcommand
        register(ps)

"""`fairtrip providers-simulate`: push a built-in city's SYNTHETIC fleets, with churn, to a server.

Each round sends every chosen provider's whole snapshot to
`PUT {url}/providers/{provider_id}/gbfs` with its push key, then churns the fleets and waits
`--interval` seconds (see `providers.simulator`). Exit status 0 when every push was accepted
(a 503 that succeeded on retry counts as accepted), 1 otherwise, 2 for a usage mistake.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from pathlib import Path
from typing import Any

from fairtrip.args import UsageError, add_network_options, network_path
from network.compiled import Network
from providers.errors import NoStreetGraphError
from providers.simulator import simulate
from providers.synthetic import (
    DEFAULT_SEED,
    Feeds,
    StreetNodes,
    embedded_synthetic_fleets,
    street_nodes,
)


def _provider_key(text: str) -> tuple[str, str]:
    """`PROVIDER=KEY` from the command line."""
    provider_id, sep, key = text.partition("=")
    if not sep or not provider_id.strip() or not key:
        raise argparse.ArgumentTypeError(
            f"--key {text!r} must be PROVIDER=KEY, e.g. synthetic-scooters-hki=s3cret"
        )
    return provider_id.strip(), key


def _positive(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number >= 0")
    return value


def add_cli(subparsers: Any) -> None:
    """Register the `providers-simulate` subcommand on `fairtrip`'s subparsers."""
    p = subparsers.add_parser(
        "providers-simulate",
        help="push a built-in city's SYNTHETIC fleets (with churn) to a running server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--url", required=True, help="the server, e.g. http://localhost:8000")
    p.add_argument(
        "--key",
        type=_provider_key,
        action="append",
        required=True,
        metavar="PROVIDER=KEY",
        help="push key of a provider (repeatable); only providers with a key are pushed",
    )
    p.add_argument("--interval", type=_positive, default=10.0, metavar="S", help="default 10 s")
    p.add_argument("--iterations", type=int, help="rounds to push (default: until Ctrl-C)")
    p.add_argument("--seed", type=int, default=1, help="seed of the churn (default 1)")
    p.add_argument(
        "--fleet-seed", type=int, default=DEFAULT_SEED, help="seed of the initial fleets"
    )
    add_network_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar on first build")
    p.set_defaults(func=run_cli)


def _fleets(path: Path, keys: dict[str, str], fleet_seed: int) -> tuple[Feeds, StreetNodes]:
    """The synthetic fleets of the providers in `keys`, and the street nodes churn moves to."""
    net = Network.load(path)
    try:
        feeds = embedded_synthetic_fleets(net, now_s=int(time.time()), seed=fleet_seed)
        nodes = StreetNodes(walk=street_nodes(net, "walk"), car=street_nodes(net, "car"))
    except NoStreetGraphError as exc:
        raise UsageError(f"{path}: {exc}") from None
    unknown = sorted(set(keys) - set(feeds))
    if unknown:
        raise UsageError(f"unknown provider(s) {unknown}; the synthetic ones are {sorted(feeds)}")
    return {pid: files for pid, files in feeds.items() if pid in keys}, nodes


def run_cli(args: argparse.Namespace) -> int:
    """`fairtrip providers-simulate`: exit 0 if every push was accepted, 1 otherwise."""
    keys = dict(args.key)
    path = network_path(args, progress=not args.quiet)
    feeds, nodes = _fleets(path, keys, args.fleet_seed)
    stats = asyncio.run(
        simulate(
            args.url,
            keys,
            feeds,
            interval_s=args.interval,
            seed=args.seed,
            iterations=args.iterations,
            nodes=nodes,
        )
    )
    sys.stdout.write(
        f"{stats.rounds} rounds, {stats.requests} requests: 2xx={stats.ok_2xx} "
        f"4xx={stats.client_4xx} 5xx={stats.server_5xx} errors={stats.transport_errors}, "
        f"p50 {1000 * stats.latency_quantile_s(0.5):.0f} ms, "
        f"p95 {1000 * stats.latency_quantile_s(0.95):.0f} ms\n"
    )
    # a 503 that was retried is not a failure; one still failing after the retries is
    failed = stats.client_4xx + stats.server_5xx + stats.transport_errors + stats.other_status
    return 0 if stats.requests > 0 and failed == stats.retries_503 else 1

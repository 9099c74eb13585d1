"""The `fairtrip` command: build, plan, serve, simulate, policy, service.

Every user mistake (a bad coordinate, a point off the map, a date without service, a
missing file) ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from fairtrip.args import (
    CITY_ENV,
    UsageError,
    add_network_options,
    city_key,
    join_negative_coordinates,
    parse_city,
    parse_latlon,
    parse_when,
)
from ingest.errors import IngestError
from network.cache import InputMissingError
from network.compiled import NetworkFileError
from network.embedded import CITY_KEYS, ensure_embedded_network
from pricing.errors import PricingError
from routing.errors import RoutingError
from trips.errors import TripError

#: UsageError and the value parsers are re-exported: the subcommands' modules use them
__all__ = ["UsageError", "main", "make_parser", "parse_latlon", "parse_when"]

log = logging.getLogger("fairtrip")


def _build(args: argparse.Namespace) -> int:
    if args.gtfs is None and not args.osm and args.out is None:
        out = ensure_embedded_network(city=city_key(args), progress=not args.quiet)
    else:
        if args.gtfs is None or args.out is None or args.city is not None:
            raise UsageError(
                "give --gtfs and --out (and --osm for streets), or only --city "
                f"({', '.join(CITY_KEYS)}) to compile a built-in city"
            )
        # deferred: the build-only libraries (gtfs-kit, osmnx, ...) load for `build` alone
        from ingest.network_build import build_network

        out = build_network(
            args.gtfs,
            args.osm or [],
            args.out,
            name=args.name,
            dates=args.date,
            progress=not args.quiet,
            force=args.force,
        )
    sys.stdout.write(f"{out}\n")
    return 0


def _serve(args: argparse.Namespace) -> int:
    # deferred: the web server is needed by `serve` alone
    import uvicorn

    # workers are separate processes: they read their settings from the environment
    if args.network is not None:
        os.environ["FAIRTRIP_NETWORK"] = str(args.network.resolve())
    os.environ["FAIRTRIP_HOST"] = args.host
    os.environ["FAIRTRIP_PORT"] = str(args.port)
    os.environ["FAIRTRIP_WORKERS"] = str(args.workers)
    if args.network is None:
        # compile the built-in city once here, not in every worker at the same time; the
        # workers' settings name the city too, for its demand, zones and fleets
        city = city_key(args)
        os.environ[CITY_ENV] = city
        os.environ["FAIRTRIP_NETWORK"] = str(ensure_embedded_network(city=city, progress=True))
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info" if args.verbose else "warning",
        access_log=args.verbose,
    )
    return 0


def make_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(prog="fairtrip", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="compile a city into a network directory")
    b.add_argument(
        "--city",
        type=parse_city,
        metavar="KEY",
        help=f"compile a built-in city: {', '.join(CITY_KEYS)} (the default, with no option "
        f"at all: ${CITY_ENV}, else helsinki)",
    )
    b.add_argument("--gtfs", type=Path, help="GTFS zip or directory")
    b.add_argument("--osm", type=Path, action="append", help="OSM .pbf extract (repeatable)")
    b.add_argument("--out", type=Path, help="network directory to write")
    b.add_argument("--name", help="a name for the network (default: the GTFS file name)")
    b.add_argument("--date", action="append", help="compile only this service date (repeatable)")
    b.add_argument("--force", action="store_true", help="rebuild even if up to date")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=_build)

    # the plan subcommand lives in its own module (it imports the API's query model)
    from fairtrip.plan_cli import add_cli as add_plan  # deferred: loads the planning stack

    add_plan(sub)

    s = sub.add_parser("serve", help="run the HTTP API on a built-in city or a compiled network")
    add_network_options(s)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1, help="worker processes (share the mmap)")
    s.set_defaults(func=_serve)

    # deferred: loads the simulator (httpx, tenacity, the synthetic fleets)
    from fairtrip.simulator_cli import add_cli as add_simulator

    add_simulator(sub)
    # deferred: the subcommand modules import UsageError from this one
    from fairtrip.policy_cli import add_cli as add_policy

    add_policy(sub)
    # deferred: loads the service commands (availability history, replay, report)
    from fairtrip.service_cli import add_cli as add_service

    add_service(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `fairtrip` console script."""
    raw = sys.argv[1:] if argv is None else list(argv)
    args = make_parser().parse_args(join_negative_coordinates(raw))
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    expected = (
        UsageError,
        RoutingError,
        TripError,
        NetworkFileError,
        InputMissingError,
        IngestError,
        PricingError,
    )
    try:
        return int(args.func(args))
    except expected as exc:
        sys.stderr.write(f"fairtrip {args.command}: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("fairtrip: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())

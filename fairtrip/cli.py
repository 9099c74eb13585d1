"""`fairtrip build` and `fairtrip plan`: compile a city, and ask it for trips.

Every user mistake (a bad coordinate, a point off the map, a date without service, a
missing file) ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from ingest.errors import IngestError
from network.cache import InputMissingError
from network.compiled import NetworkFileError
from routing.errors import RoutingError
from routing.planner import (
    DEFAULT_MAX_ACCESS_S,
    DEFAULT_MAX_DIRECT_WALK_S,
    DEFAULT_MAX_EGRESS_S,
)

log = logging.getLogger("fairtrip")


class UsageError(ValueError):
    """A command-line argument that cannot be understood."""


def parse_latlon(text: str) -> tuple[float, float]:
    """'60.1685,24.9316' -> (60.1685, 24.9316), checking range and finiteness."""
    parts = text.replace(" ", "").split(",")
    if len(parts) != 2:
        raise UsageError(f"coordinate {text!r} must be LAT,LON, e.g. 60.1685,24.9316")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise UsageError(f"coordinate {text!r} must be two numbers, LAT,LON") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise UsageError(f"coordinate {text!r} must be finite")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise UsageError(f"coordinate {text!r} is outside lat -90..90 / lon -180..180")
    return lat, lon


def parse_when(text: str) -> dt.datetime:
    """ISO-8601 date-time with a UTC offset, e.g. 2022-02-22T08:00+02:00."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"time {text!r} is not ISO-8601; use e.g. 2022-02-22T08:00+02:00"
        ) from None
    if when.tzinfo is None:
        raise UsageError(f"time {text!r} needs a UTC offset, e.g. 2022-02-22T08:00+02:00")
    return when


def _build(args: argparse.Namespace) -> int:
    from network.embedded import ensure_embedded_network

    if args.gtfs is None and not args.osm and args.out is None:
        out = ensure_embedded_network(progress=not args.quiet)
    else:
        if args.gtfs is None or args.out is None:
            raise UsageError(
                "give --gtfs and --out (and --osm for streets), or nothing at all "
                "to compile the embedded Helsinki city"
            )
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


def _plan(args: argparse.Namespace) -> int:
    from network.compiled import Network
    from routing.planner import PlanOptions
    from trips.itinerary import ItineraryWriter, format_text, plan_to_dict

    origin = parse_latlon(args.from_)
    dest = parse_latlon(args.to)
    when = parse_when(args.at)
    if args.network is None:
        from network.embedded import ensure_embedded_network

        path = ensure_embedded_network(progress=not args.quiet)
    else:
        path = args.network
    net = Network.load(path)
    date, key, seconds = net.resolve(when)
    options = PlanOptions(
        arrive_by=args.arrive_by,
        window_s=int(args.window * 60),
        max_walk_m=args.max_walk,
        walk_speed_mps=args.walk_speed,
        max_transfers=args.max_transfers,
        max_access_s=round(args.max_access_min * 60),
        max_egress_s=round(args.max_egress_min * 60),
        max_direct_walk_s=round(args.max_direct_walk_min * 60),
    )
    planner = net.planner(key)
    plan = planner.plan(origin[0], origin[1], dest[0], dest[1], seconds, options)
    writer = ItineraryWriter(net, planner, date, key, walk_speed_mps=args.walk_speed)
    doc = plan_to_dict(writer, plan)
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(format_text(doc))
    return 0


def _serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    # workers are separate processes: they read their settings from the environment
    if args.network is not None:
        os.environ["FAIRTRIP_NETWORK"] = str(args.network.resolve())
    os.environ["FAIRTRIP_HOST"] = args.host
    os.environ["FAIRTRIP_PORT"] = str(args.port)
    os.environ["FAIRTRIP_WORKERS"] = str(args.workers)
    if args.network is None:
        # compile the embedded city once here, not in every worker at the same time
        from network.embedded import ensure_embedded_network

        os.environ["FAIRTRIP_NETWORK"] = str(ensure_embedded_network(progress=True))
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
    b.add_argument("--gtfs", type=Path, help="GTFS zip or directory")
    b.add_argument("--osm", type=Path, action="append", help="OSM .pbf extract (repeatable)")
    b.add_argument("--out", type=Path, help="network directory to write")
    b.add_argument("--name", help="a name for the network (default: the GTFS file name)")
    b.add_argument("--date", action="append", help="compile only this service date (repeatable)")
    b.add_argument("--force", action="store_true", help="rebuild even if up to date")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=_build)

    q = sub.add_parser("plan", help="plan a trip between two coordinates")
    q.add_argument("--network", type=Path, help="compiled network (default: embedded Helsinki)")
    q.add_argument("--from", dest="from_", required=True, metavar="LAT,LON")
    q.add_argument("--to", required=True, metavar="LAT,LON")
    q.add_argument("--at", required=True, metavar="ISO-8601", help="e.g. 2022-02-22T08:00+02:00")
    q.add_argument("--arrive-by", action="store_true", help="--at is the latest arrival")
    q.add_argument(
        "--window",
        type=float,
        default=0,
        metavar="MIN",
        help="range query: every departure within this many minutes",
    )
    q.add_argument(
        "--max-walk",
        type=float,
        default=None,
        metavar="M",
        help="a metre cap on the walk to or from a stop, on top of the time limits",
    )
    q.add_argument(
        "--max-access-min",
        type=float,
        default=DEFAULT_MAX_ACCESS_S / 60,
        metavar="MIN",
        help=f"longest walk to a stop (default {DEFAULT_MAX_ACCESS_S // 60} min)",
    )
    q.add_argument(
        "--max-egress-min",
        type=float,
        default=DEFAULT_MAX_EGRESS_S / 60,
        metavar="MIN",
        help=f"longest walk from a stop (default {DEFAULT_MAX_EGRESS_S // 60} min)",
    )
    q.add_argument(
        "--max-direct-walk-min",
        type=float,
        default=DEFAULT_MAX_DIRECT_WALK_S / 60,
        metavar="MIN",
        help=f"longest walk-only trip (default {DEFAULT_MAX_DIRECT_WALK_S // 60} min)",
    )
    q.add_argument("--walk-speed", type=float, default=1.33, metavar="M/S")
    q.add_argument("--max-transfers", type=int, default=8)
    q.add_argument("--json", action="store_true", help="print JSON with legs and GeoJSON")
    q.add_argument("--quiet", action="store_true", help="no progress bar on first build")
    q.set_defaults(func=_plan)

    s = sub.add_parser("serve", help="run the HTTP API (default: the embedded Helsinki city)")
    s.add_argument("--network", type=Path, help="compiled network (default: embedded Helsinki)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1, help="worker processes (share the mmap)")
    s.set_defaults(func=_serve)

    from providers.simulator import add_cli as add_simulator

    add_simulator(sub)
    from fairtrip.policy_cli import add_cli as add_policy

    add_policy(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `fairtrip` console script."""
    args = make_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from pricing.errors import PricingError

    expected = (
        UsageError, RoutingError, NetworkFileError, InputMissingError, IngestError, PricingError
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

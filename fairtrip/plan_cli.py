"""`fairtrip plan`: ask a city for trips from the command line.

It plans through the same `trips.service.PlanningService` as `GET /plan`, with the same
request (validated by the API's own `PlanQuery`, so a bad value is refused with the same
words) and the same fleets a fresh server starts with (the SYNTHETIC demonstration fleets),
or those stored in a running server's store (`--store redis://...`). `--json` prints the
answer `/plan` would send.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
from pydantic import ValidationError

from api.schemas import PlanQuery
from fairtrip.args import UsageError, add_network_options, network_path, parse_latlon, parse_when
from network.compiled import Network
from providers.store import open_store
from providers.synthetic import embedded_synthetic_fleets, synthetic_snapshots
from trips.model import DEFAULT_MODES, PLAN_MODES, encode_json
from trips.request import (
    DEFAULT_MAX_ACCESS_MIN,
    DEFAULT_MAX_DIRECT_WALK_MIN,
    DEFAULT_MAX_EGRESS_MIN,
    DEFAULT_MAX_RENTAL_MIN,
    DEFAULT_MAX_TRANSFERS,
    DEFAULT_NUM_ITINERARIES,
)
from trips.service import PlanningService
from trips.text import format_text

#: one service per (network directory, fleets): a process that plans many times (a test, a
#: script calling `main`) loads and warms up each city once
_SERVICES: dict[tuple[str, str], PlanningService] = {}


def _query(args: argparse.Namespace) -> PlanQuery:
    """The API's query model from the options: the same bounds and messages as /plan."""
    origin, dest = parse_latlon(args.from_), parse_latlon(args.to)
    values: dict[str, Any] = {
        "from_lat": origin[0],
        "from_lon": origin[1],
        "to_lat": dest[0],
        "to_lon": dest[1],
        "at": parse_when(args.at),
        "arrive_by": args.arrive_by,
        "window_min": args.window,
        "max_walk_m": args.max_walk,
        "max_access_min": args.max_access_min,
        "max_egress_min": args.max_egress_min,
        "max_direct_walk_min": args.max_direct_walk_min,
        "walk_speed_mps": args.walk_speed,
        "max_transfers": args.max_transfers,
        "num_itineraries": args.num_itineraries,
        "modes": args.modes,
        "providers": args.providers,
        "exclude_providers": args.exclude_providers,
        "max_rental_min": args.max_rental_min,
        "transit_pass": args.transit_pass,
    }
    try:
        return PlanQuery(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"{field}: {first['msg']}") from None


def _service(args: argparse.Namespace, path: Path) -> PlanningService:
    """The warmed-up service of one network, made once per process, with the fleets the
    options name.
    """
    key = (str(path.resolve()), "")
    service = _SERVICES.get(key)
    if service is None:
        service = PlanningService(Network.load(path))
        service.warm_up()
        _SERVICES[key] = service
    _load_fleets(service, args)
    return service


def _load_fleets(service: PlanningService, args: argparse.Namespace) -> None:
    """Give the service the fleets of `--store`, or the synthetic fleets a fresh server
    seeds its in-memory store with (when the network has the streets they need).
    """
    net = service.net
    now = int(time.time())
    if args.store is not None:
        store = open_store(args.store, namespace=args.store_namespace)
    else:
        store = open_store("memory")
        if not args.no_synthetic and "walk" in net.streets and "car" in net.streets:
            feeds = embedded_synthetic_fleets(net, now_s=now)
            for snapshot in synthetic_snapshots(feeds, now):
                store.put_snapshot(snapshot)
    if service.rental_fleets is not None:
        service.rental_fleets.refresh(store.fresh_snapshots(now))


def run(args: argparse.Namespace) -> int:
    """`fairtrip plan`."""
    query = _query(args)
    path = network_path(args, progress=not args.quiet)
    service = _service(args, path)
    plan = service.plan(query.to_request())
    if args.json:
        sys.stdout.write(msgspec.json.format(encode_json(plan), indent=2).decode() + "\n")
    else:
        sys.stdout.write(format_text(plan))
    return 0


def add_cli(sub: Any) -> None:
    """Register `fairtrip plan` on the top-level parser's subcommands."""
    q = sub.add_parser(
        "plan",
        help="plan a trip between two coordinates",
        description="Plan a trip the way GET /plan does. Coordinates may be negative "
        "(--from -23.55,-46.63).",
    )
    add_network_options(q)
    q.add_argument("--from", dest="from_", required=True, metavar="LAT,LON")
    q.add_argument("--to", required=True, metavar="LAT,LON")
    q.add_argument("--at", required=True, metavar="ISO-8601", help="e.g. 2022-02-22T08:00+02:00")
    q.add_argument("--arrive-by", action="store_true", help="--at is the latest arrival")
    q.add_argument(
        "--window", type=int, default=0, metavar="MIN",
        help="range query: every departure within this many minutes",
    )
    q.add_argument(
        "--modes", default=DEFAULT_MODES, metavar="LIST",
        help=f"comma list of {', '.join(PLAN_MODES)} (default {DEFAULT_MODES})",
    )
    q.add_argument("--providers", metavar="IDS", help="only these shared-vehicle providers")
    q.add_argument("--exclude-providers", metavar="IDS", help="never these providers")
    q.add_argument(
        "--transit-pass", action="store_true",
        help="the rider holds a period pass: transit rides cost them nothing more",
    )
    q.add_argument(
        "--max-rental-min", type=int, default=DEFAULT_MAX_RENTAL_MIN, metavar="MIN",
        help=f"longest ride of one rental (default {DEFAULT_MAX_RENTAL_MIN})",
    )
    q.add_argument(
        "--num-itineraries", type=int, default=DEFAULT_NUM_ITINERARIES, metavar="N",
        help=f"how many itineraries besides the labelled ones (default "
        f"{DEFAULT_NUM_ITINERARIES})",
    )
    q.add_argument(
        "--max-walk", type=float, default=None, metavar="M",
        help="a metre cap on the walk to or from a stop, on top of the time limits",
    )
    q.add_argument(
        "--max-access-min", type=float, default=DEFAULT_MAX_ACCESS_MIN, metavar="MIN",
        help=f"longest walk to a stop (default {DEFAULT_MAX_ACCESS_MIN:g} min)",
    )
    q.add_argument(
        "--max-egress-min", type=float, default=DEFAULT_MAX_EGRESS_MIN, metavar="MIN",
        help=f"longest walk from a stop (default {DEFAULT_MAX_EGRESS_MIN:g} min)",
    )
    q.add_argument(
        "--max-direct-walk-min", type=float, default=DEFAULT_MAX_DIRECT_WALK_MIN, metavar="MIN",
        help=f"longest walk-only trip (default {DEFAULT_MAX_DIRECT_WALK_MIN:g} min)",
    )
    q.add_argument("--walk-speed", type=float, default=1.33, metavar="M/S")
    q.add_argument("--max-transfers", type=int, default=DEFAULT_MAX_TRANSFERS)
    q.add_argument(
        "--store", metavar="URL",
        help="plan with the fleets in this availability store (a server's redis://...); "
        "default: the SYNTHETIC fleets a fresh server starts with",
    )
    q.add_argument(
        "--store-namespace", default="fairtrip:", metavar="PREFIX",
        help="the server's FAIRTRIP_REDIS_NAMESPACE (default fairtrip:)",
    )
    q.add_argument(
        "--no-synthetic", action="store_true", help="without the SYNTHETIC fleets"
    )
    q.add_argument("--json", action="store_true", help="print the JSON GET /plan answers")
    q.add_argument("--quiet", action="store_true", help="no progress bar on first build")
    q.set_defaults(func=run)

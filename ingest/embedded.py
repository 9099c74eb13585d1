"""`python -m ingest.embedded [--city KEY]`: compile a built-in city into the cache, in a
process of its own.

`network.embedded.ensure_embedded_network` runs this module as a child process when the
cache lacks the compiled city, so that the build libraries load into the child and never
into a serving worker, even on its first start.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ingest.errors import IngestError
from ingest.network_build import build_network
from network.cache import InputMissingError
from network.embedded import CITY_KEYS, DEFAULT_CITY, city_inputs, embedded_target


def build_embedded(*, city_key: str = DEFAULT_CITY, progress: bool) -> Path:
    """Compile a built-in city into its cache directory (nothing to do when up to date)."""
    city = city_inputs(city_key)
    out, _ = embedded_target(city)
    return build_network(city.gtfs, list(city.osm), out, name=city.name, progress=progress)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the child process; exit status 2 with one line on stderr for bad input."""
    parser = argparse.ArgumentParser(prog="python -m ingest.embedded", description=__doc__)
    parser.add_argument("--city", choices=CITY_KEYS, default=DEFAULT_CITY, help="built-in city")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--log-level", type=int, default=logging.WARNING, help="a `logging` level number"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        build_embedded(city_key=args.city, progress=not args.quiet)
    except (IngestError, InputMissingError) as exc:
        sys.stderr.write(f"compiling the built-in city {args.city}: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

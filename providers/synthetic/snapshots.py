"""The SYNTHETIC feeds as snapshots: parsed by the same parser as a pushed feed, no shortcut.

One copy for every consumer: the server's in-process fleets (`api.fleets`), the CLI's
`plan` and the history replay (`service_coverage.replay`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from providers.gbfs import merge_file, parse_feed
from providers.model import FleetSnapshot


def feed_bytes(files: Mapping[str, Any]) -> dict[str, bytes]:
    """GBFS documents as the raw bytes the parser reads (discovery files left out)."""
    return {
        name: json.dumps(doc, allow_nan=False).encode()
        for name, doc in files.items()
        if name not in ("gbfs", "manifest")
    }


def synthetic_snapshots(feeds: Mapping[str, Mapping[str, Any]], now_s: int) -> list[FleetSnapshot]:
    """Parse synthetic feeds through the same parser as pushed ones (no shortcut)."""
    return [
        parse_feed(pid, feed_bytes(files), received_at_s=now_s, source="synthetic")
        for pid, files in feeds.items()
    ]


def refreshed_snapshots(
    before: Mapping[str, Mapping[str, Any]],
    snapshots: Mapping[str, FleetSnapshot],
    feeds: Mapping[str, Mapping[str, Any]],
    now_s: int,
) -> dict[str, FleetSnapshot]:
    """`synthetic_snapshots(feeds, now_s)`, reusing `snapshots` (parsed from `before`).

    `churn` returns the documents it did not change as the same objects, so a changed file
    is a new object. A provider with one changed file gets it merged into its snapshot as a
    single pushed file is (`merge_file`: parsed and cross-checked against the rest); a
    provider with several, or new to `snapshots`, is parsed whole. The figures are those
    of a whole parse; only the unchanged files' receipt times stay those of their last
    parse. Used where a day of rounds is parsed in a row (`service_coverage.replay`).
    """
    out: dict[str, FleetSnapshot] = {}
    for pid, files in feeds.items():
        old_files, old = before.get(pid), snapshots.get(pid)
        changed = [
            name
            for name, doc in files.items()
            if name not in ("gbfs", "manifest")
            and (old_files is None or old_files.get(name) is not doc)
        ]
        if old is None or old_files is None or set(old_files) != set(files) or len(changed) > 1:
            out[pid] = parse_feed(pid, feed_bytes(files), received_at_s=now_s, source="synthetic")
        elif changed:
            raw = json.dumps(files[changed[0]], allow_nan=False).encode()
            out[pid] = merge_file(old, changed[0], raw, received_at_s=now_s)
        else:
            out[pid] = old
    return out

"""GBFS feed parser: 3.0 and 2.x strictly, 1.x tolerantly, into `providers.model`.

Public API: `parse_feed` (a whole pushed or polled feed), `merge_file` (one file pushed
into a stored snapshot), `parse_discovery` (`gbfs.json` / `manifest.json`) and
`GBFS_FILES` (the file names accepted for push). Every failure on bad input is a
`providers.errors.FeedError` with the file, a JSON pointer and what was expected.

Modules, one concern each: `jsonload` (safe JSON), `values` (typed access, positions),
`timestamps`, `fields` (allowed fields per file and version), `envelope` (versions),
`records` (per-file readers), `pricing` (money), `geofencing`, `discovery`, `snapshot`
(whole-feed assembly and cross-file checks).
"""

from __future__ import annotations

from providers.gbfs.discovery import Discovery, parse_discovery
from providers.gbfs.snapshot import (
    GBFS_FILES,
    IMPLIED_VEHICLE_TYPE_ID,
    merge_file,
    parse_feed,
)

__all__ = [
    "GBFS_FILES",
    "IMPLIED_VEHICLE_TYPE_ID",
    "Discovery",
    "merge_file",
    "parse_discovery",
    "parse_feed",
]

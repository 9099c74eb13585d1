"""The store's entry check: a snapshot is refused, with its location, before any write.

The parser already cross-checks feeds; this is the store's own guarantee, because a store
that accepted a latitude Redis GEO cannot hold would fail halfway through a write. Every
problem is a `FeedError` (a ValueError) naming the file and the JSON-pointer-like path.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

from providers.errors import FeedError
from providers.model import FleetSnapshot
from providers.store.codec import CodecError, encode_snapshot
from providers.store.keys import PROVIDER_ID_RE

#: Redis GEO (web-mercator geohash) cannot index latitudes beyond this
MAX_ABS_LAT = 85.05112878
MAX_ABS_LON = 180.0
#: bounds against hostile or runaway feeds (the largest real systems have ~50,000 vehicles)
MAX_VEHICLES = 250_000
MAX_STATIONS = 50_000
MAX_FEEDS = 64
#: a publisher's clock may run ahead of ours by this much; more would never go stale
MAX_FUTURE_SKEW_S = 300


def encode_valid(snapshot: FleetSnapshot) -> bytes:
    """The canonical bytes of `snapshot` once it passed every check (FeedError otherwise).

    Encoding is the last check: it refuses ill-typed fields and non-finite numbers anywhere
    in the snapshot (ranges, prices, geometry), not only in the coordinates checked here.
    """
    validate_snapshot(snapshot)
    try:
        return encode_snapshot(snapshot)
    except CodecError as e:
        raise FeedError("snapshot", "", str(e)) from e


def validate_snapshot(snapshot: FleetSnapshot) -> None:
    """Raise FeedError on the first thing in `snapshot` the store cannot hold faithfully."""
    if not isinstance(snapshot, FleetSnapshot):
        raise FeedError("snapshot", "", f"expected a FleetSnapshot, got {type(snapshot)!r}")
    if not isinstance(snapshot.provider_id, str) or not PROVIDER_ID_RE.fullmatch(
        snapshot.provider_id
    ):
        raise FeedError(
            "snapshot",
            "/provider_id",
            f"{snapshot.provider_id!r} does not match {PROVIDER_ID_RE.pattern}",
        )
    _check_feeds(snapshot)
    _check_unique("vehicle_status", "vehicles", (v.id for v in snapshot.vehicles))
    _check_unique("station_information", "stations", (s.id for s in snapshot.stations))
    _check_unique("station_status", "stations", (s.station_id for s in snapshot.station_status))
    if len(snapshot.vehicles) > MAX_VEHICLES:
        raise FeedError("vehicle_status", "", f"{len(snapshot.vehicles)} vehicles > {MAX_VEHICLES}")
    if len(snapshot.stations) > MAX_STATIONS:
        raise FeedError(
            "station_information", "", f"{len(snapshot.stations)} stations > {MAX_STATIONS}"
        )
    for i, v in enumerate(snapshot.vehicles):
        if (v.lat is None) != (v.lon is None):
            raise FeedError("vehicle_status", f"/vehicles/{i}", "lat and lon must come together")
        if v.lat is not None and v.lon is not None:
            _check_point("vehicle_status", f"/vehicles/{i}", v.lat, v.lon)
    for i, s in enumerate(snapshot.stations):
        _check_point("station_information", f"/stations/{i}", s.lat, s.lon)


def _check_feeds(snapshot: FleetSnapshot) -> None:
    if len(snapshot.feeds) > MAX_FEEDS:
        raise FeedError("gbfs", "", f"{len(snapshot.feeds)} feed files > {MAX_FEEDS}")
    _check_unique("gbfs", "feeds", (f.name for f in snapshot.feeds))
    for i, f in enumerate(snapshot.feeds):
        if not isinstance(f.last_updated_s, int) or not isinstance(f.received_at_s, int):
            raise FeedError(f.name, f"/feeds/{i}", "timestamps must be integer seconds")
        if f.last_updated_s > f.received_at_s + MAX_FUTURE_SKEW_S:
            raise FeedError(
                f.name,
                "/last_updated",
                f"{f.last_updated_s} is more than {MAX_FUTURE_SKEW_S} s after it was "
                f"received ({f.received_at_s})",
            )
        if not isinstance(f.ttl_s, int) or f.ttl_s < 0:
            raise FeedError(f.name, "/ttl", f"expected a non-negative int, got {f.ttl_s!r}")


def _check_unique(file: str, what: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for i, item_id in enumerate(ids):
        if item_id in seen:
            raise FeedError(file, f"/{what}/{i}", f"duplicate id {item_id!r}")
        seen.add(item_id)


def _check_point(file: str, path: str, lat: object, lon: object) -> None:
    for name, value, limit in (("lat", lat, MAX_ABS_LAT), ("lon", lon, MAX_ABS_LON)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise FeedError(file, f"{path}/{name}", f"expected a number, got {value!r}")
        if not math.isfinite(float(value)) or abs(float(value)) > limit:
            raise FeedError(file, f"{path}/{name}", f"{value!r} is outside ±{limit}")

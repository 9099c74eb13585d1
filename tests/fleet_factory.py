"""Synthetic fleets for store tests and benchmarks, plus a scratch Redis namespace helper.

Vehicle ids carry a fleet tag (`<tag>-<n>`) so a reader can tell which fleet a vehicle came
from: a result mixing two tags is a torn read.
"""

from __future__ import annotations

import hashlib
import math
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import redis

from providers.model import (
    FeedFile,
    FleetSnapshot,
    FormFactor,
    Propulsion,
    Station,
    StationStatus,
    SystemInfo,
    Vehicle,
    VehicleType,
)

#: a fixed "now" for tests: 2023-11-14T22:13:20Z
T0_S = 1_700_000_000
#: central Helsinki
HELSINKI = (60.1699, 24.9384)
#: metres per degree of latitude (spherical earth, close enough for placing test points)
M_PER_DEG = 111_195.0
REDIS_URL = os.environ.get("FAIRTRIP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """The point `north_m`/`east_m` metres from (lat, lon)."""
    return (
        lat + north_m / M_PER_DEG,
        lon + east_m / (M_PER_DEG * math.cos(math.radians(lat))),
    )


def feeds(updated_s: int, names: tuple[str, ...]) -> tuple[FeedFile, ...]:
    """Freshness records for `names`, all last updated at `updated_s`."""
    return tuple(
        FeedFile(
            name=n,
            last_updated_s=updated_s,
            ttl_s=60,
            content_sha256=hashlib.sha256(f"{n}:{updated_s}".encode()).hexdigest(),
            received_at_s=updated_s + 2,
        )
        for n in names
    )


def make_snapshot(
    provider_id: str = "citybikes",
    n_vehicles: int = 10,
    *,
    n_stations: int = 0,
    tag: str = "a",
    center: tuple[float, float] = HELSINKI,
    spread_m: float = 1000.0,
    updated_s: int = T0_S,
    seed: int = 0,
    source: str = "synthetic",
    vehicles: tuple[Vehicle, ...] | None = None,
) -> FleetSnapshot:
    """A synthetic fleet of `n_vehicles` scattered uniformly within ±`spread_m` of `center`."""
    rng = np.random.default_rng(seed)
    if vehicles is None:
        north = rng.uniform(-spread_m, spread_m, n_vehicles)
        east = rng.uniform(-spread_m, spread_m, n_vehicles)
        points = [offset(*center, n, e) for n, e in zip(north.tolist(), east.tolist(), strict=True)]
        vehicles = tuple(
            Vehicle(
                id=f"{tag}-{i}",
                lat=round(la, 7),
                lon=round(lo, 7),
                vehicle_type_id="scooter",
                current_range_m=float(1000 + i % 20000),
                last_reported_s=updated_s - i % 60,
            )
            for i, (la, lo) in enumerate(points)
        )
    station_points = [
        offset(*center, float(n), float(e))
        for n, e in zip(
            rng.uniform(-spread_m, spread_m, n_stations).tolist(),
            rng.uniform(-spread_m, spread_m, n_stations).tolist(),
            strict=True,
        )
    ]
    stations = tuple(
        Station(id=f"{tag}-st-{i}", name=f"Station {i}", lat=round(la, 7), lon=round(lo, 7))
        for i, (la, lo) in enumerate(station_points)
    )
    status = tuple(
        StationStatus(station_id=s.id, num_vehicles_available=i % 7, num_docks_available=3)
        for i, s in enumerate(stations)
    )
    names = ("system_information", "vehicle_types", "vehicle_status")
    if stations:
        names += ("station_information", "station_status")
    return FleetSnapshot(
        provider_id=provider_id,
        gbfs_version="3.0",
        system=SystemInfo(
            system_id=provider_id, name=f"{provider_id} (synthetic)", timezone="Europe/Helsinki"
        ),
        feeds=feeds(updated_s, names),
        vehicle_types=(
            VehicleType(
                id="scooter",
                form_factor=FormFactor.SCOOTER_STANDING,
                propulsion=Propulsion.ELECTRIC,
                max_range_m=40000.0,
            ),
        ),
        stations=stations,
        station_status=status,
        vehicles=vehicles,
        source=source,
    )


def redis_client() -> redis.Redis | None:
    """A client of the test Redis, or None when no server answers (tests then skip)."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.RedisError:
        return None
    return client


def namespace_keys(client: redis.Redis, namespace: str) -> list[str]:
    """Every key under `namespace` (SCAN, never KEYS: the server is shared)."""
    return sorted(k.decode() for k in client.scan_iter(match=f"{namespace}*", count=1000))


@contextmanager
def scratch_namespace(client: redis.Redis) -> Iterator[str]:
    """A unique key namespace on the shared server, whose keys are deleted afterwards."""
    namespace = f"fairtrip-test:{uuid.uuid4().hex}:"
    try:
        yield namespace
    finally:
        keys = namespace_keys(client, namespace)
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])

"""Availability store benchmark: nearby lookups, snapshot swaps, cross-worker visibility.

    python -m bench.store [--redis-url redis://127.0.0.1:6379/0]

All fleets are synthetic (uniform random vehicles around central Helsinki, labelled
`source="synthetic"`). Times, for `MemoryStore` and `RedisStore`:
  * `nearby_vehicles` (500 m, 50 results) on a 100,000-vehicle fleet spread over ±10 km;
  * `put_snapshot` of a 10,000-vehicle fleet (validate, encode, write, atomic swap);
  * Redis only: the delay from `put_snapshot` returning in one RedisStore instance to the
    new fleet being returned by `nearby_vehicles` of another instance (own client, own
    in-process copy), i.e. what one API worker waits to see another worker's push. The
    reader polls in a tight loop, so the figure is dominated by its one-time reload (pointer
    check, blob fetch and decode) rather than by any polling interval.
Figures are printed and saved to `bench/results/store.json`. Redis keys live under a unique
`fairtrip-bench:<uuid>:` namespace that is removed afterwards (the server may be shared).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import redis

from bench.common import machine, save, stats_ms
from providers.store import AvailabilityStore, MemoryStore, RedisStore
from tests.fleet_factory import HELSINKI, make_snapshot, offset

log = logging.getLogger("bench.store")

NEARBY_FLEET = 100_000
NEARBY_SPREAD_M = 10_000.0
PUT_FLEET = 10_000
RADIUS_M = 500.0
LIMIT = 50


def _nearby(store: AvailabilityStore, points: list[tuple[float, float]]) -> dict[str, Any]:
    store.nearby_vehicles(*points[0], RADIUS_M, limit=LIMIT)  # warm: index / reload
    times, hits = [], []
    for lat, lon in points:
        t = time.perf_counter()
        found = store.nearby_vehicles(lat, lon, RADIUS_M, limit=LIMIT)
        times.append(time.perf_counter() - t)
        hits.append(len(found))
    return {**stats_ms(times), "mean_results": round(float(np.mean(hits)), 1)}


def _puts(make_store: Callable[[], AvailabilityStore], repeats: int) -> dict[str, Any]:
    store = make_store()
    fleets = [
        make_snapshot("bench", PUT_FLEET, tag=t, spread_m=NEARBY_SPREAD_M, seed=i)
        for i, t in enumerate("ab")
    ]
    store.put_snapshot(fleets[1])
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        store.put_snapshot(fleets[i % 2])
        times.append(time.perf_counter() - t)
    return stats_ms(times)


def _visibility(client_factory: Callable[[], redis.Redis], ns: str, repeats: int) -> dict:
    writer = RedisStore(client_factory(), namespace=ns)
    reader = RedisStore(client_factory(), namespace=ns)
    probe = offset(*HELSINKI, 0.0, 0.0)
    delays, reader_calls = [], []
    for i in range(repeats):
        tag = f"v{i}"
        snap = make_snapshot("visible", PUT_FLEET, tag=tag, spread_m=2000.0, seed=i)
        writer.put_snapshot(snap)
        t0 = time.perf_counter()
        calls = 0
        while True:
            calls += 1
            found = reader.nearby_vehicles(*probe, RADIUS_M, limit=1)
            if found and found[0].vehicle.id.startswith(f"{tag}-"):
                break
        delays.append(time.perf_counter() - t0)
        reader_calls.append(calls)
    return {**stats_ms(delays), "max_reader_calls": max(reader_calls)}


def _drop_namespace(client: redis.Redis, ns: str) -> None:
    keys = list(client.scan_iter(match=f"{ns}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--puts", type=int, default=40)
    ap.add_argument("--visibility", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    rng = np.random.default_rng(args.seed)
    north = rng.uniform(-NEARBY_SPREAD_M, NEARBY_SPREAD_M, args.queries)
    east = rng.uniform(-NEARBY_SPREAD_M, NEARBY_SPREAD_M, args.queries)
    points = [offset(*HELSINKI, n, e) for n, e in zip(north, east, strict=True)]
    big = make_snapshot("bench", NEARBY_FLEET, spread_m=NEARBY_SPREAD_M, seed=args.seed)

    ns = f"fairtrip-bench:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(args.redis_url, socket_timeout=5)
    try:
        log.info("memory: nearby on %d vehicles", NEARBY_FLEET)
        mem = MemoryStore()
        t = time.perf_counter()
        mem.put_snapshot(big)
        mem_put_big_s = time.perf_counter() - t
        mem_nearby = _nearby(mem, points)

        log.info("redis: nearby on %d vehicles", NEARBY_FLEET)
        red = RedisStore(args.redis_url, namespace=ns, socket_timeout_s=5.0)
        t = time.perf_counter()
        red.put_snapshot(big)
        red_put_big_s = time.perf_counter() - t
        other = RedisStore(args.redis_url, namespace=ns, socket_timeout_s=5.0)
        t = time.perf_counter()
        other.snapshot("bench")
        red_reload_big_s = time.perf_counter() - t
        red_nearby = _nearby(red, points)
        blob_bytes = client.strlen(red.keys.blob("bench", red._state.entries["bench"].version))

        log.info("put_snapshot of %d vehicles", PUT_FLEET)
        mem_puts = _puts(MemoryStore, args.puts)
        red_puts = _puts(lambda: RedisStore(args.redis_url, namespace=ns), args.puts)

        log.info("cross-instance visibility")
        visibility = _visibility(lambda: redis.Redis.from_url(args.redis_url), ns, args.visibility)
        server = client.info("server")["redis_version"]
    finally:
        _drop_namespace(client, ns)

    result = {
        "benchmark": "store",
        "machine": {**machine(), "redis_server": server, "redis_py": redis.__version__},
        "fleets": {
            "label": "synthetic: uniform random vehicles around central Helsinki",
            "nearby_fleet_vehicles": NEARBY_FLEET,
            "nearby_fleet_spread_m": NEARBY_SPREAD_M,
            "put_fleet_vehicles": PUT_FLEET,
            "blob_bytes_100k": int(blob_bytes),
        },
        "query": {"radius_m": RADIUS_M, "limit": LIMIT, "queries": args.queries},
        "memory": {
            "nearby_100k": mem_nearby,
            "put_snapshot_100k_s": round(mem_put_big_s, 3),
            "put_snapshot_10k": mem_puts,
        },
        "redis": {
            "nearby_100k": red_nearby,
            "put_snapshot_100k_s": round(red_put_big_s, 3),
            "first_read_other_instance_100k_s": round(red_reload_big_s, 3),
            "put_snapshot_10k": red_puts,
            "visible_to_other_instance_10k": visibility,
        },
    }
    out = save("store", result)
    sys.stdout.write(json.dumps(result, indent=2) + f"\nsaved {out}\n")


if __name__ == "__main__":
    main()

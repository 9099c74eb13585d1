"""End-to-end push benchmark: a 10,000-vehicle GBFS 3.0 snapshot through the HTTP API.

    python -m bench.push

Each push is `PUT /providers/{id}/gbfs` with the whole snapshot (about 3 MB of JSON) into
an in-process app (the ASGI stack without a socket): body limit, authentication, the
envelope and hostile-input checks, the full GBFS parse and cross-file validation, the
store's validation and the atomic swap. Measured on the memory store and on Redis. On
Redis it also measures what a second worker sees: the time from one app's 2xx to another
app (its own RedisStore, like another worker process) returning the new fleet.

The fleet is SYNTHETIC: the `synthetic-scooters-hki` generator asked for 10,000 scooters
on the Helsinki walk graph. Alternate pushes carry 10,000 and 9,999 vehicles, so a reader
can tell which one it sees.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import uuid
from typing import Any

from fastapi.testclient import TestClient

from bench.common import machine, save, stats_ms

log = logging.getLogger("bench.push")
ADMIN = "bench-admin-token-0123456789abcdef"
VEHICLES = 10_000


def _bodies() -> list[bytes]:
    from network.compiled import Network
    from network.embedded import data_dir, ensure_embedded_network
    from providers.synthetic import SCOOTERS_ID, street_nodes, synthetic_fleets

    net = Network.load(ensure_embedded_network(progress=False))
    feeds = synthetic_fleets(
        stations_csv=data_dir() / "helsinki" / "citybike-stations-2021.csv",
        walk_nodes=street_nodes(net, "walk"),
        car_nodes=street_nodes(net, "car"),
        now_s=int(time.time()),
        n_scooters=VEHICLES,
    )
    files = {k: v for k, v in feeds[SCOOTERS_ID].items() if k != "gbfs"}
    smaller = json.loads(json.dumps(files))
    smaller["vehicle_status"]["data"]["vehicles"].pop()
    return [json.dumps({"files": f}).encode() for f in (files, smaller)]


def _app(store_url: str, namespace: str) -> Any:
    from api.app import create_app
    from api.settings import Settings
    from network.embedded import ensure_embedded_network

    return create_app(
        Settings(
            network=ensure_embedded_network(progress=False),
            admin_token=ADMIN,
            store_url=store_url,
            redis_namespace=namespace,
            synthetic_providers=False,
        )
    )


def _provider(client: TestClient, pid: str) -> dict[str, str]:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    client.post("/admin/providers", json={"provider_id": pid, "name": pid}, headers=auth)
    secret = client.post(f"/admin/providers/{pid}/keys", headers=auth).json()["secret"]
    return {"Authorization": f"Bearer {secret}", "content-type": "application/json"}


def _pushes(client: TestClient, headers: dict[str, str], bodies: list[bytes], n: int) -> dict:
    times = []
    for i in range(n):
        t = time.perf_counter()
        r = client.put("/providers/bench-fleet/gbfs", content=bodies[i % 2], headers=headers)
        times.append(time.perf_counter() - t)
        if r.status_code != 200:
            raise RuntimeError(f"push failed: {r.status_code} {r.text[:200]}")
    return stats_ms(times[1:])  # the first push also builds caches


def _visibility(
    writer: TestClient, reader: TestClient, headers: dict[str, str], bodies: list[bytes], n: int
) -> dict:
    delays = []
    for i in range(n):
        expected = VEHICLES - (i % 2)
        r = writer.put("/providers/bench-fleet/gbfs", content=bodies[i % 2], headers=headers)
        acknowledged = time.perf_counter()
        if r.status_code != 200:
            raise RuntimeError(f"push failed: {r.status_code}")
        while reader.get("/providers/bench-fleet/status").json()["vehicles"] != expected:
            pass
        delays.append(time.perf_counter() - acknowledged)
    return stats_ms(delays)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pushes", type=int, default=30)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    bodies = _bodies()
    result: dict[str, Any] = {
        "machine": machine(),
        "fleet": f"{VEHICLES} synthetic scooters (GBFS 3.0)",
        "body_bytes": len(bodies[0]),
    }
    with TestClient(_app("memory", "fairtrip:")) as client:
        result["push_memory"] = _pushes(
            client, _provider(client, "bench-fleet"), bodies, args.pushes
        )
    log.info("memory: %s", result["push_memory"])
    namespace = f"fairtrip-bench:{uuid.uuid4().hex}:"
    try:
        with (
            TestClient(_app(args.redis_url, namespace)) as w1,
            TestClient(_app(args.redis_url, namespace)) as w2,
        ):
            headers = _provider(w1, "bench-fleet")
            result["push_redis"] = _pushes(w1, headers, bodies, args.pushes)
            log.info("redis: %s", result["push_redis"])
            result["visible_to_other_worker"] = _visibility(
                w1, w2, headers, bodies, max(5, args.pushes // 3)
            )
            log.info("visible to another worker: %s", result["visible_to_other_worker"])
    finally:
        import redis

        client = redis.Redis.from_url(args.redis_url)
        for key in client.scan_iter(match=f"{namespace}*", count=1000):
            client.delete(key)
    path = save("push", result)
    log.info("saved %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

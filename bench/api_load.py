"""Load benchmark of `fairtrip serve`: /plan under wrk on loopback, 1 and 2 workers.

    python -m bench.api_load            # needs wrk (Debian: apt-get install wrk)

For each worker count it starts `fairtrip serve` on the compiled embedded city, then
  1. finds saturation: wrk with no pacing, the highest throughput the server sustains;
  2. measures at about 50% of it: wrk's connections pace themselves (a Lua `delay`) so
     the offered load is half the saturation rate; reports throughput, p50/p95/p99
     latency and the error count (non-2xx responses plus socket errors);
  3. reads each worker's memory from /proc: RSS, PSS (shared pages divided among the
     processes that map them) and the file-backed share, which is the memory-mapped
     network the workers share instead of each holding a copy.
Queries are random pairs of street points of the two OSM extracts, 300 m to 5 km apart,
leaving at a random minute 06:00-22:00 on 2022-02-22 (seeded). wrk runs on the same
2-core machine as the server, so it takes CPU from it; the figures say so.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, save

log = logging.getLogger("bench.api_load")
ROOT = Path(__file__).resolve().parents[1]

LUA = """
local paths = {%(paths)s}
local n = #paths
local counter = 0
local delay_ms = %(delay_ms)d
function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 7919)
end
local i = 0
function request()
  i = i + 1
  local k = ((offset or 0) + i) %% n + 1
  return wrk.format("GET", paths[k])
end
function delay()
  return delay_ms
end
function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
                 + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'RESULT {"requests": %%d, "seconds": %%.3f, "p50_ms": %%.3f, "p95_ms": %%.3f, '
    .. '"p99_ms": %%.3f, "max_ms": %%.3f, "non_2xx": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status, errors - summary.errors.status))
end
"""


def random_queries(network_dir: Path, n: int, seed: int) -> list[str]:
    """`n` /plan paths between random walk-graph nodes 300 m..5 km apart (seeded)."""
    from network.compiled import Network
    from routing.geo import haversine_m

    walk = Network.load(network_dir).streets["walk"]
    rng = np.random.default_rng(seed)
    out: list[str] = []
    while len(out) < n:
        a, b = rng.integers(0, walk.n_nodes, size=2)
        lat1, lon1 = float(walk.node_lat[a]), float(walk.node_lon[a])
        lat2, lon2 = float(walk.node_lat[b]), float(walk.node_lon[b])
        if not 300 <= float(haversine_m(lat1, lon1, lat2, lon2)) <= 5000:
            continue
        minute = int(rng.integers(6 * 60, 22 * 60))
        at = f"2022-02-22T{minute // 60:02d}:{minute % 60:02d}:00%2B02:00"
        out.append(
            f"/plan?from_lat={lat1:.6f}&from_lon={lon1:.6f}&to_lat={lat2:.6f}"
            f"&to_lon={lon2:.6f}&at={at}"
        )
    return out


def _wait_ready(port: int, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"server on port {port} did not become ready")


def _wrk(script: Path, port: int, *, connections: int, seconds: int, path: str) -> dict[str, Any]:
    cmd = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{path}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    result["throughput_rps"] = round(result["requests"] / result["seconds"], 1)
    result["connections"] = connections
    return result


def _script(paths: list[str], delay_ms: int, directory: Path) -> Path:
    body = LUA % {"paths": ",".join(json.dumps(p) for p in paths), "delay_ms": delay_ms}
    script = directory / f"plan-{delay_ms}.lua"
    script.write_text(body)
    return script


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _worker_pids(server_pid: int, workers: int) -> list[int]:
    """The processes that answer requests: the server itself, or uvicorn's spawned workers."""
    if workers == 1:
        return [server_pid]
    found = []
    for pid in _children(server_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            found.append(pid)
    return found


def _smaps(pid: int) -> dict[str, float]:
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        m = re.match(r"(\w+):\s+(\d+) kB", line)
        if m:
            fields[m.group(1)] = int(m.group(2)) / 1024
    return {
        "rss_mib": round(fields.get("Rss", 0.0), 1),
        "pss_mib": round(fields.get("Pss", 0.0), 1),
        "file_backed_mib": round(fields.get("Rss", 0.0) - fields.get("Anonymous", 0.0), 1),
        "shared_mib": round(fields.get("Shared_Clean", 0.0) + fields.get("Shared_Dirty", 0.0), 1),
    }


def run_workers(
    network_dir: Path, paths: list[str], workers: int, *, port: int, seconds: int, tmp: Path
) -> dict[str, Any]:
    """Saturation, then about half of it, against a server with `workers` processes."""
    env = {**os.environ, "FAIRTRIP_SYNTHETIC_PROVIDERS": "false"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fairtrip.cli",
            "serve",
            "--network",
            str(network_dir),
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_ready(port)
        time.sleep(2.0 if workers > 1 else 0.5)  # every worker has finished its lifespan
        warm = _script(paths, 0, tmp)
        _wrk(warm, port, connections=4, seconds=3, path=paths[0])  # warm caches
        saturated = _wrk(warm, port, connections=8, seconds=seconds, path=paths[0])
        target = saturated["throughput_rps"] / 2
        connections = 8
        # each connection waits `delay` between requests: rate ~ c / (delay + latency)
        delay_ms = max(1, int(connections / target * 1000 - saturated["p50_ms"] / 2))
        half = _wrk(
            _script(paths, delay_ms, tmp),
            port,
            connections=connections,
            seconds=seconds,
            path=paths[0],
        )
        half["target_rps"] = round(target, 1)
        half["share_of_saturation"] = round(half["throughput_rps"] / saturated["throughput_rps"], 2)
        memory = [_smaps(p) for p in _worker_pids(server.pid, workers)]
        return {
            "workers": workers,
            "saturation": saturated,
            "half_load": half,
            "memory_per_worker": memory,
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if shutil.which("wrk") is None:
        log.error("wrk is not installed (Debian: apt-get install wrk)")
        return 2
    from network.embedded import ensure_embedded_network

    network_dir = ensure_embedded_network(progress=False)
    paths = random_queries(network_dir, args.queries, args.seed)
    runs = []
    with tempfile.TemporaryDirectory(prefix="fairtrip-load-") as tmp:
        for workers in (1, 2):
            run = run_workers(
                network_dir,
                paths,
                workers,
                port=args.port + workers,
                seconds=args.seconds,
                tmp=Path(tmp),
            )
            log.info("%s", json.dumps(run))
            runs.append(run)
    result = {
        "machine": machine(),
        "tool": subprocess.run(
            ["wrk", "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0],
        "queries": len(paths),
        "seconds_per_run": args.seconds,
        "runs": runs,
    }
    path = save("api_load", result)
    log.info("saved %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Valhalla's side of the peer benchmark: a route worker that runs in the Python 3.12 venv.

    .cache/peers/venv312/bin/python bench/peers_worker.py VALHALLA_CONFIG_JSON

This file is run by the optional environment's interpreter (which has `pyvalhalla`, and not
fairtrip's packages), so it imports nothing from this repository. `bench.peers` starts it and
talks to it over pipes, one JSON object per line:

* on start it writes ``{"ready": true, "valhalla": VERSION, "python": VERSION, "load_s": S}``;
* for each request line ``{"id": N, "request": {...}}`` (a Valhalla `/route` request) it
  writes ``{"id": N, "seconds": S, "trip": {...}}`` or ``{"id": N, "seconds": S, "error": MSG}``.

`seconds` is the time of the `Actor.route` call alone, measured here, so the pipe and the
JSON round trip between the two processes are not counted against Valhalla. The request is
handed over as a JSON string (the engine's own interface); parsing the answer happens after
the clock stops, and only what the benchmark reads is sent back (summary and maneuvers,
without shapes and narrative), which keeps the pipe cheap.

Valhalla logs from C++ to standard output; the worker moves its own protocol to a duplicate
of the original stdout and points file descriptor 1 at stderr, so a log line can never be
mistaken for an answer.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from typing import Any

#: the maneuver fields the benchmark reads (travel mode and type, ferry flag, duration)
_MANEUVER_KEYS = ("type", "travel_mode", "travel_type", "ferry", "time", "length")


def _decode_polyline6(encoded: str) -> list[tuple[float, float]]:
    """(lat, lon) points of a Valhalla shape (Google's polyline format at 1e-6 precision)."""
    points: list[tuple[float, float]] = []
    index = lat = lon = 0
    while index < len(encoded):
        deltas = []
        for _ in range(2):
            shift = result = 0
            while True:
                b = ord(encoded[index]) - 63
                index += 1
                result |= (b & 0x1F) << shift
                shift += 5
                if b < 0x20:
                    break
            deltas.append(~(result >> 1) if result & 1 else result >> 1)
        lat += deltas[0]
        lon += deltas[1]
        points.append((lat / 1e6, lon / 1e6))
    return points


def _compact(trip: dict[str, Any]) -> dict[str, Any]:
    """The parts of a Valhalla trip the benchmark reads; shapes and narrative are dropped."""
    legs = []
    for leg in trip.get("legs", []):
        maneuvers = []
        for m in leg.get("maneuvers", []):
            out = {k: m[k] for k in _MANEUVER_KEYS if k in m}
            info = m.get("transit_info")
            if info:
                out["transit"] = {
                    "route": info.get("short_name") or info.get("onestop_id") or "",
                    "stops": len(info.get("transit_stops", [])),
                }
            maneuvers.append(out)
        legs.append({"maneuvers": maneuvers})
    # where the route starts and ends on the streets (Valhalla times the route from there,
    # not from the coordinates asked for)
    trip_legs = trip.get("legs", [])
    first = _decode_polyline6(trip_legs[0].get("shape", "")) if trip_legs else []
    last = _decode_polyline6(trip_legs[-1].get("shape", "")) if trip_legs else []
    ends = [first[0], last[-1]] if first and last else None
    return {"summary": trip.get("summary", {}), "legs": legs, "ends": ends}


def main(config_path: str) -> None:
    """Answer route requests from stdin until it closes."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the library prints now goes to stderr
    started = time.perf_counter()
    import valhalla

    actor = valhalla.Actor(config_path)
    ready = {
        "ready": True,
        "valhalla": valhalla.__version__,
        "python": platform.python_version(),
        "load_s": round(time.perf_counter() - started, 3),
    }
    proto.write(json.dumps(ready) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        body = json.dumps(msg["request"])
        reply: dict[str, Any] = {"id": msg["id"]}
        t = time.perf_counter()
        try:
            raw = actor.route(body)
        except Exception as exc:  # Valhalla's "no route" is an exception (RuntimeError)
            reply["seconds"] = time.perf_counter() - t
            reply["error"] = str(exc)
        else:
            reply["seconds"] = time.perf_counter() - t
            reply["trip"] = _compact(json.loads(raw)["trip"])
        proto.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: peers_worker.py VALHALLA_CONFIG_JSON")
    main(sys.argv[1])

"""An independent earliest-arrival oracle: a connection scan over the raw GTFS files.

It shares nothing with the compiler but the footpaths and the access/egress walks (inputs
both algorithms take): it reads the zip with the csv module, expands frequencies itself,
and scans connections in time order, so a bug in pattern building, time parsing or RAPTOR
shows up as a disagreement.

The journey model both sides implement: walk to a stop, ride, then any number of (at most
one footpath, ride), then walk to the destination. A footpath starts only where a ride
ended and ends where the next ride starts.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import defaultdict
from pathlib import Path

INF = 1 << 40


def _secs(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    h, m, s = text.split(":")
    return int(h) * 3600 + int(m) * 60 + int(s)


class ConnectionScan:
    """All connections of one single-day GTFS feed, sorted for scanning."""

    def __init__(self, gtfs_zip: Path, stop_index: dict[str, int]) -> None:
        with zipfile.ZipFile(gtfs_zip) as zf:

            def rows(name: str) -> list[dict[str, str]]:
                with zf.open(name) as f:
                    return list(csv.DictReader(io.TextIOWrapper(f, "utf-8-sig")))

            stop_times = rows("stop_times.txt")
            freqs = rows("frequencies.txt") if "frequencies.txt" in zf.namelist() else []
        by_trip: dict[str, list[tuple[int, int, int, int, bool, bool]]] = defaultdict(list)
        for r in stop_times:
            arr = _secs(r["arrival_time"])
            dep = _secs(r["departure_time"])
            arr = dep if arr is None else arr
            dep = arr if dep is None else dep
            by_trip[r["trip_id"]].append(
                (
                    int(r["stop_sequence"]),
                    stop_index[r["stop_id"]],
                    arr,
                    dep,
                    r.get("pickup_type", "").strip() != "1",
                    r.get("drop_off_type", "").strip() != "1",
                )
            )
        templates = {f["trip_id"] for f in freqs}
        trips: list[list[tuple[int, int, int, bool, bool]]] = []
        for trip_id, evs in by_trip.items():
            evs.sort()
            plain = [(s, a, d, b, al) for _, s, a, d, b, al in evs]
            if trip_id not in templates:
                trips.append(plain)
        for f in freqs:
            evs = sorted(by_trip[f["trip_id"]])
            first = evs[0][3]
            start, end, step = _secs(f["start_time"]), _secs(f["end_time"]), int(f["headway_secs"])
            t = start
            while t < end:
                shift = t - first
                trips.append([(s, a + shift, d + shift, b, al) for _, s, a, d, b, al in evs])
                t += step
        conns = []
        for tix, evs in enumerate(trips):
            for i in range(len(evs) - 1):
                s0, _, d0, board, _ = evs[i]
                s1, a1, _, _, alight = evs[i + 1]
                conns.append((d0, a1, i, tix, s0, s1, board, alight))
        conns.sort()
        self.dep = [c[0] for c in conns]
        self.conns = conns
        self.n_trips = len(trips)

    def earliest_arrival(
        self,
        access: dict[int, int],
        egress: dict[int, int],
        footpaths: dict[int, list[tuple[int, int]]],
        depart_s: int,
    ) -> int | None:
        """Earliest arrival at the destination using at least one ride, or None."""
        import bisect

        # reach: earliest time a rider can stand at a stop (and board there);
        # ride: earliest time a ride drops them there (only then may they walk on).
        reach: dict[int, int] = {s: depart_s + w for s, w in access.items()}
        ride: dict[int, int] = {}
        boarded = bytearray(self.n_trips)
        best = INF
        start = bisect.bisect_left(self.dep, depart_s)
        for c in self.conns[start:]:
            d0, a1, _, tix, s0, s1, board, alight = c
            if d0 >= best:
                break
            if not boarded[tix]:
                if not board or reach.get(s0, INF) > d0:
                    continue
                boarded[tix] = 1
            if not alight or a1 >= ride.get(s1, INF):
                continue
            ride[s1] = a1
            reach[s1] = min(reach.get(s1, INF), a1)
            if s1 in egress:
                best = min(best, a1 + egress[s1])
            for s2, w in footpaths.get(s1, ()):
                t = a1 + w
                reach[s2] = min(reach.get(s2, INF), t)
        return None if best >= INF else best

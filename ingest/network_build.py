"""Compile a city (GTFS + OSM extracts) into a network directory, cached by an input hash.

The hash covers the bytes of every input file, the build options and `BUILD_VERSION`, so
an unchanged city is not rebuilt and a change to any input or to the compiler is.

The walk graph is made trip-ready here: the gaps between extracts are bridged by estimated
connectors (`ingest.extract_gaps`), then its pieces are labelled and the places decided
(`walk_places`), and only then are the stops snapped, to places only.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ingest import timetable_build as tb
from ingest.errors import InputFileError
from ingest.extract_gaps import connect_extracts
from ingest.fares import read_fare_system
from ingest.footpaths import (
    combine_footpaths,
    gtfs_transfers,
    straight_line_footpaths,
    street_footpaths,
)
from ingest.gtfs_reader import read_gtfs
from ingest.osm_streets import build_street_graph, extract_boxes
from ingest.shapes import agency_table, shape_table
from network.cache import (
    BUILD_VERSION,
    STOP_REACH_M,
    STOP_SNAP_M,
    build_options,
    input_hash,
    is_up_to_date,
)
from network.compiled import Trips, write_network
from routing.planner import StopSnaps
from routing.streets import StreetGraph, StreetIndex, StreetPieces
from routing.timetable import Timetable

log = logging.getLogger(__name__)

PROFILES = ("walk", "bike", "car")


def walk_places(
    walk: StreetGraph, lat: np.ndarray, lon: np.ndarray, served: np.ndarray
) -> StreetPieces:
    """The walk graph's pieces, and which are places (see `routing.streets.StreetPieces`).

    The largest piece is a place. So is a smaller piece whose streets are the only ones
    within reach of a stop that the timetable serves (`served`: stop -> bool): an island
    with a ferry pier, or a fragment cut off by an extract's edge whose only stop lies just
    beyond that edge, is somewhere a trip can go. Reach is `STOP_SNAP_M`, or `STOP_REACH_M`
    for a stop with no street at all within `STOP_SNAP_M` (the same two tiers `snap_stops`
    uses). A served stop that also has a street of the largest piece within reach does not
    make its own piece a place: it is snapped to the largest piece instead (a metro
    platform mapped without its stairs).
    """
    pieces = StreetPieces.of(walk)
    s = np.flatnonzero(served)
    extra: list[np.ndarray] = []
    unsnapped = np.ones(len(s), dtype=np.bool_)
    for reach_m in (STOP_SNAP_M, STOP_REACH_M):
        nearest, _, _ = StreetIndex(walk, max_snap_m=reach_m).snap_many(lat[s], lon[s])
        on_main, _, _ = StreetIndex(walk, max_snap_m=reach_m, pieces=pieces).snap_many(
            lat[s], lon[s]
        )
        lonely = unsnapped & (nearest >= 0) & (on_main < 0)
        extra.append(pieces.node_piece[walk.edge_head[nearest[lonely]]])
        unsnapped &= nearest < 0  # the second tier is for stops with no street in the first
    added = np.unique(np.concatenate(extra))
    pieces = pieces.with_places(added)
    place_nodes = pieces.piece_place[pieces.node_piece]
    log.info(
        "walk graph: %d pieces, %d of them places (%d of %d nodes); %d made places by a stop",
        pieces.n_pieces,
        int(pieces.piece_place.sum()),
        int(place_nodes.sum()),
        walk.n_nodes,
        len(added),
    )
    return pieces


def served_stops(feed: Any, stop_index: dict[str, int]) -> np.ndarray:
    """Stop -> at least one trip calls there (stations and entrances never do)."""
    served = np.zeros(len(stop_index), dtype=np.bool_)
    ids = feed.stop_times["stop_id"].unique().tolist()
    served[[stop_index[i] for i in ids if i in stop_index]] = True
    return served


def snap_stops(
    walk: StreetGraph,
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    pieces: StreetPieces | None = None,
) -> StopSnaps:
    """Each stop's nearest point on a place of the walk graph (any edge without `pieces`)
    within `STOP_SNAP_M`, else within `STOP_REACH_M`, else edge -1: such a stop gets
    straight-line footpaths.

    The second tier is for stops with no street of any piece within `STOP_SNAP_M`: stops
    just beyond the streets we have (the GTFS covers more than the OSM extracts). The
    straight line from the stop to the street is walked at the rider's pace like any snap
    offset, and walks over it are marked estimated.
    """
    edge = np.full(len(lat), -1, dtype=np.int32)
    fraction = np.zeros(len(lat), dtype=np.float64)
    offset = np.zeros(len(lat), dtype=np.float64)
    snapped_lat = lat.astype(np.float64).copy()
    snapped_lon = lon.astype(np.float64).copy()
    # the second tier is only for stops with no street of any piece near: a stop beside a
    # dead piece (a pier) is not linked across the water to a street farther away
    no_street, _, _ = StreetIndex(walk, max_snap_m=STOP_SNAP_M).snap_many(lat, lon)
    for reach_m in (STOP_SNAP_M, STOP_REACH_M):
        todo = np.flatnonzero((edge < 0) & ((reach_m == STOP_SNAP_M) | (no_street < 0)))
        index = StreetIndex(walk, max_snap_m=reach_m, pieces=pieces)
        e, f, o = index.snap_many(lat[todo], lon[todo])
        hit = e >= 0
        edge[todo[hit]], fraction[todo[hit]], offset[todo[hit]] = e[hit], f[hit], o[hit]
        for s in todo[hit].tolist():
            snap = index.snap(float(lat[s]), float(lon[s]))
            snapped_lat[s], snapped_lon[s] = snap.snapped_lat, snap.snapped_lon
        log.info(
            "%d of %d stops lie within %.0f m of a walkable street",
            (edge >= 0).sum(),
            len(edge),
            reach_m,
        )
    return StopSnaps(
        edge,
        fraction,
        offset,
        lat.astype(np.float64),
        lon.astype(np.float64),
        snapped_lat,
        snapped_lon,
    )


def build_network(
    gtfs: Path,
    osm: Sequence[Path],
    out: Path,
    *,
    name: str | None = None,
    dates: Sequence[str] | None = None,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Compile `gtfs` and the `osm` extracts into `out`; skip if `out` is already up to date.

    `dates` limits the service days compiled (ISO dates); by default every date on which a
    trip runs is compiled, and dates whose services (and their neighbours') match share one
    timetable. Without OSM extracts there is no street network: footpaths then come from
    straight-line distance and `transfers.txt`, and only stop-to-stop queries work.
    """
    out = Path(out)
    gtfs = Path(gtfs)
    osm = [Path(p) for p in osm]
    digest = input_hash([gtfs, *osm], build_options(dates))
    if not force and is_up_to_date(out, digest):
        log.info("network %s is up to date (inputs %s)", out, digest[:12])
        return out

    steps = [
        "read GTFS",
        *(f"{p} streets" for p in PROFILES if osm),
        "footpaths",
        "timetables",
        "write",
    ]
    bar = tqdm(total=len(steps), desc="build", unit="step", disable=not progress)

    def step(label: str) -> None:
        bar.set_postfix_str(label)
        log.info("build: %s", label)

    started = dt.datetime.now(dt.UTC)
    step("read GTFS")
    feed = read_gtfs(gtfs)
    timezone = tb.agency_timezone(feed)
    stops = tb.stop_table(feed)
    routes = tb.route_table(feed)
    all_dates = tb.service_dates(feed)
    wanted = all_dates if not dates else [d for d in all_dates if d in set(dates)]
    if dates and not wanted:
        raise InputFileError(
            f"none of {', '.join(dates)} has service in {gtfs.name}; it runs on "
            f"{', '.join(all_dates[:10])}{' ...' if len(all_dates) > 10 else ''}"
        )
    feed, templates = tb.expand_frequencies(feed)
    bar.update()

    streets: dict[str, StreetGraph] = {}
    if osm:
        with tempfile.TemporaryDirectory(prefix="fairtrip-osm-") as work:
            for profile in PROFILES:
                step(f"{profile} streets")
                streets[profile] = build_street_graph(osm, profile, workdir=Path(work))
                bar.update()
        streets["walk"] = connect_extracts(streets["walk"], extract_boxes(osm))

    step("footpaths")
    stop_index = {s: i for i, s in enumerate(stops.stop_id.tolist())}
    pieces = (
        walk_places(streets["walk"], stops.lat, stops.lon, served_stops(feed, stop_index))
        if streets
        else None
    )
    snaps = snap_stops(streets["walk"], stops.lat, stops.lon, pieces=pieces) if streets else None
    parts = []
    if snaps is not None:
        parts.append(street_footpaths(streets["walk"], snaps))
        off = snaps.edge < 0
        parts.append(straight_line_footpaths(stops.lat, stops.lon, only=off))
    else:
        parts.append(straight_line_footpaths(stops.lat, stops.lon))
    footpaths = combine_footpaths(
        len(stops.stop_id),
        parts,
        gtfs_transfers(feed, stop_index),
        lat=stops.lat,
        lon=stops.lon,
    )
    bar.update()

    step("timetables")
    timetables: dict[str, tuple[Timetable, Trips]] = {}
    date_keys: dict[str, str] = {}
    for date in tqdm(wanted, desc="service days", unit="day", disable=not progress, leave=False):
        key = tb.day_signature(feed, date)
        date_keys[date] = key
        if key not in timetables:
            timetables[key] = tb.compile_timetable(feed, date, stops, routes, footpaths, templates)
    bar.update()

    step("write")
    fares = read_fare_system(gtfs)
    feed_info = feed.feed_info
    manifest: dict[str, Any] = {
        "name": name or gtfs.stem,
        "input_hash": digest,
        "build_version": BUILD_VERSION,
        "inputs": [str(p.name) for p in [gtfs, *osm]],
        "timezone": timezone,
        "agencies": agency_table(feed),
        "fares": fares.to_json()["kind"] if fares is not None else None,
        "service_dates": date_keys,
        "feed_start_date": str(feed_info["feed_start_date"].iloc[0])
        if feed_info is not None and "feed_start_date" in feed_info
        else None,
        "feed_end_date": str(feed_info["feed_end_date"].iloc[0])
        if feed_info is not None and "feed_end_date" in feed_info
        else None,
        "built_at": started.isoformat(timespec="seconds"),
        "counts": {
            "stops": len(stops.stop_id),
            "stops_on_streets": int((snaps.edge >= 0).sum()) if snaps is not None else 0,
            "routes": len(routes.route_id),
            "footpaths": len(footpaths.from_stop),
            "timetables": {
                k: {"patterns": tt.n_patterns, "trips": tt.n_trips, "stop_events": tt.n_events}
                for k, (tt, _) in timetables.items()
            },
            "streets": {p: {"nodes": g.n_nodes, "edges": g.n_edges} for p, g in streets.items()},
            "walk_pieces": {
                "pieces": pieces.n_pieces,
                "places": int(pieces.piece_place.sum()),
                "estimated_connectors": int(streets["walk"].estimated.sum()) // 2,
            }
            if pieces is not None
            else None,
        },
        "bbox": list(streets["walk"].bbox) if streets else None,
        "build_seconds": None,
    }
    manifest["build_seconds"] = round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_network(
        out,
        manifest,
        stops=stops,
        routes=routes,
        streets=streets,
        stop_snaps=snaps,
        walk_pieces=pieces,
        timetables=timetables,
        shapes=shape_table(feed),
        fares=fares.to_json() if fares is not None else None,
    )
    bar.update()
    bar.close()
    return out

"""Walking transfers between stops: on the walk network where we have streets, by straight
line where we do not, and as `transfers.txt` says.

RAPTOR allows one footpath between two rides, so footpaths must already include every
pair of stops a rider would walk between (not just neighbours): we search from each stop
up to `max_transfer_s` and keep all stops reached.

Stops outside the street extracts (most of HSL's region lies beyond the two OSM files)
would otherwise have no transfers at all; for any pair where either stop is off the street
network we use the great-circle distance times a detour factor, and say so in the docs.
"""

from __future__ import annotations

import logging

import gtfs_kit as gk
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from routing.geo import DETOUR_FACTOR, LocalProjection, haversine_m
from routing.planner import DEFAULT_WALK_SPEED_MPS, StopSnaps, StopTargets
from routing.streets import StreetGraph, StreetSearch
from routing.timetable_builder import Footpaths

log = logging.getLogger(__name__)

#: how far a transfer walk may take
MAX_TRANSFER_S = 600


def street_footpaths(
    walk: StreetGraph, snaps: StopSnaps, *, max_transfer_s: float = MAX_TRANSFER_S
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(from, to, seconds) for every pair of snapped stops within reach on the walk network."""
    search = StreetSearch(walk)
    targets = StopTargets.of(snaps)
    frm: list[np.ndarray] = []
    to: list[np.ndarray] = []
    sec: list[np.ndarray] = []
    for s in targets.stops.tolist():
        reach = targets.walk_times(search, snaps.snap(s), max_time_s=max_transfer_s)
        other = reach.stops != s
        frm.append(np.full(int(other.sum()), s, dtype=np.int32))
        to.append(reach.stops[other])
        sec.append(reach.seconds[other])
    if not frm:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty, empty
    return np.concatenate(frm), np.concatenate(to), np.concatenate(sec)


def straight_line_footpaths(
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    only: np.ndarray | None = None,
    max_transfer_s: float = MAX_TRANSFER_S,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(from, to, seconds) between stops within reach in a straight line times the detour factor.

    `only`, if given, is a boolean mask: a pair is kept when either of its stops is in it.
    """
    if len(lat) == 0:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty, empty
    proj = LocalProjection(float(np.mean(lat)), float(np.mean(lon)))
    x, y = proj.to_xy(lat, lon)
    tree = cKDTree(np.column_stack([x, y]))
    radius = max_transfer_s * DEFAULT_WALK_SPEED_MPS / DETOUR_FACTOR
    pairs = tree.query_pairs(radius, output_type="ndarray")
    if only is not None:
        pairs = pairs[only[pairs[:, 0]] | only[pairs[:, 1]]]
    d = np.hypot(x[pairs[:, 0]] - x[pairs[:, 1]], y[pairs[:, 0]] - y[pairs[:, 1]])
    s = np.ceil(d * DETOUR_FACTOR / DEFAULT_WALK_SPEED_MPS).astype(np.int32)
    a, b = pairs[:, 0].astype(np.int32), pairs[:, 1].astype(np.int32)
    return np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([s, s])


def gtfs_transfers(
    feed: gk.Feed, stop_index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """transfers.txt rows between different stops: (from, to, min seconds or -1, forbidden)."""
    t = feed.transfers
    if t is None or t.empty:
        e = np.zeros(0, dtype=np.int32)
        return e, e, e, np.zeros(0, dtype=bool)
    t = t[t["from_stop_id"].isin(stop_index) & t["to_stop_id"].isin(stop_index)]
    t = t[t["from_stop_id"] != t["to_stop_id"]]
    frm = t["from_stop_id"].map(stop_index).to_numpy(dtype=np.int32)
    to = t["to_stop_id"].map(stop_index).to_numpy(dtype=np.int32)
    mtt = (
        t["min_transfer_time"].fillna(-1).to_numpy(dtype=np.int32)
        if "min_transfer_time" in t
        else np.full(len(t), -1, dtype=np.int32)
    )
    kind = t["transfer_type"].fillna(0).to_numpy(dtype=np.int32)
    return frm, to, mtt, kind == 3


def combine_footpaths(
    n_stops: int,
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    gtfs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
    *,
    lat: np.ndarray | None = None,
    lon: np.ndarray | None = None,
) -> Footpaths:
    """Merge footpath sources, keeping the shortest time per (from, to) pair, then apply the
    feed's transfers: forbidden pairs are removed, minimum times are enforced, and pairs the
    feed names but no walk found are added (at the larger of their minimum time and the
    straight-line estimate from `lat`/`lon`).
    """
    frm = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int32)
    to = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int32)
    sec = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int32)
    df = pd.DataFrame({"f": frm, "t": to, "s": sec})
    if gtfs is not None and len(gtfs[0]):
        g = pd.DataFrame({"f": gtfs[0], "t": gtfs[1], "min": gtfs[2], "no": gtfs[3]})
        forbidden = g[g["no"]]
        if len(forbidden):
            key = df["f"].astype(np.int64) * n_stops + df["t"]
            bad = forbidden["f"].astype(np.int64) * n_stops + forbidden["t"]
            df = df[~key.isin(bad)]
        allowed = g[~g["no"]]
        if len(allowed):
            fb = np.zeros(len(allowed), dtype=np.int32)
            if lat is not None and lon is not None:
                f_i, t_i = allowed["f"].to_numpy(), allowed["t"].to_numpy()
                d = haversine_m(lat[f_i], lon[f_i], lat[t_i], lon[t_i])
                fb = np.ceil(d * DETOUR_FACTOR / DEFAULT_WALK_SPEED_MPS).astype(np.int32)
            extra = pd.DataFrame(
                {"f": allowed["f"], "t": allowed["t"], "s": np.maximum(allowed["min"], fb)}
            )
            df = pd.concat([df, extra], ignore_index=True)
            # a minimum transfer time is a floor on whatever walk we found
            floor = allowed.set_index(["f", "t"])["min"]
            idx = pd.MultiIndex.from_arrays([df["f"], df["t"]])
            df["s"] = np.maximum(df["s"].to_numpy(), floor.reindex(idx).fillna(-1).to_numpy())
    df = df.groupby(["f", "t"], as_index=False)["s"].min()
    log.info("footpaths: %d between %d stops", len(df), n_stops)
    return Footpaths(
        df["f"].to_numpy(dtype=np.int32),
        df["t"].to_numpy(dtype=np.int32),
        df["s"].to_numpy(dtype=np.int32),
    )

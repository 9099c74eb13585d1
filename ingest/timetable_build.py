"""Compile a gtfs-kit feed into one `Timetable` per service day.

The steps, in order: pick the services running on the day and on its neighbours (whose
trips past 24:00 or before 00:00 reach into it); expand `frequencies.txt` into trips with
gtfs-kit; turn "HH:MM:SS" strings (hours may exceed 23) into int seconds, interpolating
stop times that the feed leaves blank; map ids to dense indexes; and hand plain arrays to
`routing.timetable_builder`, which forms non-overtaking patterns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

import gtfs_kit as gk
import numpy as np
import numpy.typing as npt
import pandas as pd

from ingest.errors import GtfsError
from network.compiled import Routes, Stops, Trips
from routing.timetable import Timetable
from routing.timetable_builder import Footpaths, TripEvents, build_timetable, event_flags

log = logging.getLogger(__name__)

DAY_S = 86_400
#: a next-day trip is kept if it leaves before this many seconds after today's start
NEXT_DAY_HORIZON_S = 30 * 3600


def _str_array(series: pd.Series) -> npt.NDArray[np.str_]:
    return np.asarray(series.astype("string").fillna("").to_numpy(dtype=str), dtype=np.str_)


def stop_table(feed: gk.Feed) -> Stops:
    """Stops that some trip serves, in a stable order (sorted by id)."""
    used = pd.Index(feed.stop_times["stop_id"].dropna().unique())
    stops = feed.stops[feed.stops["stop_id"].isin(used)].sort_values("stop_id")
    missing = used.difference(pd.Index(stops["stop_id"]))
    if len(missing):
        raise GtfsError(
            f"stop_times.txt names {len(missing)} stop(s) absent from stops.txt, "
            f"e.g. {missing[0]!r}"
        )
    if stops["stop_lat"].isna().any() or stops["stop_lon"].isna().any():
        bad = stops.loc[stops["stop_lat"].isna() | stops["stop_lon"].isna(), "stop_id"].iloc[0]
        raise GtfsError(f"stop {bad!r} has no coordinates")
    lat = stops["stop_lat"].to_numpy(dtype=np.float64)
    lon = stops["stop_lon"].to_numpy(dtype=np.float64)
    if np.any(np.abs(lat) > 90) or np.any(np.abs(lon) > 180):
        raise GtfsError("a stop has coordinates outside -90..90 / -180..180")
    zone = stops["zone_id"] if "zone_id" in stops else pd.Series([""] * len(stops))
    return Stops(
        stop_id=_str_array(stops["stop_id"]),
        name=_str_array(stops["stop_name"])
        if "stop_name" in stops
        else _str_array(stops["stop_id"]),
        lat=lat,
        lon=lon,
        zone_id=_str_array(zone),
    )


def route_table(feed: gk.Feed) -> Routes:
    """All routes, sorted by id."""
    r = feed.routes.sort_values("route_id")
    empty = pd.Series([""] * len(r), index=r.index)
    return Routes(
        route_id=_str_array(r["route_id"]),
        short_name=_str_array(r.get("route_short_name", empty)),
        long_name=_str_array(r.get("route_long_name", empty)),
        route_type=r["route_type"].fillna(3).to_numpy(dtype=np.int32)
        if "route_type" in r
        else np.full(len(r), 3, dtype=np.int32),
        agency_id=_str_array(r.get("agency_id", empty)),
    )


def agency_timezone(feed: gk.Feed) -> str:
    """The feed's single time zone (GTFS requires every agency to share one)."""
    zones = feed.agency["agency_timezone"].dropna().unique().tolist()
    if len(zones) != 1:
        raise GtfsError(f"agency.txt must name exactly one time zone, found {zones}")
    return str(zones[0])


def parse_times(values: pd.Series) -> npt.NDArray[np.float64]:
    """'HH:MM:SS' (H may be >= 24, or one digit) -> seconds as float; blank -> NaN."""
    s = values.astype("string")
    parts = s.str.strip().str.split(":", n=2, expand=True)
    if parts.shape[1] != 3:
        if s.notna().any():
            raise GtfsError(f"times must look like HH:MM:SS, got e.g. {s.dropna().iloc[0]!r}")
        return np.full(len(s), np.nan)
    try:
        h = pd.to_numeric(parts[0], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        m = pd.to_numeric(parts[1], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        sec = pd.to_numeric(parts[2], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise GtfsError(f"stop time is not HH:MM:SS: {exc}") from exc
    if np.any((m >= 60) | (sec >= 60) | (h < 0) | (m < 0) | (sec < 0)):
        raise GtfsError("a stop time has minutes or seconds outside 0..59 or a negative hour")
    seconds: npt.NDArray[np.float64] = h * 3600 + m * 60 + sec
    return seconds


def _interpolate(times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Fill blank times linearly between the known ones of the same trip (by stop order).

    Rows are grouped by trip in travel order; GTFS requires each trip's first and last stop
    to have times, so a forward/backward fill never crosses a trip boundary.
    """
    known = ~np.isnan(times)
    if known.all():
        return times
    pos = np.arange(len(times), dtype=np.float64)
    prev_pos = pd.Series(np.where(known, pos, np.nan)).ffill().to_numpy()
    next_pos = pd.Series(np.where(known, pos, np.nan)).bfill().to_numpy()
    prev_t = pd.Series(times).ffill().to_numpy()
    next_t = pd.Series(times).bfill().to_numpy()
    span = np.where(next_pos > prev_pos, next_pos - prev_pos, 1.0)
    filled = prev_t + (next_t - prev_t) * (pos - prev_pos) / span
    return np.where(known, times, np.round(filled))


def service_dates(feed: gk.Feed) -> list[str]:
    """Dates (YYYY-MM-DD) in the feed's calendar on which at least one trip runs."""
    trip_services = set(feed.trips["service_id"].dropna().unique().tolist())
    out = []
    for d in feed.get_dates():
        if trip_services.intersection(gk.get_active_services(feed, d)):
            out.append(f"{d[:4]}-{d[4:6]}-{d[6:]}")
    return out


def day_signature(feed: gk.Feed, date: str) -> str:
    """A key shared by every date whose own and neighbouring days run the same services.

    Dates with equal signatures have identical timetables, so a network compiles one and
    points all those dates at it.
    """
    h = hashlib.sha256()
    for shift in (-1, 0, 1):
        d = dt.date.fromisoformat(date) + dt.timedelta(days=shift)
        services = sorted(gk.get_active_services(feed, d.strftime("%Y%m%d")))
        h.update(("|".join(services) + "\n").encode())
    return h.hexdigest()[:16]


def compile_timetable(
    feed: gk.Feed,
    date: str,
    stops: Stops,
    routes: Routes,
    footpaths: Footpaths,
    templates: dict[str, str] | None = None,
) -> tuple[Timetable, Trips]:
    """Build the timetable of service day `date` (YYYY-MM-DD) from an already expanded feed.

    `feed` must have had its frequencies expanded; `templates` is what `expand_frequencies`
    returned alongside it.
    """
    day = dt.date.fromisoformat(date)
    picked = []
    for shift in (-1, 0, 1):
        d = (day + dt.timedelta(days=shift)).strftime("%Y%m%d")
        services = gk.get_active_services(feed, d)
        t = feed.trips[feed.trips["service_id"].isin(services)][
            ["trip_id", "route_id"]
            + [c for c in ("trip_headsign", "shape_id") if c in feed.trips.columns]
        ].copy()
        t["shift_s"] = shift * DAY_S
        picked.append(t)
    trips = pd.concat(picked, ignore_index=True)
    if trips.empty:
        raise GtfsError(f"no trip runs on {date}")
    trips["tix"] = np.arange(len(trips), dtype=np.int64)

    st = feed.stop_times[
        ["trip_id", "stop_id", "stop_sequence", "arrival_time", "departure_time"]
        + [c for c in ("pickup_type", "drop_off_type") if c in feed.stop_times.columns]
    ]
    st = st.merge(trips[["trip_id", "tix", "shift_s"]], on="trip_id", how="inner")
    st = st.sort_values(["tix", "stop_sequence"], kind="stable").reset_index(drop=True)
    if st["stop_sequence"].isna().any():
        raise GtfsError("stop_times.txt has a row without stop_sequence")

    arr = parse_times(st["arrival_time"])
    dep = parse_times(st["departure_time"])
    arr = np.where(np.isnan(arr), dep, arr)
    dep = np.where(np.isnan(dep), arr, dep)
    tix = st["tix"].to_numpy()
    arr = _interpolate(arr)
    dep = np.where(np.isnan(dep), arr, dep)
    dep = _interpolate(dep)
    if np.isnan(arr).any():
        raise GtfsError("a trip's first or last stop has no time; GTFS requires both")
    shift = st["shift_s"].to_numpy(dtype=np.int64)
    arr_s = (arr + shift).astype(np.int64)
    dep_s = (dep + shift).astype(np.int64)
    dep_s = np.maximum(dep_s, arr_s)

    # keep trips that touch today: yesterday's that end after 0:00, tomorrow's that start early
    trip_first = pd.Series(dep_s).groupby(tix).transform("min").to_numpy()
    trip_last = pd.Series(arr_s).groupby(tix).transform("max").to_numpy()
    keep = (trip_last >= 0) & (trip_first <= NEXT_DAY_HORIZON_S)
    st, arr_s, dep_s, tix = st[keep], arr_s[keep], dep_s[keep], tix[keep]

    stop_idx = pd.Series(np.arange(len(stops.stop_id)), index=stops.stop_id)
    route_idx = pd.Series(np.arange(len(routes.route_id)), index=routes.route_id)
    ev_stop = stop_idx.reindex(st["stop_id"].to_numpy()).to_numpy()
    if np.isnan(ev_stop.astype(np.float64)).any():
        raise GtfsError("stop_times.txt names a stop absent from the stop table")

    # dense trips in order of appearance
    uniq_tix, counts = np.unique(tix, return_counts=True)
    trip_rows = trips.set_index("tix").loc[uniq_tix]
    trip_route = route_idx.reindex(trip_rows["route_id"].to_numpy()).to_numpy()
    if np.isnan(trip_route.astype(np.float64)).any():
        raise GtfsError("trips.txt names a route absent from routes.txt")
    trip_ptr = np.zeros(len(uniq_tix) + 1, dtype=np.int64)
    np.cumsum(counts, out=trip_ptr[1:])

    zero = pd.Series(np.zeros(len(st), dtype=np.int32), index=st.index)
    pickup = st["pickup_type"].fillna(0) if "pickup_type" in st else zero
    dropoff = st["drop_off_type"].fillna(0) if "drop_off_type" in st else zero
    events = TripEvents(
        trip_ptr=trip_ptr,
        stop=ev_stop.astype(np.int32),
        arr_s=arr_s.astype(np.int32),
        dep_s=dep_s.astype(np.int32),
        flags=event_flags(pickup.to_numpy(dtype=np.int32), dropoff.to_numpy(dtype=np.int32)),
        trip_route=trip_route.astype(np.int32),
        trip_source=np.arange(len(uniq_tix), dtype=np.int32),
        trip_shift_s=trip_rows["shift_s"].to_numpy(dtype=np.int32),
    )
    tt = build_timetable(len(stops.stop_id), events, footpaths)
    empty = pd.Series([""] * len(trip_rows), index=trip_rows.index)
    generated = trip_rows["trip_id"].astype("string")
    first_dep = dep_s[trip_ptr[:-1]] - trip_rows["shift_s"].to_numpy()
    table = Trips(
        trip_id=_str_array(generated.map(lambda t: (templates or {}).get(t, t))),
        start_time=np.where(
            generated.isin(list((templates or {}).keys())).to_numpy(),
            [f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}" for s in first_dep.tolist()],
            "",
        ).astype(np.str_),
        route=trip_route.astype(np.int32),
        headsign=_str_array(trip_rows.get("trip_headsign", empty)),
        shape_id=_str_array(trip_rows.get("shape_id", empty)),
    )
    log.info(
        "timetable %s: %d trips, %d patterns, %d stop events",
        date,
        tt.n_trips,
        tt.n_patterns,
        tt.n_events,
    )
    return tt, table


def expand_frequencies(feed: gk.Feed) -> tuple[gk.Feed, dict[str, str]]:
    """Frequency-based trips as ordinary trips (gtfs-kit does the work).

    Returns the expanded feed and, for every generated trip, the GTFS trip id of its
    template: riders' apps and GTFS-Realtime know a frequency trip by that id plus its
    start time, never by the generated id.
    """
    if feed.frequencies is None or feed.frequencies.empty:
        return feed, {}
    out = gk.expand_frequencies(feed)
    original = set(feed.trips["trip_id"].tolist())
    templates = {}
    for trip_id in set(out.trips["trip_id"].tolist()) - original:
        template = trip_id.rsplit("-freq-", 1)[0]
        if template not in original:
            raise GtfsError(f"cannot tell which trip generated {trip_id!r}")
        templates[trip_id] = template
    log.info("expanded frequencies.txt: %d -> %d trips", len(feed.trips), len(out.trips))
    return out, templates

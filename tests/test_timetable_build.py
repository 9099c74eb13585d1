"""GTFS to timetable: frequencies, calendars, times past midnight, blank times, bad feeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest import timetable_build as tb
from ingest.errors import GtfsError, InputFileError
from ingest.gtfs_reader import read_gtfs
from routing.raptor import StopTimes
from routing.timetable_builder import Footpaths
from routing.transit import TransitSearch

NO_FOOTPATHS = Footpaths(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32))

BASE = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nX,X,http://x,Europe/Helsinki\n",
    "stops.txt": "stop_id,stop_name,stop_lat,stop_lon\nA,Alpha,60.1,24.9\nB,Beta,60.11,24.91\n"
    "C,Gamma,60.12,24.92\n",
    "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type\nR,X,1,One,3\n",
    "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
    "start_date,end_date\nWK,1,1,1,1,1,0,0,20220221,20220227\n",
    "calendar_dates.txt": "service_id,date,exception_type\nWK,20220223,2\n",
}


def write_feed(tmp_path: Path, **tables: str) -> Path:
    d = tmp_path / "gtfs"
    d.mkdir()
    for name, text in {**BASE, **tables}.items():
        (d / name).write_text(text)
    return d


def hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


def compile_day(path: Path, date: str):
    feed, templates = tb.expand_frequencies(read_gtfs(path))
    stops, routes = tb.stop_table(feed), tb.route_table(feed)
    tt, trips = tb.compile_timetable(feed, date, stops, routes, NO_FOOTPATHS, templates)
    return tt, trips, {sid: i for i, sid in enumerate(stops.stop_id.tolist())}


def test_frequency_based_trip_is_expanded_into_departures_every_headway(tmp_path):
    path = write_feed(
        tmp_path,
        **{
            "trips.txt": "route_id,service_id,trip_id\nR,WK,T1\n",
            "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
            "T1,08:00:00,08:00:00,A,1\nT1,08:10:00,08:10:00,B,2\n",
            "frequencies.txt": "trip_id,start_time,end_time,headway_secs,exact_times\n"
            "T1,08:00:00,09:00:00,900,1\n",
        },
    )
    tt, trips, idx = compile_day(path, "2022-02-22")
    assert tt.n_trips == 4  # 08:00, 08:15, 08:30, 08:45
    js = TransitSearch(tt).depart_at(
        StopTimes.of({idx["A"]: 0}), StopTimes.of({idx["B"]: 0}), hm("08:16")
    )
    assert [(j.depart_s, j.arrive_s) for j in js] == [(hm("08:30"), hm("08:40"))]
    # riders and GTFS-Realtime know it as the template trip plus its start time
    src = int(tt.trip_source[js[0].rides[0].trip])
    assert (trips.trip_id[src], trips.start_time[src]) == ("T1", "08:30:00")


def test_calendar_date_exception_removes_the_service_that_day(tmp_path):
    path = write_feed(
        tmp_path,
        **{
            "trips.txt": "route_id,service_id,trip_id\nR,WK,T1\n",
            "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
            "T1,08:00:00,08:00:00,A,1\nT1,08:10:00,08:10:00,B,2\n",
        },
    )
    feed = read_gtfs(path)
    dates = tb.service_dates(feed)
    assert "2022-02-22" in dates
    assert "2022-02-23" not in dates  # removed by calendar_dates
    assert "2022-02-26" not in dates  # Saturday


def test_yesterdays_trip_past_midnight_runs_early_today(tmp_path):
    path = write_feed(
        tmp_path,
        **{
            "trips.txt": "route_id,service_id,trip_id\nR,WK,N1\n",
            "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
            "N1,24:30:00,24:30:00,A,1\nN1,25:05:00,25:05:00,B,2\n",
        },
    )
    tt, trips, idx = compile_day(path, "2022-02-22")  # Tuesday: Monday's N1 reaches in
    assert sorted(tt.trip_shift_s.tolist()) == [-86400, 0]
    js = TransitSearch(tt).depart_at(
        StopTimes.of({idx["A"]: 0}), StopTimes.of({idx["B"]: 0}), hm("00:10")
    )
    assert [(j.depart_s, j.arrive_s) for j in js] == [(hm("00:30"), hm("01:05"))]
    assert trips.trip_id[tt.trip_source[js[0].rides[0].trip]] == "N1"


def test_blank_intermediate_times_are_interpolated(tmp_path):
    path = write_feed(
        tmp_path,
        **{
            "trips.txt": "route_id,service_id,trip_id\nR,WK,T1\n",
            "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
            "T1,08:00:00,08:00:00,A,1\nT1,,,B,2\nT1,08:20:00,08:20:00,C,3\n",
        },
    )
    tt, _, _idx = compile_day(path, "2022-02-22")
    _stops, arr, _dep = tt.trip_times(0)
    assert arr.tolist() == [hm("08:00"), hm("08:10"), hm("08:20")]


def test_pickup_type_one_forbids_boarding_there(tmp_path):
    path = write_feed(
        tmp_path,
        **{
            "trips.txt": "route_id,service_id,trip_id\nR,WK,T1\n",
            "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence,"
            "pickup_type,drop_off_type\n"
            "T1,08:00:00,08:00:00,A,1,0,1\nT1,08:10:00,08:10:00,B,2,1,0\n"
            "T1,08:20:00,08:20:00,C,3,1,0\n",
        },
    )
    tt, _, idx = compile_day(path, "2022-02-22")
    search = TransitSearch(tt)
    assert search.depart_at(StopTimes.of({idx["B"]: 0}), StopTimes.of({idx["C"]: 0}), 0) == []
    assert len(search.depart_at(StopTimes.of({idx["A"]: 0}), StopTimes.of({idx["C"]: 0}), 0))


def test_missing_stop_times_table_is_named(tmp_path):
    path = write_feed(tmp_path, **{"trips.txt": "route_id,service_id,trip_id\nR,WK,T1\n"})
    with pytest.raises(GtfsError, match="stop_times"):
        read_gtfs(path)


def test_malformed_time_is_a_gtfs_error(tmp_path):
    path = write_feed(
        tmp_path,
        **{
            "trips.txt": "route_id,service_id,trip_id\nR,WK,T1\n",
            "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
            "T1,08:00:00,08:00:00,A,1\nT1,8h10,8h10,B,2\n",
        },
    )
    with pytest.raises(GtfsError, match="HH:MM:SS"):
        compile_day(path, "2022-02-22")


def test_unknown_stop_in_stop_times_is_a_gtfs_error(tmp_path):
    path = write_feed(
        tmp_path,
        **{
            "trips.txt": "route_id,service_id,trip_id\nR,WK,T1\n",
            "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
            "T1,08:00:00,08:00:00,A,1\nT1,08:10:00,08:10:00,ZZ,2\n",
        },
    )
    with pytest.raises(GtfsError, match="'ZZ'"):
        tb.stop_table(read_gtfs(path))


def test_missing_feed_file_is_named(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_gtfs(tmp_path / "nope.zip")


def test_not_a_zip_is_a_gtfs_error(tmp_path):
    p = tmp_path / "feed.zip"
    p.write_text("hello")
    with pytest.raises(GtfsError, match="neither a GTFS directory nor a zip"):
        read_gtfs(p)


def test_helsinki_feed_compiles_with_its_real_frequencies():
    path = Path(__file__).parents[1] / "data/helsinki/gtfs/hsl-gtfs-2022-02-22.zip"
    feed = read_gtfs(path)
    assert tb.service_dates(feed) == ["2022-02-22"]
    assert tb.agency_timezone(feed) == "Europe/Helsinki"
    tt, _trips, _ = compile_day(path, "2022-02-22")
    tt.validate()
    assert tt.n_trips > 12_000  # 3,195 trips, 3,226 frequency rows expanded
    assert tt.event_arr_s.max() > 24 * 3600  # trips past midnight kept as > 24:00

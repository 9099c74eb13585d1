"""Compiled networks on disk: round trips, the input-hash cache key, and service-day clocks."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from network.cache import InputMissingError, build_options, input_hash, is_up_to_date
from network.compiled import Network, NetworkFileError
from routing.errors import QueryError, ServiceDateError

HEL = dt.timezone(dt.timedelta(hours=2))


def test_loaded_network_is_memory_mapped_and_complete(helsinki):
    tt, trips = helsinki.timetable(helsinki.manifest["service_dates"]["2022-02-22"])
    # a plain ndarray view of the map (fast to index), its pages still the file's
    assert isinstance(tt.event_dep_s.base, np.memmap)
    tt.validate()
    assert len(trips.trip_id) == tt.trip_source.max() + 1
    assert set(helsinki.streets) == {"walk", "bike", "car"}
    assert helsinki.manifest["counts"]["stops_on_streets"] == int(
        (helsinki.stop_snaps.edge >= 0).sum()
    )


def test_input_hash_changes_with_any_input_byte_or_option(tmp_path):
    a = tmp_path / "a.txt"
    a.write_bytes(b"one")
    base = input_hash([a], build_options(None))
    assert input_hash([a], build_options(None)) == base
    assert input_hash([a], build_options(["2022-02-22"])) != base
    a.write_bytes(b"two")
    assert input_hash([a], build_options(None)) != base


def test_input_hash_of_a_gtfs_directory_covers_its_files(tmp_path):
    d = tmp_path / "gtfs"
    d.mkdir()
    (d / "stops.txt").write_text("x")
    first = input_hash([d], {})
    (d / "trips.txt").write_text("y")
    assert input_hash([d], {}) != first


def test_missing_input_is_named(tmp_path):
    with pytest.raises(InputMissingError, match=r"nope\.zip"):
        input_hash([tmp_path / "nope.zip"], {})


def test_network_is_up_to_date_only_for_its_own_hash(helsinki_dir):
    manifest = json.loads((helsinki_dir / "manifest.json").read_text())
    assert is_up_to_date(helsinki_dir, manifest["input_hash"])
    assert not is_up_to_date(helsinki_dir, "0" * 64)


def test_other_format_version_is_refused(helsinki_dir, tmp_path):
    copy = tmp_path / "net"
    shutil.copytree(helsinki_dir, copy)
    m = json.loads((copy / "manifest.json").read_text())
    m["format"] = 999
    (copy / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(NetworkFileError, match="rebuild"):
        Network.load(copy)


def test_query_time_becomes_seconds_of_the_service_day(helsinki):
    date, _, seconds = helsinki.resolve(dt.datetime(2022, 2, 22, 8, 0, tzinfo=HEL))
    assert (date, seconds) == ("2022-02-22", 8 * 3600)
    # the same instant written in UTC
    _, _, again = helsinki.resolve(dt.datetime(2022, 2, 22, 6, 0, tzinfo=dt.UTC))
    assert again == 8 * 3600


def test_a_query_just_after_midnight_uses_the_previous_service_day(helsinki):
    date, _, seconds = helsinki.resolve(dt.datetime(2022, 2, 23, 0, 30, tzinfo=HEL))
    assert (date, seconds) == ("2022-02-22", 24 * 3600 + 30 * 60)


def test_a_date_without_service_names_the_valid_dates(helsinki):
    with pytest.raises(ServiceDateError, match="2022-02-22"):
        helsinki.resolve(dt.datetime(2022, 2, 23, 12, 0, tzinfo=HEL))


def test_a_naive_time_is_refused(helsinki):
    with pytest.raises(QueryError, match="UTC offset"):
        helsinki.resolve(dt.datetime(2022, 2, 22, 8, 0))


def test_service_day_starts_at_noon_minus_12h_on_a_daylight_saving_day(helsinki):
    # Europe/Helsinki moved to summer time on 2022-03-27 at 03:00: noon minus 12 h is 23:00
    # of the day before, local time, so GTFS times count from there
    start = helsinki.service_day_start("2022-03-27")
    assert start.isoformat() == "2022-03-26T23:00:00+02:00"
    assert helsinki.service_day_start("2022-02-22").isoformat() == "2022-02-22T00:00:00+02:00"


def test_an_empty_directory_is_not_a_network(tmp_path: Path):
    with pytest.raises(NetworkFileError, match="fairtrip build"):
        Network.load(tmp_path)


def test_service_day_seconds_map_back_to_clock_time_across_the_clock_change(helsinki):
    # 10 h after the start of 2022-03-27's service day is 10:00 summer time (UTC+3)
    assert helsinki.at("2022-03-27", 10 * 3600).isoformat() == "2022-03-27T10:00:00+03:00"
    assert helsinki.at("2022-02-22", 25 * 3600).isoformat() == "2022-02-23T01:00:00+02:00"

"""`fairtrip plan` and `fairtrip build` as a user meets them: answers, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fairtrip.cli import main

KAMPPI = "60.1685,24.9316"
KRUUNUNHAKA = "60.1725,24.9560"
AT = "2022-02-22T08:00+02:00"
#: the CLI plans as /plan does, shared vehicles included; these tests are about the tram
TRANSIT_ONLY = ("--modes", "WALK,TRANSIT")


@pytest.fixture
def network(helsinki_dir: Path) -> str:
    return str(helsinki_dir)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def plan(capsys, network: str, *extra: str, to: str = KRUUNUNHAKA) -> tuple[int, str, str]:
    """`fairtrip plan` from Kamppi at 08:00 on the embedded day, plus `extra` options."""
    return run(
        capsys, "plan", "--network", network, "--from", KAMPPI, "--to", to, "--at", AT, *extra
    )


def test_plan_kamppi_to_kruununhaka_rides_a_real_hsl_tram(capsys, network):
    code, out, _ = plan(capsys, network, "--json", *TRANSIT_ONLY)
    assert code == 0
    doc = json.loads(out)
    rides = [leg for it in doc["itineraries"] for leg in it["legs"] if leg["mode"] != "WALK"]
    assert rides, doc
    first = rides[0]
    summary = (
        f"{first['mode']} {first['route']['short_name']} {first['from']['name']} "
        f"{first['start'][11:16]} -> {first['to']['name']} {first['end'][11:16]}"
    )
    assert summary == "TRAM 9 Kampintori 08:01 -> Kaisaniemenpuisto 08:07"
    # the departure is HSL's: frequencies.txt runs trip ..._0740 every 600 s from 07:10 to
    # 08:30, and its 07:50 run reaches Kampintori at 08:01
    assert first["trip_id"] == "1009_20220204_Ti_1_0740"
    assert first["trip_start_time"] == "07:50:00"
    assert first["intermediate_stops"]
    assert first["geometry"]["type"] == "LineString"


def test_plan_text_output_names_route_stops_and_times(capsys, network):
    code, out, _ = plan(capsys, network, *TRANSIT_ONLY)
    assert code == 0
    assert "tram 9 towards Pasila as.: Kampintori [1040408] 08:01 -> Kaisaniemenpuisto" in out


def test_walking_legs_carry_street_geometry_from_the_exact_coordinates(capsys, network):
    _, out, _ = plan(capsys, network, "--json")
    legs = json.loads(out)["itineraries"][0]["legs"]
    first_walk = legs[0]["geometry"]["coordinates"]
    assert first_walk[0] == [24.9316, 60.1685]
    assert len(first_walk) > 2  # follows streets, not a straight line
    last = legs[-1]["geometry"]["coordinates"]
    assert last[-1] == [24.956, 60.1725]


def test_arrive_by_arrives_before_the_deadline(capsys, network):
    code, out, _ = plan(capsys, network, "--arrive-by", "--json")
    assert code == 0
    its = json.loads(out)["itineraries"]
    assert its and all(it["end"] <= "2022-02-22T08:00:00+02:00" for it in its)
    assert any(leg["mode"] != "WALK" for it in its for leg in it["legs"])


def test_range_query_lists_several_departures(capsys, network):
    code, out, _ = plan(capsys, network, "--window", "60", "--json", *TRANSIT_ONLY)
    assert code == 0
    starts = {it["start"] for it in json.loads(out)["itineraries"]}
    assert len(starts) >= 4


def test_origin_equal_to_destination_is_a_zero_walk(capsys, network):
    code, out, _ = plan(capsys, network, "--json", to=KAMPPI)
    assert code == 0
    (it,) = json.loads(out)["itineraries"]
    assert it["duration_s"] == 0 and it["transfers"] == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "abc", "--to", KRUUNUNHAKA, "--at", AT], "must be LAT,LON"),
        (["--from", "60.1,x", "--to", KRUUNUNHAKA, "--at", AT], "two numbers"),
        (["--from", "nan,24.9", "--to", KRUUNUNHAKA, "--at", AT], "finite"),
        (["--from", "91,24.9", "--to", KRUUNUNHAKA, "--at", AT], "outside lat"),
        (["--from", "60.30,24.93", "--to", KRUUNUNHAKA, "--at", AT], "network covers lat"),
        (["--from", KAMPPI, "--to", KRUUNUNHAKA, "--at", "tomorrow"], "not ISO-8601"),
        (["--from", KAMPPI, "--to", KRUUNUNHAKA, "--at", "2022-02-22T08:00"], "UTC offset"),
        (
            ["--from", KAMPPI, "--to", KRUUNUNHAKA, "--at", "2022-03-01T08:00+02:00"],
            "service on: 2022-02-22",
        ),
        (
            ["--from", KAMPPI, "--to", KRUUNUNHAKA, "--at", AT, "--walk-speed", "0"],
            "walk_speed_mps",
        ),
        (
            ["--from", KAMPPI, "--to", KRUUNUNHAKA, "--at", AT, "--max-transfers", "-1"],
            "max_transfers",
        ),
    ],
)
def test_bad_plan_input_exits_2_with_one_line(capsys, network, argv, message):
    code, out, err = run(capsys, "plan", "--network", network, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err, err
    assert "Traceback" not in err


def test_plan_on_a_directory_that_is_no_network_says_so(capsys, tmp_path):
    code, _, err = run(
        capsys,
        "plan",
        "--network",
        str(tmp_path),
        "--from",
        KAMPPI,
        "--to",
        KRUUNUNHAKA,
        "--at",
        AT,
    )
    assert code == 2 and "fairtrip build" in err


def test_build_with_a_missing_gtfs_file_exits_2(capsys, tmp_path):
    code, _, err = run(
        capsys,
        "build",
        "--gtfs",
        str(tmp_path / "none.zip"),
        "--out",
        str(tmp_path / "net"),
        "--quiet",
    )
    assert code == 2 and "does not exist" in err


def test_build_with_a_broken_zip_exits_2(capsys, tmp_path):
    bad = tmp_path / "feed.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("stops.txt", "stop_id\n1\n")
    code, _, err = run(
        capsys, "build", "--gtfs", str(bad), "--out", str(tmp_path / "net"), "--quiet"
    )
    assert code == 2 and "missing GTFS tables" in err
    assert not (tmp_path / "net").exists()


def test_build_is_skipped_when_the_inputs_are_unchanged(capsys, helsinki_dir):
    code, out, _ = run(capsys, "build", "--quiet")
    assert code == 0 and out.strip() == str(helsinki_dir)


def test_console_script_runs_in_a_fresh_process(helsinki_dir):
    env = {**os.environ, "FAIRTRIP_CACHE": str(helsinki_dir.parents[1])}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "fairtrip.cli",
            "plan",
            "--from",
            KAMPPI,
            "--to",
            KRUUNUNHAKA,
            "--at",
            AT,
            *TRANSIT_ONLY,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "Kampintori" in res.stdout


def test_build_with_a_damaged_osm_file_exits_2_and_keeps_the_old_network(capsys, tmp_path):
    from network.embedded import helsinki

    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"this is not a protobuf")
    out = tmp_path / "net"
    out.mkdir()
    (out / "keep.txt").write_text("old network")
    code, _, err = run(
        capsys,
        "build",
        "--gtfs",
        str(helsinki().gtfs),
        "--osm",
        str(bad),
        "--out",
        str(out),
        "--quiet",
    )
    assert code == 2 and "not a readable OSM file" in err and err.count("\n") == 1
    assert (out / "keep.txt").read_text() == "old network"


def test_southern_and_western_coordinates_are_read_as_written(capsys, network):
    # argparse would take "-23.55,-46.63" for an option; the CLI reads it as a coordinate
    # (and this point is off the Helsinki map: the error names the covered area, exit 2)
    code, out, err = run(
        capsys, "plan", "--network", network, "--from", "-23.55,-46.63", "--to", KRUUNUNHAKA,
        "--at", AT,
    )
    assert code == 2 and out == ""
    assert "-23.55" in err and "network covers lat" in err
    assert "expected one argument" not in err

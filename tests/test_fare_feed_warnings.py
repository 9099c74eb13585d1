"""The fare reader keeps an ambiguous `transfer_duration` of 0 literally but says so.

A fare that allows transfers with `transfer_duration=0` (Northern Kentucky's TANK feed
publishes `transfers=1, transfer_duration=0`) could mean "no time limit" or "the transfer
expires at once". The build keeps the literal reading and logs a warning naming the fares;
an empty `transfer_duration` (no limit, as the reference defines it) is not ambiguous and
stays quiet.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ingest.fares import read_fare_system
from pricing.fares_v1 import FaresV1
from tests.data_paths import REPO_DATA

HEADER = "fare_id,price,currency_type,payment_method,transfers,transfer_duration\n"
LOGGER = "ingest.fares"
TANK_ZIP = REPO_DATA / "nky" / "gtfs" / "TANK-GTFS.zip"


def _fares(tmp_path: Path, rows: str) -> Path:
    (tmp_path / "fare_attributes.txt").write_text(HEADER + rows)
    return tmp_path


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER
        and r.levelno == logging.WARNING
        and "transfer_duration 0" in r.getMessage()
    ]


def test_fares_with_transfers_and_zero_duration_are_named_in_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the TANK rows as published, trailing space included; fare 100 allows no transfer, so
    # its duration of 0 changes nothing and it is not named
    feed = _fares(tmp_path, "100,1.00,USD,0,0,0 \n150,1.50,USD,0,1,0 \n200,2.00,USD,0,1,0 \n")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        system = read_fare_system(feed)
    [message] = _warnings(caplog)
    assert "'150', '200'" in message
    assert "'100'" not in message
    assert "expires at the first boarding" in message
    # the warning does not change the reading: the durations stay a literal 0 seconds
    assert isinstance(system, FaresV1)
    assert {a.fare_id: a.transfer_duration_s for a in system.attributes} == {
        "100": 0,
        "150": 0,
        "200": 0,
    }


def test_unlimited_transfers_with_zero_duration_are_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    feed = _fares(tmp_path, "any,2.00,USD,0,,0\n")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        read_fare_system(feed)
    [message] = _warnings(caplog)
    assert "'any'" in message


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param("150,1.50,USD,0,1,\n", id="empty-duration-means-no-limit"),
        pytest.param("150,1.50,USD,0,1,5400\n", id="positive-duration"),
        pytest.param("100,1.00,USD,0,0,0\n", id="no-transfers-allowed"),
    ],
)
def test_unambiguous_transfer_durations_give_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, rows: str
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        system = read_fare_system(_fares(tmp_path, rows))
    assert isinstance(system, FaresV1)
    assert _warnings(caplog) == []


def test_the_real_tank_feed_gets_the_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        system = read_fare_system(TANK_ZIP)
    assert isinstance(system, FaresV1)
    [message] = _warnings(caplog)
    assert "'150'" in message and "'200'" in message

"""GTFS Fares v2 on the synthetic mini feed in tests/fixtures/fares_v2_mini (see its README)."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest

from ingest.fares import read_fare_system
from pricing.errors import FareDataError
from pricing.fares import RideFacts, fare_system_from_json
from pricing.fares_v2 import FaresV2
from pricing.money import Money

MINI = Path(__file__).resolve().parent / "fixtures" / "fares_v2_mini"
TUESDAY = datetime.date(2022, 2, 22)
THURSDAY_REMOVED = datetime.date(2022, 2, 24)  # calendar_dates.txt removes it from "weekdays"
SATURDAY = datetime.date(2022, 2, 26)
H = 3600
ROUTE_TYPES = {"B1": 3, "B2": 3, "R1": 2, "F1": 4}


def ride(route: str, board: str, alight: str, board_s: int, minutes: int = 10) -> RideFacts:
    return RideFacts(
        route,
        "MINI",
        ROUTE_TYPES[route],
        board,
        alight,
        "",
        "",
        frozenset(),
        board_s,
        board_s + minutes * 60,
    )


@pytest.fixture(scope="module")
def mini() -> FaresV2:
    system = read_fare_system(MINI)
    assert isinstance(system, FaresV2)
    return system


def amounts(quote) -> list[int]:
    return [line.amount.amount_minor for line in quote.lines]


def test_single_bus_leg_costs_the_default_rider_product(mini):
    quote = mini.quote([ride("B1", "C1", "C2", 10 * H)], service_date=TUESDAY)
    # bus_single has a reduced row (1.00) first; the adult category is the default
    assert quote.total == Money(200, "EUR")
    assert quote.lines[0].fare_id == "bus_single"
    assert quote.lines[0].reason == "Bus single 2.00 EUR"


def test_leg_areas_pick_the_rule_and_a_station_area_covers_its_platform(mini):
    core_core = mini.quote([ride("R1", "C1", "C2", 10 * H)], service_date=TUESDAY)
    assert core_core.total == Money(300, "EUR")
    # STN1 is not in stop_areas.txt; its parent station STN is in "core"
    from_platform = mini.quote([ride("R1", "STN1", "O1", 10 * H)], service_date=TUESDAY)
    assert (from_platform.total, from_platform.lines[0].fare_id) == (
        Money(450, "EUR"),
        "rail_core_outer",
    )


def test_rule_priority_wins_over_a_cheaper_rule_inside_its_timeframe(mini):
    peak = mini.quote([ride("R1", "C1", "C2", 8 * H)], service_date=TUESDAY)
    assert (peak.total, peak.lines[0].fare_id) == (Money(350, "EUR"), "rail_peak")
    off_peak = mini.quote([ride("R1", "C1", "C2", 9 * H)], service_date=TUESDAY)  # end excluded
    assert off_peak.total == Money(300, "EUR")


def test_timeframe_needs_its_service_running_on_the_day(mini):
    at_eight = [ride("R1", "C1", "C2", 8 * H)]
    assert mini.quote(at_eight, service_date=SATURDAY).total == Money(300, "EUR")
    assert mini.quote(at_eight, service_date=THURSDAY_REMOVED).total == Money(300, "EUR")
    # 31:30 on Friday's service day is 07:30 on Saturday: no weekday peak
    late = [ride("R1", "C1", "C2", 31 * H + 1800)]
    assert mini.quote(late, service_date=datetime.date(2022, 2, 25)).total == Money(300, "EUR")
    # 31:30 on Monday's service day is 07:30 on Tuesday: peak
    assert mini.quote(late, service_date=datetime.date(2022, 2, 21)).total == Money(350, "EUR")


def test_free_transfer_within_duration_limit(mini):
    rides = [ride("B1", "C1", "C2", 10 * H), ride("B2", "C2", "O1", 10 * H + 1800)]
    quote = mini.quote(rides, service_date=TUESDAY)
    assert quote.total == Money(200, "EUR")
    assert amounts(quote) == [200, 0]
    assert quote.lines[1].fare_id == "bus_single"
    assert quote.lines[1].reason.startswith("covered by a free transfer from ride 1 (bus -> bus)")


def test_transfer_after_the_duration_limit_pays_again(mini):
    rides = [ride("B1", "C1", "C2", 10 * H), ride("B2", "C2", "O1", 10 * H + 100 * 60)]
    assert amounts(mini.quote(rides, service_date=TUESDAY)) == [200, 200]


def test_repeated_transfer_duration_counts_from_the_first_matched_leg(mini):
    rides = [
        ride("B1", "C1", "C2", 10 * H),
        ride("B2", "C2", "C1", 11 * H),  # 60 min after the first boarding: free
        ride("B1", "C1", "C2", 11 * H + 40 * 60),  # 100 min after the first: pays again
    ]
    assert amounts(mini.quote(rides, service_date=TUESDAY)) == [200, 0, 200]


def test_paid_transfer_type_1_charges_both_legs_plus_the_transfer_product(mini):
    rides = [ride("B1", "C1", "C2", 10 * H), ride("R1", "C2", "C1", 10 * H + 900)]
    quote = mini.quote(rides, service_date=TUESDAY)
    # A + AB + B = 2.00 + (-0.50 transfer discount) + 3.00
    assert quote.total == Money(450, "EUR")
    assert amounts(quote) == [200, 250]
    assert quote.lines[1].fare_id == "rail_core"
    assert "Bus to rail transfer discount -0.50 EUR" in quote.lines[1].reason


def test_transfer_type_2_replaces_the_from_leg_product(mini):
    rides = [ride("R1", "C1", "C2", 10 * H), ride("B1", "C2", "C1", 10 * H + 900)]
    quote = mini.quote(rides, service_date=TUESDAY)
    assert quote.total == Money(350, "EUR")  # AB only, not 3.00 + 2.00
    assert amounts(quote) == [0, 350]
    assert quote.lines[0].reason.startswith("replaced by the transfer product rail_bus_combo")


def test_transfer_type_2_after_an_earlier_transfer_adds_to_the_processed_sum(mini):
    rides = [
        ride("B1", "C1", "C2", 10 * H),
        ride("R1", "C2", "C1", 10 * H + 900),
        ride("B2", "C1", "C2", 10 * H + 1800),
    ]
    quote = mini.quote(rides, service_date=TUESDAY)
    # (A + AB + B) + BC: 2.00 - 0.50 + 3.00 + 3.50; the rail leg is not replaced
    assert quote.total == Money(800, "EUR")
    assert amounts(quote) == [200, 250, 350]


def test_leg_with_no_matching_rule_gives_unknown_price(mini):
    rides = [ride("B1", "C1", "C2", 10 * H), ride("F1", "P1", "C1", 11 * H)]
    quote = mini.quote(rides, service_date=TUESDAY)
    assert quote.total is None and quote.lines == ()
    assert quote.reason.startswith("no fare leg rule matches ride 2 (route F1")


def test_empty_itinerary_costs_zero(mini):
    assert mini.quote([], service_date=TUESDAY).total == Money(0, "EUR")


def test_json_round_trip_quotes_the_same(mini):
    rebuilt = fare_system_from_json(mini.to_json())
    assert isinstance(rebuilt, FaresV2)
    itineraries = [
        [ride("R1", "C1", "C2", 8 * H)],
        [ride("B1", "C1", "C2", 10 * H), ride("R1", "C2", "C1", 10 * H + 900)],
        [ride("R1", "C1", "C2", 10 * H), ride("B1", "C2", "C1", 10 * H + 900)],
        [ride("R1", "STN1", "O1", 8 * H)],
    ]
    for rides in itineraries:
        for day in (TUESDAY, SATURDAY, THURSDAY_REMOVED):
            assert rebuilt.quote(rides, service_date=day) == mini.quote(rides, service_date=day)
    assert rebuilt.to_json() == mini.to_json()


def test_v2_is_preferred_when_a_feed_also_has_v1_tables(tmp_path):
    feed = tmp_path / "feed"
    shutil.copytree(MINI, feed)
    (feed / "fare_attributes.txt").write_text("fare_id,price,currency_type,transfers\nX,9,EUR,\n")
    assert isinstance(read_fare_system(feed), FaresV2)


# ------------------------------------------- empty-field semantics without rule_priority


def _system(leg_rules: list[dict[str, str]]) -> FaresV2:
    return FaresV2.from_records(
        [
            {"fare_product_id": "listed", "amount": "1.00", "currency": "EUR"},
            {"fare_product_id": "other", "amount": "5.00", "currency": "EUR"},
        ],
        leg_rules,
        routes=[
            {"route_id": "B1", "network_id": "bus"},
            {"route_id": "F1", "network_id": "ferry"},
        ],
    )


def test_without_rule_priority_an_empty_network_matches_only_unlisted_networks():
    system = _system(
        [
            {"network_id": "bus", "fare_product_id": "listed"},
            {"network_id": "", "fare_product_id": "other"},
        ]
    )
    assert not system.has_rule_priority
    bus = system.quote([ride("B1", "C1", "C2", 10 * H)], service_date=TUESDAY)
    ferry = system.quote([ride("F1", "P1", "C1", 10 * H)], service_date=TUESDAY)
    assert (bus.total, ferry.total) == (Money(100, "EUR"), Money(500, "EUR"))


def test_with_rule_priority_an_empty_network_matches_everything():
    system = _system(
        [
            {"network_id": "bus", "fare_product_id": "other", "rule_priority": "0"},
            {"network_id": "", "fare_product_id": "listed", "rule_priority": "0"},
        ]
    )
    assert system.has_rule_priority
    # both rules match the bus at the same priority: the cheaper product is used
    bus = system.quote([ride("B1", "C1", "C2", 10 * H)], service_date=TUESDAY)
    assert bus.total == Money(100, "EUR")


# ----------------------------------------------------------------------- ingest errors


def _broken(tmp_path: Path, name: str, text: str) -> Path:
    feed = tmp_path / "feed"
    shutil.copytree(MINI, feed)
    (feed / name).write_text(text)
    return feed


@pytest.mark.parametrize(
    ("name", "text", "row", "field", "message"),
    [
        (
            "fare_products.txt",
            "fare_product_id,amount\nbus_single,2.00\n",
            1,
            "currency",
            "missing required column 'currency'",
        ),
        (
            "fare_products.txt",
            "fare_product_id,amount,currency\nbus_single,2.005,EUR\n",
            2,
            "amount",
            "more decimals",
        ),
        (
            "fare_products.txt",
            "fare_product_id,amount,currency\nbus_single,two,EUR\n",
            2,
            "amount",
            "not a decimal amount",
        ),
        (
            "fare_products.txt",
            "fare_product_id,amount,currency\nbus_single,2,EURO\n",
            2,
            "currency",
            "unknown currency",
        ),
        (
            "fare_products.txt",
            "fare_product_id,amount,currency\nbus_single,2,EUR\nrail_core,3,SEK\n",
            3,
            "currency",
            "one currency",
        ),
        (
            "fare_leg_rules.txt",
            "leg_group_id,network_id,fare_product_id\nbus,bus,bus_single\nbus,bus,nope\n",
            3,
            "fare_product_id",
            "'nope' is not defined in fare_products.txt",
        ),
        (
            "fare_transfer_rules.txt",
            "from_leg_group_id,to_leg_group_id,duration_limit,duration_limit_type,fare_transfer_type\n"
            "bus,bus,-5,1,0\n",
            2,
            "duration_limit",
            "positive integer",
        ),
        (
            "fare_transfer_rules.txt",
            "from_leg_group_id,to_leg_group_id,fare_transfer_type\nbus,bus,7\n",
            2,
            "fare_transfer_type",
            "0, 1 or 2",
        ),
        (
            "timeframes.txt",
            "timeframe_group_id,start_time,end_time,service_id\npeak,07:00:00,25:00:00,weekdays\n",
            2,
            "end_time",
            "HH:MM:SS",
        ),
    ],
)
def test_ingest_names_file_row_and_field_of_bad_v2_data(tmp_path, name, text, row, field, message):
    with pytest.raises(FareDataError, match=message) as err:
        read_fare_system(_broken(tmp_path, name, text))
    assert (err.value.file, err.value.row, err.value.field) == (name, row, field)

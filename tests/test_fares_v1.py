"""GTFS Fares v1: real HSL prices from the embedded feed, hand-built rule tables, and the
errors the ingest reader raises for malformed tables.
"""

from __future__ import annotations

import csv
import datetime
import io
import time
import zipfile
from pathlib import Path

import pytest

from ingest.fares import read_fare_system
from pricing.errors import FareDataError
from pricing.fares import FareQuote, RideFacts, fare_system_from_json
from pricing.fares_v1 import FaresV1
from pricing.money import Money
from tests.data_paths import REPO_DATA

HSL_ZIP = REPO_DATA / "helsinki" / "gtfs" / "hsl-gtfs-2022-02-22.zip"
DAY = datetime.date(2022, 2, 22)
H = 3600


def _table(name: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(HSL_ZIP) as zf:
        return list(csv.DictReader(io.TextIOWrapper(zf.open(name), "utf-8-sig")))


@pytest.fixture(scope="module")
def hsl():
    system = read_fare_system(HSL_ZIP)
    assert isinstance(system, FaresV1)
    return system


@pytest.fixture(scope="module")
def hsl_ride():
    """Builds a RideFacts from real HSL ids: zones come from the feed's stops.txt."""
    zone_of = {s["stop_id"]: s["zone_id"] for s in _table("stops.txt")}
    routes = {r["route_id"]: r for r in _table("routes.txt")}

    def ride(route_id: str, stops: list[str], board_s: int, alight_s: int) -> RideFacts:
        route = routes[route_id]
        return RideFacts(
            route_id=route_id,
            agency_id=route["agency_id"],
            route_type=int(route["route_type"]),
            board_stop_id=stops[0],
            alight_stop_id=stops[-1],
            board_zone=zone_of[stops[0]],
            alight_zone=zone_of[stops[-1]],
            zones=frozenset(zone_of[s] for s in stops) - {""},
            board_s=board_s,
            alight_s=alight_s,
        )

    return ride


# real HSL ids (hsl-gtfs-2022-02-22.zip): tram 1 Sumatrantie -> Paavalinkirkko (zone A);
# commuter train I Helsinki -> Pasila -> Käpylä -> Oulunkylä (zone A to zone B)
TRAM_1 = ("1001", ["1240403", "1220404"])
TRAIN_I_IN_A = ("3001I", ["1020503", "1174501"])
TRAIN_I_A_TO_B = ("3001I", ["1020503", "1174501", "1250501", "1285501"])


def test_the_real_feed_is_read_as_fares_v1_in_euros(hsl):
    assert hsl.currency == "EUR"
    prices = {a.fare_id: a.price for a in hsl.attributes}
    assert prices["AB"] == Money(280, "EUR") and prices["ABC"] == Money(410, "EUR")
    ab = next(a for a in hsl.attributes if a.fare_id == "AB")
    assert (ab.transfers, ab.transfer_duration_s) == (None, 4800)


def test_hsl_ride_inside_zone_a_pays_the_ab_fare(hsl, hsl_ride):
    ride = hsl_ride(*TRAM_1, 8 * H, 8 * H + 300)
    assert ride.zones == {"A"}  # there is no A-only fare: the cheapest containing A is AB
    quote = hsl.quote([ride], service_date=DAY)
    assert quote.total == Money(280, "EUR")
    assert [(line.fare_id, line.amount.amount_minor) for line in quote.lines] == [("AB", 280)]
    assert quote.lines[0].reason == "AB ticket 2.80 EUR, valid 80 min incl. transfers"


def test_hsl_ride_from_zone_a_to_zone_b_costs_280(hsl, hsl_ride):
    ride = hsl_ride(*TRAIN_I_A_TO_B, 8 * H, 8 * H + 540)
    assert (ride.board_zone, ride.alight_zone) == ("A", "B")
    assert hsl.quote([ride], service_date=DAY).total == Money(280, "EUR")


def test_hsl_two_rides_30_min_apart_share_one_ticket(hsl, hsl_ride):
    first = hsl_ride(*TRAM_1, 8 * H + 60, 8 * H + 360)
    second = hsl_ride(*TRAIN_I_A_TO_B, 8 * H + 60 + 1800, 8 * H + 60 + 2340)
    quote = hsl.quote([first, second], service_date=DAY)
    assert quote.total == Money(280, "EUR")
    assert [line.amount.amount_minor for line in quote.lines] == [280, 0]
    assert quote.lines[1].fare_id == "AB"
    assert quote.lines[1].reason == "covered by the AB ticket bought at 08:01 (valid until 09:21)"


def test_hsl_second_ride_95_min_later_needs_a_second_ticket(hsl, hsl_ride):
    first = hsl_ride(*TRAM_1, 8 * H, 8 * H + 300)
    second = hsl_ride(*TRAIN_I_IN_A, 8 * H + 95 * 60, 8 * H + 99 * 60)
    quote = hsl.quote([first, second], service_date=DAY)
    # AB (80 min) and ABC (90 min) have expired; ABCD (110 min, 5.70) costs more than 2 x AB
    assert quote.total == Money(560, "EUR")
    assert [(line.fare_id, line.amount.amount_minor) for line in quote.lines] == [
        ("AB", 280),
        ("AB", 280),
    ]
    assert quote.reason == "2 tickets: AB 2.80 EUR + AB 2.80 EUR = 5.60 EUR"


def test_hsl_second_ride_exactly_90_min_later_is_cheapest_on_one_abc_ticket(hsl, hsl_ride):
    # boarding exactly at the end of ABC's 5400 s validity still counts; 4.10 < 2 x 2.80
    first = hsl_ride(*TRAM_1, 8 * H, 8 * H + 300)
    second = hsl_ride(*TRAIN_I_IN_A, 8 * H + 90 * 60, 8 * H + 94 * 60)
    quote = hsl.quote([first, second], service_date=DAY)
    assert quote.total == Money(410, "EUR")
    assert [line.fare_id for line in quote.lines] == ["ABC", "ABC"]


def test_hsl_zone_in_no_rule_gives_unknown_price_with_a_reason(hsl, hsl_ride):
    real = hsl_ride(*TRAM_1, 8 * H, 8 * H + 300)
    made_up = RideFacts("1001", "HSL", 0, "x1", "x2", "Z", "Z", frozenset({"Z"}), 9 * H, 9 * H + 60)
    quote = hsl.quote([real, made_up], service_date=DAY)
    assert quote.total is None and quote.lines == ()
    assert quote.reason == "no fare rule covers ride 2 (route 1001, stop x1 -> x2, zones Z)"


def test_empty_itinerary_costs_zero(hsl):
    assert hsl.quote([], service_date=DAY) == FareQuote(Money.zero("EUR"), (), "no transit rides")


def test_json_round_trip_quotes_the_same(hsl, hsl_ride):
    rebuilt = fare_system_from_json(hsl.to_json())
    itineraries = [
        [hsl_ride(*TRAM_1, 8 * H, 8 * H + 300)],
        [hsl_ride(*TRAM_1, 8 * H, 8 * H + 300), hsl_ride(*TRAIN_I_IN_A, 10 * H, 10 * H + 240)],
        [
            hsl_ride(*TRAM_1, 8 * H, 8 * H + 300),
            hsl_ride(*TRAIN_I_IN_A, 8 * H + 5400, 9 * H + 5700),
        ],
    ]
    for rides in itineraries:
        assert rebuilt.quote(rides, service_date=DAY) == hsl.quote(rides, service_date=DAY)
    assert rebuilt.to_json() == hsl.to_json()


def test_quoting_three_hsl_rides_takes_well_under_a_millisecond(hsl, hsl_ride):
    rides = [
        hsl_ride(*TRAM_1, 8 * H, 8 * H + 300),
        hsl_ride(*TRAIN_I_A_TO_B, 8 * H + 900, 8 * H + 1500),
        hsl_ride(*TRAIN_I_IN_A, 8 * H + 3000, 8 * H + 3300),
    ]
    runs = 2000
    start = time.perf_counter()
    for _ in range(runs):
        hsl.quote(rides, service_date=DAY)
    per_quote_s = (time.perf_counter() - start) / runs
    assert per_quote_s < 1e-3  # typically ~0.03 ms; the bound leaves room for slow CI machines


# ------------------------------------------------------------------- hand-built tables


def _ride(
    route: str = "R",
    board_zone: str = "1",
    alight_zone: str = "1",
    board_s: int = 8 * H,
    zones: set[str] | None = None,
    agency: str = "AG",
) -> RideFacts:
    passed = frozenset(zones if zones is not None else {board_zone, alight_zone}) - {""}
    return RideFacts(
        route, agency, 3, "s1", "s2", board_zone, alight_zone, passed, board_s, board_s + 600
    )


def _fares(attributes: list[str], rules: list[str] = ()) -> FaresV1:
    """Tables as CSV lines: "fare_id,price,transfers,transfer_duration" and
    "fare_id,route_id,origin_id,destination_id,contains_id"."""
    keys = ("fare_id", "price", "transfers", "transfer_duration")
    attrs = [
        dict(zip(keys, line.split(","), strict=True)) | {"currency_type": "EUR"}
        for line in attributes
    ]
    rule_keys = ("fare_id", "route_id", "origin_id", "destination_id", "contains_id")
    return FaresV1.from_records(
        attrs, [dict(zip(rule_keys, r.split(","), strict=True)) for r in rules]
    )


def _total(system: FaresV1, rides: list[RideFacts]) -> int | None:
    total = system.quote(rides, service_date=DAY).total
    return None if total is None else total.amount_minor


def test_route_rules_restrict_a_fare_to_its_routes_and_allow_transfers_between_them():
    system = _fares(
        ["tram,2.00,,3600", "any,3.00,,3600"],
        ["tram,T1,,,", "tram,T2,,,"],  # no rules for "any": it applies to everything
    )
    assert _total(system, [_ride("T1")]) == 200
    assert _total(system, [_ride("B9")]) == 300
    # T1 then T2 on one tram ticket (the rows form one route set)
    assert _total(system, [_ride("T1"), _ride("T2", board_s=8 * H + 900)]) == 200
    # a bus in the middle: one "any" ticket beats tram + any
    assert _total(system, [_ride("T1"), _ride("B9", board_s=8 * H + 900)]) == 300
    assert system.fares_for([_ride("T1"), _ride("T2")]) == ("tram", "any")


def test_origin_and_destination_rules_match_first_boarding_and_last_alighting_zone():
    system = _fares(
        ["inner,1.50,,3600", "outbound,2.50,,3600"],
        ["inner,,1,1,", "outbound,,1,2,"],
    )
    assert _total(system, [_ride(board_zone="1", alight_zone="1")]) == 150
    assert _total(system, [_ride(board_zone="1", alight_zone="2")]) == 250
    assert _total(system, [_ride(board_zone="2", alight_zone="1")]) is None  # no 2 -> 1 rule
    # 1 -> 1 then 1 -> 2: one outbound ticket (origin of the first, destination of the last)
    two_rides = [_ride(board_zone="1", alight_zone="1"), _ride(board_zone="1", alight_zone="2")]
    assert _total(system, two_rides) == 250


def test_origin_only_rule_matches_any_destination():
    system = _fares(["from_airport,5.00,0,"], ["from_airport,,AIR,,"])
    assert _total(system, [_ride(board_zone="AIR", alight_zone="9")]) == 500
    assert _total(system, [_ride(board_zone="9", alight_zone="AIR")]) is None


def test_transfers_zero_forces_one_ticket_per_ride():
    system = _fares(["single,2.00,0,3600"])
    quote = system.quote([_ride(), _ride(board_s=8 * H + 600)], service_date=DAY)
    assert quote.total == Money(400, "EUR")
    assert [line.amount.amount_minor for line in quote.lines] == [200, 200]
    assert quote.lines[0].reason == "single ticket 2.00 EUR, valid 60 min, no transfers"


def test_transfer_count_limit_is_one_per_extra_ride():
    system = _fares(["one_change,2.00,1,"])
    rides = [_ride(board_s=8 * H + k * 600) for k in range(3)]
    assert _total(system, rides[:2]) == 200
    assert _total(system, rides) == 400  # 2 transfers > 1: a second ticket for the third ride


def test_cheapest_partition_picks_a_day_ticket_only_when_it_pays_off():
    system = _fares(["single,2.00,0,", "day,5.00,,86400"])
    rides = [_ride(board_s=8 * H + k * H) for k in range(3)]
    assert _total(system, rides[:2]) == 400  # two singles < day ticket
    quote = system.quote(rides, service_date=DAY)
    assert quote.total == Money(500, "EUR")  # three singles (6.00) > day ticket
    assert [line.fare_id for line in quote.lines] == ["day", "day", "day"]
    assert quote.lines[2].reason == "covered by the day ticket bought at 08:00 (valid until 32:00)"


def test_cheapest_partition_mixes_ticket_types():
    system = _fares(["single,2.00,0,", "pair,3.00,1,3600"])
    rides = [_ride(board_s=8 * H + k * 1200) for k in range(3)]
    quote = system.quote(rides, service_date=DAY)
    assert quote.total == Money(500, "EUR")  # pair + single, not three singles (6.00)
    assert sorted(line.amount.amount_minor for line in quote.lines) == [0, 200, 300]
    assert sum(line.amount.amount_minor for line in quote.lines) == 500


def test_contains_rules_accept_any_subset_of_the_fare_zones():
    system = _fares(
        ["z12,3.00,,", "z123,4.00,,"],
        ["z12,,,,1", "z12,,,,2", "z123,,,,1", "z123,,,,2", "z123,,,,3"],
    )
    assert _total(system, [_ride(zones={"1"})]) == 300
    assert _total(system, [_ride(board_zone="1", alight_zone="3", zones={"1", "2", "3"})]) == 400
    assert _total(system, [_ride(board_zone="1", alight_zone="4", zones={"1", "4"})]) is None


def test_a_ride_without_zones_is_not_priced_by_a_zone_fare():
    system = _fares(["z1,3.00,,"], ["z1,,,,1"])
    assert _total(system, [_ride(board_zone="", alight_zone="", zones=set())]) is None


def test_route_rows_and_zone_rows_are_separate_combinations():
    # like HSL's BC: zone rows B, C plus a route row 2550 valid whatever the zones
    system = _fares(["BC,2.80,,4800"], ["BC,,,,B", "BC,,,,C", "BC,2550,,,"])
    assert _total(system, [_ride("1", "B", "C")]) == 280
    assert _total(system, [_ride("2550", "A", "A")]) == 280
    assert _total(system, [_ride("1", "A", "A")]) is None


def test_fare_with_agency_id_only_covers_that_agencys_rides():
    attrs = [
        {
            "fare_id": "x_only",
            "price": "1.00",
            "currency_type": "EUR",
            "transfers": "",
            "agency_id": "X",
        },
    ]
    system = FaresV1.from_records(attrs, [])
    assert _total(system, [_ride(agency="X")]) == 100
    assert _total(system, [_ride(agency="Y")]) is None


def test_mixed_currencies_are_refused():
    attrs = [
        {"fare_id": "a", "price": "1", "currency_type": "EUR", "transfers": ""},
        {"fare_id": "b", "price": "1", "currency_type": "USD", "transfers": ""},
    ]
    with pytest.raises(FareDataError, match="one currency") as err:
        FaresV1.from_records(attrs, [])
    assert (err.value.row, err.value.field) == (3, "currency_type")


def test_duplicate_fare_ids_are_refused():
    attrs = [{"fare_id": "a", "price": "1", "currency_type": "EUR", "transfers": ""}] * 2
    with pytest.raises(FareDataError, match="duplicate fare_id 'a'") as err:
        FaresV1.from_records(attrs, [])
    assert err.value.row == 3


# ------------------------------------------------------------------- ingest errors

GOOD_ATTRIBUTES = (
    "fare_id,price,currency_type,payment_method,transfers,transfer_duration\nAB,2.8,EUR,0,,4800\n"
)


def _feed(tmp_path: Path, attributes: str = GOOD_ATTRIBUTES, rules: str | None = None) -> Path:
    (tmp_path / "fare_attributes.txt").write_text(attributes)
    if rules is not None:
        (tmp_path / "fare_rules.txt").write_text(rules)
    return tmp_path


def test_ingest_reads_a_directory_feed(tmp_path):
    system = read_fare_system(_feed(tmp_path, rules="fare_id,contains_id\nAB,A\nAB,B\n"))
    assert isinstance(system, FaresV1)
    assert _total(system, [_ride(board_zone="A", alight_zone="B")]) == 280


def test_ingest_without_fare_tables_returns_none(tmp_path):
    (tmp_path / "stops.txt").write_text("stop_id\n1\n")
    assert read_fare_system(tmp_path) is None


@pytest.mark.parametrize(
    ("attributes", "rules", "file", "row", "field", "message"),
    [
        (
            "fare_id,currency_type,transfers\nAB,EUR,\n",
            None,
            "fare_attributes.txt",
            1,
            "price",
            "missing required column 'price'",
        ),
        (
            "fare_id,price,currency_type,transfers\nAB,2.8,EUR,\nX,cheap,EUR,\n",
            None,
            "fare_attributes.txt",
            3,
            "price",
            "not a decimal amount",
        ),
        (
            "fare_id,price,currency_type,transfers\nAB,2.8,XYZ,\n",
            None,
            "fare_attributes.txt",
            2,
            "currency_type",
            "unknown currency code 'XYZ'",
        ),
        (
            "fare_id,price,currency_type,transfers\nAB,2.805,EUR,\n",
            None,
            "fare_attributes.txt",
            2,
            "price",
            "more decimals",
        ),
        (
            "fare_id,price,currency_type,transfers,transfer_duration\nAB,2.8,EUR,,-60\n",
            None,
            "fare_attributes.txt",
            2,
            "transfer_duration",
            "non-negative integer",
        ),
        (
            "fare_id,price,currency_type,transfers\nAB,2.8,EUR,3\n",
            None,
            "fare_attributes.txt",
            2,
            "transfers",
            "0, 1, 2",
        ),
        (
            "fare_id,price,currency_type,transfers\nAB,-1,EUR,\n",
            None,
            "fare_attributes.txt",
            2,
            "price",
            "negative",
        ),
        (
            GOOD_ATTRIBUTES,
            "fare_id,route_id,origin_id,destination_id,contains_id\nAB,,,,A\nXYZ,,,,B\n",
            "fare_rules.txt",
            3,
            "fare_id",
            "'XYZ' is not defined in fare_attributes.txt",
        ),
    ],
)
def test_ingest_names_file_row_and_field_of_bad_fare_data(
    tmp_path, attributes, rules, file, row, field, message
):
    with pytest.raises(FareDataError, match=message) as err:
        read_fare_system(_feed(tmp_path, attributes, rules))
    assert (err.value.file, err.value.row, err.value.field) == (file, row, field)
    assert str(err.value).startswith(f"{file} row {row}, field {field!r}: ")
    assert isinstance(err.value, ValueError)

"""The parser's chosen rules, one behaviour per test: money, time, JSON limits, versions, merges."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from providers.errors import FeedError
from providers.gbfs import (
    GBFS_FILES,
    IMPLIED_VEHICLE_TYPE_ID,
    merge_file,
    parse_discovery,
    parse_feed,
)
from providers.gbfs.jsonload import MAX_DEPTH, load_json
from providers.gbfs.pricing import to_minor
from providers.gbfs.timestamps import MAX_FUTURE_SKEW_S, MAX_TTL_S
from providers.gbfs.values import Loc
from providers.model import FormFactor
from tests.gbfs_hostile import BASE_S, RECEIVED_AT_S, _encode, valid_feed_v3, valid_feed_v23

LOC = Loc("system_pricing_plans", "/data/plans/0/price")


def _feed(build=valid_feed_v3):
    return build()


def _parse(feed, received_at_s=RECEIVED_AT_S):
    return parse_feed("p", _encode(feed), received_at_s=received_at_s)


# ---------------------------------------------------------------------------------- money


@pytest.mark.parametrize(
    ("amount", "currency_exp", "minor"),
    [
        (Decimal("0.1"), 2, 10),
        (Decimal("50.0"), 2, 5000),
        (Decimal("0.29"), 2, 29),
        (500, 0, 500),
        (Decimal("1.234"), 3, 1234),
    ],
)
def test_decimal_amounts_convert_exactly_to_minor_units(amount, currency_exp, minor):
    assert to_minor(amount, currency_exp, LOC, allow_string=False, signed=False) == minor


def test_2x_string_prices_convert_but_3_0_requires_numbers():
    assert to_minor("2.50", 2, LOC, allow_string=True, signed=False) == 250
    with pytest.raises(FeedError, match="expected number"):
        to_minor("2.50", 2, LOC, allow_string=False, signed=False)


def test_yen_price_with_decimals_is_refused_not_rounded():
    with pytest.raises(FeedError, match="more decimals"):
        to_minor(Decimal("100.5"), 0, LOC, allow_string=False, signed=False)


def test_segment_rates_may_be_negative_and_are_in_minor_units():
    feed = _feed()
    feed["system_pricing_plans"]["data"]["plans"][0]["per_min_pricing"] = [
        {"start": 0, "rate": -0.05, "interval": 1, "end": 5},
        {"start": 5, "rate": 0.25, "interval": 1},
    ]
    plan = _parse(feed).pricing_plans[0]
    assert [(s.start, s.rate_minor, s.interval, s.end) for s in plan.per_min] == [
        (0, -5, 1, 5),
        (5, 25, 1, None),
    ]
    assert plan.price_minor == 150 and plan.per_km[0].rate_minor == 10


# ---------------------------------------------------------------------------------- time


def test_last_updated_skew_limit_is_inclusive():
    feed = _feed(valid_feed_v23)
    received = BASE_S - MAX_FUTURE_SKEW_S
    assert _parse(feed, received).feed("system_information") is not None
    with pytest.raises(FeedError, match="in the future"):
        _parse(feed, received - 1)


def test_rfc3339_fractions_and_offsets_read_as_utc_seconds():
    feed = _feed()
    feed["station_status"]["last_updated"] = "2024-01-01T02:00:00.999+02:00"
    snap = _parse(feed)
    assert snap.feed("station_status").last_updated_s == BASE_S


def test_ttl_bounds():
    feed = _feed(valid_feed_v23)
    feed["station_status"]["ttl"] = MAX_TTL_S
    assert _parse(feed).feed("station_status").ttl_s == MAX_TTL_S
    feed["station_status"]["ttl"] = MAX_TTL_S + 1
    with pytest.raises(FeedError, match="ttl"):
        _parse(feed)


# ---------------------------------------------------------------------------------- JSON


def test_nesting_limit_boundary_and_no_recursion_error():
    at_limit = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert load_json("x", at_limit) is not None
    with pytest.raises(FeedError, match="nesting depth"):
        load_json("x", b"[" + at_limit + b"]")
    with pytest.raises(FeedError, match="nesting depth"):
        load_json("x", b'{"a":' * 200_000)


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = b'{"a": "' + b"[" * 100 + b'\\"' + b"{" * 100 + b'"}'
    assert load_json("x", text)["a"].startswith("[[[")


def test_large_exponents_do_not_become_infinity():
    feed = _feed()
    feed["vehicle_status"]["data"]["vehicles"][0]["current_range_meters"] = "PLACEHOLDER"
    body = _encode(feed)
    body["vehicle_status"] = body["vehicle_status"].replace(b'"PLACEHOLDER"', b"1e999")
    with pytest.raises(FeedError, match="too large"):
        parse_feed("p", body, received_at_s=RECEIVED_AT_S)


# ------------------------------------------------------------------------- versions, fields


def test_2x_scooter_form_factor_reads_as_scooter_standing():
    snap = _parse(_feed(valid_feed_v23))
    assert {t.id: t.form_factor for t in snap.vehicle_types}["scoot"] is FormFactor.SCOOTER_STANDING


def test_underscore_extensions_are_accepted_but_plain_unknown_fields_are_not():
    feed = _feed()
    feed["station_information"]["data"]["stations"][0]["_operator_code"] = {"any": ["thing"]}
    assert len(_parse(feed).stations) == 2
    feed["station_information"]["data"]["stations"][0]["operator_code"] = 1
    with pytest.raises(FeedError, match="unknown field 'operator_code'"):
        _parse(feed)


def test_1x_ignores_unknown_fields_and_reads_0_1_booleans():
    feed = _feed(valid_feed_v23)
    for name in ("vehicle_types", "geofencing_zones"):
        del feed[name]
    for doc in feed.values():
        del doc["version"]
    del feed["free_bike_status"]["data"]["bikes"][0]["vehicle_type_id"]
    del feed["station_status"]["data"]["stations"][0]["vehicle_types_available"]
    status = feed["station_status"]["data"]["stations"][0]
    status.update(is_renting=0, eightd_has_available_keys=False)
    snap = _parse(feed)
    assert snap.gbfs_version == "1.0"
    assert snap.station_status[0].is_renting is False
    assert snap.vehicles[0].vehicle_type_id == IMPLIED_VEHICLE_TYPE_ID


def test_gbfs_files_names_the_pushable_files():
    assert {
        "system_information",
        "vehicle_status",
        "free_bike_status",
        "geofencing_zones",
        "station_information",
        "station_status",
        "vehicle_types",
        "system_pricing_plans",
    } == GBFS_FILES


def test_geofencing_zone_order_is_kept_as_precedence():
    feed = _feed()
    zones = feed["geofencing_zones"]["data"]["geofencing_zones"]["features"]
    second = copy.deepcopy(zones[0])
    second["properties"]["name"] = [{"text": "Second", "language": "en"}]
    zones.append(second)
    zones.reverse()
    assert [z.name for z in _parse(feed).geofencing.zones] == ["Second", "Park"]


def test_station_parked_vehicle_needs_no_coordinates():
    parked = _parse(_feed()).vehicles[1]
    assert (parked.station_id, parked.lat, parked.lon) == ("s1", None, None)


# ---------------------------------------------------------------------------------- discovery


def test_discovery_language_choice_and_manifest():
    gbfs = {
        "last_updated": BASE_S,
        "ttl": 0,
        "version": "2.3",
        "data": {
            "nb": {"feeds": [{"name": "system_information", "url": "https://x/nb/si.json"}]},
            "en": {"feeds": [{"name": "system_information", "url": "https://x/en/si.json"}]},
        },
    }
    raw = json.dumps(gbfs).encode()
    assert parse_discovery(raw).feeds == {"system_information": "https://x/en/si.json"}
    assert parse_discovery(raw, language="nb").feeds["system_information"].endswith("nb/si.json")
    with pytest.raises(FeedError, match="no feed list for language 'sv'"):
        parse_discovery(raw, language="sv")
    manifest = {
        "last_updated": "2024-01-01T00:00:00Z",
        "ttl": 0,
        "version": "3.0",
        "data": {
            "datasets": [
                {
                    "system_id": "oslo",
                    "versions": [
                        {"version": "2.3", "url": "https://x/2.3/gbfs.json"},
                        {"version": "3.0", "url": "https://x/3.0/gbfs.json"},
                    ],
                }
            ]
        },
    }
    found = parse_discovery(json.dumps(manifest).encode())
    assert (found.version, found.feeds) == ("3.0", {"oslo": "https://x/3.0/gbfs.json"})


def test_discovery_rejects_unknown_feed_names_outside_1x():
    gbfs = {
        "last_updated": "2024-01-01T00:00:00Z",
        "ttl": 0,
        "version": "3.0",
        "data": {"feeds": [{"name": "free_beer", "url": "https://x"}]},
    }
    with pytest.raises(FeedError, match="unknown feed name"):
        parse_discovery(json.dumps(gbfs).encode())


# ---------------------------------------------------------------------------------- merges


def test_merge_replaces_one_file_and_leaves_the_old_snapshot_untouched():
    feed = _feed()
    old = _parse(feed)
    feed["station_status"]["data"]["stations"][0]["num_vehicles_available"] = 1
    feed["station_status"]["last_updated"] = "2024-01-01T00:30:00Z"
    new = merge_file(
        old, "station_status", _encode(feed)["station_status"], received_at_s=RECEIVED_AT_S + 5
    )
    assert new is not old
    assert old.station_status[0].num_vehicles_available == 3
    assert new.station_status[0].num_vehicles_available == 1
    assert new.feed("station_status").received_at_s == RECEIVED_AT_S + 5
    assert new.feed("station_status").last_updated_s == BASE_S + 1800
    assert new.feed("vehicle_status") == old.feed("vehicle_status")


def test_merge_that_breaks_a_stored_file_is_blamed_on_the_pushed_file():
    feed = _feed()
    old = _parse(feed)
    feed["station_information"]["data"]["stations"].pop(0)  # vehicle v2 is parked at s1
    with pytest.raises(FeedError) as err:
        merge_file(
            old,
            "station_information",
            _encode(feed)["station_information"],
            received_at_s=RECEIVED_AT_S,
        )
    assert err.value.file == "station_information"
    assert "station_status" in err.value.message and "unknown station" in err.value.message


def test_merge_refuses_another_version_or_system():
    feed = _feed()
    old = _parse(feed)
    other = _encode(_feed(valid_feed_v23))
    with pytest.raises(FeedError, match="differs"):
        merge_file(old, "station_status", other["station_status"], received_at_s=RECEIVED_AT_S)
    feed["system_information"]["data"]["system_id"] = "someone_else"
    with pytest.raises(FeedError, match="system_id changed"):
        merge_file(
            old,
            "system_information",
            _encode(feed)["system_information"],
            received_at_s=RECEIVED_AT_S,
        )


def test_merging_vehicle_types_into_a_typeless_snapshot_rechecks_vehicles():
    feed = _feed(valid_feed_v23)
    types_raw = _encode(feed)["vehicle_types"]
    del feed["vehicle_types"]
    del feed["station_status"]["data"]["stations"][0]["vehicle_types_available"]
    del feed["free_bike_status"]["data"]["bikes"][0]["vehicle_type_id"]
    del feed["geofencing_zones"]
    typeless = _parse(feed)
    assert typeless.vehicles[0].vehicle_type_id == IMPLIED_VEHICLE_TYPE_ID
    with pytest.raises(FeedError, match="vehicle_type_id"):
        merge_file(typeless, "vehicle_types", types_raw, received_at_s=RECEIVED_AT_S)

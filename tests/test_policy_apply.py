"""Applying policies: hand-computed prices per measure, rounding, caps, other families, reasons."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pricing.errors import CurrencyMismatchError
from pricing.money import Money
from pricing.policy import Policy, PolicyError, status_quo, validate_policy
from pricing.policy_apply import (
    TripArrays,
    TripDataError,
    adjust_trip,
    apply_policy,
    continuous_prices,
)


def policy(*measures: dict[str, Any], neutral: bool = False, families=("transit",)) -> Policy:
    return validate_policy(
        {
            "fairtrip_policy": 1,
            "id": "apply-test",
            "version": 1,
            "name": "apply test",
            "currency": "EUR",
            "mode_families": list(families),
            "revenue_neutral": neutral,
            "measures": list(measures),
        }
    )


#: four synthetic trips: three transit (one per class pair) and one scooter trip
TRIPS = TripArrays(
    base_price_minor=[280, 400, 255, 300],
    origin_class=["central", "central", "peripheral", "central"],
    dest_class=["central", "peripheral", "peripheral", "central"],
    mode_family=["transit", "transit", "transit", "scooter"],
    trips=[10.0, 5.0, 5.0, 2.0],
)


def test_a_city_wide_average_charges_every_trip_of_the_family_the_same():
    got = apply_policy(policy({"type": "city_wide_average", "charge_minor": 263}), TRIPS)
    # the scooter trip (row 3) is outside the policy's families: 300 stays 300
    assert got.tolist() == [263, 263, 263, 300]
    assert got.dtype == np.int64


def test_a_partial_average_moves_each_price_alpha_of_the_way_and_rounds_half_to_even():
    p = policy({"type": "partial_average", "alpha": 0.5, "target_minor": 300})
    # 280 + 0.5 * (300 - 280) = 290
    # 400 + 0.5 * (300 - 400) = 350
    # 255 + 0.5 * (300 - 255) = 277.5 -> 278 (half to even)
    assert apply_policy(p, TRIPS).tolist() == [290, 350, 278, 300]


def test_rounding_is_half_to_even_in_both_directions():
    p = policy({"type": "partial_average", "alpha": 0.5, "target_minor": 0})
    trips = TripArrays([5, 7, 9], ["central"] * 3, ["central"] * 3, ["transit"] * 3, [1.0] * 3)
    # 5/2 = 2.5 -> 2, 7/2 = 3.5 -> 4, 9/2 = 4.5 -> 4
    assert apply_policy(p, trips).tolist() == [2, 4, 4]


def test_partial_averaging_with_alpha_one_is_a_city_wide_charge_and_zero_changes_nothing():
    one = policy({"type": "partial_average", "alpha": 1, "target_minor": 263})
    zero = policy({"type": "partial_average", "alpha": 0, "target_minor": 263})
    assert apply_policy(one, TRIPS).tolist() == [263, 263, 263, 300]
    assert apply_policy(zero, TRIPS).tolist() == [280, 400, 255, 300]


def test_a_peripheral_discount_applies_when_either_end_is_peripheral():
    p = policy({"type": "peripheral_discount", "discount_pct": 20, "surcharge_pct": 10})
    # central-central: 280 * 1.10 = 308 (surcharge)
    # central-peripheral: 400 * 0.80 = 320 (discount: the destination is peripheral)
    # peripheral-peripheral: 255 * 0.80 = 204
    assert apply_policy(p, TRIPS).tolist() == [308, 320, 204, 300]


def test_a_peripheral_discount_for_a_trip_into_the_centre_too():
    trips = TripArrays([500], ["peripheral"], ["central"], ["transit"], [1.0])
    p = policy({"type": "peripheral_discount", "discount_pct": 100, "surcharge_pct": 0})
    # 500 * (1 - 100/100) = 0: a full discount makes the trip free
    assert apply_policy(p, trips).tolist() == [0]


def test_a_per_trip_cap_limits_each_price():
    p = policy({"type": "cap", "per_trip_minor": 300})
    # min(280, 300) = 280; min(400, 300) = 300; min(255, 300) = 255
    assert apply_policy(p, TRIPS).tolist() == [280, 300, 255, 300]


def test_a_daily_cap_limits_each_trip_to_its_share_rounded_down():
    p = policy({"type": "cap", "per_day_minor": 701, "trips_per_day": 2})
    # 701 // 2 = 350 a trip (350.5 rounded down, so two trips cost 700 <= 701)
    assert apply_policy(p, TRIPS).tolist() == [280, 350, 255, 300]
    assert 2 * 350 <= 701


def test_the_tighter_of_a_per_trip_and_daily_cap_wins():
    p = policy({"type": "cap", "per_trip_minor": 390, "per_day_minor": 900, "trips_per_day": 3})
    # daily share 900 // 3 = 300 < 390, so 300 per trip
    assert apply_policy(p, TRIPS).tolist() == [280, 300, 255, 300]


def test_measures_apply_in_the_documents_order():
    discount = {"type": "peripheral_discount", "discount_pct": 20, "surcharge_pct": 0}
    cap = {"type": "cap", "per_trip_minor": 300}
    # row 1 (400, touches the periphery): discount then cap: 400*0.8 = 320 -> 300
    assert apply_policy(policy(discount, cap), TRIPS)[1] == 300
    # cap then discount: 400 -> 300 -> 300*0.8 = 240
    assert apply_policy(policy(cap, discount), TRIPS)[1] == 240


def test_a_capped_price_never_rounds_above_its_cap():
    p = policy(
        {"type": "partial_average", "alpha": 0.5, "target_minor": 601},
        {"type": "cap", "per_trip_minor": 300},
    )
    trips = TripArrays([0, 1, 2], ["central"] * 3, ["central"] * 3, ["transit"] * 3, [1.0] * 3)
    # 0 + 0.5 * 601 = 300.5 -> cap 300; 1 + 300 = 301 -> 300; 2 + 299.5 = 301.5 -> 300
    assert apply_policy(p, trips).tolist() == [300, 300, 300]


def test_only_the_policys_families_change():
    p = policy({"type": "city_wide_average", "charge_minor": 100}, families=("scooter",))
    assert apply_policy(p, TRIPS).tolist() == [280, 400, 255, 100]


def test_rows_of_a_family_no_policy_knows_pass_through():
    trips = TripArrays([0, 280], ["central"] * 2, ["central"] * 2, ["walk", "transit"], [1, 1])
    p = policy({"type": "city_wide_average", "charge_minor": 100})
    assert apply_policy(p, trips).tolist() == [0, 100]


def test_the_status_quo_changes_nothing():
    assert apply_policy(status_quo(), TRIPS).tolist() == [280, 400, 255, 300]


def test_the_parameter_sets_the_free_parameter_unrounded_until_the_final_price():
    p = policy({"type": "city_wide_average"}, neutral=True)
    assert continuous_prices(p, TRIPS, parameter=263.4).tolist() == [263.4, 263.4, 263.4, 300]
    assert apply_policy(p, TRIPS, parameter=263.6).tolist() == [264, 264, 264, 300]


def test_a_policy_with_a_free_parameter_needs_one():
    p = policy({"type": "city_wide_average"}, neutral=True)
    with pytest.raises(PolicyError) as info:
        apply_policy(p, TRIPS)
    assert info.value.field == "measures[0].charge_minor"


def test_a_parameter_for_a_fully_specified_policy_is_refused():
    p = policy({"type": "city_wide_average", "charge_minor": 263})
    with pytest.raises(PolicyError, match="no free parameter"):
        apply_policy(p, TRIPS, parameter=100.0)


def test_a_non_finite_parameter_is_refused():
    p = policy({"type": "city_wide_average"}, neutral=True)
    with pytest.raises(PolicyError, match="finite"):
        apply_policy(p, TRIPS, parameter=float("nan"))


def test_applying_does_not_modify_the_trips():
    before = TRIPS.base_price_minor.copy()
    apply_policy(policy({"type": "city_wide_average", "charge_minor": 1}), TRIPS)
    assert TRIPS.base_price_minor.tolist() == before.tolist()
    with pytest.raises(ValueError, match="read-only"):
        TRIPS.base_price_minor[0] = 1


def test_an_empty_trip_set_gives_an_empty_result():
    empty = TripArrays(np.array([], dtype=np.int64), [], [], [], [])
    got = apply_policy(policy({"type": "city_wide_average", "charge_minor": 1}), empty)
    assert got.tolist() == [] and got.dtype == np.int64


# -- trip array validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"base_price_minor": [2.5, 1.0]}, "integer minor units"),
        ({"base_price_minor": [-1, 1]}, ">= 0"),
        ({"origin_class": ["central", "suburb"]}, "suburb"),
        ({"dest_class": ["central"]}, "same length"),
        ({"mode_family": ["transit", ""]}, "non-empty string"),
        ({"mode_family": ["transit", 3]}, "non-empty string"),
        ({"trips": [1.0, float("nan")]}, "finite"),
        ({"trips": [1.0, -1.0]}, ">= 0"),
    ],
)
def test_inconsistent_trip_arrays_are_refused(change, match):
    columns = {
        "base_price_minor": [100, 200],
        "origin_class": ["central", "central"],
        "dest_class": ["central", "peripheral"],
        "mode_family": ["transit", "transit"],
        "trips": [1.0, 2.0],
    }
    columns.update(change)
    with pytest.raises(TripDataError, match=match):
        TripArrays(**columns)


CENTRAL_TRANSIT = {"origin_class": "central", "dest_class": "central", "mode_family": "transit"}


# -- one itinerary --------------------------------------------------------------------------------


def test_adjust_trip_explains_a_city_wide_charge():
    p = policy({"type": "city_wide_average"}, neutral=True).with_parameter(263)
    adj = adjust_trip(
        p, Money(280, "EUR"), origin_class="central", dest_class="central", mode_family="transit"
    )
    assert adj.base == Money(280, "EUR")
    assert adj.adjusted == Money(263, "EUR")
    assert adj.reason == "city-wide average charge: 2.80 EUR -> 2.63 EUR"


def test_adjust_trip_names_each_measure_that_changed_the_price():
    p = policy(
        {"type": "peripheral_discount", "discount_pct": 20, "surcharge_pct": 10},
        {"type": "cap", "per_trip_minor": 300},
    )
    far = adjust_trip(
        p, Money(400, "EUR"), origin_class="central", dest_class="peripheral", mode_family="transit"
    )
    assert far.adjusted == Money(300, "EUR")
    assert far.reason == (
        "peripheral discount 20%: 4.00 EUR -> 3.20 EUR; cap 3.00 EUR per trip: 3.20 EUR -> 3.00 EUR"
    )
    central = adjust_trip(
        p, Money(250, "EUR"), origin_class="central", dest_class="central", mode_family="transit"
    )
    # 250 * 1.10 = 275, under the cap: only the surcharge is named
    assert central.adjusted == Money(275, "EUR")
    assert central.reason == "central surcharge 10%: 2.50 EUR -> 2.75 EUR"


def test_adjust_trip_of_an_unchanged_price_has_an_empty_reason():
    p = policy({"type": "cap", "per_trip_minor": 300})
    adj = adjust_trip(
        p, Money(250, "EUR"), origin_class="central", dest_class="central", mode_family="transit"
    )
    assert adj.adjusted == adj.base and adj.reason == ""


def test_adjust_trip_leaves_other_families_alone():
    p = policy({"type": "city_wide_average", "charge_minor": 100})
    adj = adjust_trip(
        p, Money(350, "EUR"), origin_class="central", dest_class="central", mode_family="scooter"
    )
    assert adj.adjusted == Money(350, "EUR") and adj.reason == ""


def test_adjust_trip_agrees_with_apply_policy_on_every_row():
    p = policy(
        {"type": "partial_average", "alpha": 0.3, "target_minor": 290},
        {"type": "peripheral_discount", "discount_pct": 15, "surcharge_pct": 7.5},
        {"type": "cap", "per_day_minor": 650},
    )
    vectorised = apply_policy(p, TRIPS)
    for i in range(len(TRIPS)):
        adj = adjust_trip(
            p,
            Money(int(TRIPS.base_price_minor[i]), "EUR"),
            origin_class=TRIPS.origin_class[i],
            dest_class=TRIPS.dest_class[i],
            mode_family=TRIPS.mode_family[i],
        )
        assert adj.adjusted.amount_minor == vectorised[i]


def test_adjust_trip_needs_a_fully_specified_policy():
    p = policy({"type": "city_wide_average"}, neutral=True)
    with pytest.raises(PolicyError, match="solve"):
        adjust_trip(
            p,
            Money(280, "EUR"),
            origin_class="central",
            dest_class="central",
            mode_family="transit",
        )


def test_adjust_trip_refuses_another_currency():
    p = policy({"type": "city_wide_average", "charge_minor": 100})
    with pytest.raises(CurrencyMismatchError):
        adjust_trip(
            p,
            Money(280, "NOK"),
            origin_class="central",
            dest_class="central",
            mode_family="transit",
        )


def test_adjust_trip_refuses_an_unknown_zone_class():
    p = policy({"type": "city_wide_average", "charge_minor": 100})
    with pytest.raises(TripDataError, match="downtown"):
        adjust_trip(
            p,
            Money(280, "EUR"),
            origin_class="downtown",
            dest_class="central",
            mode_family="transit",
        )

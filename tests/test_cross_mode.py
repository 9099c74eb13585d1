"""Cross-mode policies (pricing.cross_mode, pricing.policy): hand-computed prices and solved
parameters, the expected capped price, scope, precise refusals, and properties that an average
across modes never widens the gap it targets.

Every table here is SYNTHETIC (tests/option_factory.py; `two_slots` is drawn out there). With
the deterministic rule the status quo's trips are option 1 (central, 300) and option 3
(peripheral, 600: bikes 200 as first mile + HSL 400), 10 trips each: base revenue 9000.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.choice import CheapestNearFastestRule, LogitRule, choose
from pricing.cross_mode import (
    apply_options_policy,
    capped_limits,
    class_gap,
    expected_capped_price,
    option_prices,
    option_scope,
    solve_system,
)
from pricing.neutrality import NeutralityError, solve_revenue_neutral
from pricing.policy import CrossModeCap, Policy, PolicyError, parse_policy, validate_policy
from pricing.policy_apply import TripArrays, TripDataError
from tests.option_factory import BIKES, HSL, make_table, two_slots

ROOT = Path(__file__).resolve().parents[1]
RULE = CheapestNearFastestRule()
RENTALS = ["bike_share", "scooter", "car_share", "moped"]


def policy(*measures: dict[str, Any], families=("transit", "bike_share"), neutral=True) -> Policy:
    return validate_policy(
        {
            "fairtrip_policy": 1,
            "id": "cross-test",
            "version": 1,
            "name": "Cross-mode test",
            "currency": "EUR",
            "mode_families": list(families),
            "revenue_neutral": neutral,
            "measures": list(measures),
        }
    )


DAY_CAP = {
    "type": "cross_mode_cap",
    "per_day_minor": 700,
    "trips_per_rider_day": [{"trips": 1, "share": 0.5}, {"trips": 2, "share": 0.5}],
}


# -- hand-computed measures ---------------------------------------------------------------------


def test_one_charge_per_trip_is_solved_by_hand():
    # 20 trips must pay 9000: charge = 450; walking stays free
    solution = solve_system(policy({"type": "one_charge_per_trip"}), two_slots(), RULE)
    assert solution.value == 450.0
    assert solution.price_minor.tolist() == [0, 450, 450, 450, 450]
    assert solution.revenue_minor == solution.revenue_base_minor == 9000.0
    assert solution.residual == 0.0 and solution.neutral


def test_per_km_averaging_is_solved_by_hand():
    # the trips made cover 10 x 3 km + 10 x 10 km = 130 km: rate = 9000 / 130 = 69.2308 /km;
    # option 1: 3 x 69.23 = 207.69 -> 208; options 2, 3: 692.31 -> 692; option 4: 623.08 -> 623
    solution = solve_system(policy({"type": "per_km_average"}), two_slots(), RULE)
    assert solution.value == pytest.approx(9000 / 130)
    assert solution.price_minor.tolist() == [0, 208, 692, 692, 623]
    assert solution.revenue_minor == 9000.0  # 10 x 208 + 10 x 692


def test_a_boarding_charge_is_added_to_the_per_km_price():
    fixed = policy(
        {"type": "per_km_average", "rate_minor_per_km": 50.0, "boarding_minor": 100},
        neutral=False,
    )
    # 100 + 50 x (2, 3, 10, 10, 9) km, walking left out
    assert apply_options_policy(fixed, two_slots()).tolist() == [0, 250, 600, 600, 550]


def test_first_last_mile_credit_and_its_central_surcharge_are_solved_by_hand():
    # option 3 (peripheral, first mile 200) gets 50 % of 200 = 100 off -> 500;
    # option 1 (central) pays 300 (1 + s): 10 x 300 (1 + s) + 10 x 500 = 9000 -> s = 1/3
    # -> 400. Option 2 (peripheral, no rental part) and 4 (no transit) are unchanged.
    credit = policy({"type": "first_last_mile_credit", "credit_pct": 50})
    solution = solve_system(credit, two_slots(), RULE)
    assert solution.value == pytest.approx(100 / 3)
    assert solution.price_minor.tolist() == [0, 400, 400, 500, 900]
    assert solution.residual == 0.0


def test_the_credit_is_limited_to_credit_max_minor_a_trip():
    credit = policy(
        {
            "type": "first_last_mile_credit",
            "credit_pct": 50,
            "credit_max_minor": 60,
            "surcharge_pct": 0,
        },
        neutral=False,
    )
    # 50 % of 200 = 100, limited to 60: 600 - 60 = 540
    assert apply_options_policy(credit, two_slots()).tolist() == [0, 300, 400, 540, 900]


def test_the_expected_capped_price_is_computed_by_hand():
    # riders: half make 1 trip a day, half 2 -> of the trips, 1/3 are by 1-trip riders
    # (limit 700) and 2/3 by 2-trip riders (limit 350).
    # 300 -> 300; 400 -> 400/3 + 2/3 x 350 = 366.67; 600 -> 200 + 233.33 = 433.33;
    # 900 -> 700/3 + 233.33 = 466.67
    cap = policy(DAY_CAP, neutral=False)
    assert apply_options_policy(cap, two_slots()).tolist() == [0, 300, 367, 433, 467]
    measure = cap.measures[0]
    assert isinstance(measure, CrossModeCap)
    limits, shares = capped_limits(measure)
    order = np.argsort(limits)
    assert limits[order].tolist() == [350.0, 700.0]
    assert shares[order] == pytest.approx([2 / 3, 1 / 3])


def test_a_monthly_cap_combines_with_the_daily_one():
    # every rider-month has 20 trips: limit 5000 / 20 = 250 under every daily limit -> 250
    cap = CrossModeCap.model_validate(
        {
            **DAY_CAP,
            "per_month_minor": 5000,
            "trips_per_rider_month": [{"trips": 20, "share": 1.0}],
        }
    )
    price = np.array([100.0, 300.0, 900.0])
    assert expected_capped_price(price, cap).tolist() == pytest.approx([100.0, 250.0, 250.0])


def test_a_transit_only_policy_prices_only_the_transit_parts_of_each_option():
    # partial averaging of the transit parts (alpha 0.5): option 1 transit 300, option 3
    # transit 400 (+ bikes 200). 10 (300 + T)/2 + 10 (200 + (400 + T)/2) = 9000 -> T = 350:
    # option 1 = 325, option 2 = 375, option 3 = 200 + 375 = 575, the rental unchanged
    partial = policy({"type": "partial_average", "alpha": 0.5}, families=("transit",))
    solution = solve_system(partial, two_slots(), RULE)
    assert solution.value == 350.0
    assert solution.price_minor.tolist() == [0, 325, 375, 575, 900]


def test_residents_may_re_choose_under_the_policy_and_neutrality_still_holds():
    solution = solve_system(
        policy({"type": "one_charge_per_trip"}), two_slots(), LogitRule(), rechoose=True
    )
    assert solution.neutral and abs(solution.residual) <= 0.005
    # the trips moved: the policy's choice is not the status quo's
    assert not np.allclose(solution.choice.weights, solution.base_choice.weights)
    made = float(solution.choice.weights @ two_slots().price_minor)
    assert solution.revenue_base_minor == pytest.approx(made)


def test_no_central_trips_means_no_surcharge_can_fund_the_credit():
    table = make_table(
        [("peripheral", "central", 5.0)],
        [
            (
                0,
                "rental_transit",
                900,
                5000,
                [
                    (BIKES, "rental", True, 200, "bike_share"),
                    (HSL, "transit", False, 300, "transit"),
                ],
            )
        ],
    )
    credit = policy({"type": "first_last_mile_credit", "credit_pct": 100})
    with pytest.raises(NeutralityError, match="no surcharge_pct in \\[0, 1000\\]"):
        solve_system(credit, table, RULE)


# -- scope ----------------------------------------------------------------------------------------


def test_an_option_with_a_part_outside_the_policy_s_families_keeps_its_price():
    scooter = (0, "rental", 600, 2000, [("provider:scoot", "rental", False, 500, "scooter")])
    bike = (0, "rental", 600, 2000, [(BIKES, "rental", False, 400, "bike_share")])
    table = make_table([("central", "central", 1.0)], [scooter, bike])
    one = policy({"type": "one_charge_per_trip", "charge_minor": 250}, neutral=False)
    assert option_scope(one, table).tolist() == [False, True]
    assert apply_options_policy(one, table).tolist() == [500, 250]


def test_rental_parts_of_unknown_vehicle_need_every_rental_family_listed():
    table = two_slots(part_vehicle=None)
    partly = policy({"type": "one_charge_per_trip", "charge_minor": 250}, neutral=False)
    with pytest.raises(TripDataError, match="does not say which rental family it rides"):
        apply_options_policy(partly, table)
    every = policy(
        {"type": "one_charge_per_trip", "charge_minor": 250},
        families=("transit", *RENTALS),
        neutral=False,
    )
    assert apply_options_policy(every, table).tolist() == [0, 250, 250, 250, 250]


# -- the policy documents ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "parameter"),
    [
        ("one-charge-every-mode.yaml", "charge_minor"),
        ("peripheral-first-last-mile-credit.yaml", "surcharge_pct"),
    ],
)
def test_the_shipped_cross_mode_policies_parse_and_solve(name, parameter):
    document = parse_policy((ROOT / "data" / "policies" / name).read_bytes())
    assert document.is_cross_mode and document.free_parameter == (0, parameter)
    solution = solve_system(document, two_slots(part_vehicle=None), RULE)
    assert solution.parameter == parameter and solution.neutral


def test_a_policy_may_not_mix_per_family_and_cross_mode_measures():
    with pytest.raises(PolicyError) as info:
        policy({"type": "cap", "per_trip_minor": 400}, DAY_CAP, neutral=False)
    assert info.value.field == "measures[0]"
    assert "per-family measures or cross-mode measures, not both" in info.value.message


def test_a_cross_mode_policy_needs_transit_and_a_rental_family():
    with pytest.raises(PolicyError) as info:
        policy(DAY_CAP, families=("transit",), neutral=False)
    assert info.value.field == "mode_families"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"trips_per_rider_day": [{"trips": 1, "share": 0.6}]}, "trips_per_rider_day",
         "the shares sum to 0.6; expected 1"),
        ({"trips_per_rider_day": [{"trips": 2, "share": 0.5}, {"trips": 2, "share": 0.5}]},
         "trips_per_rider_day[1].trips", "2 trips is listed twice"),
        ({"trips_per_rider_day": None}, "trips_per_rider_day", "per_day_minor needs"),
        ({"trips_per_rider_month": [{"trips": 30, "share": 1.0}]}, "trips_per_rider_month",
         "only applies with per_month_minor"),
        ({"trips_per_rider_day": [{"trips": 21, "share": 1.0}]},
         "trips_per_rider_day[0].trips", "expected at most 20 trips"),
        ({"per_day_minor": 2.5}, "per_day_minor", "expected an integer amount in minor units"),
    ],
)
def test_malformed_caps_across_modes_are_refused_naming_the_field(change, field, message):
    measure = {k: v for k, v in {**DAY_CAP, **change}.items() if v is not None}
    with pytest.raises(PolicyError) as info:
        policy(measure, neutral=False)
    assert info.value.field == f"measures[0].{field}"
    assert message in info.value.message


def test_the_transit_matrix_solver_refuses_a_cross_mode_policy():
    trips = TripArrays([280], ["central"], ["central"], ["transit"], [1.0])
    with pytest.raises(PolicyError, match="prices whole trips across modes"):
        solve_revenue_neutral(policy({"type": "one_charge_per_trip"}), trips)


def test_a_policy_in_another_currency_is_refused():
    with pytest.raises(PolicyError, match="prices in EUR, the options in USD"):
        apply_options_policy(policy(DAY_CAP, neutral=False), two_slots(currency="USD"))


def test_cross_mode_measures_describe_themselves():
    lines = policy(DAY_CAP, neutral=False).describe()
    assert lines == ["a rider pays at most 7.00 EUR a day across every mode"]
    solved = solve_system(policy({"type": "one_charge_per_trip"}), two_slots(), RULE).policy
    assert solved.describe() == [
        "every paid trip costs 4.50 EUR whatever its modes (solved for revenue neutrality)"
    ]


# -- properties: an average across modes never widens the gap it targets ----------------------


@st.composite
def tables(draw: st.DrawFn):
    n = draw(st.integers(2, 5))
    classes = [("central", "central"), ("peripheral", "central")] + [
        draw(st.sampled_from([("central", "central"), ("central", "peripheral")]))
        for _ in range(n - 2)
    ]
    slots = [(o, d, draw(st.floats(0.5, 20.0))) for o, d in classes]
    options = []
    for slot in range(n):
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["walk_transit", "rental", "rental_transit"]))
            price = draw(st.integers(1, 2000))
            parts = {
                "walk_transit": [(HSL, "transit", False, price, "transit")],
                "rental": [(BIKES, "rental", False, price, "bike_share")],
                "rental_transit": [
                    (BIKES, "rental", True, price // 3, "bike_share"),
                    (HSL, "transit", False, price - price // 3, "transit"),
                ],
            }[kind]
            duration, distance = draw(st.integers(60, 5400)), draw(st.integers(300, 30_000))
            options.append((slot, kind, duration, distance, parts))
        if draw(st.booleans()):
            options.append((slot, "walk", draw(st.integers(60, 9000)), 1000, []))
    return make_table(slots, options)


@settings(max_examples=60, deadline=None)
@given(tables())
def test_one_charge_never_widens_the_gap_in_mean_cost_per_trip(table):
    one = policy({"type": "one_charge_per_trip"})
    solution = solve_system(one, table, RULE)
    scope = option_scope(one, table)
    weights = solution.choice.weights
    before = class_gap(table, table.price_minor, weights, rows=scope)
    after = class_gap(table, solution.price_minor, weights, rows=scope)
    if np.isnan(before):
        return  # one class made no paid trip: there is no gap to compare
    assert abs(after) <= abs(before) + 1e-9


@settings(max_examples=60, deadline=None)
@given(tables())
def test_per_km_averaging_never_widens_the_gap_in_mean_cost_per_km(table):
    per_km = policy({"type": "per_km_average"})
    solution = solve_system(per_km, table, RULE)
    scope = option_scope(per_km, table)
    weights = solution.choice.weights
    before = class_gap(table, table.price_minor, weights, rows=scope, per_km=True)
    if np.isnan(before):
        return
    continuous = option_prices(solution.policy, table)
    after = class_gap(table, continuous, weights, rows=scope, per_km=True)
    assert abs(after) <= abs(before) + 1e-9
    # rounding each trip to a whole unit moves each class's mean per km by <= 0.5 / shortest
    # km, so the gap by <= 1 / shortest km
    rounded = class_gap(table, solution.price_minor, weights, rows=scope, per_km=True)
    shortest_km = float(table.distance_m[scope].min()) / 1000.0
    assert abs(rounded) <= abs(before) + 1.0 / shortest_km


@settings(max_examples=60, deadline=None)
@given(tables(), st.floats(1.0, 100.0), st.floats(0.0, 50.0))
def test_a_peripheral_credit_never_raises_the_periphery_above_the_centre(table, credit, surcharge):
    measure = {"type": "first_last_mile_credit", "credit_pct": credit, "surcharge_pct": surcharge}
    fixed = policy(measure, neutral=False)
    weights = choose(table, RULE).weights
    before = class_gap(table, table.price_minor, weights)
    after = class_gap(table, option_prices(fixed, table), weights)
    if np.isnan(before):
        return
    assert after <= before + 1e-9


def test_the_policy_store_refuses_to_activate_a_cross_mode_policy_and_changes_nothing(tmp_path):
    from pricing.policy_store import SqlitePolicyStore  # only this test needs a store file

    store = SqlitePolicyStore(tmp_path / "policies.sqlite3")
    try:
        cap = policy(DAY_CAP, neutral=False)
        store.create(cap)
        with pytest.raises(PolicyError, match="/plan cannot apply it to one itinerary"):
            store.activate(cap.id, cap.version)
        assert store.active() is None
    finally:
        store.close()


def test_the_solved_charge_is_reported_under_each_choice_rule_variant():
    from pricing.choice import sensitivity  # only this test re-solves per variant

    table = two_slots()
    one = policy({"type": "one_charge_per_trip"})
    rows = sensitivity(table, LogitRule(), lambda c: solve_system(one, table, c.rule).value)
    values = {variant.label: value for variant, _, value in rows}
    # the deterministic rule's trips are options 1 and 3: 9000 / 20 = 450 (see above)
    assert values["other rule: cheapest_near_fastest"] == 450.0
    # under the logit some residents walk (free) and some take the 900 rental: the charge
    # differs from 450, and it moves with the value of time
    assert len({values["as stated"], values["value of time x0.5"], values["value of time x2"]}) == 3

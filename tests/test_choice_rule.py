"""Choice rules (pricing.choice): hand-computed shares, deterministic picks, sensitivity.

Every table here is SYNTHETIC (tests/option_factory.py; `two_slots` is drawn out there).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.choice import (
    CheapestNearFastestRule,
    ChoiceRuleError,
    LogitRule,
    choose,
    sensitivity,
    sensitivity_variants,
)
from tests.option_factory import HSL, make_table, two_slots


def test_logit_shares_match_the_hand_computation():
    # VOT 10.00 EUR/h = 1000 minor/h, scale 10 min -> s = 1000 * 10 / 60 = 166.67 minor units.
    # slot 0: GC walk = 0 + 1000 * 0.5 h = 500; transit = 300 + 250 = 550 -> odds e^(-50/s) =
    #   e^-0.3 = 0.740818: walk 1 / 1.740818 = 0.574443, transit 0.425557.
    # slot 1: GC 400 + 666.67 = 1066.67, 600 + 416.67 = 1016.67, 900 + 500 = 1400 ->
    #   odds e^-0.3 = 0.740818, 1, e^-2.3 = 0.100259; sum 1.841077 ->
    #   0.402383, 0.543161, 0.054457.
    choice = choose(two_slots(), LogitRule())
    expected = [0.574443, 0.425557, 0.402383, 0.543161, 0.054457]
    assert choice.shares == pytest.approx(expected, abs=1e-6)
    assert choice.weights == pytest.approx([10 * s for s in expected], abs=1e-5)
    assert choice.unserved_trips == 0.0
    assert "10.00 EUR/h" in choice.description and "scale 10 min" in choice.description


def test_cheapest_near_fastest_matches_the_hand_computation():
    # slot 0: fastest 900 s, allowed 900 + 600 = 1500 s: walk (1800 s) is out -> transit (300).
    # slot 1: fastest 1500 s, allowed 2100 s: walk + transit (2400 s) is out; of rental +
    #   transit (600) and rental (900) the cheaper -> option 3.
    choice = choose(two_slots(), CheapestNearFastestRule())
    assert choice.weights.tolist() == [0.0, 10.0, 0.0, 10.0, 0.0]
    # a 20 % margin of 1500 s is 300 s, less than the 600 s floor: the same choice
    assert choose(two_slots(), CheapestNearFastestRule(margin_pct=20)).weights[3] == 10.0
    # 100 % of the fastest: slot 0 allows 1800 s -> walk (free); slot 1 allows 3000 s -> 400
    wide = choose(two_slots(), CheapestNearFastestRule(margin_s=0, margin_pct=100))
    assert wide.weights.tolist() == [10.0, 0.0, 10.0, 0.0, 0.0]


def test_policy_prices_replace_the_base_prices_in_the_choice():
    # option 3 at 1000 is dearer than the rental (900) within the margin -> the rental
    price = np.array([0, 300, 400, 1000, 900])
    choice = choose(two_slots(), CheapestNearFastestRule(), price_minor=price)
    assert choice.weights.tolist() == [0.0, 10.0, 0.0, 0.0, 10.0]


def test_ties_go_to_the_faster_option_then_to_the_earlier_row():
    free = (0, "walk_transit", 900, 1000, [(HSL, "transit", False, 0, "transit")])
    table = make_table(
        [("central", "central", 3.0)],
        [free, (0, "walk", 800, 900, []), (0, "own_bike", 800, 900, [])],
    )
    # all cost 0: the faster ones (800 s) win over 900 s, the earlier row (1) over row 2
    assert choose(table, CheapestNearFastestRule()).weights.tolist() == [0.0, 3.0, 0.0]


def test_trips_of_slots_without_any_option_are_reported_as_unserved():
    table = make_table(
        [("central", "central", 4.0), ("peripheral", "central", 6.0)],
        [(0, "walk", 600, 700, [])],
    )
    choice = choose(table, LogitRule())
    assert choice.weights.tolist() == [4.0]
    assert choice.unserved_trips == 6.0


def test_the_logit_stays_finite_when_costs_differ_enormously():
    table = make_table(
        [("central", "central", 1.0)],
        [
            (0, "walk", 360_000, 1000, []),
            (0, "walk_transit", 60, 1000, [(HSL, "transit", False, 10**9, "transit")]),
        ],
    )
    shares = choose(table, LogitRule()).shares
    assert np.isfinite(shares).all() and shares.sum() == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(60, 7200), st.integers(0, 5000)),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from([LogitRule(), LogitRule(500, 3.0), CheapestNearFastestRule()]),
)
def test_each_slot_s_weights_add_up_to_its_trips(options, rule):
    rows = [
        (slot, "walk_transit", duration, 1000, [(HSL, "transit", False, price, "transit")])
        for slot, duration, price in options
    ]
    table = make_table([("central", "central", 2.0 + i) for i in range(3)], rows)
    choice = choose(table, rule)
    per_slot = np.bincount(table.slot, weights=choice.weights, minlength=3)
    served = np.isin(np.arange(3), table.slot)
    assert per_slot[served] == pytest.approx(table.slots.trips[served])
    assert choice.unserved_trips == pytest.approx(float(table.slots.trips[~served].sum()))


def test_sensitivity_reruns_under_half_and_double_value_of_time_and_the_other_rule():
    table = two_slots()
    rows = sensitivity(table, LogitRule(), lambda c: float(c.weights @ table.price_minor))
    labels = [variant.label for variant, _, _ in rows]
    assert labels == [
        "as stated",
        "value of time x0.5",
        "value of time x2",
        "other rule: cheapest_near_fastest",
    ]
    assert "5.00 EUR/h" in rows[1][1] and "20.00 EUR/h" in rows[2][1]
    # the other rule's revenue, by hand: 10 x 300 + 10 x 600 = 9000
    assert rows[3][2] == 9000.0
    # a higher value of time makes the faster, paid options more likely: revenue rises
    assert rows[1][2] < rows[0][2] < rows[2][2]


def test_the_deterministic_rule_s_sensitivity_scales_its_margin():
    table = two_slots()
    rows = sensitivity(
        table, CheapestNearFastestRule(), lambda c: float(c.weights @ table.price_minor)
    )
    # margin x2 = 20 min: slot 0 allows 2100 s -> walk (0); slot 1 allows 2700 s -> 400.
    # revenue 10 x 0 + 10 x 400 = 4000 (9000 with the 10 and 5 minute margins)
    assert [(v.label, value) for v, _, value in rows[:3]] == [
        ("as stated", 9000.0),
        ("margin x0.5", 9000.0),
        ("margin x2", 4000.0),
    ]
    assert rows[3][0].label == "other rule: logit"
    assert len(sensitivity_variants(CheapestNearFastestRule(), "EUR")) == 4


def test_bad_rule_parameters_are_refused_by_name():
    with pytest.raises(ChoiceRuleError, match="value_of_time_minor_per_h must be a positive"):
        LogitRule(value_of_time_minor_per_h=0)
    with pytest.raises(ChoiceRuleError, match="scale_min must be a positive number"):
        LogitRule(scale_min=math.nan)
    with pytest.raises(ChoiceRuleError, match="margin_s must be >= 0"):
        CheapestNearFastestRule(margin_s=-1)
    with pytest.raises(ChoiceRuleError, match="margin_pct must be in"):
        CheapestNearFastestRule(margin_pct=-5.0)


def test_a_currency_without_a_default_value_of_time_needs_one():
    table = two_slots(currency="JPY")
    with pytest.raises(ChoiceRuleError, match="no default value of time for 'JPY'"):
        choose(table, LogitRule())
    assert choose(table, LogitRule(value_of_time_minor_per_h=1500)).shares.sum() == (
        pytest.approx(2.0)
    )


def test_prices_of_the_wrong_shape_or_not_finite_are_refused():
    with pytest.raises(ChoiceRuleError, match=r"price_minor has shape \(2,\)"):
        choose(two_slots(), LogitRule(), price_minor=np.array([1, 2]))
    with pytest.raises(ChoiceRuleError, match="price_minor must be finite"):
        choose(two_slots(), LogitRule(), price_minor=np.array([0, 1, 2, np.inf, 4]))

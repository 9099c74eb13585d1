"""The money that has to move (pricing.compensation): hand-computed flows per operator, exact
integer splits, the pool's balance and the text the command line prints.

Every table here is SYNTHETIC (tests/option_factory.py; `two_slots` is drawn out there). With
the deterministic rule the status quo's trips are option 1 (HSL 300) and option 3 (bikes 200
+ HSL 400), 10 trips each: HSL was paid 10 x 300 + 10 x 400 = 7000, bikes 10 x 200 = 2000.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.choice import CheapestNearFastestRule, LogitRule
from pricing.compensation import (
    CompensationFlows,
    OperatorFlow,
    compensation_flows,
    largest_remainder,
    render_flows,
    split_price,
)
from pricing.cross_mode import solve_system
from pricing.policy import validate_policy
from pricing.policy_apply import TripDataError
from tests.option_factory import BIKES, HSL, SYNTHETIC, make_table, two_slots

RULE = CheapestNearFastestRule()


def policy(measure, neutral=True):
    return validate_policy(
        {
            "fairtrip_policy": 1,
            "id": "flows-test",
            "version": 1,
            "name": "Flows test",
            "currency": "EUR",
            "mode_families": ["transit", "bike_share"],
            "revenue_neutral": neutral,
            "measures": [measure],
        }
    )


def flows_of(solution, table=None):
    return compensation_flows(
        table or two_slots(),
        solution.price_minor,
        weights_base=solution.base_choice.weights,
        weights=solution.choice.weights,
    )


def test_one_charge_moves_money_from_transit_to_the_bike_provider_by_hand():
    # charge 450 (tests/test_cross_mode.py). Option 3's 450 is split over bikes 200 and HSL
    # 400 of 600: bikes 150, HSL 300. Under the policy HSL gets 10 x 450 + 10 x 300 = 7500
    # (500 more than its 7000) and bikes 10 x 150 = 1500 (500 less than 2000): the pool
    # collects 500 from HSL and pays 500 to bikes; net 0.
    flows = flows_of(solve_system(policy({"type": "one_charge_per_trip"}), two_slots(), RULE))
    assert flows.flows == (
        OperatorFlow(BIKES, 2000, 2000, 1500, 500),
        OperatorFlow(HSL, 7000, 7000, 7500, -500),
    )
    assert flows.pool_net_minor == 0 and flows.imbalance == 0.0


def test_the_first_mile_credit_is_paid_back_to_the_provider_by_hand():
    # surcharge 1/3: option 1 -> 400 (HSL), option 3 -> 500 split 200:400 ->
    # 166.67 / 333.33 -> floors 166 + 333 = 499, one unit left for the larger remainder
    # (bikes: 500 x 200 mod 600 = 400 > HSL's 200) -> 167 / 333.
    # HSL: 10 x 400 + 10 x 333 = 7330, compensation 7000 - 7330 = -330;
    # bikes: 10 x 167 = 1670, compensation 2000 - 1670 = +330
    credit = policy({"type": "first_last_mile_credit", "credit_pct": 50})
    flows = flows_of(solve_system(credit, two_slots(), RULE))
    assert flows.flows == (
        OperatorFlow(BIKES, 2000, 2000, 1670, 330),
        OperatorFlow(HSL, 7000, 7000, 7330, -330),
    )
    assert flows.pool_net_minor == 0


def test_a_policy_that_is_not_revenue_neutral_leaves_the_pool_an_imbalance():
    # the cap (tests/test_cross_mode.py) prices option 1 at 300 and option 3 at 433; 433 over
    # 200:400 -> 144.33 / 288.67 -> 144 + 288, the unit left to HSL (remainder 400 > 200)
    # -> 144 / 289. HSL: 3000 + 2890 = 5890 (owed 1110); bikes 1440 (owed 560).
    # The pool pays out 1670 net = 18.556 % of the 9000 the trips are worth at base prices.
    cap = {
        "type": "cross_mode_cap",
        "per_day_minor": 700,
        "trips_per_rider_day": [{"trips": 1, "share": 0.5}, {"trips": 2, "share": 0.5}],
    }
    flows = flows_of(solve_system(policy(cap, neutral=False), two_slots(), RULE))
    assert [f.compensation_minor for f in flows.flows] == [560, 1110]
    assert flows.pool_net_minor == 1670
    lines = render_flows(flows)
    assert lines[-1] == (
        "city pool: IMBALANCE, pays out 16.70 EUR net (+18.556 % of the operators' base "
        "revenue for the trips made)"
    )


def test_the_text_names_each_operator_once_and_keeps_the_synthetic_label():
    flows = flows_of(solve_system(policy({"type": "one_charge_per_trip"}), two_slots(), RULE))
    lines = render_flows(flows)
    assert lines[0] == SYNTHETIC  # already says SYNTHETIC: printed as it is
    assert lines[1].split()[0] == "operator"
    assert lines[2].split() == [BIKES, "20.00", "EUR", "20.00", "EUR", "15.00", "EUR",
                                "+5.00", "EUR"]
    assert lines[3].split() == [HSL, "70.00", "EUR", "70.00", "EUR", "75.00", "EUR",
                                "-5.00", "EUR"]
    assert lines[4] == "city pool: balanced (pays out exactly what it collects)"
    table = two_slots(synthetic_note="fleets drawn at random")
    unlabelled = compensation_flows(
        table, table.price_minor, weights_base=np.ones(5), weights=np.ones(5)
    )
    assert render_flows(unlabelled)[0] == "SYNTHETIC: fleets drawn at random"


def test_with_re_choosing_residents_the_pool_still_balances_within_rounding():
    solution = solve_system(
        policy({"type": "one_charge_per_trip"}), two_slots(), LogitRule(), rechoose=True
    )
    flows = flows_of(solution)
    # operators keep the base value of the trips made, which the solver made revenue equal
    assert abs(flows.imbalance) <= 0.005
    assert sum(f.base_for_trips_minor for f in flows.flows) == round(
        solution.revenue_base_minor
    )
    # what riders paid before is the status quo's choice, not the policy's
    assert sum(f.paid_before_minor for f in flows.flows) == round(
        float(solution.base_choice.weights @ two_slots().price_minor)
    )


def test_split_price_shares_by_base_amounts_and_equally_when_all_were_free():
    free_ride = (
        0,
        "rental_transit",
        900,
        3000,
        [(BIKES, "rental", True, 0, "bike_share"), (HSL, "transit", False, 0, "transit")],
    )
    table = make_table([("central", "central", 1.0)], [free_ride])
    # 5 over two free parts: 2 each, the unit left to the earlier part -> 3, 2
    assert split_price(table, np.array([5])).tolist() == [3, 2]
    # two_slots at 450 each: option 3 splits 200:400 -> 150 / 300
    price = np.array([0, 450, 450, 450, 450])
    assert split_price(two_slots(), price).tolist() == [450, 450, 150, 300, 450]


def test_a_price_for_an_option_no_operator_runs_is_refused():
    with pytest.raises(TripDataError, match="option 0 \\(walk\\) has no operator but costs 100"):
        split_price(two_slots(), np.array([100, 300, 400, 600, 900]))
    with pytest.raises(TripDataError, match="price_minor must be one integer price per option"):
        split_price(two_slots(), np.array([0.0, 300.0, 400.0, 600.0, 900.0]))
    with pytest.raises(TripDataError, match="weights must be 5 finite trips >= 0"):
        compensation_flows(
            two_slots(),
            two_slots().price_minor,
            weights_base=np.ones(5),
            weights=np.array([1.0, 1.0, -1.0, 1.0, 1.0]),
        )


def test_largest_remainder_keeps_the_rounded_total():
    # 1.5 + 1.5 + 1.0 = 4: floors 1, 1, 1 and one unit to the first of the two 0.5 remainders
    assert largest_remainder(np.array([1.5, 1.5, 1.0])).tolist() == [2, 1, 1]
    # 0.4 x 3 = 1.2 -> 1 unit, to the first
    assert largest_remainder(np.array([0.4, 0.4, 0.4])).tolist() == [1, 0, 0]
    with pytest.raises(TripDataError, match="finite and >= 0"):
        largest_remainder(np.array([1.0, -0.5]))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(0, 5000), min_size=1, max_size=3), min_size=1, max_size=8
    ),
    st.data(),
)
def test_split_parts_add_up_to_each_price_and_stay_within_a_unit_of_their_share(parts, data):
    options = [
        (0, "rental_transit", 600, 1000,
         [(f"transit:a{i}", "transit", False, amount, "transit") for i, amount in enumerate(p)])
        for p in parts
    ]
    table = make_table([("central", "central", 1.0)], options)
    price = np.array(data.draw(st.lists(st.integers(0, 10**7), min_size=len(parts),
                                        max_size=len(parts))))
    split = split_price(table, price)
    assert table.parts_sum(split).tolist() == price.tolist()
    total = table.parts_sum()[table.part_option]
    count = table.part_count()[table.part_option]
    share = np.where(total > 0, price[table.part_option] * table.part_minor / np.maximum(total, 1),
                     price[table.part_option] / count)
    assert np.all(np.abs(split - share) < 1.0 + 1e-9)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 50.0), min_size=5, max_size=5))
def test_the_pool_s_net_is_the_sum_of_compensations_and_zero_at_base_prices(weights):
    table = two_slots()
    w = np.array(weights)
    flows = compensation_flows(table, table.price_minor, weights_base=w, weights=w)
    assert flows.pool_net_minor == sum(f.compensation_minor for f in flows.flows) == 0
    assert isinstance(flows, CompensationFlows) and flows.currency == "EUR"

"""Revenue neutrality: hand-checked solutions, demand response, and properties over random trips.

All trip sets here are synthetic.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pricing.errors import PricingError
from pricing.neutrality import (
    RATIO_FLOOR,
    NeutralityError,
    demand_response,
    revenue,
    solve_revenue_neutral,
)
from pricing.policy import Policy, PolicyError, validate_policy
from pricing.policy_apply import TripArrays, apply_policy, continuous_prices


def policy(
    *measures: dict[str, Any], neutral: bool = True, elasticity: float | None = None
) -> Policy:
    doc: dict[str, Any] = {
        "fairtrip_policy": 1,
        "id": "neutral-test",
        "version": 1,
        "name": "neutrality test",
        "currency": "EUR",
        "mode_families": ["transit"],
        "revenue_neutral": neutral,
        "measures": list(measures),
    }
    if elasticity is not None:
        doc["elasticity"] = elasticity
    return validate_policy(doc)


#: synthetic: three transit trips (central-central, central-peripheral, peripheral-peripheral)
#: and a scooter trip, which no transit policy may touch
TRIPS = TripArrays(
    base_price_minor=[280, 400, 255, 300],
    origin_class=["central", "central", "peripheral", "central"],
    dest_class=["central", "peripheral", "peripheral", "central"],
    mode_family=["transit", "transit", "transit", "scooter"],
    trips=[10.0, 5.0, 5.0, 2.0],
)
#: transit revenue of TRIPS: 280*10 + 400*5 + 255*5 = 2800 + 2000 + 1275
R0 = 6075.0


# -- hand-checked solutions ---------------------------------------------------------------------


def test_with_fixed_demand_the_city_wide_charge_is_revenue_over_trips():
    sol = solve_revenue_neutral(policy({"type": "city_wide_average"}), TRIPS)
    # 6075 / 20 transit trips = 303.75; whole cents: 303 gives 6060 (-0.25 %), 304 gives 6080
    # (+0.08 %), so 304 is chosen
    assert sol.parameter == "charge_minor"
    assert sol.value == 304.0
    assert sol.revenue_base_minor == R0
    assert sol.revenue_minor == 6080.0
    assert sol.residual == pytest.approx((6080 - 6075) / 6075)
    assert abs(sol.residual_continuous) < 1e-9
    assert sol.policy.measures[0].charge_minor == 304
    assert sol.policy.describe() == [
        "every transit trip costs 3.04 EUR (solved for revenue neutrality)"
    ]


def test_with_fixed_demand_the_partial_average_target_is_the_trip_weighted_mean():
    sol = solve_revenue_neutral(policy({"type": "partial_average", "alpha": 0.5}), TRIPS)
    # revenue = R0 + 0.5 * (20 * target - 6075) = R0  <=>  target = 303.75 -> 303 or 304
    assert sol.value in (303.0, 304.0)
    assert abs(sol.residual) < 1e-3


def test_with_fixed_demand_the_surcharge_pays_for_the_peripheral_discount():
    p = policy({"type": "peripheral_discount", "discount_pct": 20})
    sol = solve_revenue_neutral(p, TRIPS)
    # the discount loses 20 % of the peripheral revenue (2000 + 1275) = 655; the central trips
    # earn 2800, so the surcharge is 655 / 2800 = 23.392857... %
    assert sol.parameter == "surcharge_pct"
    assert sol.value == pytest.approx(100 * 655 / 2800, rel=1e-9)
    # riders pay whole cents: 280 * 1.2339 = 345.5 -> 346 (+0.5 * 10), 320, 204 exactly
    assert sol.revenue_minor == 346 * 10 + 320 * 5 + 204 * 5
    assert abs(sol.residual) < 1e-3


def test_the_scooter_trip_is_left_out_of_transit_neutrality():
    sol = solve_revenue_neutral(policy({"type": "city_wide_average"}), TRIPS)
    assert apply_policy(sol.policy, TRIPS)[3] == 300
    assert sol.revenue_base_minor == R0  # not R0 + 600 for the scooter trip


def test_with_elastic_demand_revenue_stays_neutral():
    p = policy({"type": "city_wide_average"}, elasticity=-0.5)
    sol = solve_revenue_neutral(p, TRIPS)
    prices = apply_policy(sol.policy, TRIPS)[:3]
    demand = demand_response(TRIPS.trips[:3], TRIPS.base_price_minor[:3], prices, -0.5)
    assert revenue(demand, prices) == pytest.approx(sol.revenue_minor)
    assert abs(sol.residual) < 2e-3
    assert abs(sol.residual_continuous) < 1e-9
    # elastic demand: the cheaper peripheral trip's riders react, so the charge differs from
    # the fixed-demand 304
    assert sol.value != 304.0


def test_with_unit_elasticity_any_price_keeps_revenue():
    # e = -1: revenue p' * D * (p'/p)^-1 = p * D whatever p' is; the solver stops at once
    sol = solve_revenue_neutral(policy({"type": "city_wide_average"}, elasticity=-1.0), TRIPS)
    assert abs(sol.residual) < 1e-9


def test_a_policy_without_a_free_parameter_is_evaluated_without_solving():
    sol = solve_revenue_neutral(
        policy({"type": "cap", "per_trip_minor": 300}, neutral=False), TRIPS
    )
    # 280*10 + 300*5 + 255*5 = 5575
    assert sol.parameter is None and sol.value is None and sol.iterations == 0
    assert sol.revenue_minor == 5575.0
    assert sol.residual == pytest.approx((5575 - 6075) / 6075)


def test_free_trips_stay_free_under_a_neutral_city_wide_charge():
    trips = TripArrays([0, 0], ["central"] * 2, ["central"] * 2, ["transit"] * 2, [1.0, 3.0])
    sol = solve_revenue_neutral(policy({"type": "city_wide_average"}), trips)
    assert sol.value == 0.0 and sol.revenue_minor == 0.0 and sol.residual == 0.0


def test_an_impossible_neutrality_raises_naming_the_reachable_range():
    # every trip touches the periphery: no central trip can carry a surcharge
    trips = TripArrays([300, 300], ["peripheral"] * 2, ["central"] * 2, ["transit"] * 2, [1, 1])
    with pytest.raises(NeutralityError) as info:
        solve_revenue_neutral(policy({"type": "peripheral_discount", "discount_pct": 50}), trips)
    err = info.value
    assert isinstance(err, PricingError) and isinstance(err, ValueError)
    assert err.policy_id == "neutral-test"
    assert "'neutral-test'" in str(err) and "no surcharge_pct in [0, 1000]" in str(err)
    assert "300..300" in str(err) and "vs 600" in str(err)
    assert err.reachable_minor == pytest.approx((300.0, 300.0))


def test_a_cap_below_the_needed_charge_makes_neutrality_impossible():
    p = policy({"type": "city_wide_average"}, {"type": "cap", "per_trip_minor": 100})
    with pytest.raises(NeutralityError, match="charge_minor"):
        solve_revenue_neutral(p, TRIPS)


def test_a_surcharge_beyond_one_thousand_percent_is_not_searched():
    # one central trip at 10 cannot pay for a 90 % discount on a 5000 trip within +1000 %
    trips = TripArrays(
        [10, 5000], ["central", "peripheral"], ["central"] * 2, ["transit"] * 2, [1.0, 1.0]
    )
    p = policy({"type": "peripheral_discount", "discount_pct": 90})
    with pytest.raises(NeutralityError) as info:
        solve_revenue_neutral(p, trips)
    # reachable: 10 + 500 = 510 (no surcharge) .. 110 + 500 = 610 (+1000 %)
    assert info.value.reachable_minor == pytest.approx((510.0, 610.0))


def test_the_solution_record_is_json():
    sol = solve_revenue_neutral(policy({"type": "city_wide_average"}), TRIPS)
    record = json.loads(json.dumps(sol.to_dict(), allow_nan=False))
    assert record["parameter"] == "charge_minor" and record["value"] == 304.0
    assert record["iterations"] == sol.iterations > 0


# -- demand response ---------------------------------------------------------------------------


def test_demand_responds_with_constant_elasticity():
    # 10 * (100/200)^-0.5 = 10 * sqrt(2) = 14.142...
    got = demand_response(np.array([10.0]), np.array([200]), np.array([100]), -0.5)
    assert got[0] == pytest.approx(10 * math.sqrt(2))


def test_demand_for_a_free_trip_is_unchanged():
    got = demand_response(np.array([4.0, 4.0]), np.array([0, 100]), np.array([250, 100]), -0.8)
    assert got.tolist() == [4.0, 4.0]


def test_a_price_cut_to_zero_is_evaluated_as_a_99_percent_cut():
    got = demand_response(np.array([1.0]), np.array([200]), np.array([0]), -0.3)
    assert got[0] == pytest.approx(RATIO_FLOOR**-0.3)
    assert np.isfinite(got).all()


def test_fixed_demand_returns_a_copy():
    demand = np.array([1.0, 2.0])
    got = demand_response(demand, np.array([1, 2]), np.array([5, 5]), None)
    assert got.tolist() == [1.0, 2.0] and got is not demand


def test_an_elasticity_out_of_range_is_refused():
    with pytest.raises(PolicyError, match="elasticity"):
        demand_response(np.array([1.0]), np.array([1]), np.array([1]), 0.5)


def test_revenue_is_the_weighted_sum_of_prices():
    assert revenue(np.array([10.0, 5.0]), np.array([280, 400])) == 4800.0


# -- properties over random synthetic trip sets ------------------------------------------------


@st.composite
def trip_sets(draw: st.DrawFn) -> TripArrays:
    """Synthetic trips: prices 0..2000, weights > 0, both classes, plus untouched scooter rows."""
    n = draw(st.integers(2, 25))
    classes = st.sampled_from(["central", "peripheral"])
    prices = draw(st.lists(st.integers(0, 2000), min_size=n, max_size=n))
    weights = draw(st.lists(st.floats(0.01, 100.0, allow_nan=False), min_size=n, max_size=n))
    origins = draw(st.lists(classes, min_size=n, max_size=n))
    dests = draw(st.lists(classes, min_size=n, max_size=n))
    families = draw(
        st.lists(st.sampled_from(["transit"] * 4 + ["scooter"]), min_size=n, max_size=n)
    )
    return TripArrays(prices, origins, dests, families, weights)


def transit_revenue(trips: TripArrays) -> float:
    rows = trips.mode_family == "transit"
    return revenue(trips.trips[rows], trips.base_price_minor[rows])


def mean_price(trips: TripArrays, prices: np.ndarray) -> float:
    rows = trips.mode_family == "transit"
    return float(np.average(prices[rows], weights=trips.trips[rows]))


neutral_policies = st.one_of(
    st.just([{"type": "city_wide_average"}]),
    st.floats(0.0, 1.0).map(lambda a: [{"type": "partial_average", "alpha": a}]),
    # discounts up to 90 %: nearer 100 % the constant-elasticity demand of a near-free trip
    # makes the rounding to whole cents dominate the residual
    st.floats(0.5, 90.0).map(lambda d: [{"type": "peripheral_discount", "discount_pct": d}]),
    st.integers(150, 2000).map(
        lambda cap: [
            {"type": "cap", "per_trip_minor": cap},
            {"type": "peripheral_discount", "discount_pct": 10},
        ]
    ),
)
elasticities = st.one_of(st.none(), st.floats(-1.0, 0.0))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trips=trip_sets(), measures=neutral_policies, elasticity=elasticities)
def test_every_revenue_neutral_policy_keeps_revenue_within_half_a_percent(
    trips, measures, elasticity
):
    rows = trips.mode_family == "transit"
    assume(rows.any())
    # real fares: a trip-weighted mean of at least 2.00 EUR, so one cent of rounding per trip
    # is at most 0.25 % of revenue
    assume(mean_price(trips, trips.base_price_minor.astype(float)) >= 200)
    p = policy(*measures, elasticity=elasticity)
    r0 = transit_revenue(trips)
    try:
        sol = solve_revenue_neutral(p, trips)
    except NeutralityError as err:
        # only when it really is impossible: even the top of the range falls short
        _, name = p.free_parameter
        top = 1000.0 if name == "surcharge_pct" else 1e9
        own = trips.select(rows)
        prices = continuous_prices(p, own, parameter=top)
        demand = demand_response(own.trips, own.base_price_minor, prices, elasticity)
        assert revenue(demand, prices) < r0
        assert err.reachable_minor[1] < r0
        return
    own = trips.select(rows)
    prices = apply_policy(sol.policy, own)
    demand = demand_response(own.trips, own.base_price_minor, prices, elasticity)
    assert revenue(demand, prices) == pytest.approx(sol.revenue_minor, rel=1e-12)
    # within 0.5 %, plus the rounding of whole cents: each trip's price is at most one cent
    # off the continuous solution (with elastic demand the solved prices can end near a few
    # cents, where one cent is no longer a small share of the fare)
    assert abs(revenue(demand, prices) - r0) <= 0.005 * r0 + float(demand.sum())
    # the scooter rows never change
    assert (apply_policy(sol.policy, trips)[~rows] == trips.base_price_minor[~rows]).all()


def class_gap(trips: TripArrays, prices: np.ndarray) -> float:
    """|trip-weighted mean price of central-origin minus peripheral-origin transit trips|."""
    rows = trips.mode_family == "transit"
    central = rows & (trips.origin_class == "central")
    peripheral = rows & (trips.origin_class == "peripheral")
    mean_c = np.average(prices[central], weights=trips.trips[central])
    mean_p = np.average(prices[peripheral], weights=trips.trips[peripheral])
    return float(abs(mean_c - mean_p))


averaging_policies = st.one_of(
    st.just([{"type": "city_wide_average"}]),
    st.floats(0.0, 1.0).map(lambda a: [{"type": "partial_average", "alpha": a}]),
)


@settings(max_examples=300, deadline=None)
@given(trips=trip_sets(), measures=averaging_policies, elasticity=elasticities)
def test_an_averaging_policy_never_widens_the_central_peripheral_gap(trips, measures, elasticity):
    rows = trips.mode_family == "transit"
    assume((rows & (trips.origin_class == "central")).any())
    assume((rows & (trips.origin_class == "peripheral")).any())
    assume(transit_revenue(trips) > 0)
    sol = solve_revenue_neutral(policy(*measures, elasticity=elasticity), trips)
    before = class_gap(trips, trips.base_price_minor.astype(float))
    # before rounding, p' = p + alpha (t - p) shrinks the gap by the factor (1 - alpha)
    continuous = continuous_prices(sol.policy, trips)
    assert class_gap(trips, continuous) <= before + 1e-9 * max(before, 1.0)
    # each rider pays whole cents: the two means move by at most half a cent each
    assert class_gap(trips, apply_policy(sol.policy, trips).astype(float)) <= before + 1.0

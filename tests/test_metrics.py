"""Equity metrics: hand-computed cases, mathematical properties and input validation.

All data here is synthetic: small arrays chosen so the arithmetic can be done by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pricing import metrics
from pricing.errors import PricingError
from pricing.metrics import MetricInputError

INF = math.inf


# --------------------------------------------------------------------------------------------
# Lorenz and Gini: hand-computed


def test_lorenz_of_four_equally_weighted_values_matches_hand_computation():
    # values 1,2,3,4 (total 10), weights 1 each (total 4):
    # population shares 0, 1/4, 2/4, 3/4, 1
    # value shares      0, 1/10, (1+2)/10, (1+2+3)/10, 10/10 = 0, .1, .3, .6, 1
    pop, share = metrics.lorenz([4.0, 2.0, 1.0, 3.0], [1, 1, 1, 1])
    np.testing.assert_allclose(pop, [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(share, [0.0, 0.1, 0.3, 0.6, 1.0])
    assert pop[0] == 0.0 and share[0] == 0.0
    assert pop[-1] == 1.0 and share[-1] == 1.0


def test_gini_of_one_to_four_is_one_quarter():
    # area under Lorenz = 0.25 * [(0+.1) + (.1+.3) + (.3+.6) + (.6+1)] / 2 = 0.25 * 3 / 2 = 0.375
    # Gini = 1 - 2 * 0.375 = 0.25
    assert metrics.gini([1, 2, 3, 4], [1, 1, 1, 1]) == pytest.approx(0.25, abs=1e-12)


def test_weighted_lorenz_and_gini_match_hand_computation():
    # values 2,1,4 with weights 1,2,1 -> sorted 1 (w2), 2 (w1), 4 (w1); W = 4, Σwx = 2+2+4 = 8
    # population shares 0, 2/4, 3/4, 1 = 0, .5, .75, 1
    # value shares      0, 2/8, 4/8, 8/8 = 0, .25, .5, 1
    # area = .5*(0+.25)/2 + .25*(.25+.5)/2 + .25*(.5+1)/2 = .0625 + .09375 + .1875 = .34375
    # Gini = 1 - 2*.34375 = .3125
    # cross-check by mean absolute difference: Σ_ij w_i w_j |x_i-x_j| = 2*(2*1*1 + 2*1*3 + 1*1*2)
    # = 20; / (2 W² μ) = 20 / (2*16*2) = .3125
    pop, share = metrics.lorenz([2, 1, 4], [1, 2, 1])
    np.testing.assert_allclose(pop, [0.0, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(share, [0.0, 0.25, 0.5, 1.0])
    assert metrics.gini([2, 1, 4], [1, 2, 1]) == pytest.approx(0.3125, abs=1e-12)


def test_weighted_gini_equals_gini_of_expanded_population():
    weighted = metrics.gini([2, 1, 4], [1, 2, 1])
    expanded = metrics.gini([2, 1, 1, 4], [1, 1, 1, 1])
    assert weighted == pytest.approx(expanded, abs=1e-12)


def test_gini_equals_one_minus_twice_the_lorenz_area():
    rng = np.random.default_rng(5)  # synthetic prices and trip weights
    values = rng.uniform(0, 500, 50)
    weights = rng.integers(0, 20, 50)
    pop, share = metrics.lorenz(values, weights)
    assert metrics.gini(values, weights) == pytest.approx(
        1 - 2 * np.trapezoid(share, pop), abs=1e-12
    )


def test_zero_weight_rows_do_not_change_lorenz_or_gini():
    pop, share = metrics.lorenz([1, 2, 99, 3, 4], [1, 1, 0, 1, 1])
    np.testing.assert_allclose(pop, [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(share, [0.0, 0.1, 0.3, 0.6, 1.0])


def test_all_zero_values_give_the_line_of_equality_and_zero_gini():
    # e.g. a fare-free policy: everybody pays the same (nothing)
    pop, share = metrics.lorenz([0, 0, 0], [1, 2, 1])
    np.testing.assert_allclose(share, pop)
    assert metrics.gini([0, 0, 0], [1, 2, 1]) == 0.0


# --------------------------------------------------------------------------------------------
# Theil


def test_theil_two_groups_decomposes_as_computed_by_hand():
    # group a: values 1, 3; group b: values 4, 4; all weights 1.
    # μ = 12/4 = 3, μ_a = 2, μ_b = 4; value shares s_a = 4/12 = 1/3, s_b = 8/12 = 2/3
    # T = 1/4 [ (1/3)ln(1/3) + 1·ln 1 + 2·(4/3)ln(4/3) ]
    #   = 1/4 [ -0.366204 + 0 + 0.767152 ] = 0.100237
    # T_a = 1/2 [ (1/2)ln(1/2) + (3/2)ln(3/2) ] = 1/2 [ -0.346574 + 0.608198 ] = 0.130812
    # T_b = 0 (equal values)
    # between = 1/3 ln(2/3) + 2/3 ln(4/3) = -0.135155 + 0.191788 = 0.056633
    # within  = 1/3 · 0.130812 + 2/3 · 0 = 0.043604;   0.056633 + 0.043604 = 0.100237
    result = metrics.theil([1, 3, 4, 4], [1, 1, 1, 1], np.array(["a", "a", "b", "b"]))
    assert result.total == pytest.approx(0.100237, abs=1e-6)
    assert result.between == pytest.approx(0.056633, abs=1e-6)
    assert result.within == pytest.approx(0.043604, abs=1e-6)
    assert result.by_group["a"] == pytest.approx(0.130812, abs=1e-6)
    assert result.by_group["b"] == pytest.approx(0.0, abs=1e-12)
    assert result.between_share == pytest.approx(0.056633 / 0.100237, abs=1e-5)


def test_theil_zero_values_contribute_nothing():
    # values 0 and 2, weights 1 each: μ = 1, T = 1/2 [0 + 2 ln 2] = ln 2 = 0.693147
    result = metrics.theil([0, 2], [1, 1], ["x", "x"])
    assert result.total == pytest.approx(math.log(2), abs=1e-12)
    assert result.between == pytest.approx(0.0, abs=1e-12)
    assert result.by_group["x"] == pytest.approx(math.log(2), abs=1e-12)


def test_theil_of_all_zero_values_is_zero_with_zero_between_share():
    result = metrics.theil([0, 0], [1, 1], ["a", "b"])
    assert (result.total, result.between, result.within) == (0.0, 0.0, 0.0)
    assert result.between_share == 0.0
    assert result.by_group == {"a": 0.0, "b": 0.0}


# --------------------------------------------------------------------------------------------
# Suits


def test_suits_of_a_proportional_payment_is_zero():
    incomes = [1000, 2000, 5000, 12000]
    payments = [0.03 * i for i in incomes]  # everybody pays 3 % of income
    assert metrics.suits(payments, incomes, [3, 1, 2, 1]) == pytest.approx(0.0, abs=1e-12)


def test_suits_of_a_flat_payment_is_regressive():
    # incomes 1,2,3 (total 6), payment 1 each (total 3)
    # x: 0, 1/6, 3/6, 1;  y: 0, 1/3, 2/3, 1
    # L = 1/6·(0+1/3)/2 + 2/6·(1/3+2/3)/2 + 3/6·(2/3+1)/2 = 1/36 + 6/36 + 15/36 = 22/36
    # S = 1 - 2·22/36 = -8/36 = -0.222222
    s = metrics.suits([1, 1, 1], [1, 2, 3], [1, 1, 1])
    assert s < 0
    assert s == pytest.approx(-8 / 36, abs=1e-12)


def test_suits_three_units_hand_computed():
    # incomes 1, 2, 7 (total 10), payments 1, 1, 2 (total 4)
    # x: 0, .1, .3, 1;  y: 0, .25, .5, 1
    # L = .1·(0+.25)/2 + .2·(.25+.5)/2 + .7·(.5+1)/2 = .0125 + .075 + .525 = .6125
    # S = 1 - .6125/.5 = -0.225
    assert metrics.suits([2, 1, 1], [7, 2, 1], [1, 1, 1]) == pytest.approx(-0.225, abs=1e-12)


def test_suits_is_positive_when_high_incomes_pay_a_larger_share():
    assert metrics.suits([0, 1, 9], [1, 2, 3], [1, 1, 1]) > 0


def test_suits_does_not_depend_on_the_order_of_equal_incomes():
    a = metrics.suits([1, 5, 2], [10, 10, 30], [1, 1, 1])
    b = metrics.suits([5, 1, 2], [10, 10, 30], [1, 1, 1])
    assert a == pytest.approx(b, abs=1e-15)


def test_suits_rejects_zero_total_income():
    with pytest.raises(MetricInputError) as exc:
        metrics.suits([1, 1], [0, 0], [1, 1])
    assert exc.value.argument == "incomes"


# --------------------------------------------------------------------------------------------
# Affordability


def test_affordability_hand_computed():
    # monthly spend = price · 40: 10000, 10000, 4000
    # shares: 10000/200000 = .05, 10000/80000 = .125, 4000/50000 = .08; weights 1, 1, 2
    # mean = (.05 + .125 + 2·.08) / 4 = .335/4 = .08375
    # over 10 %: only .125 (weight 1 of 4) -> .25
    # high: .05; low: (.125 + 2·.08)/3 = .285/3 = .095
    result = metrics.affordability(
        [250, 250, 100], [200_000, 80_000, 50_000], [1, 1, 2], ["high", "low", "low"]
    )
    assert result.mean_share == pytest.approx(0.08375, abs=1e-12)
    assert result.share_over_threshold == pytest.approx(0.25, abs=1e-12)
    assert result.by_group == pytest.approx({"high": 0.05, "low": 0.095}, abs=1e-12)


def test_affordability_exactly_at_threshold_is_not_over():
    # 250 · 40 / 100000 = 0.10 exactly
    result = metrics.affordability([250], [100_000], [1], ["g"], threshold=0.10)
    assert result.mean_share == pytest.approx(0.10)
    assert result.share_over_threshold == 0.0


def test_affordability_uses_trips_per_month():
    result = metrics.affordability([100], [10_000], [1], ["g"], trips_per_month=20)
    assert result.mean_share == pytest.approx(0.2)


@pytest.mark.parametrize("income", [0, -5])
def test_affordability_rejects_non_positive_income(income):
    with pytest.raises(MetricInputError) as exc:
        metrics.affordability([100, 100], [5000, income], [1, 1], ["a", "b"])
    assert exc.value.argument == "income_minor"
    assert "index 1" in str(exc.value)


# --------------------------------------------------------------------------------------------
# Accessibility

ACC_OPP = [10.0, 20.0, 40.0]
# origin 0: dest 1 unreachable (inf); dest 2 reachable in time but costs 500 > 300
# origin 1: dest 2 takes 3000 s > 1800 s
ACC_TIME = [[600.0, INF, 1200.0], [300.0, 900.0, 3000.0]]
ACC_PRICE = [[200.0, 200.0, 500.0], [200.0, 200.0, 200.0]]


def test_accessibility_2x3_excludes_unreachable_and_too_expensive_pairs():
    # origin 0: 10 (dest 0) ; dest 1 inf, dest 2 too expensive -> 10
    # origin 1: 10 + 20 ; dest 2 too slow -> 30
    access = metrics.accessibility(
        [100, 50], ACC_OPP, ACC_TIME, ACC_PRICE, max_time_s=1800, max_price_minor=300
    )
    np.testing.assert_array_equal(access, [10.0, 30.0])
    assert access.dtype == np.float64


def test_accessibility_counts_the_expensive_pair_once_the_budget_allows_it():
    access = metrics.accessibility(
        [100, 50], ACC_OPP, ACC_TIME, ACC_PRICE, max_time_s=1800, max_price_minor=500
    )
    np.testing.assert_array_equal(access, [50.0, 30.0])


def test_accessibility_never_counts_unreachable_pairs_even_with_infinite_budgets():
    access = metrics.accessibility(
        [100, 50], ACC_OPP, ACC_TIME, ACC_PRICE, max_time_s=INF, max_price_minor=INF
    )
    np.testing.assert_array_equal(access, [50.0, 70.0])


def test_accessibility_rejects_a_matrix_of_the_wrong_shape():
    with pytest.raises(MetricInputError) as exc:
        metrics.accessibility(
            [100, 50], ACC_OPP, [[1.0, 2.0, 3.0]], ACC_PRICE, max_time_s=10, max_price_minor=10
        )
    assert exc.value.argument == "travel_time_s"


def test_accessibility_rejects_nan_times_but_accepts_inf():
    time = [[600.0, math.nan, 1200.0], [300.0, 900.0, 3000.0]]
    with pytest.raises(MetricInputError) as exc:
        metrics.accessibility(
            [100, 50], ACC_OPP, time, ACC_PRICE, max_time_s=1800, max_price_minor=300
        )
    assert exc.value.argument == "travel_time_s"
    assert "(0, 1)" in str(exc.value)


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_time_s", -1.0), ("max_time_s", math.nan), ("max_price_minor", -0.5)],
)
def test_accessibility_rejects_bad_budgets(option, value):
    budgets = {"max_time_s": 1800.0, "max_price_minor": 300.0, option: value}
    with pytest.raises(MetricInputError) as exc:
        metrics.accessibility([100, 50], ACC_OPP, ACC_TIME, ACC_PRICE, **budgets)
    assert exc.value.argument == option


def test_population_weighted_mean_weights_by_people():
    # (10·100 + 30·300) / 400 = 10000/400 = 25
    assert metrics.population_weighted_mean([10, 30], [100, 300]) == pytest.approx(25.0)


# --------------------------------------------------------------------------------------------
# Winners and losers, group summaries


def test_winners_losers_treats_a_change_of_exactly_the_tolerance_as_unchanged():
    # changes: -1 (tie), +1 (tie), 0, -2 (winner), +3 (loser); weights 1..5
    # winners 4, losers 5, unchanged 1+2+3 = 6
    # mean change = (-1·1 + 1·2 + 0·3 - 2·4 + 3·5) / 15 = 8/15
    result = metrics.winners_losers(
        [100, 100, 100, 100, 100], [99, 101, 100, 98, 103], [1, 2, 3, 4, 5], tolerance_minor=1.0
    )
    assert result == metrics.WinnersLosers(
        winners=4.0, losers=5.0, unchanged=6.0, mean_change=pytest.approx(8 / 15)
    )


def test_winners_losers_default_tolerance_counts_one_cent_but_not_half_a_cent():
    result = metrics.winners_losers([100, 100, 100, 100], [99, 101, 100.5, 99.5], [1, 1, 1, 1])
    assert (result.winners, result.losers, result.unchanged) == (1.0, 1.0, 2.0)


def test_group_means_are_weighted_and_include_all():
    # central: (200·1 + 300·3)/4 = 275; peripheral: 400; all: (200 + 900 + 400·2)/6 = 1900/6
    result = metrics.group_means([200, 300, 400], [1, 3, 2], ["central", "central", "peripheral"])
    assert result == pytest.approx({"central": 275.0, "peripheral": 400.0, "all": 1900 / 6})


def test_group_means_reject_the_reserved_label_all():
    with pytest.raises(MetricInputError) as exc:
        metrics.group_means([1, 2], [1, 1], ["all", "x"])
    assert exc.value.argument == "groups"


def test_group_labels_must_be_strings():
    with pytest.raises(MetricInputError) as exc:
        metrics.group_means([1, 2], [1, 1], np.array([1, 2]))
    assert exc.value.argument == "groups"


def test_price_per_km_is_a_ratio_of_sums_and_skips_zero_distance_pairs():
    # central: (1·280 + 1·280) / (1·2 km + 1·8 km) = 560/10 = 56
    # peripheral: 2·380 / (2·19 km) = 20; the 0 m pair (price 999) is left out
    # all: (560 + 760) / (10 + 38) = 1320/48 = 27.5
    result = metrics.price_per_km(
        [280, 280, 380, 999],
        [2000, 8000, 19000, 0],
        [1, 1, 2, 5],
        ["central", "central", "peripheral", "central"],
    )
    assert result == pytest.approx({"central": 56.0, "peripheral": 20.0, "all": 27.5})


def test_price_per_km_rejects_inputs_without_any_distance():
    with pytest.raises(MetricInputError) as exc:
        metrics.price_per_km([100], [0], [1], ["a"])
    assert exc.value.argument == "distance_m"


# --------------------------------------------------------------------------------------------
# Properties

VALUE = st.integers(0, 10**7).map(lambda k: k / 100)  # prices up to 100 000.00 minor units
WEIGHT = st.integers(0, 1000).map(float)
LABEL = st.sampled_from(["central", "peripheral", "ring2"])


@st.composite
def weighted_values(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 30))
    values = np.array(draw(st.lists(VALUE, min_size=n, max_size=n)))
    weights = np.array(draw(st.lists(WEIGHT, min_size=n, max_size=n)))
    groups = np.array(draw(st.lists(LABEL, min_size=n, max_size=n)))
    assume(weights.sum() > 0)
    return values, weights, groups


@given(weighted_values())
def test_gini_lies_in_zero_to_one(data):
    values, weights, _ = data
    g = metrics.gini(values, weights)
    assert 0.0 <= g < 1.0


@given(weighted_values(), st.floats(1e-3, 1e3))
def test_gini_is_scale_invariant(data, scale):
    values, weights, _ = data
    assert metrics.gini(values * scale, weights) == pytest.approx(
        metrics.gini(values, weights), abs=1e-9
    )


@given(VALUE, st.lists(WEIGHT, min_size=1, max_size=30))
def test_gini_of_equal_values_is_zero(value, weights):
    assume(sum(weights) > 0)
    assert metrics.gini([value] * len(weights), weights) == pytest.approx(0.0, abs=1e-12)


@given(weighted_values())
def test_theil_total_is_between_plus_within_and_non_negative(data):
    result = metrics.theil(*data)
    assert result.total == pytest.approx(result.between + result.within, abs=1e-9)
    assert result.total >= 0.0
    assert result.between >= 0.0
    assert result.within >= 0.0
    assert all(t >= 0.0 for t in result.by_group.values())
    assert 0.0 <= result.between_share <= 1.0 + 1e-9


@given(weighted_values())
def test_lorenz_is_monotone_and_convex_below_the_diagonal(data):
    values, weights, _ = data
    pop, share = metrics.lorenz(values, weights)
    assert (pop[0], share[0], pop[-1], share[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(pop) > 0)  # zero-weight rows are dropped
    assert np.all(np.diff(share) >= 0)
    assert np.all(share <= pop + 1e-12)
    slopes = np.diff(share) / np.diff(pop)
    assert np.all(np.diff(slopes) >= -1e-6 * max(1.0, float(slopes.max())))


@given(weighted_values(), st.floats(0.0, 1.0))
def test_moving_values_toward_the_mean_never_increases_gini(data, alpha):
    values, weights, _ = data
    mean = np.sum(weights * values) / weights.sum()
    averaged = (1 - alpha) * values + alpha * mean
    before = metrics.gini(values, weights)
    after = metrics.gini(averaged, weights)
    assert after <= before + 1e-12
    # The mean is unchanged and every difference shrinks by (1 - alpha).
    assert after == pytest.approx((1 - alpha) * before, abs=1e-9)


@st.composite
def od_matrices(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    n_o = draw(st.integers(1, 5))
    n_d = draw(st.integers(1, 5))
    cell = n_o * n_d
    time = draw(st.lists(st.one_of(st.just(INF), st.floats(0, 7200)), min_size=cell, max_size=cell))
    price = draw(st.lists(st.one_of(st.just(INF), VALUE), min_size=cell, max_size=cell))
    opp = draw(st.lists(st.floats(0, 1e5), min_size=n_d, max_size=n_d))
    pop = draw(st.lists(st.floats(0, 1e4), min_size=n_o, max_size=n_o))
    return (
        np.array(pop),
        np.array(opp),
        np.array(time).reshape(n_o, n_d),
        np.array(price).reshape(n_o, n_d),
    )


@settings(max_examples=200)
@given(od_matrices(), st.floats(0, 7200), VALUE, VALUE)
def test_accessibility_never_decreases_when_the_price_budget_rises(od, max_time, p1, p2):
    low, high = sorted((p1, p2))
    a_low = metrics.accessibility(*od, max_time_s=max_time, max_price_minor=low)
    a_high = metrics.accessibility(*od, max_time_s=max_time, max_price_minor=high)
    assert np.all(a_high >= a_low)


# --------------------------------------------------------------------------------------------
# Bad input: every entry point names the argument that is wrong

Call = Callable[..., Any]
# (function, good keyword arguments, name of a value argument, name of the weight argument)
ENTRY_POINTS: list[tuple[str, Call, dict[str, Any], str, str]] = [
    ("lorenz", metrics.lorenz, {"values": [1, 2, 3], "weights": [1, 1, 1]}, "values", "weights"),
    ("gini", metrics.gini, {"values": [1, 2, 3], "weights": [1, 1, 1]}, "values", "weights"),
    (
        "theil",
        metrics.theil,
        {"values": [1, 2, 3], "weights": [1, 1, 1], "groups": ["a", "b", "a"]},
        "values",
        "weights",
    ),
    (
        "suits",
        metrics.suits,
        {"payments": [1, 2, 3], "incomes": [10, 20, 30], "weights": [1, 1, 1]},
        "payments",
        "weights",
    ),
    (
        "affordability",
        metrics.affordability,
        {
            "price_minor": [100, 200, 300],
            "income_minor": [1e5, 2e5, 3e5],
            "weights": [1, 1, 1],
            "groups": ["a", "b", "a"],
        },
        "price_minor",
        "weights",
    ),
    (
        "population_weighted_mean",
        metrics.population_weighted_mean,
        {"values": [1, 2, 3], "population": [1, 1, 1]},
        "values",
        "population",
    ),
    (
        "winners_losers",
        metrics.winners_losers,
        {"base_price_minor": [1, 2, 3], "new_price_minor": [1, 2, 4], "weights": [1, 1, 1]},
        "base_price_minor",
        "weights",
    ),
    (
        "group_means",
        metrics.group_means,
        {"values": [1, 2, 3], "weights": [1, 1, 1], "groups": ["a", "b", "a"]},
        "values",
        "weights",
    ),
    (
        "price_per_km",
        metrics.price_per_km,
        {
            "price_minor": [100, 200, 300],
            "distance_m": [1000, 2000, 3000],
            "weights": [1, 1, 1],
            "groups": ["a", "b", "a"],
        },
        "price_minor",
        "weights",
    ),
]
ENTRY_IDS = [e[0] for e in ENTRY_POINTS]


@pytest.mark.parametrize(
    ("name", "fn", "good", "value_arg", "weight_arg"), ENTRY_POINTS, ids=ENTRY_IDS
)
def test_good_inputs_are_accepted(name, fn, good, value_arg, weight_arg):
    fn(**good)  # the table below only fails for the broken argument


def _raises_naming(fn: Call, kwargs: dict[str, Any], argument: str) -> MetricInputError:
    with pytest.raises(MetricInputError) as exc:
        fn(**kwargs)
    assert exc.value.argument == argument
    assert str(exc.value).startswith(f"{argument}:")
    return exc.value


@pytest.mark.parametrize(
    ("name", "fn", "good", "value_arg", "weight_arg"), ENTRY_POINTS, ids=ENTRY_IDS
)
def test_mismatched_lengths_raise_naming_the_argument(name, fn, good, value_arg, weight_arg):
    err = _raises_naming(fn, {**good, weight_arg: [1, 1]}, weight_arg)
    assert "expected 3" in str(err)


@pytest.mark.parametrize(
    ("name", "fn", "good", "value_arg", "weight_arg"), ENTRY_POINTS, ids=ENTRY_IDS
)
def test_nan_values_raise_naming_the_argument(name, fn, good, value_arg, weight_arg):
    err = _raises_naming(fn, {**good, value_arg: [1, math.nan, 3]}, value_arg)
    assert "index 1" in str(err)


@pytest.mark.parametrize(
    ("name", "fn", "good", "value_arg", "weight_arg"), ENTRY_POINTS, ids=ENTRY_IDS
)
def test_infinite_values_raise_naming_the_argument(name, fn, good, value_arg, weight_arg):
    _raises_naming(fn, {**good, value_arg: [1, INF, 3]}, value_arg)


@pytest.mark.parametrize(
    ("name", "fn", "good", "value_arg", "weight_arg"), ENTRY_POINTS, ids=ENTRY_IDS
)
def test_negative_weights_raise_naming_the_argument(name, fn, good, value_arg, weight_arg):
    err = _raises_naming(fn, {**good, weight_arg: [1, -2, 1]}, weight_arg)
    assert err.value == -2.0


@pytest.mark.parametrize(
    ("name", "fn", "good", "value_arg", "weight_arg"), ENTRY_POINTS, ids=ENTRY_IDS
)
def test_zero_total_weight_raises_naming_the_argument(name, fn, good, value_arg, weight_arg):
    err = _raises_naming(fn, {**good, weight_arg: [0, 0, 0]}, weight_arg)
    assert "positive total" in str(err)


@pytest.mark.parametrize(
    ("name", "fn", "good", "value_arg", "weight_arg"), ENTRY_POINTS, ids=ENTRY_IDS
)
def test_two_dimensional_input_raises_naming_the_argument(name, fn, good, value_arg, weight_arg):
    _raises_naming(fn, {**good, value_arg: [[1, 2, 3]]}, value_arg)


@pytest.mark.parametrize(
    ("fn", "kwargs", "argument"),
    [
        (metrics.gini, {"values": [1, -2, 3], "weights": [1, 1, 1]}, "values"),
        (metrics.theil, {"values": [1, 2], "weights": [1, 1], "groups": ["a"]}, "groups"),
        (metrics.suits, {"payments": [1, 2], "incomes": [1, -1], "weights": [1, 1]}, "incomes"),
        (
            metrics.price_per_km,
            {"price_minor": [1], "distance_m": [-5], "weights": [1], "groups": ["a"]},
            "distance_m",
        ),
        (
            metrics.winners_losers,
            {
                "base_price_minor": [1],
                "new_price_minor": [2],
                "weights": [1],
                "tolerance_minor": -1,
            },
            "tolerance_minor",
        ),
        (
            metrics.affordability,
            {
                "price_minor": [1],
                "income_minor": [9],
                "weights": [1],
                "groups": ["a"],
                "trips_per_month": 0,
            },
            "trips_per_month",
        ),
        (
            metrics.affordability,
            {
                "price_minor": [1],
                "income_minor": [9],
                "weights": [1],
                "groups": ["a"],
                "threshold": math.nan,
            },
            "threshold",
        ),
        (
            metrics.accessibility,
            {
                "origin_population": [1],
                "opportunities": [-1.0],
                "travel_time_s": [[1.0]],
                "price_minor": [[1.0]],
                "max_time_s": 1,
                "max_price_minor": 1,
            },
            "opportunities",
        ),
    ],
    ids=[
        "negative-gini-value",
        "short-groups",
        "negative-income",
        "negative-distance",
        "negative-tolerance",
        "zero-trips-per-month",
        "nan-threshold",
        "negative-opportunities",
    ],
)
def test_out_of_range_inputs_raise_naming_the_argument(fn, kwargs, argument):
    _raises_naming(fn, kwargs, argument)


def test_metric_input_error_is_a_value_error_and_a_pricing_error():
    assert issubclass(MetricInputError, ValueError)
    assert issubclass(MetricInputError, PricingError)

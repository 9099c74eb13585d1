"""Equity metrics that city planners use to judge a fare policy.

A fare policy is rarely judged on revenue alone: planners ask who pays more, who pays less,
whether the burden falls on low incomes, and what people can still reach for the money they
can spend. This module holds the standard, literature-backed answers to those questions as
pure numpy functions over plain arrays (one row per origin-destination pair, person or trip,
with a non-negative weight), so the evaluation, the API and the report all compute them the
same way and the numbers can be checked by hand.

Every function validates its inputs at the entry and raises `MetricInputError` naming the
argument and what was wrong: same lengths, finite numbers, weights >= 0 with a positive
total. Rows of weight 0 stand for nobody and are dropped after validation, so they never
change a result. Money arrives as minor units; means come back as floats because a mean of
integer prices is not an integer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pricing.errors import PricingError

FloatArray = npt.NDArray[np.float64]

ALL_GROUPS = "all"
"""Key under which the group-wise functions report the whole population."""


class MetricInputError(PricingError, ValueError):
    """An input to an equity metric has the wrong shape, a non-finite or out-of-range value."""

    def __init__(self, argument: str, problem: str, value: object = None) -> None:
        self.argument = argument
        self.problem = problem
        self.value = value
        super().__init__(f"{argument}: {problem}")


# --------------------------------------------------------------------------------------------
# Validation (one place, at the entry of every public function)


def _numbers(
    name: str,
    data: npt.ArrayLike,
    *,
    like: tuple[str, int] | None = None,
    ndim: int = 1,
    allow_inf: bool = False,
    nonneg: bool = False,
) -> FloatArray:
    """`data` as a float64 array, checked for shape, NaN/inf and sign."""
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MetricInputError(name, f"cannot be read as numbers ({exc})") from exc
    if arr.ndim != ndim:
        raise MetricInputError(
            name, f"must be a {ndim}-D array, got shape {arr.shape}", value=arr.shape
        )
    if like is not None and ndim == 1 and arr.shape[0] != like[1]:
        raise MetricInputError(
            name,
            f"has {arr.shape[0]} entries, expected {like[1]} (the length of {like[0]})",
            value=arr.shape[0],
        )
    bad = np.isnan(arr) | (np.isneginf(arr) if allow_inf else ~np.isfinite(arr))
    if bad.any():
        idx, value = _first(bad, arr)
        expected = "numbers that are not NaN or -inf" if allow_inf else "finite numbers"
        raise MetricInputError(
            name,
            f"{int(bad.sum())} invalid entries (first at index {idx}: {value}); "
            f"expected {expected}",
            value=value,
        )
    neg = arr < 0
    if nonneg and neg.any():
        idx, value = _first(neg, arr)
        raise MetricInputError(
            name,
            f"{int(neg.sum())} negative entries (first at index {idx}: {value}); "
            "expected values >= 0",
            value=value,
        )
    return arr


def _weights(name: str, data: npt.ArrayLike, *, like: tuple[str, int]) -> FloatArray:
    """Non-negative finite weights of the right length with a positive total."""
    arr = _numbers(name, data, like=like, nonneg=True)
    total = float(arr.sum())
    if not total > 0:
        raise MetricInputError(
            name, f"total weight is {total}; expected a positive total", value=total
        )
    return arr


def _labels(name: str, data: npt.ArrayLike, *, like: tuple[str, int]) -> npt.NDArray[np.str_]:
    """Group labels as a 1-D array of str, one per row."""
    arr = np.asarray(data)
    if arr.ndim != 1:
        raise MetricInputError(name, f"must be a 1-D array, got shape {arr.shape}")
    if arr.shape[0] != like[1]:
        raise MetricInputError(
            name,
            f"has {arr.shape[0]} entries, expected {like[1]} (the length of {like[0]})",
            value=arr.shape[0],
        )
    if arr.dtype.kind == "O":
        for idx, label in enumerate(arr):
            if not isinstance(label, str):
                raise MetricInputError(
                    name,
                    f"entry {idx} is {label!r} ({type(label).__name__}); expected str labels",
                    value=label,
                )
    elif arr.dtype.kind != "U" and arr.size:
        raise MetricInputError(
            name, f"has dtype {arr.dtype}; expected str labels", value=str(arr.dtype)
        )
    return arr.astype(np.str_)


def _no_all_label(name: str, labels: npt.NDArray[np.str_]) -> None:
    """Refuse a group called "all": it would collide with the whole-population key."""
    if (labels == ALL_GROUPS).any():
        raise MetricInputError(
            name,
            f"contains the label {ALL_GROUPS!r}, which is reserved for the whole population",
            value=ALL_GROUPS,
        )


def _limit(name: str, value: float, *, allow_inf: bool = False) -> float:
    """A scalar option that must be >= 0 (and finite unless `allow_inf`)."""
    number = float(value)
    ok = number >= 0 and (np.isfinite(number) or (allow_inf and number == np.inf))
    if not ok:
        expected = "a number >= 0 (inf allowed)" if allow_inf else "a finite number >= 0"
        raise MetricInputError(name, f"is {value!r}; expected {expected}", value=value)
    return number


def _first(mask: npt.NDArray[np.bool_], arr: FloatArray) -> tuple[int | tuple[int, ...], float]:
    """Index (a tuple for N-D arrays) and value of the first entry where `mask` is True."""
    flat = int(np.flatnonzero(mask)[0])
    value = float(arr.flat[flat])
    if arr.ndim == 1:
        return flat, value
    return tuple(int(i) for i in np.unravel_index(flat, arr.shape)), value


def _xlogx_ratio(x: FloatArray, ref: FloatArray | float) -> FloatArray:
    """Elementwise (x/ref)·ln(x/ref) with the limit 0·ln 0 = 0 where x == 0."""
    ratio = np.divide(x, ref, out=np.zeros_like(x), where=x > 0)
    out = np.zeros_like(x)
    np.multiply(ratio, np.log(ratio, out=np.zeros_like(x), where=ratio > 0), out=out)
    return out


# --------------------------------------------------------------------------------------------
# Inequality of one distribution


def lorenz(values: npt.ArrayLike, weights: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Weighted Lorenz curve of non-negative values.

    Rows are sorted by value ascending; point k is (share of the weight held by the k
    lowest rows, share of the total weighted value they account for):

        P_k = Σ_{i<=k} w_i / Σ w,      L_k = Σ_{i<=k} w_i x_i / Σ w x

    with a leading (0, 0); both arrays end at exactly 1.0. Rows of weight 0 are dropped, so
    the curve has one point per weighted row plus the origin. Ties in value lie on one
    straight segment, so their order does not matter. If every value is 0 everybody has the
    same value and the curve is the line of equality.

    Why it matters: the curve shows at a glance which share of trips bears which share of the
    fare burden (e.g. "the cheapest 50 % of trips pay 30 % of all fares"), and the Gini
    index is read off it.

    References
    ----------
    Lorenz, M. O. (1905). Methods of measuring the concentration of wealth. Publications of
    the American Statistical Association 9(70), 209-219.
    Delbosc, A. & Currie, G. (2011). Using Lorenz curves to assess public transport equity.
    Journal of Transport Geography 19(6), 1252-1259.

    Parameters
    ----------
    values
        One value per row (e.g. price in minor units), >= 0.
    weights
        Trips or people per row, >= 0 with a positive total.

    Returns
    -------
    population_share, value_share
        Cumulative shares, both starting at 0.0 and ending at 1.0.
    """
    x = _numbers("values", values, nonneg=True)
    w = _weights("weights", weights, like=("values", x.shape[0]))
    keep = w > 0
    x, w = x[keep], w[keep]
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    pop = np.concatenate(([0.0], np.cumsum(w) / w.sum()))
    mass = w * x
    total = mass.sum()
    share = pop.copy() if not total > 0 else np.concatenate(([0.0], np.cumsum(mass) / total))
    pop[-1] = 1.0
    share[-1] = 1.0
    # cumsum/total can overshoot 1.0 by one ulp before the last point; keep the curve monotone.
    np.minimum(share, 1.0, out=share)
    return pop, share


def _trapezoid(x: FloatArray, y: FloatArray) -> float:
    """Area under the polyline through (x, y) by the trapezoid rule."""
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1])) / 2.0)


def gini(values: npt.ArrayLike, weights: npt.ArrayLike) -> float:
    """Weighted Gini index of non-negative values; 0 = everybody equal, towards 1 = concentrated.

    Computed exactly from the Lorenz curve by the trapezoid rule (Brown's formula):

        G = 1 - Σ_k (P_k - P_{k-1}) (L_k + L_{k-1}) = 1 - 2·area(Lorenz)

    For a weighted population this equals the mean absolute difference form
    Σ_i Σ_j w_i w_j |x_i - x_j| / (2 W² μ), i.e. the Gini of the population expanded into
    units. All values 0 gives 0.

    Why it matters: a single number to compare how unevenly fares (or price per km) fall on
    trips under the status quo and under each policy.

    References
    ----------
    Gini, C. (1912). Variabilità e mutabilità. Bologna: Cuppini.
    Brown, M. C. (1994). Using Gini-style indices to evaluate the spatial patterns of health
    practitioners. Social Science & Medicine 38(9), 1243-1256.
    """
    pop, share = lorenz(values, weights)
    g = 1.0 - 2.0 * _trapezoid(pop, share)
    # Equal values can leave a rounding residue of -1e-16; the index itself is >= 0.
    return max(g, 0.0)


@dataclass(frozen=True, slots=True)
class TheilResult:
    """Theil T index split exactly into between-group and within-group inequality.

    `total == between + within`; `by_group` holds each group's own Theil T index T_g
    (the within part is Σ_g s_g T_g with s_g the group's share of the total value).
    """

    total: float
    between: float
    within: float
    by_group: dict[str, float]

    @property
    def between_share(self) -> float:
        """Share of total inequality due to differences between group means (0 if total is 0)."""
        return self.between / self.total if self.total > 0 else 0.0


def theil(values: npt.ArrayLike, weights: npt.ArrayLike, groups: npt.ArrayLike) -> TheilResult:
    """Theil T index with its exact additive decomposition by group.

    With W = Σ w, μ = Σ w x / W, and for group g: W_g, μ_g, value share s_g = W_g μ_g / (W μ):

        T         = (1/W) Σ_i w_i (x_i/μ) ln(x_i/μ)
        T_g       = (1/W_g) Σ_{i∈g} w_i (x_i/μ_g) ln(x_i/μ_g)
        T_between = Σ_g s_g ln(μ_g/μ)
        T_within  = Σ_g s_g T_g,          T = T_between + T_within

    Zero values contribute 0 (x ln x -> 0). All values 0 gives 0 everywhere. Rows of weight 0
    are dropped, so a group with no weight does not appear in `by_group`.

    Why it matters: it answers "is the inequality in fares between central and peripheral
    zones (between), or among trips inside each zone class (within)?", which is exactly what
    a zonal fare reform changes.

    References
    ----------
    Theil, H. (1967). Economics and Information Theory. Amsterdam: North-Holland.
    Shorrocks, A. F. (1980). The class of additively decomposable inequality measures.
    Econometrica 48(3), 613-625.
    """
    x = _numbers("values", values, nonneg=True)
    n = ("values", x.shape[0])
    w = _weights("weights", weights, like=n)
    labels = _labels("groups", groups, like=n)
    keep = w > 0
    x, w, labels = x[keep], w[keep], labels[keep]

    total_w = w.sum()
    total_v = float(np.sum(w * x))
    if not total_v > 0:
        return TheilResult(0.0, 0.0, 0.0, {str(g): 0.0 for g in np.unique(labels)})
    mu = total_v / total_w
    total = float(np.sum(w * _xlogx_ratio(x, mu)) / total_w)

    between = 0.0
    within = 0.0
    by_group: dict[str, float] = {}
    uniq, inverse = np.unique(labels, return_inverse=True)
    for k, label in enumerate(uniq):
        sel = inverse == k
        xg, wg = x[sel], w[sel]
        wg_total = wg.sum()
        vg = float(np.sum(wg * xg))
        if not vg > 0:
            by_group[str(label)] = 0.0  # all zero inside: equal, and s_g = 0
            continue
        mu_g = vg / wg_total
        s_g = vg / total_v
        t_g = max(float(np.sum(wg * _xlogx_ratio(xg, mu_g)) / wg_total), 0.0)
        by_group[str(label)] = t_g
        between += s_g * float(np.log(mu_g / mu))
        within += s_g * t_g
    return TheilResult(
        total=max(total, 0.0), between=max(between, 0.0), within=within, by_group=by_group
    )


# --------------------------------------------------------------------------------------------
# Burden relative to income


def _aggregate_by_income(
    income: FloatArray, payment: FloatArray, w: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Weighted income and payment mass per distinct income level, income ascending."""
    levels, inverse = np.unique(income, return_inverse=True)
    # bincount with weights sums floats; numpy's stubs type every bincount as integers
    inc_mass = np.bincount(inverse, weights=w * income, minlength=levels.size)
    pay_mass = np.bincount(inverse, weights=w * payment, minlength=levels.size)
    return inc_mass.astype(np.float64, copy=False), pay_mass.astype(np.float64, copy=False)


def suits(payments: npt.ArrayLike, incomes: npt.ArrayLike, weights: npt.ArrayLike) -> float:
    """Suits index of progressivity of payments with respect to income.

    Units are ranked by income ascending. The concentration curve plots the cumulative share
    of total income (x) against the cumulative share of total payments (y); L is the area
    under it (trapezoid rule) and K = 0.5 the area under the line of proportionality:

        S = 1 - L / K = 1 - 2 L,        S ∈ [-1, 1]

    Sign convention: S = 0 when every unit pays the same fraction of its income
    (proportional); S < 0 when low incomes pay a larger share of their income (regressive,
    the curve lies above the diagonal); S > 0 when high incomes do (progressive). Units
    with equal income are merged into one point so their order cannot change the result.
    If every payment is 0 nothing is charged and S = 0.

    Why it matters: a flat fare is regressive (S < 0); the index tells how far a discount
    for low incomes or a distance-based fare moves the burden, on the same scale used for
    taxes.

    References
    ----------
    Suits, D. B. (1977). Measurement of tax progressivity. American Economic Review 67(4),
    747-752.

    Parameters
    ----------
    payments
        What each unit pays in the period (minor units), >= 0.
    incomes
        Income of each unit over the same period (minor units), >= 0 with a positive total.
    weights
        People or households per row, >= 0 with a positive total.
    """
    pay = _numbers("payments", payments, nonneg=True)
    n = ("payments", pay.shape[0])
    inc = _numbers("incomes", incomes, like=n, nonneg=True)
    w = _weights("weights", weights, like=n)
    keep = w > 0
    pay, inc, w = pay[keep], inc[keep], w[keep]
    total_inc = float(np.sum(w * inc))
    if not total_inc > 0:
        raise MetricInputError(
            "incomes",
            f"weighted total income is {total_inc}; expected a positive total",
            value=total_inc,
        )
    if not float(np.sum(w * pay)) > 0:
        return 0.0
    inc_mass, pay_mass = _aggregate_by_income(inc, pay, w)
    x = np.concatenate(([0.0], np.cumsum(inc_mass) / inc_mass.sum()))
    y = np.concatenate(([0.0], np.cumsum(pay_mass) / pay_mass.sum()))
    x[-1] = 1.0
    y[-1] = 1.0
    return 1.0 - _trapezoid(x, y) / 0.5


@dataclass(frozen=True, slots=True)
class Affordability:
    """Monthly fare spend as a share of monthly income.

    `mean_share` is the weighted mean share, `share_over_threshold` the weighted share of
    units whose spend share is strictly above the threshold, and `by_group` the weighted mean
    share per group label.
    """

    mean_share: float
    share_over_threshold: float
    by_group: dict[str, float]


def affordability(
    price_minor: npt.ArrayLike,
    income_minor: npt.ArrayLike,
    weights: npt.ArrayLike,
    groups: npt.ArrayLike,
    *,
    trips_per_month: float = 40.0,
    threshold: float = 0.10,
) -> Affordability:
    """Share of monthly income spent on fares, overall, above a threshold and by group.

    For each row: share_i = price_i · trips_per_month / income_i, where `price_minor` is the
    price of one trip and `income_minor` the monthly income, both in the same minor units.
    A row is over the threshold when share_i > threshold (strictly).

    Why it matters: transport is commonly called unaffordable when a household must spend
    more than about 10 % of its income on it; the share of people above that line is the
    headline number of a fare reform aimed at low incomes.

    References
    ----------
    Carruthers, R., Dick, M. & Saurkar, A. (2005). Affordability of Public Transport in
    Developing Countries. World Bank Transport Paper TP-3. (Affordability index: cost of a
    fixed monthly number of trips as a share of income.)

    Raises
    ------
    MetricInputError
        If any row with weight has income <= 0 (the share is undefined), or an option is
        out of range.
    """
    price = _numbers("price_minor", price_minor, nonneg=True)
    n = ("price_minor", price.shape[0])
    income = _numbers("income_minor", income_minor, like=n)
    w = _weights("weights", weights, like=n)
    labels = _labels("groups", groups, like=n)
    tpm = _limit("trips_per_month", trips_per_month)
    if not tpm > 0:
        raise MetricInputError(
            "trips_per_month", f"is {trips_per_month!r}; expected > 0", value=trips_per_month
        )
    limit = _limit("threshold", threshold)
    poor = income <= 0
    if poor.any():
        idx, value = _first(poor, income)
        raise MetricInputError(
            "income_minor",
            f"{int(poor.sum())} entries are <= 0 (first at index {idx}: {value}); "
            "expected a positive monthly income on every row",
            value=value,
        )
    keep = w > 0
    price, income, w, labels = price[keep], income[keep], w[keep], labels[keep]
    share = price * tpm / income
    total_w = w.sum()
    return Affordability(
        mean_share=float(np.sum(w * share) / total_w),
        share_over_threshold=float(np.sum(w[share > limit]) / total_w),
        by_group=_weighted_means(share, w, labels),
    )


# --------------------------------------------------------------------------------------------
# What people can reach for their money


def accessibility(
    origin_population: npt.ArrayLike,
    opportunities: npt.ArrayLike,
    travel_time_s: npt.ArrayLike,
    price_minor: npt.ArrayLike,
    *,
    max_time_s: float,
    max_price_minor: float,
) -> FloatArray:
    """Fare-constrained cumulative-opportunity accessibility of each origin.

        A_i = Σ_j O_j · [t_ij <= max_time_s] · [p_ij <= max_price_minor]

    A destination counts only if it is reachable within the time budget *and* the trip costs
    no more than the money budget. `travel_time_s` and `price_minor` may hold +inf for
    unreachable pairs (or pairs without a fare); such pairs never count, even with an
    infinite budget. Both budgets may be +inf (no constraint).

    `origin_population` is validated against the matrices' origin axis so the result can be
    aggregated with `population_weighted_mean(result, origin_population)`; it does not
    change the per-origin values.

    Why it matters: a fare is a barrier just like travel time; a cheaper fare for peripheral
    zones shows up as more jobs reachable for the same budget, which is what an equity
    target is usually stated in.

    References
    ----------
    Wachs, M. & Kumagai, T. G. (1973). Physical accessibility as a social indicator.
    Socio-Economic Planning Sciences 7(5), 437-456.
    El-Geneidy, A., Levinson, D., Diab, E., Boisjoly, G., Verbich, D. & Loong, C. (2016).
    The cost of equity: Assessing transit accessibility and social disparity using total
    travel cost. Transportation Research Part A 91, 302-316.

    Parameters
    ----------
    origin_population
        People living at each origin, shape (n_o,), >= 0.
    opportunities
        Opportunities (jobs, services) at each destination, shape (n_d,), >= 0.
    travel_time_s
        Travel time origin -> destination, shape (n_o, n_d), >= 0, +inf if unreachable.
    price_minor
        Fare origin -> destination, shape (n_o, n_d), >= 0, +inf if not purchasable.
    max_time_s, max_price_minor
        Budgets, >= 0 (inf allowed).

    Returns
    -------
    numpy.ndarray
        Reachable opportunities per origin, shape (n_o,).
    """
    pop = _numbers("origin_population", origin_population, nonneg=True)
    opp = _numbers("opportunities", opportunities, nonneg=True)
    time = _numbers("travel_time_s", travel_time_s, ndim=2, allow_inf=True, nonneg=True)
    price = _numbers("price_minor", price_minor, ndim=2, allow_inf=True, nonneg=True)
    shape = (pop.shape[0], opp.shape[0])
    for name, matrix in (("travel_time_s", time), ("price_minor", price)):
        if matrix.shape != shape:
            raise MetricInputError(
                name,
                f"has shape {matrix.shape}, expected {shape} "
                "(len(origin_population), len(opportunities))",
                value=matrix.shape,
            )
    t_max = _limit("max_time_s", max_time_s, allow_inf=True)
    p_max = _limit("max_price_minor", max_price_minor, allow_inf=True)
    reachable = np.isfinite(time) & (time <= t_max) & np.isfinite(price) & (price <= p_max)
    reach: FloatArray = np.where(reachable, opp[np.newaxis, :], 0.0).sum(axis=1)
    return reach


# --------------------------------------------------------------------------------------------
# Descriptive summaries


def population_weighted_mean(values: npt.ArrayLike, population: npt.ArrayLike) -> float:
    """Σ p_i x_i / Σ p_i: the value the average person experiences.

    Why it matters: averaging zones without weights lets an empty industrial zone count as
    much as a dense neighbourhood; planners report accessibility and prices per person.
    """
    x = _numbers("values", values)
    p = _weights("population", population, like=("values", x.shape[0]))
    return float(np.sum(p * x) / p.sum())


@dataclass(frozen=True, slots=True)
class WinnersLosers:
    """Weighted count of trips (or people) who pay less, more or the same after a change.

    `mean_change` is the weighted mean of new - base price in minor units (negative = cheaper).
    """

    winners: float
    losers: float
    unchanged: float
    mean_change: float


def winners_losers(
    base_price_minor: npt.ArrayLike,
    new_price_minor: npt.ArrayLike,
    weights: npt.ArrayLike,
    *,
    tolerance_minor: float = 0.5,
) -> WinnersLosers:
    """Who wins and who loses from a fare change.

    A row is a winner when new < base - tolerance, a loser when new > base + tolerance, and
    unchanged otherwise (a change of exactly the tolerance is unchanged). Counts are the sums
    of weights; the three add up to the total weight.

    Why it matters: a reform that lowers the average fare can still make a visible group pay
    more; the count of losers is what decides whether it is politically acceptable. The
    default tolerance of half a minor unit treats rounding differences as no change.
    """
    base = _numbers("base_price_minor", base_price_minor)
    n = ("base_price_minor", base.shape[0])
    new = _numbers("new_price_minor", new_price_minor, like=n)
    w = _weights("weights", weights, like=n)
    tol = _limit("tolerance_minor", tolerance_minor)
    change = new - base
    win = change < -tol
    lose = change > tol
    return WinnersLosers(
        winners=float(w[win].sum()),
        losers=float(w[lose].sum()),
        unchanged=float(w[~win & ~lose].sum()),
        mean_change=float(np.sum(w * change) / w.sum()),
    )


def _weighted_means(
    values: FloatArray, w: FloatArray, labels: npt.NDArray[np.str_]
) -> dict[str, float]:
    """Weighted mean per label (labels with zero weight are left out)."""
    uniq, inverse = np.unique(labels, return_inverse=True)
    num = np.bincount(inverse, weights=w * values, minlength=uniq.size)
    den = np.bincount(inverse, weights=w, minlength=uniq.size)
    return {str(g): float(num[k] / den[k]) for k, g in enumerate(uniq) if den[k] > 0}


def group_means(
    values: npt.ArrayLike, weights: npt.ArrayLike, groups: npt.ArrayLike
) -> dict[str, float]:
    """Weighted mean of `values` per group label, plus the key "all" for everybody.

    Groups whose rows all have weight 0 are left out. The label "all" is reserved.

    Why it matters: the mean fare by zone class (central / peripheral) or income group is
    the first thing a planner compares between the status quo and a policy.
    """
    x = _numbers("values", values)
    n = ("values", x.shape[0])
    w = _weights("weights", weights, like=n)
    labels = _labels("groups", groups, like=n)
    _no_all_label("groups", labels)
    out = _weighted_means(x, w, labels)
    out[ALL_GROUPS] = float(np.sum(w * x) / w.sum())
    return out


def price_per_km(
    price_minor: npt.ArrayLike,
    distance_m: npt.ArrayLike,
    weights: npt.ArrayLike,
    groups: npt.ArrayLike,
) -> dict[str, float]:
    """Weighted price per kilometre, Σ w·price / Σ w·km, per group and for "all".

    A ratio of sums, not a mean of ratios, so that very short trips (where a flat fare gives
    a huge price per km) do not dominate. Pairs with distance 0 are excluded (their price per
    km is undefined); a group left with no distance is omitted.

    Why it matters: peripheral residents travel farther; a flat fare makes their price per
    km lower, a distance fare makes it equal. Comparing the two tells which kind of fairness
    a policy delivers.

    Raises
    ------
    MetricInputError
        If no weighted pair has a positive distance, or "all" is used as a group label.
    """
    price = _numbers("price_minor", price_minor, nonneg=True)
    n = ("price_minor", price.shape[0])
    dist = _numbers("distance_m", distance_m, like=n, nonneg=True)
    w = _weights("weights", weights, like=n)
    labels = _labels("groups", groups, like=n)
    _no_all_label("groups", labels)
    keep = (dist > 0) & (w > 0)
    if not keep.any():
        raise MetricInputError(
            "distance_m", "no pair with weight > 0 has a distance > 0; price per km is undefined"
        )
    price, km, w, labels = price[keep], dist[keep] / 1000.0, w[keep], labels[keep]
    uniq, inverse = np.unique(labels, return_inverse=True)
    paid = np.bincount(inverse, weights=w * price, minlength=uniq.size)
    travelled = np.bincount(inverse, weights=w * km, minlength=uniq.size)
    out = {str(g): float(paid[k] / travelled[k]) for k, g in enumerate(uniq)}
    out[ALL_GROUPS] = float(np.sum(w * price) / np.sum(w * km))
    return out

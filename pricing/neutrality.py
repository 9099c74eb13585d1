"""Revenue neutrality: solve a policy's free parameter so operators collect what they do today.

A fairer fare structure is only politically possible if it does not cost the operator money,
so a planner may leave one parameter open (the city-wide charge, a partial average's target,
the central surcharge that pays for a peripheral discount) and have it solved so that

    R(parameter) = Σ D'_i · p'_i  ==  R0 = Σ D_i · p_i

over the trips of the policy's mode families, where demand may respond to price with a
constant elasticity e (D' = D · (p'/p)^e). Other families' trips are left out of both sides:
their revenue does not change, and counting it would only dilute the residual we report.

The root is found with Brent's method (`scipy.optimize.brentq`) on a bracket found by
expanding upward from the parameter's lower bound. The residual reported is computed on the
*rounded* whole-minor-unit prices riders would actually pay (with the demand those prices
induce), so it is honest: typically 1e-4..1e-3, not the solver's 1e-12. For an amount
parameter (``*_minor``) the whole-unit neighbour of the continuous root with the smaller
rounded residual is chosen.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from scipy.optimize import brentq

from pricing.errors import PricingError
from pricing.policy import MAX_MINOR, MAX_SURCHARGE_PCT, Policy, PolicyError
from pricing.policy_apply import TripArrays, apply_policy, continuous_prices

log = logging.getLogger(__name__)

#: smallest price ratio p'/p the demand curve is evaluated at (a 99 % cut); see demand_response
RATIO_FLOOR: Final[float] = 0.01
#: relative revenue differences below this count as zero (float noise of the sums)
_ZERO_REL: Final[float] = 1e-12
#: most bracket expansions before giving up (2^40 covers every amount up to MAX_MINOR)
_MAX_EXPANSIONS: Final[int] = 40


class NeutralityError(PricingError, ValueError):
    """No value of the free parameter makes revenue equal to the status quo."""

    def __init__(
        self,
        message: str,
        *,
        policy_id: str,
        revenue_base_minor: float,
        reachable_minor: tuple[float, float],
    ) -> None:
        super().__init__(message)
        self.policy_id = policy_id
        self.revenue_base_minor = revenue_base_minor
        self.reachable_minor = reachable_minor


def _check_elasticity(elasticity: float | None) -> float:
    e = 0.0 if elasticity is None else float(elasticity)
    if not math.isfinite(e) or not -3.0 <= e <= 0.0:
        raise PolicyError("elasticity", f"expected -3.0 <= elasticity <= 0, got {elasticity!r}")
    return e


def demand_response(
    trips: np.ndarray, base_price: np.ndarray, new_price: np.ndarray, elasticity: float | None
) -> np.ndarray:
    """Demand after a price change with constant elasticity: D' = D · (p'/p)^e.

    Where the base price is 0 demand is left unchanged: a constant-elasticity curve has no
    reference point at a zero price (every finite price is an infinite relative rise), and we
    would rather not invent a demand model for free trips than report one we cannot justify.
    The same curve promises infinite demand at p' = 0, so the ratio is floored at
    `RATIO_FLOOR` (a 99 % cut): induced demand is at most ``RATIO_FLOOR ** e`` times the base
    (4x at e = -0.3). ``elasticity`` None or 0 means fixed demand.
    """
    e = _check_elasticity(elasticity)
    demand = np.asarray(trips, dtype=np.float64)
    if e == 0.0:
        return demand.copy()
    p0 = np.asarray(base_price, dtype=np.float64)
    p1 = np.asarray(new_price, dtype=np.float64)
    priced = p0 > 0
    ratio = np.ones_like(p0)
    ratio[priced] = np.maximum(p1[priced] / p0[priced], RATIO_FLOOR)
    return demand * ratio**e


def revenue(trips: np.ndarray, prices: np.ndarray) -> float:
    """Σ trips · price, in minor units (float: demand weights are fractional)."""
    return float(np.dot(np.asarray(trips, dtype=np.float64), np.asarray(prices, np.float64)))


@dataclass(frozen=True)
class Solution:
    """A policy with its free parameter solved (or a fixed policy evaluated), and how well.

    Revenues cover the trips of the policy's mode families only. `residual` is relative,
    (R - R0) / R0, on the rounded prices riders pay (0 when both are 0, inf when only R0 is);
    `residual_continuous` is the same before rounding (the solver's own accuracy).
    """

    policy: Policy
    parameter: str | None
    value: float | None
    revenue_base_minor: float
    revenue_minor: float
    residual: float
    iterations: int
    residual_continuous: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready record stored with an activation and shown in evaluations."""
        return {
            "parameter": self.parameter,
            "value": self.value,
            "residual": self.residual,
            "residual_continuous": self.residual_continuous,
            "iterations": self.iterations,
            "revenue_base_minor": self.revenue_base_minor,
            "revenue_minor": self.revenue_minor,
        }


def _relative(value: float, base: float) -> float:
    if base == 0.0:
        return 0.0 if value == 0.0 else math.inf
    return (value - base) / base


def _search_range(name: str, base_prices: np.ndarray) -> tuple[float, float, float]:
    """(lower bound, first upper guess, hard upper limit) of a free parameter."""
    if name == "surcharge_pct":
        return 0.0, 10.0, MAX_SURCHARGE_PCT
    top = float(base_prices.max()) if base_prices.size else 0.0
    return 0.0, max(1.0, 2.0 * top), float(MAX_MINOR)


def find_root(
    gap: Callable[[float], float],
    lower: float,
    first_upper: float,
    limit: float,
    *,
    tol: float,
    failure: Callable[[list[float]], NeutralityError],
) -> tuple[float, int]:
    """The parameter in [lower, limit] where `gap` (relative revenue gap) crosses zero.

    The bracket grows upward from `lower` (doubling from `first_upper`) until `gap` changes
    sign, then Brent's method finds the root to the relative tolerance `tol`. Returns the root
    and the number of evaluations; when no sign change is found within `limit` (or
    `_MAX_EXPANSIONS` doublings), raises ``failure(the gaps seen)``. Shared by the per-family
    solver below and the cross-mode one (`pricing.cross_mode`).
    """
    lo, hi = lower, first_upper
    f_lo = gap(lo)
    evaluations = 1
    reached = [f_lo]
    if f_lo == 0.0:
        return lo, evaluations
    while True:
        f_hi = gap(hi)
        evaluations += 1
        reached.append(f_hi)
        if f_hi == 0.0:
            return hi, evaluations
        if (f_hi > 0) != (f_lo > 0):
            root, result = brentq(
                gap, lo, hi, xtol=tol, rtol=max(tol, 4 * np.finfo(float).eps), full_output=True
            )
            return float(root), evaluations + int(result.iterations)
        if hi >= limit or evaluations > _MAX_EXPANSIONS:
            raise failure(reached)
        lo, f_lo = hi, f_hi  # the root lies above: move the bracket up
        hi = min(hi * 2.0, limit)


def solve_revenue_neutral(policy: Policy, trips: TripArrays, *, tol: float = 1e-9) -> Solution:
    """Solve `policy`'s free parameter for revenue neutrality on `trips`.

    `tol` is Brent's relative tolerance on the parameter. A policy without a free parameter is
    evaluated (revenue and residual) without solving. Raises NeutralityError when no value
    within the parameter's range reaches the status-quo revenue, naming the reachable range,
    and PolicyError for a cross-mode policy (it prices whole options: `pricing.cross_mode`).
    """
    if policy.is_cross_mode:
        raise PolicyError(
            "measures",
            f"policy {policy.id!r} v{policy.version} prices whole trips across modes; it is "
            "evaluated over the options residents have (pricing.cross_mode), not over "
            "per-family trip rows",
        )
    rows = trips.in_families(policy)
    own = trips.select(rows)
    demand = own.trips
    base = own.base_price_minor.astype(np.float64)
    e = policy.elasticity
    revenue_base = revenue(demand, base)

    def rounded_revenue(candidate: Policy, value: float | None) -> float:
        prices = apply_policy(candidate, own, parameter=value)
        return revenue(demand_response(demand, base, prices, e), prices)

    free = policy.free_parameter
    if free is None:
        r = rounded_revenue(policy, None)
        cont = continuous_prices(policy, own)
        r_cont = revenue(demand_response(demand, base, cont, e), cont)
        return Solution(
            policy,
            None,
            None,
            revenue_base,
            r,
            _relative(r, revenue_base),
            0,
            _relative(r_cont, revenue_base),
        )
    index, name = free

    def gap(value: float) -> float:
        prices = continuous_prices(policy, own, parameter=value)
        r = revenue(demand_response(demand, base, prices, e), prices)
        rel = (r - revenue_base) / max(revenue_base, 1.0)
        return 0.0 if abs(rel) < _ZERO_REL else rel

    lower, hi, limit = _search_range(name, base)

    def failure(reached: list[float]) -> NeutralityError:
        scale = max(revenue_base, 1.0)
        low, high = revenue_base + min(reached) * scale, revenue_base + max(reached) * scale
        return NeutralityError(
            f"policy {policy.id!r} v{policy.version}: no {name} in [{lower:g}, {limit:g}] "
            f"keeps revenue neutral; revenue reachable {low:.0f}..{high:.0f} minor units "
            f"vs {revenue_base:.0f} in the status quo",
            policy_id=policy.id,
            revenue_base_minor=revenue_base,
            reachable_minor=(low, high),
        )

    root, iterations = find_root(gap, lower, hi, limit, tol=tol, failure=failure)
    residual_continuous = gap(root)

    candidates = [root]
    if name.endswith("_minor"):
        candidates = sorted({float(math.floor(root)), float(math.ceil(root))})
    scored = []
    for value in candidates:
        solved = policy.with_parameter(value)
        r = rounded_revenue(solved, None)
        scored.append((abs(_relative(r, revenue_base)), value, r, solved))
    _, value, r, solved = min(scored, key=lambda s: (s[0], s[1]))
    log.debug(
        "solved %s v%d measures[%d].%s = %g (residual %.2e)",
        policy.id,
        policy.version,
        index,
        name,
        value,
        _relative(r, revenue_base),
    )
    return Solution(
        solved,
        name,
        float(solved.parameter_value() or 0.0),
        revenue_base,
        r,
        _relative(r, revenue_base),
        iterations,
        residual_continuous,
    )

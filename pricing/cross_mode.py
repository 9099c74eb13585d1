"""Policies over whole door-to-door options, and their revenue neutrality for the whole system.

`pricing.policy_apply` prices one mode family's legs at a time, which is all a transit-only
policy needs. Issue 13's measures average the cost of *mobility*: one charge per trip whatever
the modes, one price per kilometre, a credit for rental first/last miles in the periphery
paid for by the centre, caps across modes. They change the price of a whole option (walk +
transit, rental, rental + transit), so they are applied here to a `pricing.options
.OptionTable`.

Which options a cross-mode measure prices (its *scope*): an option with at least one part
whose every part belongs to the policy's mode families (transit, and the rental families it
lists). Walking and one's own bike pay no operator and stay free; an option with a part of a
family the policy leaves out keeps its base price, so a policy never reprices a provider it
does not cover. A per-family policy (the transit-only documents) is applied to each option's
parts of each family, exactly as `/plan` adjusts an itinerary's transit legs.

Prices follow `pricing.policy_apply`'s rule: measures run in the document's order on float
prices, and each option's final price is rounded once, half to even, to whole minor units.

Revenue neutrality for the whole system (`solve_system`): the free parameter is solved so that
the trips residents make under the policy pay, at the policy's prices, what the *same trips*
pay at base prices, over every option and operator:

    sum_o w_o(policy) . p'_o  ==  sum_o w_o(policy) . p_o

With fixed choice (the default) the weights are the status quo's and this is the usual "same
revenue as today". With ``rechoose=True`` residents re-choose under the policy's prices (the
choice rule is the demand response), and the target is what those trips are worth at base
prices, which is exactly the amount `pricing.compensation` guarantees the operators: with
this definition the city's pool balances, whatever the shift between modes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from pricing.choice import Choice, ChoiceRule, choose
from pricing.neutrality import NeutralityError, find_root
from pricing.options import RENTAL_VEHICLE_FAMILIES, UNKNOWN_VEHICLE, OptionTable
from pricing.policy import (
    MAX_MINOR,
    MAX_RATE_PER_KM,
    MAX_SURCHARGE_PCT,
    CrossModeCap,
    FirstLastMileCredit,
    MeasureBase,
    OneChargePerTrip,
    PerKmAverage,
    Policy,
    PolicyError,
    TripsShare,
)
from pricing.policy_apply import TripArrays, TripDataError, continuous_prices, round_minor

log = logging.getLogger(__name__)

#: revenue neutrality is met when |residual| is at most this (0.5 %), after rounding
NEUTRALITY_TOLERANCE: Final[float] = 0.005
#: relative revenue gaps below this count as zero (float noise of the sums)
_ZERO_REL: Final[float] = 1e-12

_Override = tuple[int, str, float] | None


# -- scope -----------------------------------------------------------------------------------


def _check_vehicles(policy: Policy, table: OptionTable) -> None:
    """Refuse rental parts of unknown vehicle when the policy prices only some rental families.

    Such a part might or might not be covered; guessing either way would misprice it.
    """
    listed = [f for f in RENTAL_VEHICLE_FAMILIES if f in policy.mode_families]
    if not listed or len(listed) == len(RENTAL_VEHICLE_FAMILIES):
        return
    unknown: np.ndarray = table.vehicles == UNKNOWN_VEHICLE
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise TripDataError(
            f"part {row} ({table.part_operator[row]}) does not say which rental family it "
            f"rides, and policy {policy.id!r} prices only {', '.join(listed)} of the rental "
            "families; give the table's part_vehicle or list every rental family"
        )


def part_in_scope(policy: Policy, table: OptionTable) -> np.ndarray:
    """Per part, whether the policy's mode families cover it."""
    _check_vehicles(policy, table)
    covered: np.ndarray = np.isin(table.vehicles, list(policy.mode_families))
    if all(f in policy.mode_families for f in RENTAL_VEHICLE_FAMILIES):
        covered |= table.vehicles == UNKNOWN_VEHICLE
    return covered


def option_scope(policy: Policy, table: OptionTable) -> np.ndarray:
    """Per option, whether a cross-mode measure prices it (>= 1 part, every part covered)."""
    covered = np.zeros(len(table), dtype=np.int64)
    np.add.at(covered, table.part_option, part_in_scope(policy, table).astype(np.int64))
    parts = table.part_count()
    scope: np.ndarray = (parts > 0) & (covered == parts)
    return scope


# -- caps across modes -----------------------------------------------------------------------


def _trip_weighted(points: tuple[TripsShare, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(counts, share of *trips*) from a distribution of riders: a rider with k trips makes k."""
    counts = np.array([p.trips for p in points], dtype=np.float64)
    riders = np.array([p.share for p in points], dtype=np.float64)
    trips = counts * riders
    return counts, trips / trips.sum()


def capped_limits(cap: CrossModeCap) -> tuple[np.ndarray, np.ndarray]:
    """Per-trip price limits and the share of trips each applies to, for `cap`.

    A trip made by a rider with k trips that day and m that month may cost at most
    ``min(per_day / k, per_month / m)`` (a missing cap is no limit). Day and month counts
    are taken as independent, so the share of trips under each (k, m) pair is the product
    of the two trip-weighted shares.
    """
    limits = np.array([np.inf])
    shares = np.array([1.0])
    for cap_minor, points in (
        (cap.per_day_minor, cap.trips_per_rider_day),
        (cap.per_month_minor, cap.trips_per_rider_month),
    ):
        if cap_minor is None or points is None:
            continue
        counts, weights = _trip_weighted(points)
        limits = np.minimum.outer(limits, cap_minor / counts).ravel()
        shares = np.multiply.outer(shares, weights).ravel()
    return limits, shares


def expected_capped_price(price: np.ndarray, cap: CrossModeCap) -> np.ndarray:
    """Each trip's expected price under caps across modes, float minor units.

    A cap limits a rider's *total*; an OD table only sees trips. The policy therefore states
    how many trips riders make (the share of rider-days with k trips, of rider-months with m
    trips), and a rider's trips are taken to cost like the trip at hand (a commuter's two
    trips of a day are the same journey). A rider making k trips of price p a day pays
    ``min(k p, per_day)``, i.e. ``min(p, per_day / k)`` a trip, and with a monthly cap too,
    ``min(p, per_day / k, per_month / m)``. A trip is made by a k-trip rider with probability
    proportional to k x share_k (heavy riders make more of the trips), so the expected price
    of a trip of base price p is

        E[p'] = sum_(k, m) w_k v_m min(p, per_day / k, per_month / m),

    with w_k = k share_k / sum_j j share_j (and v_m likewise for months). The expected
    *spend* of a rider-day with k trips is then k times that trip's capped price. Computed for
    every trip at once from the sorted limits: with L sorted and weights W,
    ``E = sum_(L_j < p) W_j L_j + p sum_(L_j >= p) W_j``.
    """
    limits, shares = capped_limits(cap)
    order = np.argsort(limits)
    limits, shares = limits[order], shares[order]
    below_value = np.concatenate(([0.0], np.cumsum(shares * limits)))
    above_share = np.concatenate((np.cumsum(shares[::-1])[::-1], [0.0]))
    at = np.searchsorted(limits, price, side="left")
    expected: np.ndarray = below_value[at] + price * above_share[at]
    return expected


# -- prices ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """The in-scope options' facts the measures read."""

    distance_km: np.ndarray
    access_minor: np.ndarray
    peripheral: np.ndarray


def _override(policy: Policy, parameter: float | None) -> _Override:
    free = policy.free_parameter
    if free is None:
        if parameter is not None:
            raise PolicyError(
                "", f"policy {policy.id!r} v{policy.version} has no free parameter to override"
            )
        return None
    if parameter is None:
        index, name = free
        raise PolicyError(
            f"measures[{index}].{name}",
            f"policy {policy.id!r} v{policy.version} leaves {name} to be solved; solve it "
            "(pricing.cross_mode.solve_system) or pass parameter=",
        )
    if not math.isfinite(parameter):
        raise PolicyError("", f"parameter must be finite, got {parameter!r}")
    return (*free, float(parameter))


def _value(measure: MeasureBase, name: str, index: int, override: _Override) -> float:
    if override is not None and override[:2] == (index, name):
        return override[2]
    return float(getattr(measure, name))


def _step(
    measure: MeasureBase, index: int, price: np.ndarray, ctx: _Context, override: _Override
) -> np.ndarray:
    """One cross-mode measure applied to the in-scope options' float prices (a new array)."""
    if isinstance(measure, OneChargePerTrip):
        return np.full_like(price, _value(measure, "charge_minor", index, override))
    if isinstance(measure, PerKmAverage):
        rate = _value(measure, "rate_minor_per_km", index, override)
        per_km: np.ndarray = measure.boarding_minor + rate * ctx.distance_km
        return per_km
    if isinstance(measure, FirstLastMileCredit):
        surcharge = _value(measure, "surcharge_pct", index, override)
        credit = ctx.access_minor * (measure.credit_pct / 100.0)
        if measure.credit_max_minor is not None:
            credit = np.minimum(credit, float(measure.credit_max_minor))
        credited = np.maximum(price - credit, 0.0)
        stepped: np.ndarray = np.where(
            ctx.peripheral, credited, price * (1.0 + surcharge / 100.0)
        )
        return stepped
    if isinstance(measure, CrossModeCap):
        return expected_capped_price(price, measure)
    raise AssertionError(f"unhandled measure {measure!r}")  # pragma: no cover


def _per_family_prices(policy: Policy, table: OptionTable, parameter: float | None) -> np.ndarray:
    """A per-family policy applied to each option's parts of each family, then summed."""
    _check_vehicles(policy, table)
    price = np.zeros(len(table), dtype=np.float64)
    if not len(table.part_option):
        return price
    names, family = np.unique(table.vehicles.astype(str), return_inverse=True)
    keys, group = np.unique(
        table.part_option.astype(np.int64) * len(names) + family, return_inverse=True
    )
    amount = np.zeros(keys.shape[0], dtype=np.int64)
    np.add.at(amount, group, table.part_minor)
    option = keys // len(names)
    slot = table.slot[option]
    rows = TripArrays(
        amount,
        table.slots.origin_class[slot],
        table.slots.dest_class[slot],
        names[keys % len(names)].astype(object),
        np.ones(keys.shape[0]),
    )
    np.add.at(price, option, continuous_prices(policy, rows, parameter=parameter))
    return price


def option_prices(
    policy: Policy, table: OptionTable, *, parameter: float | None = None
) -> np.ndarray:
    """Each option's price under `policy` before the final rounding, float minor units.

    Cross-mode measures price the options in scope (`option_scope`); a per-family policy
    prices each family's parts. `parameter` sets the free parameter (as `apply_policy`).
    """
    if not policy.is_cross_mode:
        return _per_family_prices(policy, table, parameter)
    override = _override(policy, parameter)
    price = table.price_minor.astype(np.float64)
    scope = option_scope(policy, table)
    if not scope.any():
        return price
    ctx = _Context(
        distance_km=table.distance_m[scope].astype(np.float64) / 1000.0,
        access_minor=table.access_minor()[scope].astype(np.float64),
        peripheral=table.touches_periphery()[scope],
    )
    new = price[scope]
    for index, measure in enumerate(policy.measures):
        new = _step(measure, index, new, ctx, override)
    price[scope] = new
    return price


def apply_options_policy(
    policy: Policy, table: OptionTable, *, parameter: float | None = None
) -> np.ndarray:
    """Each option's price under `policy`, int64 minor units (rounded once, half to even)."""
    if policy.currency != table.currency:
        raise PolicyError(
            "currency",
            f"policy {policy.id!r} prices in {policy.currency}, the options in {table.currency}",
        )
    return round_minor(option_prices(policy, table, parameter=parameter))


# -- the gap a measure targets -------------------------------------------------------------


def class_gap(
    table: OptionTable,
    price: np.ndarray,
    weights: np.ndarray,
    *,
    rows: np.ndarray | None = None,
    per_km: bool = False,
) -> float:
    """Peripheral minus central mean cost, per trip (or per km with `per_km`), over `rows`.

    "Peripheral" trips have a peripheral end, "central" ones both ends central; the mean is
    weighted by `weights` (trips per option). NaN when either group has no weight.
    """
    mask = np.ones(len(table), dtype=bool) if rows is None else rows
    peripheral = table.touches_periphery()
    means = []
    for group in (mask & peripheral, mask & ~peripheral):
        w = weights[group]
        denominator = (
            float(np.dot(w, table.distance_m[group] / 1000.0)) if per_km else float(w.sum())
        )
        if denominator <= 0.0:
            return math.nan
        means.append(float(np.dot(w, price[group].astype(np.float64))) / denominator)
    return means[0] - means[1]


# -- revenue neutrality for the whole system -------------------------------------------------


@dataclass(frozen=True)
class SystemSolution:
    """A policy solved (or evaluated) for revenue neutrality over every option and operator.

    `revenue_base_minor` is what the trips made under the policy pay at base prices,
    `revenue_minor` what they pay under it; `residual` = (revenue - base) / base on the
    rounded prices (`residual_continuous` before rounding). `base_choice` is the status quo's
    choice, `choice` the one under the policy (the same weights unless `rechoose`).
    """

    policy: Policy
    parameter: str | None
    value: float | None
    price_minor: np.ndarray
    base_choice: Choice
    choice: Choice
    revenue_base_minor: float
    revenue_minor: float
    residual: float
    residual_continuous: float
    iterations: int
    rechoose: bool

    @property
    def neutral(self) -> bool:
        """Whether |residual| is within `NEUTRALITY_TOLERANCE` (0.5 %)."""
        return abs(self.residual) <= NEUTRALITY_TOLERANCE


def _relative(value: float, base: float) -> float:
    if base == 0.0:
        return 0.0 if value == 0.0 else math.inf
    return (value - base) / base


def _search_range(name: str, table: OptionTable) -> tuple[float, float, float]:
    """(lower bound, first upper guess, hard upper limit) of a cross-mode free parameter."""
    if name == "surcharge_pct":
        return 0.0, 10.0, MAX_SURCHARGE_PCT
    price = table.price_minor.astype(np.float64)
    if name == "rate_minor_per_km":
        km = np.maximum(table.distance_m / 1000.0, 0.1)
        top = float((price / km).max()) if price.size else 0.0
        return 0.0, max(1.0, 2.0 * top), MAX_RATE_PER_KM
    top = float(price.max()) if price.size else 0.0
    return 0.0, max(1.0, 2.0 * top), float(MAX_MINOR)


class _System:
    """Revenue of the trips made at given prices, with or without re-choosing."""

    def __init__(self, table: OptionTable, rule: ChoiceRule, rechoose: bool) -> None:
        self.table = table
        self.rule = rule
        self.rechoose = rechoose
        self.base_choice = choose(table, rule)
        self.base = table.price_minor.astype(np.float64)

    def choice(self, price: np.ndarray) -> Choice:
        if not self.rechoose:
            return self.base_choice
        return choose(self.table, self.rule, price_minor=price)

    def revenues(self, price: np.ndarray) -> tuple[float, float, Choice]:
        """(revenue at `price`, the same trips at base prices, the choice)."""
        chosen = self.choice(price)
        w = chosen.weights
        return float(np.dot(w, price)), float(np.dot(w, self.base)), chosen


def solve_system(
    policy: Policy,
    table: OptionTable,
    rule: ChoiceRule,
    *,
    rechoose: bool = False,
    tol: float = 1e-9,
) -> SystemSolution:
    """Solve `policy`'s free parameter for revenue neutrality of the whole system.

    A policy without a free parameter is evaluated. With the deterministic rule and
    ``rechoose=True`` revenue jumps where residents switch options, so the solved value can
    miss neutrality by the size of a jump; `SystemSolution.neutral` says whether it held, and a
    warning is logged when it did not. Raises NeutralityError when no value in the parameter's
    range reaches neutrality.
    """
    if policy.currency != table.currency:
        raise PolicyError(
            "currency",
            f"policy {policy.id!r} prices in {policy.currency}, the options in {table.currency}",
        )
    system = _System(table, rule, rechoose)
    free = policy.free_parameter
    if free is None:
        return _evaluated(policy, system, None, None, 0)
    index, name = free

    def gap(value: float) -> float:
        revenue, target, _ = system.revenues(option_prices(policy, table, parameter=value))
        rel = (revenue - target) / max(target, 1.0)
        return 0.0 if abs(rel) < _ZERO_REL else rel

    lower, first, limit = _search_range(name, table)

    def failure(reached: list[float]) -> NeutralityError:
        base = float(np.dot(system.base_choice.weights, system.base))
        scale = max(base, 1.0)
        low, high = base + min(reached) * scale, base + max(reached) * scale
        return NeutralityError(
            f"policy {policy.id!r} v{policy.version}: no {name} in [{lower:g}, {limit:g}] "
            f"keeps the whole system's revenue neutral; revenue reachable {low:.0f}..{high:.0f} "
            f"minor units vs {base:.0f} at base prices",
            policy_id=policy.id,
            revenue_base_minor=base,
            reachable_minor=(low, high),
        )

    root, iterations = find_root(gap, lower, first, limit, tol=tol, failure=failure)
    candidates = [root]
    if name.endswith("_minor"):
        candidates = sorted({float(math.floor(root)), float(math.ceil(root))})
    residual_continuous = gap(root)
    scored = [
        _evaluated(policy.with_parameter(v), system, name, residual_continuous, iterations)
        for v in candidates
    ]
    best = min(scored, key=lambda s: (abs(s.residual), s.value or 0.0))
    if not best.neutral:
        log.warning(
            "policy %s v%d: %s = %g leaves the system %.2f %% off neutral",
            policy.id,
            policy.version,
            name,
            best.value or 0.0,
            100 * best.residual,
        )
    log.debug("solved %s measures[%d].%s = %g", policy.id, index, name, best.value or 0.0)
    return best


def _evaluated(
    policy: Policy,
    system: _System,
    name: str | None,
    residual_continuous: float | None,
    iterations: int,
) -> SystemSolution:
    """A fully specified policy's prices, choice and revenues."""
    price = apply_options_policy(policy, system.table)
    revenue, target, chosen = system.revenues(price.astype(np.float64))
    if residual_continuous is None:
        cont_revenue, cont_target, _ = system.revenues(option_prices(policy, system.table))
        residual_continuous = _relative(cont_revenue, cont_target)
    value = policy.parameter_value()
    price.flags.writeable = False
    return SystemSolution(
        policy=policy,
        parameter=name,
        value=value,
        price_minor=price,
        base_choice=system.base_choice,
        choice=chosen,
        revenue_base_minor=target,
        revenue_minor=revenue,
        residual=_relative(revenue, target),
        residual_continuous=residual_continuous,
        iterations=iterations,
        rechoose=system.rechoose,
    )


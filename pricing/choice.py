"""Choice rules: which of the options in an `OptionTable` the residents of each slot take.

An evaluation over every mode has, for each OD pair and departure, several options (walk +
transit, a rental the whole way, rental + transit, one's own bike). Costs, revenue and
fairness measures need *the trip each resident makes*, so a choice rule turns the options into
a weight per option: the slot's trips times the option's share. Two rules are offered, both
simple enough to state in one sentence in a report, because the point is to show how much the
findings depend on the rule, not to estimate a mode-choice model:

* `LogitRule`: a multinomial logit over generalized cost, ``GC = price + VOT x duration``.
  Shares are ``exp(-GC / s) / sum exp(-GC / s)`` over the slot's options, where the scale
  ``s`` is stated in *minutes of time* (``s = VOT x scale_min / 60``): an option whose
  generalized cost is ``scale_min`` minutes of time dearer than another is chosen e times
  less often. Stating the scale in time keeps it independent of the currency: the utility
  is ``-(duration_min + price / VOT_per_min) / scale_min``, so the weight of time is fixed
  and the value of time sets how much a unit of money weighs against it (halving the value
  of time doubles riders' sensitivity to price).
* `CheapestNearFastestRule`: every resident takes the cheapest option whose duration is within
  a stated margin of the slot's fastest option (ties: faster, then the earlier row). It is
  deterministic and needs no value of time.

Value of time defaults are per currency (`DEFAULT_VALUE_OF_TIME_MINOR_PER_H`); they are
round figures chosen for this evaluation, of the order of published values of commuting time
(about 10 EUR/h in Finnish and 15-17 USD/h in US appraisal guidance), not official values of
any agency. A currency without a default needs an explicit value. `sensitivity` re-runs any
measure under the stated alternatives (value of time x0.5 and x2, the other rule), which is
what a report prints next to its findings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, TypeVar

import numpy as np

from pricing.errors import PricingError
from pricing.money import Money
from pricing.options import OptionTable

#: value of time per currency, minor units per hour (round figures; see the module docstring)
DEFAULT_VALUE_OF_TIME_MINOR_PER_H: Final[Mapping[str, int]] = {
    "EUR": 1000,
    "USD": 1500,
    "GBP": 900,
    "NOK": 12000,
    "SEK": 12000,
    "DKK": 7500,
}
#: default logit scale: minutes of time whose cost changes an option's odds by a factor e
DEFAULT_SCALE_MIN: Final[float] = 10.0
#: default margin of the deterministic rule: an option may be up to 10 minutes slower
DEFAULT_MARGIN_S: Final[int] = 600
#: the factors `sensitivity` applies to the value of time (and to a margin)
SENSITIVITY_FACTORS: Final[tuple[float, ...]] = (0.5, 2.0)

T = TypeVar("T")


class ChoiceRuleError(PricingError, ValueError):
    """A choice rule's parameter is out of range or missing for the table's currency."""


@dataclass(frozen=True)
class LogitRule:
    """Multinomial logit over generalized cost (price + value of time x duration).

    `value_of_time_minor_per_h` None means the currency's default. `scale_min` is the logit
    scale in minutes of time (see the module docstring); a smaller scale is a sharper choice.
    """

    value_of_time_minor_per_h: int | None = None
    scale_min: float = DEFAULT_SCALE_MIN
    name: str = field(default="logit", init=False)

    def __post_init__(self) -> None:
        vot = self.value_of_time_minor_per_h
        if vot is not None and (isinstance(vot, bool) or not isinstance(vot, int) or vot <= 0):
            raise ChoiceRuleError(
                f"value_of_time_minor_per_h must be a positive integer of minor units per "
                f"hour, got {vot!r}"
            )
        if not (math.isfinite(self.scale_min) and self.scale_min > 0):
            raise ChoiceRuleError(f"scale_min must be a positive number, got {self.scale_min!r}")

    def value_of_time(self, currency: str) -> int:
        """The value of time in minor units of `currency` per hour."""
        return value_of_time(currency, self.value_of_time_minor_per_h)

    def shares(self, table: OptionTable, price_minor: np.ndarray) -> np.ndarray:
        """Each option's share of its slot's trips (shares of one slot sum to 1)."""
        vot = float(self.value_of_time(table.currency))
        cost = generalized_cost(table, price_minor, vot)
        scale = vot * self.scale_min / 60.0
        n_slots = len(table.slots)
        lowest = np.full(n_slots, np.inf)
        np.minimum.at(lowest, table.slot, cost)
        # relative to the slot's cheapest option, so exp never overflows and never underflows
        # for all of a slot's options at once
        odds = np.exp(-(cost - lowest[table.slot]) / scale)
        total = np.bincount(table.slot, weights=odds, minlength=n_slots)
        share: np.ndarray = odds / total[table.slot]
        return share

    def describe(self, currency: str) -> str:
        """The rule in one sentence, with its parameters."""
        vot = Money(self.value_of_time(currency), currency).format()
        return (
            f"logit over generalized cost (price + {vot}/h x duration), scale "
            f"{self.scale_min:g} min of time"
        )

    def scaled(self, factor: float, currency: str) -> LogitRule:
        """The same rule with the value of time multiplied by `factor` (rounded to a unit)."""
        vot = max(1, round(self.value_of_time(currency) * factor))
        return replace(self, value_of_time_minor_per_h=vot)


@dataclass(frozen=True)
class CheapestNearFastestRule:
    """Everyone takes the cheapest option at most a margin slower than the fastest.

    The margin is ``max(margin_s, margin_pct % of the fastest duration)``. Ties go to the
    faster option, then to the earlier row, so the rule is deterministic.
    """

    margin_s: int = DEFAULT_MARGIN_S
    margin_pct: float = 0.0
    name: str = field(default="cheapest_near_fastest", init=False)

    def __post_init__(self) -> None:
        if isinstance(self.margin_s, bool) or not isinstance(self.margin_s, int):
            raise ChoiceRuleError(f"margin_s must be an integer of seconds, got {self.margin_s!r}")
        if self.margin_s < 0:
            raise ChoiceRuleError(f"margin_s must be >= 0, got {self.margin_s}")
        if not (math.isfinite(self.margin_pct) and 0.0 <= self.margin_pct <= 1000.0):
            raise ChoiceRuleError(f"margin_pct must be in [0, 1000], got {self.margin_pct!r}")

    def shares(self, table: OptionTable, price_minor: np.ndarray) -> np.ndarray:
        """1.0 for the option each slot takes, 0.0 for the others."""
        n_slots = len(table.slots)
        duration = table.duration_s.astype(np.int64)
        fastest = np.full(n_slots, np.iinfo(np.int64).max)
        np.minimum.at(fastest, table.slot, duration)
        allowed = fastest + np.maximum(self.margin_s, np.floor(fastest * self.margin_pct / 100.0))
        eligible = duration <= allowed[table.slot]
        rows = np.arange(len(table))
        # sort by slot, then eligible first, cheapest, fastest, earliest row
        order = np.lexsort((rows, duration, price_minor, ~eligible, table.slot))
        sorted_slot = table.slot[order]
        first = np.ones(order.shape[0], dtype=bool)
        first[1:] = sorted_slot[1:] != sorted_slot[:-1]
        share = np.zeros(len(table))
        share[order[first]] = 1.0
        return share

    def describe(self, currency: str) -> str:
        """The rule in one sentence, with its parameters."""
        margin = f"{self.margin_s / 60:g} min"
        if self.margin_pct:
            margin = f"the larger of {margin} and {self.margin_pct:g} % of the fastest"
        return f"cheapest option within {margin} of the fastest"

    def scaled(self, factor: float, currency: str) -> CheapestNearFastestRule:
        """The same rule with its margins multiplied by `factor`."""
        return replace(
            self, margin_s=round(self.margin_s * factor), margin_pct=self.margin_pct * factor
        )


ChoiceRule = LogitRule | CheapestNearFastestRule


def value_of_time(currency: str, given: int | None = None) -> int:
    """`given`, or the default value of time of `currency` (minor units per hour)."""
    if given is not None:
        return given
    try:
        return DEFAULT_VALUE_OF_TIME_MINOR_PER_H[currency]
    except KeyError:
        known = ", ".join(DEFAULT_VALUE_OF_TIME_MINOR_PER_H)
        raise ChoiceRuleError(
            f"no default value of time for {currency!r} (defaults exist for {known}); give "
            "value_of_time_minor_per_h"
        ) from None


def generalized_cost(
    table: OptionTable, price_minor: np.ndarray, vot_minor_per_h: float
) -> np.ndarray:
    """Per option, price + value of time x duration, float minor units."""
    cost: np.ndarray = price_minor.astype(np.float64) + vot_minor_per_h * (
        table.duration_s.astype(np.float64) / 3600.0
    )
    return cost


@dataclass(frozen=True)
class Choice:
    """The trips each option carries under a rule (and, optionally, a policy's prices).

    `weights` (float64 trips per option) sum to the trips of the slots that have at least one
    option; `unserved_trips` are the trips of slots without any option (no walk either),
    which no rule can place and every report should state.
    """

    rule: ChoiceRule
    description: str
    shares: np.ndarray
    weights: np.ndarray
    unserved_trips: float


def choose(
    table: OptionTable, rule: ChoiceRule, *, price_minor: np.ndarray | None = None
) -> Choice:
    """Apply `rule` to `table`; `price_minor` replaces the base prices (a policy's prices).

    Prices may be float minor units (a solver's continuous prices) or int64.
    """
    prices = table.price_minor if price_minor is None else np.asarray(price_minor)
    if prices.shape != (len(table),):
        raise ChoiceRuleError(
            f"price_minor has shape {prices.shape}; expected one price per option ({len(table)})"
        )
    if prices.size and not np.isfinite(prices.astype(np.float64)).all():
        raise ChoiceRuleError("price_minor must be finite")
    share = rule.shares(table, prices) if len(table) else np.zeros(0)
    weights = share * table.option_trips()
    served = np.zeros(len(table.slots), dtype=bool)
    served[table.slot] = True
    unserved = float(table.slots.trips[~served].sum())
    share.flags.writeable = False
    weights.flags.writeable = False
    return Choice(rule, rule.describe(table.currency), share, weights, unserved)


@dataclass(frozen=True)
class Variant:
    """One alternative a sensitivity run uses, labelled for a report."""

    label: str
    rule: ChoiceRule


def sensitivity_variants(rule: ChoiceRule, currency: str) -> tuple[Variant, ...]:
    """The rule itself, its main parameter x0.5 and x2, and the other rule at its defaults.

    The main parameter is the value of time for the logit and the margin for the
    deterministic rule (which has no value of time).
    """
    knob = "value of time" if isinstance(rule, LogitRule) else "margin"
    other: ChoiceRule = CheapestNearFastestRule() if isinstance(rule, LogitRule) else LogitRule()
    variants = [Variant("as stated", rule)]
    variants += [
        Variant(f"{knob} x{factor:g}", rule.scaled(factor, currency))
        for factor in SENSITIVITY_FACTORS
    ]
    variants.append(Variant(f"other rule: {other.name}", other))
    return tuple(variants)


def sensitivity(
    table: OptionTable,
    rule: ChoiceRule,
    measure: Callable[[Choice], T],
    *,
    variants: Sequence[Variant] | None = None,
) -> list[tuple[Variant, str, T]]:
    """`measure` of the choice under each variant (default `sensitivity_variants(rule)`).

    `measure` receives the `Choice` and returns anything a report can print (a revenue, a
    gap, a solved charge); the result lists (variant, rule description, value) in order.
    """
    chosen = sensitivity_variants(rule, table.currency) if variants is None else variants
    out: list[tuple[Variant, str, T]] = []
    for variant in chosen:
        result = choose(table, variant.rule)
        out.append((variant, result.description, measure(result)))
    return out

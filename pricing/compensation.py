"""The money that has to move: what each operator is owed when a policy reprices trips.

When a city makes rentals cheaper for some riders (a first/last-mile credit, one charge per
trip), the providers and transit agencies still run the trips, so someone pays them the
difference. The rule here: every operator keeps its *base revenue for the trips made*, i.e.
what the trips residents make under the policy would have paid it at base prices. The city's
pool pays each operator the difference between that and what riders pay it under the policy,
or collects the difference where riders pay more (a central surcharge). Per operator:

* ``paid_before``: what riders paid it in the status quo (base choice, base prices);
* ``base_for_trips``: what the trips made under the policy pay it at base prices;
* ``paid_after``: what riders pay under the policy, attributed to it (below);
* ``compensation = base_for_trips - paid_after``: the pool pays it (> 0) or collects (< 0).

The pool's net is the sum of the compensations; for a policy solved revenue-neutral
(`pricing.cross_mode.solve_system`) it is zero up to rounding, and `render_flows` prints the
imbalance otherwise.

Attribution: an option's new price is split over its parts in proportion to their base
amounts (equally when they were all zero), in whole minor units by largest remainder (each
part gets the floor of its exact share, and the units left over go to the parts with the
largest remainders, ties to the earlier part), so the parts add up to the price exactly.
Operator totals are sums of fractional trips x whole amounts; each column is rounded to whole
minor units by largest remainder too, so a column adds up to its own rounded total. The
compensation is then an exact integer difference, and the pool's net is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from pricing.money import Money
from pricing.options import OptionTable
from pricing.policy_apply import TripDataError

#: the largest product price x part amount computed in int64 before falling back to Python ints
_INT64_SAFE: Final[int] = 2**62


def largest_remainder(values: np.ndarray) -> np.ndarray:
    """Non-negative float amounts -> int64 amounts adding up to the rounded total.

    Each value gets its floor; the units left over (total rounded half to even, minus the sum
    of the floors) go one each to the largest fractional parts, ties to the earlier row.
    """
    exact = np.asarray(values, dtype=np.float64)
    if exact.size and (not np.isfinite(exact).all() or exact.min() < 0):
        raise TripDataError("amounts to round must be finite and >= 0")
    floor = np.floor(exact)
    leftover = int(np.rint(exact.sum()) - floor.sum())
    order = np.lexsort((np.arange(exact.size), -(exact - floor)))
    rounded = floor.astype(np.int64)
    rounded[order[:leftover]] += 1
    return rounded


def split_price(table: OptionTable, price_minor: np.ndarray) -> np.ndarray:
    """Each part's share of its option's new price, int64 (largest remainder, see module).

    Raises TripDataError when an option without parts (walk, own bike) gets a price: no
    operator would receive it.
    """
    price = np.asarray(price_minor)
    if price.shape != (len(table),) or (price.size and price.dtype.kind not in "iu"):
        raise TripDataError(
            f"price_minor must be one integer price per option ({len(table)}), got "
            f"shape {price.shape} dtype {price.dtype}"
        )
    price = price.astype(np.int64)
    if price.size and price.min() < 0:
        raise TripDataError(f"price_minor must be >= 0, found {int(price.min())}")
    count = table.part_count()
    orphan = (count == 0) & (price != 0)
    if orphan.any():
        row = int(np.flatnonzero(orphan)[0])
        raise TripDataError(
            f"option {row} ({table.family[row]}) has no operator but costs {price[row]} "
            "under the policy; no one would receive that money"
        )
    option = table.part_option
    total = table.parts_sum()
    by_amount = total[option] > 0
    weight = np.where(by_amount, table.part_minor, 1)
    whole = np.where(by_amount, total[option], count[option])
    new = price[option]
    if price.size and table.part_minor.size and (
        int(price.max()) * int(table.part_minor.max()) >= _INT64_SAFE
    ):
        new, weight = new.astype(object), weight.astype(object)
    floor = np.asarray(new * weight // whole, dtype=np.int64)
    remainder = np.asarray(new * weight % whole, dtype=np.int64)
    leftover = price - table.parts_sum(floor)
    # within an option every part has the same divisor, so remainders compare directly
    order = np.lexsort((np.arange(option.size), -remainder, option))
    sorted_option = option[order]
    starts = np.searchsorted(sorted_option, sorted_option, side="left")
    rank = np.arange(order.size) - starts
    floor[order[rank < leftover[sorted_option]]] += 1
    return floor


@dataclass(frozen=True)
class OperatorFlow:
    """One operator's money under a policy, whole minor units (see the module docstring)."""

    operator: str
    paid_before_minor: int
    base_for_trips_minor: int
    paid_after_minor: int
    compensation_minor: int


@dataclass(frozen=True)
class CompensationFlows:
    """Every operator's flow and the city pool's balance.

    `pool_net_minor` is the sum of compensations: positive when the pool pays out more than
    it collects (a deficit someone must fund), negative when it keeps a surplus.
    """

    currency: str
    flows: tuple[OperatorFlow, ...]
    pool_net_minor: int
    synthetic_note: str | None

    @property
    def base_for_trips_minor(self) -> int:
        """What the trips made under the policy pay every operator at base prices."""
        return sum(f.base_for_trips_minor for f in self.flows)

    @property
    def imbalance(self) -> float:
        """The pool's net relative to the operators' base revenue for the trips made."""
        base = self.base_for_trips_minor
        return self.pool_net_minor / base if base else 0.0


def _weights(name: str, weights: np.ndarray, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.isfinite(w).all() or (n and w.min() < 0):
        raise TripDataError(f"{name} must be {n} finite trips >= 0 (one per option)")
    return w


def compensation_flows(
    table: OptionTable,
    price_minor: np.ndarray,
    *,
    weights_base: np.ndarray,
    weights: np.ndarray,
) -> CompensationFlows:
    """The flows when riders pay `price_minor` (per option) instead of the base prices.

    `weights_base` are the trips per option in the status quo, `weights` under the policy
    (the same array when residents do not re-choose).
    """
    before_w = _weights("weights_base", weights_base, len(table))
    after_w = _weights("weights", weights, len(table))
    split = split_price(table, price_minor)
    operators, index = np.unique(table.part_operator.astype(str), return_inverse=True)
    n = operators.shape[0]
    option = table.part_option
    amount = table.part_minor.astype(np.float64)
    paid_before = largest_remainder(
        np.bincount(index, weights=before_w[option] * amount, minlength=n)
    )
    base_for_trips = largest_remainder(
        np.bincount(index, weights=after_w[option] * amount, minlength=n)
    )
    paid_after = largest_remainder(
        np.bincount(index, weights=after_w[option] * split.astype(np.float64), minlength=n)
    )
    compensation = base_for_trips - paid_after
    flows = tuple(
        OperatorFlow(
            str(operators[i]),
            int(paid_before[i]),
            int(base_for_trips[i]),
            int(paid_after[i]),
            int(compensation[i]),
        )
        for i in range(n)
    )
    return CompensationFlows(table.currency, flows, int(compensation.sum()), table.synthetic_note)


def render_flows(flows: CompensationFlows) -> list[str]:
    """The flow as plain text lines, one per operator, for the command line."""

    def money(minor: int) -> str:
        return Money(minor, flows.currency).format()

    lines = []
    if flows.synthetic_note:
        note = flows.synthetic_note
        lines.append(note if note.upper().startswith("SYNTHETIC") else f"SYNTHETIC: {note}")
    width = max([len("operator"), *(len(f.operator) for f in flows.flows)])
    lines.append(
        f"{'operator':<{width}}  {'paid before':>16}  {'base, trips made':>16}  "
        f"{'paid under policy':>17}  {'from pool (+) / to pool (-)':>27}"
    )
    for f in flows.flows:
        sign = "+" if f.compensation_minor > 0 else ""
        lines.append(
            f"{f.operator:<{width}}  {money(f.paid_before_minor):>16}  "
            f"{money(f.base_for_trips_minor):>16}  {money(f.paid_after_minor):>17}  "
            f"{sign + money(f.compensation_minor):>27}"
        )
    net = flows.pool_net_minor
    if net == 0:
        lines.append("city pool: balanced (pays out exactly what it collects)")
    else:
        side = "pays out" if net > 0 else "keeps"
        lines.append(
            f"city pool: IMBALANCE, {side} {money(abs(net))} net "
            f"({100 * flows.imbalance:+.3f} % of the operators' base revenue for the trips made)"
        )
    return lines

"""Apply a pricing policy to trip prices: vectorised over an evaluation's trips, or to one trip.

Both paths run the same per-measure step functions (`_step`), so the price a rider is shown in
``/plan`` is exactly the price the evaluation assumed for that trip. Measures apply in the
document's order to the base price of the policy's mode families; other rows pass through.

Intermediate prices are floats (a 20 % discount of 255 is 204.0, a partial average may land
between cents); the *final* price of each trip is rounded once to whole minor units, half to
even (``np.rint``; 2.5 -> 2, 3.5 -> 4), so no systematic upward or downward drift is added over
many trips. Caps are whole minor units and are applied last-in-order as ``min(price, cap)``,
so rounding can never lift a capped price above its cap. No float money leaves this module:
`apply_policy` returns int64 minor units and `adjust_trip` returns `Money`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from pricing.errors import CurrencyMismatchError, PricingError
from pricing.money import Money
from pricing.policy import (
    MODE_FAMILIES,
    ZONE_CLASSES,
    Cap,
    CityWideAverage,
    MeasureBase,
    PartialAverage,
    PeripheralDiscount,
    Policy,
    PolicyError,
    format_pct,
)

_PERIPHERAL: Final[str] = "peripheral"


class TripDataError(PricingError, ValueError):
    """Trip arrays are inconsistent: lengths, dtypes, unknown classes or negative values."""


@dataclass(frozen=True)
class TripArrays:
    """The evaluation's trips for policy purposes, one row per OD pair and mode family.

    Arrays are converted on construction (lists are fine) and made read-only.
    """

    #: row -> base price of the row's legs in its mode family, int64 minor units (>= 0)
    base_price_minor: np.ndarray
    #: row -> class of the origin zone, "central" | "peripheral"
    origin_class: np.ndarray
    #: row -> class of the destination zone, "central" | "peripheral"
    dest_class: np.ndarray
    #: row -> mode family ("transit", "bike_share", ...; any other name, e.g. "walk", is a row
    #: that no policy prices and that passes through unchanged)
    mode_family: np.ndarray
    #: row -> demand weight, trips per day (float, >= 0)
    trips: np.ndarray

    def __post_init__(self) -> None:
        price = np.asarray(self.base_price_minor)
        if price.dtype.kind not in "iu" and price.size:
            raise TripDataError(
                f"base_price_minor must be integer minor units, got dtype {price.dtype}"
            )
        price = price.astype(np.int64)
        columns = {
            "base_price_minor": price,
            "origin_class": np.asarray(self.origin_class, dtype=object),
            "dest_class": np.asarray(self.dest_class, dtype=object),
            "mode_family": np.asarray(self.mode_family, dtype=object),
            "trips": np.asarray(self.trips, dtype=np.float64),
        }
        n = price.shape[0] if price.ndim == 1 else -1
        for name, column in columns.items():
            if column.ndim != 1 or column.shape[0] != n:
                raise TripDataError(
                    f"{name} has shape {column.shape}; every column must be 1-D of the same "
                    f"length as base_price_minor ({price.shape})"
                )
        if n and price.min() < 0:
            raise TripDataError(f"base_price_minor must be >= 0, found {int(price.min())}")
        demand = columns["trips"]
        if n and (not np.isfinite(demand).all() or demand.min() < 0):
            raise TripDataError("trips must be finite and >= 0")
        for name in ("origin_class", "dest_class"):
            bad = ~np.isin(columns[name], ZONE_CLASSES)
            if bad.any():
                raise TripDataError(
                    f"{name} has {columns[name][bad][0]!r}; expected one of {ZONE_CLASSES}"
                )
        families = columns["mode_family"]
        bad = np.fromiter((not isinstance(f, str) or not f for f in families), bool, n)
        if bad.any():
            raise TripDataError(
                f"mode_family has {families[bad][0]!r}; expected a non-empty string such as "
                f"{MODE_FAMILIES} (other names, e.g. 'walk', are rows no policy prices)"
            )
        for name, column in columns.items():
            column.flags.writeable = False
            object.__setattr__(self, name, column)

    def __len__(self) -> int:
        return int(self.base_price_minor.shape[0])

    def select(self, rows: np.ndarray) -> TripArrays:
        """The trips at `rows` (a boolean mask or an index array)."""
        return TripArrays(
            self.base_price_minor[rows],
            self.origin_class[rows],
            self.dest_class[rows],
            self.mode_family[rows],
            self.trips[rows],
        )

    def in_families(self, policy: Policy) -> np.ndarray:
        """Boolean mask of the rows whose mode family the policy prices."""
        mask: np.ndarray = np.isin(self.mode_family, list(policy.mode_families))
        return mask

    def touches_periphery(self) -> np.ndarray:
        """Boolean mask: origin or destination peripheral (what a peripheral discount uses)."""
        mask: np.ndarray = (self.origin_class == _PERIPHERAL) | (self.dest_class == _PERIPHERAL)
        return mask


def _resolve_parameter(policy: Policy, parameter: float | None) -> tuple[int, str, float] | None:
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
            "(pricing.neutrality.solve_revenue_neutral) or pass parameter=",
        )
    if not np.isfinite(parameter):
        raise PolicyError("", f"parameter must be finite, got {parameter!r}")
    return (*free, float(parameter))


def _value(
    measure: MeasureBase, name: str, index: int, override: tuple[int, str, float] | None
) -> float:
    """The measure's field value, or the override when this is the free parameter."""
    if override is not None and override[0] == index and override[1] == name:
        return override[2]
    return float(getattr(measure, name))


def _step(
    measure: MeasureBase,
    index: int,
    price: np.ndarray,
    peripheral: np.ndarray,
    override: tuple[int, str, float] | None,
) -> np.ndarray:
    """One measure applied to float prices (a new array; `price` is not modified)."""
    if isinstance(measure, CityWideAverage):
        charge = float(_value(measure, "charge_minor", index, override))
        return np.full_like(price, charge)
    if isinstance(measure, PartialAverage):
        target = float(_value(measure, "target_minor", index, override))
        return price + measure.alpha * (target - price)
    if isinstance(measure, PeripheralDiscount):
        surcharge = float(_value(measure, "surcharge_pct", index, override))
        factor = np.where(peripheral, 1.0 - measure.discount_pct / 100.0, 1.0 + surcharge / 100.0)
        return price * factor
    if isinstance(measure, Cap):
        capped: np.ndarray = np.minimum(price, float(measure.per_trip_limit_minor()))
        return capped
    raise AssertionError(f"unhandled measure {measure!r}")  # pragma: no cover


def continuous_prices(
    policy: Policy, trips: TripArrays, *, parameter: float | None = None
) -> np.ndarray:
    """New prices as float minor units, before the final rounding (what the solver varies).

    Rows outside the policy's families keep their base price. `parameter` sets the free
    parameter, used as given (not rounded), so revenue is a continuous function of it.
    """
    override = _resolve_parameter(policy, parameter)
    price = trips.base_price_minor.astype(np.float64)
    rows = trips.in_families(policy)
    if not rows.any() or not policy.measures:
        return price
    new = price[rows]
    peripheral = trips.touches_periphery()[rows]
    for index, measure in enumerate(policy.measures):
        new = _step(measure, index, new, peripheral, override)
    price[rows] = new
    return price


def round_minor(price: np.ndarray) -> np.ndarray:
    """Float minor units -> int64, half to even (the one rounding rule of policy prices)."""
    rounded: np.ndarray = np.rint(price).astype(np.int64)
    return rounded


def apply_policy(
    policy: Policy, trips: TripArrays, *, parameter: float | None = None
) -> np.ndarray:
    """Each trip's price under `policy`, int64 minor units (other families unchanged).

    A policy with a free parameter needs `parameter` (or solve it first); `parameter` on a
    fully specified policy is refused. Rounding: once per trip, half to even.
    """
    return round_minor(continuous_prices(policy, trips, parameter=parameter))


@dataclass(frozen=True)
class Adjustment:
    """One itinerary's price before and after the policy, and why it changed.

    `reason` lists each measure that changed the price, with before -> after amounts
    (``"city-wide average charge: 2.80 EUR -> 2.63 EUR"``), joined by ``"; "``; it is empty
    when no measure changed the price.
    """

    base: Money
    adjusted: Money
    reason: str


def _step_label(policy: Policy, measure: MeasureBase, *, peripheral: bool) -> str:
    if isinstance(measure, PeripheralDiscount):
        if peripheral:
            return f"peripheral discount {format_pct(measure.discount_pct)}%"
        return f"central surcharge {format_pct(measure.surcharge_pct or 0.0)}%"
    if isinstance(measure, PartialAverage):
        target = Money(int(measure.target_minor or 0), policy.currency).format()
        return f"partial averaging ({format_pct(measure.alpha * 100)}% toward {target})"
    if isinstance(measure, Cap):
        return f"cap {Money(measure.per_trip_limit_minor(), policy.currency).format()} per trip"
    return measure.label


def adjust_trip(
    policy: Policy, base: Money, *, origin_class: str, dest_class: str, mode_family: str
) -> Adjustment:
    """The price of one itinerary's legs of `mode_family` under a fully specified `policy`.

    Raises PolicyError if the policy still has a free parameter (activate it with its solved
    value: `Policy.with_parameter`), CurrencyMismatchError if `base` is in another currency,
    TripDataError for an unknown class or family.
    """
    if base.currency != policy.currency:
        raise CurrencyMismatchError(
            f"policy {policy.id!r} prices in {policy.currency}, the trip costs {base.format()}",
            left=policy.currency,
            right=base.currency,
        )
    _resolve_parameter(policy, None)
    trip = TripArrays(
        np.array([base.amount_minor], dtype=np.int64),
        np.array([origin_class], dtype=object),
        np.array([dest_class], dtype=object),
        np.array([mode_family], dtype=object),
        np.array([1.0]),
    )
    if not trip.in_families(policy)[0]:
        return Adjustment(base, base, "")
    price = trip.base_price_minor.astype(np.float64)
    peripheral = trip.touches_periphery()
    reasons = []
    for index, measure in enumerate(policy.measures):
        new = _step(measure, index, price, peripheral, None)
        before, after = int(round_minor(price)[0]), int(round_minor(new)[0])
        if before != after:
            reasons.append(
                f"{_step_label(policy, measure, peripheral=bool(peripheral[0]))}: "
                f"{Money(before, policy.currency).format()} -> "
                f"{Money(after, policy.currency).format()}"
            )
        price = new
    adjusted = Money(int(round_minor(price)[0]), policy.currency)
    return Adjustment(base, adjusted, "; ".join(reasons))

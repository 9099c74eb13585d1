"""What a shared-vehicle rental costs under a GBFS pricing plan.

GBFS `system_pricing_plans` (v2.2+) prices a rental as the plan's `price` (the unlock fee,
charged once) plus every segment of `per_km_pricing` and `per_min_pricing`, all added up.
A segment charges `rate` for each `interval` *started* from `start` (inclusive) until `end`
(exclusive; open-ended when absent); an interval of 0 charges the rate once. Segments may
overlap (the reference's Example 1 charges 0.50 per km *and* 3.00 per 5 km after km 25) and a
rate may be negative (a discount).

Boundaries: an interval counts as started once the rental goes *beyond* its beginning, so a
rental of exactly 10 km under a segment starting at km 10 pays nothing for it, and a 5:00
rental at 1 EUR per started minute pays 5 minutes (the reference: "the user does not pay more
than the base price for the first 10 km"; "if end is 20 the rate no longer applies after
19:59"). Time is counted in whole seconds and distance exactly (as a fraction of the float
metres the router gives), so no float rounding decides whether an interval was started.

A total below zero (discount segments larger than the charges) is clamped to 0, and the
reason says so. `surge_pricing` is reported in the reason; the published rates are used.

The plan's value types live here, not in `providers`: pricing sits below the GBFS parser in
the layers, so the parser builds these and `providers.model` re-exports them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from pricing.errors import RentalInputError
from pricing.money import Money

_SECONDS_PER_MIN: Final = 60
_METRES_PER_KM: Final = 1000


@dataclass(frozen=True, slots=True)
class PriceSegment:
    """One `per_km` or `per_min` segment of a pricing plan.

    GBFS defines the charge as `rate` for every started `interval` (km or min) from `start`
    until `end` (open-ended when None). `rate_minor` may be negative (the spec allows it).
    """

    start: int
    rate_minor: int
    interval: int
    end: int | None = None


@dataclass(frozen=True, slots=True)
class PricingPlan:
    """`system_pricing_plans` entry, with money in integer minor units."""

    id: str
    name: str
    currency: str
    price_minor: int
    is_taxable: bool = False
    description: str | None = None
    per_km: tuple[PriceSegment, ...] = ()
    per_min: tuple[PriceSegment, ...] = ()
    surge_pricing: bool = False


@dataclass(frozen=True, slots=True)
class RentalQuote:
    """The price of one rental and how it was made up."""

    amount: Money
    #: e.g. "unlock 1.00 EUR + 12 min x 0.25 EUR/min"
    reason: str


def _started_intervals(segment: PriceSegment, used: Fraction, unit: int) -> int:
    """How many times `segment` charges its rate for `used` (seconds or metres).

    `unit` converts the segment's minutes or kilometres into the same unit as `used`.
    """
    start = segment.start * unit
    if used <= start:
        return 0
    stop = used if segment.end is None else min(used, Fraction(segment.end * unit))
    if stop <= start:
        return 0
    if segment.interval == 0:
        return 1
    return math.ceil((stop - start) / (segment.interval * unit))


def _describe(segment: PriceSegment, count: int, unit_name: str, currency: str) -> str:
    rate = Money(segment.rate_minor, currency)
    since = f" from {unit_name} {segment.start}" if segment.start else ""
    if segment.interval == 0:
        return f"{rate} once after {segment.start} {unit_name}"
    if segment.interval == 1:
        return f"{count} {unit_name} x {rate}/{unit_name}{since}"
    return f"{count} x {segment.interval} {unit_name} x {rate}{since}"


def rental_price(plan: PricingPlan, *, duration_s: int, distance_m: float) -> RentalQuote:
    """The price of renting under `plan` for `duration_s` seconds and `distance_m` metres.

    Raises `RentalInputError` for a negative or non-finite duration or distance.
    """
    if isinstance(duration_s, bool) or not isinstance(duration_s, int) or duration_s < 0:
        raise RentalInputError(f"duration_s must be an integer >= 0, got {duration_s!r}")
    if not isinstance(distance_m, int | float) or not math.isfinite(distance_m) or distance_m < 0:
        raise RentalInputError(f"distance_m must be a finite number >= 0, got {distance_m!r}")
    currency = plan.currency
    total = plan.price_minor
    parts = [f"unlock {Money(plan.price_minor, currency)}"]
    for segments, used, unit, unit_name in (
        (plan.per_min, Fraction(duration_s), _SECONDS_PER_MIN, "min"),
        (plan.per_km, Fraction(distance_m), _METRES_PER_KM, "km"),
    ):
        for segment in segments:
            count = _started_intervals(segment, used, unit)
            if count:
                total += count * segment.rate_minor
                parts.append(_describe(segment, count, unit_name, currency))
    reason = " + ".join(parts)
    if not plan.per_min and not plan.per_km:
        reason += " (flat price: the plan has no per-minute or per-km segments)"
    if total < 0:
        reason += f"; total {Money(total, currency)} clamped to 0 (discounts exceed charges)"
        total = 0
    if plan.surge_pricing:
        reason += "; surge pricing in effect"
    return RentalQuote(Money(total, currency), reason)

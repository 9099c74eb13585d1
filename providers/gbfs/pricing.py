"""`system_pricing_plans`: decimal prices to exact integer minor units.

GBFS prices are decimal amounts in the plan's ISO 4217 currency (3.0: JSON numbers; 1.x/2.x
feeds also publish them as strings such as "2.50"). The JSON loader hands us `Decimal`s, so
`50.0 NOK` becomes exactly 5000 øre and `0.1 EUR` exactly 10 cents; float never touches
money. An amount with more decimals than the currency has (`0.125 EUR`) is refused rather
than rounded, because any rounding rule would silently change what riders are charged.

The exponent table (`pricing.money.CURRENCY_EXPONENTS`, shared with the fare engine) covers
the currencies of the markets GBFS publishers operate in; a code outside it is refused with a
message naming the table, so adding one is a one-line change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from pricing.money import CURRENCY_EXPONENTS
from providers.gbfs.envelope import Dialect
from providers.gbfs.fields import PRICE_SEGMENT, data_fields, record_fields
from providers.gbfs.values import (
    Loc,
    as_array,
    as_object,
    check_fields,
    get_bool,
    get_int,
    get_str,
    get_text,
    present,
    to_decimal,
    to_int,
    unique_id,
    wrong_type,
)
from providers.model import PriceSegment, PricingPlan

#: Largest amount accepted, in major units (a price above a million is a unit error); its
#: minor units fit an int64 with room to spare, whatever the currency's exponent.
MAX_MAJOR_UNITS: Final = Decimal(1_000_000)
#: Largest `start`, `end` or `interval` of a price segment, in km or minutes (a million
#: minutes is two years: beyond any rental).
MAX_SEGMENT_UNITS: Final = 1_000_000

_DECIMAL_STRING = re.compile(r"-?\d{1,12}(?:\.\d{1,12})?")


def currency_exponent(code: object, loc: Loc) -> tuple[str, int]:
    """A currency code and its exponent; unknown or malformed codes are refused."""
    if not isinstance(code, str):
        raise wrong_type(code, "ISO 4217 currency code string", loc)
    if code not in CURRENCY_EXPONENTS:
        raise loc.error(
            f"unknown currency code {code[:12]!r}; expected an upper-case ISO 4217 code from "
            f"the parser's table ({len(CURRENCY_EXPONENTS)} codes, e.g. EUR, NOK, USD, JPY)"
        )
    return code, CURRENCY_EXPONENTS[code]


def to_minor(value: object, exponent: int, loc: Loc, *, allow_string: bool, signed: bool) -> int:
    """A decimal amount (JSON number, or a decimal string where allowed) in minor units."""
    if isinstance(value, str) and allow_string:
        if not _DECIMAL_STRING.fullmatch(value):
            raise loc.error(f"{value[:30]!r} is not a decimal amount such as '2.50'")
        try:
            amount = Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            raise loc.error(f"{value!r} is not a decimal amount") from None
    else:
        expected = "number (or decimal string)" if allow_string else "number"
        if isinstance(value, str):
            raise wrong_type(value, expected, loc)
        amount = to_decimal(value, loc)
    if abs(amount) > MAX_MAJOR_UNITS:
        raise loc.error(f"amount {value} exceeds {MAX_MAJOR_UNITS} major units")
    if amount < 0 and not signed:
        raise loc.error(f"expected an amount >= 0, got {value}")
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise loc.error(
            f"amount {value} has more decimals than the currency's {exponent}; "
            "refusing to round money"
        )
    return int(minor)


def _segments(
    plan: Mapping[str, Any], key: str, loc: Loc, exponent: int, *, allow_string: bool
) -> tuple[PriceSegment, ...]:
    """The `per_km_pricing` / `per_min_pricing` segments of one plan."""
    if not present(plan, key, loc, required=False, allow_null=False, expected="array"):
        return ()
    out: list[PriceSegment] = []
    for i, item in enumerate(as_array(plan[key], loc.at(key), max_items=1_000)):
        seg_loc = loc.at(key).at(i)
        seg = as_object(item, seg_loc)
        check_fields(seg, PRICE_SEGMENT, seg_loc)
        start = get_int(seg, "start", seg_loc, maximum=MAX_SEGMENT_UNITS)
        assert start is not None
        if "rate" not in seg:
            raise seg_loc.at("rate").error("missing required field 'rate'")
        rate = to_minor(
            seg["rate"], exponent, seg_loc.at("rate"), allow_string=allow_string, signed=True
        )
        if "interval" not in seg:
            raise seg_loc.at("interval").error("missing required field 'interval'")
        interval_value = seg["interval"]
        if isinstance(interval_value, Decimal) and interval_value == interval_value.to_integral():
            interval_value = int(interval_value)  # 3.0 types it as number; 5.0 is 5
        interval = to_int(interval_value, seg_loc.at("interval"), maximum=MAX_SEGMENT_UNITS)
        end = get_int(seg, "end", seg_loc, required=False, maximum=MAX_SEGMENT_UNITS)
        if end is not None and end <= start:
            raise seg_loc.at("end").error(f"end {end} must be greater than start {start}")
        out.append(PriceSegment(start=start, rate_minor=rate, interval=interval, end=end))
    return tuple(out)


def parse_plans(data: Mapping[str, Any], loc: Loc, dialect: Dialect) -> tuple[PricingPlan, ...]:
    """All plans of a `system_pricing_plans` file, ids unique."""
    legacy = dialect.legacy
    family = "2" if legacy else dialect.family
    allowed = record_fields("system_pricing_plans", family)
    check_fields(data, data_fields("system_pricing_plans", family), loc, tolerant=legacy)
    if "plans" not in data:
        raise loc.at("plans").error("missing required field 'plans'")
    plans: list[PricingPlan] = []
    seen: set[str] = set()
    for i, item in enumerate(as_array(data["plans"], loc.at("plans"))):
        p_loc = loc.at("plans").at(i)
        plan = as_object(item, p_loc)
        check_fields(plan, allowed, p_loc, tolerant=legacy)
        plan_id = get_str(plan, "plan_id", p_loc)
        assert plan_id is not None
        unique_id(seen, plan_id, p_loc.at("plan_id"), "plan_id")
        if "currency" not in plan:
            raise p_loc.at("currency").error("missing required field 'currency'")
        currency, exponent = currency_exponent(plan["currency"], p_loc.at("currency"))
        if "price" not in plan:
            raise p_loc.at("price").error("missing required field 'price'")
        allow_string = not dialect.v3
        price = to_minor(
            plan["price"], exponent, p_loc.at("price"), allow_string=allow_string, signed=False
        )
        name = get_text(plan, "name", p_loc, localized=dialect.v3, allow_null=legacy)
        assert name is not None
        plans.append(
            PricingPlan(
                id=plan_id,
                name=name,
                currency=currency,
                price_minor=price,
                is_taxable=bool(get_bool(plan, "is_taxable", p_loc, legacy=legacy)),
                description=get_text(
                    plan, "description", p_loc, localized=dialect.v3, allow_null=legacy
                ),
                per_km=_segments(
                    plan, "per_km_pricing", p_loc, exponent, allow_string=allow_string
                ),
                per_min=_segments(
                    plan, "per_min_pricing", p_loc, exponent, allow_string=allow_string
                ),
                surge_pricing=bool(
                    get_bool(plan, "surge_pricing", p_loc, required=False, legacy=legacy)
                ),
            )
        )
    return tuple(plans)

"""Money as an exact integer of minor units plus an ISO 4217 currency code.

Fares, rental prices and policy charges are summed, compared and split many times per trip;
with float money, caps and discounts drift by cents, which riders see as unfair. So an amount
is always an `int` of minor units (cents, øre, yen) and a currency, and decimal inputs
(`"2.80"` in a GTFS table, `Decimal("0.5")` in a GBFS feed) are converted exactly or refused:
an amount with more decimals than its currency has (`0.125 EUR`) is an error, never rounded,
because any rounding rule would silently change what someone is charged.

The exponent table covers the currencies of the markets GTFS and GBFS publishers operate in;
a code outside it is refused with a message naming the table, so adding one is a one-line
change. This module imports nothing from the rest of fairtrip except `pricing.errors`, so the
GBFS parser (`providers`) can share the table without an import cycle.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from pricing.errors import AmountError, CurrencyMismatchError, MoneyTypeError, UnknownCurrencyError

#: ISO 4217 minor-unit exponent per currency code.
CURRENCY_EXPONENTS: Final[Mapping[str, int]] = {
    # Europe
    "EUR": 2,
    "NOK": 2,
    "SEK": 2,
    "DKK": 2,
    "ISK": 0,
    "GBP": 2,
    "CHF": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "RON": 2,
    "BGN": 2,
    "HRK": 2,
    "RSD": 2,
    "TRY": 2,
    "UAH": 2,
    # Americas
    "USD": 2,
    "CAD": 2,
    "MXN": 2,
    "BRL": 2,
    "ARS": 2,
    "CLP": 0,
    "COP": 2,
    "PEN": 2,
    "UYU": 2,
    # Asia-Pacific, Middle East, Africa
    "JPY": 0,
    "KRW": 0,
    "CNY": 2,
    "HKD": 2,
    "TWD": 2,
    "SGD": 2,
    "INR": 2,
    "IDR": 2,
    "THB": 2,
    "VND": 0,
    "PHP": 2,
    "MYR": 2,
    "AUD": 2,
    "NZD": 2,
    "ILS": 2,
    "AED": 2,
    "SAR": 2,
    "QAR": 2,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
    "ZAR": 2,
    "EGP": 2,
    "MAD": 2,
    "KES": 2,
    "NGN": 2,
}

#: a plain decimal literal: optional sign, digits, optional fraction (no exponent, no NaN)
_DECIMAL_LITERAL = re.compile(r"[+-]?(?:\d{1,15}(?:\.\d{0,15})?|\.\d{1,15})")


def currency_exponent(code: str) -> int:
    """The number of minor-unit digits of an ISO 4217 currency (EUR 2, JPY 0, KWD 3).

    Raises `UnknownCurrencyError` for a code outside `CURRENCY_EXPONENTS`.
    """
    try:
        return CURRENCY_EXPONENTS[code]
    except (KeyError, TypeError):
        shown = code[:12] if isinstance(code, str) else code
        raise UnknownCurrencyError(
            f"unknown currency code {shown!r}; expected an upper-case ISO 4217 code from "
            f"pricing.money.CURRENCY_EXPONENTS ({len(CURRENCY_EXPONENTS)} codes, e.g. EUR, "
            "NOK, USD, JPY)",
            code=code,
        ) from None


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An exact amount: `amount_minor` minor units of `currency` (280 EUR = 2.80 EUR).

    Addition and subtraction refuse mixed currencies. Ordering compares the amount first and
    is only meaningful between amounts of one currency (every fare system has one).
    """

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        amount = self.amount_minor
        if isinstance(amount, bool) or not hasattr(amount, "__index__"):
            raise MoneyTypeError(
                f"amount_minor must be an integer number of minor units, got "
                f"{type(amount).__name__} {amount!r}"
            )
        if type(amount) is not int:  # numpy integers: normalise to a plain int
            object.__setattr__(self, "amount_minor", operator.index(amount))
        currency_exponent(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Nothing, in `currency`."""
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, value: str | Decimal | int, currency: str) -> Money:
        """An amount given in major units (`"2.80"`, `Decimal("2.8")`, `3`), converted exactly.

        Raises `AmountError` for a malformed literal or one with more decimals than the
        currency has, and `MoneyTypeError` for a float or bool (floats cannot hold 0.1 exactly).
        """
        exponent = currency_exponent(currency)
        if isinstance(value, (bool, float)):
            raise MoneyTypeError(
                f"amount {value!r} is a {type(value).__name__}; pass a decimal string, a "
                "Decimal or an int so the value is exact"
            )
        if isinstance(value, str):
            text = value.strip()
            if not _DECIMAL_LITERAL.fullmatch(text):
                raise AmountError(
                    f"{value[:30]!r} is not a decimal amount such as '2.80'",
                    value=value,
                    currency=currency,
                )
            amount = Decimal(text)
        elif isinstance(value, Decimal):
            if not value.is_finite():
                raise AmountError(f"amount {value} is not finite", value=value, currency=currency)
            amount = value
        elif isinstance(value, int):
            amount = Decimal(value)
        else:
            raise MoneyTypeError(
                f"amount must be a decimal string, Decimal or int, got {type(value).__name__}"
            )
        try:
            minor = amount.scaleb(exponent)
            exact = minor == minor.to_integral_value()
        except InvalidOperation:  # pragma: no cover - finite decimals always scale
            exact = False
        if not exact:
            raise AmountError(
                f"amount {value} has more decimals than {currency}'s {exponent}; "
                "refusing to round money",
                value=value,
                currency=currency,
            )
        return cls(int(minor), currency)

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot add {other.format()} to {self.format()}: currencies differ",
                left=self.currency,
                right=other.currency,
            )
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot subtract {other.format()} from {self.format()}: currencies differ",
                left=self.currency,
                right=other.currency,
            )
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly (`Decimal("2.80")` for 280 EUR)."""
        return Decimal(self.amount_minor).scaleb(-currency_exponent(self.currency))

    def format(self) -> str:
        """Human-readable amount: `"2.80 EUR"`, `"-0.50 EUR"`, `"120 ISK"`."""
        exponent = currency_exponent(self.currency)
        if exponent == 0:
            return f"{self.amount_minor} {self.currency}"
        sign = "-" if self.amount_minor < 0 else ""
        major, minor = divmod(abs(self.amount_minor), 10**exponent)
        return f"{sign}{major}.{minor:0{exponent}d} {self.currency}"

    def __str__(self) -> str:
        return self.format()

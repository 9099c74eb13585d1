"""Money: exact minor units, refused rounding, refused currency mixing."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from pricing.errors import (
    AmountError,
    CurrencyMismatchError,
    MoneyTypeError,
    PricingError,
    UnknownCurrencyError,
)
from pricing.money import CURRENCY_EXPONENTS, Money, currency_exponent


def test_format_shows_the_currency_exponent_and_sign():
    assert Money(280, "EUR").format() == "2.80 EUR"
    assert Money(-50, "EUR").format() == "-0.50 EUR"
    assert Money(-250, "EUR").format() == "-2.50 EUR"
    assert Money(120, "ISK").format() == "120 ISK"
    assert Money(1250, "KWD").format() == "1.250 KWD"
    assert Money(5, "EUR").format() == "0.05 EUR"
    assert str(Money(280, "EUR")) == "2.80 EUR"


def test_from_decimal_converts_exactly():
    assert Money.from_decimal("2.8", "EUR") == Money(280, "EUR")
    assert Money.from_decimal("2.80", "EUR") == Money(280, "EUR")
    assert Money.from_decimal(Decimal("0.1"), "EUR") == Money(10, "EUR")
    assert Money.from_decimal(3, "EUR") == Money(300, "EUR")
    assert Money.from_decimal("-0.50", "EUR") == Money(-50, "EUR")
    assert Money.from_decimal("120", "ISK") == Money(120, "ISK")
    assert Money.from_decimal("1.25", "KWD") == Money(1250, "KWD")
    assert Money.from_decimal(" 4.1 ", "EUR") == Money(410, "EUR")


@pytest.mark.parametrize(
    ("value", "currency"), [("0.125", "EUR"), ("1.5", "ISK"), ("2.8001", "EUR")]
)
def test_from_decimal_refuses_to_round(value, currency):
    with pytest.raises(AmountError, match="more decimals"):
        Money.from_decimal(value, currency)


@pytest.mark.parametrize("value", ["abc", "1e3", "", "NaN", "2,80", "1.2.3"])
def test_from_decimal_refuses_non_decimal_text(value):
    with pytest.raises(AmountError, match="not a decimal amount"):
        Money.from_decimal(value, "EUR")


def test_from_decimal_refuses_floats_and_non_finite_decimals():
    with pytest.raises(MoneyTypeError):
        Money.from_decimal(2.8, "EUR")  # type: ignore[arg-type]
    with pytest.raises(AmountError):
        Money.from_decimal(Decimal("Infinity"), "EUR")


def test_amount_must_be_an_integer_and_numpy_integers_are_normalised():
    with pytest.raises(MoneyTypeError):
        Money(2.8, "EUR")  # type: ignore[arg-type]
    with pytest.raises(MoneyTypeError):
        Money(True, "EUR")
    m = Money(np.int64(280), "EUR")  # type: ignore[arg-type]
    assert type(m.amount_minor) is int and m == Money(280, "EUR")


def test_unknown_currency_is_a_typed_error_naming_the_code():
    with pytest.raises(UnknownCurrencyError, match="'XXX'") as err:
        Money(1, "XXX")
    assert isinstance(err.value, ValueError) and isinstance(err.value, PricingError)
    assert err.value.code == "XXX"
    with pytest.raises(UnknownCurrencyError):
        currency_exponent("eur")
    assert currency_exponent("JPY") == 0 and CURRENCY_EXPONENTS["EUR"] == 2


def test_adding_and_subtracting_same_currency():
    assert Money(280, "EUR") + Money(130, "EUR") == Money(410, "EUR")
    assert Money(280, "EUR") - Money(300, "EUR") == Money(-20, "EUR")
    assert -Money(5, "EUR") == Money(-5, "EUR")
    assert sum([Money(1, "EUR"), Money(2, "EUR")], Money.zero("EUR")) == Money(3, "EUR")


def test_mixing_currencies_raises_currency_mismatch():
    with pytest.raises(CurrencyMismatchError, match="currencies differ") as err:
        Money(1, "EUR") + Money(1, "USD")
    assert (err.value.left, err.value.right) == ("EUR", "USD")
    with pytest.raises(CurrencyMismatchError):
        Money(1, "EUR") - Money(1, "SEK")


def test_ordering_within_one_currency_and_decimal_view():
    assert Money(280, "EUR") < Money(410, "EUR")
    assert min(Money(410, "EUR"), Money(280, "EUR")) == Money(280, "EUR")
    assert Money(280, "EUR").to_decimal() == Decimal("2.80")
    assert Money(120, "ISK").to_decimal() == Decimal(120)

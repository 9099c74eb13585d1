"""Typed errors of the pricing package, in one place.

Every pricing error derives from `PricingError` *and* from the builtin it refines
(`ValueError`, `TypeError`), so callers can catch either the family or the builtin. Each
carries the offending value and what was expected, because a fare table error that only says
"invalid value" costs an afternoon to track down in a 5 MB GTFS zip.
"""

from __future__ import annotations


class PricingError(Exception):
    """Base of every pricing error."""


class CurrencyMismatchError(PricingError, ValueError):
    """Two amounts in different currencies were combined (added, compared, summed)."""

    def __init__(self, message: str, *, left: str | None = None, right: str | None = None) -> None:
        super().__init__(message)
        self.left = left
        self.right = right


class UnknownCurrencyError(PricingError, ValueError):
    """A currency code is not in `pricing.money.CURRENCY_EXPONENTS`."""

    def __init__(self, message: str, *, code: object = None) -> None:
        super().__init__(message)
        self.code = code


class AmountError(PricingError, ValueError):
    """A decimal amount is malformed or has more decimals than its currency allows."""

    def __init__(self, message: str, *, value: object = None, currency: str | None = None) -> None:
        super().__init__(message)
        self.value = value
        self.currency = currency


class MoneyTypeError(PricingError, TypeError):
    """A money amount was given as something other than an integer (a float, a bool...)."""


class FareDataError(PricingError, ValueError):
    """Bad fare tables: names the file, the row (header = row 1), the field and the problem.

    `FareDataError("message")` alone is allowed for problems that span a whole table.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str = "",
        row: int | None = None,
        field: str = "",
        value: object = None,
    ) -> None:
        where = file
        if row is not None:
            where += f" row {row}"
        if field:
            where += f", field {field!r}" if where else f"field {field!r}"
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.row = row
        self.field = field
        self.value = value
        self.reason = message


class RentalInputError(PricingError, ValueError):
    """A rental was priced for a negative or non-finite duration or distance."""

"""Typed errors of the coverage package, in one place.

Each error derives from `CoverageError` *and* from the builtin it refines, so callers catch
either the family or the builtin, and each names the offending value and what was expected.
A zone file that cannot serve as service zones raises `pricing.zones.ZoneError` instead (the
same error every zone file gives), so a caller catches one error for any bad zone file.
"""

from __future__ import annotations


class CoverageError(Exception):
    """Base of every coverage error."""


class CoverageDataError(CoverageError, ValueError):
    """A provider's snapshot holds a count no station can have: its history is not recorded."""

    def __init__(self, provider_id: str, where: str, value: object, expected: str) -> None:
        self.provider_id = provider_id
        self.where = where
        self.value = value
        self.expected = expected
        super().__init__(f"provider {provider_id!r}: {where} is {value!r}, expected {expected}")


class HistoryStoreError(CoverageError, RuntimeError):
    """The availability history's file cannot be opened, read or written; nothing changed."""

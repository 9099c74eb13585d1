"""Errors of the planning service: each names what was wrong and which field of the
request it concerns, so every front end (HTTP, command line) can say so precisely.
"""

from __future__ import annotations

from typing import Literal


class TripError(Exception):
    """A request the service cannot answer as asked; `code` and `field` name why."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


class UnroutablePointError(TripError):
    """An end of the trip lies off the streets (or only on streets that lead nowhere)."""

    def __init__(
        self, end: Literal["origin", "destination"], code: str, message: str
    ) -> None:
        super().__init__(code, message, field="from_lat" if end == "origin" else "to_lat")
        self.end = end


class DeadlineExceededError(TimeoutError):
    """The request's deadline passed before the plan was done (queueing included)."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        super().__init__(f"the plan took longer than its {budget_s:g} s budget")

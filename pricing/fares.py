"""The one model every transit fare system speaks: rides in, a priced quote out.

A planner itinerary reaches the fare engine as a sequence of `RideFacts` (one per transit
ride, already reduced to ids, fare zones and service-day seconds), and leaves it as a
`FareQuote` with one `FareLine` per ride. GTFS Fares v1 (`pricing.fares_v1`) and Fares v2
(`pricing.fares_v2`) both implement the `FareSystem` protocol, so `/plan`, the evaluation
batch and the policies never need to know which tables a feed published.

A fare system is compiled once (at network build) from the feed's tables and stored as JSON
beside the network (`to_json` / `fare_system_from_json`); quoting then only touches dicts and
frozensets, because it runs inside every `/plan` call.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pricing.errors import AmountError, FareDataError, MoneyTypeError, UnknownCurrencyError
from pricing.money import Money, currency_exponent

#: `kind` of the JSON documents written by `FareSystem.to_json`
KIND_V1 = "gtfs-fares-v1"
KIND_V2 = "gtfs-fares-v2"


@dataclass(frozen=True, slots=True)
class RideFacts:
    """One transit ride of an itinerary, as the fare engine needs it."""

    route_id: str
    agency_id: str
    route_type: int
    board_stop_id: str
    alight_stop_id: str
    #: GTFS stops.zone_id of the boarding stop, "" if none
    board_zone: str
    alight_zone: str
    #: zone ids of every stop passed, board..alight inclusive ("" dropped)
    zones: frozenset[str]
    #: service-day seconds (may exceed 86400)
    board_s: int
    alight_s: int


@dataclass(frozen=True, slots=True)
class FareLine:
    """What one ride is charged."""

    #: 0 for a ride covered by a ticket bought earlier
    amount: Money
    #: v1 fare_id or v2 fare_product_id that covers this ride
    fare_id: str
    #: human readable, e.g. "covered by the AB ticket bought at 08:01 (valid until 09:21)"
    reason: str


@dataclass(frozen=True, slots=True)
class FareQuote:
    """The price of an itinerary's transit rides, line by line."""

    #: None when no fare rule covers some ride (price unknown)
    total: Money | None
    #: one per ride, same order (empty when total is None)
    lines: tuple[FareLine, ...]
    #: why it is None, or a one-line summary
    reason: str


class FareSystem(Protocol):
    """A compiled fare system of one feed, in one currency."""

    currency: str

    def quote(self, rides: Sequence[RideFacts], *, service_date: datetime.date) -> FareQuote:
        """Price the rides of one itinerary (in travel order) on `service_date`."""
        ...

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready document from which `fare_system_from_json` rebuilds the system."""
        ...


def fare_system_from_json(doc: Mapping[str, Any]) -> FareSystem:
    """Rebuild a fare system written by `to_json`; dispatches on `doc["kind"]`."""
    kind = doc.get("kind")
    if kind == KIND_V1:
        from pricing.fares_v1 import FaresV1  # deferred: fares_v1 imports this module

        return FaresV1.from_json(doc)
    if kind == KIND_V2:
        from pricing.fares_v2 import FaresV2  # deferred: fares_v2 imports this module

        return FaresV2.from_json(doc)
    raise FareDataError(
        f"unknown fare system kind {kind!r}; expected {KIND_V1!r} or {KIND_V2!r}",
        field="kind",
        value=kind,
    )


def clock(seconds: int) -> str:
    """Service-day seconds as GTFS-style HH:MM (hours may exceed 23: "25:10")."""
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours:02d}:{rest // 60:02d}"


def describe_ride(index: int, ride: RideFacts) -> str:
    """A short description of ride `index` (0-based) for reasons: ids and zones."""
    zones = ",".join(sorted(ride.zones | {ride.board_zone, ride.alight_zone} - {""})) or "none"
    return (
        f"ride {index + 1} (route {ride.route_id}, stop {ride.board_stop_id} -> "
        f"{ride.alight_stop_id}, zones {zones})"
    )


# ------------------------------------------------------------------- table-reading helpers
# Shared by the v1 and v2 builders: fare tables arrive as rows of str (from ingest), and every
# problem is reported with file, row (the header is row 1) and field.


def field_text(
    row: Mapping[str, str], field: str, file: str, row_no: int, *, required: bool = False
) -> str:
    """A stripped field of one CSV row; a required one must be present and non-empty."""
    value = row.get(field)
    if value is None:
        if required:
            raise FareDataError(
                f"missing required column {field!r}", file=file, row=row_no, field=field
            )
        return ""
    value = value.strip()
    if required and not value:
        raise FareDataError("required value is empty", file=file, row=row_no, field=field)
    return value


def field_money(
    row: Mapping[str, str],
    field: str,
    currency_field: str,
    file: str,
    row_no: int,
) -> Money:
    """An exact amount from a decimal field and an ISO 4217 currency field of one row."""
    currency = field_text(row, currency_field, file, row_no, required=True)
    try:
        currency_exponent(currency)
    except UnknownCurrencyError as exc:
        raise FareDataError(
            str(exc), file=file, row=row_no, field=currency_field, value=currency
        ) from None
    raw = field_text(row, field, file, row_no, required=True)
    try:
        return Money.from_decimal(raw, currency)
    except (AmountError, MoneyTypeError) as exc:
        raise FareDataError(str(exc), file=file, row=row_no, field=field, value=raw) from None


def field_int(
    row: Mapping[str, str],
    field: str,
    file: str,
    row_no: int,
    *,
    expected: str,
    valid: Callable[[int], bool],
) -> int | None:
    """An optional integer field (None when empty) that must satisfy `valid`.

    `expected` says what a good value looks like, for the error message.
    """
    raw = field_text(row, field, file, row_no)
    if not raw:
        return None
    value = int(raw) if raw.lstrip("-").isdigit() else None
    if value is None or not valid(value):
        raise FareDataError(
            f"{raw!r} is not {expected}", file=file, row=row_no, field=field, value=raw
        )
    return value

"""GTFS Fares v1 (`fare_attributes.txt` + `fare_rules.txt`): which ticket an itinerary needs.

Most feeds in the wild (Helsinki's HSL among them) still publish only Fares v1, whose text in
the GTFS reference leaves the matching rules open; consumers disagree in the details. What
this module does, and where it follows or departs from the reference and OpenTripPlanner:

**A fare and its attributes.** `price` in `currency_type` (converted exactly to minor
units; every fare of a feed must share one currency), `transfers` (empty = unlimited, else
0, 1 or 2 transfers), `transfer_duration` (seconds, counted from the first boarding of the
ticket: a later ride is covered when it *boards* no later than `first boarding +
transfer_duration`; this is OpenTripPlanner's "transfers are evaluated at boarding time"),
and `agency_id` (when set, every ride on the ticket must be run by that agency).

**Rule combinations.** A fare's `fare_rules` rows are read as alternative *combinations*;
the fare applies to a group of consecutive rides when at least one combination matches:

1. Rows with the same (`route_id`, `origin_id`, `destination_id`) form one combination; their
   `contains_id` values are collected into its contains set (the reference lists the zones of
   one route or journey one row per zone: `c,GRT,,,5` / `c,GRT,,,6` / `c,GRT,,,7`).
2. Combinations that name a route and agree on origin, destination and contains set are
   merged into one combination with a route *set*, so `b,TSW` + `b,TSE` lets one `b` ticket
   cover a transfer from TSW to TSE (the reference's "valid on route TSW and TSE").
3. A combination matches when every ride's route is in its route set (if it has one), the
   boarding zone of the group's first ride equals `origin_id` (if set), the alighting zone of
   the group's last ride equals `destination_id` (if set), and the set of zones visited by
   the rides (boarding, passed and alighting stops) is *contained in* the contains set (if
   the combination has one). Rows with only a route and rows with only zones are different
   combinations, so HSL's `BC,2550,,,` (route 2550 on a BC ticket) does not stop `BC,,,,B` +
   `BC,,,,C` from covering every ride inside zones B and C.
4. A fare with no rows in `fare_rules.txt` applies to every ride.

*Containment, not equality*, for `contains_id`: the reference's example says an itinerary
through zones 5 and 6 does not get a fare whose contains rows are 5, 6 and 7, which reads as
set equality. Zone systems such as HSL's list, per ticket, the largest zone set it is valid
in (AB = zones A and B) and rely on containment; OpenTripPlanner's HSL fare service uses
containment too. Because we then take the cheapest matching fare, containment never gives a
higher price than equality would when the equality fare exists. A group whose rides carry no
zone at all does not match a combination with contains rows (an unknown zone is not priced
as if it were inside the ticket's zones).

**Cheapest partition.** The itinerary's rides are split into consecutive groups, each paid
with one ticket (the cheapest fare that matches the group, ties broken by `fare_id`); the
split with the lowest total wins (ties: fewer tickets), found by dynamic programming over
groups `rides[i..j]`. The group's price is put on its first ride's `FareLine`; the other
rides of the group show 0 and "covered by the ... ticket". If no split covers every ride,
the quote's total is None and its reason names the first ride that cannot be priced.

Everything is compiled at construction into tuples, dicts and frozensets; a quote never scans
a table.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from pricing.errors import FareDataError
from pricing.fares import (
    KIND_V1,
    FareLine,
    FareQuote,
    RideFacts,
    clock,
    describe_ride,
    field_int,
    field_money,
    field_text,
)
from pricing.money import Money

FARE_ATTRIBUTES: Final = "fare_attributes.txt"
FARE_RULES: Final = "fare_rules.txt"
#: columns without which a table cannot be read (others are optional or unused)
REQUIRED_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    FARE_ATTRIBUTES: ("fare_id", "price", "currency_type", "transfers"),
    FARE_RULES: ("fare_id",),
}
#: version of the JSON layout written by `FaresV1.to_json`
JSON_FORMAT: Final = 1


@dataclass(frozen=True, slots=True)
class FareAttribute:
    """One row of `fare_attributes.txt`, typed."""

    fare_id: str
    price: Money
    #: None = unlimited transfers
    transfers: int | None
    #: validity counted from the first boarding; None = not limited
    transfer_duration_s: int | None
    agency_id: str = ""


@dataclass(frozen=True, slots=True)
class FareRule:
    """One row of `fare_rules.txt`; "" = field empty."""

    fare_id: str
    route_id: str = ""
    origin_id: str = ""
    destination_id: str = ""
    contains_id: str = ""


class _Combination:
    """One alternative way a fare applies (see the module docstring)."""

    __slots__ = ("contains", "destination", "origin", "routes")

    def __init__(
        self,
        routes: frozenset[str] | None,
        origin: str,
        destination: str,
        contains: frozenset[str] | None,
    ) -> None:
        self.routes = routes
        self.origin = origin
        self.destination = destination
        self.contains = contains


class _Fare:
    """A fare compiled for matching."""

    __slots__ = (
        "agency_id",
        "combinations",
        "duration_s",
        "fare_id",
        "open",
        "price",
        "transfers",
    )

    def __init__(self, attribute: FareAttribute, combinations: tuple[_Combination, ...]) -> None:
        self.fare_id = attribute.fare_id
        self.price = attribute.price
        self.transfers = attribute.transfers
        self.duration_s = attribute.transfer_duration_s
        self.agency_id = attribute.agency_id
        self.combinations = combinations
        self.open = not combinations


#: the cheapest way found to pay for the first k rides: (total in minor units, tickets bought,
#: index of the first ride of the last ticket, that ticket's fare; None for no rides at all)
_Best: TypeAlias = tuple[int, int, int, _Fare | None]


def _compile_combinations(rules: Sequence[FareRule]) -> tuple[_Combination, ...]:
    """A fare's rows grouped into combinations (steps 1 and 2 of the module docstring)."""
    contains_by_key: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for rule in rules:
        key = (rule.route_id, rule.origin_id, rule.destination_id)
        contains = contains_by_key[key]
        if rule.contains_id:
            contains.add(rule.contains_id)
    merged: dict[tuple[str, str, frozenset[str] | None], set[str]] = defaultdict(set)
    unrouted: list[_Combination] = []
    for (route, origin, destination), contains in contains_by_key.items():
        frozen = frozenset(contains) if contains else None
        if route:
            merged[(origin, destination, frozen)].add(route)
        else:
            unrouted.append(_Combination(None, origin, destination, frozen))
    routed = [
        _Combination(frozenset(routes), origin, destination, contains)
        for (origin, destination, contains), routes in merged.items()
    ]
    return (*unrouted, *routed)


def _validity(fare: _Fare) -> str:
    """The validity part of a ticket reason: ", valid 80 min incl. transfers"."""
    transfers = fare.transfers
    if fare.duration_s is None:
        if transfers is None:
            return ", unlimited transfers"
        return ", no transfers" if transfers == 0 else f", up to {transfers} transfers"
    minutes = fare.duration_s // 60
    valid = f"valid {minutes} min" if fare.duration_s % 60 == 0 else f"valid {fare.duration_s} s"
    if transfers is None:
        return f", {valid} incl. transfers"
    if transfers == 0:
        return f", {valid}, no transfers"
    return f", {valid}, up to {transfers} transfers"


class FaresV1:
    """A compiled GTFS Fares v1 system (see the module docstring for the semantics)."""

    def __init__(self, attributes: Sequence[FareAttribute], rules: Sequence[FareRule]) -> None:
        if not attributes:
            raise FareDataError("no fares: the table has no rows", file=FARE_ATTRIBUTES)
        self.currency: str = attributes[0].price.currency
        seen: set[str] = set()
        for attribute in attributes:
            if attribute.price.currency != self.currency:
                raise FareDataError(
                    f"fare {attribute.fare_id!r} is priced in {attribute.price.currency} but "
                    f"the first fare in {self.currency}; one fare system has one currency",
                    file=FARE_ATTRIBUTES,
                    field="currency_type",
                    value=attribute.price.currency,
                )
            if attribute.fare_id in seen:
                raise FareDataError(
                    f"duplicate fare_id {attribute.fare_id!r}",
                    file=FARE_ATTRIBUTES,
                    field="fare_id",
                    value=attribute.fare_id,
                )
            seen.add(attribute.fare_id)
        rules_by_fare: dict[str, list[FareRule]] = defaultdict(list)
        for rule in rules:
            if rule.fare_id not in seen:
                raise FareDataError(
                    f"rule names fare_id {rule.fare_id!r}, which is not in {FARE_ATTRIBUTES}",
                    file=FARE_RULES,
                    field="fare_id",
                    value=rule.fare_id,
                )
            rules_by_fare[rule.fare_id].append(rule)
        self.attributes: tuple[FareAttribute, ...] = tuple(attributes)
        self.rules: tuple[FareRule, ...] = tuple(rules)
        fares = [
            _Fare(a, _compile_combinations(rules_by_fare.get(a.fare_id, ()))) for a in attributes
        ]
        #: cheapest first, so the first fare that matches a group is the one to buy
        self._fares: tuple[_Fare, ...] = tuple(
            sorted(fares, key=lambda f: (f.price.amount_minor, f.fare_id))
        )
        transfers = [f.transfers for f in fares]
        self._max_transfers: int | None = (
            None
            if any(t is None for t in transfers)
            else max(t for t in transfers if t is not None)
        )
        durations = [f.duration_s for f in fares]
        self._max_duration_s: int | None = (
            None
            if any(d is None for d in durations)
            else max(d for d in durations if d is not None)
        )
        self._zero = Money.zero(self.currency)

    # ---------------------------------------------------------------- construction helpers

    @classmethod
    def from_records(
        cls,
        fare_attributes: Sequence[Mapping[str, str]],
        fare_rules: Sequence[Mapping[str, str]] = (),
    ) -> FaresV1:
        """Build from the rows of the two CSV files (dicts of str, in file order).

        Raises `FareDataError` naming file, row (the header is row 1) and field for a missing
        column, a malformed or negative price, an unknown currency, an amount with more
        decimals than its currency, a bad `transfers` / `transfer_duration`, or a rule naming
        an unknown fare.
        """
        attributes: list[FareAttribute] = []
        known: set[str] = set()
        for i, row in enumerate(fare_attributes):
            attribute = _parse_attribute(row, i + 2)
            if attribute.fare_id in known:
                raise FareDataError(
                    f"duplicate fare_id {attribute.fare_id!r}",
                    file=FARE_ATTRIBUTES,
                    row=i + 2,
                    field="fare_id",
                    value=attribute.fare_id,
                )
            if attributes and attribute.price.currency != attributes[0].price.currency:
                raise FareDataError(
                    f"{attribute.price.currency} differs from the first fare's "
                    f"{attributes[0].price.currency}; one fare system has one currency",
                    file=FARE_ATTRIBUTES,
                    row=i + 2,
                    field="currency_type",
                    value=attribute.price.currency,
                )
            known.add(attribute.fare_id)
            attributes.append(attribute)
        rules: list[FareRule] = []
        for i, row in enumerate(fare_rules):
            fare_id = field_text(row, "fare_id", FARE_RULES, i + 2, required=True)
            if fare_id not in known:
                raise FareDataError(
                    f"fare_id {fare_id!r} is not defined in {FARE_ATTRIBUTES}",
                    file=FARE_RULES,
                    row=i + 2,
                    field="fare_id",
                    value=fare_id,
                )
            rules.append(
                FareRule(
                    fare_id=fare_id,
                    route_id=field_text(row, "route_id", FARE_RULES, i + 2),
                    origin_id=field_text(row, "origin_id", FARE_RULES, i + 2),
                    destination_id=field_text(row, "destination_id", FARE_RULES, i + 2),
                    contains_id=field_text(row, "contains_id", FARE_RULES, i + 2),
                )
            )
        return cls(attributes, rules)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FaresV1:
        """Rebuild from `to_json` output."""
        if doc.get("kind") != KIND_V1 or doc.get("format") != JSON_FORMAT:
            raise FareDataError(
                f"expected kind {KIND_V1!r} format {JSON_FORMAT}, got kind {doc.get('kind')!r} "
                f"format {doc.get('format')!r}",
                field="kind",
            )
        currency = str(doc["currency"])
        attributes = [
            FareAttribute(
                fare_id=str(f["fare_id"]),
                price=Money(int(f["price_minor"]), currency),
                transfers=None if f.get("transfers") is None else int(f["transfers"]),
                transfer_duration_s=(
                    None if f.get("transfer_duration_s") is None else int(f["transfer_duration_s"])
                ),
                agency_id=str(f.get("agency_id", "")),
            )
            for f in doc["fares"]
        ]
        rules = [
            FareRule(
                fare_id=str(r["fare_id"]),
                route_id=str(r.get("route_id", "")),
                origin_id=str(r.get("origin_id", "")),
                destination_id=str(r.get("destination_id", "")),
                contains_id=str(r.get("contains_id", "")),
            )
            for r in doc.get("rules", ())
        ]
        return cls(attributes, rules)

    def to_json(self) -> dict[str, Any]:
        """The fare tables as a JSON-ready document (`fare_system_from_json` reads it)."""
        return {
            "kind": KIND_V1,
            "format": JSON_FORMAT,
            "currency": self.currency,
            "fares": [
                {
                    "fare_id": a.fare_id,
                    "price_minor": a.price.amount_minor,
                    "transfers": a.transfers,
                    "transfer_duration_s": a.transfer_duration_s,
                    "agency_id": a.agency_id,
                }
                for a in self.attributes
            ],
            "rules": [
                {
                    "fare_id": r.fare_id,
                    "route_id": r.route_id,
                    "origin_id": r.origin_id,
                    "destination_id": r.destination_id,
                    "contains_id": r.contains_id,
                }
                for r in self.rules
            ],
        }

    # ---------------------------------------------------------------------------- quoting

    def fares_for(self, rides: Sequence[RideFacts]) -> tuple[str, ...]:
        """The fare_ids that could cover all `rides` on one ticket, cheapest first."""
        if not rides:
            return ()
        zones = _zones_of(rides)
        routes = {r.route_id for r in rides}
        agencies = {r.agency_id for r in rides}
        return tuple(
            f.fare_id
            for f in self._fares
            if self._matches(f, rides[0], rides[-1], zones, routes, agencies, len(rides) - 1)
        )

    def quote(self, rides: Sequence[RideFacts], *, service_date: datetime.date) -> FareQuote:
        """The cheapest way to pay for `rides` (travel order). `service_date` is unused in v1."""
        n = len(rides)
        if n == 0:
            return FareQuote(self._zero, (), "no transit rides")
        best = self._partition(rides)
        final = best[n]
        if final is None:
            stuck = next(k for k in range(1, n + 1) if best[k] is None)
            return FareQuote(
                None,
                (),
                f"no fare rule covers {describe_ride(stuck - 1, rides[stuck - 1])}",
            )
        groups = _ticket_groups(best)
        total = Money(final[0], self.currency)
        return FareQuote(total, tuple(self._lines(rides, groups)), _summary(groups, total))

    def _partition(self, rides: Sequence[RideFacts]) -> list[_Best | None]:
        """best[k]: the cheapest way to pay for rides[:k] (None: no fare rule covers them).

        Dynamic programming over where each ticket starts: a ticket bought at ride i covers
        rides i..j as long as one fare rule admits them all.
        """
        n = len(rides)
        ride_zones = [_ride_zones(r) for r in rides]
        best: list[_Best | None] = [None] * (n + 1)
        best[0] = (0, 0, 0, None)
        for i in range(n):
            before = best[i]
            if before is not None:
                self._extend(rides, ride_zones, i, before, best)
        return best

    def _extend(
        self,
        rides: Sequence[RideFacts],
        ride_zones: Sequence[frozenset[str]],
        i: int,
        before: _Best,
        best: list[_Best | None],
    ) -> None:
        """Improve best[j + 1] for every j reachable by one ticket bought at ride i."""
        first = rides[i]
        zones: set[str] = set()
        routes: set[str] = set()
        agencies: set[str] = set()
        for j in range(i, len(rides)):
            ride = rides[j]
            transfers = j - i
            if self._max_transfers is not None and transfers > self._max_transfers:
                break
            if (
                self._max_duration_s is not None
                and ride.board_s - first.board_s > self._max_duration_s
            ):
                break
            zones |= ride_zones[j]
            routes.add(ride.route_id)
            agencies.add(ride.agency_id)
            fare = self._cheapest(first, ride, zones, routes, agencies, transfers)
            if fare is None:
                continue
            candidate = (before[0] + fare.price.amount_minor, before[1] + 1, i, fare)
            current = best[j + 1]
            if current is None or candidate[:2] < current[:2]:
                best[j + 1] = candidate

    def _lines(
        self, rides: Sequence[RideFacts], groups: Sequence[tuple[int, int, _Fare]]
    ) -> list[FareLine]:
        """One line per ride: the ticket bought at its first ride, "covered by" for the rest."""
        lines: list[FareLine] = []
        for start, stop, fare in groups:
            lines.append(
                FareLine(
                    fare.price, fare.fare_id, f"{fare.fare_id} ticket {fare.price}{_validity(fare)}"
                )
            )
            bought = rides[start].board_s
            until = (
                f" (valid until {clock(bought + fare.duration_s)})"
                if fare.duration_s is not None
                else ""
            )
            covered = f"covered by the {fare.fare_id} ticket bought at {clock(bought)}{until}"
            lines.extend(
                FareLine(self._zero, fare.fare_id, covered) for _ in range(start + 1, stop)
            )
        return lines

    def _cheapest(
        self,
        first: RideFacts,
        last: RideFacts,
        zones: set[str],
        routes: set[str],
        agencies: set[str],
        transfers: int,
    ) -> _Fare | None:
        for fare in self._fares:
            if self._matches(fare, first, last, zones, routes, agencies, transfers):
                return fare
        return None

    @staticmethod
    def _matches(
        fare: _Fare,
        first: RideFacts,
        last: RideFacts,
        zones: set[str],
        routes: set[str],
        agencies: set[str],
        transfers: int,
    ) -> bool:
        if fare.transfers is not None and transfers > fare.transfers:
            return False
        if fare.duration_s is not None and last.board_s - first.board_s > fare.duration_s:
            return False
        if fare.agency_id and (len(agencies) != 1 or fare.agency_id not in agencies):
            return False
        if fare.open:
            return True
        for combo in fare.combinations:
            if combo.routes is not None and not routes <= combo.routes:
                continue
            if combo.origin and combo.origin != first.board_zone:
                continue
            if combo.destination and combo.destination != last.alight_zone:
                continue
            if combo.contains is not None and (not zones or not zones <= combo.contains):
                continue
            return True
        return False


def _ride_zones(ride: RideFacts) -> frozenset[str]:
    """Every zone a ride touches: passed stops plus boarding and alighting stop."""
    if ride.board_zone in ride.zones and ride.alight_zone in ride.zones:
        return ride.zones
    return (ride.zones | {ride.board_zone, ride.alight_zone}) - {""}


def _zones_of(rides: Sequence[RideFacts]) -> set[str]:
    zones: set[str] = set()
    for ride in rides:
        zones |= _ride_zones(ride)
    return zones


# ------------------------------------------------------------------------------ parsing


def _parse_attribute(row: Mapping[str, str], row_no: int) -> FareAttribute:
    """One `fare_attributes.txt` row, validated."""
    file = FARE_ATTRIBUTES
    fare_id = field_text(row, "fare_id", file, row_no, required=True)
    price = field_money(row, "price", "currency_type", file, row_no)
    if price.amount_minor < 0:
        raise FareDataError(
            f"price {price} is negative; expected a non-negative amount",
            file=file,
            row=row_no,
            field="price",
            value=row.get("price"),
        )
    if "transfers" not in row:
        raise FareDataError(
            "missing required column 'transfers' (leave the value empty for unlimited)",
            file=file,
            row=row_no,
            field="transfers",
        )
    transfers = field_int(
        row,
        "transfers",
        file,
        row_no,
        expected="one of empty (unlimited), 0, 1, 2",
        valid=lambda v: 0 <= v <= 2,
    )
    duration = field_int(
        row,
        "transfer_duration",
        file,
        row_no,
        expected="a non-negative integer of seconds",
        valid=lambda v: v >= 0,
    )
    return FareAttribute(
        fare_id=fare_id,
        price=price,
        transfers=transfers,
        transfer_duration_s=duration,
        agency_id=field_text(row, "agency_id", file, row_no),
    )


def _ticket_groups(best: Sequence[_Best | None]) -> list[tuple[int, int, _Fare]]:
    """(first ride, ride after the last, fare) of each ticket, in travel order."""
    groups: list[tuple[int, int, _Fare]] = []
    k = len(best) - 1
    while k > 0:
        entry = best[k]
        if entry is None or entry[3] is None:  # pragma: no cover - reachable by construction
            raise AssertionError(f"fare partition lost its path at ride {k}")
        groups.append((entry[2], k, entry[3]))
        k = entry[2]
    groups.reverse()
    return groups


def _summary(groups: Sequence[tuple[int, int, _Fare]], total: Money) -> str:
    """'1 ticket: AB 2.80 EUR' or '2 tickets: AB 2.80 EUR + C 2.80 EUR = 5.60 EUR'."""
    if len(groups) == 1:
        return f"1 ticket: {groups[0][2].fare_id} {total}"
    parts = " + ".join(f"{f.fare_id} {f.price}" for _, _, f in groups)
    return f"{len(groups)} tickets: {parts} = {total}"

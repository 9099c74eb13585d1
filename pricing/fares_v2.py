"""GTFS Fares v2 (fare products, leg rules, transfer rules, timeframes), where a feed has it.

The reference recommends Fares v2 over v1 when a feed publishes both, and so do we. What is
implemented, following the GTFS reference text of each file:

**Products** (`fare_products.txt`): `fare_product_id` -> amount in one currency (every
product of a feed must share one). Rider categories and fare media are not modelled: when
several rows share a `fare_product_id`, we take the row of the default rider category
(`rider_categories.is_default_fare_category = 1`), else a row with an empty
`rider_category_id` (eligible for everyone), else the first row; among those, the first in
file order (whatever its fare medium). Amounts may be negative (transfer discounts).

**Leg rules** (`fare_leg_rules.txt`): a ride matches a rule when each non-empty field
matches: `network_id` (the route's network from `routes.network_id` or
`route_networks.txt`), `from_area_id` / `to_area_id` (an area containing the boarding /
alighting stop via `stop_areas.txt`; a station in an area puts its platforms there too,
unless a platform has areas of its own), `from_timeframe_group_id` /
`to_timeframe_group_id` (see timeframes below; boarding time for "from", alighting time for
"to"). Empty fields follow the reference's two modes:

- the file has a `rule_priority` column: an empty field matches anything, and of the
  matching rules only those with the highest `rule_priority` (empty = 0) are kept;
- no `rule_priority` column: an empty `network_id` / `from_area_id` / `to_area_id` matches
  only a value *not listed* in that column anywhere in the file (a ride with no network or
  area counts as unlisted), and exact matches win: of the matching rules, those with the
  most non-empty network/area fields are kept.

If several rules remain (alternative products for the same leg), the cheapest product is
used, ties going to the earlier row. A ride no rule matches makes the fare unknown (the quote
total is None). Distance-based rules (`min_distance`/`max_distance`) and
`fare_leg_join_rules.txt` are not supported: ingest drops such rules with a warning.

**Timeframes** (`timeframes.txt`): a rule's timeframe group matches an event (boarding or
alighting) when one of the group's rows has `start_time <= time-of-day < end_time` (empty
start = 00:00:00, empty end = 24:00:00) and its `service_id` is active on the event's day.
Times are service-day seconds of the planner; the event's day is the service date plus
whole days past 24:00 (a 25:10 boarding is 01:10 on the next day). Which days a
`service_id` runs is given at build time from `calendar.txt` / `calendar_dates.txt`
(`service_dates`); a `service_id` with no known dates is treated as running every day, and
this is logged once when the system is built.

**Transfers** (`fare_transfer_rules.txt`): between consecutive rides whose leg rules have
leg groups, a transfer rule with exactly that `from_leg_group_id` -> `to_leg_group_id` is
looked for first; if none, an empty from/to field matches any group *not listed* in that
column. A ride whose matched leg rule has no `leg_group_id` takes part in no transfer. The
candidates are filtered by `duration_limit` (types 0..3: departure/arrival of the first leg
of the transfer sub-journey to departure/arrival of the current leg, inclusive; when the
same from/to rule is matched several times in a row the clock starts at the first matched
leg) and by `transfer_count` (-1 or empty = no limit; of several, the minimum count that is
>= the number of consecutive transfers so far); of what is left, the rule with the cheapest
transfer product. The cost then follows `fare_transfer_type`:

- 0: from-leg product + transfer product (A + AB): the to-leg's own product is not charged;
- 1: from-leg product + transfer product + to-leg product (A + AB + B);
- 2: transfer product only (AB): it replaces the from-leg's product when the from-leg
  started the sub-journey (was charged its own product); after an earlier transfer it is
  added to what was processed so far (S + BC), as in the reference's three-leg table.

An empty transfer `fare_product_id` costs 0. If no transfer rule matches, the rides are
priced separately. Each ride's `FareLine` carries what was charged on that ride, so the
lines always add up to the total.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pricing.errors import FareDataError
from pricing.fares import (
    KIND_V2,
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

log = logging.getLogger(__name__)

FARE_PRODUCTS: Final = "fare_products.txt"
FARE_LEG_RULES: Final = "fare_leg_rules.txt"
FARE_TRANSFER_RULES: Final = "fare_transfer_rules.txt"
TIMEFRAMES: Final = "timeframes.txt"
STOP_AREAS: Final = "stop_areas.txt"
ROUTE_NETWORKS: Final = "route_networks.txt"
ROUTES: Final = "routes.txt"
STOPS: Final = "stops.txt"
RIDER_CATEGORIES: Final = "rider_categories.txt"
#: columns without which a table cannot be read (others are optional or unused)
REQUIRED_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    FARE_PRODUCTS: ("fare_product_id", "amount", "currency"),
    FARE_LEG_RULES: ("fare_product_id",),
    FARE_TRANSFER_RULES: ("fare_transfer_type",),
    TIMEFRAMES: ("timeframe_group_id", "service_id"),
    STOP_AREAS: ("area_id", "stop_id"),
    ROUTE_NETWORKS: ("network_id", "route_id"),
    RIDER_CATEGORIES: ("rider_category_id",),
}
#: leg-rule columns this engine cannot evaluate; rules using them are dropped at build
UNSUPPORTED_LEG_COLUMNS: Final = ("min_distance", "max_distance", "distance_type")
#: version of the JSON layout written by `FaresV2.to_json`
JSON_FORMAT: Final = 1
_DAY_S: Final = 86_400


@dataclass(frozen=True, slots=True)
class FareProduct:
    """A fare product as priced for the default rider."""

    fare_product_id: str
    amount: Money
    name: str = ""


@dataclass(frozen=True, slots=True)
class LegRule:
    """One row of `fare_leg_rules.txt`; "" = field empty."""

    fare_product_id: str
    leg_group_id: str = ""
    network_id: str = ""
    from_area_id: str = ""
    to_area_id: str = ""
    from_timeframe_group_id: str = ""
    to_timeframe_group_id: str = ""
    rule_priority: int = 0


@dataclass(frozen=True, slots=True)
class TransferRule:
    """One row of `fare_transfer_rules.txt`; "" = field empty."""

    fare_transfer_type: int
    from_leg_group_id: str = ""
    to_leg_group_id: str = ""
    #: -1 or None = no limit
    transfer_count: int | None = None
    duration_limit_s: int | None = None
    #: 0..3, required when duration_limit_s is set
    duration_limit_type: int | None = None
    fare_product_id: str = ""


@dataclass(frozen=True, slots=True)
class Timeframe:
    """One row of `timeframes.txt`: [start_s, end_s) of the day on the service's days."""

    timeframe_group_id: str
    service_id: str
    start_s: int = 0
    end_s: int = _DAY_S


class _Leg:
    """What a ride matched: its leg rule and the product's price."""

    __slots__ = ("group", "price", "product_id")

    def __init__(self, rule: LegRule, price: Money) -> None:
        self.group = rule.leg_group_id
        self.product_id = rule.fare_product_id
        self.price = price


class FaresV2:
    """A compiled GTFS Fares v2 system (see the module docstring for the semantics)."""

    def __init__(
        self,
        products: Sequence[FareProduct],
        leg_rules: Sequence[LegRule],
        transfer_rules: Sequence[TransferRule] = (),
        timeframes: Sequence[Timeframe] = (),
        *,
        stop_areas: Mapping[str, Iterable[str]] | None = None,
        route_networks: Mapping[str, str] | None = None,
        service_dates: Mapping[str, Iterable[datetime.date]] | None = None,
        has_rule_priority: bool = False,
    ) -> None:
        if not products:
            raise FareDataError("no fare products: the table has no rows", file=FARE_PRODUCTS)
        self.currency: str = products[0].amount.currency
        self._products: dict[str, FareProduct] = {}
        for product in products:
            if product.amount.currency != self.currency:
                raise FareDataError(
                    f"product {product.fare_product_id!r} is priced in "
                    f"{product.amount.currency} but the first product in {self.currency}; "
                    "one fare system has one currency",
                    file=FARE_PRODUCTS,
                    field="currency",
                    value=product.amount.currency,
                )
            if product.fare_product_id in self._products:
                raise FareDataError(
                    f"duplicate fare_product_id {product.fare_product_id!r}",
                    file=FARE_PRODUCTS,
                    field="fare_product_id",
                )
            self._products[product.fare_product_id] = product
        groups_with_timeframes = {t.timeframe_group_id for t in timeframes}
        for rule in leg_rules:
            self._check_product(rule.fare_product_id, FARE_LEG_RULES)
            for tf in (rule.from_timeframe_group_id, rule.to_timeframe_group_id):
                if tf and tf not in groups_with_timeframes:
                    raise FareDataError(
                        f"timeframe group {tf!r} is not defined in {TIMEFRAMES}",
                        file=FARE_LEG_RULES,
                        field="from_timeframe_group_id/to_timeframe_group_id",
                        value=tf,
                    )
        for transfer in transfer_rules:
            if transfer.fare_product_id:
                self._check_product(transfer.fare_product_id, FARE_TRANSFER_RULES)
        self.products: tuple[FareProduct, ...] = tuple(products)
        self.leg_rules: tuple[LegRule, ...] = tuple(leg_rules)
        self.transfer_rules: tuple[TransferRule, ...] = tuple(transfer_rules)
        self.timeframes: tuple[Timeframe, ...] = tuple(timeframes)
        self.has_rule_priority = has_rule_priority
        self.stop_areas: dict[str, frozenset[str]] = {
            stop: frozenset(areas) for stop, areas in (stop_areas or {}).items()
        }
        self.route_networks: dict[str, str] = dict(route_networks or {})
        self.service_dates: dict[str, frozenset[datetime.date]] = {
            sid: frozenset(days) for sid, days in (service_dates or {}).items()
        }
        self._zero = Money.zero(self.currency)
        self._compile()

    def _check_product(self, product_id: str, file: str) -> None:
        if product_id not in self._products:
            raise FareDataError(
                f"fare_product_id {product_id!r} is not defined in {FARE_PRODUCTS}",
                file=file,
                field="fare_product_id",
                value=product_id,
            )

    def _compile(self) -> None:
        """Index rules so a quote looks at a handful of candidates per ride."""
        rules = self.leg_rules
        self._listed_networks = frozenset(r.network_id for r in rules if r.network_id)
        self._listed_from = frozenset(r.from_area_id for r in rules if r.from_area_id)
        self._listed_to = frozenset(r.to_area_id for r in rules if r.to_area_id)
        by_network: dict[str, list[tuple[int, LegRule]]] = defaultdict(list)
        for order, rule in enumerate(rules):
            by_network[rule.network_id].append((order, rule))
        self._rules_by_network = {k: tuple(v) for k, v in by_network.items()}
        frames: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for tf in self.timeframes:
            frames[tf.timeframe_group_id].append((tf.start_s, tf.end_s, tf.service_id))
        self._frames = {k: tuple(v) for k, v in frames.items()}
        unknown = sorted({tf.service_id for tf in self.timeframes} - set(self.service_dates))
        if unknown:
            log.warning(
                "fares v2: no calendar dates for timeframe service_ids %s; treating them as "
                "running every day",
                ", ".join(unknown[:10]),
            )
        by_pair: dict[tuple[str, str], list[TransferRule]] = defaultdict(list)
        for transfer in self.transfer_rules:
            by_pair[(transfer.from_leg_group_id, transfer.to_leg_group_id)].append(transfer)
        self._transfers_by_pair = {k: tuple(v) for k, v in by_pair.items()}
        self._listed_from_groups = frozenset(
            t.from_leg_group_id for t in self.transfer_rules if t.from_leg_group_id
        )
        self._listed_to_groups = frozenset(
            t.to_leg_group_id for t in self.transfer_rules if t.to_leg_group_id
        )

    # ---------------------------------------------------------------- construction helpers

    @classmethod
    def from_records(
        cls,
        fare_products: Sequence[Mapping[str, str]],
        fare_leg_rules: Sequence[Mapping[str, str]],
        fare_transfer_rules: Sequence[Mapping[str, str]] = (),
        timeframes: Sequence[Mapping[str, str]] = (),
        *,
        stop_areas: Sequence[Mapping[str, str]] = (),
        routes: Sequence[Mapping[str, str]] = (),
        route_networks: Sequence[Mapping[str, str]] = (),
        stops: Sequence[Mapping[str, str]] = (),
        rider_categories: Sequence[Mapping[str, str]] = (),
        service_dates: Mapping[str, Iterable[datetime.date]] | None = None,
        has_rule_priority: bool | None = None,
    ) -> FaresV2:
        """Build from the rows of the CSV files (dicts of str, in file order).

        `has_rule_priority` says whether `fare_leg_rules.txt` has a `rule_priority` column
        (inferred from the first row when None). Raises `FareDataError` naming file, row
        (the header is row 1) and field for malformed values and unknown references.
        """
        products = _parse_products(fare_products, rider_categories)
        if has_rule_priority is None:
            has_rule_priority = bool(fare_leg_rules) and "rule_priority" in fare_leg_rules[0]
        leg_rules: list[LegRule] = []
        known = {p.fare_product_id for p in products}
        for i, row in enumerate(fare_leg_rules):
            rule = _parse_leg_rule(row, i + 2, known)
            if rule is not None:
                leg_rules.append(rule)
        transfers = [
            _parse_transfer_rule(row, i + 2, known) for i, row in enumerate(fare_transfer_rules)
        ]
        frames = [_parse_timeframe(row, i + 2) for i, row in enumerate(timeframes)]
        return cls(
            products,
            leg_rules,
            transfers,
            frames,
            stop_areas=_stop_areas(stop_areas, stops),
            route_networks=_route_networks(routes, route_networks),
            service_dates=service_dates,
            has_rule_priority=has_rule_priority,
        )

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FaresV2:
        """Rebuild from `to_json` output."""
        if doc.get("kind") != KIND_V2 or doc.get("format") != JSON_FORMAT:
            raise FareDataError(
                f"expected kind {KIND_V2!r} format {JSON_FORMAT}, got kind {doc.get('kind')!r} "
                f"format {doc.get('format')!r}",
                field="kind",
            )
        currency = str(doc["currency"])
        return cls(
            [
                FareProduct(
                    str(p["fare_product_id"]),
                    Money(int(p["amount_minor"]), currency),
                    str(p.get("name", "")),
                )
                for p in doc["products"]
            ],
            [LegRule(**r) for r in doc["leg_rules"]],
            [TransferRule(**t) for t in doc.get("transfer_rules", ())],
            [Timeframe(**t) for t in doc.get("timeframes", ())],
            stop_areas={k: tuple(v) for k, v in doc.get("stop_areas", {}).items()},
            route_networks=dict(doc.get("route_networks", {})),
            service_dates={
                sid: [datetime.date.fromisoformat(d) for d in days]
                for sid, days in doc.get("service_dates", {}).items()
            },
            has_rule_priority=bool(doc.get("has_rule_priority", False)),
        )

    def to_json(self) -> dict[str, Any]:
        """The compiled tables as a JSON-ready document (`fare_system_from_json` reads it)."""
        return {
            "kind": KIND_V2,
            "format": JSON_FORMAT,
            "currency": self.currency,
            "has_rule_priority": self.has_rule_priority,
            "products": [
                {
                    "fare_product_id": p.fare_product_id,
                    "amount_minor": p.amount.amount_minor,
                    "name": p.name,
                }
                for p in self.products
            ],
            "leg_rules": [
                {
                    "fare_product_id": r.fare_product_id,
                    "leg_group_id": r.leg_group_id,
                    "network_id": r.network_id,
                    "from_area_id": r.from_area_id,
                    "to_area_id": r.to_area_id,
                    "from_timeframe_group_id": r.from_timeframe_group_id,
                    "to_timeframe_group_id": r.to_timeframe_group_id,
                    "rule_priority": r.rule_priority,
                }
                for r in self.leg_rules
            ],
            "transfer_rules": [
                {
                    "fare_transfer_type": t.fare_transfer_type,
                    "from_leg_group_id": t.from_leg_group_id,
                    "to_leg_group_id": t.to_leg_group_id,
                    "transfer_count": t.transfer_count,
                    "duration_limit_s": t.duration_limit_s,
                    "duration_limit_type": t.duration_limit_type,
                    "fare_product_id": t.fare_product_id,
                }
                for t in self.transfer_rules
            ],
            "timeframes": [
                {
                    "timeframe_group_id": t.timeframe_group_id,
                    "service_id": t.service_id,
                    "start_s": t.start_s,
                    "end_s": t.end_s,
                }
                for t in self.timeframes
            ],
            "stop_areas": {k: sorted(v) for k, v in sorted(self.stop_areas.items())},
            "route_networks": dict(sorted(self.route_networks.items())),
            "service_dates": {
                sid: [d.isoformat() for d in sorted(days)]
                for sid, days in sorted(self.service_dates.items())
            },
        }

    # ---------------------------------------------------------------------------- quoting

    def quote(self, rides: Sequence[RideFacts], *, service_date: datetime.date) -> FareQuote:
        """Price `rides` (travel order) with the leg and transfer rules (module docstring)."""
        n = len(rides)
        if n == 0:
            return FareQuote(self._zero, (), "no transit rides")
        legs: list[_Leg] = []
        for index, ride in enumerate(rides):
            leg = self._match_leg(ride, service_date)
            if leg is None:
                return FareQuote(None, (), f"no fare leg rule matches {describe_ride(index, ride)}")
            legs.append(leg)
        amounts = [0] * n
        fare_ids = [""] * n
        reasons = [""] * n
        fresh = [False] * n  # ride i was charged its own product, starting a sub-journey
        chain_pair: tuple[str, str] | None = None
        chain_start = 0
        chain_count = 0
        for i, leg in enumerate(legs):
            found = self._transfer(rides, legs, i, chain_pair, chain_start, chain_count)
            if found is None:
                amounts[i] = leg.price.amount_minor
                fare_ids[i] = leg.product_id
                reasons[i] = self._label(leg.product_id)
                fresh[i] = True
                chain_pair = None
                continue
            rule, start, count = found
            chain_pair = (rule.from_leg_group_id, rule.to_leg_group_id)
            chain_start, chain_count = start, count
            extra = self._products[rule.fare_product_id].amount if rule.fare_product_id else None
            extra_minor = extra.amount_minor if extra is not None else 0
            via = f"transfer from ride {i} ({legs[i - 1].group} -> {leg.group})"
            if rule.fare_transfer_type == 1:
                amounts[i] = extra_minor + leg.price.amount_minor
                fare_ids[i] = leg.product_id
                reasons[i] = f"{self._label(leg.product_id)} + {via}: {self._extra(rule)}"
            else:
                amounts[i] = extra_minor
                fare_ids[i] = rule.fare_product_id or fare_ids[i - 1]
                if rule.fare_transfer_type == 2 and fresh[i - 1]:
                    amounts[i - 1] = 0
                    reasons[i - 1] = (
                        f"replaced by the transfer product {rule.fare_product_id or '(free)'} "
                        f"charged on ride {i + 1}"
                    )
                    reasons[i] = f"{via} replaces ride {i}'s product: {self._extra(rule)}"
                elif extra_minor:
                    reasons[i] = f"{via}: {self._extra(rule)}"
                else:
                    reasons[i] = (
                        f"covered by a free {via}, transfers since {clock(rides[start].board_s)}"
                    )
            fresh[i] = False
        lines = tuple(
            FareLine(Money(a, self.currency), f, r)
            for a, f, r in zip(amounts, fare_ids, reasons, strict=True)
        )
        total = Money(sum(amounts), self.currency)
        paid = sum(1 for a in amounts if a)
        return FareQuote(total, lines, f"{n} ride(s), {paid} charged: {total}")

    def _label(self, product_id: str) -> str:
        product = self._products[product_id]
        return f"{product.name or product_id} {product.amount}"

    def _extra(self, rule: TransferRule) -> str:
        if not rule.fare_product_id:
            return "no transfer charge"
        return f"transfer product {self._label(rule.fare_product_id)}"

    def _match_leg(self, ride: RideFacts, service_date: datetime.date) -> _Leg | None:
        """The leg rule (and product) of one ride, or None when no rule matches."""
        from_areas = self.stop_areas.get(ride.board_stop_id, frozenset())
        to_areas = self.stop_areas.get(ride.alight_stop_id, frozenset())
        matches = [
            (self._rank(rule), order, rule)
            for order, rule in self._candidates(ride)
            if self._areas_match(rule, from_areas, to_areas)
            and self._times_match(rule, ride, service_date)
        ]
        if not matches:
            return None
        top = max(m[0] for m in matches)
        _, _, rule = min(
            (
                (self._products[r.fare_product_id].amount.amount_minor, o, r)
                for rank, o, r in matches
                if rank == top
            ),
            key=lambda m: (m[0], m[1]),
        )
        return _Leg(rule, self._products[rule.fare_product_id].amount)

    def _candidates(self, ride: RideFacts) -> tuple[tuple[int, LegRule], ...]:
        """(file order, rule) of the leg rules that may apply to the ride's network."""
        network = self.route_networks.get(ride.route_id, "")
        candidates = self._rules_by_network.get("", ())
        if not network:
            return candidates
        specific = self._rules_by_network.get(network, ())
        if not self.has_rule_priority and network in self._listed_networks:
            return specific  # an empty network_id excludes listed networks
        return (*specific, *candidates)

    def _areas_match(
        self, rule: LegRule, from_areas: frozenset[str], to_areas: frozenset[str]
    ) -> bool:
        """Whether the ride's board and alight areas fit the rule.

        Without rule priorities, an empty area matches only stops in no listed area.
        """
        priority = self.has_rule_priority
        if rule.from_area_id:
            if rule.from_area_id not in from_areas:
                return False
        elif not priority and from_areas and from_areas <= self._listed_from:
            return False
        if rule.to_area_id:
            return rule.to_area_id in to_areas
        return priority or not to_areas or not to_areas <= self._listed_to

    def _times_match(self, rule: LegRule, ride: RideFacts, service_date: datetime.date) -> bool:
        """Whether the ride boards and alights within the rule's timeframes (if it names any)."""
        if rule.from_timeframe_group_id and not self._in_timeframe(
            rule.from_timeframe_group_id, service_date, ride.board_s
        ):
            return False
        return not rule.to_timeframe_group_id or self._in_timeframe(
            rule.to_timeframe_group_id, service_date, ride.alight_s
        )

    def _rank(self, rule: LegRule) -> int:
        """How well a matching rule fits: its priority, else how specific it is."""
        if self.has_rule_priority:
            return rule.rule_priority
        return bool(rule.network_id) + bool(rule.from_area_id) + bool(rule.to_area_id)

    def _in_timeframe(self, group: str, service_date: datetime.date, time_s: int) -> bool:
        days, tod = divmod(time_s, _DAY_S)
        day = service_date + datetime.timedelta(days=days)
        for start_s, end_s, service_id in self._frames.get(group, ()):
            if not start_s <= tod < end_s:
                continue
            running = self.service_dates.get(service_id)
            if running is None or day in running:
                return True
        return False

    def _transfer(
        self,
        rides: Sequence[RideFacts],
        legs: Sequence[_Leg],
        i: int,
        chain_pair: tuple[str, str] | None,
        chain_start: int,
        chain_count: int,
    ) -> tuple[TransferRule, int, int] | None:
        """The transfer rule applied from ride i-1 to ride i, with its sub-journey start and
        transfer count; None when the rides are priced separately.
        """
        if i == 0:
            return None
        prev, cur = legs[i - 1].group, legs[i].group
        if not prev or not cur:
            return None
        candidates = self._transfers_by_pair.get((prev, cur), ())
        if not candidates:
            candidates = tuple(
                t
                for t in self.transfer_rules
                if (
                    t.from_leg_group_id == prev
                    or (not t.from_leg_group_id and prev not in self._listed_from_groups)
                )
                and (
                    t.to_leg_group_id == cur
                    or (not t.to_leg_group_id and cur not in self._listed_to_groups)
                )
            )
        usable: list[tuple[TransferRule, int, int]] = []
        for rule in candidates:
            pair = (rule.from_leg_group_id, rule.to_leg_group_id)
            if pair == chain_pair:
                start, count = chain_start, chain_count + 1
            else:
                start, count = i - 1, 1
            limit = rule.transfer_count
            if limit is not None and limit != -1 and count > limit:
                continue
            if rule.duration_limit_s is not None and (
                _elapsed(rides[start], rides[i], rule.duration_limit_type or 0)
                > rule.duration_limit_s
            ):
                continue
            usable.append((rule, start, count))
        if not usable:
            return None
        tightest = min(_count_key(u[0]) for u in usable)
        return min(
            (u for u in usable if _count_key(u[0]) == tightest),
            key=lambda u: (
                self._products[u[0].fare_product_id].amount.amount_minor
                if u[0].fare_product_id
                else 0
            ),
        )


def _count_key(rule: TransferRule) -> float:
    """Transfer count for "the minimum count that is still >= the current count"."""
    if rule.transfer_count is None or rule.transfer_count == -1:
        return float("inf")
    return rule.transfer_count


def _elapsed(first: RideFacts, last: RideFacts, limit_type: int) -> int:
    """Seconds between the sub-journey's first leg and the current leg, per duration_limit_type.

    0: departure -> arrival, 1: departure -> departure, 2: arrival -> departure,
    3: arrival -> arrival.
    """
    begin = first.board_s if limit_type in (0, 1) else first.alight_s
    end = last.alight_s if limit_type in (0, 3) else last.board_s
    return end - begin


# ------------------------------------------------------------------------------ parsing


def _parse_products(
    rows: Sequence[Mapping[str, str]], rider_categories: Sequence[Mapping[str, str]]
) -> list[FareProduct]:
    """One product per id, picking the default rider's row (module docstring)."""
    defaults = {
        field_text(c, "rider_category_id", RIDER_CATEGORIES, i + 2, required=True)
        for i, c in enumerate(rider_categories)
        if field_text(c, "is_default_fare_category", RIDER_CATEGORIES, i + 2) == "1"
    }
    chosen: dict[str, tuple[int, FareProduct]] = {}
    first_currency = ""
    for i, row in enumerate(rows):
        row_no = i + 2
        product_id = field_text(row, "fare_product_id", FARE_PRODUCTS, row_no, required=True)
        amount = field_money(row, "amount", "currency", FARE_PRODUCTS, row_no)
        if chosen and amount.currency != first_currency:
            raise FareDataError(
                f"{amount.currency} differs from the first product's {first_currency}; "
                "one fare system has one currency",
                file=FARE_PRODUCTS,
                row=row_no,
                field="currency",
                value=amount.currency,
            )
        first_currency = amount.currency
        category = field_text(row, "rider_category_id", FARE_PRODUCTS, row_no)
        preference = 0 if category in defaults else 1 if not category else 2
        product = FareProduct(
            product_id, amount, field_text(row, "fare_product_name", FARE_PRODUCTS, row_no)
        )
        if product_id not in chosen or preference < chosen[product_id][0]:
            chosen[product_id] = (preference, product)
    return [product for _, product in chosen.values()]


def _parse_leg_rule(row: Mapping[str, str], row_no: int, known: set[str]) -> LegRule | None:
    file = FARE_LEG_RULES
    product_id = field_text(row, "fare_product_id", file, row_no, required=True)
    if product_id not in known:
        raise FareDataError(
            f"fare_product_id {product_id!r} is not defined in {FARE_PRODUCTS}",
            file=file,
            row=row_no,
            field="fare_product_id",
            value=product_id,
        )
    unsupported = [c for c in UNSUPPORTED_LEG_COLUMNS if field_text(row, c, file, row_no)]
    if unsupported:
        log.warning(
            "%s row %d uses %s, which fairtrip cannot evaluate; rule dropped",
            file,
            row_no,
            ", ".join(unsupported),
        )
        return None
    priority = field_int(
        row,
        "rule_priority",
        file,
        row_no,
        expected="a non-negative integer",
        valid=lambda v: v >= 0,
    )
    return LegRule(
        fare_product_id=product_id,
        leg_group_id=field_text(row, "leg_group_id", file, row_no),
        network_id=field_text(row, "network_id", file, row_no),
        from_area_id=field_text(row, "from_area_id", file, row_no),
        to_area_id=field_text(row, "to_area_id", file, row_no),
        from_timeframe_group_id=field_text(row, "from_timeframe_group_id", file, row_no),
        to_timeframe_group_id=field_text(row, "to_timeframe_group_id", file, row_no),
        rule_priority=priority or 0,
    )


def _parse_transfer_rule(row: Mapping[str, str], row_no: int, known: set[str]) -> TransferRule:
    file = FARE_TRANSFER_RULES
    field_text(row, "fare_transfer_type", file, row_no, required=True)
    kind = field_int(
        row, "fare_transfer_type", file, row_no, expected="0, 1 or 2", valid=lambda v: 0 <= v <= 2
    )
    count = field_int(
        row,
        "transfer_count",
        file,
        row_no,
        expected="-1 (no limit) or a positive integer",
        valid=lambda v: v == -1 or v >= 1,
    )
    limit = field_int(
        row,
        "duration_limit",
        file,
        row_no,
        expected="a positive integer of seconds",
        valid=lambda v: v > 0,
    )
    limit_type = field_int(
        row,
        "duration_limit_type",
        file,
        row_no,
        expected="0, 1, 2 or 3",
        valid=lambda v: 0 <= v <= 3,
    )
    if limit is not None and limit_type is None:
        raise FareDataError(
            "duration_limit_type is required when duration_limit is set",
            file=file,
            row=row_no,
            field="duration_limit_type",
        )
    product_id = field_text(row, "fare_product_id", file, row_no)
    if product_id and product_id not in known:
        raise FareDataError(
            f"fare_product_id {product_id!r} is not defined in {FARE_PRODUCTS}",
            file=file,
            row=row_no,
            field="fare_product_id",
            value=product_id,
        )
    return TransferRule(
        fare_transfer_type=kind if kind is not None else 0,
        from_leg_group_id=field_text(row, "from_leg_group_id", file, row_no),
        to_leg_group_id=field_text(row, "to_leg_group_id", file, row_no),
        transfer_count=count,
        duration_limit_s=limit,
        duration_limit_type=limit_type,
        fare_product_id=product_id,
    )


def _seconds_of_day(raw: str, field: str, row_no: int) -> int:
    """`HH:MM:SS` (at most 24:00:00) in seconds."""
    parts = raw.split(":")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        h, m, s = (int(p) for p in parts)
        total = h * 3600 + m * 60 + s
        if m < 60 and s < 60 and total <= _DAY_S:
            return total
    raise FareDataError(
        f"{raw!r} is not a time of day HH:MM:SS between 00:00:00 and 24:00:00",
        file=TIMEFRAMES,
        row=row_no,
        field=field,
        value=raw,
    )


def _parse_timeframe(row: Mapping[str, str], row_no: int) -> Timeframe:
    group = field_text(row, "timeframe_group_id", TIMEFRAMES, row_no, required=True)
    service_id = field_text(row, "service_id", TIMEFRAMES, row_no, required=True)
    raw_start = field_text(row, "start_time", TIMEFRAMES, row_no)
    raw_end = field_text(row, "end_time", TIMEFRAMES, row_no)
    start = _seconds_of_day(raw_start, "start_time", row_no) if raw_start else 0
    end = _seconds_of_day(raw_end, "end_time", row_no) if raw_end else _DAY_S
    if start >= end:
        raise FareDataError(
            f"start_time {raw_start or '00:00:00'} is not before end_time {raw_end or '24:00:00'}",
            file=TIMEFRAMES,
            row=row_no,
            field="end_time",
            value=raw_end,
        )
    return Timeframe(group, service_id, start, end)


def _stop_areas(
    rows: Sequence[Mapping[str, str]], stops: Sequence[Mapping[str, str]]
) -> dict[str, set[str]]:
    """stop_id -> areas, with a station's areas given to platforms that have none."""
    areas: dict[str, set[str]] = defaultdict(set)
    for i, row in enumerate(rows):
        stop = field_text(row, "stop_id", STOP_AREAS, i + 2, required=True)
        areas[stop].add(field_text(row, "area_id", STOP_AREAS, i + 2, required=True))
    explicit = set(areas)
    for i, row in enumerate(stops):
        stop = field_text(row, "stop_id", STOPS, i + 2)
        parent = field_text(row, "parent_station", STOPS, i + 2)
        if stop and parent and parent in explicit and stop not in explicit:
            areas[stop] |= areas[parent]
    return dict(areas)


def _route_networks(
    routes: Sequence[Mapping[str, str]], route_networks: Sequence[Mapping[str, str]]
) -> dict[str, str]:
    """route_id -> network_id from `routes.network_id` and `route_networks.txt`."""
    networks: dict[str, str] = {}
    for i, row in enumerate(routes):
        network = field_text(row, "network_id", ROUTES, i + 2)
        if network:
            networks[field_text(row, "route_id", ROUTES, i + 2, required=True)] = network
    for i, row in enumerate(route_networks):
        route = field_text(row, "route_id", ROUTE_NETWORKS, i + 2, required=True)
        networks[route] = field_text(row, "network_id", ROUTE_NETWORKS, i + 2, required=True)
    return networks

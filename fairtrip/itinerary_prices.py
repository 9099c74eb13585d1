"""Prices on itineraries: the base fare of every leg and, under an active policy, its
adjustment, the final price and a reason a rider can read.

A fare often covers several rides (a zone ticket valid 80 minutes with transfers), so the
fare engine quotes the whole journey at once and says which ride buys the ticket and which
are covered. A policy acts on the price of the trip (what the city averages is a trip's
cost, not a leg's), and its adjustment is then shared out over the legs that carry a
charge, in proportion to their base price, so legs always add up to the itinerary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from fairtrip.fare_facts import RideFactsReader
from pricing.fares import FareQuote, FareSystem
from pricing.money import Money
from pricing.policy import Policy
from pricing.policy_apply import adjust_trip
from pricing.zones import ZoneLayer
from routing.journey import Journey

#: the mode family every public-transport leg belongs to, for policies
TRANSIT = "transit"


def money_json(m: Money | None) -> dict[str, Any] | None:
    """Money as the API shows it: exact minor units, the currency, and display text."""
    if m is None:
        return None
    return {"amount_minor": m.amount_minor, "currency": m.currency, "text": m.format()}


@dataclass(frozen=True)
class ActivePolicy:
    """The policy /plan applies: fully specified (any solved parameter filled in)."""

    policy: Policy
    zones: ZoneLayer
    solved: dict[str, Any] | None = None

    def classes(self, lat: tuple[float, float], lon: tuple[float, float]) -> tuple[str, str]:
        """Zone class ("central"/"peripheral", "" outside every zone) of origin and destination."""
        idx = self.zones.assign(
            np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        )
        o, d = self.zones.classes(idx).tolist()
        return str(o), str(d)


def share_out(total: int, weights: list[int]) -> list[int]:
    """Split integer `total` over `weights` proportionally; the parts add up exactly.

    Largest-remainder rounding, ties to the earlier leg: no cent is created or lost.
    """
    if not weights:
        return []
    w = [max(x, 0) for x in weights]
    if sum(w) == 0:
        w = [1] * len(w)
    s = sum(w)
    raw = [total * x / s for x in w]
    parts = [int(np.floor(r)) for r in raw]
    rest = total - sum(parts)
    order = sorted(range(len(w)), key=lambda i: (-(raw[i] - parts[i]), i))
    for i in order[:rest]:
        parts[i] += 1
    return parts


class ItineraryPricer:
    """Prices the itineraries of one plan (one service date, one timetable)."""

    def __init__(
        self,
        fares: FareSystem | None,
        facts: RideFactsReader,
        service_date: dt.date,
        active: ActivePolicy | None,
    ) -> None:
        self.fares = fares
        self.facts = facts
        self.service_date = service_date
        self.active = active
        #: zone classes of the plan's two ends: every itinerary of a plan shares them, so
        #: the zone lookup runs once per plan, not once per itinerary
        self._ends: dict[tuple[float, ...], tuple[str, str]] = {}
        # walk-only trips are priced in the fare currency (or the policy's, with no fares)
        self.currency = (
            fares.currency if fares is not None
            else active.policy.currency if active is not None else "EUR"
        )

    def quote(self, journey: Journey) -> FareQuote | None:
        """The journey's transit fare, or None when the network has no fare rules."""
        if self.fares is None:
            return None
        return self.fares.quote(self.facts.rides(journey), service_date=self.service_date)

    def price(
        self,
        journey: Journey,
        itinerary: dict[str, Any],
        *,
        origin: tuple[float, float],
        destination: tuple[float, float],
    ) -> None:
        """Add `price` to the itinerary and to each of its legs (in place)."""
        legs = itinerary["legs"]
        rides = [leg for leg in legs if "trip_id" in leg]
        quote = self.quote(journey) if rides else None
        if rides and (quote is None or quote.total is None):
            why = "this network publishes no fares" if quote is None else quote.reason
            for leg in legs:
                leg["price"] = _unknown(why) if "trip_id" in leg else _free(self.currency)
            itinerary["price"] = {**_unknown(why), "policy": None}
            return
        currency = quote.total.currency if quote is not None and quote.total else self.currency
        base_lines = list(quote.lines) if quote is not None else []
        base = quote.total if quote is not None and quote.total else Money.zero(currency)
        adjustment, policy_reason = self._policy(base, bool(rides), origin, destination)
        parts = share_out(adjustment, [line.amount.amount_minor for line in base_lines])
        k = 0
        for leg in legs:
            if "trip_id" not in leg:
                leg["price"] = _free(currency)
                continue
            line = base_lines[k]
            part = parts[k]
            k += 1
            reason = line.reason + (f"; {policy_reason}" if part and policy_reason else "")
            leg["price"] = {
                "base": money_json(line.amount),
                "adjustment": money_json(Money(part, currency)),
                "final": money_json(Money(line.amount.amount_minor + part, currency)),
                "fare_id": line.fare_id or None,
                "reason": reason,
            }
        final = Money(base.amount_minor + adjustment, currency)
        summary = quote.reason if quote is not None and rides else "walking only: free"
        itinerary["price"] = {
            "base": money_json(base),
            "adjustment": money_json(Money(adjustment, currency)),
            "final": money_json(final),
            "reason": summary + (f"; {policy_reason}" if policy_reason else ""),
            "policy": self._policy_ref(),
        }

    def _policy(
        self,
        base: Money,
        has_transit: bool,
        origin: tuple[float, float],
        destination: tuple[float, float],
    ) -> tuple[int, str]:
        """(adjustment in minor units, reason) of the active policy for this trip."""
        active = self.active
        if active is None or not has_transit or TRANSIT not in active.policy.mode_families:
            return 0, ""
        if active.policy.currency != base.currency:
            return 0, (
                f"policy {active.policy.id} is in {active.policy.currency}, fares are in "
                f"{base.currency}: not applied"
            )
        key = (*origin, *destination)
        if key not in self._ends:
            self._ends[key] = active.classes(
                (origin[0], destination[0]), (origin[1], destination[1])
            )
        o, d = self._ends[key]
        if not o or not d:
            end = "origin" if not o else "destination"
            return 0, f"policy {active.policy.id} not applied: the {end} is outside its zones"
        adj = adjust_trip(active.policy, base, origin_class=o, dest_class=d, mode_family=TRANSIT)
        change = adj.adjusted.amount_minor - base.amount_minor
        return change, f"policy {active.policy.id} v{active.policy.version}: {adj.reason}"

    def _policy_ref(self) -> dict[str, Any] | None:
        if self.active is None:
            return None
        p = self.active.policy
        return {"id": p.id, "version": p.version, "name": p.name}


def _free(currency: str) -> dict[str, Any]:
    zero = money_json(Money.zero(currency))
    return {"base": zero, "adjustment": zero, "final": zero, "fare_id": None,
            "reason": "walking is free"}


def _unknown(reason: str) -> dict[str, Any]:
    return {"base": None, "adjustment": None, "final": None, "fare_id": None,
            "reason": f"price unknown: {reason}"}

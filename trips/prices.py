"""Prices on itineraries: the base fare of every leg and, under an active policy, its
adjustment, the final price and a reason a rider can read.

A fare often covers several rides (a zone ticket valid 80 minutes with transfers), so the
fare engine quotes the whole journey at once and says which ride buys the ticket and which
are covered. A policy acts on the price of the trip (what the city averages is a trip's
cost, not a leg's), and its adjustment is then shared out over the legs that carry a
charge, in proportion to their base price, so legs always add up to the itinerary.

Shared-vehicle legs are priced one by one under the operator's GBFS pricing plan
(`pricing.rental.rental_price`: the vehicle's own plan, else its type's). The itinerary
total is the transit fare plus the rentals; the policy adjusts the transit part only (the
policies /plan applies are public-transport fare policies: their mode family is
"transit"), so a rental's adjustment is always 0. When any part has no price, or the parts
are in different currencies, the itinerary's price is unknown and the reason says why;
each leg keeps the price it has. The rider's own bike costs nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from pricing.fares import FareLine, FareQuote, FareSystem
from pricing.money import Money
from pricing.policy import Policy
from pricing.policy_apply import adjust_trip
from pricing.rental import rental_price
from pricing.zones import ZoneLayer
from routing.journey import Journey, Rental, Ride
from routing.journey import Leg as RouterLeg
from trips.fare_facts import RideFactsReader
from trips.model import ItineraryPrice, LegPrice, MoneyOut, PolicyRef

if TYPE_CHECKING:
    from trips.fleets import FleetView

#: the mode family every public-transport leg belongs to, for policies
TRANSIT = "transit"


def money_out(m: Money) -> MoneyOut:
    """Money as a rider sees it: exact minor units, the currency, and display text."""
    return MoneyOut(amount_minor=m.amount_minor, currency=m.currency, text=m.format())


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
        *,
        transit_pass: bool = False,
    ) -> None:
        self.fares = fares
        self.facts = facts
        self.service_date = service_date
        self.active = active
        #: the rider holds a period pass valid on every ride of this network (a season
        #: ticket, or a MaaS bundle that includes transit): rides then cost them nothing more
        self.transit_pass = transit_pass
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
        if self.transit_pass:
            currency = self.fares.currency if self.fares is not None else self.currency
            zero = Money.zero(currency)
            line = FareLine(zero, "transit-pass", "covered by your transit pass")
            lines = tuple(line for _ in journey.rides)
            return FareQuote(zero, lines, "transit pass: rides included")
        if self.fares is None:
            return None
        return self.fares.quote(self.facts.rides(journey), service_date=self.service_date)

    def price(
        self,
        journey: Journey,
        legs: Sequence[RouterLeg],
        *,
        origin: tuple[float, float],
        destination: tuple[float, float],
        fleets: Sequence[FleetView] = (),
    ) -> tuple[ItineraryPrice, list[LegPrice]]:
        """The itinerary's price and each leg's, in the order of `legs`.

        `legs` are the router legs of `journey` that are shown (walks of no duration may be
        left out; rides and rentals never are). `fleets` are the plan's fleets in the order
        `Rental.fleet` indexes them; they are needed only when the journey has rentals.
        """
        rentals = {id(r): self._rental(r, fleets) for r in legs if isinstance(r, Rental)}
        rental_parts = [part for _, part in rentals.values() if part is not None]
        rides = journey.rides
        quote = self.quote(journey) if rides else None
        if rides and (quote is None or quote.total is None):
            why = "this network publishes no fares" if quote is None else quote.reason
            unknown = [
                rentals[id(r)][0] if isinstance(r, Rental)
                else _unknown(why) if isinstance(r, Ride)
                else _free(self.currency)
                for r in legs
            ]
            return _unknown_total(why), unknown
        currency = quote.total.currency if quote is not None and quote.total else (
            next((m.currency for m, _ in rental_parts if m is not None), self.currency)
        )
        base_lines = list(quote.lines) if quote is not None else []
        base = quote.total if quote is not None and quote.total else Money.zero(currency)
        # a pass holder pays nothing per trip, so a per-trip policy has nothing to adjust
        has_fare = bool(rides) and not self.transit_pass
        adjustment, policy_reason = self._policy(base, has_fare, origin, destination)
        if policy_reason and rental_parts:
            policy_reason += " (on the transit fare only)"
        parts = share_out(adjustment, [line.amount.amount_minor for line in base_lines])
        line_of = {id(ride): k for k, ride in enumerate(rides)}
        prices: list[LegPrice] = []
        for r in legs:
            if isinstance(r, Rental):
                prices.append(rentals[id(r)][0])
            elif isinstance(r, Ride):
                k = line_of[id(r)]
                prices.append(_ride_price(base_lines[k], parts[k], currency, policy_reason))
            else:
                prices.append(_free(currency))
        return self._total(
            quote, rides, rental_parts, currency, base, adjustment, policy_reason, bool(rentals)
        ), prices

    def _total(
        self,
        quote: FareQuote | None,
        rides: Sequence[Ride],
        rental_parts: Sequence[tuple[Money | None, str]],
        currency: str,
        base: Money,
        adjustment: int,
        policy_reason: str,
        has_rentals: bool,
    ) -> ItineraryPrice:
        """The itinerary total: the transit fare plus the rentals, and the adjustment."""
        unknown = [why for money, why in rental_parts if money is None]
        if unknown:
            return _unknown_total("; ".join(unknown))
        other = sorted({m.currency for m, _ in rental_parts if m is not None} - {currency})
        if other:
            why = f"rentals are priced in {', '.join(other)}, the rest in {currency}: no total"
            return _unknown_total(why)
        base_minor = base.amount_minor + sum(
            m.amount_minor for m, _ in rental_parts if m is not None
        )
        summaries = [quote.reason] if quote is not None and rides else []
        summaries += [why for _, why in rental_parts]
        summary = "; ".join(summaries) or (
            "your own bike: free" if has_rentals else "walking only: free"
        )
        return ItineraryPrice(
            base=money_out(Money(base_minor, currency)),
            adjustment=money_out(Money(adjustment, currency)),
            final=money_out(Money(base_minor + adjustment, currency)),
            reason=summary + (f"; {policy_reason}" if policy_reason else ""),
            policy=self._policy_ref(),
        )

    def _rental(
        self, leg: Rental, fleets: Sequence[FleetView]
    ) -> tuple[LegPrice, tuple[Money | None, str] | None]:
        """(the leg's price, its part of the total: money or None when unknown, and why).

        The rider's own bike has no part: it is free and has no currency of its own.
        """
        if not 0 <= leg.fleet < len(fleets):
            why = f"rental of fleet {leg.fleet} but the pricer was given {len(fleets)} fleets"
            return _unknown(why), (None, why)
        view = fleets[leg.fleet]
        if view.provider_id is None:
            free = _free(self.currency)
            return msgspec.structs.replace(free, reason="your own bike is free"), None
        name = view.provider_name or view.provider_id
        plan = view.pickup_plan[leg.pickup]
        if plan is None:
            plan = view.pricing_plan
        if plan is None:
            why = f"{name} publishes no pricing plan for this vehicle"
            return _unknown(why), (None, why)
        q = rental_price(plan, duration_s=leg.duration_s, distance_m=leg.distance_m)
        zero = Money.zero(q.amount.currency)
        return LegPrice(
            base=money_out(q.amount),
            adjustment=money_out(zero),
            final=money_out(q.amount),
            fare_id=plan.id,
            reason=q.reason,
        ), (q.amount, f"{name}: {q.reason}")

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

    def _policy_ref(self) -> PolicyRef | None:
        if self.active is None:
            return None
        p = self.active.policy
        return PolicyRef(id=p.id, version=p.version, name=p.name)


def _ride_price(line: FareLine, part: int, currency: str, policy_reason: str) -> LegPrice:
    """A ride's fare line with its share `part` of the policy adjustment."""
    reason = line.reason + (f"; {policy_reason}" if part and policy_reason else "")
    return LegPrice(
        base=money_out(line.amount),
        adjustment=money_out(Money(part, currency)),
        final=money_out(Money(line.amount.amount_minor + part, currency)),
        fare_id=line.fare_id or None,
        reason=reason,
    )


def _free(currency: str) -> LegPrice:
    zero = money_out(Money.zero(currency))
    return LegPrice(base=zero, adjustment=zero, final=zero, reason="walking is free")


def _unknown(reason: str) -> LegPrice:
    return LegPrice(base=None, reason=f"price unknown: {reason}")


def _unknown_total(reason: str) -> ItineraryPrice:
    return ItineraryPrice(base=None, reason=f"price unknown: {reason}")

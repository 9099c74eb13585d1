"""Which itineraries a rider is shown: near-duplicates merged, the Pareto filter on
(time, price, transfers), the labels, and the order.

The chooser works on `Candidate`s: an itinerary with the numbers it is judged by (epoch
seconds, the final price in minor units, what it rides), worked out once when the candidate
is made, so nothing here reads the itinerary's display text back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from trips.model import LABELS, Choices, Itinerary, Label

#: what an itinerary rides: transit trips (id, start time, service date) and rentals
#: (mode, provider, station, vehicle); ("walk-only",) for a walk
Vehicles = tuple[tuple[str | None, ...], ...]


@dataclass(frozen=True, slots=True)
class Candidate:
    """An itinerary and what it is compared by."""

    itinerary: Itinerary
    depart_epoch: float
    arrive_epoch: float
    #: the final price's currency and minor units; ("", inf) when unknown
    currency: str
    price_minor: float
    vehicles: Vehicles

    @classmethod
    def of(cls, it: Itinerary, depart_epoch: float, arrive_epoch: float) -> Candidate:
        """A candidate for `it`, which departs and arrives at these epoch seconds."""
        final = it.price.final if it.price is not None else None
        return cls(
            itinerary=it,
            depart_epoch=depart_epoch,
            arrive_epoch=arrive_epoch,
            currency=final.currency if final is not None else "",
            price_minor=float(final.amount_minor) if final is not None else math.inf,
            vehicles=_vehicles(it),
        )

    @property
    def id(self) -> str:
        """The itinerary's id."""
        return self.itinerary.id

    @property
    def transfers(self) -> int:
        """Transit vehicle changes."""
        return self.itinerary.transfers

    @property
    def walk_m(self) -> float:
        """Metres walked."""
        return self.itinerary.walk_distance_m


def _vehicles(it: Itinerary) -> Vehicles:
    key: list[tuple[str | None, ...]] = []
    for leg in it.legs:
        if leg.trip_id is not None:
            key.append((leg.trip_id, leg.trip_start_time, leg.service_date))
        elif leg.rental is not None:
            r = leg.rental
            key.append((leg.mode, r.provider_id, r.station_id, r.vehicle_id))
    return tuple(key) or (("walk-only",),)


def _time(c: Candidate, arrive_by: bool) -> float:
    """The time to be early on: arrival, or for arrive-by the departure (later is better)."""
    return -c.depart_epoch if arrive_by else c.arrive_epoch


def _dominates(a: Candidate, b: Candidate, arrive_by: bool) -> bool:
    """`a` is no worse than `b` on time, price and transfers, and better on one of them.

    Prices in two different currencies are not compared: neither itinerary dominates.
    """
    if (
        a.currency != b.currency
        and math.isfinite(a.price_minor)
        and math.isfinite(b.price_minor)
    ):
        return False
    pa = (_time(a, arrive_by), a.price_minor, a.transfers)
    pb = (_time(b, arrive_by), b.price_minor, b.transfers)
    return all(x <= y for x, y in zip(pa, pb, strict=True)) and pa != pb


def _simpler_tie(a: Candidate, b: Candidate, arrive_by: bool) -> bool:
    """`a` ties with `b` on time, price and transfers and rides a strict subset of its vehicles."""
    if _dominates(a, b, arrive_by) or _dominates(b, a, arrive_by):
        return False
    when_a = a.depart_epoch if arrive_by else a.arrive_epoch
    when_b = b.depart_epoch if arrive_by else b.arrive_epoch
    if when_a != when_b or a.transfers != b.transfers:
        return False
    if (a.currency, a.price_minor) != (b.currency, b.price_minor):
        return False
    return set(a.vehicles) < set(b.vehicles)


def _winners(kept: Sequence[Candidate], arrive_by: bool) -> dict[Label, Candidate | None]:
    """The candidate that is best at each label; ties go to the earlier arriving one, then
    to the first in `kept`'s order.
    """
    order = {c.id: n for n, c in enumerate(kept)}

    def tie(c: Candidate) -> tuple[float, int]:
        return (c.arrive_epoch, order[c.id])

    priced = [c for c in kept if math.isfinite(c.price_minor)]
    currencies = {c.currency for c in priced}
    return {
        "fastest": min(kept, key=lambda c: (_time(c, arrive_by), *tie(c))),
        # with prices in several currencies there is no cheapest to name
        "cheapest": min(priced, key=lambda c: (c.price_minor, *tie(c)))
        if priced and len(currencies) == 1
        else None,
        "fewest_transfers": min(kept, key=lambda c: (c.transfers, *tie(c))),
        "least_walking": min(kept, key=lambda c: (c.walk_m, *tie(c))),
    }


def _label(
    kept: Sequence[Candidate], arrive_by: bool
) -> tuple[dict[str, list[Label]], Choices]:
    """{itinerary id: its labels} and the choices (label -> id)."""
    if not kept:
        return {}, Choices()
    labels: dict[str, list[Label]] = {c.id: [] for c in kept}
    chosen: dict[str, str | None] = {}
    winners = _winners(kept, arrive_by)
    for label in LABELS:
        winner = winners[label]
        chosen[label] = winner.id if winner is not None else None
        if winner is not None:
            labels[winner.id].append(label)
    return labels, Choices(**chosen)


@dataclass(frozen=True, slots=True)
class Chosen:
    """The candidates to show, in order, with their labels, and the labelled choices."""

    shown: list[Candidate]
    labels: dict[str, list[Label]]
    choices: Choices

    def itineraries(self) -> list[Itinerary]:
        """The shown itineraries with their labels set."""
        return [
            msgspec.structs.replace(c.itinerary, labels=self.labels.get(c.id, []))
            for c in self.shown
        ]


def choose(
    candidates: Sequence[Candidate], *, limit: int, arrive_by: bool, window: bool
) -> Chosen:
    """The itineraries worth showing, in the order a rider expects, and the labelled choices.

    1. Near-duplicates go: two itineraries that ride the very same vehicles (the same
       transit trips, and rentals from the same fleet and pickup) are one choice whatever
       the walking around them; the better one stays (earlier arrival, or later departure
       for arrive-by; then less walking).
    2. Depart-at and arrive-by: an itinerary is dropped when another is at least as good on
       arrival (departure, reversed, for arrive-by), final price (unknown counts as the
       highest) and transfers, and better on one of them (Pareto filter).
    3. Labels: fastest, cheapest, fewest_transfers, least_walking, each on one itinerary
       (ties to the earlier arriving). A labelled itinerary is kept even past `limit`; the
       other places go to the rest in order (by arrival for depart-at, latest departure
       first for arrive-by).

    A window query is a list of departures to pick from: no dominance across departures,
    ordered by departure and cut at `limit`; its labels are given among what is kept, so
    the list never grows past `limit`.
    """

    def better(c: Candidate) -> tuple[float, float, int, float]:
        return (_time(c, arrive_by), c.walk_m, c.transfers, c.price_minor)

    best: dict[Vehicles, Candidate] = {}
    for c in candidates:
        if c.vehicles not in best or better(c) < better(best[c.vehicles]):
            best[c.vehicles] = c
    kept = list(best.values())
    if window:
        kept.sort(key=lambda c: (c.depart_epoch, c.arrive_epoch, c.transfers))
        kept = kept[:limit]
        labels, choices = _label(kept, arrive_by)
        return Chosen(kept, labels, choices)
    kept = [c for c in kept if not any(_dominates(o, c, arrive_by) for o in kept)]
    # of two that tie on every criterion, one that takes every vehicle the other takes and
    # more (a one-minute bike ride to the same tram) is clutter: the simpler one stays
    kept = [c for c in kept if not any(_simpler_tie(o, c, arrive_by) for o in kept)]
    if arrive_by:
        kept.sort(key=lambda c: (-c.depart_epoch, c.transfers, c.arrive_epoch))
    else:
        kept.sort(key=lambda c: (c.arrive_epoch, c.transfers, c.walk_m))
    labels, choices = _label(kept, arrive_by)
    room = max(limit - sum(1 for c in kept if labels[c.id]), 0)
    shown = []
    for c in kept:
        if labels[c.id]:
            shown.append(c)
        elif room > 0:
            shown.append(c)
            room -= 1
    return Chosen(shown, labels, choices)

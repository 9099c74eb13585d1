"""A plan as readable text for a terminal (`fairtrip plan` without `--json`)."""

from __future__ import annotations

from trips.model import Leg, TripPlan


def _hhmm(iso: str) -> str:
    return iso[11:16]


def _minutes(seconds: int) -> int:
    return max(1, round(seconds / 60)) if seconds > 0 else 0


def _leg_line(leg: Leg) -> str:
    if leg.mode == "WALK":
        stop = f" [{leg.to.stop_id}]" if leg.to.stop_id is not None else ""
        return (
            f"  {_hhmm(leg.start)}  walk {leg.distance_m:.0f} m "
            f"({_minutes(leg.duration_s)} min) to {leg.to.name}{stop}"
        )
    if leg.rental is not None:
        who = leg.rental.provider_name or "your own"
        return (
            f"  {_hhmm(leg.start)}  {leg.mode.lower()} ({who}) "
            f"{leg.from_.name} -> {leg.to.name} {_hhmm(leg.end)} "
            f"({_minutes(leg.duration_s)} min, {leg.distance_m:.0f} m)"
        )
    route = leg.route.short_name or leg.route.long_name if leg.route is not None else ""
    return (
        f"  {_hhmm(leg.start)}  {leg.mode.lower()} {route} "
        f"towards {leg.headsign}: {leg.from_.name} "
        f"[{leg.from_.stop_id}] {_hhmm(leg.start)} -> {leg.to.name} "
        f"[{leg.to.stop_id}] {_hhmm(leg.end)} "
        f"({len(leg.intermediate_stops or [])} stops between)"
    )


def format_text(plan: TripPlan) -> str:
    """Readable itineraries: one line per itinerary (times, length, transfers, walking,
    price, labels), then one per leg.
    """
    if not plan.itineraries:
        return f"No itinerary: {plan.reason}\n"
    lines = []
    for n, it in enumerate(plan.itineraries, 1):
        transfers = it.transfers
        plural = "s" if transfers != 1 else ""
        final = it.price.final if it.price is not None else None
        price = f", {final.text}" if final is not None else ", price unknown"
        labels = f" [{', '.join(it.labels)}]" if it.labels else ""
        lines.append(
            f"Itinerary {n}: {_hhmm(it.start)} -> {_hhmm(it.end)} "
            f"({_minutes(it.duration_s)} min, {transfers} transfer{plural}, "
            f"walk {it.walk_distance_m:.0f} m{price}){labels}"
        )
        lines.extend(_leg_line(leg) for leg in it.legs)
        lines.append(f"  {_hhmm(it.end)}  arrive")
    lines.extend(f"Note: {note}" for note in plan.notes)
    return "\n".join(lines) + "\n"

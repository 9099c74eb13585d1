"""Evaluate cross-mode policies over every mode (issue 13): who pays what for *mobility*.

The transit evaluation (`evaluation.evaluate`) prices one fare per OD pair. A cross-mode
policy (`Policy.is_cross_mode`: one charge per trip, per-km averaging, a first/last-mile
credit, caps across modes) prices whole door-to-door options, so it is evaluated over the
options residents have. The pipeline, in the order it runs:

1. demand -> `evaluation.all_modes.all_mode_options`: every OD pair at 4 departures across the
   morning peak (45 and 15 minutes either side of the city's departure; the demand is shared
   between them, so results are averaged over the peak), every mode, priced by /plan's own
   pricer with the city's SYNTHETIC fleets -> a `pricing.options.OptionTable`;
2. the choice rule (`pricing.choice`; default: the logit with the currency's value of time)
   turns the options into the trips residents make;
3. per policy: its free parameter solved for revenue neutrality of the whole system
   (`pricing.cross_mode.solve_system`, every operator together, within 0.5 %), with residents
   re-choosing under the policy's prices by default;
4. metrics per scenario: mean cost per trip and per km for central and peripheral trips and
   the gap, the mode families' shares and prices, revenue, the money owed to each operator
   (`pricing.compensation`), the sensitivity of the gap's change to the choice rule, and per
   origin zone the change in cost;
5. a `pricing.mobility_doc.MobilityDoc` (`pricing.mobility_report` renders it as HTML).

Steps 2-5 are `evaluate_options`, pure arithmetic on a table (the tests build small ones by
hand); `run_mobility` adds step 1.

Trips are classed the way the cross-mode measures class them: *peripheral* when the origin or
the destination zone is peripheral, *central* when both are central. Points off the searched
streets are evaluated with estimated walks (`beyond_streets`), so the centre and the periphery
are measured by the same rule; no shared vehicle is reachable from such a point, and the
document says so (`coverage`) instead of leaving it to be discovered.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from pydantic import ValidationError

from evaluation.all_modes import AllModes, all_mode_options
from evaluation.evaluate import EvaluationError
from network.compiled import Network
from network.embedded import CITY_KEYS, city_of_manifest
from pricing.choice import Choice, ChoiceRule, LogitRule, choose, sensitivity_variants
from pricing.compensation import compensation_flows
from pricing.cross_mode import (
    NEUTRALITY_TOLERANCE,
    SystemSolution,
    class_gap,
    option_scope,
    solve_system,
)
from pricing.demand import Demand
from pricing.mobility_doc import MobilityDoc, mobility_error
from pricing.names import source_name
from pricing.neutrality import NeutralityError
from pricing.options import OPTION_FAMILIES, OptionTable
from pricing.policy import FirstLastMileCredit, Policy, status_quo
from pricing.zones import ZoneLayer
from providers.store import open_store
from providers.synthetic import embedded_synthetic_fleets, synthetic_snapshots
from trips.model import PLAN_MODES
from trips.request import TripRequest
from trips.service import PlanningService

log = logging.getLogger(__name__)

#: the departures evaluated, minutes from the city's departure (the middle of the peak)
PEAK_OFFSETS_MIN: Final[tuple[int, ...]] = (-45, -15, 15, 45)
#: how trips are classed (the rule `pricing.cross_mode` applies its measures by)
CLASS_RULE: Final = (
    "a trip is peripheral when its origin or destination zone is peripheral, central when "
    "both are central"
)

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class MobilitySettings:
    """What a planner tunes; recorded in the document so a result can be reproduced.

    `depart` is the middle of the peak; the departures are `depart` + `offsets_min`.
    `rechoose` lets residents re-choose under each policy's prices (the choice rule is the
    demand response); without it they keep the status quo's choices.
    """

    depart: dt.datetime
    rule: ChoiceRule = field(default_factory=LogitRule)
    rechoose: bool = True
    beyond_streets: bool = True
    offsets_min: tuple[int, ...] = PEAK_OFFSETS_MIN

    def departures(self) -> list[dt.datetime]:
        """The departures searched, in order."""
        return [self.depart + dt.timedelta(minutes=m) for m in sorted(self.offsets_min)]


@dataclass(frozen=True)
class Context:
    """What the document says around the scenarios: the inputs and what the search reached.

    `slot_on_streets` (per slot of the table) and `zone_on_streets` (zone id -> its point is
    on the streets) come from the search; a hand-made table may leave them empty.
    """

    network: Mapping[str, Any]
    demand: Mapping[str, Any]
    zones: ZoneLayer
    zones_source: str
    slot_on_streets: np.ndarray | None = None
    zone_on_streets: Mapping[str, bool] = field(default_factory=dict)
    left_out: Mapping[str, int] = field(default_factory=dict)
    timing_s: Mapping[str, float] = field(default_factory=dict)


# -- inputs ----------------------------------------------------------------------------------


def check_policies(policies: Sequence[Policy], currency: str) -> None:
    """Every policy is cross-mode and priced in `currency` (EvaluationError naming it)."""
    if not policies:
        raise EvaluationError("give at least one cross-mode policy to evaluate")
    for p in policies:
        if not p.is_cross_mode:
            raise EvaluationError(
                f"policy {p.id!r} prices one mode family's legs (a transit policy): evaluate it "
                "with the transit evaluation, not over every mode"
            )
        if p.currency != currency:
            raise EvaluationError(
                f"policy {p.id!r} prices in {p.currency}, but this city's fares and fleets are "
                f"in {currency}; use a copy of the policy in {currency} (the built-in cities' "
                "copies are in data/<city>/policies/)"
            )


def fleet_service(net: Network, *, now_s: int) -> PlanningService:
    """A warmed-up planning service on `net` with its city's SYNTHETIC fleets.

    Raises EvaluationError when the network is not a built-in city (no fleets are known for
    it) or its fleets give the planner no shared vehicle: an evaluation over every mode
    without vehicles would report the transit evaluation under another name.
    """
    city = city_of_manifest(net.manifest)
    if city is None:
        raise EvaluationError(
            f"network {net.name!r} is not one of the built-in cities ({', '.join(CITY_KEYS)}), "
            "so no shared-vehicle fleets are known for it; a cross-mode policy is evaluated "
            "over rentals too: evaluate it on --city " + " or --city ".join(CITY_KEYS)
        )
    if "walk" not in net.streets or "car" not in net.streets:
        raise EvaluationError(
            f"network {net.name!r} has street graphs {sorted(net.streets)}; its fleets need "
            "the walk and car graphs"
        )
    store = open_store("memory")
    for snapshot in synthetic_snapshots(embedded_synthetic_fleets(net, now_s=now_s), now_s):
        store.put_snapshot(snapshot)
    service = PlanningService(net)
    service.warm_up()
    fleets = service.rental_fleets
    if fleets is None:
        raise EvaluationError(f"network {net.name!r} has no rental search: no shared vehicles")
    fleets.refresh(store.fresh_snapshots(now_s))
    views, _ = fleets.current(frozenset(PLAN_MODES), now_s=now_s)
    if not any(v.provider_id is not None for v in views):
        raise EvaluationError(
            f"city {city.key}: no shared-vehicle fleet could be built for network {net.name!r}"
        )
    return service


def sample_zones(demand: Demand, zones: ZoneLayer, n: int) -> Demand:
    """Only the demand between `n` zones, half central and half peripheral, evenly spread
    over each class's zones in layer order: a bounded run for tests and quick checks.
    """
    if n < 2:
        raise EvaluationError(f"sample of {n} zones; expected at least 2 (one of each class)")
    present = set(demand.origin_id.tolist()) | set(demand.dest_id.tolist())
    chosen: set[str] = set()
    for cls, k in (("central", (n + 1) // 2), ("peripheral", n // 2)):
        ids = [z.zone_id for z in zones.zones if z.zone_class == cls and z.zone_id in present]
        if ids:
            picks = np.unique(np.linspace(0, len(ids) - 1, min(k, len(ids))).round().astype(int))
            chosen |= {ids[i] for i in picks.tolist()}
    keep = np.isin(demand.origin_id, list(chosen)) & np.isin(demand.dest_id, list(chosen))
    if not keep.any():
        raise EvaluationError(f"no demand between the {n} sampled zones")
    columns = {
        f.name: getattr(demand, f.name)[keep]
        for f in dataclasses.fields(demand)
        if isinstance(getattr(demand, f.name), np.ndarray)
    }
    return dataclasses.replace(demand, **columns)


# -- the run ---------------------------------------------------------------------------------


def run_mobility(
    net: Network,
    demand: Demand,
    zones: ZoneLayer,
    policies: Sequence[Policy],
    settings: MobilitySettings,
    *,
    zones_source: str,
    service: PlanningService | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Search every mode for `demand` and evaluate `policies` (see the module docstring).

    `service` (a warmed-up service with fleets) is built with the city's SYNTHETIC fleets
    when not given. Returns the JSON-ready `MobilityDoc`.
    """
    started = time.perf_counter()
    if service is None:
        service = fleet_service(net, now_s=int(time.time()))
    date, key, _ = service.resolve(settings.depart)
    check_policies(policies, service.pricer(date, key).currency)
    departures = settings.departures()
    template = TripRequest(0.0, 0.0, 0.0, 0.0, at=departures[0], modes=frozenset(PLAN_MODES))

    def step(done: int, total: int) -> None:
        if progress is not None:
            progress("routing", done / max(total, 1))

    modes: AllModes = all_mode_options(
        service, template, demand, zones, departures,
        beyond_streets=settings.beyond_streets, progress=step,
    )
    context = Context(
        network={
            "name": net.name,
            "service_date": date,
            "departures_local": [
                d.astimezone(net.timezone).strftime("%H:%M") for d in departures
            ],
            "timezone": str(net.timezone),
        },
        demand={
            "source": source_name(demand.source),
            "synthetic": demand.synthetic,
            "pairs": len(demand),
            "trips": float(demand.trips.sum()),
            "note": "SYNTHETIC demand: a gravity model, not observed trips"
            if demand.synthetic else "",
        },
        zones=zones,
        zones_source=zones_source,
        slot_on_streets=modes.slot_on_streets,
        zone_on_streets=modes.zone_on_streets,
        left_out=modes.left_out,
        timing_s={"routing": modes.seconds},
    )
    doc = evaluate_options(modes.table, policies, settings, context, progress=progress)
    doc["timing_s"]["total"] = round(time.perf_counter() - started, 3)
    return doc


def evaluate_options(
    table: OptionTable,
    policies: Sequence[Policy],
    settings: MobilitySettings,
    context: Context,
    *,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The mobility document of `policies` on a table of options: status quo first.

    Raises EvaluationError when a policy is not cross-mode or not in the table's currency,
    when no trip has an option, or when a result does not fit the document's format.
    """
    started = time.perf_counter()
    check_policies(policies, table.currency)
    base = _Base(table, settings.rule)
    if not base.choice.weights.sum() > 0:
        raise EvaluationError("no trip of the demand has any option: nothing to evaluate")
    scenarios = [_status_quo(base)]
    for i, policy in enumerate(policies):
        scenarios.append(_scenario(base, policy, settings))
        if progress is not None:
            progress("policies", (i + 1) / len(policies))
    timing = {k: round(float(v), 3) for k, v in context.timing_s.items()}
    timing["policies"] = round(time.perf_counter() - started, 3)
    try:
        doc = MobilityDoc(
            generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            synthetic_note=table.synthetic_note,
            network=dict(context.network),
            demand=dict(context.demand),
            settings=_settings(table, settings),
            coverage=_coverage(table, context),
            zones={
                "source": source_name(context.zones_source),
                "geojson": context.zones.to_geojson(),
            },
            timing_s=timing,
            scenarios=scenarios,
        )
    except ValidationError as exc:
        raise EvaluationError(str(mobility_error(exc))) from exc
    return doc.to_document()


def _settings(table: OptionTable, settings: MobilitySettings) -> dict[str, Any]:
    rule = settings.rule
    return {
        "currency": table.currency,
        "rule": rule.describe(table.currency),
        "rule_name": rule.name,
        "value_of_time_minor_per_h": rule.value_of_time(table.currency)
        if isinstance(rule, LogitRule) else None,
        "rechoose": settings.rechoose,
        "beyond_streets": settings.beyond_streets,
        "class_rule": CLASS_RULE,
        "neutrality_tolerance": NEUTRALITY_TOLERANCE,
    }


# -- metrics ---------------------------------------------------------------------------------


class _Base:
    """The status quo on a table: base prices, the rule's choice, the classes of options."""

    def __init__(self, table: OptionTable, rule: ChoiceRule) -> None:
        self.table = table
        self.rule = rule
        self.price = table.price_minor
        self.choice = choose(table, rule)
        self.peripheral = table.touches_periphery()
        self.km = table.distance_m.astype(np.float64) / 1000.0
        self.zone = table.slots.origin_zone[table.slot]
        self.gap = class_gap(table, self.price, self.choice.weights)
        self.zone_means = _zone_means(self.zone, self.price, self.km, self.choice.weights)


def _mean(
    values: np.ndarray, weights: np.ndarray, denominator: np.ndarray | None = None
) -> float | None:
    """sum(w v) / sum(w d) (d = 1 by default); None when the denominator is 0."""
    below = float(weights.sum()) if denominator is None else float(np.dot(weights, denominator))
    if below <= 0.0:
        return None
    return float(np.dot(weights, values.astype(np.float64))) / below


def _by_class(base: _Base, price: np.ndarray, w: np.ndarray, per_km: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, mask in (
        ("central", ~base.peripheral),
        ("peripheral", base.peripheral),
        ("all", np.ones_like(base.peripheral)),
    ):
        out[label] = _mean(price[mask], w[mask], base.km[mask] if per_km else None)
    return out


def _gap(means: Mapping[str, float | None]) -> float | None:
    central, peripheral = means["central"], means["peripheral"]
    return None if central is None or peripheral is None else peripheral - central


def _families(base: _Base, price: np.ndarray, w: np.ndarray) -> list[dict[str, Any]]:
    table = base.table
    total = float(w.sum())
    central_total = float(w[~base.peripheral].sum())
    peripheral_total = float(w[base.peripheral].sum())
    rows = []
    for family in OPTION_FAMILIES:
        mask = table.family == family
        trips = float(w[mask].sum())
        rows.append({
            "family": family,
            "trips": trips,
            "share": trips / total if total else 0.0,
            "share_central": float(w[mask & ~base.peripheral].sum()) / central_total
            if central_total else 0.0,
            "share_peripheral": float(w[mask & base.peripheral].sum()) / peripheral_total
            if peripheral_total else 0.0,
            "mean_price_minor": _mean(price[mask], w[mask]),
        })
    return rows


def _zone_means(
    zone: np.ndarray, price: np.ndarray, km: np.ndarray, w: np.ndarray
) -> dict[str, tuple[float, float, float | None]]:
    """Origin zone -> (trips, mean cost per trip, mean cost per km)."""
    ids, index = np.unique(zone.astype(str), return_inverse=True)
    trips = np.bincount(index, weights=w, minlength=len(ids))
    paid = np.bincount(index, weights=w * price.astype(np.float64), minlength=len(ids))
    dist = np.bincount(index, weights=w * km, minlength=len(ids))
    out: dict[str, tuple[float, float, float | None]] = {}
    for i, zone_id in enumerate(ids.tolist()):
        if trips[i] > 0:
            out[zone_id] = (
                float(trips[i]),
                float(paid[i] / trips[i]),
                float(paid[i] / dist[i]) if dist[i] > 0 else None,
            )
    return out


def _zones(base: _Base, price: np.ndarray, w: np.ndarray) -> list[dict[str, Any]]:
    now = _zone_means(base.zone, price, base.km, w)
    classes = dict(zip(base.table.slots.origin_zone.tolist(),
                       base.table.slots.origin_class.tolist(), strict=True))
    rows = []
    for zone_id in sorted(now):
        trips, per_trip, per_km = now[zone_id]
        before = base.zone_means.get(zone_id)
        rows.append({
            "zone_id": zone_id,
            "class": classes[zone_id],
            "trips": trips,
            "cost_per_trip_minor": per_trip,
            "change_per_trip_minor": per_trip - before[1] if before else 0.0,
            "cost_per_km_minor": per_km,
            "change_per_km_minor": per_km - before[2]
            if before and per_km is not None and before[2] is not None else None,
        })
    return rows


def _metrics(base: _Base, price: np.ndarray, choice: Choice) -> dict[str, Any]:
    """The measures every scenario reports, for prices `price` and the trips of `choice`."""
    w = choice.weights
    per_trip = _by_class(base, price, w, per_km=False)
    per_km = _by_class(base, price, w, per_km=True)
    revenue = float(np.dot(w, price.astype(np.float64)))
    revenue_base = float(np.dot(base.choice.weights, base.price.astype(np.float64)))
    return {
        "revenue_minor": round(revenue),
        "revenue_change": (revenue - revenue_base) / revenue_base if revenue_base else 0.0,
        "trips": float(w.sum()),
        "cost_per_trip_minor": per_trip,
        "cost_per_km_minor": per_km,
        "gap_per_trip_minor": _gap(per_trip),
        "gap_per_km_minor": _gap(per_km),
        "families": _families(base, price, w),
        "zones": _zones(base, price, w),
    }


def _status_quo(base: _Base) -> dict[str, Any]:
    sq = status_quo(base.table.currency)
    return {
        "policy_id": sq.id,
        "version": sq.version,
        "name": sq.name,
        "measures": sq.describe(),
        "solved": None,
        "neutral": None,
        **_metrics(base, base.price, base.choice),
        "flows": [],
        "pool_net_minor": None,
        "sensitivity": [],
        "unchanged": None,
        "rechoose": False,
        "note": "",
    }


def _solve(policy: Policy, base: _Base, rule: ChoiceRule, rechoose: bool) -> SystemSolution:
    return solve_system(policy, base.table, rule, rechoose=rechoose)


def _solved_scenario(
    base: _Base, policy: Policy, settings: MobilitySettings
) -> tuple[SystemSolution, str]:
    """The policy solved with re-choice when asked; when no value reaches neutrality that
    way (residents leave the options the free parameter prices faster than it raises
    revenue), solved again with the status quo's choices, and the note says so.
    """
    try:
        return _solve(policy, base, settings.rule, settings.rechoose), ""
    except NeutralityError as exc:
        if not settings.rechoose:
            raise EvaluationError(f"policy {policy.id!r}: {exc}") from exc
        log.warning("policy %s: %s; solving with fixed choices", policy.id, exc)
        note = (
            f"With residents re-choosing, no value of the free parameter keeps the whole "
            f"system revenue-neutral ({exc}); it is solved with residents keeping the status "
            "quo's choices instead, so this scenario shows no shift between modes."
        )
    try:
        return _solve(policy, base, settings.rule, False), note
    except NeutralityError as exc:
        raise EvaluationError(f"policy {policy.id!r}: {exc}") from exc


def _scenario(base: _Base, policy: Policy, settings: MobilitySettings) -> dict[str, Any]:
    solution, note = _solved_scenario(base, policy, settings)
    flows = compensation_flows(
        base.table,
        solution.price_minor,
        weights_base=solution.base_choice.weights,
        weights=solution.choice.weights,
    )
    solved = None
    if solution.parameter is not None and solution.value is not None:
        solved = {
            "parameter": solution.parameter,
            "value": solution.value,
            "residual": solution.residual,
            "iterations": solution.iterations,
        }
    return {
        "policy_id": policy.id,
        "version": policy.version,
        "name": policy.name,
        "measures": policy.describe(),
        "solved": solved,
        "neutral": solution.neutral if policy.revenue_neutral else None,
        **_metrics(base, solution.price_minor, solution.choice),
        "flows": [dataclasses.asdict(f) for f in flows.flows],
        "pool_net_minor": flows.pool_net_minor,
        "sensitivity": _sensitivity(base, policy, settings, solution),
        "unchanged": _unchanged(base, policy, solution.price_minor),
        "rechoose": solution.rechoose,
        "note": note,
    }


def _sensitivity(
    base: _Base, policy: Policy, settings: MobilitySettings, stated: SystemSolution
) -> list[dict[str, Any]]:
    """The policy solved again under each variant of the rule (`pricing.choice`): the gap
    per trip before and after, and whether it moves the way it does under the stated rule.
    """
    table = base.table
    rows: list[dict[str, Any]] = []
    direction: float | None = None
    sign_after: float | None = None
    for variant in sensitivity_variants(settings.rule, table.currency):
        try:
            sol = stated if variant.label == "as stated" else _solve(
                policy, base, variant.rule, stated.rechoose
            )
        except NeutralityError as exc:
            rows.append({
                "label": variant.label, "rule": variant.rule.describe(table.currency),
                "value": None, "residual": None, "gap_before_minor": None,
                "gap_after_minor": None, "gap_change_minor": None, "same_direction": None,
                "same_sign_after": None, "note": str(exc),
            })
            continue
        before = _finite(class_gap(table, table.price_minor, sol.base_choice.weights))
        after = _finite(class_gap(table, sol.price_minor, sol.choice.weights))
        change = None if before is None or after is None else after - before
        if variant.label == "as stated":
            direction = None if change is None else float(np.sign(change))
            sign_after = None if after is None else float(np.sign(after))
        same = None
        if change is not None and direction is not None and (direction or np.sign(change)):
            same = bool(np.sign(change) == direction)
        same_sign = None if after is None or sign_after is None else bool(
            np.sign(after) == sign_after
        )
        rows.append({
            "label": variant.label,
            "rule": variant.rule.describe(table.currency),
            "value": sol.value,
            "residual": sol.residual,
            "gap_before_minor": before,
            "gap_after_minor": after,
            "gap_change_minor": change,
            "same_direction": same,
            "same_sign_after": same_sign,
        })
    return rows


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _unchanged(base: _Base, policy: Policy, price: np.ndarray) -> dict[str, Any]:
    """How many options the policy reprices and, when it reprices none, why."""
    table = base.table
    scope = option_scope(policy, table)
    repriced = int((price != table.price_minor).sum())
    reason = None
    if repriced == 0:
        reason = _why_unchanged(base, policy, scope)
    return {
        "options_in_scope": int(scope.sum()),
        "options_repriced": repriced,
        "reason": reason,
    }


def _why_unchanged(base: _Base, policy: Policy, scope: np.ndarray) -> str:
    table = base.table
    if not scope.any():
        return (
            "no option of this demand is paid entirely to operators of the policy's mode "
            f"families ({', '.join(policy.mode_families)}), so the policy prices none of them"
        )
    if any(isinstance(m, FirstLastMileCredit) for m in policy.measures):
        credited = scope & base.peripheral & (table.access_minor() > 0)
        if not credited.any():
            return (
                "no trip with a peripheral end has a shared-vehicle first or last mile to "
                "transit among its options, so there is nothing to credit, and the central "
                "surcharge that would fund the credit solves to zero"
            )
    return "the policy's prices equal today's for every option of this demand"


# -- coverage --------------------------------------------------------------------------------


def _coverage(table: OptionTable, context: Context) -> dict[str, Any]:
    slots = table.slots
    peripheral_slot = slots.touches_periphery()
    served = np.zeros(len(slots), dtype=bool)
    served[table.slot] = True
    off = (
        ~np.asarray(context.slot_on_streets, dtype=bool)
        if context.slot_on_streets is not None else np.zeros(len(slots), dtype=bool)
    )
    points = _zone_points(context)
    vehicles = _vehicle_reach(table, peripheral_slot)
    coverage = {
        "slots": len(slots),
        "central_slots": int((~peripheral_slot).sum()),
        "peripheral_slots": int(peripheral_slot.sum()),
        "slots_without_options": int((~served).sum()),
        "trips_without_options": float(slots.trips[~served].sum()),
        "slots_off_streets": int(off.sum()),
        "trips_off_streets": float(slots.trips[off].sum()),
        "zone_points": points,
        "vehicles": vehicles,
        "left_out": dict(context.left_out),
        "free_rental_options": int(
            (np.isin(table.family, ["rental", "rental_transit"])
             & (table.kind_minor("rental") == 0)).sum()
        ),
    }
    coverage["notes"] = _coverage_notes(coverage)
    return coverage


def _zone_points(context: Context) -> list[dict[str, Any]]:
    if not context.zone_on_streets:
        return []
    out = []
    for cls in ("central", "peripheral"):
        ids = [z.zone_id for z in context.zones.zones
               if z.zone_class == cls and z.zone_id in context.zone_on_streets]
        out.append({
            "class": cls,
            "zones": len(ids),
            "on_streets": sum(bool(context.zone_on_streets[i]) for i in ids),
        })
    return out


def _vehicle_reach(table: OptionTable, peripheral_slot: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    for vehicle in sorted(set(table.vehicles.tolist()) - {"transit"}):
        riding = table.parts_sum((table.vehicles == vehicle).astype(np.int64)) > 0
        with_vehicle = np.zeros(len(table.slots), dtype=bool)
        with_vehicle[table.slot[riding]] = True
        whole_way = np.zeros(len(table.slots), dtype=bool)
        whole_way[table.slot[riding & (table.family == "rental")]] = True
        rows.append({
            "vehicle": vehicle,
            "central_slots": int((with_vehicle & ~peripheral_slot).sum()),
            "peripheral_slots": int((with_vehicle & peripheral_slot).sum()),
            "peripheral_whole_way_slots": int((whole_way & peripheral_slot).sum()),
        })
    return rows


def _coverage_notes(c: Mapping[str, Any]) -> list[str]:
    """The facts a reader must know before the results, one plain sentence each."""
    notes = []
    for p in c["zone_points"]:
        if p["zones"] and p["on_streets"] < p["zones"]:
            notes.append(
                f"{p['zones'] - p['on_streets']} of the {p['zones']} {p['class']} zone points "
                "lie off the searched streets: from and to them only walking and walk + transit "
                "are searched (walks estimated as the straight line x 1.3), and no shared "
                "vehicle can be reached there."
            )
    if c["peripheral_slots"]:
        absent = [v["vehicle"] for v in c["vehicles"] if v["peripheral_whole_way_slots"] == 0]
        if absent:
            notes.append(
                f"No {', '.join(absent)} trip the whole way has a peripheral end: these "
                "vehicles do not reach any peripheral zone in this evaluation; where a trip with "
                "a peripheral end uses one, it is ridden at the central end, to or from transit."
            )
    if c["free_rental_options"]:
        notes.append(
            f"{c['free_rental_options']} options ride a shared vehicle for free (a city-bike "
            "ride within its included time, say): no operator is paid for that ride, so it is "
            "not in the vehicle table below and no cross-mode measure prices it."
        )
    if c["slots_without_options"]:
        notes.append(
            f"{c['slots_without_options']} of {c['slots']} trip slots "
            f"({c['trips_without_options']:.0f} trips) have no option at all and are left out "
            "of every mean."
        )
    if c["slots_off_streets"]:
        notes.append(
            f"{c['slots_off_streets']} of {c['slots']} trip slots have an end off the streets; "
            "their options are estimated, not what /plan would answer."
        )
    return notes

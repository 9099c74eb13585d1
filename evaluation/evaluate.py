"""Evaluate fare policies for planners: who pays what, before a city adopts a policy.

The pipeline, in the order it runs:

1. demand (OD table) -> unique origin and destination points, and the zone of each;
2. `evaluation.od_matrix`: travel time and base fare for every origin x destination (one
   RAPTOR run per origin), which also feeds accessibility;
3. per policy: the free parameter solved for revenue neutrality on this demand
   (`pricing.neutrality`), new prices for every trip (`pricing.policy_apply`);
4. metrics per scenario (`pricing.metrics`), side by side with the status quo;
5. a JSON document, built as a `pricing.evaluation_doc.EvaluationDoc` (the format
   `pricing.report` reads back and renders into the offline HTML report).

Residents are classed by their trip's origin zone. Distribution metrics (Gini, Theil,
Suits, affordability) weight each trip by its demand before any price response; revenue uses
the demand after the response when the policy sets an elasticity.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from evaluation.od_matrix import ODMatrix, od_matrix
from network.compiled import Network
from pricing import metrics
from pricing.demand import Demand
from pricing.errors import PricingError
from pricing.evaluation_doc import EvaluationDoc, Scenario, document_error
from pricing.names import source_name
from pricing.neutrality import demand_response, solve_revenue_neutral
from pricing.policy import Policy, status_quo
from pricing.policy_apply import TripArrays, apply_policy
from pricing.zones import ZoneLayer

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

#: the mode family of trips best walked: no policy in the transit family touches them
WALK = "walk"

Progress = Callable[[str, float], None]


class EvaluationError(PricingError, ValueError):
    """The inputs cannot be evaluated together (named: which input and why)."""


@dataclass(frozen=True)
class EvaluationSettings:
    """What a planner tunes; recorded in the output so a result can be reproduced."""

    depart: dt.datetime
    access_time_max_min: float = 30.0
    access_price_max_minor: int = 300
    trips_per_month: float = 40.0
    affordability_threshold: float = 0.10
    max_walk_m: float = 1000.0


@dataclass
class BaseCosts:
    """The status quo for one demand on one network: computed once, reused by every policy
    (and by /policies activation, which solves against it).
    """

    demand: Demand
    zones: ZoneLayer
    matrix: ODMatrix
    row_o: np.ndarray  # demand row -> matrix origin index
    row_d: np.ndarray  # demand row -> matrix destination index
    origin_zone: np.ndarray  # demand row -> zone index (-1 outside)
    origin_class: np.ndarray
    dest_class: np.ndarray
    keep: np.ndarray  # rows with a known price and a way to travel
    matrix_o_zone: np.ndarray  # matrix origin -> zone index (-1 outside)
    matrix_d_zone: np.ndarray  # matrix destination -> zone index
    timing_s: dict[str, float] = field(default_factory=dict)
    #: what every scenario reads the same, built on first use (TripArrays are read-only):
    #: at New York's 4M pairs each build costs seconds
    _trips: TripArrays | None = field(default=None, init=False, repr=False, compare=False)
    _matrix_trips: TripArrays | None = field(default=None, init=False, repr=False, compare=False)

    def trip_arrays(self) -> TripArrays:
        """The kept demand rows as the policy engine reads them."""
        if self._trips is None:
            m, k = self.matrix, self.keep
            o, d = self.row_o[k], self.row_d[k]
            self._trips = TripArrays(
                base_price_minor=m.price_minor[o, d].astype(np.int64),
                origin_class=self.origin_class[k],
                dest_class=self.dest_class[k],
                mode_family=np.where(m.is_transit[o, d], "transit", WALK),
                trips=self.demand.trips[k],
            )
        return self._trips

    def matrix_trip_arrays(self) -> TripArrays:
        """Every origin x destination of the matrix, one trip each, as the policy engine
        reads them (row-major): what accessibility prices under each policy.
        """
        if self._matrix_trips is None:
            m = self.matrix
            n_o, n_d = m.price_minor.shape
            self._matrix_trips = TripArrays(
                base_price_minor=np.maximum(m.price_minor, 0).reshape(-1),
                origin_class=np.repeat(self.zones.classes(self.matrix_o_zone), n_d),
                dest_class=np.tile(self.zones.classes(self.matrix_d_zone), n_o),
                mode_family=np.where(m.is_transit, "transit", WALK).reshape(-1),
                trips=np.ones(n_o * n_d),
            )
        return self._matrix_trips


def _unique_points(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique points as an (n, 2) array, row -> unique index), exact to 1e-6 degrees.

    Points are sorted by latitude, then longitude. Each point is one complex number
    (lat + i lon), which numpy sorts in that order: a 1-D unique, several times faster than
    `np.unique(axis=0)` on millions of demand rows and giving the same points and order.
    """
    key = np.round(lat, 6) + 1j * np.round(lon, 6)
    uniq, inverse = np.unique(key, return_inverse=True)
    return np.column_stack([uniq.real, uniq.imag]), inverse.reshape(-1)


def _assign_rows(zones: ZoneLayer, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """`zones.assign` of every row, looked up once per distinct point: a demand table
    repeats each zone's point once per pair (4M rows, 2,000 points in New York).
    """
    uniq, inverse = np.unique(lat + 1j * lon, return_inverse=True)
    return zones.assign(uniq.real, uniq.imag)[inverse.reshape(-1)]


def base_costs(
    network: Network,
    demand: Demand,
    zones: ZoneLayer,
    settings: EvaluationSettings,
    *,
    progress: Progress | None = None,
    scheduler: str | Client | None = None,
    dask_workers: int | None = None,
) -> BaseCosts:
    """Route and price every OD pair of the demand's points (the expensive step).

    `scheduler` None (or "") routes in this process; "local" starts a Dask LocalCluster
    of `dask_workers` processes (default: one per core) for the routing and closes it after;
    "tcp://host:port" sends the origin blocks to that existing cluster, and a
    `distributed.Client` is used as it is. The matrix is the same either way
    (`evaluation.distributed`).
    """
    bad = sorted(set(demand.mode_family.tolist()) - {"transit"})
    if bad:
        raise EvaluationError(
            f"demand has mode families {bad}: this evaluation routes public transport and "
            "walking only; shared-vehicle evaluation is not built yet"
        )
    started = time.perf_counter()
    o_pts, row_o = _unique_points(demand.origin_lat, demand.origin_lon)
    d_pts, row_d = _unique_points(demand.dest_lat, demand.dest_lon)

    def step(done: int, total: int) -> None:
        if progress is not None:
            progress("routing", done / total)

    if scheduler is None or scheduler == "":
        matrix = od_matrix(
            network,
            (o_pts[:, 0], o_pts[:, 1]),
            (d_pts[:, 0], d_pts[:, 1]),
            depart=settings.depart,
            max_walk_m=settings.max_walk_m,
            progress=step,
        )
    else:
        # deferred: distributed takes half a second to import; only a run on Dask needs it
        from evaluation.distributed import od_matrix_distributed

        client, address = (None, scheduler) if isinstance(scheduler, str) else (scheduler, None)
        matrix = od_matrix_distributed(
            network.path,
            (o_pts[:, 0], o_pts[:, 1]),
            (d_pts[:, 0], d_pts[:, 1]),
            depart=settings.depart,
            max_walk_m=settings.max_walk_m,
            client=client,
            scheduler=address,
            workers=dask_workers,
            progress=step,
        )
    o_zone = _assign_rows(zones, demand.origin_lat, demand.origin_lon)
    d_zone = _assign_rows(zones, demand.dest_lat, demand.dest_lon)
    o_class, d_class = zones.classes(o_zone), zones.classes(d_zone)
    price = matrix.price_minor[row_o, row_d]
    reachable = np.isfinite(matrix.travel_time_s[row_o, row_d])
    keep = (price >= 0) & reachable & (o_zone >= 0) & (d_zone >= 0)
    dropped = int((~keep).sum())
    if dropped:
        log.warning(
            "%d of %d OD rows left out: %d unreachable, %d without a known fare, %d outside "
            "the zones", dropped, len(keep), int((~reachable).sum()), int((price < 0).sum()),
            int(((o_zone < 0) | (d_zone < 0)).sum()),
        )
    if not keep.any():
        raise EvaluationError("no OD row could be routed and priced inside the zones")
    timing = {"routing": matrix.seconds, "pricing": 0.0}
    timing["base_total"] = time.perf_counter() - started
    return BaseCosts(
        demand, zones, matrix, row_o, row_d, o_zone, o_class, d_class, keep,
        zones.assign(o_pts[:, 0], o_pts[:, 1]), zones.assign(d_pts[:, 0], d_pts[:, 1]), timing,
    )


def _zone_rows(
    base: BaseCosts, new: np.ndarray, old: np.ndarray, w: np.ndarray
) -> list[dict[str, Any]]:
    """Per origin zone: trips, mean price, mean change, winners and losers.

    The rows are grouped by zone once (a stable sort), so each zone reads one slice holding
    its rows in their original order: the same sums as a mask per zone, without scanning
    every row once per zone (2,000 zones x 4M rows in New York).
    """
    zone_idx = base.origin_zone[base.keep]
    order = np.argsort(zone_idx, kind="stable")
    zones_sorted = zone_idx[order]
    old, new, w = old[order], new[order], w[order]
    present = np.unique(zones_sorted)
    starts = np.searchsorted(zones_sorted, present, side="left")
    ends = np.searchsorted(zones_sorted, present, side="right")
    out: list[dict[str, Any]] = []
    for z, a, b in zip(present.tolist(), starts.tolist(), ends.tolist(), strict=True):
        sel = slice(a, b)
        wl = metrics.winners_losers(old[sel], new[sel], w[sel])
        zone = base.zones.zones[z]
        out.append({
            "zone_id": zone.zone_id,
            "class": zone.zone_class,
            "trips": float(w[sel].sum()),
            "mean_price_minor": float(np.average(new[sel], weights=w[sel])),
            "mean_change_minor": float(wl.mean_change),
            "winners": float(wl.winners),
            "losers": float(wl.losers),
            "unchanged": float(wl.unchanged),
        })
    return out


def _accessibility(
    base: BaseCosts, policy: Policy, parameter: float | None, settings: EvaluationSettings
) -> dict[str, float]:
    """Population-weighted opportunities reachable within the time and fare limits.

    Every origin x destination of the matrix is priced under the policy (not only the pairs
    with demand): accessibility asks what a resident *could* reach.
    """
    m = base.matrix
    n_o, n_d = m.price_minor.shape
    o_pts_zone, d_pts_zone = base.matrix_o_zone, base.matrix_d_zone
    zones = base.zones
    o_class = zones.classes(o_pts_zone)
    flat = base.matrix_trip_arrays()
    inside = (np.repeat(o_pts_zone, n_d) >= 0) & (np.tile(d_pts_zone, n_o) >= 0)
    prices = np.where(
        inside, apply_policy(policy, flat, parameter=parameter), flat.base_price_minor
    ).reshape(n_o, n_d).astype(np.float64)
    prices[m.price_minor < 0] = np.inf
    population = _zone_values(zones, o_pts_zone, "population")
    opportunities = _zone_values(zones, d_pts_zone, "opportunities", fallback="population")
    reach = metrics.accessibility(
        population, opportunities, m.travel_time_s, prices,
        max_time_s=settings.access_time_max_min * 60,
        max_price_minor=settings.access_price_max_minor,
    )
    out: dict[str, float] = {}
    for label in ("central", "peripheral"):
        sel = o_class == label
        out[label] = (
            metrics.population_weighted_mean(reach[sel], population[sel])
            if sel.any() and population[sel].sum() > 0 else 0.0
        )
    out["all"] = (
        metrics.population_weighted_mean(reach, population) if population.sum() > 0 else 0.0
    )
    return out


def _zone_values(
    zones: ZoneLayer, idx: np.ndarray, key: str, *, fallback: str | None = None
) -> np.ndarray:
    """A numeric zone property per point (0 outside, or when the layer lacks it)."""
    out = np.zeros(len(idx))
    for i, z in enumerate(idx.tolist()):
        if z < 0:
            continue
        props = zones.zones[z].properties
        value = props.get(key, props.get(fallback) if fallback else None)
        out[i] = float(value) if isinstance(value, int | float) else 1.0
    return out


def scenario(base: BaseCosts, policy: Policy, settings: EvaluationSettings) -> Scenario:
    """One policy's results (the status quo is the policy without measures).

    Raises pydantic's `ValidationError` if a result does not fit the format (a zone class
    without trips has no mean price, say); `evaluate` names the scenario and the key.
    """
    trips = base.trip_arrays()
    old = trips.base_price_minor.astype(np.float64)
    w = trips.trips
    solution = solve_revenue_neutral(policy, trips)
    new = apply_policy(solution.policy, trips).astype(np.float64)
    demand_after = demand_response(w, old, new, policy.elasticity or 0.0)
    revenue_base = float(np.sum(w * old))
    revenue = float(np.sum(demand_after * new))
    k = base.keep
    # the same labels as trips.origin_class, as str rather than object: the metrics check
    # object labels one by one in Python, which takes seconds at millions of pairs
    classes = base.origin_class[k]
    km = base.matrix.distance_m[base.row_o[k], base.row_d[k]]
    lorenz_x, lorenz_y = metrics.lorenz(new, w)
    theil = metrics.theil(new, w, classes)
    suits, affordability = _income_metrics(base, new, w, settings)
    # nested parts go in as plain values so that a misfit is reported with its full path
    return Scenario(
        policy_id=policy.id,
        version=policy.version,
        name=policy.name,
        measures=policy.describe(),
        solved=None
        if solution.parameter is None
        else {
            "parameter": solution.parameter,
            "value": solution.value,
            "residual": solution.residual,
            "iterations": solution.iterations,
        },
        revenue_minor=round(revenue),
        revenue_change=(revenue - revenue_base) / revenue_base if revenue_base else 0.0,
        neutrality_residual=solution.residual if policy.revenue_neutral else None,
        trips=float(w.sum()),
        mean_price_minor=metrics.group_means(new, w, classes),
        price_per_km_minor=metrics.price_per_km(new, km, w, classes),
        gini=metrics.gini(new, w),
        theil={
            "total": theil.total,
            "between": theil.between,
            "within": theil.within,
            "between_share": theil.between_share,
        },
        suits=suits,
        affordability=affordability,
        lorenz=_thin(lorenz_x, lorenz_y),
        accessibility=_accessibility(base, solution.policy, None, settings),
        zones=_zone_rows(base, new, old, w),
    )


def _income_metrics(
    base: BaseCosts, new: np.ndarray, w: np.ndarray, settings: EvaluationSettings
) -> tuple[float | None, dict[str, Any] | None]:
    """(Suits index, affordability) over the trips with a known income; None without incomes."""
    d, k = base.demand, base.keep
    if not d.has_income:
        return None, None
    income = d.income_minor[k].astype(np.float64)
    has = income > 0
    if not has.any():
        return None, None
    suits = metrics.suits(new[has], income[has], w[has])
    a = metrics.affordability(
        new[has], income[has], w[has], d.income_group[k][has],
        trips_per_month=settings.trips_per_month,
        threshold=settings.affordability_threshold,
    )
    affordability = {
        "mean_share": a.mean_share,
        "share_over_threshold": a.share_over_threshold,
        "by_income_group": a.by_group,
    }
    return suits, affordability


def _thin(x: np.ndarray, y: np.ndarray, n: int = 101) -> dict[str, list[float]]:
    """A Lorenz curve sampled at n population shares (enough to draw, small to store)."""
    grid = np.linspace(0.0, 1.0, n)
    return {
        "population_share": [round(float(v), 6) for v in grid],
        "cost_share": [round(float(v), 6) for v in np.interp(grid, x, y)],
    }


def evaluate(
    base: BaseCosts,
    policies: Sequence[Policy],
    settings: EvaluationSettings,
    *,
    network: Network,
    zones_source: str,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The evaluation document (`pricing.evaluation_doc`): status quo first, then each policy.

    Sources (demand, zones) are named by file name, not path: the document is served to
    anyone who knows the job id, and a server path says nothing a reader needs.

    Raises
    ------
    EvaluationError
        A policy is in another currency than the network's fares, or a result does not fit
        the evaluation format (the message names the key).
    """
    started = time.perf_counter()
    currency = base.matrix.currency
    for p in policies:
        if p.currency != currency:
            raise EvaluationError(
                f"policy {p.id} is in {p.currency} but the network's fares are in {currency}"
            )
    scenarios = []
    todo = [status_quo(currency), *policies]
    for i, p in enumerate(todo):
        try:
            scenarios.append(scenario(base, p, settings))
        except ValidationError as exc:
            raise EvaluationError(
                f"policy {p.id}: {document_error(exc, at=f'scenarios[{i}]')}"
            ) from exc
        if progress is not None:
            progress("policies", (i + 1) / len(todo))
    policies_s = time.perf_counter() - started
    try:
        doc = _document(base, scenarios, settings, network, zones_source, policies_s)
    except ValidationError as exc:
        raise EvaluationError(str(document_error(exc))) from exc
    return doc.to_document()


def _document(
    base: BaseCosts,
    scenarios: list[Scenario],
    settings: EvaluationSettings,
    network: Network,
    zones_source: str,
    policies_s: float,
) -> EvaluationDoc:
    """The document around the scenarios: what was evaluated, with which settings, how fast."""
    d = base.demand
    return EvaluationDoc(
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        network={
            "name": network.name,
            "service_date": base.matrix.service_date,
            "depart_local": settings.depart.astimezone(network.timezone).strftime("%H:%M"),
            "timezone": str(network.timezone),
        },
        demand={
            "source": source_name(d.source),
            "synthetic": d.synthetic,
            "pairs": len(d.trips),
            "pairs_evaluated": int(base.keep.sum()),
            # of the routed matrix (unique origins x destinations): pairs without a way to
            # travel, by the reason /plan would give (routing.planner.ReasonCode)
            "matrix_pairs": base.matrix.pairs,
            "matrix_unreachable": sum(base.matrix.unreachable().values()),
            "matrix_unreachable_by_reason": base.matrix.unreachable(),
            "trips": float(d.trips.sum()),
            "has_income": d.has_income,
            "note": "SYNTHETIC demand: a gravity model, not observed trips" if d.synthetic
            else "",
        },
        settings={
            "currency": base.matrix.currency,
            "access_time_max_min": settings.access_time_max_min,
            "access_price_max_minor": settings.access_price_max_minor,
            "trips_per_month": settings.trips_per_month,
            "affordability_threshold": settings.affordability_threshold,
            "max_walk_m": settings.max_walk_m,
            "od_matrix": list(base.matrix.price_minor.shape),
        },
        zones={"source": source_name(zones_source), "geojson": base.zones.to_geojson()},
        timing_s={
            "routing": round(base.timing_s.get("routing", 0.0), 3),
            "base_total": round(base.timing_s.get("base_total", 0.0), 3),
            "policies": round(policies_s, 3),
        },
        scenarios=scenarios,
    )

"""The batch search answers what /plan answers (issue 13, batch speed).

On the embedded Helsinki city with the SYNTHETIC fleets the API seeds by default, 100
seeded OD pairs between the demand zones' points (10 origins x 10 destinations each, at
one of four departures across the morning peak) are planned twice: by
`PlanningService.plan` (the code /plan runs) and by the batch search
(`trips.batch.BatchPricing`, one search per origin and departure). For every pair the
earliest arrival (/plan's "fastest") and the lowest price (/plan's "cheapest") must be
equal, with every mode and with walk + transit only. Points /plan refuses (off the embedded
streets) must have no batch option either.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import numpy as np
import pytest

from trips.errors import UnroutablePointError
from trips.request import TripRequest

DATE = "2022-02-22"
DEPARTURES_S = (7 * 3600 + 15 * 60, 7 * 3600 + 45 * 60, 8 * 3600 + 15 * 60, 8 * 3600 + 45 * 60)
EVERY_MODE = frozenset(
    {"WALK", "TRANSIT", "BICYCLE", "BICYCLE_RENTAL", "SCOOTER_RENTAL", "CAR_RENTAL"}
)
WALK_TRANSIT = frozenset({"WALK", "TRANSIT"})
PAID_MODES = frozenset({"TRANSIT", "BICYCLE_RENTAL", "SCOOTER_RENTAL", "CAR_RENTAL"})
SEED = 13


@pytest.fixture(scope="module")
def fleets(helsinki: Any) -> tuple[int, dict[str, Any]]:
    """(epoch second, the SYNTHETIC providers' snapshots at it), as the API seeds them."""
    from providers.store import open_store
    from providers.synthetic import embedded_synthetic_fleets, synthetic_snapshots

    now = int(time.time())
    store = open_store("memory")
    for snapshot in synthetic_snapshots(embedded_synthetic_fleets(helsinki, now_s=now), now):
        store.put_snapshot(snapshot)
    return now, dict(store.fresh_snapshots(now))


@pytest.fixture(scope="module")
def service(helsinki: Any, fleets: tuple[int, dict[str, Any]]) -> Any:
    from trips.service import PlanningService

    svc = PlanningService(helsinki, max_window_min=240)
    svc.warm_up()
    assert svc.rental_fleets is not None
    svc.rental_fleets.refresh(fleets[1])
    return svc


@pytest.fixture(scope="module")
def points() -> tuple[np.ndarray, np.ndarray]:
    """The demand zones' representative points (where the evaluation routes from and to)."""
    from pricing.zones import ZoneLayer
    from tests.data_paths import REPO_DATA

    path = REPO_DATA / "helsinki" / "demand" / "demand-zones.geojson"
    zones = ZoneLayer.from_geojson(path.read_bytes(), source=str(path))
    return zones.representative_points()


def _on_streets(helsinki: Any, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    from routing.errors import RoutingError

    ok = []
    for i in range(len(lat)):
        try:
            helsinki.walk_index.snap(float(lat[i]), float(lon[i]))
            ok.append(i)
        except RoutingError:
            pass
    return np.array(ok)


def _pairs(candidates: np.ndarray) -> list[tuple[int, int, int]]:
    """100 seeded (origin, destination, departure index): 10 origins x 10 destinations."""
    rng = np.random.default_rng(SEED)
    origins = rng.choice(candidates, size=10, replace=False)
    out = []
    for o in origins.tolist():
        k = int(rng.integers(len(DEPARTURES_S)))
        dests = rng.choice(candidates[candidates != o], size=10, replace=False)
        out += [(o, int(d), k) for d in dests.tolist()]
    return out


def _plan_best(service: Any, helsinki: Any, request: TripRequest) -> tuple[int, int] | None:
    """(/plan's fastest arrival in service-day seconds, its cheapest price), None if refused."""
    try:
        plan = service.plan(request)
    except UnroutablePointError:
        return None
    its = {it.id: it for it in plan.itineraries}
    day0 = helsinki.at(DATE, 0).timestamp()
    fastest = its[plan.choices.fastest] if plan.choices.fastest else None
    cheapest = its[plan.choices.cheapest] if plan.choices.cheapest else None
    arrive = round(dt.datetime.fromisoformat(fastest.end).timestamp() - day0) if fastest else -1
    price = cheapest.price.final.amount_minor if cheapest is not None else -1
    return arrive, price


def _compare(
    service: Any, helsinki: Any, points: Any, modes: frozenset[str], *, min_paid: int = 0
) -> None:
    """Batch and /plan on the 100 pairs; `min_paid` pairs at least must cost something."""
    from trips.batch import BatchPricing, best_of

    lat, lon = points
    template = TripRequest(0.0, 0.0, 0.0, 0.0, at=helsinki.at(DATE, DEPARTURES_S[0]), modes=modes)
    batch = BatchPricing(service, template)
    dests = batch.destinations(lat, lon)
    pairs = _pairs(_on_streets(helsinki, lat, lon))
    found: dict[tuple[int, int], list[Any]] = {}
    diffs = []
    answers = []
    for o, d, k in pairs:
        if (o, k) not in found:
            origin = batch.origin(float(lat[o]), float(lon[o]), dests)
            assert origin is not None, o
            found[o, k] = batch.options_at(origin, dests, DEPARTURES_S[k])
        best = best_of(found[o, k][d])
        request = TripRequest(
            float(lat[o]), float(lon[o]), float(lat[d]), float(lon[d]),
            at=helsinki.at(DATE, DEPARTURES_S[k]), modes=modes,
        )
        expected = _plan_best(service, helsinki, request)
        answers.append(expected)
        if expected != (best.arrive_s, best.price_minor):
            diffs.append(((o, d, k), expected, (best.arrive_s, best.price_minor)))
    assert len(pairs) == 100
    assert not diffs, diffs
    # the comparison is about real answers: most pairs can be travelled
    assert sum(a is not None and a[0] >= 0 for a in answers) >= 70
    assert sum(a is not None and a[1] > 0 for a in answers) >= min_paid


def test_batch_best_arrival_and_price_equal_plan_with_every_mode(
    service: Any, helsinki: Any, points: Any
) -> None:
    _compare(service, helsinki, points, EVERY_MODE)


def test_batch_best_arrival_and_price_equal_plan_with_walk_and_transit(
    service: Any, helsinki: Any, points: Any
) -> None:
    _compare(service, helsinki, points, WALK_TRANSIT)


def test_batch_best_price_equals_plan_when_every_way_costs_something(
    service: Any, helsinki: Any, points: Any
) -> None:
    # with walking (and the own bike) allowed the cheapest way is nearly always free, so
    # the fares and rental prices are compared here, without the walk-only trip; the
    # SYNTHETIC city bikes' first 30 minutes are free, so with rentals a few pairs still
    # cost nothing, with transit alone nearly all pay a fare
    _compare(service, helsinki, points, PAID_MODES, min_paid=3)
    _compare(service, helsinki, points, frozenset({"TRANSIT"}), min_paid=70)


def test_points_plan_refuses_get_no_batch_options(
    service: Any, helsinki: Any, points: Any
) -> None:
    from trips.batch import BatchPricing

    lat, lon = points
    template = TripRequest(0.0, 0.0, 0.0, 0.0, at=helsinki.at(DATE, DEPARTURES_S[0]),
                           modes=EVERY_MODE)
    batch = BatchPricing(service, template)
    dests = batch.destinations(lat, lon)
    on = set(_on_streets(helsinki, lat, lon).tolist())
    off = [i for i in range(len(lat)) if i not in on]
    assert off, "the zone layer has points beyond the embedded streets"
    o_on = min(on)
    request = TripRequest(float(lat[o_on]), float(lon[o_on]), float(lat[off[0]]),
                          float(lon[off[0]]), at=template.at, modes=EVERY_MODE)
    with pytest.raises(UnroutablePointError):
        service.plan(request)
    assert batch.origin(float(lat[off[0]]), float(lon[off[0]]), dests) is None
    origin = batch.origin(float(lat[o_on]), float(lon[o_on]), dests)
    assert origin is not None
    answers = batch.options_at(origin, dests, DEPARTURES_S[0])
    assert all(not answers[j] for j in off)
    assert any(answers[j] for j in on if j != o_on)


def test_vectorised_one_to_many_returns_the_journeys_of_raptor_one_to_many(
    helsinki: Any, points: Any
) -> None:
    from routing.batch import BatchRaptor
    from routing.planner import DEFAULT_MAX_ACCESS_S
    from routing.raptor import Raptor

    key = helsinki.manifest["service_dates"][DATE]
    planner = helsinki.planner(key)
    lat, lon = points
    on = _on_streets(helsinki, lat, lon)
    snaps = [helsinki.walk_index.snap(float(lat[i]), float(lon[i])) for i in on]
    times = [
        planner.stop_walk_times(s, walk_speed_mps=1.33, to_point=True,
                                max_time_s=DEFAULT_MAX_ACCESS_S)
        for s in snaps
    ]
    plain, batch = Raptor(planner.timetable), BatchRaptor(planner.timetable)
    compared = 0
    for origin, s in zip(on[:6].tolist(), snaps[:6], strict=True):
        access = planner.stop_walk_times(s, walk_speed_mps=1.33, to_point=False,
                                         max_time_s=DEFAULT_MAX_ACCESS_S)
        for depart_s in DEPARTURES_S[:2]:
            expected = plain.one_to_many(access, times, depart_s)
            got = batch.one_to_many(access, times, depart_s)
            assert got == expected, origin
            compared += sum(len(x) for x in expected)
    assert compared > 500


def test_option_table_of_a_demand_has_one_slot_per_pair_and_departure_and_prices_by_payee(
    service: Any, helsinki: Any, points: Any
) -> None:
    from evaluation.all_modes import all_mode_options
    from pricing.demand import load_demand
    from pricing.zones import ZoneLayer
    from tests.data_paths import REPO_DATA

    path = REPO_DATA / "helsinki" / "demand" / "demand-zones.geojson"
    zones = ZoneLayer.from_geojson(path.read_bytes(), source=str(path))
    lat, lon = points
    on = _on_streets(helsinki, lat, lon)
    beyond = [i for i in range(len(lat)) if i not in set(on.tolist())
              and zones.zones[i].zone_class == "peripheral"]
    ids = [zones.zones[i].zone_id for i in on[:3].tolist()] + [zones.zones[beyond[0]].zone_id]
    rows = [f"{a},{b},{6.0 + k},low" for k, (a, b) in enumerate(
        (a, b) for a in ids for b in ids if a != b
    )]
    # the same pair twice (two income groups): one slot per departure, trips summed
    rows.append(f"{ids[0]},{ids[1]},2.0,high")
    body = "# synthetic: four zones for a test\norigin_zone,dest_zone,trips,income_group\n"
    demand = load_demand(("\n".join([body.rstrip("\n"), *rows]) + "\n").encode(), zones=zones)
    departures = [helsinki.at(DATE, s) for s in DEPARTURES_S[:2]]
    template = TripRequest(0.0, 0.0, 0.0, 0.0, at=departures[0], modes=EVERY_MODE)
    result = all_mode_options(
        service, template, demand, zones, departures, block_size=3, beyond_streets=True
    )
    table = result.table
    slots = table.slots
    # pairs with the peripheral zone beyond the streets are estimated, and flagged
    estimated = (slots.origin_zone == ids[3]) | (slots.dest_zone == ids[3])
    assert (result.slot_on_streets == ~estimated).all()
    assert result.left_out["slots_estimated_or_refused_beyond_streets"] == int(estimated.sum())
    reached = set(table.slot[table.family == "walk_transit"].tolist())
    assert any(s in reached for s in np.flatnonzero(estimated).tolist())
    assert not np.isin(table.family[estimated[table.slot]], ["rental", "own_bike"]).any()
    assert len(slots) == 12 * 2
    first = (slots.origin_zone == ids[0]) & (slots.dest_zone == ids[1])
    assert slots.trips[first].tolist() == [4.0, 4.0]  # (6 + 2) trips over two departures
    assert sorted(set(slots.departure_s.tolist())) == list(DEPARTURES_S[:2])
    assert "SYNTHETIC" in (table.synthetic_note or "")
    families = set(table.family.tolist())
    assert {"walk_transit", "rental"} <= families
    # free families pay nobody; everything else pays named operators exactly its price
    paid = table.price_minor > 0
    assert (table.part_count()[paid] > 0).all()
    assert (table.parts_sum() == table.price_minor).all()
    transit_ops = set(table.part_operator[table.part_kind == "transit"].tolist())
    rental_ops = set(table.part_operator[table.part_kind == "rental"].tolist())
    assert transit_ops and all(op.startswith("transit:") for op in transit_ops)
    assert rental_ops and all(op.startswith("provider:synthetic-") for op in rental_ops)
    # each provider keeps its own options: some slot offers rentals of two operators
    rental = table.part_option[table.part_kind == "rental"]
    ops = table.part_operator[table.part_kind == "rental"]
    per_slot: dict[int, set[str]] = {}
    for option, op in zip(rental.tolist(), ops.tolist(), strict=True):
        per_slot.setdefault(int(table.slot[option]), set()).add(op)
    assert any(len(v) >= 2 for v in per_slot.values())
    # per slot, in the families without providers, no option is beaten on both duration
    # and price by another
    for s in range(len(slots)):
        for fam in families & {"walk", "walk_transit", "own_bike"}:
            sel = (table.slot == s) & (table.family == fam)
            d, p = table.duration_s[sel], table.price_minor[sel]
            for a in range(len(d)):
                assert not ((d <= d[a]) & (p <= p[a]) & ((d < d[a]) | (p < p[a]))).any()


def test_a_block_task_built_from_plain_data_answers_as_the_router_in_process(
    service: Any, helsinki: Any, helsinki_dir: Any, points: Any, fleets: Any
) -> None:
    # what a Dask worker would run: the service rebuilt from the network's path and the
    # snapshots, the fleets read at the spec's time, not at the worker's clock
    from evaluation.all_modes import MatrixRouter, OptionsSpec, options_block

    now, snapshots = fleets
    lat, lon = points
    on = _on_streets(helsinki, lat, lon)
    o_lat, o_lon = lat[on[:3]], lon[on[:3]]
    departures = (helsinki.at(DATE, DEPARTURES_S[0]), helsinki.at(DATE, DEPARTURES_S[2]))
    template = TripRequest(0.0, 0.0, 0.0, 0.0, at=departures[0], modes=EVERY_MODE)
    spec = OptionsSpec(
        run_id="test-run", network_dir=str(helsinki_dir), template=template,
        departures=departures, d_lat=lat, d_lon=lon, snapshots=tuple(snapshots.values()),
        fleets_at_s=now,
    )
    task = options_block(spec, o_lat, o_lon)
    here = MatrixRouter(service, template, lat, lon, departures, fleets_at_s=now).block(
        o_lat, o_lon
    )
    assert (task.best_arrive_s == here.best_arrive_s).all()
    assert (task.best_price_minor == here.best_price_minor).all()
    assert task.options == here.options
    assert any(o.family == "rental" for row in task.options for dep in row for pair in dep
               for o in pair)

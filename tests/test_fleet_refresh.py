"""Fleet views built off the request path: `RentalFleets.refresh` / `current` and the
`FleetRefresher` thread that keeps them current.

Snapshots are SYNTHETIC (`tests.fleet_factory`): scooters around Hietalahti, and docked
stations with an impossible count for a provider whose feed must be left out.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest

from providers.model import FleetSnapshot
from providers.store.freshness import STALE_AFTER_S
from tests.fleet_factory import make_snapshot
from trips.fleet_refresh import FleetRefresher
from trips.fleets import RENTAL_MODES, FleetView, RentalFleets

NOW_S = 1_700_000_000
HIETALAHTI = (60.1622, 24.9296)
KATAJANOKKA = (60.1670, 24.9680)


def scooters(provider_id: str, updated_s: int = NOW_S, **kw: Any) -> FleetSnapshot:
    """SYNTHETIC: free-floating scooters within 300 m of Hietalahti (content follows
    `updated_s`).
    """
    return make_snapshot(
        provider_id,
        n_vehicles=20,
        tag=kw.pop("tag", provider_id),
        center=kw.pop("center", HIETALAHTI),
        spread_m=300.0,
        seed=7,
        updated_s=updated_s,
        **kw,
    )


def huge_count(provider_id: str, updated_s: int = NOW_S) -> FleetSnapshot:
    """SYNTHETIC: docked stations, the first claiming more vehicles than any station holds."""
    snap = make_snapshot(
        provider_id, n_vehicles=0, n_stations=3, tag=provider_id, spread_m=300.0,
        updated_s=updated_s,
    )  # fmt: skip
    status = list(snap.station_status)
    status[0] = dataclasses.replace(status[0], num_vehicles_available=2**31)
    return dataclasses.replace(snap, station_status=tuple(status), vehicles=())


def ids(views: list[FleetView]) -> list[str | None]:
    return [v.provider_id for v in views]


@pytest.fixture
def fleets(helsinki: Any) -> RentalFleets:
    return RentalFleets(helsinki)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Provider ids in the order `RentalFleets._build` was called for them."""
    builds: list[str] = []
    build = RentalFleets._build

    def counting(self: RentalFleets, snap: FleetSnapshot, *args: Any) -> Any:
        builds.append(snap.provider_id)
        return build(self, snap, *args)

    monkeypatch.setattr(RentalFleets, "_build", counting)
    return builds


# -- RentalFleets.refresh / current -----------------------------------------------------------


def test_current_is_empty_before_the_first_refresh(fleets):
    assert fleets.current(RENTAL_MODES, now_s=NOW_S) == ([], [])
    views, notes = fleets.current(RENTAL_MODES, providers={"a"}, now_s=NOW_S)
    assert not views and notes == ["no fleet data for provider 'a'"]


def test_current_serves_what_views_would_give_for_every_filter(fleets, helsinki):
    snaps = {
        "a": scooters("a"),
        "b": scooters("b", center=KATAJANOKKA),
        "huge": huge_count("huge"),
    }
    assert fleets.refresh(snaps) == ("a", "b", "huge")
    fresh = RentalFleets(helsinki)
    for kw in (
        {"modes": RENTAL_MODES},
        {"modes": {"SCOOTER_RENTAL", "WALK"}},
        {"modes": {"CAR_RENTAL"}},
        {"modes": {"WALK"}, "providers": {"nope"}},
        {"modes": RENTAL_MODES, "providers": {"b", "nope"}},
        {"modes": RENTAL_MODES, "exclude_providers": {"a", "huge"}},
    ):
        views, notes = fleets.current(now_s=NOW_S, **kw)
        expected_views, expected_notes = fresh.views(snaps, **kw)
        assert ids(views) == ids(expected_views), kw
        assert notes == expected_notes, kw


def test_current_never_builds_and_hands_out_the_prebuilt_views(fleets, counted):
    fleets.refresh({"a": scooters("a")})
    built = list(counted)
    first, _ = fleets.current(RENTAL_MODES, now_s=NOW_S)
    second, _ = fleets.current({"SCOOTER_RENTAL"}, now_s=NOW_S)
    assert counted == built == ["a"]
    assert first[0] is second[0]


def test_only_changed_providers_are_rebuilt_and_reported(fleets, counted):
    a, b = scooters("a"), scooters("b")
    assert fleets.refresh({"a": a, "b": b}) == ("a", "b")
    assert fleets.refresh({"a": a, "b": b}) == ()
    b2 = scooters("b", updated_s=NOW_S + 60)
    assert fleets.refresh({"a": a, "b": b2}) == ("b",)
    assert counted == ["a", "b", "b"]
    # a provider gone from the store is gone from the views, and rebuilt when it is back
    assert fleets.refresh({"b": b2}) == ()
    assert ids(fleets.current(RENTAL_MODES, now_s=NOW_S)[0]) == ["b"]
    assert fleets.refresh({"a": a, "b": b2}) == ("a",)
    assert counted == ["a", "b", "b", "a"]


def test_a_snapshot_that_went_stale_since_the_refresh_is_left_out_at_request_time(fleets):
    fleets.refresh({"a": scooters("a"), "b": scooters("b", updated_s=NOW_S + 200)})
    assert ids(fleets.current(RENTAL_MODES, now_s=NOW_S + STALE_AFTER_S)[0]) == ["a", "b"]
    later = NOW_S + STALE_AFTER_S + 1
    views, notes = fleets.current(RENTAL_MODES, providers={"a", "b"}, now_s=later)
    assert ids(views) == ["b"]
    assert notes == ["no fleet data for provider 'a'"]


def test_a_broken_feed_is_left_out_once_per_content_however_often_refreshed(fleets, counted):
    snaps = {"huge": huge_count("huge"), "fine": scooters("fine")}
    for _ in range(3):
        fleets.refresh(snaps)
        views, notes = fleets.current(RENTAL_MODES, now_s=NOW_S)
        assert ids(views) == ["fine"]
        assert len(notes) == 1 and notes[0].startswith("provider huge's feed could not be used")
    assert counted == ["huge", "fine"]
    assert fleets.failures == {"huge": 1} and set(fleets.broken()) == {"huge"}
    # views() on the same content meets the cached failure: no rebuild, no second count
    views, notes = fleets.views(snaps, modes={"SCOOTER_RENTAL"})
    assert ids(views) == ["fine"] and counted == ["huge", "fine"]
    assert fleets.failures == {"huge": 1}


def test_a_provider_whose_build_raises_leaves_the_others_current(fleets, monkeypatch):
    build = RentalFleets._build

    def explode(self: RentalFleets, snap: FleetSnapshot, *args: Any) -> Any:
        if snap.provider_id == "boom":
            raise RuntimeError("boom")
        return build(self, snap, *args)

    monkeypatch.setattr(RentalFleets, "_build", explode)
    fleets.refresh({"boom": scooters("boom"), "fine": scooters("fine")})
    views, notes = fleets.current(RENTAL_MODES, now_s=NOW_S)
    assert ids(views) == ["fine"]
    assert notes == [
        "provider boom's feed could not be used for planning: internal error (RuntimeError) "
        "while reading it"
    ]


def test_requests_read_whole_refreshes_while_another_thread_refreshes(fleets):
    """A request sees one refresh's mapping or the next one's, never a mix of both."""
    old = {p: scooters(p, tag=f"{p}_old") for p in ("a", "b")}
    new = {p: scooters(p, updated_s=NOW_S + 1, tag=f"{p}_new") for p in ("a", "b")}
    fleets.refresh(old)
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            fleets.refresh(old)
            fleets.refresh(new)

    flipper = threading.Thread(target=flip)
    flipper.start()
    try:
        for _ in range(300):
            views, _ = fleets.current(RENTAL_MODES, now_s=NOW_S + 2)
            # vehicle ids are "<provider>_<generation>-<n>"
            generations = {str(v.pickup_vehicle_id[0]).split("-")[0][2:] for v in views}
            assert len(views) == 2 and len(generations) == 1, generations
    finally:
        stop.set()
        flipper.join()


# -- FleetRefresher ---------------------------------------------------------------------------


class Source:
    """A snapshot source the test changes, counting its reads."""

    def __init__(self) -> None:
        self.snapshots: dict[str, FleetSnapshot] = {}
        self.reads = 0
        self.fail: Exception | None = None

    def __call__(self, now_s: int) -> Mapping[str, FleetSnapshot]:
        self.reads += 1
        if self.fail is not None:
            raise self.fail
        return dict(self.snapshots)


def test_a_requested_refresh_includes_what_was_stored_before_the_request(fleets):
    source = Source()
    refresher = FleetRefresher(fleets, source, period_s=60.0, clock=lambda: NOW_S)
    refresher.refresh_now()
    refresher.start()
    try:
        source.snapshots["a"] = scooters("a")
        refresher.request().result(timeout=30)
        assert ids(fleets.current(RENTAL_MODES, now_s=NOW_S)[0]) == ["a"]
        assert refresher.refreshed_at_s == NOW_S and refresher.last_error is None
    finally:
        refresher.stop()


def test_the_refresher_picks_up_changes_every_period(fleets):
    source = Source()
    refresher = FleetRefresher(fleets, source, period_s=0.05, clock=lambda: NOW_S)
    refresher.start()
    try:
        source.snapshots["a"] = scooters("a")
        deadline = time.monotonic() + 30
        while not fleets.current(RENTAL_MODES, now_s=NOW_S)[0]:
            assert time.monotonic() < deadline, "no periodic refresh"
            time.sleep(0.02)
    finally:
        refresher.stop()


def test_a_failing_source_keeps_the_previous_views_and_is_reported(fleets, caplog):
    source = Source()
    source.snapshots["a"] = scooters("a")
    refresher = FleetRefresher(fleets, source, period_s=60.0, clock=lambda: NOW_S)
    assert refresher.refresh_now()
    source.fail = ConnectionError("store down")
    assert not refresher.refresh_now() and not refresher.refresh_now()
    assert refresher.last_error == "ConnectionError: store down"
    assert ids(fleets.current(RENTAL_MODES, now_s=NOW_S)[0]) == ["a"]
    assert len([r for r in caplog.records if r.name == "trips.fleet_refresh"]) == 1
    source.fail = None
    assert refresher.refresh_now() and refresher.last_error is None


def test_requests_before_start_and_after_stop_do_not_wait(fleets):
    refresher = FleetRefresher(fleets, Source(), period_s=60.0)
    assert refresher.request().done()
    refresher.start()
    refresher.stop()
    assert refresher.request().done()
    with pytest.raises(ValueError, match="period_s"):
        FleetRefresher(fleets, Source(), period_s=0)

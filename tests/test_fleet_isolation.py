"""Isolation at planning: no provider's snapshot can fail /plan for anyone (issue 11).

Snapshots are SYNTHETIC and put straight into the adapter or the app's store, past the
GBFS parser: planning must survive whatever reaches it, whatever the parser lets through.
The two cases of the issue are pinned here (a count past int32 at a station, a provider whose
stations all lie in another city), plus a builder that raises and a search that raises.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from providers.model import FleetSnapshot
from routing.errors import QueryError
from routing.multimodal import MultiModalPlanner
from tests.fleet_factory import make_snapshot
from trips.fleets import RENTAL_MODES, FleetView, RentalFleets

ADMIN = "admin-token-for-tests-0123456789"
HIETALAHTI = (60.1622, 24.9296)
KATAJANOKKA = (60.1670, 24.9680)
OSLO = (59.95, 10.72)
AT = "2022-02-22T08:00:00+02:00"
INT32_PAST = 2**31  # 2147483648, the count


def fresh(snap: FleetSnapshot) -> FleetSnapshot:
    """The snapshot with every file just updated (the store serves fresh snapshots only)."""
    now = int(time.time())
    feeds = tuple(dataclasses.replace(f, last_updated_s=now, received_at_s=now) for f in snap.feeds)
    return dataclasses.replace(snap, feeds=feeds)


def huge_count(provider_id: str, count: int = INT32_PAST) -> FleetSnapshot:
    """SYNTHETIC: three docked stations near the centre, the first claiming `count` vehicles.

    The count is part of the feed hashes, so a fixed feed is new content.
    """
    snap = make_snapshot(
        provider_id,
        n_vehicles=0,
        n_stations=3,
        tag=provider_id,
        spread_m=300.0,
        updated_s=int(time.time()) + count % 997,
    )
    status = list(snap.station_status)
    status[0] = dataclasses.replace(status[0], num_vehicles_available=count)
    return dataclasses.replace(snap, station_status=tuple(status), vehicles=())


def scooters(provider_id: str, center: tuple[float, float] = HIETALAHTI) -> FleetSnapshot:
    """SYNTHETIC: free-floating scooters within 300 m of `center`."""
    return fresh(
        make_snapshot(
            provider_id, n_vehicles=20, tag=provider_id, center=center, spread_m=300.0, seed=7
        )
    )


def provider_ids(views: list[FleetView]) -> set[str | None]:
    return {v.provider_id for v in views}


@pytest.fixture
def fleets(helsinki: Any) -> RentalFleets:
    return RentalFleets(helsinki)


# -- the snapper ------------------------------------------------------------------------------


def test_snapping_points_all_far_from_the_streets_marks_each_unsnapped(helsinki):
    edge, fraction, offset = helsinki.walk_index.snap_many([OSLO[0]], [OSLO[1]])
    assert edge.tolist() == [-1] and np.isnan(fraction[0]) and np.isinf(offset[0])
    edge, _, offset = helsinki.walk_index.snap_many(
        [OSLO[0], HIETALAHTI[0]], [OSLO[1], HIETALAHTI[1]]
    )
    assert edge[0] == -1 and edge[1] >= 0 and offset[1] < 100


# -- the adapter ------------------------------------------------------------------------------


def test_huge_station_count_leaves_that_provider_out_with_a_note_and_keeps_the_others(fleets):
    snaps = {"huge": huge_count("huge"), "fine": scooters("fine")}
    views, notes = fleets.views(snaps, modes=RENTAL_MODES)
    assert provider_ids(views) == {"fine"}
    (note,) = [n for n in notes if "huge" in n]
    assert note.startswith("provider huge's feed could not be used for planning")
    assert "2147483648" in note and "0..10000" in note
    assert fleets.failures == {"huge": 1}
    assert set(fleets.broken()) == {"huge"}


def test_largest_plausible_count_is_used_and_one_more_is_refused(fleets):
    views, notes = fleets.views({"big": huge_count("big", 10_000)}, modes=RENTAL_MODES)
    assert provider_ids(views) == {"big"} and not notes
    assert int(views[0].pickup_count.max()) == 10_000
    views, notes = fleets.views({"big": huge_count("big", 10_001)}, modes=RENTAL_MODES)
    assert not views and "10001" in notes[0]


def test_a_broken_feed_is_built_and_logged_once_per_content_not_once_per_request(
    fleets, monkeypatch, caplog
):
    builds: list[str] = []
    build = RentalFleets._build

    def counting(self: RentalFleets, snap: FleetSnapshot, *args: Any) -> Any:
        builds.append(snap.provider_id)
        return build(self, snap, *args)

    monkeypatch.setattr(RentalFleets, "_build", counting)
    snaps = {"huge": huge_count("huge"), "fine": scooters("fine")}
    with caplog.at_level(logging.WARNING, logger="trips.fleets"):
        for _ in range(3):
            views, notes = fleets.views(snaps, modes=RENTAL_MODES)
            assert provider_ids(views) == {"fine"} and len(notes) == 1
    assert builds == ["huge", "fine"]
    assert [r.getMessage() for r in caplog.records if "huge" in r.getMessage()] == [
        "provider huge: feed left out of planning: vehicles available at station "
        "'huge-st-0' is 2147483648, expected 0..10000"
    ]
    assert fleets.failures == {"huge": 1}
    # the provider fixes its feed: new content, used again; the counter keeps its history
    views, notes = fleets.views({**snaps, "huge": huge_count("huge", 5)}, modes=RENTAL_MODES)
    assert provider_ids(views) == {"huge", "fine"} and not notes
    assert fleets.broken() == {} and fleets.failures == {"huge": 1}


def test_provider_with_every_station_outside_the_network_is_a_note_not_an_error(fleets):
    oslo = fresh(make_snapshot("oslo", n_vehicles=0, n_stations=1, center=OSLO, spread_m=1.0))
    oslo = dataclasses.replace(
        oslo,
        station_status=(dataclasses.replace(oslo.station_status[0], num_vehicles_available=4),),
    )
    views, notes = fleets.views({"oslo": oslo, "fine": scooters("fine")}, modes=RENTAL_MODES)
    assert provider_ids(views) == {"fine"}
    assert notes == [
        "oslo (synthetic) (oslo): scooter: none of its 1 places to rent lies within 500 m "
        "of this network's streets"
    ]
    assert fleets.failures == {}  # not a defect: the provider is simply elsewhere


def test_a_provider_whose_build_raises_is_left_out_logged_and_counted(fleets, monkeypatch, caplog):
    build = RentalFleets._build

    def explode(self: RentalFleets, snap: FleetSnapshot, *args: Any) -> Any:
        if snap.provider_id == "boom":
            raise RuntimeError("/srv/secret/path broke")
        return build(self, snap, *args)

    monkeypatch.setattr(RentalFleets, "_build", explode)
    snaps = {"boom": scooters("boom"), "fine": scooters("fine")}
    with caplog.at_level(logging.ERROR, logger="trips.fleets"):
        views, notes = fleets.views(snaps, modes=RENTAL_MODES)
        fleets.views(snaps, modes=RENTAL_MODES)
    assert provider_ids(views) == {"fine"}
    assert notes == [
        "provider boom's feed could not be used for planning: internal error (RuntimeError) "
        "while reading it"
    ]
    (record,) = caplog.records
    assert "boom" in record.getMessage() and record.exc_info is not None
    assert fleets.failures == {"boom": 1}


# -- over HTTP: the app's store holds the bad snapshot ----------------------------------------


@pytest.fixture(scope="module")
def app(helsinki_dir: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app with the SYNTHETIC Helsinki fleets (the other providers) and a memory store."""

    durable = tmp_path_factory.mktemp("isolation-store") / "store.sqlite3"
    settings = Settings(
        network=helsinki_dir,
        admin_token=ADMIN,
        synthetic_providers=True,
        policy_store_url=f"sqlite:///{durable}",
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def put(app: TestClient) -> Iterator[Any]:
    """Put snapshots into the app's store past the parser, and refresh the app's fleet views
    (a push would ask for that itself); removed after the test.
    """
    fleets = app.app.state.fairtrip.fleets
    added: list[str] = []

    def _put(snap: FleetSnapshot) -> None:
        fleets.store.put_snapshot(snap)
        fleets.refresher.refresh_now()
        added.append(snap.provider_id)

    yield _put
    for pid in set(added):
        fleets.store.delete_provider(pid)
    fleets.refresher.refresh_now()


def plan(app: TestClient, **extra: Any) -> Any:
    params = {
        "from_lat": HIETALAHTI[0],
        "from_lon": HIETALAHTI[1],
        "to_lat": KATAJANOKKA[0],
        "to_lon": KATAJANOKKA[1],
        "at": AT,
        **extra,
    }
    return app.get("/plan", params=params)


def rental_providers(doc: dict) -> set[str]:
    return {
        leg["rental"]["provider_id"]
        for it in doc["itineraries"]
        for leg in it["legs"]
        if leg.get("rental") and leg["rental"].get("provider_id")
    }


def test_plan_is_200_with_a_huge_count_in_the_store_and_names_the_provider(app, put):
    put(huge_count("huge-http"))
    r = plan(app)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert any(n.startswith("provider huge-http's feed could not be used") for n in doc["notes"])
    assert doc["itineraries"]
    assert "huge-http" not in rental_providers(doc)
    assert app.app.state.fairtrip.planning.rental_fleets.failures["huge-http"] >= 1
    ready = {p["provider_id"]: p for p in app.get("/ready").json()["providers"]}
    assert "10000" in ready["huge-http"]["planning_error"]
    assert all("planning_error" not in p for pid, p in ready.items() if pid != "huge-http")


def test_ready_names_a_broken_feed_as_soon_as_the_views_are_refreshed(app, put):
    """The refresher builds every stored feed, so /ready knows before any plan met it."""
    put(huge_count("huge-ready"))
    ready = {p["provider_id"]: p for p in app.get("/ready").json()["providers"]}
    assert "2147483648" in ready["huge-ready"]["planning_error"]


def test_plan_is_200_with_a_provider_outside_the_network(app, put):
    put(fresh(make_snapshot("oslo-http", n_vehicles=5, center=OSLO, spread_m=50.0)))
    for modes in (None, "WALK,TRANSIT,BICYCLE,BICYCLE_RENTAL,SCOOTER_RENTAL,CAR_RENTAL"):
        r = plan(app, **({"modes": modes} if modes else {}))
        assert r.status_code == 200, r.text
        assert any("oslo-http" in n and "500 m" in n for n in r.json()["notes"])


def test_a_failing_build_leaves_out_that_provider_and_others_are_still_offered(
    app, put, monkeypatch
):
    build = RentalFleets._build

    def explode(self: RentalFleets, snap: FleetSnapshot, *args: Any) -> Any:
        if snap.provider_id == "boom-http":
            raise ZeroDivisionError("boom")
        return build(self, snap, *args)

    monkeypatch.setattr(RentalFleets, "_build", explode)
    put(scooters("boom-http"))
    put(scooters("fine-http"))
    r = plan(app, modes="SCOOTER_RENTAL,WALK")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (
        "provider boom-http's feed could not be used for planning: internal error "
        "(ZeroDivisionError) while reading it" in doc["notes"]
    )
    offered = rental_providers(doc)
    assert offered and "boom-http" not in offered
    assert app.app.state.fairtrip.planning.rental_fleets.failures["boom-http"] == 1


def test_a_search_that_fails_on_shared_fleets_is_answered_without_them(app, monkeypatch):
    real = MultiModalPlanner.plan

    def fragile(self: Any, *args: Any, **kwargs: Any) -> Any:
        fleets = args[6] if len(args) > 6 else kwargs.get("fleets", ())
        if fleets:
            raise IndexError("a fleet array out of step")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MultiModalPlanner, "plan", fragile)
    planning = app.app.state.fairtrip.planning
    before = planning.service.shared_search_failures
    r = plan(app)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["itineraries"] and not rental_providers(doc)
    (note,) = [n for n in doc["notes"] if n.startswith("shared vehicles of ")]
    assert "synthetic-scooters-hki" in note and "IndexError" in note
    assert planning.service.shared_search_failures == before + 1


def test_an_error_of_the_query_itself_is_not_masked_by_the_retry(app, monkeypatch):
    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise QueryError("max_transfers must be at most 8, got 9")

    monkeypatch.setattr(MultiModalPlanner, "plan", refuse)
    r = plan(app)
    assert r.status_code == 422 and "max_transfers" in r.json()["error"]["message"]

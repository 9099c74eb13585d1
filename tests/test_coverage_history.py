"""The aggregated availability history: aggregation on a hand-built fleet, what is (not)
stored, durability, retention, the recorder.

The fleet (metres east / north of the zones' origin, see `tests.coverage_factory`):

    scooters   s1 (310, 330) in a        s2 (630, 90) in b      s5 (2250, 250) in no zone
               s3 reserved, s4 disabled (not available)
    bikes      st1 (370, 410) in a: 3 bikes, no free dock (full); bike b-1 listed there
               st2 (900, 100) in b: no bike, 5 free docks (empty)
               st3 (3100, 100) in c: not renting (2 bikes that cannot be rented), 2 docks
               st4 (3190, 330) in c: virtual, 1 bike (a place, not a docked station)

Walks are the straight line x 1.3, rounded to 10 m; the resident points are the squares'
centres. Distances are chosen as 3-4-5 triangles so the hand figures are exact:
a -> s1 = 100 m (walk 130), b -> s2 = 200 m (260), c -> s5 = 1000 m (1300),
a -> st1 = 200 m (260), c -> st4 = 100 m (130), b -> st1 = 412.3 m (536 -> 540).
Reach: a point within 400 / 1.3 = 307.7 m of a zone's square.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from pricing.policy_store import SqlitePolicyStore
from pricing.zones import ZoneError
from providers.accounts import SqliteAccounts
from providers.model import (
    FleetSnapshot,
    FormFactor,
    Propulsion,
    Station,
    StationStatus,
    SystemInfo,
    Vehicle,
    VehicleType,
)
from providers.store import MemoryStore
from service_coverage.errors import CoverageDataError, HistoryStoreError
from service_coverage.history import (
    HistoryStore,
    aggregate,
    history_path,
    open_history_store,
)
from service_coverage.model import ZoneSample
from service_coverage.recorder import HistoryRecorder
from service_coverage.zones import (
    default_service_zones,
    load_service_zones,
    service_zones_from_geojson,
)
from tests.coverage_factory import at, hand_zones, zones_geojson
from tests.fleet_factory import T0_S, feeds

SCOOTER = VehicleType("scooter", FormFactor.SCOOTER_STANDING, Propulsion.ELECTRIC)
BIKE = VehicleType("bike", FormFactor.BICYCLE, Propulsion.HUMAN)


def vehicle(vid: str, east: float, north: float, **kw: object) -> Vehicle:
    lat, lon = at(east, north)
    return Vehicle(id=vid, lat=lat, lon=lon, vehicle_type_id="scooter", **kw)  # type: ignore[arg-type]


def station(sid: str, east: float, north: float, *, virtual: bool = False) -> Station:
    lat, lon = at(east, north)
    return Station(id=sid, name=sid, lat=lat, lon=lon, is_virtual=virtual)


def hand_fleet(provider_id: str = "acme", updated_s: int = T0_S) -> FleetSnapshot:
    """The fleet of the module docstring."""
    return FleetSnapshot(
        provider_id=provider_id,
        gbfs_version="3.0",
        system=SystemInfo(provider_id, provider_id, "Europe/Helsinki"),
        feeds=feeds(updated_s, ("system_information", "vehicle_status", "station_status")),
        vehicle_types=(SCOOTER, BIKE),
        stations=(
            station("st1", 370, 410),
            station("st2", 900, 100),
            station("st3", 3100, 100),
            station("st4", 3190, 330, virtual=True),
        ),
        station_status=(
            StationStatus("st1", 3, num_docks_available=0, vehicle_types_available=(("bike", 3),)),
            StationStatus("st2", 0, num_docks_available=5, vehicle_types_available=(("bike", 0),)),
            StationStatus(
                "st3",
                2,
                is_renting=False,
                num_docks_available=2,
                vehicle_types_available=(("bike", 2),),
            ),
            StationStatus("st4", 1, vehicle_types_available=(("bike", 1),)),
        ),
        vehicles=(
            vehicle("s1", 310, 330),
            vehicle("s2", 630, 90),
            vehicle("s3", 630, 90, is_reserved=True),
            vehicle("s4", 300, 300, is_disabled=True),
            vehicle("s5", 2250, 250),
            Vehicle(id="b-1", lat=None, lon=None, vehicle_type_id="bike", station_id="st1"),
        ),
        source="synthetic",
    )


def by_key(rows: list[ZoneSample]) -> dict[tuple[str, str], ZoneSample]:
    return {(r.zone_id, r.vehicle_type_id): r for r in rows}


# -- aggregation ----------------------------------------------------------------------------


def test_aggregate_counts_by_hand() -> None:
    rows = by_key(aggregate(hand_fleet(), hand_zones(), sampled_at_s=T0_S))
    figures = {k: (r.vehicles, r.vehicles_in_reach, r.nearest_m) for k, r in rows.items() if k[1]}
    assert figures == {
        ("a", "scooter"): (1, 2, 130.0),  # s1 in a; s2 is 130 m from a's edge
        ("b", "scooter"): (1, 2, 260.0),  # s2 in b; s1 is 190 m from b's edge
        ("c", "scooter"): (0, 0, 1300.0),  # nothing near: the nearest is s5, 1 km away
        ("a", "bike"): (3, 3, 260.0),  # st1's 3 bikes (b-1 listed there is not counted again)
        ("b", "bike"): (0, 3, 540.0),  # st1 is 130 m from b's edge; st2 has none
        ("c", "bike"): (1, 1, 130.0),  # st4 (virtual); st3 does not rent
    }
    stations = {
        k[0]: (r.stations, r.stations_empty, r.stations_full, r.docks_free)
        for k, r in rows.items()
        if not k[1]
    }
    assert stations == {"a": (1, 0, 1, 0), "b": (1, 1, 0, 5), "c": (1, 1, 0, 2)}
    assert ("d", "scooter") not in rows  # no residents, nothing in or near it
    assert all(r.form_factor == "" for r in rows.values() if not r.vehicle_type_id)
    assert rows[("a", "bike")].form_factor == "bicycle"


def test_a_zone_with_residents_records_no_vehicle() -> None:
    empty = FleetSnapshot(
        provider_id="acme",
        gbfs_version="3.0",
        system=SystemInfo("acme", "Acme", "Europe/Helsinki"),
        feeds=feeds(T0_S, ("vehicle_status",)),
        vehicle_types=(SCOOTER,),
    )
    rows = aggregate(empty, hand_zones(), sampled_at_s=T0_S)
    assert [(r.zone_id, r.vehicles, r.vehicles_in_reach, r.nearest_m) for r in rows] == [
        ("a", 0, 0, None),
        ("b", 0, 0, None),
        ("c", 0, 0, None),
    ]


def test_an_impossible_station_count_is_refused_with_the_value() -> None:
    snap = hand_fleet()
    bad = (StationStatus("st2", 50_000, num_docks_available=0),)
    broken = FleetSnapshot(**{**_fields(snap), "station_status": bad})
    with pytest.raises(CoverageDataError, match="50000"):
        aggregate(broken, hand_zones(), sampled_at_s=T0_S)


def _fields(snap: FleetSnapshot) -> dict[str, object]:
    return {f: getattr(snap, f) for f in snap.__dataclass_fields__}


def test_aggregate_is_cheap_at_scale_shape() -> None:
    """The embedded city's zones: every zone with residents gets a row per type."""
    zones = default_service_zones()
    assert len(zones) == 162
    rows = aggregate(hand_fleet(), zones, sampled_at_s=T0_S)
    per_type = {t: sum(1 for r in rows if r.vehicle_type_id == t) for t in ("scooter", "bike")}
    assert per_type == {"scooter": 162, "bike": 162}


# -- zones ----------------------------------------------------------------------------------


def test_zone_lookups() -> None:
    zones = hand_zones()
    lat, lon = zip(at(250, 250), at(750, 250), at(2000, 250), at(5400, 100), strict=True)
    assert zones.zone_of(list(lat), list(lon)).tolist() == [0, 1, -1, 3]
    point, zone = zones.in_reach(*zip(at(520, 250), strict=True))
    assert sorted(zone.tolist()) == [0, 1] and point.tolist() == [0, 0]
    assert zones.zones[0].population == 1000 and zones.zones[2].zone_class == "peripheral"


@pytest.mark.parametrize(
    ("population", "message"),
    [
        (None, "population None"),
        (-3, "population -3"),
        (1.5, "population 1.5"),
        (True, "population True"),
    ],
)
def test_bad_zone_files_name_the_feature_and_field(population: object, message: str) -> None:
    doc = zones_geojson()
    doc["features"][2]["properties"]["population"] = population
    with pytest.raises(ZoneError, match=f"feature 2: properties.{message}"):
        service_zones_from_geojson(doc, source="zones.geojson")


def test_a_missing_zone_file_is_a_zone_error(tmp_path: Path) -> None:
    with pytest.raises(ZoneError, match=r"nope\.geojson"):
        load_service_zones(tmp_path / "nope.geojson")


# -- the store ------------------------------------------------------------------------------


def test_no_position_and_no_id_is_stored(tmp_path: Path) -> None:
    snap = hand_fleet()
    path = tmp_path / "history.sqlite3"
    store = HistoryStore(path)
    assert store.record(aggregate(snap, hand_zones(), sampled_at_s=T0_S)) > 0
    store.close()

    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert sorted(tables) == ["coverage_meta", "coverage_samples", "coverage_series"]
    columns = {
        t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")]
        for t in ("coverage_series", "coverage_samples")
    }
    assert columns == {
        "coverage_series": [
            "series_id",
            "provider_id",
            "zone_id",
            "vehicle_type_id",
            "form_factor",
            "last_s",
            "replayed",
        ],
        "coverage_samples": [
            "sampled_at_s",
            "series_id",
            "vehicles",
            "vehicles_in_reach",
            "nearest_m",
            "docks_free",
            "stations",
            "stations_empty",
            "stations_full",
            "replayed",
        ],
    }
    values = {
        v
        for t in ("coverage_series", "coverage_samples")
        for row in conn.execute(f"SELECT * FROM {t}")
        for v in row
    }
    ids = {v.id for v in snap.vehicles} | {s.id for s in snap.stations}
    coordinates = {v.lat for v in snap.vehicles} | {v.lon for v in snap.vehicles}
    coordinates |= {s.lat for s in snap.stations} | {s.lon for s in snap.stations}
    coordinates.discard(None)  # b-1 stands at its station, without coordinates
    assert not values & ids
    assert not values & coordinates
    assert not any(isinstance(v, float) and v < 100 and v % 1 for v in values)  # no degrees
    texts = {v for v in values if isinstance(v, str)}
    assert texts == {"acme", "a", "b", "c", "scooter", "bike", "", "scooter_standing", "bicycle"}


def test_history_survives_reopening_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    rows = aggregate(hand_fleet(), hand_zones(), sampled_at_s=T0_S)
    store = HistoryStore(path)
    store.record(rows)
    store.record(rows)  # recorded again (another worker): replaced, not duplicated
    store.close()

    again = HistoryStore(path)
    got = again.samples(from_s=T0_S, to_s=T0_S + 1)
    assert sorted(got, key=_order) == sorted(rows, key=_order)
    assert again.providers() == ["acme"]
    assert again.span() == (T0_S, T0_S)
    assert again.samples(from_s=T0_S + 1, to_s=T0_S + 600) == []
    assert again.samples(from_s=T0_S, to_s=T0_S + 1, provider_id="other") == []
    again.close()


def _order(s: ZoneSample) -> tuple[str, str, str]:
    return (s.provider_id, s.zone_id, s.vehicle_type_id)


def test_history_shares_the_file_with_policies_and_accounts(tmp_path: Path) -> None:
    path = tmp_path / "policies.sqlite3"
    policies, accounts = SqlitePolicyStore(str(path)), SqliteAccounts(path)
    history = open_history_store(f"sqlite:///{path}")
    history.record(aggregate(hand_fleet(), hand_zones(), sampled_at_s=T0_S))
    accounts.create_provider("acme", "Acme")
    assert history.providers() == ["acme"]
    assert [a.provider_id for a in accounts.list()] == ["acme"]
    assert policies.list() == []
    for s in (history, accounts, policies):
        s.close()


def test_retention_purges_old_rows_on_record(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite3", retention_s=3600)
    zones = hand_zones()
    store.record(aggregate(hand_fleet("old"), zones, sampled_at_s=T0_S))
    store.record(aggregate(hand_fleet("new"), zones, sampled_at_s=T0_S + 3600))
    assert store.providers() == ["new", "old"]  # exactly at the retention: kept
    store.record(aggregate(hand_fleet("new"), zones, sampled_at_s=T0_S + 3601))
    assert store.providers() == ["new"]
    assert store.samples(from_s=0, to_s=T0_S + 1) == []
    assert store.purge(T0_S + 3601) == 9  # the first "new" sample: 3 zones x (2 types + stations)
    assert store.span() == (T0_S + 3601, T0_S + 3601)
    store.close()


def test_a_history_file_from_a_newer_fairtrip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    HistoryStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE coverage_meta SET value = '99' WHERE key = 'schema'")
    conn.commit()
    conn.close()
    with pytest.raises(HistoryStoreError, match="schema 99"):
        HistoryStore(path)


def test_history_path_follows_the_durable_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert history_path("sqlite:///srv/fairtrip/p.sqlite3") == "/srv/fairtrip/p.sqlite3"
    assert history_path("sqlite:///:memory:") == ":memory:"
    monkeypatch.setenv("FAIRTRIP_CACHE", str(tmp_path / "cache"))
    assert history_path("redis://localhost:6379/0").endswith("cache/history.sqlite3")
    with pytest.raises(HistoryStoreError, match="unsupported"):
        history_path("postgres://x")


# -- the recorder ---------------------------------------------------------------------------


def test_the_recorder_records_fresh_snapshots_at_slot_times() -> None:
    availability = MemoryStore()
    availability.put_snapshot(hand_fleet("acme", updated_s=T0_S))
    availability.put_snapshot(hand_fleet("stale", updated_s=T0_S - 3600))
    history = HistoryStore(":memory:")
    recorder = HistoryRecorder(history, availability, hand_zones(), period_s=300)
    now = T0_S + 130  # T0_S is 1_700_000_000: slots start at multiples of 300
    assert recorder.record_now(now) == 9
    rows = history.samples(from_s=0, to_s=2 * T0_S)
    assert {r.sampled_at_s for r in rows} == {now // 300 * 300}
    assert history.providers() == ["acme"]


def test_a_broken_provider_is_left_out_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    availability = MemoryStore()
    availability.put_snapshot(hand_fleet("good"))
    bad = (StationStatus("st2", 50_000, num_docks_available=0),)
    availability.put_snapshot(
        FleetSnapshot(**{**_fields(hand_fleet("bad")), "station_status": bad})
    )
    recorder = HistoryRecorder(HistoryStore(":memory:"), availability, hand_zones())
    with caplog.at_level(logging.WARNING, logger="service_coverage.recorder"):
        assert recorder.record_now(T0_S + 10) == 9
        assert recorder.record_now(T0_S + 20) == 9
    assert [r.getMessage() for r in caplog.records if "bad" in r.getMessage()] == [
        "availability history: provider bad left out of the samples: CoverageDataError: "
        "provider 'bad': vehicles available at station 'st2' is 50000, expected 0..10000"
    ]
    assert recorder.history.providers() == ["good"]


def test_the_recorder_thread_records_and_survives_a_failing_store() -> None:
    availability = MemoryStore()
    availability.put_snapshot(hand_fleet("acme", updated_s=int(time.time())))
    history = HistoryStore(":memory:")
    recorded = threading.Event()
    calls: list[int] = []
    real_record = history.record

    def flaky(samples: list[ZoneSample]) -> int:
        calls.append(len(samples))
        if len(calls) == 1:
            raise HistoryStoreError("disk full")
        recorded.set()
        return real_record(samples)

    history.record = flaky  # type: ignore[method-assign]
    recorder = HistoryRecorder(history, availability, hand_zones(), period_s=0.1)
    recorder.start()
    try:
        assert recorded.wait(5.0)
    finally:
        recorder.close()
    assert recorder.last_error is None
    assert len(calls) >= 2


def _one_sample_rows() -> list[ZoneSample]:
    return aggregate(hand_fleet(), hand_zones(), sampled_at_s=T0_S)


def test_the_retention_keeps_a_replayed_day_and_an_explicit_purge_does_not(tmp_path):
    # a SYNTHETIC day replayed for a demo lies years back: the server's next live record,
    # whose retention drops live samples more than 35 days old, must not take it away
    store = HistoryStore(tmp_path / "durable.sqlite3", retention_s=3600)
    store.record([replace(s, sampled_at_s=500) for s in _one_sample_rows()])  # live
    store.record([replace(s, sampled_at_s=1_000) for s in _one_sample_rows()], replayed=True)
    assert {s.sampled_at_s for s in store.samples(from_s=0, to_s=2_000_000)} == {500, 1_000}
    # the next live record drops the live sample past the retention, not the replayed one
    store.record([replace(s, sampled_at_s=1_000_000) for s in _one_sample_rows()])
    assert {s.sampled_at_s for s in store.samples(from_s=0, to_s=2_000_000)} == {1_000, 1_000_000}
    store.purge(2_000)
    assert {s.sampled_at_s for s in store.samples(from_s=0, to_s=2_000_000)} == {1_000_000}

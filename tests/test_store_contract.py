"""One contract for every AvailabilityStore backend: memory and a real Redis server."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from types import MappingProxyType

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.errors import FeedError, UnknownProviderError
from providers.model import (
    FeedFile,
    FleetSnapshot,
    Geofencing,
    GeofencingRule,
    GeofencingZone,
    PriceSegment,
    PricingPlan,
    RentalUris,
    StationStatus,
    SystemInfo,
    Vehicle,
    VehicleType,
)
from providers.store import (
    MAX_RADIUS_M,
    STALE_AFTER_S,
    AvailabilityStore,
    MemoryStore,
    RedisStore,
    open_store,
)
from providers.store.codec import CodecError, decode_snapshot, encode_snapshot
from tests.fleet_factory import (
    HELSINKI,
    T0_S,
    feeds,
    make_snapshot,
    offset,
    redis_client,
    scratch_namespace,
)

REDIS = redis_client()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[AvailabilityStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    if REDIS is None:
        pytest.skip("no Redis server at the test URL")
    with scratch_namespace(REDIS) as ns:
        yield RedisStore(REDIS, namespace=ns)


def tags(ids: list[str]) -> set[str]:
    return {i.split("-", 1)[0] for i in ids}


# -- round trip and replacement ------------------------------------------------------------
def test_put_then_read_round_trips(store: AvailabilityStore) -> None:
    snap = make_snapshot("citybikes", 25, n_stations=5)
    store.put_snapshot(snap)
    assert store.snapshot("citybikes") == snap
    assert store.provider_ids() == ["citybikes"]
    assert store.snapshot("nobody") is None
    st_ = store.status("citybikes", T0_S + 10)
    assert (st_.vehicles, st_.stations, st_.source) == (25, 5, "synthetic")


def test_put_replaces_the_whole_fleet(store: AvailabilityStore) -> None:
    store.put_snapshot(make_snapshot("p1", 30, tag="a"))
    store.put_snapshot(make_snapshot("p1", 12, tag="b", seed=1))
    found = store.nearby_vehicles(*HELSINKI, 5000, limit=1000)
    assert len(found) == 12
    assert tags([h.vehicle.id for h in found]) == {"b"}
    assert len(store.snapshot("p1").vehicles) == 12  # type: ignore[union-attr]


def test_replacement_is_atomic_for_concurrent_readers(store: AvailabilityStore) -> None:
    fleets = {
        "a": make_snapshot("p1", 40, tag="a", spread_m=800),
        "b": make_snapshot("p1", 70, tag="b", spread_m=800, seed=1),
    }
    sizes = {t: len(s.vehicles) for t, s in fleets.items()}
    store.put_snapshot(fleets["a"])
    stop = threading.Event()
    problems: list[str] = []
    reads = [0]

    def reader() -> None:
        while not stop.is_set():
            ids = [h.vehicle.id for h in store.nearby_vehicles(*HELSINKI, 2000, limit=1000)]
            t = tags(ids)
            if len(t) != 1 or len(ids) != sizes[next(iter(t))]:
                problems.append(f"nearby saw {len(ids)} vehicles tagged {sorted(t)}")
            snap = store.snapshot("p1")
            ids = [v.id for v in snap.vehicles] if snap else []
            t = tags(ids)
            if len(t) != 1 or len(ids) != sizes[next(iter(t))]:
                problems.append(f"snapshot had {len(ids)} vehicles tagged {sorted(t)}")
            reads[0] += 1

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    # run until both sides have done enough work, not for a fixed time: a loaded machine
    # (CI on 2 shared cores) must not turn a slow run into a failure
    give_up = time.monotonic() + 60.0
    n_writes = 0
    while (n_writes < 40 or reads[0] < 40) and time.monotonic() < give_up:
        store.put_snapshot(fleets["ab"[n_writes % 2]])
        n_writes += 1
    stop.set()
    for t in threads:
        t.join()
    assert not problems, problems[:5]
    assert n_writes >= 40 and reads[0] >= 40, (n_writes, reads[0])


# -- validation ----------------------------------------------------------------------------
def _bad_snapshots() -> list[FleetSnapshot]:
    good = make_snapshot("p1", 3, tag="z")

    def with_vehicle(bad: Vehicle) -> FleetSnapshot:
        return make_snapshot("p1", vehicles=(*good.vehicles[1:], bad))

    return [
        with_vehicle(Vehicle(id="x", lat=85.06, lon=24.9)),  # beyond Redis GEO
        with_vehicle(Vehicle(id="x", lat=-89.0, lon=24.9)),
        with_vehicle(Vehicle(id="x", lat=60.0, lon=180.5)),
        with_vehicle(Vehicle(id="x", lat=math.nan, lon=24.9)),
        with_vehicle(Vehicle(id="x", lat=math.inf, lon=24.9)),
        with_vehicle(Vehicle(id="x", lat=60.0, lon=None)),
        with_vehicle(Vehicle(id="x", lat="60.1", lon=24.9)),  # type: ignore[arg-type]
        with_vehicle(Vehicle(id=good.vehicles[1].id, lat=60.1, lon=24.9)),  # duplicate id
        with_vehicle(Vehicle(id="x", lat=60.1, lon=24.9, current_range_m=math.nan)),
        make_snapshot("P1!", 3),  # invalid provider id
        make_snapshot("p1:*", 3),
        FleetSnapshot(  # last_updated far in the future: would never go stale
            provider_id="p1",
            gbfs_version="3.0",
            system=good.system,
            feeds=(FeedFile("vehicle_status", T0_S + 10_000, 60, "0" * 64, T0_S),),
            vehicles=good.vehicles,
        ),
    ]


@pytest.mark.parametrize("index", range(len(_bad_snapshots())))
def test_invalid_snapshot_is_rejected_before_any_write(
    store: AvailabilityStore, index: int
) -> None:
    good = make_snapshot("p1", 20, tag="a")
    store.put_snapshot(good)
    before = store.digest()
    with pytest.raises(FeedError):
        store.put_snapshot(_bad_snapshots()[index])
    assert store.digest() == before
    assert store.snapshot("p1") == good
    assert store.provider_ids() == ["p1"]


# -- freshness ------------------------------------------------------------------------------
def test_stale_after_300_s(store: AvailabilityStore) -> None:
    store.put_snapshot(make_snapshot("p1", 5, updated_s=T0_S))
    at_limit = store.status("p1", T0_S + STALE_AFTER_S)
    assert (at_limit.age_s, at_limit.stale) == (300, False)
    late = store.status("p1", T0_S + STALE_AFTER_S + 1)
    assert (late.age_s, late.stale) == (301, True)
    files = {f.name: f for f in late.files}
    assert files["vehicle_status"].age_s == 301
    assert files["vehicle_status"].received_at_s == T0_S + 2
    with pytest.raises(UnknownProviderError):
        store.status("nobody", T0_S)


def test_staleness_follows_the_dynamic_files(store: AvailabilityStore) -> None:
    snap = make_snapshot("p1", 5, updated_s=T0_S)
    # static files refreshed recently, vehicle_status old: stale
    mixed = FleetSnapshot(
        **{
            **{f: getattr(snap, f) for f in snap.__dataclass_fields__},
            "feeds": (
                *feeds(T0_S + 1000, ("system_information",)),
                *feeds(T0_S, ("vehicle_status",)),
            ),
        }
    )
    store.put_snapshot(mixed)
    assert store.status("p1", T0_S + 400).stale
    # a feed with only system_information is judged by it
    info_only = FleetSnapshot(
        provider_id="info",
        gbfs_version="2.3",
        system=snap.system,
        feeds=feeds(T0_S, ("system_information",)),
    )
    store.put_snapshot(info_only)
    assert not store.status("info", T0_S + 100).stale
    assert store.status("info", T0_S + 301).stale


def test_fresh_snapshots_excludes_stale_providers(store: AvailabilityStore) -> None:
    store.put_snapshot(make_snapshot("old", 5, updated_s=T0_S - 1000))
    store.put_snapshot(make_snapshot("new", 5, updated_s=T0_S))
    fresh = store.fresh_snapshots(T0_S + 60)
    assert isinstance(fresh, MappingProxyType)
    assert list(fresh) == ["new"]
    with pytest.raises(TypeError):
        fresh["old"] = fresh["new"]  # type: ignore[index]
    # a clock behind the publisher's counts as age 0, not negative
    assert list(store.fresh_snapshots(T0_S - 990)) == ["new", "old"]
    near = store.nearby_vehicles(*HELSINKI, 5000, limit=1000, now_s=T0_S + 60)
    assert {h.provider_id for h in near} == {"new"}


# -- nearby ---------------------------------------------------------------------------------
def _line_fleet(provider_id: str, distances_m: list[float], tag: str) -> FleetSnapshot:
    vehicles = tuple(
        Vehicle(id=f"{tag}-{int(d)}", lat=p[0], lon=p[1])
        for d in distances_m
        for p in [offset(*HELSINKI, d, 0.0)]
    )
    return make_snapshot(provider_id, vehicles=vehicles)


def test_nearby_is_nearest_first_within_the_radius(store: AvailabilityStore) -> None:
    store.put_snapshot(_line_fleet("p1", [700.0, 100.0, 1500.0, 300.0], "a"))
    store.put_snapshot(_line_fleet("p2", [200.0, 900.0], "b"))
    found = store.nearby_vehicles(*HELSINKI, 1000)
    assert [h.vehicle.id for h in found] == ["a-100", "b-200", "a-300", "a-700", "b-900"]
    for h in found:
        assert h.distance_m == pytest.approx(float(h.vehicle.id.split("-")[1]), abs=1.5)
    assert [h.vehicle.id for h in store.nearby_vehicles(*HELSINKI, 1000, limit=2)] == [
        "a-100",
        "b-200",
    ]
    only_b = store.nearby_vehicles(*HELSINKI, 5000, provider_ids=["b", "p2", "zz"])
    assert [h.vehicle.id for h in only_b] == ["b-200", "b-900"]
    assert store.nearby_vehicles(*offset(*HELSINKI, -4000, 0), 1000) == []


def test_numpy_scalars_are_accepted(store: AvailabilityStore) -> None:
    lat, lon = offset(*HELSINKI, 100, 0)
    vehicles = (Vehicle(id="a-1", lat=np.float64(lat), lon=np.float64(lon)),)
    store.put_snapshot(make_snapshot("p1", vehicles=vehicles))
    found = store.nearby_vehicles(np.float64(HELSINKI[0]), np.float64(HELSINKI[1]), np.float32(500))
    assert [h.vehicle.id for h in found] == ["a-1"]


def test_nearby_radius_and_limit_are_bounded(store: AvailabilityStore) -> None:
    store.put_snapshot(make_snapshot("p1", 5))
    for bad in ({"radius_m": MAX_RADIUS_M + 1}, {"radius_m": 0}, {"radius_m": math.nan}):
        with pytest.raises(ValueError, match="radius_m"):
            store.nearby_vehicles(*HELSINKI, **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        store.nearby_stations(*HELSINKI, 100, limit=0)
    with pytest.raises(ValueError, match="lat"):
        store.nearby_vehicles(91.0, 0.0, 100)


def test_nearby_skips_reserved_disabled_and_docked(store: AvailabilityStore) -> None:
    lat, lon = offset(*HELSINKI, 50, 0)
    vehicles = (
        Vehicle(id="a-ok", lat=lat, lon=lon),
        Vehicle(id="a-res", lat=lat, lon=lon, is_reserved=True),
        Vehicle(id="a-dis", lat=lat, lon=lon, is_disabled=True),
        Vehicle(id="a-docked", lat=None, lon=None, station_id="s1"),
    )
    store.put_snapshot(make_snapshot("p1", vehicles=vehicles))
    assert [h.vehicle.id for h in store.nearby_vehicles(*HELSINKI, 500)] == ["a-ok"]


def test_nearby_stations_carry_their_status(store: AvailabilityStore) -> None:
    snap = make_snapshot("p1", 0, n_stations=30, spread_m=1500)
    store.put_snapshot(snap)
    found = store.nearby_stations(*HELSINKI, 3000, limit=1000)
    assert len(found) == 30
    assert [h.distance_m for h in found] == sorted(h.distance_m for h in found)
    by_id = {s.station_id: s for s in snap.station_status}
    assert all(h.status == by_id[h.station.id] for h in found)


# -- delete and digest ----------------------------------------------------------------------
def test_delete_provider(store: AvailabilityStore) -> None:
    store.put_snapshot(make_snapshot("p1", 5, n_stations=2))
    store.put_snapshot(make_snapshot("p2", 5, tag="b"))
    store.delete_provider("p1")
    assert store.snapshot("p1") is None
    assert store.provider_ids() == ["p2"]
    assert tags([h.vehicle.id for h in store.nearby_vehicles(*HELSINKI, 5000)]) == {"b"}
    assert store.nearby_stations(*HELSINKI, 5000) == []
    with pytest.raises(UnknownProviderError):
        store.delete_provider("p1")
    with pytest.raises(UnknownProviderError):
        store.delete_provider("NOT VALID")


def test_digest_depends_only_on_content(store: AvailabilityStore) -> None:
    empty = store.digest()
    a, b = make_snapshot("p1", 10), make_snapshot("p2", 10, tag="b")
    store.put_snapshot(b)
    store.put_snapshot(a)
    d1 = store.digest()
    store.put_snapshot(a)  # identical content again: same bytes, same digest
    assert store.digest() == d1
    other = MemoryStore()
    other.put_snapshot(a)
    other.put_snapshot(b)
    assert other.digest() == d1  # order of writes and backend do not matter
    store.put_snapshot(make_snapshot("p1", 10, updated_s=T0_S + 1))
    assert store.digest() != d1
    store.delete_provider("p1")
    store.delete_provider("p2")
    assert store.digest() == empty


def test_health_and_ping(store: AvailabilityStore) -> None:
    assert store.ping()
    assert store.health()["ok"] is True


def test_open_store() -> None:
    assert isinstance(open_store(None), MemoryStore)
    assert isinstance(open_store("memory"), MemoryStore)
    with pytest.raises(ValueError, match="unknown store URL"):
        open_store("postgres://x")
    with pytest.raises(ValueError, match="no options"):
        open_store("memory", namespace="x:")


# -- codec ----------------------------------------------------------------------------------
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
text = st.text(max_size=8)
ids = st.text(alphabet="abcxyz019-_", min_size=1, max_size=6)
opt = st.none
json_leaf = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | finite | text
geojson = st.dictionaries(
    text,
    st.recursive(
        json_leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(text, c, max_size=3)
    ),
    max_size=3,
)
uris = st.builds(RentalUris, android=opt() | text, ios=opt() | text, web=opt() | text)
rule = st.builds(
    GeofencingRule,
    vehicle_type_ids=st.lists(ids, max_size=2).map(tuple),
    maximum_speed_kph=opt() | st.integers(0, 50),
    station_parking=opt() | st.booleans(),
)
snapshots = st.builds(
    FleetSnapshot,
    provider_id=st.from_regex(r"[a-z0-9][a-z0-9_-]{1,10}", fullmatch=True),
    gbfs_version=st.sampled_from(["1.1", "2.3", "3.0"]),
    system=st.builds(SystemInfo, system_id=ids, name=text, timezone=text, url=opt() | text),
    feeds=st.lists(
        st.builds(
            FeedFile,
            name=ids,
            last_updated_s=st.integers(0, 2**40),
            ttl_s=st.integers(0),
            content_sha256=text,
            received_at_s=st.integers(0, 2**40),
        ),
        max_size=3,
    ).map(tuple),
    vehicle_types=st.lists(
        st.builds(
            VehicleType,
            id=ids,
            max_range_m=opt() | finite,
            g_co2_km=opt() | st.integers(),
            pricing_plan_ids=st.lists(ids, max_size=2).map(tuple),
        ),
        max_size=2,
    ).map(tuple),
    station_status=st.lists(
        st.builds(
            StationStatus,
            station_id=ids,
            num_vehicles_available=st.integers(0, 100),
            vehicle_types_available=st.lists(st.tuples(ids, st.integers(0, 9)), max_size=2).map(
                tuple
            ),
            vehicle_docks_available=st.lists(
                st.tuples(st.lists(ids, max_size=2).map(tuple), st.integers(0, 9)), max_size=2
            ).map(tuple),
        ),
        max_size=2,
    ).map(tuple),
    vehicles=st.lists(
        st.builds(
            Vehicle,
            id=ids,
            lat=opt() | finite,
            lon=opt() | finite,
            rental_uris=opt() | uris,
            current_fuel_percent=opt() | finite,
            last_reported_s=opt() | st.integers(),
        ),
        max_size=3,
    ).map(tuple),
    pricing_plans=st.lists(
        st.builds(
            PricingPlan,
            id=ids,
            name=text,
            currency=st.just("EUR"),
            price_minor=st.integers(),
            per_min=st.lists(
                st.builds(
                    PriceSegment,
                    start=st.integers(0, 60),
                    rate_minor=st.integers(-100, 100),
                    interval=st.integers(1, 10),
                    end=opt() | st.integers(0, 99),
                ),
                max_size=2,
            ).map(tuple),
        ),
        max_size=2,
    ).map(tuple),
    geofencing=st.builds(
        Geofencing,
        zones=st.lists(
            st.builds(
                GeofencingZone,
                geometry=geojson,
                rules=st.lists(rule, max_size=2).map(tuple),
                name=opt() | text,
            ),
            max_size=2,
        ).map(tuple),
        global_rules=st.lists(rule, max_size=1).map(tuple),
    ),
    source=st.sampled_from(["push", "poll", "synthetic"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots)
def test_codec_round_trips_exactly(snap: FleetSnapshot) -> None:
    blob = encode_snapshot(snap)
    back = decode_snapshot(blob)
    assert back == snap
    assert encode_snapshot(back) == blob  # canonical: one encoding per snapshot


def test_codec_is_canonical_and_strict() -> None:
    snap = make_snapshot("p1", 3)
    assert encode_snapshot(snap) == encode_snapshot(make_snapshot("p1", 3))
    as_int = make_snapshot("p1", vehicles=(Vehicle(id="a-1", lat=60, lon=25),))
    as_float = make_snapshot("p1", vehicles=(Vehicle(id="a-1", lat=60.0, lon=25.0),))
    assert encode_snapshot(as_int) == encode_snapshot(as_float)
    with pytest.raises(CodecError):
        encode_snapshot(make_snapshot("p1", vehicles=(Vehicle(id="a", lat=1.0, lon=math.inf),)))
    with pytest.raises(CodecError):
        decode_snapshot(b'{"codec": 99, "snapshot": {}}')
    with pytest.raises(CodecError):
        decode_snapshot(encode_snapshot(snap).replace(b'"gbfs_version"', b'"gbfs_versionX"'))

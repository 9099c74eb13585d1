"""Property: whatever a provider pushes, /plan answers 200 (issue 11, isolation at planning).

Hypothesis generates SYNTHETIC GBFS 2.3 and 3.0 feeds: stations and vehicles anywhere in the
world and in and around the embedded Helsinki network, counts from zero to far past int32,
capacities, ranges, every form factor, propulsion and return constraint, pricing plans and
geofencing zones with every kind of rule. Each feed is pushed through the real API (admin
registration, provider key, `PUT /providers/{id}/gbfs`); the parser may refuse it (4xx),
never with a 5xx. Then `/plan` between two fixed Helsinki points, with every mode (the
default ones plus the rider's own bike), depart-at and arrive-by, must answer 200.

A second provider keeps one valid feed near the route throughout, so every example also
plans with a healthy tenant beside the generated one; the generated provider's snapshot is
deleted before each example, so examples do not depend on each other.

Runs 150 examples (about 20 s on one core). With the parser's bounds about 45 % of the feeds
are accepted, the rest refused (the statistics, `--hypothesis-show-statistics`, name each
refused field); about 30 % of the examples get the generated fleets into the search and
some 7 % into an itinerary. That reaches huge counts, far-away feeds, zones and every form
factor many times each.

The parser's bounds stop most wild values at the door, so a second property puts SYNTHETIC
snapshots straight into the store (only the store's own entry check applies): counts and
speeds from negative to 2**63, any finite range, dangling references, zones anywhere. It
runs 100 examples (about 10 s) and asserts more: the adapter alone isolates the bad
provider (the search never needs its last-resort retry without shared vehicles).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.schemas import PlanQuery
from api.settings import Settings
from providers.errors import FeedError
from providers.model import (
    FeedFile,
    FleetSnapshot,
    FormFactor,
    Geofencing,
    GeofencingRule,
    GeofencingZone,
    PriceSegment,
    PricingPlan,
    Propulsion,
    ReturnConstraint,
    Station,
    StationStatus,
    SystemInfo,
    Vehicle,
    VehicleType,
)

log = logging.getLogger(__name__)

ADMIN = "admin-token-for-tests-0123456789"
FROM = (60.1622, 24.9296)  # Hietalahti
TO = (60.1670, 24.9680)  # Katajanokka
AT = "2022-02-22T08:00:00+02:00"
EVERY_MODE = "WALK,TRANSIT,BICYCLE,BICYCLE_RENTAL,SCOOTER_RENTAL,CAR_RENTAL"
EXAMPLES = 150
RAW_EXAMPLES = 100
#: the embedded network's streets span about lat 60.147..60.195, lon 24.892..24.990
NEAR = (60.13, 60.21, 24.87, 25.01)

FORM_FACTORS = (
    "bicycle",
    "cargo_bicycle",
    "car",
    "moped",
    "scooter_standing",
    "scooter_seated",
    "other",
)
PROPULSIONS = (
    "human",
    "electric_assist",
    "electric",
    "combustion",
    "combustion_diesel",
    "hybrid",
    "plug_in_hybrid",
    "hydrogen_fuel_cell",
)
CONSTRAINTS = (None, "free_floating", "roundtrip_station", "any_station", "hybrid")

# -- strategies -----------------------------------------------------------------------------

near = st.tuples(st.floats(NEAR[0], NEAR[1]), st.floats(NEAR[2], NEAR[3]))
by_the_route = st.tuples(st.floats(60.158, 60.172), st.floats(24.925, 24.972))
#: mostly in and around the network, now and then anywhere (Oslo, the poles, null island)
coordinates = st.one_of(
    by_the_route,
    by_the_route,
    near,
    st.tuples(st.floats(-85.0, 85.0), st.floats(-180.0, 180.0)),
    st.sampled_from([(59.95, 10.72), (60.1699, 24.9384), (0.0, 0.0), (85.0, 180.0)]),
)
#: counts and ranges as real feeds have them, and (in a "wild" feed) far past any bound
sane_counts = st.one_of(st.integers(1, 30), st.just(0))
wild_counts = st.one_of(
    st.integers(0, 2**40),
    st.sampled_from([10_000, 10_001, 2**31 - 1, 2**31, 2**32, 2**63]),
)
sane_ranges_m = st.one_of(st.floats(1_000.0, 50_000.0), st.sampled_from([0.0, 0.001, 80.0]))
wild_ranges_m = st.one_of(st.floats(0.0, 1e9), st.sampled_from([1_000_000.0, 1e300]))

#: a flag that holds three times in four (hypothesis leans to small draws, so 0 means True)
mostly_true = st.integers(0, 3).map(lambda n: n != 3)


def _stamp(t: int, v3: bool) -> int | str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) if v3 else t


def _text(text: str, v3: bool) -> Any:
    return [{"text": text, "language": "en"}] if v3 else text


@st.composite
def vehicle_types(
    draw: st.DrawFn, v3: bool, ranges_m: st.SearchStrategy[float]
) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(1, 3))):
        form = draw(st.sampled_from(FORM_FACTORS))
        if not v3 and form == "scooter_standing" and draw(st.booleans()):
            form = "scooter"  # the 2.x name
        propulsion = draw(st.sampled_from(PROPULSIONS))
        vt: dict[str, Any] = {
            "vehicle_type_id": f"t{i}",
            "form_factor": form,
            "propulsion_type": propulsion,
            "name": _text(f"Type {i}", v3),
        }
        if propulsion != "human" or draw(st.booleans()):
            vt["max_range_meters"] = draw(ranges_m)
        constraint = draw(st.sampled_from(CONSTRAINTS))
        if constraint is not None:
            vt["return_constraint"] = constraint
        if draw(st.booleans()):
            vt["default_pricing_plan_id"] = "plan"
        out.append(vt)
    return out


@st.composite
def geofencing(draw: st.DrawFn, v3: bool, type_ids: list[str]) -> dict[str, Any]:
    features = []
    for i in range(draw(st.integers(0, 2))):
        lat, lon = draw(coordinates)
        d = draw(st.floats(1e-4, 0.05))
        lat, lon = min(lat, 85.0 - d), min(lon, 180.0 - d)
        ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
        rules = [draw(_rule(v3, type_ids)) for _ in range(draw(st.integers(0, 2)))]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"name": _text(f"Zone {i}", v3), "rules": rules},
            }
        )
    data: dict[str, Any] = {"geofencing_zones": {"type": "FeatureCollection", "features": features}}
    if v3:  # required in 3.0, may be empty
        data["global_rules"] = [draw(_rule(v3, type_ids)) for _ in range(draw(st.integers(0, 1)))]
    return data


@st.composite
def _rule(draw: st.DrawFn, v3: bool, type_ids: list[str]) -> dict[str, Any]:
    rule: dict[str, Any] = {"ride_through_allowed": draw(st.booleans())}
    if v3:
        rule["ride_start_allowed"] = draw(st.booleans())
        rule["ride_end_allowed"] = draw(st.booleans())
        if draw(st.booleans()):
            rule["station_parking"] = draw(st.booleans())
    else:
        rule["ride_allowed"] = draw(st.booleans())
    if draw(st.booleans()):
        rule["vehicle_type_ids" if v3 else "vehicle_type_id"] = draw(
            st.lists(st.sampled_from(type_ids), min_size=1, max_size=len(type_ids), unique=True)
        )
    if draw(st.booleans()):
        rule["maximum_speed_kph"] = draw(st.one_of(st.integers(0, 60), st.integers(0, 400)))
    return rule


@st.composite
def feeds(draw: st.DrawFn) -> dict[str, Any]:
    """A SYNTHETIC feed (file name -> document), mostly valid, with hostile values."""
    v3 = draw(st.booleans())
    # one feed in five is wild in each (hypothesis leans to small draws: wild is the large one)
    counts = wild_counts if draw(st.integers(0, 4)) == 4 else sane_counts
    ranges_m = wild_ranges_m if draw(st.integers(0, 4)) == 4 else sane_ranges_m
    now = int(time.time())
    env = {
        "last_updated": _stamp(now, v3),
        "ttl": draw(st.integers(0, 300)),
        "version": "3.0" if v3 else draw(st.sampled_from(["2.2", "2.3"])),
    }
    system: dict[str, Any] = {
        "system_id": "prop",
        "name": _text("Property Bikes", v3),
        "timezone": "Europe/Helsinki",
    }
    if v3:
        system.update(languages=["en"], opening_hours="24/7", feed_contact_email="ops@example.org")
    else:
        system["language"] = "en"
    types = draw(vehicle_types(v3, ranges_m))
    type_ids = [t["vehicle_type_id"] for t in types]
    files: dict[str, Any] = {
        "system_information": {**env, "data": system},
        "vehicle_types": {**env, "data": {"vehicle_types": types}},
        "system_pricing_plans": {
            **env,
            "data": {
                "plans": [
                    {
                        "plan_id": "plan",
                        "name": _text("Ride", v3),
                        "currency": "EUR",
                        "price": draw(st.sampled_from([0, 1.5, 999_999])),
                        "is_taxable": False,
                        "description": _text("per minute", v3),
                        "per_min_pricing": [
                            {
                                "start": 0,
                                "rate": draw(st.sampled_from([0, 0.25, 1000])),
                                "interval": draw(st.integers(1, 60)),
                            }
                        ],
                    }
                ]
            },
        },
    }
    stations, status = [], []
    for i in range(draw(st.integers(0, 4))):
        lat, lon = draw(coordinates)
        station: dict[str, Any] = {
            "station_id": f"s{i}",
            "name": _text(f"Station {i}", v3),
            "lat": lat,
            "lon": lon,
        }
        if draw(st.booleans()):
            station["capacity"] = draw(counts)
        stations.append(station)
        available = draw(counts)
        entry: dict[str, Any] = {
            "station_id": f"s{i}",
            "num_vehicles_available" if v3 else "num_bikes_available": available,
            "is_installed": draw(mostly_true),
            "is_renting": draw(mostly_true),
            "is_returning": draw(mostly_true),
            "last_reported": _stamp(now, v3),
        }
        if draw(st.booleans()):
            entry["num_docks_available"] = draw(counts)
        if draw(st.booleans()):
            entry["vehicle_types_available"] = [
                {"vehicle_type_id": t, "count": draw(counts)} for t in type_ids
            ]
        if draw(st.booleans()):
            entry["vehicle_docks_available"] = [
                {"vehicle_type_ids": type_ids, "count": draw(counts)}
            ]
        status.append(entry)
    if stations:
        files["station_information"] = {**env, "data": {"stations": stations}}
        files["station_status"] = {**env, "data": {"stations": status}}
    vehicles = []
    for i in range(draw(st.integers(0 if stations else 1, 5))):
        vt = draw(st.sampled_from(types))
        vehicle: dict[str, Any] = {
            "vehicle_id" if v3 else "bike_id": f"v{i}",
            "is_reserved": not draw(mostly_true),
            "is_disabled": not draw(mostly_true),
            "vehicle_type_id": vt["vehicle_type_id"],
        }
        if stations and draw(st.booleans()):
            vehicle["station_id"] = f"s{draw(st.integers(0, len(stations) - 1))}"
        else:
            vehicle["lat"], vehicle["lon"] = draw(coordinates)
        # required for motorised types; left out now and then all the same
        motorised = vt["propulsion_type"] != "human"
        if (motorised or draw(st.booleans())) and draw(st.integers(0, 19)):
            vehicle["current_range_meters"] = draw(ranges_m)
        vehicles.append(vehicle)
    if vehicles or draw(st.booleans()):
        name, key = ("vehicle_status", "vehicles") if v3 else ("free_bike_status", "bikes")
        files[name] = {**env, "data": {key: vehicles}}
    if draw(st.booleans()):
        files["geofencing_zones"] = {**env, "data": draw(geofencing(v3, type_ids))}
    return files


# -- the app --------------------------------------------------------------------------------


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _register(client: TestClient, provider_id: str) -> str:
    r = client.post(
        "/admin/providers",
        json={"provider_id": provider_id, "name": provider_id},
        headers=_bearer(ADMIN),
    )
    assert r.status_code == 201, r.text
    r = client.post(f"/admin/providers/{provider_id}/keys", headers=_bearer(ADMIN))
    assert r.status_code == 201, r.text
    return r.json()["secret"]


def _healthy_feed() -> dict[str, Any]:
    """SYNTHETIC: a valid 3.0 feed of scooters 700 m from the origin (the other tenant)."""
    now = int(time.time())
    env = {"last_updated": _stamp(now, True), "ttl": 300, "version": "3.0"}
    return {
        "system_information": {
            **env,
            "data": {
                "system_id": "healthy",
                "languages": ["en"],
                "name": _text("Healthy", True),
                "opening_hours": "24/7",
                "feed_contact_email": "ops@example.org",
                "timezone": "Europe/Helsinki",
            },
        },
        "vehicle_types": {
            **env,
            "data": {
                "vehicle_types": [
                    {
                        "vehicle_type_id": "sc",
                        "form_factor": "scooter_standing",
                        "propulsion_type": "electric",
                        "max_range_meters": 20_000,
                        "return_constraint": "free_floating",
                    }
                ]
            },
        },
        "vehicle_status": {
            **env,
            "data": {
                "vehicles": [
                    {
                        "vehicle_id": f"h{i}",
                        "lat": FROM[0] + 0.006 + 0.0005 * i,
                        "lon": FROM[1],
                        "is_reserved": False,
                        "is_disabled": False,
                        "vehicle_type_id": "sc",
                        "current_range_meters": 9_000,
                    }
                    for i in range(5)
                ]
            },
        },
    }


@pytest.fixture(scope="module")
def tenants(
    helsinki_dir: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, str]]:
    """The app (memory store, no synthetic fleets, a fresh durable store for the accounts),
    a healthy tenant, and the key of the tenant whose feeds are generated.
    """

    durable = tmp_path_factory.mktemp("property-accounts") / "store.sqlite3"
    settings = Settings(
        network=helsinki_dir,
        admin_token=ADMIN,
        synthetic_providers=False,
        policy_store_url=f"sqlite:///{durable}",
    )
    with TestClient(create_app(settings)) as client:
        healthy = _register(client, "prop-healthy")
        r = client.put(
            "/providers/prop-healthy/gbfs",
            json={"files": _healthy_feed()},
            headers=_bearer(healthy),
        )
        assert r.status_code == 200, r.text
        yield client, _register(client, "prop-generated")


def _plan(client: TestClient, **extra: Any) -> Any:
    return client.get(
        "/plan",
        params={
            "from_lat": FROM[0],
            "from_lon": FROM[1],
            "to_lat": TO[0],
            "to_lon": TO[1],
            "at": AT,
            **extra,
        },
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(files=feeds())
def test_no_pushed_feed_makes_plan_fail(tenants: tuple[TestClient, str], files: dict) -> None:
    client, key = tenants
    store = client.app.state.fairtrip.fleets.store
    if "prop-generated" in store.provider_ids():
        store.delete_provider("prop-generated")
    body = json.dumps({"files": files}).encode()
    pushed = client.put(
        "/providers/prop-generated/gbfs",
        content=body,
        headers={**_bearer(key), "content-type": "application/json"},
    )
    assert pushed.status_code < 500, pushed.text
    # --hypothesis-show-statistics shows the mix, and what the parser refused
    refused = pushed.json()["error"]["message"].split(":")[0] if pushed.status_code >= 400 else ""
    event(f"push {pushed.status_code} {re.sub(r'/[0-9]+', '/N', refused)}".strip())
    ridden: set[str] = set()
    for extra in ({"modes": EVERY_MODE}, {"modes": EVERY_MODE, "arrive_by": "true"}, {}):
        r = _plan(client, **extra)
        assert r.status_code == 200, (extra, pushed.status_code, r.text[:500])
        doc = r.json()
        assert doc["itineraries"], extra  # the walk and transit answers are still there
        ridden |= {
            leg["rental"]["provider_id"]
            for it in doc["itineraries"]
            for leg in it["legs"]
            if leg.get("rental") and leg["rental"].get("provider_id")
        }
    if pushed.status_code == 200:  # how far the generated data got: searched, even ridden
        planning = client.app.state.fairtrip.planning
        views, _ = planning.service.fleets_for(
            PlanQuery(
                from_lat=FROM[0], from_lon=FROM[1], to_lat=TO[0], to_lon=TO[1], at=AT
            ).to_request()
        )
        searched = sum(v.provider_id == "prop-generated" for v in views)
        event(f"generated fleets searched: {min(searched, 2)}{'+' if searched >= 2 else ''}")
        event("generated vehicles ridden" if "prop-generated" in ridden else "not ridden")
    else:
        log.debug("push %d: %s", pushed.status_code, pushed.text[:200])


# -- past the parser: snapshots straight into the store ----------------------------------------

any_int = st.one_of(st.integers(-5, 40), st.integers(-(2**63), 2**63))
any_range = st.one_of(st.none(), st.floats(-1e300, 1e300), st.sampled_from([0.0, 1e6]))
world = st.tuples(st.floats(-85.0, 85.0), st.floats(-180.0, 180.0))
anywhere = st.one_of(by_the_route, by_the_route, near, world)


@st.composite
def raw_snapshots(draw: st.DrawFn) -> FleetSnapshot:
    """A SYNTHETIC model snapshot with values no parser would let through."""
    types = tuple(
        VehicleType(
            f"t{i}",
            draw(st.sampled_from(FormFactor)),
            draw(st.sampled_from(Propulsion)),
            max_range_m=draw(any_range),
            return_constraint=draw(st.none() | st.sampled_from(ReturnConstraint)),
            default_pricing_plan_id=draw(st.sampled_from([None, "plan", "ghost"])),
            g_co2_km=draw(st.none() | any_int),
        )
        for i in range(draw(st.integers(1, 3)))
    )
    ids = [t.id for t in types] + ["ghost"]
    stations = tuple(
        Station(f"s{i}", f"Station {i}", *draw(anywhere), capacity=draw(st.none() | any_int))
        for i in range(draw(st.integers(0, 4)))
    )
    status = tuple(
        StationStatus(
            s.id,
            draw(any_int),
            is_installed=draw(mostly_true),
            is_renting=draw(mostly_true),
            is_returning=draw(mostly_true),
            num_docks_available=draw(st.none() | any_int),
            vehicle_types_available=tuple(
                (t, draw(any_int)) for t in draw(st.lists(st.sampled_from(ids), max_size=3))
            ),
            vehicle_docks_available=tuple(
                (tuple(draw(st.lists(st.sampled_from(ids), max_size=3))), draw(any_int))
                for _ in range(draw(st.integers(0, 2)))
            ),
        )
        for s in stations
        if draw(mostly_true)
    )
    vehicles = []
    for i in range(draw(st.integers(0, 6))):
        at_station = bool(stations) and not draw(mostly_true)
        lat, lon = (None, None) if at_station else draw(anywhere)
        vehicles.append(Vehicle(
            f"v{i}", lat, lon,
            vehicle_type_id=draw(st.none() | st.sampled_from(ids)),
            station_id=draw(st.sampled_from([s.id for s in stations])) if at_station else None,
            is_reserved=not draw(mostly_true),
            is_disabled=not draw(mostly_true),
            current_range_m=draw(any_range),
            pricing_plan_id=draw(st.sampled_from([None, "plan", "ghost"])),
        ))  # fmt: skip
    zones = []
    for _ in range(draw(st.integers(0, 2))):
        lat, lon = draw(anywhere)
        d = draw(st.floats(1e-6, 0.5))
        lat, lon = min(lat, 85.0 - d), min(lon, 180.0 - d)
        ring = ((lon, lat), (lon + d, lat), (lon + d, lat + d), (lon, lat + d), (lon, lat))
        zones.append(
            GeofencingZone(
                {"type": "Polygon", "coordinates": (ring,)},
                tuple(draw(st.lists(raw_rules(ids), max_size=2))),
            )
        )
    plan = PricingPlan(
        "plan", "Plan", "EUR", draw(st.integers(0, 2**63)),
        per_min=(PriceSegment(0, draw(any_int), draw(st.integers(1, 2**31))),),
        per_km=(PriceSegment(0, draw(any_int), draw(st.integers(1, 2**31))),),
    )  # fmt: skip
    now = int(time.time())
    digest = hashlib.sha256(repr((types, stations, status, vehicles, zones, plan)).encode())
    names = (
        "system_information",
        "vehicle_types",
        "station_information",
        "station_status",
        "vehicle_status",
        "geofencing_zones",
        "system_pricing_plans",
    )
    return FleetSnapshot(
        provider_id="prop-raw",
        gbfs_version="3.0",
        system=SystemInfo("raw", "Raw (SYNTHETIC)", "Europe/Helsinki"),
        feeds=tuple(FeedFile(n, now, 300, f"{n}:{digest.hexdigest()}", now) for n in names),
        vehicle_types=types,
        stations=stations,
        station_status=status,
        vehicles=tuple(vehicles),
        pricing_plans=(plan,),
        geofencing=Geofencing(tuple(zones), tuple(draw(st.lists(raw_rules(ids), max_size=1)))),
        source="push",
    )


@st.composite
def raw_rules(draw: st.DrawFn, ids: list[str]) -> GeofencingRule:
    return GeofencingRule(
        vehicle_type_ids=tuple(draw(st.lists(st.sampled_from(ids), max_size=2))),
        ride_start_allowed=draw(st.booleans()),
        ride_end_allowed=draw(st.booleans()),
        ride_through_allowed=draw(st.booleans()),
        maximum_speed_kph=draw(st.none() | any_int),
        station_parking=draw(st.none() | st.booleans()),
    )


@settings(
    max_examples=RAW_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(snap=raw_snapshots())
def test_no_stored_snapshot_makes_plan_fail_or_costs_the_other_tenants(
    tenants: tuple[TestClient, str], snap: FleetSnapshot
) -> None:
    client, _ = tenants
    store = client.app.state.fairtrip.fleets.store
    planning = client.app.state.fairtrip.planning
    try:
        store.put_snapshot(snap)
    except FeedError:
        assume(False)  # the store's own entry check refused it: it never reaches planning
    refresher = client.app.state.fairtrip.fleets.refresher
    refresher.refresh_now()  # past the push endpoint, so nothing asked for the refresh
    try:
        retries = planning.service.shared_search_failures
        for extra in ({"modes": EVERY_MODE}, {"modes": EVERY_MODE, "arrive_by": "true"}, {}):
            r = _plan(client, **extra)
            assert r.status_code == 200, (extra, r.text[:500])
            assert r.json()["itineraries"], extra
        failures = planning.service.shared_search_failures
        assert failures == retries, "the adapter let a bad fleet through"
        views, notes = planning.service.fleets_for(
            PlanQuery(
                from_lat=FROM[0], from_lon=FROM[1], to_lat=TO[0], to_lon=TO[1], at=AT
            ).to_request()
        )
        used = [v.provider_id for v in views]
        assert "prop-healthy" in used, notes
        if "prop-raw" in planning.rental_fleets.broken():
            event("raw provider left out")
        else:
            event(f"raw fleets searched: {min(used.count('prop-raw'), 2)}")
    finally:
        store.delete_provider("prop-raw")
        refresher.refresh_now()

"""Northern Kentucky as a second built-in city: the registry, `--city`, the compiled TANK
network and its fares by route, the SYNTHETIC demand model and fleets, and the evaluation.

The network is compiled once into the repo-local test cache (about a minute the first time,
then reused across runs, like Helsinki's in conftest).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pytest

from fairtrip.cli import main
from network.embedded import (
    CITY_KEYS,
    UnknownCityError,
    city_files,
    city_inputs,
    city_of_manifest,
    embedded_target,
)
from pricing.fares import RideFacts
from routing.geo import haversine_m

ROOT = Path(__file__).resolve().parents[1]
#: the Roebling bridge, the centre of the core rule and of the fleets
BRIDGE = (39.0923, -84.5097)
#: a weekday inside TANK's feed (Weekday service, no holiday)
TUESDAY = "2019-11-05"


@pytest.fixture(scope="module")
def nky_dir() -> Path:
    """The compiled built-in Northern Kentucky network (built on first use, then reused)."""
    os.environ.setdefault("FAIRTRIP_CACHE", str(ROOT / ".cache" / "test"))
    from network.embedded import ensure_embedded_network

    return ensure_embedded_network(city="nky", progress=False)


@pytest.fixture(scope="module")
def nky(nky_dir: Path):
    """The loaded Northern Kentucky network."""
    from network.compiled import Network

    return Network.load(nky_dir)


def _plan_json(capsys, *args: str) -> dict:
    """`fairtrip plan --city nky ... --json` without the SYNTHETIC fleets, parsed."""
    code = main(["plan", "--city", "nky", "--no-synthetic", "--json", "--quiet", *args])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


# -- the registry -------------------------------------------------------------------------------


def test_the_registry_knows_helsinki_first_and_nky():
    assert CITY_KEYS == ("helsinki", "nky")
    nky = city_inputs("nky")
    assert nky.gtfs.is_file() and nky.gtfs.name == "TANK-GTFS.zip"
    assert [p.name for p in nky.osm] == ["streets.osm.pbf"] and nky.osm[0].is_file()


def test_an_unknown_city_key_is_refused_naming_the_cities():
    with pytest.raises(UnknownCityError, match=r"'paris'; the built-in cities are helsinki, nky"):
        city_inputs("paris")


def test_each_city_has_its_own_cache_directory_named_by_its_inputs(tmp_path, monkeypatch):
    monkeypatch.setenv("FAIRTRIP_CACHE", str(tmp_path))
    hki_out, hki_digest = embedded_target(city_inputs("helsinki"))
    nky_out, nky_digest = embedded_target(city_inputs("nky"))
    assert hki_out.name == f"helsinki-{hki_digest[:12]}"
    assert nky_out.name == f"nky-{nky_digest[:12]}"
    assert hki_digest != nky_digest


def test_city_files_point_at_the_shipped_demand_and_a_weekday_departure():
    files = city_files("nky")
    for path in (files.policy_zones, files.demand_zones, files.demand_csv):
        assert path.is_file(), path
    depart = dt.datetime.fromisoformat(files.depart)
    assert depart.weekday() < 4 and depart.utcoffset() == dt.timedelta(hours=-5)


def test_a_missing_nky_cache_is_compiled_by_the_child_process_for_that_city(
    tmp_path, monkeypatch
):
    import subprocess
    import sys

    from network.embedded import EmbeddedBuildError, ensure_embedded_network

    monkeypatch.setenv("FAIRTRIP_CACHE", str(tmp_path))
    calls: list[list[str]] = []

    def fake_build(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", fake_build)
    with pytest.raises(EmbeddedBuildError, match="the nky build left no up-to-date network"):
        ensure_embedded_network(city="nky", progress=False)
    [command] = calls
    assert command[:5] == [sys.executable, "-m", "ingest.embedded", "--city", "nky"]


# -- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["build", "--city", "paris"],
        ["plan", "--city", "paris", "--from", "39.1,-84.5", "--to", "39.1,-84.4", "--at",
         "2019-11-05T08:00-05:00"],
        ["serve", "--city", "paris"],
        ["policy", "evaluate", "--city", "paris", "x.yaml", "--out", "o"],
        ["service", "replay", "--city", "paris", "--date", "2019-11-05"],
    ],
)  # fmt: skip
def test_an_unknown_city_on_the_command_line_exits_2_naming_the_cities(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "unknown city 'paris'; the built-in cities are helsinki, nky" in err


def test_city_and_network_together_are_refused(capsys, tmp_path):
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--city", "nky", "--network", str(tmp_path)])
    assert caught.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_build_refuses_a_city_mixed_with_own_inputs(capsys, tmp_path):
    code = main(["build", "--city", "nky", "--gtfs", "x.zip", "--out", str(tmp_path)])
    assert code == 2
    assert "only --city (helsinki, nky)" in capsys.readouterr().err


def test_a_bad_fairtrip_city_variable_is_one_line_and_exit_2(monkeypatch, capsys):
    monkeypatch.setenv("FAIRTRIP_CITY", "atlantis")
    code = main(["build"])
    assert code == 2
    err = capsys.readouterr().err
    assert "$FAIRTRIP_CITY: unknown city 'atlantis'; the built-in cities are helsinki, nky" in err


def test_build_with_city_prints_the_cached_network(nky_dir, capsys):
    assert main(["build", "--city", "nky", "--quiet"]) == 0
    assert Path(capsys.readouterr().out.strip()) == nky_dir


def test_the_server_setting_refuses_an_unknown_city():
    from pydantic import ValidationError

    from api.settings import Settings

    with pytest.raises(ValidationError, match="the built-in cities are helsinki, nky"):
        Settings(city="paris")


# -- the compiled network and its fares by route ------------------------------------------------


def test_the_network_is_tanks_in_new_york_time_and_knows_its_city(nky):
    assert nky.timezone.key == "America/New_York"
    assert TUESDAY in nky.service_dates
    city = city_of_manifest(nky.manifest)
    assert city is not None and city.key == "nky"
    assert {"walk", "bike", "car"} <= set(nky.streets)


def test_a_southbank_shuttle_ride_costs_1_usd(capsys):
    plan = _plan_json(
        capsys,
        "--from", "39.0876,-84.5179",  # 3rd at Main, Covington
        "--to", "39.0946,-84.4948",  # Newport on the Levee
        "--at", f"{TUESDAY}T12:00-05:00",
        "--modes", "WALK,TRANSIT",
    )  # fmt: skip
    [ride] = [leg for leg in plan["itineraries"][0]["legs"] if leg["mode"] == "BUS"]
    assert ride["route"]["short_name"] == "Southbank Shuttle"
    assert plan["itineraries"][0]["price"]["final"] == {
        "amount_minor": 100, "currency": "USD", "text": "1.00 USD"
    }  # fmt: skip


def test_an_express_ride_from_the_suburbs_to_downtown_costs_2_usd(capsys):
    plan = _plan_json(
        capsys,
        "--from", "39.035821,-84.629607",  # Donaldson at Turfway, Florence
        "--to", "39.100617,-84.508213",  # 4th at Sycamore, Cincinnati
        "--at", f"{TUESDAY}T06:55-05:00",
        "--modes", "WALK,TRANSIT",
    )  # fmt: skip
    first = plan["itineraries"][0]
    [ride] = [leg for leg in first["legs"] if leg["mode"] == "BUS"]
    assert ride["route"]["route_id"] == "1X"
    assert first["price"]["final"]["amount_minor"] == 200
    assert first["price"]["final"]["currency"] == "USD"


def test_the_synthetic_scooters_are_planned_and_priced_in_dollars(capsys):
    code = main([
        "plan", "--city", "nky", "--json", "--quiet",
        "--from", "39.0837,-84.5086",  # Covington
        "--to", "39.1065,-84.4788",  # Bellevue
        "--at", f"{TUESDAY}T08:00-05:00",
        "--modes", "WALK,SCOOTER_RENTAL",
    ])  # fmt: skip
    assert code == 0
    plan = json.loads(capsys.readouterr().out)
    rentals = [
        leg
        for it in plan["itineraries"]
        for leg in it["legs"]
        if leg["mode"] == "SCOOTER_RENTAL"
    ]
    assert rentals, "no itinerary rides a SYNTHETIC scooter"
    assert {leg["price"]["final"]["currency"] for leg in rentals} == {"USD"}


def _ride(route_id: str, board_s: int) -> RideFacts:
    return RideFacts(
        route_id=route_id,
        agency_id="Transit Authority of Northern Kentucky",
        route_type=3,
        board_stop_id="a",
        alight_stop_id="b",
        board_zone="",
        alight_zone="",
        zones=frozenset(),
        board_s=board_s,
        alight_s=board_s + 600,
    )


@pytest.mark.parametrize(
    ("route_id", "price_minor"), [("3701 SOU", 100), ("3", 150), ("11", 150), ("1X", 200)]
)
def test_one_ride_is_priced_by_its_route(nky, route_id, price_minor):
    quote = nky.fares.quote([_ride(route_id, 8 * 3600)], service_date=dt.date(2019, 11, 5))
    assert quote.total is not None
    assert (quote.total.amount_minor, quote.total.currency) == (price_minor, "USD")


def test_a_local_and_an_express_ride_need_two_tickets(nky):
    rides = [_ride("3", 8 * 3600), _ride("1X", 8 * 3600 + 900)]
    quote = nky.fares.quote(rides, service_date=dt.date(2019, 11, 5))
    assert quote.total is not None and quote.total.amount_minor == 350


def test_two_local_rides_pay_twice_because_the_feed_gives_transfers_0_seconds(nky):
    """fare_attributes says 1 transfer but transfer_duration 0: read literally, the ticket
    has expired before a second bus can be boarded.
    """
    rides = [_ride("3", 8 * 3600), _ride("11", 8 * 3600 + 300)]
    quote = nky.fares.quote(rides, service_date=dt.date(2019, 11, 5))
    assert quote.total is not None and quote.total.amount_minor == 300


def test_a_school_route_without_a_fare_rule_has_no_price(nky):
    quote = nky.fares.quote([_ride("552 H1 A", 7 * 3600)], service_date=dt.date(2019, 11, 5))
    assert quote.total is None


# -- zones, classes and the SYNTHETIC demand ----------------------------------------------------


@pytest.fixture(scope="module")
def zones():
    from pricing.zones import ZoneLayer

    path = city_files("nky").demand_zones
    return ZoneLayer.from_geojson(path.read_bytes(), source=path.name)


@pytest.mark.parametrize(
    ("place", "lat", "lon", "expected"),
    [
        ("Covington", 39.0837, -84.5086, "central"),
        ("Newport", 39.0914, -84.4958, "central"),
        ("Bellevue", 39.1065, -84.4788, "central"),
        ("Dayton", 39.1128, -84.4727, "central"),
        ("Ludlow", 39.0926, -84.5475, "central"),
        ("downtown Cincinnati", 39.1015, -84.5125, "central"),
        ("Florence", 38.9989, -84.6266, "peripheral"),
        ("Erlanger", 39.0167, -84.6008, "peripheral"),
        ("Fort Thomas", 39.0751, -84.4472, "peripheral"),
        ("Alexandria", 38.9595, -84.3880, "peripheral"),
    ],
)
def test_the_urban_core_is_central_and_the_suburbs_peripheral(zones, place, lat, lon, expected):
    [i] = zones.assign(np.array([lat]), np.array([lon]))
    assert i >= 0, f"{place} lies in no zone"
    assert zones.zones[i].zone_class == expected, place


def test_every_zone_has_an_estimated_population_and_a_class_by_distance_to_the_bridge(zones):
    from ingest.nky_demand import CORE_RADIUS_KM, POPULATION_SOURCE

    for z in zones.zones:
        p = z.properties
        assert p["population_source"] == POPULATION_SOURCE and "synthetic" in POPULATION_SOURCE
        assert p["population"] >= 0 and (p["stops"] > 0 or p["residential_street_m"] > 0)
        assert (z.zone_class == "central") == (p["core_distance_km"] <= CORE_RADIUS_KM)


def test_the_demand_loads_against_its_zones_and_says_it_is_synthetic(zones):
    from pricing.demand import load_demand

    path = city_files("nky").demand_csv
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# synthetic:")
    for assumption in ("residents per km of OSM residential street", "Roebling", "USD cents"):
        assert assumption in first
    demand = load_demand(path, zones=zones, source=path.name)
    assert demand.synthetic
    assert len(demand.trips) > 10_000 and float(np.sum(demand.trips)) > 1_000


def test_the_demand_generator_reproduces_the_committed_files(tmp_path):
    from ingest.nky_demand import build_nky_demand

    inputs = city_inputs("nky")
    build_nky_demand(inputs.gtfs, inputs.osm[0], tmp_path)
    shipped = city_files("nky").demand_csv.parent
    for name in ("od-gravity-synthetic.csv", "demand-zones.geojson", "README.md"):
        assert (tmp_path / name).read_bytes() == (shipped / name).read_bytes(), name


# -- the SYNTHETIC fleets -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def nky_feeds(nky):
    from providers.synthetic import embedded_synthetic_fleets

    return embedded_synthetic_fleets(nky, now_s=1_572_958_800)  # 2019-11-05 08:00 EST


def _positions(files) -> tuple[np.ndarray, np.ndarray]:
    placed = [v for v in files["vehicle_status"]["data"]["vehicles"] if "lat" in v]
    return np.array([v["lat"] for v in placed]), np.array([v["lon"] for v in placed])


def test_nky_fleets_are_labelled_synthetic_in_ids_names_and_operator(nky_feeds):
    assert set(nky_feeds) == {"synthetic-scooters-nky", "synthetic-carshare-nky"}
    for pid, files in nky_feeds.items():
        info = files["system_information"]["data"]
        assert info["system_id"] == pid
        assert "SYNTHETIC" in info["name"][0]["text"]
        assert "Northern Kentucky" in info["name"][0]["text"]
        assert "SYNTHETIC" in info["operator"][0]["text"]
        assert info["timezone"] == "America/New_York"
        plans = files["system_pricing_plans"]["data"]["plans"]
        assert {p["currency"] for p in plans} == {"USD"}


def test_nky_vehicles_stand_mostly_in_the_urban_core(nky, nky_feeds):
    walk = nky.streets["walk"]
    nodes_in_core = float(np.mean(haversine_m(walk.node_lat, walk.node_lon, *BRIDGE) <= 4_500))
    lat, lon = _positions(nky_feeds["synthetic-scooters-nky"])
    in_core = float(np.mean(haversine_m(lat, lon, *BRIDGE) <= 4_500))
    assert len(lat) == 400
    assert in_core > 0.7 > nodes_in_core  # denser in the core than the streets are


def test_nky_fleets_parse_as_pushed_feeds_without_warnings(nky_feeds):
    from providers.synthetic import synthetic_snapshots

    snapshots = synthetic_snapshots(nky_feeds, 1_572_958_800)
    assert sorted(s.provider_id for s in snapshots) == sorted(nky_feeds)
    for s in snapshots:
        assert s.source == "synthetic" and not s.warnings


def test_churn_keeps_nky_vehicles_in_kentucky(nky, nky_feeds):
    from providers.synthetic import StreetNodes, churn, street_nodes

    nodes = StreetNodes(walk=street_nodes(nky, "walk"), car=street_nodes(nky, "car"))
    rng = np.random.default_rng(5)
    feeds = nky_feeds
    for k in range(10):
        feeds = churn(feeds, rng=rng, now_s=1_572_958_800 + 60 * (k + 1), nodes=nodes)
    lat, lon = _positions(feeds["synthetic-scooters-nky"])
    assert float(np.max(haversine_m(lat, lon, *BRIDGE))) < 40_000


# -- the planner's evaluation and the server ----------------------------------------------------


def test_the_nky_policies_are_valid_documents_in_dollars(capsys):
    from pricing.policy import parse_policy

    paths = sorted((ROOT / "data" / "nky" / "policies").glob("*.yaml"))
    assert [p.name for p in paths] == [
        "city-wide-average.yaml",
        "one-charge-every-mode.yaml",
        "peripheral-discount.yaml",
        "peripheral-first-last-mile-credit.yaml",
    ]
    assert main(["policy", "validate", *map(str, paths)]) == 0
    assert {parse_policy(p.read_bytes()).currency for p in paths} == {"USD"}


def test_policy_evaluate_on_nky_writes_json_and_html_with_both_classes(tmp_path, capsys):
    policy = ROOT / "data" / "nky" / "policies" / "city-wide-average.yaml"
    code = main(["policy", "evaluate", "--city", "nky", str(policy), "--out", str(tmp_path),
                 "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    doc = json.loads((tmp_path / "evaluation.json").read_text())
    assert (tmp_path / "report.html").stat().st_size > 0
    [status_quo, flat] = doc["scenarios"]
    assert status_quo["mean_price_minor"]["peripheral"] > status_quo["mean_price_minor"]["central"]
    assert flat["policy_id"] == "city-wide-average"


def test_the_server_serves_nky_with_its_demand_zones_and_fleets(nky_dir, tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    settings = Settings(
        city="nky", policy_store_url=f"sqlite:///{tmp_path / 'p.sqlite3'}", history_period_s=0
    )
    with TestClient(create_app(settings)) as client:
        state = client.app.state.fairtrip
        assert state.network.path == nky_dir
        assert state.pricing.demand_zones_path == city_files("nky").demand_zones
        assert set(state.fleets.synthetic_ids) == {
            "synthetic-scooters-nky", "synthetic-carshare-nky"
        }  # fmt: skip
        r = client.get(
            "/plan",
            params={
                "from_lat": 39.0876, "from_lon": -84.5179, "to_lat": 39.0946,
                "to_lon": -84.4948, "at": f"{TUESDAY}T12:00-05:00", "modes": "WALK,TRANSIT",
            },
        )  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["itineraries"][0]["price"]["final"]["text"] == "1.00 USD"

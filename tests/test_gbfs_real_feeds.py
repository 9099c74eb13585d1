"""Real captured GBFS feeds (1.x HSL and Citi Bike, 2.2 Lillestrøm, 2.3 Tier Oslo, 3.0 Check).

Each is parsed with `received_at_s` equal to the newest `last_updated` of its own files, as
if received the moment it was published. The data lives in ../shared/data (Citi Bike must
not be copied into the repository); tests skip when it is absent.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest

from providers.errors import FeedError
from providers.gbfs import IMPLIED_VEHICLE_TYPE_ID, parse_discovery, parse_feed
from providers.model import FormFactor, Propulsion
from tests.data_paths import CITIBIKE, GBFS_FIXTURES, HSL_BIKES

HSL = HSL_BIKES
ALMERE = GBFS_FIXTURES / "almere-check-emoped-v3.0"
LILLESTROM = GBFS_FIXTURES / "lillestrom-bysykkel-v2.2"
OSLO = GBFS_FIXTURES / "oslo-tier-v2.3"
NYC = CITIBIKE


def _files(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        # only the Citi Bike capture may be missing: its terms keep it out of the repository
        assert folder == CITIBIKE, f"committed fixture {folder} is missing"
        pytest.skip(f"{folder} is not available (Citi Bike data is not committed)")
    return {p.stem: p.read_bytes() for p in sorted(folder.glob("*.json")) if p.stem != "gbfs"}


def _newest(files: dict[str, bytes]) -> int:
    stamps = [json.loads(raw)["last_updated"] for raw in files.values()]
    return max(
        int(datetime.fromisoformat(s).timestamp()) if isinstance(s, str) else s for s in stamps
    )


def _parse(folder: Path):
    files = _files(folder)
    return parse_feed("p", files, received_at_s=_newest(files)), files


def test_hsl_1x_drops_stations_without_id_or_coordinates_and_names_nameless_by_id():
    snap, _ = _parse(HSL)
    assert snap.gbfs_version == "1.0"
    by_id = {s.id: s for s in snap.stations}
    assert sorted(by_id) == ["001", "002", "003", "004", "005", "008", "009"]
    assert by_id["008"].name == "008" and by_id["009"].name == "009"
    assert by_id["001"].name == "Kaivopuisto" and by_id["001"].capacity == 30
    # statuses of 006/007 (their stations had null/"" ids) and 010 (null coordinates) dropped
    assert sorted(s.station_id for s in snap.station_status) == sorted(by_id)
    viiskulma = next(s for s in snap.station_status if s.station_id == "004")
    assert (viiskulma.is_renting, viiskulma.is_returning, viiskulma.num_vehicles_available) == (
        False,
        False,
        11,
    )
    assert [t.id for t in snap.vehicle_types] == [IMPLIED_VEHICLE_TYPE_ID]


def test_hsl_defects_are_errors_when_the_same_data_claims_version_2_3():
    files = _files(HSL)
    upgraded = {}
    for name, raw in files.items():
        doc = json.loads(raw)
        doc["version"] = "2.3"
        upgraded[name] = json.dumps(doc).encode()
    with pytest.raises(FeedError) as err:
        parse_feed("p", upgraded, received_at_s=_newest(files))
    assert (err.value.file, err.value.path) == (
        "station_information",
        "/data/stations/5/station_id",
    )


def test_hsl_freshness_records_hash_the_raw_bytes():
    snap, files = _parse(HSL)
    record = snap.feed("station_status")
    assert record is not None
    assert record.content_sha256 == hashlib.sha256(files["station_status"]).hexdigest()
    assert (record.last_updated_s, record.ttl_s) == (1631517710, 60)
    assert record.received_at_s == 1631517912
    assert [f.name for f in snap.feeds] == [
        "system_information",
        "station_information",
        "station_status",
    ]


def test_almere_3_0_vehicles_ranges_and_geofencing():
    snap, _ = _parse(ALMERE)
    assert snap.gbfs_version == "3.0"
    assert snap.system.name == "Check Technologies" and snap.system.language == "en"
    (moped,) = snap.vehicle_types
    assert (moped.form_factor, moped.propulsion, moped.max_range_m) == (
        FormFactor.MOPED,
        Propulsion.ELECTRIC,
        60000.0,
    )
    assert len(snap.vehicles) == 6
    assert [v.current_range_m for v in snap.vehicles][:2] == [32400.0, 39600.0]
    assert sum(v.is_reserved for v in snap.vehicles) == 1
    assert sum(v.is_disabled for v in snap.vehicles) == 1
    # 16 features, two with null geometry (unlocated, skipped); order is precedence
    assert len(snap.geofencing.zones) == 14
    first = snap.geofencing.zones[0]
    assert first.name == "Hub Bergnet" and first.geometry["type"] == "MultiPolygon"
    assert (first.rules[0].ride_start_allowed, first.rules[0].ride_end_allowed) == (True, False)
    (global_rule,) = snap.geofencing.global_rules
    assert (global_rule.ride_start_allowed, global_rule.ride_end_allowed) == (False, False)
    assert global_rule.vehicle_type_ids == ()


def test_lillestrom_2_2_prices_are_exact_minor_units():
    snap, _ = _parse(LILLESTROM)
    assert snap.gbfs_version == "2.2"
    prices = {p.name: (p.price_minor, p.currency, p.is_taxable) for p in snap.pricing_plans}
    assert prices == {"sesongkort": (5000, "NOK", False), "3-dagerskort": (1000, "NOK", False)}
    assert len(snap.stations) == 6
    assert {s.vehicle_types_available for s in snap.station_status} >= {
        (("YLS:VehicleType:CityBike", 10),)
    }


def test_oslo_2_3_geofencing_only_system_is_a_valid_snapshot():
    snap, _ = _parse(OSLO)
    assert (snap.stations, snap.vehicles, snap.vehicle_types) == ((), (), ())
    summer, park = snap.geofencing.zones
    assert summer.name == "OSLO Summer 2021" and park.name == "NP Frogner og vigelandsparken"
    assert (park.rules[0].ride_start_allowed, park.rules[0].ride_end_allowed) == (False, False)
    assert park.rules[0].ride_through_allowed is True
    assert summer.rules[0].vehicle_type_ids == (
        "YTI:VehicleType:escooter_oslo",
        "YTI:VehicleType:ebicycle_oslo",
    )


def test_citibike_1x_scale_capture():
    files = _files(NYC)
    newest = _newest(files)
    files["system_information"] = json.dumps(
        {
            "last_updated": newest,
            "ttl": 10,
            "data": {
                "system_id": "citibike",
                "language": "en",
                "name": "Citi Bike",
                "timezone": "America/New_York",
            },
        }
    ).encode()
    snap = parse_feed("citibike", files, received_at_s=newest)
    assert len(snap.stations) == 845 and len(snap.station_status) == 845
    assert sum(s.capacity or 0 for s in snap.stations) == 26249
    # Citi Bike reports last_reported=18001 (1970) for out-of-service stations: unknown in 1.x
    unknown = [s for s in snap.station_status if s.last_reported_s is None]
    assert unknown and all(not s.is_renting for s in unknown)


@pytest.mark.parametrize(
    ("folder", "version", "names"),
    [
        (HSL, "1.0", ["system_information", "station_information", "station_status"]),
        (OSLO, "2.3", ["system_information", "geofencing_zones"]),
        (
            ALMERE,
            "3.0",
            ["system_information", "vehicle_types", "vehicle_status", "geofencing_zones"],
        ),
    ],
)
def test_discovery_of_real_gbfs_json(folder, version, names):
    if not folder.is_dir():
        # only the Citi Bike capture may be missing: its terms keep it out of the repository
        assert folder == CITIBIKE, f"committed fixture {folder} is missing"
        pytest.skip(f"{folder} is not available (Citi Bike data is not committed)")
    discovery = parse_discovery((folder / "gbfs.json").read_bytes())
    assert discovery.version == version
    assert list(discovery.feeds) == names

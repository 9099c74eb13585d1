"""`/zones`, `/zones/{id}/service` and `/providers/{id}/compliance` on a history recorded
here, into the durable file the server then opens (as a replay or another worker would).

The history, over two local days in Helsinki (2022-02-22 and -23), at HH:00 and HH:30 from
06:00 to 21:30, on the embedded city's zones hsy-0 (central, 389 residents) and est-7-2
(peripheral, 14,722 residents):

    synthetic-scooters-t  3 scooters in hsy-0; in est-7-2 1 scooter, except on the 22nd from
                          17:00 (none): a peripheral share of 1/4, or 0
    acme-bikes            2 bikes within reach of hsy-0, none near est-7-2

The shipped rule (at least 20 % of scooters in peripheral zones, daily average 06:00-22:00):
on the 22nd 11 hours at 1/4 and 5 at 0 average 11/64 < 1/5, failed from 17:00; on the 23rd
every hour is at 1/4: met.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from service_coverage.history import HistoryStore
from service_coverage.model import ZoneSample
from service_coverage.rule_store import RuleStore
from service_coverage.rules import parse_rule

TZ = ZoneInfo("Europe/Helsinki")
DAYS = (dt.date(2022, 2, 22), dt.date(2022, 2, 23))
CENTRAL, PERIPHERAL = "hsy-0", "est-7-2"
SCOOTERS, BIKES = "synthetic-scooters-t", "acme-bikes"
PERIOD = {"from": "2022-02-22T00:00:00+02:00", "to": "2022-02-24T00:00:00+02:00"}
RULE = "scooters-peripheral-20"
ONLY_SCOOTERS_T = """\
fairtrip_rule: 1
id: only-scooters-t
version: 1
name: A rule naming one provider (test)
applies_to:
  providers: [synthetic-scooters-t]
  modes: [SCOOTER_RENTAL]
zone_class: peripheral
min_share: 0.2
window: {start: "06:00", end: "22:00"}
aggregate: every_hour
"""


def rows() -> list[ZoneSample]:
    out = []
    for day in DAYS:
        for hour in range(6, 22):
            for minute in (0, 30):
                t = int(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)
                        .timestamp())  # fmt: skip
                outside = 0 if (day == DAYS[0] and hour >= 17) else 1
                out += [
                    ZoneSample(SCOOTERS, t, CENTRAL, "sc", "scooter_standing", 3, 3, 120.0,
                               0, 0, 0, 0),
                    ZoneSample(SCOOTERS, t, PERIPHERAL, "sc", "scooter_standing", outside,
                               outside, 300.0 if outside else 4000.0, 0, 0, 0, 0),
                    ZoneSample(BIKES, t, CENTRAL, "bk", "bicycle", 0, 2, 90.0, 0, 0, 0, 0),
                    ZoneSample(BIKES, t, PERIPHERAL, "bk", "bicycle", 0, 0, 5000.0, 0, 0, 0, 0),
                ]  # fmt: skip
    return out


def make_app(helsinki_dir: Path, durable: Path, **settings: object):
    from api.app import create_app
    from api.settings import Settings

    return create_app(
        Settings(network=helsinki_dir, policy_store_url=f"sqlite:///{durable}",
                 synthetic_providers=False, **settings)  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture(scope="module")
def durable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("service-api") / "durable.sqlite3"
    history = HistoryStore(path, retention_s=None)
    history.record(rows())
    history.close()
    store = RuleStore(path)
    store.create(parse_rule(ONLY_SCOOTERS_T))
    store.close()
    return path


@pytest.fixture(scope="module")
def client(helsinki_dir: Path, durable: Path):
    # the recorder runs (the default): the endpoints read through its open history
    with TestClient(make_app(helsinki_dir, durable)) as c:
        assert c.app.state.fairtrip.fleets.history is not None  # type: ignore[attr-defined]
        yield c


def error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


# -- /zones ----------------------------------------------------------------------------------


def test_zones_lists_the_service_zones_with_class_and_residents(client: TestClient) -> None:
    r = client.get("/zones")
    assert r.status_code == 200
    body = r.json()
    assert body["source"] == "demand-zones.geojson"
    assert len(body["zones"]) == 162
    assert body["zones"][0] == {"zone_id": "hsy-0", "class": "central", "population": 389}
    assert {z["class"] for z in body["zones"]} == {"central", "peripheral"}


# -- /zones/{id}/service ---------------------------------------------------------------------


def test_a_zone_s_service_by_hour_and_period_with_its_class(client: TestClient) -> None:
    r = client.get(f"/zones/{CENTRAL}/service", params=PERIOD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period"] == {**PERIOD, "timezone": "Europe/Helsinki",
                              "days": ["2022-02-22", "2022-02-23"]}  # fmt: skip
    assert body["provider_id"] is None
    assert body["providers"] == [
        {"provider_id": BIKES, "synthetic": False, "label": None},
        {"provider_id": SCOOTERS, "synthetic": True, "label": "SYNTHETIC"},
    ]
    assert body["synthetic"] is True
    zone = body["zone"]
    assert (zone["zone_id"], zone["class"], zone["population"]) == (CENTRAL, "central", 389)
    assert zone["period"]["samples"] == 64
    # 3 scooters + 2 bikes within reach of 389 residents, at every sample
    assert zone["period"]["vehicles_per_1000"] == pytest.approx(5 / 389 * 1000, abs=1e-3)
    assert zone["period"]["median_walk_m"] == 90.0
    assert len(zone["hours"]) == 24
    assert zone["hours"][6]["samples"] == 4 and zone["hours"][3]["samples"] == 0
    assert zone["hours"][3]["vehicles_per_1000"] is None
    the_class = body["class"]
    assert the_class["class"] == "central" and the_class["zones"] == 131
    assert the_class["population"] == 327_660
    assert the_class["period"]["vehicles_per_1000"] == pytest.approx(5 / 327_660 * 1000, abs=1e-3)


def test_one_provider_s_service(client: TestClient) -> None:
    r = client.get(f"/zones/{PERIPHERAL}/service", params={**PERIOD, "provider": SCOOTERS})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["provider_id"] == SCOOTERS
    assert [p["provider_id"] for p in body["providers"]] == [SCOOTERS]
    hours = body["zone"]["hours"]
    assert hours[10]["reach_share"] == 1.0
    assert hours[18]["reach_share"] == 0.5  # a vehicle near on the 23rd, none on the 22nd
    bikes = client.get(f"/zones/{PERIPHERAL}/service", params={**PERIOD, "provider": BIKES})
    assert bikes.json()["synthetic"] is False
    assert bikes.json()["zone"]["period"]["reach_share"] == 0.0


def test_a_period_without_history_answers_zero_samples(client: TestClient) -> None:
    later = {"from": "2023-01-01T00:00:00+02:00", "to": "2023-01-02T00:00:00+02:00"}
    r = client.get(f"/zones/{CENTRAL}/service", params=later)
    assert r.status_code == 200
    assert r.json()["zone"]["period"]["samples"] == 0
    assert r.json()["providers"] == []


def test_an_unknown_zone_is_404_naming_it(client: TestClient) -> None:
    r = client.get("/zones/atlantis/service", params=PERIOD)
    assert r.status_code == 404
    e = error(r)
    assert (e["code"], e["field"]) == ("unknown_zone", "zone_id")
    assert "'atlantis'" in e["message"]


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"from": "yesterday", "to": PERIOD["to"]}, "from", "invalid_request"),
        ({"from": "2022-02-22T00:00:00", "to": PERIOD["to"]}, "from", "invalid_request"),
        ({"from": PERIOD["from"], "to": "2022-02-30T00:00:00+02:00"}, "to", "invalid_request"),
        ({"to": PERIOD["to"]}, "from", "invalid_request"),
        ({"from": PERIOD["to"], "to": PERIOD["from"]}, "to", "invalid_period"),
        ({"from": PERIOD["from"], "to": PERIOD["from"]}, "to", "invalid_period"),
        ({"from": PERIOD["from"], "to": "2022-03-26T00:00:00+02:00"}, "to", "period_too_long"),
        ({**PERIOD, "provider": "Not An Id"}, "provider", "invalid_request"),
        ({**PERIOD, "provider": "nobody-here"}, "provider", "unknown_provider"),
        ({**PERIOD, "extra": "1"}, "extra", "invalid_request"),
        # the calendar's last days: the day after "to" would overflow (it was a 500)
        ({"from": "9999-12-30T00:00:00+02:00", "to": "9999-12-31T00:00:00+02:00"}, "from",
         "invalid_period"),
        ({"from": "1969-12-30T00:00:00+02:00", "to": "1969-12-31T00:00:00+02:00"}, "from",
         "invalid_period"),
    ],
)
def test_bad_service_queries_name_the_field(
    client: TestClient, params: dict, field: str, code: str
) -> None:
    r = client.get(f"/zones/{CENTRAL}/service", params=params)
    assert r.status_code == (404 if code == "unknown_provider" else 422), r.text
    e = error(r)
    assert (e["field"], e["code"]) == (field, code)


def test_a_month_is_the_longest_period(client: TestClient) -> None:
    r = client.get(f"/zones/{CENTRAL}/service",
                   params={"from": PERIOD["from"], "to": "2022-03-25T00:00:00+02:00"})  # fmt: skip
    assert r.status_code == 200  # 31 days exactly
    assert r.json()["zone"]["period"]["samples"] == 64


# -- /providers/{id}/compliance --------------------------------------------------------------


def test_compliance_per_day_with_the_share_and_the_failed_hours(client: TestClient) -> None:
    r = client.get(f"/providers/{SCOOTERS}/compliance", params={"rule": RULE, **PERIOD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rule"]["id"] == RULE and body["rule"]["min_share"] == 0.2
    assert body["provider"] == {"provider_id": SCOOTERS, "synthetic": True, "label": "SYNTHETIC"}
    first, second = body["days"]
    assert (first["day"], first["compliant"], first["verdict"]) == (
        "2022-02-22", False, "not_compliant",
    )  # fmt: skip
    assert first["value"] == pytest.approx(11 / 64)
    assert first["failed_hours"] == ["17:00", "18:00", "19:00", "20:00", "21:00"]
    assert (second["day"], second["compliant"], second["value"]) == ("2022-02-23", True, 0.25)
    assert second["failed_hours"] == []
    assert len(second["hours"]) == 16


def test_a_period_that_cuts_a_day_judges_what_it_holds(client: TestClient) -> None:
    r = client.get(f"/providers/{SCOOTERS}/compliance",
                   params={"rule": RULE, "from": "2022-02-23T12:00:00+02:00",
                           "to": "2022-02-24T00:00:00+02:00"})  # fmt: skip
    (day,) = r.json()["days"]
    assert day["verdict"] == "incomplete"
    assert day["hours_without_data"][:2] == ["06:00", "07:00"]


def test_a_stored_rule_is_judged_too(client: TestClient) -> None:
    r = client.get(f"/providers/{SCOOTERS}/compliance",
                   params={"rule": "only-scooters-t", **PERIOD})  # fmt: skip
    assert r.status_code == 200, r.text
    assert [d["verdict"] for d in r.json()["days"]] == ["not_compliant", "compliant"]


@pytest.mark.parametrize(
    ("provider", "params", "status", "field", "code"),
    [
        (SCOOTERS, {"rule": "no-such-rule", **PERIOD}, 404, "rule", "unknown_rule"),
        ("nobody-here", {"rule": RULE, **PERIOD}, 404, "provider_id", "unknown_provider"),
        (BIKES, {"rule": "only-scooters-t", **PERIOD}, 422, "provider_id", "rule_not_applicable"),
        (SCOOTERS, {"rule": "Bad Rule", **PERIOD}, 422, "rule", "invalid_request"),
        (SCOOTERS, PERIOD, 422, "rule", "invalid_request"),
        (SCOOTERS, {"rule": RULE, "from": "soon", "to": PERIOD["to"]}, 422, "from",
         "invalid_request"),
        (SCOOTERS, {"rule": RULE, "from": PERIOD["to"], "to": PERIOD["from"]}, 422, "to",
         "invalid_period"),
        (SCOOTERS, {"rule": RULE, "from": PERIOD["from"], "to": "2022-04-01T00:00:00+03:00"},
         422, "to", "period_too_long"),
        ("UPPER", {"rule": RULE, **PERIOD}, 422, "provider_id", "invalid_request"),
    ],
)  # fmt: skip
def test_bad_compliance_queries_name_the_field(
    client: TestClient, provider: str, params: dict, status: int, field: str, code: str
) -> None:
    r = client.get(f"/providers/{provider}/compliance", params=params)
    assert r.status_code == status, r.text
    e = error(r)
    assert (e["field"], e["code"]) == (field, code)


def test_an_unknown_rule_lists_the_known_ones(client: TestClient) -> None:
    r = client.get(f"/providers/{SCOOTERS}/compliance", params={"rule": "no-such-rule", **PERIOD})
    assert "only-scooters-t" in error(r)["message"] and RULE in error(r)["message"]


def test_the_endpoints_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/zones", "/zones/{zone_id}/service", "/providers/{provider_id}/compliance"} <= set(
        paths
    )
    params = {p["name"] for p in paths["/zones/{zone_id}/service"]["get"]["parameters"]}
    assert params == {"zone_id", "from", "to", "provider"}


# -- a worker that does not record -----------------------------------------------------------


def test_a_worker_without_a_recorder_reads_the_same_history(
    helsinki_dir: Path, durable: Path
) -> None:
    with TestClient(make_app(helsinki_dir, durable, history_period_s=0)) as c:
        assert c.app.state.fairtrip.fleets.history is None  # type: ignore[attr-defined]
        r = c.get(f"/providers/{SCOOTERS}/compliance", params={"rule": RULE, **PERIOD})
        assert r.status_code == 200
        assert [d["compliant"] for d in r.json()["days"]] == [False, True]

"""The mobility-wide evaluation of cross-mode policies (evaluation.mobility, issue 13): the
document's numbers on hand-made option tables, the CLI end to end on both built-in cities (a
few zones: the full run is the CLI's), and precise refusals.

Hand-computed case (tests/option_factory.py `two_slots`, SYNTHETIC), with the deterministic
rule (cheapest within 10 min of the fastest) and fixed choices:

    slot 0 central -> central, 10 trips: walk 1800 s (0) or walk + transit 900 s (300, HSL).
        Fastest 900 s, allowed up to 1500 s: walk + transit, 300.      3 km
    slot 1 peripheral -> central, 10 trips: walk + transit 2400 s (400), rental + transit
        1500 s (600 = bikes 200 first mile + HSL 400), rental 1800 s (900).
        Fastest 1500 s, allowed up to 2100 s: rental + transit, 600.   10 km

Status quo: central 300 a trip (100/km), peripheral 600 (60/km), gap +300 (-40/km), revenue
10 x 300 + 10 x 600 = 9000. One charge per trip solved: 20 c = 9000, c = 450: both classes pay
450 (gap 0), 150 and 45 a km. Money: the trips made are worth HSL 10 x 300 + 10 x 400 = 7000 and
bikes 10 x 200 = 2000 at base prices; under the policy riders pay HSL 4500 (slot 0) + 10 x 300
(two thirds of 450 in slot 1) = 7500 and bikes 10 x 150 = 1500: the pool collects 500 from HSL
and pays 500 to bikes, net 0.
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evaluation.evaluate import EvaluationError
from evaluation.mobility import (
    Context,
    MobilitySettings,
    evaluate_options,
    fleet_service,
)
from fairtrip.args import parse_when
from fairtrip.cli import main
from pricing.choice import CheapestNearFastestRule
from pricing.mobility_doc import MobilityDocError, parse_mobility
from pricing.mobility_report import render_mobility_report
from pricing.policy import Policy, validate_policy
from pricing.zones import ZoneLayer
from tests.option_factory import BIKES, HSL, make_table, two_slots
from tests.test_api_policies import ADMIN, bearer, make_app, yaml_post

ROOT = Path(__file__).resolve().parents[1]
RULE = CheapestNearFastestRule()
SETTINGS = MobilitySettings(depart=parse_when("2022-02-22T08:00+02:00"), rule=RULE,
                            rechoose=False)


def policy(measure: dict[str, Any], *, currency: str = "EUR") -> Policy:
    return validate_policy({
        "fairtrip_policy": 1, "id": "cross-test", "version": 1, "name": "Cross-mode test",
        "currency": currency, "mode_families": ["transit", "bike_share"],
        "revenue_neutral": True, "measures": [measure],
    })


def zone_layer() -> ZoneLayer:
    """The factory's zone ids (z<slot>o / z<slot>d) as squares, classed as the slots say."""
    features = []
    for i, (zone_id, cls) in enumerate(
        [("z0o", "central"), ("z0d", "central"), ("z1o", "peripheral"), ("z1d", "central")]
    ):
        x = 24.0 + i * 0.01
        ring = [[x, 60.0], [x + 0.01, 60.0], [x + 0.01, 60.01], [x, 60.01], [x, 60.0]]
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": {"zone_id": zone_id, "class": cls}})
    return ZoneLayer.from_geojson({"type": "FeatureCollection", "features": features},
                                  source="test zones")


def context() -> Context:
    return Context(
        network={"name": "test", "service_date": "2022-02-22", "departures_local": ["08:00"],
                 "timezone": "Europe/Helsinki"},
        demand={"source": "hand-made", "synthetic": True, "pairs": 2, "trips": 20.0},
        zones=zone_layer(),
        zones_source="test zones",
    )


def scenario(doc: dict[str, Any], policy_id: str) -> dict[str, Any]:
    return next(s for s in doc["scenarios"] if s["policy_id"] == policy_id)


# -- hand-computed ---------------------------------------------------------------------------


def test_status_quo_figures_are_the_hand_computed_ones():
    doc = evaluate_options(two_slots(), [policy({"type": "one_charge_per_trip"})], SETTINGS,
                           context())
    sq = doc["scenarios"][0]
    assert sq["revenue_minor"] == 9000
    assert sq["cost_per_trip_minor"] == {"central": 300.0, "peripheral": 600.0, "all": 450.0}
    assert sq["cost_per_km_minor"]["central"] == pytest.approx(100.0)
    assert sq["cost_per_km_minor"]["peripheral"] == pytest.approx(60.0)
    assert sq["gap_per_trip_minor"] == pytest.approx(300.0)
    assert sq["gap_per_km_minor"] == pytest.approx(-40.0)
    shares = {f["family"]: (f["share"], f["mean_price_minor"]) for f in sq["families"]}
    assert shares["walk_transit"] == (0.5, 300.0)
    assert shares["rental_transit"] == (0.5, 600.0)
    assert shares["rental"] == (0.0, None)


def test_one_charge_is_solved_to_450_and_the_pool_moves_500_from_hsl_to_bikes():
    doc = evaluate_options(two_slots(), [policy({"type": "one_charge_per_trip"})], SETTINGS,
                           context())
    s = scenario(doc, "cross-test")
    assert s["solved"]["parameter"] == "charge_minor"
    assert s["solved"]["value"] == 450.0
    assert s["neutral"] is True
    assert s["revenue_minor"] == 9000 and s["revenue_change"] == 0.0
    assert s["cost_per_trip_minor"] == {"central": 450.0, "peripheral": 450.0, "all": 450.0}
    assert s["gap_per_trip_minor"] == 0.0
    assert s["cost_per_km_minor"]["central"] == pytest.approx(150.0)
    assert s["cost_per_km_minor"]["peripheral"] == pytest.approx(45.0)
    flows = {f["operator"]: f for f in s["flows"]}
    assert flows[HSL] == {"operator": HSL, "paid_before_minor": 7000,
                          "base_for_trips_minor": 7000, "paid_after_minor": 7500,
                          "compensation_minor": -500}
    assert flows[BIKES]["paid_after_minor"] == 1500
    assert flows[BIKES]["compensation_minor"] == 500
    assert s["pool_net_minor"] == 0
    zones = {z["zone_id"]: z for z in s["zones"]}
    assert zones["z0o"]["change_per_trip_minor"] == 150.0
    assert zones["z1o"]["change_per_trip_minor"] == -150.0
    assert zones["z0o"]["change_per_km_minor"] == pytest.approx(50.0)
    assert zones["z1o"]["change_per_km_minor"] == pytest.approx(-15.0)
    assert s["unchanged"] == {"options_in_scope": 4, "options_repriced": 4, "reason": None}


def test_sensitivity_rows_re_solve_under_each_margin_and_the_other_rule():
    doc = evaluate_options(two_slots(), [policy({"type": "one_charge_per_trip"})], SETTINGS,
                           context())
    rows = scenario(doc, "cross-test")["sensitivity"]
    assert [r["label"] for r in rows] == [
        "as stated", "margin x0.5", "margin x2", "other rule: logit"
    ]
    # a 5-minute margin chooses as the stated 10 minutes (see the module docstring)
    for row in rows[:2]:
        assert row["value"] == 450.0
        assert row["gap_before_minor"] == pytest.approx(300.0)
        assert row["gap_after_minor"] == pytest.approx(0.0)
        assert row["same_direction"] is True
    # with 20 minutes, central residents walk (1800 s <= 900 + 1200, free) and peripheral ones
    # take walk + transit (400): the charge solves to 400 and the gap stays at +400
    wide = rows[2]
    assert wide["value"] == 400.0
    assert wide["gap_before_minor"] == pytest.approx(400.0)
    assert wide["gap_change_minor"] == pytest.approx(0.0)
    assert wide["same_direction"] is False
    # after the policy the gap is 0 under the stated rule but +400 here: who pays more differs
    assert [r["same_sign_after"] for r in rows[:3]] == [True, True, False]
    logit = rows[3]
    assert logit["gap_change_minor"] is not None and logit["residual"] is not None
    assert abs(logit["residual"]) <= 0.005


def test_a_credit_with_no_first_mile_in_the_periphery_changes_nothing_and_says_why():
    table = make_table(
        [("central", "central", 10.0), ("peripheral", "central", 10.0)],
        [
            (0, "walk_transit", 900, 3000, [(HSL, "transit", False, 300, "transit")]),
            (1, "walk_transit", 2400, 10000, [(HSL, "transit", False, 400, "transit")]),
            (1, "rental", 1800, 9000, [(BIKES, "rental", False, 900, "bike_share")]),
        ],
    )
    credit = policy({"type": "first_last_mile_credit", "credit_pct": 100})
    doc = evaluate_options(table, [credit], SETTINGS, context())
    s = scenario(doc, "cross-test")
    assert s["unchanged"]["options_repriced"] == 0
    assert "nothing to credit" in s["unchanged"]["reason"]
    assert s["solved"]["value"] == 0.0
    html = render_mobility_report(doc)
    assert "This policy changes nothing on this demand" in html


def test_the_html_report_shows_synthetic_the_flows_and_the_summary():
    doc = evaluate_options(two_slots(), [policy({"type": "one_charge_per_trip"})], SETTINGS,
                           context())
    html = render_mobility_report(json.loads(json.dumps(doc)))
    assert 'data-banner="synthetic"' in html and "SYNTHETIC options for tests" in html
    assert "+5.00 EUR" in html  # the pool pays the bikes 500 cents
    assert "The gap (peripheral − central) narrows: +3.00 EUR → 0.00 EUR per trip." in html
    assert "<script" not in html
    assert 'src="http' not in html and 'href="http' not in html and "url(http" not in html


# -- refusals --------------------------------------------------------------------------------


def test_a_policy_in_another_currency_than_the_options_is_refused_by_name():
    usd = policy({"type": "one_charge_per_trip"}, currency="USD")
    with pytest.raises(EvaluationError, match=r"'cross-test' prices in USD.*in EUR"):
        evaluate_options(two_slots(), [usd], SETTINGS, context())


def test_a_transit_policy_is_refused_by_the_mobility_evaluation():
    transit = validate_policy({
        "fairtrip_policy": 1, "id": "flat", "version": 1, "name": "Flat", "currency": "EUR",
        "mode_families": ["transit"], "revenue_neutral": False,
        "measures": [{"type": "city_wide_average", "charge_minor": 200}],
    })
    with pytest.raises(EvaluationError, match="'flat' prices one mode family's legs"):
        evaluate_options(two_slots(), [transit], SETTINGS, context())


def test_a_network_that_is_no_built_in_city_has_no_fleets_and_is_refused():
    net = types.SimpleNamespace(name="Elsewhere", manifest={"inputs": ["elsewhere-gtfs.zip"]})
    with pytest.raises(EvaluationError, match=r"not one of the built-in cities.*no shared"):
        fleet_service(net, now_s=0)  # type: ignore[arg-type]


def test_a_malformed_document_names_the_key():
    doc = evaluate_options(two_slots(), [policy({"type": "one_charge_per_trip"})], SETTINGS,
                           context())
    del doc["scenarios"][1]["flows"]
    with pytest.raises(MobilityDocError, match=r"scenarios\[1\]\.flows"):
        parse_mobility(doc)
    with pytest.raises(MobilityDocError, match="format version"):
        parse_mobility({**doc, "fairtrip_mobility": 2})


def test_cli_refuses_a_usd_policy_on_helsinki_before_routing(capsys, helsinki_dir, tmp_path):
    code = main(["policy", "evaluate",
                 str(ROOT / "data/nky/policies/one-charge-every-mode.yaml"),
                 "--network", str(helsinki_dir), "--out", str(tmp_path / "out"), "--quiet"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "prices in USD" in err and "in EUR" in err
    assert not (tmp_path / "out").exists()


def test_cli_refuses_transit_and_cross_mode_policies_in_one_run(capsys, tmp_path):
    code = main(["policy", "evaluate", str(ROOT / "data/policies/one-charge-every-mode.yaml"),
                 str(ROOT / "data/policies/city-wide-average.yaml"),
                 "--out", str(tmp_path / "out"), "--quiet"])
    _, err = capsys.readouterr()
    assert code == 2 and "separate runs" in err


def test_api_refuses_to_queue_a_cross_mode_evaluation_with_a_precise_422(helsinki_dir, tmp_path):
    policy_text = (ROOT / "data/policies/one-charge-every-mode.yaml").read_text()
    with TestClient(make_app(helsinki_dir, tmp_path / "p.sqlite3")) as client:
        assert yaml_post(client, policy_text).status_code == 201
        r = client.post("/policies/one-charge-every-mode/evaluations", headers=bearer(ADMIN),
                        json={})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "cross_mode_not_in_jobs"
        assert "fairtrip policy evaluate" in error["message"]
        assert r.headers.get("location") is None


# -- the real cities, a few zones ------------------------------------------------------------

CITIES = {"nky": "data/nky/policies", "helsinki": "data/policies"}


@pytest.fixture(scope="module", params=sorted(CITIES))
def city_run(request, tmp_path_factory) -> tuple[str, Path, int]:
    """`fairtrip policy evaluate` of both shipped cross-mode policies on 6 zones of a city."""
    city = request.param
    out = tmp_path_factory.mktemp(f"mobility-{city}")
    code = main(["policy", "evaluate", f"{CITIES[city]}/one-charge-every-mode.yaml",
                 f"{CITIES[city]}/peripheral-first-last-mile-credit.yaml", "--city", city,
                 "--sample-zones", "6", "--out", str(out), "--quiet"])
    return city, out, code


def test_cli_writes_json_and_html_with_neutrality_and_balanced_flows(city_run):
    _city, out, code = city_run
    assert code == 0
    doc = json.loads((out / "mobility.json").read_text())
    parse_mobility(doc)
    assert [s["policy_id"] for s in doc["scenarios"]] == [
        "status-quo", "one-charge-every-mode", "peripheral-first-last-mile-credit"
    ]
    for s in doc["scenarios"][1:]:
        assert abs(s["solved"]["residual"]) <= 0.005, s["solved"]
        base = sum(f["base_for_trips_minor"] for f in s["flows"])
        assert sum(f["compensation_minor"] for f in s["flows"]) == s["pool_net_minor"]
        assert abs(s["pool_net_minor"]) <= 0.005 * base
        assert {f["operator"].split(":")[0] for f in s["flows"]} == {"transit", "provider"}
    assert len(doc["network"]["departures_local"]) == 4
    assert doc["coverage"]["slots"] % 4 == 0 and doc["coverage"]["peripheral_slots"] > 0
    assert "SYNTHETIC" in doc["synthetic_note"]
    html = (out / "mobility.html").read_text()
    assert 'data-banner="synthetic"' in html and "SYNTHETIC fleets" in html
    assert html.count('data-chart="map"') == 4  # per trip and per km, for each policy


def test_helsinki_report_says_plainly_that_vehicles_reach_no_peripheral_zone(city_run):
    city, out, code = city_run
    if city != "helsinki":
        pytest.skip("a Helsinki fact: its streets end before the peripheral zones begin")
    assert code == 0
    doc = json.loads((out / "mobility.json").read_text())
    points = {p["class"]: p for p in doc["coverage"]["zone_points"]}
    assert points["peripheral"]["on_streets"] == 0 < points["peripheral"]["zones"]
    vehicles = doc["coverage"]["vehicles"]
    assert vehicles and all(v["peripheral_whole_way_slots"] == 0 for v in vehicles)
    html = (out / "mobility.html").read_text()
    assert "do not reach any peripheral zone" in html


def test_when_re_choice_leaves_no_neutral_surcharge_the_scenario_is_solved_with_fixed_choices():
    """The credit makes rental + transit as cheap as walk + transit in the periphery, so
    peripheral riders move to it (deficit about 0.5 x 20 x 200 = 2000); a central surcharge
    drives central riders to the equally fast free walk faster than it raises money (at most
    about 100), so no surcharge is neutral with re-choice. With fixed choices it is
    (about 219 %), and the scenario says which one it used.
    """
    table = make_table(
        [("central", "central", 10.0), ("peripheral", "central", 20.0)],
        [
            (0, "walk", 900, 1000, []),
            (0, "walk_transit", 900, 3000, [(HSL, "transit", False, 300, "transit")]),
            (1, "walk_transit", 1500, 10000, [(HSL, "transit", False, 400, "transit")]),
            (1, "rental_transit", 1500, 10000, [(BIKES, "rental", True, 200, "bike_share"),
                                                (HSL, "transit", False, 400, "transit")]),
        ],
    )
    credit = policy({"type": "first_last_mile_credit", "credit_pct": 100})
    settings = MobilitySettings(depart=SETTINGS.depart, rechoose=True)  # the default logit
    s = scenario(evaluate_options(table, [credit], settings, context()), "cross-test")
    assert s["rechoose"] is False
    assert "no value of the free parameter keeps the whole system revenue-neutral" in s["note"]
    assert abs(s["solved"]["residual"]) <= 0.005
    assert 150.0 < s["solved"]["value"] < 300.0
    assert "no value of the free parameter" in render_mobility_report(
        evaluate_options(table, [credit], settings, context())
    )

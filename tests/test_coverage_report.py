"""The service report (`service.json` + `report.html`) on a small hand-built history over the
zones of `tests.coverage_factory` (a, b central with 1000 and 500 residents; c peripheral
with 2000; d peripheral with none).

The history, on Tuesday 2022-02-22 in Helsinki (UTC+2), one sample at every local HH:00
and HH:30 from 06:00 to 21:30:

    synthetic-scooters-t  scooters in a: 3, in c: 1 (06:00-16:30) or 0 (17:00-21:30)
                          -> share in peripheral zones 1/4 until 17:00, then 0
    acme-bikes            bikes (2 in reach of a and b, none near c) and a docked station
                          in a that is empty every other sample

The rule: at least 25 % of each provider's scooters in peripheral zones as a daily average
between 06:00 and 22:00. The scooter provider's day: 11 hours at exactly 1/4 (met, at the
threshold), 5 at 0 (failed): a daily average of 11/64 < 1/4, not met. The bike provider has
no scooter: the rule does not apply to it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service_coverage.history import HistoryStore
from service_coverage.measures import service_measures
from service_coverage.model import ZoneSample
from service_coverage.queries import (
    Merged,
    find_rule,
    known_rule_ids,
    local_day_spans,
    merged_period,
)
from service_coverage.report import (
    EmptyPeriodError,
    build_service_report,
    render_service_report,
    write_service_report,
)
from service_coverage.rule_store import RuleStore, UnknownRuleError
from service_coverage.rules import embedded_rule, parse_rule, shipped_rules
from service_coverage.service_doc import ServiceReportError, parse_service_report
from tests.coverage_factory import hand_zones, zones_geojson
from tests.test_report import external_references, parse

TZ = ZoneInfo("Europe/Helsinki")
DAY = dt.date(2022, 2, 22)
START = dt.datetime(2022, 2, 22, tzinfo=TZ)
END = START + dt.timedelta(days=1)
SCOOTERS = "synthetic-scooters-t"
BIKES = "acme-bikes"
RULE = """\
fairtrip_rule: 1
id: scooters-peripheral-25
version: 1
name: Scooters <b>outside</b> the centre, 25 %
applies_to:
  providers: all
  form_factors: [scooter_standing]
zone_class: peripheral
min_share: 0.25
window:
  start: "06:00"
  end: "22:00"
aggregate: daily_average
"""


def local_s(hour: int, minute: int = 0, day: dt.date = DAY) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).timestamp())


def scooter(t: int, zone: str, vehicles: int, reach: int, nearest: float | None) -> ZoneSample:
    return ZoneSample(SCOOTERS, t, zone, "sc", "scooter_standing", vehicles, reach, nearest,
                      0, 0, 0, 0)  # fmt: skip


def bike(t: int, zone: str, reach: int, nearest: float) -> ZoneSample:
    return ZoneSample(BIKES, t, zone, "bk", "bicycle", 0, reach, nearest, 0, 0, 0, 0)


def history_rows(day: dt.date = DAY) -> list[ZoneSample]:
    rows = []
    for hour in range(6, 22):
        for minute in (0, 30):
            t = local_s(hour, minute, day)
            periphery = 1 if hour < 17 else 0
            rows += [
                scooter(t, "a", 3, 3, 130.0),
                scooter(t, "b", 0, 3, 520.0),
                scooter(t, "c", periphery, periphery, 250.0 if periphery else 3000.0),
                bike(t, "a", 2, 100.0),
                bike(t, "b", 2, 300.0),
                bike(t, "c", 0, 2600.0),
                ZoneSample(BIKES, t, "a", "", "", 0, 0, None, 4, 1, minute // 30, 0),
            ]
    return rows


@pytest.fixture
def store() -> HistoryStore:
    history = HistoryStore(":memory:", retention_s=None)
    history.record(history_rows())
    return history


@pytest.fixture
def doc(store: HistoryStore) -> dict:
    return build_service_report(store, hand_zones(), [parse_rule(RULE)], start=START, end=END,
                                tz=TZ)  # fmt: skip


# -- the document --------------------------------------------------------------------------


def test_the_document_has_the_period_providers_and_synthetic_labels(doc: dict) -> None:
    assert doc["fairtrip_service_report"] == 1
    assert doc["period"] == {
        "from": "2022-02-22T00:00:00+02:00",
        "to": "2022-02-23T00:00:00+02:00",
        "timezone": "Europe/Helsinki",
        "days": ["2022-02-22"],
    }
    assert doc["synthetic"] is True
    assert doc["providers"] == [
        {"provider_id": BIKES, "synthetic": False, "label": None},
        {"provider_id": SCOOTERS, "synthetic": True, "label": "SYNTHETIC"},
    ]
    features = doc["zones"]["geojson"]["features"]
    assert [f["properties"]["zone_id"] for f in features] == ["a", "b", "c", "d"]
    assert features[2]["properties"] == {"zone_id": "c", "class": "peripheral", "population": 2000}


def test_measures_per_zone_and_class_by_hour_for_all_and_each_provider(doc: dict) -> None:
    everyone = doc["measures"]["all"]
    assert everyone["samples"] == 32
    assert set(everyone["zones"]) == {"a", "b", "c", "d"}
    assert set(everyone["classes"]) == {"central", "peripheral"}
    a = everyone["zones"]["a"]
    assert a["hours"][6]["samples"] == 2 and a["hours"][3]["samples"] == 0
    # a: 3 scooters + 2 bikes in reach for 1000 residents, at every sample
    assert a["period"]["vehicles_per_1000"] == pytest.approx(5.0)
    assert a["period"]["reach_share"] == 1.0
    assert a["period"]["median_walk_m"] == 100.0
    # its one station is empty at every other sample
    assert a["period"]["station_samples"] == 32 and a["period"]["empty_share"] == 0.5
    c = everyone["zones"]["c"]
    assert c["hours"][10]["reach_share"] == 1.0 and c["hours"][18]["reach_share"] == 0.0
    assert everyone["classes"]["peripheral"]["population"] == 2000
    assert everyone["provider_id"] is None
    by_provider = doc["measures"]["by_provider"]
    assert set(by_provider) == {BIKES, SCOOTERS}
    assert by_provider[SCOOTERS]["provider_id"] == SCOOTERS
    assert by_provider[SCOOTERS]["zones"]["a"]["period"]["vehicles_per_1000"] == pytest.approx(3.0)
    assert by_provider[BIKES]["zones"]["c"]["period"]["reach_share"] == 0.0


def test_the_report_measures_equal_the_measures_of_the_rows_themselves(
    doc: dict, store: HistoryStore
) -> None:
    """The report reads and merges the history day by day (`service_coverage.queries`):
    that must not change a single figure.
    """
    rows = history_rows()
    zones = hand_zones()
    expected = service_measures(rows, zones, tz=TZ).to_json()
    assert doc["measures"]["all"] == expected
    for provider in (BIKES, SCOOTERS):
        alone = service_measures(rows, zones, tz=TZ, provider_id=provider).to_json()
        assert doc["measures"]["by_provider"][provider] == alone
    merged = merged_period(store, local_s(0), local_s(0) + 86_400, zone_ids=["a", "c"])
    assert merged.providers == {BIKES, SCOOTERS}
    both = service_measures(merged.rows, zones, tz=TZ).to_json()
    for zone in ("a", "c"):
        assert both["zones"][zone] == expected["zones"][zone]
    assert both["classes"]["peripheral"] == expected["classes"]["peripheral"]


def test_merging_twice_adds_up_as_the_rows_would() -> None:
    """Rows of one (time, zone) merged in separate passes still add up: the report merges
    each provider's pass into the all-providers rows.
    """
    rows = history_rows()
    merged = Merged()
    merged.add([r for r in rows if r.provider_id == BIKES])
    merged.add([r for r in rows if r.provider_id == SCOOTERS])
    zones = hand_zones()
    assert (
        service_measures(merged.rows, zones, tz=TZ).to_json()
        == service_measures(rows, zones, tz=TZ).to_json()
    )


def test_compliance_for_each_provider_the_rule_judges_and_each_day(doc: dict) -> None:
    (report,) = doc["rules"]
    assert report["rule"]["id"] == "scooters-peripheral-25"
    assert report["rule"]["window"] == ["06:00", "22:00"]
    assert report["not_applicable"] == [BIKES]
    (day,) = report["compliance"]
    assert day["provider_id"] == SCOOTERS and day["day"] == "2022-02-22"
    assert day["verdict"] == "not_compliant" and day["compliant"] is False
    assert day["value"] == pytest.approx(11 / 64)
    assert day["failed_hours"] == ["17:00", "18:00", "19:00", "20:00", "21:00"]
    assert day["hours_without_data"] == []
    at_threshold = [h for h in day["hours"] if h["hour"] == "16:00"]
    assert at_threshold == [{"hour": "16:00", "samples": 2, "share": 0.25, "status": "met"}]


def test_a_period_over_two_days_judges_each_day(store: HistoryStore) -> None:
    store.record(history_rows(DAY + dt.timedelta(days=1)))
    doc = build_service_report(store, hand_zones(), [embedded_rule()], start=START,
                               end=END + dt.timedelta(days=1), tz=TZ)  # fmt: skip
    assert doc["period"]["days"] == ["2022-02-22", "2022-02-23"]
    days = doc["rules"][0]["compliance"]
    assert [d["day"] for d in days] == ["2022-02-22", "2022-02-23"]
    assert doc["measures"]["all"]["zones"]["a"]["hours"][6]["samples"] == 4


def test_a_period_without_history_is_an_error_that_says_so(store: HistoryStore) -> None:
    later = END + dt.timedelta(days=30)
    with pytest.raises(EmptyPeriodError, match="no sample between"):
        build_service_report(store, hand_zones(), [], start=later, end=later + dt.timedelta(1),
                             tz=TZ)  # fmt: skip


@pytest.mark.parametrize(
    ("start", "end", "key"),
    [
        (START, START, "to"),
        (END, START, "to"),
        (START.replace(tzinfo=None), END, "from"),
    ],
)
def test_a_bad_period_names_the_end_at_fault(
    store: HistoryStore, start: dt.datetime, end: dt.datetime, key: str
) -> None:
    with pytest.raises(ServiceReportError) as caught:
        build_service_report(store, hand_zones(), [], start=start, end=end, tz=TZ)
    assert caught.value.key == key


def test_local_days_follow_the_clock_across_a_dst_change() -> None:
    spring = dt.datetime(2022, 3, 27, tzinfo=TZ)  # clocks go forward at 03:00
    from_s = int(spring.timestamp())
    spans = local_day_spans(from_s, from_s + 2 * 86_400, TZ)
    assert [d.isoformat() for d, _, _ in spans] == ["2022-03-27", "2022-03-28", "2022-03-29"]
    assert spans[0][2] - spans[0][1] == 23 * 3600
    assert spans[-1][2] - spans[-1][1] == 3600  # the period ends at 01:00 on the 29th


# -- the files and the page ----------------------------------------------------------------


def test_write_puts_the_json_and_the_page_in_the_directory(doc: dict, tmp_path: Path) -> None:
    json_path, html_path = write_service_report(doc, tmp_path / "out")
    assert (json_path.name, html_path.name) == ("service.json", "report.html")
    assert json.loads(json_path.read_text(encoding="utf-8")) == doc
    assert html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.fixture
def page(doc: dict) -> str:
    return render_service_report(doc)


def test_the_page_fetches_nothing_and_holds_its_charts_as_svg(page: str) -> None:
    assert external_references(page) == []
    parsed = parse(page)
    kinds = [v for tag, name, v in parsed.attrs if tag == "figure" and name == "data-chart"]
    assert kinds == [
        "map-vehicles", "map-reach", "heatmap-vehicles", "heatmap-reach", "lines",
        "lines-providers", "compliance",
    ]  # fmt: skip
    assert parsed.tags["svg"] == len(kinds)
    ids = [i for i, n in parsed.ids.items() if n > 1]
    assert ids == [], "ids must be unique across the inlined charts"


def test_the_page_labels_synthetic_data_and_lists_the_failed_hours(page: str) -> None:
    assert 'data-banner="synthetic"' in page
    assert f"{SCOOTERS} (SYNTHETIC)" in page
    assert "17:00–22:00" in page  # the failed hours, as one span
    assert "NOT met" in page
    assert "Not judged (no vehicle type the rule counts): acme-bikes." in page


def test_the_page_escapes_what_documents_say(page: str) -> None:
    assert "<b>outside</b>" not in page
    assert "&lt;b&gt;outside&lt;/b&gt;" in page


def test_a_page_without_synthetic_data_has_no_banner(store: HistoryStore) -> None:
    real = HistoryStore(":memory:", retention_s=None)
    real.record([r for r in history_rows() if r.provider_id == BIKES])
    doc = build_service_report(real, hand_zones(), [], start=START, end=END, tz=TZ)
    assert doc["synthetic"] is False
    page = render_service_report(doc)
    assert 'data-banner="synthetic"' not in page
    assert "No distribution rule was given" in page


def test_a_malformed_document_is_refused_naming_the_key(doc: dict) -> None:
    broken = json.loads(json.dumps(doc))
    broken["measures"]["all"]["zones"]["a"]["period"]["reach_share"] = "high"
    with pytest.raises(ServiceReportError) as caught:
        render_service_report(broken)
    assert caught.value.key == "measures.all.zones.a.period.reach_share"
    missing = {k: v for k, v in doc.items() if k != "rules"}
    with pytest.raises(ServiceReportError, match="missing required key rules"):
        parse_service_report(missing)
    with pytest.raises(ServiceReportError, match="format version"):
        parse_service_report({**doc, "fairtrip_service_report": 2})


def test_an_invalid_document_writes_nothing(doc: dict, tmp_path: Path) -> None:
    broken = {**doc, "synthetic": "yes"}
    with pytest.raises(ServiceReportError):
        write_service_report(broken, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- naming rules --------------------------------------------------------------------------


def test_rules_are_found_in_the_store_then_among_the_shipped_ones() -> None:
    store = RuleStore(":memory:")
    shipped = embedded_rule()
    assert find_rule(store, shipped.id) == shipped
    assert find_rule(None, shipped.id) == shipped
    store.create(parse_rule(RULE))
    assert find_rule(store, "scooters-peripheral-25").min_share == 0.25
    assert known_rule_ids(store) == sorted(
        {r.id for r in shipped_rules()} | {"scooters-peripheral-25"}
    )
    with pytest.raises(UnknownRuleError):
        find_rule(store, "no-such-rule")


# -- fairtrip service report -----------------------------------------------------------------


@pytest.fixture
def cli_files(tmp_path: Path) -> tuple[Path, Path]:
    """A history file holding the day above, and the hand-built zones as GeoJSON."""
    db = tmp_path / "durable.sqlite3"
    history = HistoryStore(db, retention_s=None)
    history.record(history_rows())
    history.close()
    zones = tmp_path / "zones.geojson"
    zones.write_text(json.dumps(zones_geojson()), encoding="utf-8")
    return db, zones


def run_report(helsinki_dir: Path, db: Path, zones: Path, out: Path, *extra: str) -> int:
    from fairtrip.cli import main

    return main([
        "service", "report", "--from", "2022-02-22T00:00+02:00", "--to", "2022-02-23T00:00+02:00",
        "--out", str(out), "--db", str(db), "--network", str(helsinki_dir), "--zones", str(zones),
        *extra,
    ])  # fmt: skip


def test_the_command_writes_both_files_and_prints_their_paths(
    helsinki_dir: Path, cli_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    db, zones = cli_files
    out = tmp_path / "report"
    assert run_report(helsinki_dir, db, zones, out) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [str(out / "service.json"), str(out / "report.html")]
    doc = json.loads((out / "service.json").read_text(encoding="utf-8"))
    # no --rule: the shipped rules (and any stored one) are judged
    ids = [r["rule"]["id"] for r in doc["rules"]]
    assert ids == [r.id for r in shipped_rules()]
    scooter_rule = doc["rules"][ids.index(embedded_rule().id)]
    assert [d["provider_id"] for d in scooter_rule["compliance"]] == [SCOOTERS]
    assert doc["period"]["timezone"] == "Europe/Helsinki"


def test_the_command_without_history_says_how_to_record_it(
    helsinki_dir: Path, cli_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from fairtrip.cli import main

    db, zones = cli_files
    code = main([
        "service", "report", "--from", "2022-03-01T00:00+02:00", "--to", "2022-03-02T00:00+02:00",
        "--out", str(tmp_path / "none"), "--db", str(db), "--network", str(helsinki_dir),
        "--zones", str(zones),
    ])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "fairtrip service replay --date 2022-03-01" in err and "fairtrip serve" in err
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--rule", "no-such-rule"), "no distribution rule 'no-such-rule'; known: "),
    ],
)
def test_the_command_refuses_an_unknown_rule_in_one_line(
    helsinki_dir: Path,
    cli_files: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    extra: tuple[str, ...],
    message: str,
) -> None:
    db, zones = cli_files
    assert run_report(helsinki_dir, db, zones, tmp_path / "x", *extra) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_command_refuses_a_missing_history_file(
    helsinki_dir: Path, cli_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, zones = cli_files
    assert run_report(helsinki_dir, tmp_path / "absent.sqlite3", zones, tmp_path / "x") == 2
    assert "fairtrip service replay" in capsys.readouterr().err
    assert not (tmp_path / "absent.sqlite3").exists()

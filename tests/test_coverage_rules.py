"""Distribution rules: strict documents with the field named, the versioned store, and
compliance on hand-built histories (exactly at the threshold, one hour under, no data).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from pricing.errors import PricingError
from pricing.policy import PolicyError
from service_coverage.model import ZoneSample
from service_coverage.rule_store import (
    RuleExistsError,
    RuleStore,
    RuleStoreError,
    UnknownRuleError,
    open_rule_store,
)
from service_coverage.rules import (
    EMBEDDED_RULE,
    MODE_FORM_FACTORS,
    Rule,
    RuleError,
    RuleNotApplicableError,
    compliance,
    embedded_rule,
    parse_rule,
    validate_rule,
)
from tests.coverage_factory import hand_zones

ROOT = Path(__file__).resolve().parents[1]
RULES = sorted((ROOT / "data" / "policies" / "rules").glob("*.yaml"))
HKI = ZoneInfo("Europe/Helsinki")
DAY = dt.date(2022, 2, 22)
PID = "scoot-co"


def base(**changes: Any) -> dict[str, Any]:
    """A valid rule document with top-level fields replaced (None deletes one)."""
    doc: dict[str, Any] = {
        "fairtrip_rule": 1,
        "id": "test-rule",
        "version": 1,
        "name": "Test rule",
        "applies_to": {"providers": "all", "form_factors": ["scooter_standing"]},
        "zone_class": "peripheral",
        "min_share": 0.2,
        "window": {"start": "06:00", "end": "22:00"},
        "aggregate": "daily_average",
    }
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def rule(**changes: Any) -> Rule:
    return validate_rule(base(**changes))


def refused(doc: dict[str, Any] | str) -> RuleError:
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
    with pytest.raises(RuleError) as info:
        parse_rule(text)
    return info.value


# -- documents -------------------------------------------------------------------------------


def test_the_example_rules_parse_and_the_embedded_one_is_the_permit_example():
    assert [p.name for p in RULES] == [
        "citybikes-peripheral-every-hour.yaml",
        "scooters-peripheral-20.yaml",
        "vehicles-peripheral-10.yaml",
    ]
    for path in RULES:
        assert parse_rule(path.read_bytes()).id == path.stem
    r = embedded_rule()
    assert EMBEDDED_RULE.endswith(f"{r.id}.yaml")
    assert (r.min_share, r.zone_class, r.aggregate) == (0.2, "peripheral", "daily_average")
    assert (r.window.start, r.window.end, list(r.window.hours())) == (
        "06:00",
        "22:00",
        list(range(6, 22)),
    )
    assert r.applies_to.form_factor_set() == {"scooter_standing", "scooter_seated"}
    assert r.describe() == (
        "at least 20 % of each provider's available vehicles (scooter_standing, "
        "scooter_seated) in peripheral zones, as a daily average between 06:00 and 22:00"
    )


def test_yaml_and_json_give_the_same_rule_and_hash():
    doc = base()
    from_yaml = parse_rule(yaml.safe_dump(doc))
    from_json = parse_rule(json.dumps(doc))
    reordered = parse_rule(json.dumps(dict(reversed(list(doc.items())))))
    assert from_yaml == from_json == reordered
    assert from_yaml.sha256() == reordered.sha256()


@pytest.mark.parametrize(
    ("doc", "field", "says"),
    [
        (base(colour="red"), "colour", "unknown field; expected one of: fairtrip_rule"),
        (base(zone_class="outer"), "zone_class", "'central' or 'peripheral'"),
        (base(zone_class=None), "zone_class", "required field is missing"),
        (base(min_share=20), "min_share", "for 20 % write 0.2"),
        (base(min_share="0.2"), "min_share", "expected a number between 0 and 1"),
        (base(min_share=True), "min_share", "got bool True"),
        (base(min_share=-0.1), "min_share", "between 0 and 1"),
        (base(version=0), "version", "greater than or equal to 1"),
        (base(version="1"), "version", "expected an integer version"),
        (base(id="Bad_Id"), "id", "expected a slug"),
        (base(name="a\x1bb"), "name", "U+001B (ESC) at position 1"),
        (base(aggregate="daily"), "aggregate", "'daily_average' or 'every_hour'"),
        (base(fairtrip_rule=2), "fairtrip_rule", "expected fairtrip_rule: 1, got int 2"),
        (
            base(fairtrip_rule=None, fairtrip_policy=1),
            "fairtrip_rule",
            "this document is a fare policy",
        ),
        (base(window={"start": "06:00"}), "window.end", "required field is missing"),
        (base(window={"start": "06:00", "end": "05:00"}), "window.end", "cannot span midnight"),
        (base(window={"start": "06:00", "end": "21:30"}), "window.end", "a whole hour"),
        (base(window={"start": "6", "end": "22:00"}), "window.start", "HH:MM"),
        (base(window={"start": "06:00", "end": "25:00"}), "window.end", "between 00:00"),
        (base(window={"start": "24:00", "end": "24:00"}), "window.start", "cannot start at 24"),
        (
            base(window={"start": "06:00", "end": "22:00", "tz": "UTC"}),
            "window.tz",
            "expected one of: start, end",
        ),
        (
            base(applies_to={"providers": "all"}),
            "applies_to",
            "give exactly one of form_factors",
        ),
        (
            base(applies_to={"providers": "all", "form_factors": ["car"], "modes": ["CAR_RENTAL"]}),
            "applies_to",
            "give exactly one of form_factors",
        ),
        (
            base(applies_to={"providers": "all", "form_factors": ["car", "scooter"]}),
            "applies_to.form_factors[1]",
            "'scooter' (GBFS 2.x 'scooter' is scooter_standing)",
        ),
        (
            base(applies_to={"providers": "all", "form_factors": ["car", "car"]}),
            "applies_to.form_factors[1]",
            "listed twice",
        ),
        (
            base(applies_to={"providers": "all", "form_factors": []}),
            "applies_to.form_factors",
            "at least one",
        ),
        (
            base(applies_to={"providers": "all", "modes": ["BIKE"]}),
            "applies_to.modes[0]",
            "'BICYCLE_RENTAL', 'SCOOTER_RENTAL' or 'CAR_RENTAL'",
        ),
        (
            base(applies_to={"providers": ["ok-id", "Not OK"], "form_factors": ["car"]}),
            "applies_to.providers[1]",
            "expected a provider id",
        ),
        (
            base(applies_to={"providers": "some", "form_factors": ["car"]}),
            "applies_to.providers",
            "expected 'all' or a non-empty list",
        ),
    ],
)
def test_bad_documents_are_refused_naming_the_field(doc, field, says):
    err = refused(doc)
    assert err.field == field, str(err)
    assert says in str(err)
    assert isinstance(err, PolicyError) and isinstance(err, PricingError)  # the CLI reports it


def test_yaml_refusals_name_the_field():
    text = yaml.safe_dump(base(), sort_keys=False)
    unquoted = text.replace("end: '22:00'", "end: 22:00")
    assert unquoted != text
    err = refused(unquoted)
    assert err.field == "window.end" and 'write "22:00"' in str(err)
    err = refused(text + "zone_class: central\n")
    assert err.field == "zone_class" and "duplicate key" in str(err)
    err = refused("fairtrip_rule: 1\nid: &a test-rule\nname: *a\n")
    assert "aliases are not allowed" in str(err)
    err = refused('{"fairtrip_rule": 1, "id": "x", "id": "y"}')
    assert err.field == "id" and "duplicate key" in str(err)
    assert refused("- a list").field == ""


def test_several_problems_are_all_listed():
    err = refused(base(zone_class="outer", min_share=2, colour=1))
    assert {f for f, _ in err.errors} == {"zone_class", "min_share", "colour"}


def test_modes_cover_the_same_form_factors_as_the_planner():
    from trips.fleets import _MODE_OF

    planner: dict[str, set[str]] = {}
    for form, mode in _MODE_OF.items():
        planner.setdefault(str(mode), set()).add(str(form))
    assert {m: set(f) for m, f in MODE_FORM_FACTORS.items()} == planner
    by_mode = rule(applies_to={"providers": ["a-b"], "modes": ["BICYCLE_RENTAL"]})
    assert by_mode.applies_to.form_factor_set() == {"bicycle", "cargo_bicycle"}
    assert by_mode.applies_to.covers_provider("a-b")
    assert not by_mode.applies_to.covers_provider("c-d")


# -- the store -------------------------------------------------------------------------------


def test_store_keeps_versions_immutable_and_survives_reopening(tmp_path):
    path = tmp_path / "policies.sqlite3"
    store = RuleStore(path)
    v1 = store.create(rule())
    assert v1.versions == (1,) and v1.rule == rule()
    assert store.create(rule()).created_at == v1.created_at  # a retry is a no-op
    with pytest.raises(RuleExistsError, match="version 1 already exists"):
        store.create(rule(min_share=0.3))
    store.create(rule(version=2, min_share=0.3))
    store.create(rule(id="other-rule"))
    store.close()

    again = open_rule_store(f"sqlite:///{path}")
    assert again.get("test-rule").rule.min_share == 0.3
    assert again.get("test-rule", 1).rule.min_share == 0.2
    assert again.get("test-rule").versions == (1, 2)
    assert [(s.rule.id, s.rule.version) for s in again.list()] == [
        ("other-rule", 1),
        ("test-rule", 2),
    ]
    with pytest.raises(UnknownRuleError, match="no stored rule 'nope'"):
        again.get("nope")
    with pytest.raises(UnknownRuleError, match="version 3"):
        again.get("test-rule", 3)
    again.close()


def test_rules_share_the_file_with_policies_and_a_corrupt_row_is_reported(tmp_path):
    from pricing.policy_store import SqlitePolicyStore

    path = tmp_path / "policies.sqlite3"
    policies = SqlitePolicyStore(path)
    rules = RuleStore(path)
    rules.create(rule())
    assert policies.list() == []
    rules._db.write(  # a hand edit behind the store's back
        lambda c: c.execute("UPDATE rules SET document = replace(document, '0.2', '0.1')")
    )
    with pytest.raises(RuleStoreError, match="does not match its sha256"):
        rules.get("test-rule")
    rules.close()
    policies.close()


def test_store_urls():
    assert open_rule_store("sqlite:///:memory:").list() == []
    with pytest.raises(RuleStoreError):
        open_rule_store("ftp://example.org/rules")
    with pytest.raises(RuleStoreError, match="does not exist"):
        open_rule_store("sqlite:///no/such/dir/rules.sqlite3")


# -- compliance ------------------------------------------------------------------------------


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> int:
    return int(dt.datetime.combine(day, dt.time(hour, minute), HKI).timestamp())


def sample(t: int, zone: str, vehicles: int, *, form: str = "scooter_standing") -> ZoneSample:
    return ZoneSample(PID, t, zone, f"type-{form}", form, vehicles, vehicles, None, 0, 0, 0, 0)


def history(shares: dict[int, list[tuple[int, int]]], **kw: Any) -> list[ZoneSample]:
    """Hour -> (vehicles in peripheral zone c, in central zone a) per sample of the hour."""
    rows = []
    for hour, counts in shares.items():
        for k, (outer, inner) in enumerate(counts):
            t = at(hour, 5 * k)
            rows += [sample(t, "c", outer, **kw), sample(t, "a", inner, **kw)]
    return rows


def judge(r: Rule, rows: list[ZoneSample]) -> Any:
    return compliance(r, rows, hand_zones(), provider_id=PID, day=DAY, tz=HKI)


def full_day(outer: int, inner: int) -> dict[int, list[tuple[int, int]]]:
    return {h: [(outer, inner)] * 12 for h in range(6, 22)}


def test_exactly_at_the_threshold_passes():
    # 1 of 5 is exactly 0.2 (compared as a fraction, not a rounded float)
    result = judge(rule(), history(full_day(1, 4)))
    assert result.verdict == "compliant" and result.compliant
    assert result.value == pytest.approx(0.2)
    assert result.failed_hours == () and result.hours_without_data == ()
    # a daily average exactly at 0.2 from hours of 0.1 and 0.3
    mixed = {h: [(1, 9)] * 12 if h % 2 else [(3, 7)] * 12 for h in range(6, 22)}
    result = judge(rule(), history(mixed))
    assert result.compliant and result.failed_hours == tuple(range(7, 22, 2))
    every = judge(rule(aggregate="every_hour", min_share=0.7), history(full_day(7, 3)))
    assert every.compliant


def test_one_hour_under_fails_every_hour_and_names_that_hour():
    day = full_day(1, 4)
    day[8] = [(1, 4)] * 11 + [(0, 5)]  # one sample of the 08 hour without a peripheral one
    result = judge(rule(aggregate="every_hour"), history(day))
    assert result.verdict == "not_compliant" and not result.compliant
    assert result.failed_hours == (8,)
    assert result.value == pytest.approx(11 / 12 * 0.2)
    eight = next(h for h in result.to_json()["hours"] if h["hour"] == "08:00")
    assert eight == {"hour": "08:00", "samples": 12, "share": 0.183333, "status": "missed"}
    assert result.to_json()["failed_hours"] == ["08:00"]
    # the same day as a daily average: barely under, so not compliant either
    average = judge(rule(), history(day))
    assert average.verdict == "not_compliant" and average.failed_hours == (8,)


def test_hours_without_data_are_never_a_pass():
    day = full_day(5, 5)
    del day[13]
    result = judge(rule(), history(day))
    assert result.verdict == "incomplete" and not result.compliant
    assert result.hours_without_data == (13,)
    assert result.value == pytest.approx(0.5)  # what the data there is says
    every = judge(rule(aggregate="every_hour"), history(day))
    assert every.verdict == "incomplete"
    nothing = judge(rule(), [])
    assert nothing.verdict == "incomplete" and nothing.value is None
    assert len(nothing.hours_without_data) == 16
    assert {h.status for h in nothing.hours} == {"no_data"}


def test_samples_without_the_rules_vehicles_have_no_share():
    bikes_only = history(full_day(5, 5), form="bicycle")
    result = judge(rule(), bikes_only)
    assert result.verdict == "incomplete"
    assert {h.status for h in result.hours} == {"no_vehicles"}
    assert all(h.samples == 12 for h in result.hours)
    # but a failed hour with data still fails an every_hour rule outright
    day = history(full_day(0, 5))
    assert judge(rule(aggregate="every_hour"), day).verdict == "not_compliant"


def test_only_the_providers_day_window_and_types_count():
    rows = history(full_day(1, 4))
    noise = [
        ZoneSample("other", at(9), "c", "t", "scooter_standing", 0, 0, None, 0, 0, 0, 0),
        ZoneSample("other", at(9), "a", "t", "scooter_standing", 50, 0, None, 0, 0, 0, 0),
        sample(at(9), "a", 100, form="car"),  # another type of the same provider
        sample(at(9), "", 0),  # a station row
        sample(at(3), "a", 100),  # before the window
        sample(at(9, day=DAY + dt.timedelta(days=1)), "a", 100),  # the next day
        sample(at(9), "zz", 0),  # a zone the layer does not know counts in the total only
    ]
    assert judge(rule(), rows + noise).value == pytest.approx(0.2)
    with pytest.raises(RuleNotApplicableError, match="does not apply to provider 'scoot-co'"):
        judge(rule(applies_to={"providers": ["other"], "form_factors": ["car"]}), rows)


def test_a_spring_forward_hour_is_not_part_of_the_day():
    spring = dt.date(2022, 3, 27)  # 03:00 -> 04:00 in Helsinki
    r = rule(window={"start": "00:00", "end": "24:00"}, aggregate="every_hour")
    rows = []
    for hour in range(24):
        t = int(dt.datetime.combine(spring, dt.time(hour), HKI).timestamp())
        if dt.datetime.fromtimestamp(t, HKI).hour == hour:
            rows += [sample(t, "c", 1), sample(t, "a", 1)]
    result = compliance(r, rows, hand_zones(), provider_id=PID, day=spring, tz=HKI)
    assert [h.hour for h in result.hours] == [h for h in range(24) if h != 3]
    assert result.compliant


def test_to_json_is_plain_json():
    result = judge(rule(), history(full_day(1, 4)))
    doc = result.to_json()
    assert json.loads(json.dumps(doc)) == doc
    assert doc["day"] == "2022-02-22" and doc["timezone"] == "Europe/Helsinki"
    assert doc["verdict"] == "compliant" and doc["compliant"] is True
    assert doc["hours"][0] == {"hour": "06:00", "samples": 12, "share": 0.2, "status": "met"}

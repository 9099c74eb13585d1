"""Policy documents: the examples parse, and every rule refuses with the field path named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pricing.errors import PricingError
from pricing.policy import (
    MAX_DOCUMENT_BYTES,
    MAX_VERSION,
    CityWideAverage,
    Policy,
    PolicyError,
    parse_policy,
    status_quo,
    validate_policy,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "data" / "policies").glob("*.yaml"))


def base(**changes: Any) -> dict[str, Any]:
    """A valid fixed (not revenue-neutral) policy, with top-level fields replaced."""
    doc: dict[str, Any] = {
        "fairtrip_policy": 1,
        "id": "test-policy",
        "version": 1,
        "name": "Test policy",
        "currency": "EUR",
        "mode_families": ["transit"],
        "measures": [{"type": "city_wide_average", "charge_minor": 250}],
    }
    doc.update(changes)
    return doc


def refused(doc: dict[str, Any] | str) -> PolicyError:
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    return info.value


# -- the examples ---------------------------------------------------------------------------------


def test_the_example_policies_exist():
    assert [p.name for p in EXAMPLES] == [
        "city-wide-average.yaml",
        "daily-cap.yaml",
        "one-charge-every-mode.yaml",
        "partial-averaging-50.yaml",
        "peripheral-discount.yaml",
        "peripheral-first-last-mile-credit.yaml",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_example_policy_parses_and_describes_each_measure(path):
    policy = parse_policy(path.read_bytes())
    assert policy.id == path.stem
    assert len(policy.describe()) == len(policy.measures) >= 1
    # revenue-neutral examples leave exactly the one parameter open that gets solved
    assert (policy.free_parameter is not None) == policy.revenue_neutral


def test_an_example_reads_the_same_from_json_as_from_yaml():
    path = ROOT / "data" / "policies" / "peripheral-discount.yaml"
    from_yaml = parse_policy(path.read_text())
    as_json = json.dumps(yaml.safe_load(path.read_text()))
    from_json = parse_policy(as_json)
    assert from_json == from_yaml
    assert from_json.canonical_json() == from_yaml.canonical_json()


def test_free_parameters_of_the_examples():
    by_name = {p.stem: parse_policy(p.read_text()) for p in EXAMPLES}
    assert by_name["city-wide-average"].free_parameter == (0, "charge_minor")
    assert by_name["partial-averaging-50"].free_parameter == (0, "target_minor")
    assert by_name["peripheral-discount"].free_parameter == (0, "surcharge_pct")
    assert by_name["daily-cap"].free_parameter is None


# -- format version, identity ---------------------------------------------------------------------


def test_an_unsupported_format_version_is_refused_naming_the_supported_ones():
    err = refused(base(fairtrip_policy=2))
    assert err.field == "fairtrip_policy"
    assert "fairtrip_policy: 1" in str(err)
    assert "2" in err.message


def test_a_missing_format_version_is_refused():
    doc = base()
    del doc["fairtrip_policy"]
    assert refused(doc).field == "fairtrip_policy"


def test_a_format_version_given_as_a_string_is_not_coerced():
    assert refused(base(fairtrip_policy="1")).field == "fairtrip_policy"


@pytest.mark.parametrize("bad", ["Test-Policy", "ab", "a" * 65, "with space", "under_score"])
def test_an_id_that_is_not_a_slug_is_refused(bad):
    err = refused(base(id=bad))
    assert err.field == "id"
    assert "3-64 characters" in str(err)


def test_version_zero_is_reserved_for_the_status_quo():
    err = refused(base(version=0))
    assert err.field == "version"
    assert ">= 1" in err.message


def test_a_version_given_as_a_string_is_not_coerced_to_an_integer():
    err = refused(base(version="1"))
    assert err.field == "version"
    assert "the string '1'" in err.message


@pytest.mark.parametrize("version", [2**63, 2**31, -1])
def test_a_version_outside_one_to_max_version_is_refused_naming_the_field(version):
    # 2**63 used to reach SQLite, which refused it with an OverflowError (a 500)
    err = refused(base(version=version))
    assert err.field == "version"
    assert str(version) in err.message


def test_the_largest_version_is_accepted():
    assert parse_policy(yaml.safe_dump(base(version=MAX_VERSION))).version == 2**31 - 1


def test_a_huge_format_version_is_refused_as_unsupported():
    assert refused(base(fairtrip_policy=2**63)).field == "fairtrip_policy"


@pytest.mark.parametrize(
    ("name", "position", "code"),
    [
        ("Flat\x00fare", 4, "U+0000"),
        ("\x1b[31mRed\x1b[0m", 0, "U+001B"),
        ("Cap\x85", 3, "U+0085"),  # C1 control (NEL)
        ("Fare \u202eeno-tfel", 5, "U+202E"),  # right-to-left override
        ("Fare \u2066isolate\u2069", 5, "U+2066"),
        ("two\u2028lines", 3, "U+2028"),
        ("tab\there", 3, "U+0009"),
    ],
)
def test_a_control_character_in_the_name_is_refused_naming_its_position(name, position, code):
    err = validate_error(base(name=name))
    assert err.field == "name"
    assert code in err.message
    assert f"position {position}" in err.message


def validate_error(doc: dict[str, Any]) -> PolicyError:
    """The PolicyError of a document given as parsed JSON (strings may hold any character)."""
    with pytest.raises(PolicyError) as info:
        parse_policy(json.dumps(doc))
    return info.value


def test_a_lone_surrogate_in_the_name_is_refused():
    # pydantic refuses it before our check (it cannot be encoded as UTF-8)
    err = validate_error(base(name="bad \ud800 half"))
    assert err.field == "name"
    assert "unicode" in err.message


def test_a_raw_escape_character_in_a_yaml_document_is_a_policy_error():
    # the YAML reader refuses it while the loader is built: that must be a PolicyError too
    text = yaml.safe_dump(base()).replace("Test policy", "Test\x1bpolicy")
    err = refused(text)
    assert "not valid YAML" in str(err)


def test_names_with_ordinary_unicode_are_accepted():
    name = "Keskusta–Espoo: 50 % alennus, \u05e9\u05dc\u05d5\u05dd, \U0001f468\u200d\U0001f469"
    assert parse_policy(json.dumps(base(name=name))).name == name


def test_a_description_keeps_line_breaks_but_not_escapes():
    ok = parse_policy(json.dumps(base(description="first line\n\tsecond line")))
    assert ok.description == "first line\n\tsecond line"
    err = validate_error(base(description="ok\nthen \x1b[2J cleared"))
    assert err.field == "description"
    assert "U+001B" in err.message and "position 8" in err.message


def test_the_status_quo_id_is_reserved():
    assert refused(base(id="status-quo")).field == "id"


def test_an_unknown_currency_is_refused():
    err = refused(base(currency="XYZ"))
    assert err.field == "currency"
    assert "ISO 4217" in err.message


# -- mode families --------------------------------------------------------------------------------


def test_an_empty_mode_family_list_is_refused():
    assert refused(base(mode_families=[])).field == "mode_families"


def test_a_mode_family_listed_twice_is_refused():
    err = refused(base(mode_families=["transit", "scooter", "transit"]))
    assert err.field == "mode_families"
    assert "'transit' is listed twice" in err.message


def test_an_unknown_mode_family_is_refused_listing_the_known_ones():
    err = refused(base(mode_families=["transit", "tram"]))
    assert err.field == "mode_families[1]"
    assert "bike_share" in err.message and "moped" in err.message


# -- free parameters and revenue neutrality -------------------------------------------------------


def test_two_omitted_parameters_are_refused_naming_both():
    doc = base(
        revenue_neutral=True,
        measures=[
            {"type": "city_wide_average"},
            {"type": "partial_average", "alpha": 0.5},
        ],
    )
    err = refused(doc)
    assert err.field == "measures[1].target_minor"
    assert "measures[0].charge_minor and measures[1].target_minor" in err.message
    assert "at most one parameter" in err.message


def test_an_omitted_parameter_without_revenue_neutrality_is_refused():
    err = refused(base(measures=[{"type": "peripheral_discount", "discount_pct": 20}]))
    assert err.field == "measures[0].surcharge_pct"
    assert "revenue_neutral is false" in err.message


def test_revenue_neutral_with_nothing_to_solve_is_refused():
    err = refused(base(revenue_neutral=True))
    assert err.field == "revenue_neutral"
    assert "nothing to solve" in err.message


def test_revenue_neutral_given_as_a_string_is_not_coerced():
    assert refused(base(revenue_neutral="true")).field == "revenue_neutral"


@pytest.mark.parametrize("bad", [-3.5, 0.5, ".nan", ".inf"])
def test_an_elasticity_outside_minus_three_to_zero_or_not_finite_is_refused(bad):
    text = yaml.safe_dump(base()) + f"elasticity: {bad}\n"
    err = refused(text)
    assert err.field == "elasticity"


# -- measures -------------------------------------------------------------------------------------


def test_a_float_amount_in_minor_units_is_refused_with_a_hint():
    err = refused(base(measures=[{"type": "city_wide_average", "charge_minor": 2.8}]))
    assert err.field == "measures[0].charge_minor"
    assert "integer amount in minor units" in err.message
    assert "write 280" in err.message


def test_a_whole_float_amount_is_refused_too():
    err = refused(base(measures=[{"type": "city_wide_average", "charge_minor": 280.0}]))
    assert err.field == "measures[0].charge_minor"
    assert "write 280 without a decimal point" in err.message


def test_an_amount_given_as_a_string_is_refused():
    err = refused(base(measures=[{"type": "city_wide_average", "charge_minor": "280"}]))
    assert err.field == "measures[0].charge_minor"


def test_a_negative_charge_is_refused():
    err = refused(base(measures=[{"type": "city_wide_average", "charge_minor": -1}]))
    assert err.field == "measures[0].charge_minor"


@pytest.mark.parametrize("alpha", [-0.1, 1.5])
def test_an_alpha_outside_zero_to_one_is_refused(alpha):
    doc = base(measures=[{"type": "partial_average", "alpha": alpha, "target_minor": 200}])
    assert refused(doc).field == "measures[0].alpha"


@pytest.mark.parametrize("pct", [0, -5, 100.5])
def test_a_discount_outside_zero_exclusive_to_hundred_is_refused(pct):
    doc = base(measures=[{"type": "peripheral_discount", "discount_pct": pct, "surcharge_pct": 0}])
    assert refused(doc).field == "measures[0].discount_pct"


def test_a_full_discount_of_one_hundred_percent_is_allowed():
    doc = base(measures=[{"type": "peripheral_discount", "discount_pct": 100, "surcharge_pct": 0}])
    assert parse_policy(yaml.safe_dump(doc)).measures[0].discount_pct == 100.0


@pytest.mark.parametrize("field", ["per_trip_minor", "per_day_minor"])
def test_a_cap_of_zero_is_refused(field):
    doc = base(measures=[{"type": "cap", field: 0}])
    err = refused(doc)
    assert err.field == f"measures[0].{field}"
    assert "greater than 0" in err.message


def test_a_cap_without_any_amount_is_refused():
    err = refused(
        base(measures=[{"type": "city_wide_average", "charge_minor": 1}, {"type": "cap"}])
    )
    assert err.field == "measures[1]"
    assert "per_trip_minor and/or per_day_minor" in err.message


def test_trips_per_day_without_a_daily_cap_is_refused():
    err = refused(base(measures=[{"type": "cap", "per_trip_minor": 300, "trips_per_day": 3}]))
    assert err.field == "measures[0].trips_per_day"


def test_a_daily_cap_smaller_than_one_minor_unit_a_trip_is_refused():
    err = refused(base(measures=[{"type": "cap", "per_day_minor": 1, "trips_per_day": 2}]))
    assert err.field == "measures[0].per_day_minor"


def test_an_unknown_measure_type_is_refused_listing_the_known_ones():
    err = refused(base(measures=[{"type": "zone_discount", "pct": 5}]))
    assert err.field == "measures[0]"
    assert "'zone_discount'" in err.message
    for known in ("city_wide_average", "partial_average", "peripheral_discount", "cap"):
        assert known in err.message


def test_a_measure_without_a_type_is_refused():
    err = refused(base(measures=[{"charge_minor": 5}]))
    assert err.field == "measures[0]"
    assert "needs a 'type'" in err.message


def test_a_misspelt_measure_field_is_refused_listing_the_fields():
    doc = base(measures=[{"type": "peripheral_discount", "discount_pt": 20, "surcharge_pct": 0}])
    err = refused(doc)
    fields = {f for f, _ in err.errors}
    assert "measures[0].discount_pt" in fields
    message = dict(err.errors)["measures[0].discount_pt"]
    assert "unknown field" in message and "discount_pct" in message


def test_a_misspelt_top_level_field_is_refused():
    err = refused(base(revenue_netural=True))
    assert err.field == "revenue_netural"
    assert "revenue_neutral" in err.message


def test_every_problem_of_a_document_is_reported():
    err = refused(base(id="X", version=0, currency="XYZ"))
    assert {f for f, _ in err.errors} >= {"id", "currency"}
    assert "id:" in str(err) and "currency:" in str(err)


# -- document-level refusals ----------------------------------------------------------------------


def test_a_duplicate_top_level_key_in_yaml_is_refused():
    text = yaml.safe_dump(base(), sort_keys=False) + "version: 2\n"
    err = refused(text)
    assert err.field == "version"
    assert "duplicate key 'version'" in err.message


def test_a_duplicate_key_inside_a_measure_is_refused_with_its_path():
    text = yaml.safe_dump(base(measures=[]), sort_keys=False).replace(
        "measures: []\n",
        "measures:\n  - type: partial_average\n    alpha: 0.5\n    alpha: 0.9\n"
        "    target_minor: 200\n",
    )
    err = refused(text)
    assert err.field == "measures[0].alpha"
    assert "lines" in err.message


def test_a_duplicate_key_in_json_is_refused():
    text = json.dumps(base())[:-1] + ', "version": 2}'
    err = refused(text)
    assert err.field == "version"
    assert "duplicate key" in err.message


def test_yaml_aliases_are_refused():
    text = yaml.safe_dump(base(), sort_keys=False).replace(
        "name: Test policy", "name: &n Test policy\ndescription: *n"
    )
    assert "aliases are not allowed" in str(refused(text))


def test_an_alias_bomb_is_refused_before_it_expands():
    # the "billion laughs": each level lists the previous one 8 times (8^9 leaves if expanded)
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*l{i - 1}"] * 8)
        lines.append(f"l{i}: &l{i} [{refs}]")
    bomb = "\n".join(lines) + "\n"
    assert "aliases" in str(refused(bomb))


def test_an_oversized_document_is_refused():
    text = yaml.safe_dump(base(description="x" * (MAX_DOCUMENT_BYTES + 1)))
    err = refused(text)
    assert f"at most {MAX_DOCUMENT_BYTES}" in str(err)


def test_deep_nesting_is_refused():
    assert "nests deeper" in str(refused("a: " + "[" * 100 + "]" * 100))
    assert "nests deeper" in str(refused('{"a": ' + "[" * 50 + "1" + "]" * 50 + "}"))


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n", "[1, 2]"])
def test_a_document_that_is_not_a_mapping_is_refused(text):
    assert "expected a mapping at the top level" in str(refused(text))


def test_an_empty_document_is_refused():
    assert "empty" in str(refused(""))


def test_invalid_yaml_and_json_are_refused_with_the_position():
    assert "not valid YAML" in str(refused("a: [1, 2\nb: 3\n"))
    err = refused('{"fairtrip_policy": 1,}')
    assert "not valid JSON" in str(err) and "line 1" in str(err)


def test_nan_in_json_is_refused():
    text = json.dumps(base())[:-1] + ', "elasticity": NaN}'
    assert "NaN" in str(refused(text))


def test_bytes_that_are_not_utf8_are_refused():
    with pytest.raises(PolicyError, match="not UTF-8"):
        parse_policy(b"name: \xff\xfe\n")


def test_the_format_can_be_forced():
    text = json.dumps(base())
    assert parse_policy(text, format="yaml") == parse_policy(text, format="json")
    with pytest.raises(PolicyError, match="not valid JSON"):
        parse_policy(yaml.safe_dump(base()), format="json")


def test_policy_error_is_a_pricing_error_and_a_value_error():
    err = refused(base(id="X"))
    assert isinstance(err, PricingError) and isinstance(err, ValueError)


def test_validate_policy_refuses_a_non_mapping():
    with pytest.raises(PolicyError, match="mapping"):
        validate_policy(["not", "a", "mapping"])  # type: ignore[arg-type]


# -- solving hooks, description, canonical form ---------------------------------------------------


def neutral_average() -> Policy:
    return validate_policy(base(revenue_neutral=True, measures=[{"type": "city_wide_average"}]))


def test_with_parameter_rounds_amounts_half_to_even():
    policy = neutral_average()
    assert policy.with_parameter(262.5).measures[0].charge_minor == 262
    assert policy.with_parameter(263.5).measures[0].charge_minor == 264
    assert policy.with_parameter(263.4).measures[0].charge_minor == 263


def test_with_parameter_leaves_no_free_parameter_and_remembers_what_was_solved():
    solved = neutral_average().with_parameter(263.4)
    assert solved.free_parameter is None
    assert solved.solved_parameter == (0, "charge_minor")
    assert solved.parameter_value() == 263.0
    assert isinstance(solved.measures[0], CityWideAverage)


def test_with_parameter_keeps_percentages_exact():
    policy = validate_policy(
        base(
            revenue_neutral=True,
            measures=[{"type": "peripheral_discount", "discount_pct": 20}],
        )
    )
    assert policy.with_parameter(12.345678).measures[0].surcharge_pct == 12.345678


def test_with_parameter_refuses_a_value_out_of_range():
    policy = validate_policy(
        base(
            revenue_neutral=True,
            measures=[{"type": "peripheral_discount", "discount_pct": 20}],
        )
    )
    with pytest.raises(PolicyError) as info:
        policy.with_parameter(5000.0)
    assert info.value.field == "measures[0].surcharge_pct"


def test_with_parameter_on_a_fully_specified_policy_is_refused():
    with pytest.raises(PolicyError, match="no free parameter"):
        validate_policy(base()).with_parameter(1.0)


def test_describe_says_what_was_solved():
    assert neutral_average().with_parameter(263).describe() == [
        "every transit trip costs 2.63 EUR (solved for revenue neutrality)"
    ]
    assert validate_policy(base()).describe() == ["every transit trip costs 2.50 EUR"]


def test_describe_of_each_measure_type():
    policy = validate_policy(
        base(
            mode_families=["transit", "bike_share"],
            measures=[
                {"type": "partial_average", "alpha": 0.5, "target_minor": 263},
                {"type": "peripheral_discount", "discount_pct": 12.5, "surcharge_pct": 4},
                {"type": "cap", "per_trip_minor": 400, "per_day_minor": 700},
            ],
        )
    )
    assert policy.describe() == [
        "each transit or bike-share trip's price moves 50% of the way toward 2.63 EUR",
        "transit or bike-share trips to or from the periphery get 12.5% off; trips within "
        "the centre pay a 4% surcharge",
        "a transit or bike-share trip costs at most 4.00 EUR; a rider pays at most 7.00 EUR "
        "for 2 transit or bike-share trips a day (at most 3.50 EUR a trip)",
    ]


def test_canonical_json_ignores_key_order_explicit_defaults_and_int_vs_float():
    a = validate_policy(
        base(measures=[{"type": "peripheral_discount", "discount_pct": 20, "surcharge_pct": 5}])
    )
    reordered = dict(reversed(list(base().items())))
    reordered["measures"] = [
        {"surcharge_pct": 5.0, "discount_pct": 20.0, "type": "peripheral_discount"}
    ]
    reordered["revenue_neutral"] = False
    b = validate_policy(reordered)
    assert a.canonical_json() == b.canonical_json()
    assert a.sha256() == b.sha256()
    assert validate_policy(json.loads(a.canonical_json())) == a


def test_canonical_json_changes_with_the_content():
    a = validate_policy(base())
    b = validate_policy(base(measures=[{"type": "city_wide_average", "charge_minor": 251}]))
    assert a.sha256() != b.sha256()


def test_canonical_json_of_a_solved_policy_is_the_planners_document():
    policy = neutral_average()
    assert policy.with_parameter(263).canonical_json() == policy.canonical_json()


def test_the_status_quo_has_no_measures_and_version_zero():
    sq = status_quo("NOK")
    assert sq.id == "status-quo" and sq.version == 0 and sq.measures == ()
    assert sq.is_status_quo and sq.describe() == [] and sq.free_parameter is None
    assert sq.currency == "NOK"
    assert set(sq.mode_families) == {"transit", "bike_share", "scooter", "car_share", "moped"}


def test_policies_are_immutable():
    policy = validate_policy(base())
    with pytest.raises(ValueError, match="frozen"):
        policy.version = 2  # type: ignore[misc]

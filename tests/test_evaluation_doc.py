"""The evaluation document model: strict for the writer, forgiving of new keys for a reader.

The reader's precise errors are tested through the report (`test_report.py`); these tests
cover what the writer side adds: unknown keys refused with their path, misfits named, and
GeoJSON members kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from pricing.evaluation_doc import (
    EvaluationDoc,
    EvaluationDocError,
    Scenario,
    document_error,
    parse_evaluation,
)

FIXTURE = Path(__file__).parent / "fixtures" / "evaluation-small.json"


def evaluation() -> dict:
    return json.loads(FIXTURE.read_text())


def test_a_reader_ignores_keys_it_does_not_know_at_any_depth():
    doc = evaluation()
    doc["added_later"] = {"anything": 1}
    doc["scenarios"][1]["new_metric"] = 0.5
    doc["demand"]["new_fact"] = "x"
    parsed = parse_evaluation(doc)
    assert parsed.scenarios[1].name == doc["scenarios"][1]["name"]


def test_the_writer_is_refused_an_unknown_key_naming_its_path():
    row = evaluation()["scenarios"][1]
    row["gini_index"] = 0.1  # a misspelt key would be written and never read
    with pytest.raises(ValidationError) as caught:
        Scenario(**row)
    err = document_error(caught.value, at="scenarios[1]")
    assert err.key == "scenarios[1].gini_index"
    assert "not part of the evaluation format" in str(err)


def test_a_zone_class_without_trips_is_named_when_the_writer_builds_a_scenario():
    row = evaluation()["scenarios"][0]
    row["mean_price_minor"] = {"central": 250.0, "all": 250.0}
    with pytest.raises(ValidationError) as caught:
        Scenario(**row)
    err = document_error(caught.value, at="scenarios[0]")
    assert isinstance(err, EvaluationDocError)
    assert err.key == "scenarios[0].mean_price_minor.peripheral"
    assert str(err) == "evaluation is missing required key scenarios[0].mean_price_minor.peripheral"


def test_the_writer_keeps_every_zone_geojson_member_and_writes_class_by_its_name():
    doc = evaluation()
    written = EvaluationDoc(**doc).to_document()
    features = written["zones"]["geojson"]["features"]
    assert features == doc["zones"]["geojson"]["features"]
    assert written["zones"]["geojson"]["type"] == "FeatureCollection"
    assert written["scenarios"][0]["zones"][0]["class"] == doc["scenarios"][0]["zones"][0]["class"]


def test_a_scenario_read_back_is_the_scenario_written():
    row = evaluation()["scenarios"][2]
    assert Scenario(**row).model_dump(by_alias=True, exclude_defaults=True) == row

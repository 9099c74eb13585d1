"""Schemathesis against the app's own OpenAPI schema: no 5xx, no schema violations.

Generated requests (schema-valid and deliberately invalid) go to every operation through
the ASGI app with the lifespan running; each response must be a documented status with a
body matching the documented schema. (Driven from a plain test rather than schemathesis's
pytest plugin, which does not load under pytest 9.)
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

EXAMPLES_PER_OPERATION = 60


def _operations(schema):
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_responses_match_the_schema(api_schema, mode):
    operations = _operations(api_schema)
    assert len(operations) >= 6
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()) and not (
            operation.body
        ):
            continue  # nothing to make invalid (e.g. /health)

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case):
            case.call_and_validate()

        run()

"""Every answer of every endpoint matches /openapi.json (schemathesis), and every route is in it.

schemathesis generates requests from the document (valid and invalid) and checks each answer:
no 5xx but the documented 503, a documented status, content type and headers, and a body that
validates against the (strict) response schema. The robustness campaign raises the number of
examples; here it stays small so the suite stays quick.
"""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from retail_backend.etl import pipeline
from tests.api.conftest import build_app, close_app

EXAMPLES = int(os.environ.get("API_CONTRACT_EXAMPLES", "8"))  # the campaign raises it


@pytest.fixture
def contract_app(settings, sample):
    """An app over loaded data with a finished run, and ?wait capped at a second."""
    run = pipeline.run(settings, mode="full", triggered_by="test")
    assert run["status"] == "succeeded"
    app = build_app(settings.replace(run_wait_max=1.0))
    yield app
    close_app(app)


@pytest.fixture
def api_schema(contract_app):
    return schemathesis.openapi.from_wsgi("/openapi.json", contract_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_matches_the_document(case):
    # positive_data_acceptance is left out: OpenAPI cannot say that `from` must not be after
    # `to`, or that a sort field must belong to the chosen group_by, so valid-looking
    # combinations are rightly refused with a 400 that the document lists.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def test_every_route_is_documented_and_every_documented_path_exists(app):
    document = app.test_client().get("/openapi.json").json
    documented = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert documented == served


def test_the_document_is_openapi_3_with_strict_response_objects(app):
    document = app.test_client().get("/openapi.json").json
    assert document["openapi"].startswith("3.")
    for name, component in document["components"]["schemas"].items():
        assert component["additionalProperties"] is False, name
        assert set(component["required"]) <= set(component["properties"]), name

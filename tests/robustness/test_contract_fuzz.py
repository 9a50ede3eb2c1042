"""schemathesis over /openapi.json, at least 50 distinct cases per operation, on loaded data.

The campaign's run of the contract (tests/api/test_openapi.py keeps a quick one): valid and
invalid requests for every documented operation, each sent with the run token or without it,
plus cache-buster query parameters the contract says are ignored. Every answer must be
documented (status, content type, headers, a body the strict schema accepts) and none a 5xx;
the token must decide exactly whether a run may start.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from retail_backend.etl import pipeline
from tests.api.conftest import build_app, close_app

RUN_TOKEN = "fuzz-run-token-0c7d51"
MIN_CASES = 50
# Hypothesis repeats some examples; this many draws give well over MIN_CASES distinct ones.
MAX_EXAMPLES = 100
PROTECTED = {"POST /run-etl"}
OPERATIONS = [
    "GET /sales",
    "POST /run-etl",
    "GET /etl-runs",
    "GET /etl-runs/{run_id}",
    "GET /etl-runs/{run_id}/rejects",
    "GET /health",
    "GET /ready",
    "GET /metrics",
]  # GET /openapi.json is the document itself: schemathesis does not call it
# Names the API does not read (cache busters): the contract says they are ignored.
UNKNOWN_PARAMETERS = st.dictionaries(
    st.from_regex(r"x_[a-z]{1,6}", fullmatch=True),
    st.from_regex(r"[ -~]{0,16}", fullmatch=True),
    max_size=2,
)


@pytest.fixture
def fuzzed_app(settings, sample):
    """The API over loaded data (one finished run), the run token set, ?wait capped at 1 s."""
    run = pipeline.run(settings, mode="full", triggered_by="test")
    assert run["status"] == "succeeded", run["error_message"]
    app = build_app(settings.replace(run_wait_max=1.0, api_token=RUN_TOKEN))
    yield app
    close_app(app)  # waits for every run the POST cases started, and fails if one hangs


def operation_cases(operation) -> st.SearchStrategy:
    """Valid and invalid cases of one operation (an operation without inputs has no invalid)."""
    modes = [GenerationMode.POSITIVE]
    if operation.definition.raw.get("parameters") or operation.body:
        modes.append(GenerationMode.NEGATIVE)
    return st.one_of(*(operation.as_strategy(mode) for mode in modes))


def case_key(case, authorized: bool, extra: dict) -> str:
    return repr((case.path_parameters, case.query, case.headers, case.body, authorized, extra))


@pytest.mark.campaign("contract_fuzz")
def test_every_documented_operation_is_fuzzed(fuzzed_app):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app)
    fuzzable = sorted(result.ok().label for result in schema.get_all_operations())
    document = fuzzed_app.test_client().get("/openapi.json").json
    documented = {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops}
    assert fuzzable == sorted(OPERATIONS)
    assert documented == {*OPERATIONS, "GET /openapi.json"}


@pytest.mark.campaign("contract_fuzz")
@pytest.mark.parametrize("label", OPERATIONS)
def test_every_answer_to_fifty_distinct_cases_matches_the_document(fuzzed_app, campaign, label):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app)
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    tried: set[str] = set()

    @given(case=operation_cases(operation), authorized=st.booleans(), extra=UNKNOWN_PARAMETERS)
    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def answers_match_the_document(case, authorized: bool, extra: dict) -> None:
        tried.add(case_key(case, authorized, extra))
        headers = {"Authorization": f"Bearer {RUN_TOKEN}"} if authorized else {}
        # positive_data_acceptance is left out, as in tests/api/test_openapi.py: the document
        # cannot say that `from` must not be after `to`, so some valid-looking queries get 400.
        response = case.call_and_validate(
            headers=headers, params=extra, excluded_checks=[positive_data_acceptance]
        )
        if label in PROTECTED and not authorized:
            assert response.status_code == 401, response.text
        else:
            assert response.status_code != 401, response.text

    answers_match_the_document()

    campaign.cases(len(tried))
    assert len(tried) >= MIN_CASES, f"{label}: only {len(tried)} distinct cases were generated"

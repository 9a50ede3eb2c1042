"""Bearer tokens: API_TOKEN guards POST /run-etl, API_READ_TOKEN (when set) guards the reads."""

from __future__ import annotations

import pytest

from retail_backend.config import Settings
from tests.api.conftest import build_app, close_app

RUN_TOKEN = "run-token-5be1c0"
READ_TOKEN = "read-token-93fa27"
READS = ["/sales", "/etl-runs", "/etl-runs/1", "/etl-runs/1/rejects"]
OPEN = ["/health", "/ready", "/metrics", "/openapi.json"]


@pytest.fixture
def guarded(settings):
    """An app with both tokens set, as the deployment runs it."""
    app = build_app(settings.replace(api_token=RUN_TOKEN, api_read_token=READ_TOKEN))
    yield app.test_client()
    close_app(app)


@pytest.fixture
def run_guarded(settings):
    """An app with only the run token set: reads stay open."""
    app = build_app(settings.replace(api_token=RUN_TOKEN))
    yield app.test_client()
    close_app(app)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("wrong"), bearer(READ_TOKEN), {"Authorization": RUN_TOKEN}, bearer("")],
    ids=["missing", "wrong", "read-token", "no-scheme", "empty"],
)
def test_starting_a_run_without_the_run_token_is_401(run_guarded, headers):
    answer = run_guarded.post("/run-etl", headers=headers)
    assert answer.status_code == 401
    assert answer.json["error"]["code"] == "unauthorized"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert run_guarded.get("/etl-runs").json["meta"]["total_rows"] == 0


def test_the_run_token_starts_a_run(run_guarded, sample):
    answer = run_guarded.post("/run-etl?wait=30", headers=bearer(RUN_TOKEN))
    assert answer.status_code == 200 and answer.json["status"] == "succeeded"
    lower_case_scheme = run_guarded.post(
        "/run-etl", headers={"authorization": f"bearer {RUN_TOKEN}"}
    )
    assert lower_case_scheme.status_code == 202


def test_reads_stay_open_without_a_read_token(run_guarded):
    assert run_guarded.get("/sales").status_code == 200
    assert run_guarded.get("/etl-runs").status_code == 200


@pytest.mark.parametrize("path", READS)
def test_reads_need_a_token_when_the_read_token_is_set(guarded, path):
    answer = guarded.get(path)
    assert answer.status_code == 401 and answer.json["error"]["code"] == "unauthorized"
    assert guarded.get(path, headers=bearer("nope")).status_code == 401
    assert guarded.get(path, headers=bearer(READ_TOKEN)).status_code in (200, 404)
    assert guarded.get(path, headers=bearer(RUN_TOKEN)).status_code in (200, 404)


@pytest.mark.parametrize("path", OPEN)
def test_health_ready_metrics_and_openapi_need_no_token(guarded, path):
    assert guarded.get(path).status_code == 200


def test_the_read_token_cannot_start_a_run(guarded):
    assert guarded.post("/run-etl", headers=bearer(READ_TOKEN)).status_code == 401


def test_tokens_come_from_files_too(tmp_path):
    token_file = tmp_path / "api_token"
    token_file.write_text(RUN_TOKEN + "\n")
    settings = Settings.from_env(
        {
            "SOURCE_DB_URL": "postgresql://u@db/retail",
            "WAREHOUSE_DB_URL": "mysql://u@dw/retail_dw",
            "API_TOKEN_FILE": str(token_file),
        }
    )
    assert settings.api_token == RUN_TOKEN and settings.api_read_token is None

"""The backend client: what it sends, and how each failure becomes a user-facing message."""

from __future__ import annotations

import pytest
import requests
import responses

from retail_dashboard import backend as backend_module
from retail_dashboard.backend import BackendClient, BackendError
from retail_dashboard.backend_guard import new_breaker
from retail_dashboard.config import Settings

from .fake_backend import error_body, run_object

URL = "http://api.test/api"


@pytest.fixture
def client() -> BackendClient:
    settings = Settings.from_env(
        {"SECRET_KEY": "k", "BACKEND_URL": URL + "/", "API_TOKEN": "run-t", "BACKEND_TIMEOUT": "4"}
    )
    # A breaker that never opens: these tests are about one call each (test_breaker.py has it).
    breaker = new_breaker(fail_max=1000, reset_timeout=1)
    client = BackendClient(settings=settings, session=requests.Session(), breaker=breaker)
    return client.for_request("rid-1")


def test_base_url_with_a_path_prefix_is_kept(client, backend):
    backend.add(responses.GET, f"{URL}/etl-runs", json={"data": [], "meta": {}})

    client.runs(limit=3)

    (call,) = backend.calls
    assert call.request.url == f"{URL}/etl-runs?limit=3&offset=0"
    assert call.request.headers["X-Request-ID"] == "rid-1"
    assert call.request.req_kwargs["timeout"] == (3.0, 4.0)
    assert "Authorization" not in call.request.headers


def test_error_message_comes_from_the_contracts_error_body(client, backend):
    backend.add(
        responses.GET,
        f"{URL}/sales",
        status=503,
        json=error_body("database_unavailable", "the warehouse is down"),
    )

    with pytest.raises(BackendError) as caught:
        client.sales({})

    assert caught.value.status == 503 and caught.value.code == "database_unavailable"
    assert caught.value.message == (
        "The backend answered with an error (HTTP 503): the warehouse is down"
    )


def test_an_html_error_page_is_not_shown_to_users(client, backend):
    backend.add(responses.GET, f"{URL}/sales", status=502, body="<h1>Bad Gateway</h1> nginx")

    with pytest.raises(BackendError) as caught:
        client.sales({})

    assert caught.value.message == "The backend answered with an error (HTTP 502)."


def test_a_very_long_backend_message_is_cut(client, backend):
    backend.add(
        responses.GET, f"{URL}/sales", status=500, json=error_body("internal_error", "x" * 5000)
    )

    with pytest.raises(BackendError) as caught:
        client.sales({})

    assert len(caught.value.message) < 400


def test_start_run_sends_the_run_token_and_uses_the_long_timeout(client, backend):
    backend.add(responses.POST, f"{URL}/run-etl", status=202, json=run_object(8, "queued"))

    started = client.start_run("full", "key-12345678")

    assert (started.run_id, started.already_running) == (8, False)
    (call,) = backend.calls
    assert call.request.url == f"{URL}/run-etl?mode=full"
    assert call.request.headers["Authorization"] == "Bearer run-t"
    assert call.request.headers["Idempotency-Key"] == "key-12345678"
    assert call.request.req_kwargs["timeout"] == (3.0, 30.0)


def test_start_run_409_is_an_answer_with_the_running_id(client, backend):
    backend.add(
        responses.POST,
        f"{URL}/run-etl",
        status=409,
        json=error_body("run_in_progress", "busy", run_id=5, location="/etl-runs/5"),
    )

    started = client.start_run("incremental")

    assert (started.run_id, started.already_running, started.run) == (5, True, None)


def test_start_run_409_without_a_run_id_is_an_error(client, backend):
    backend.add(responses.POST, f"{URL}/run-etl", status=409, json={"error": {"code": "x"}})

    with pytest.raises(BackendError, match="HTTP 409"):
        client.start_run("incremental")


def test_sales_csv_failure_closes_the_stream(client, backend, monkeypatch):
    backend.add(responses.GET, f"{URL}/sales", status=500, json=error_body("internal_error", "no"))
    closed = []
    monkeypatch.setattr(requests.Response, "close", lambda self: closed.append(True))

    with pytest.raises(BackendError):
        client.sales_csv({"group_by": "day"})

    assert closed


def test_the_app_client_is_bound_to_the_request_id(app):
    with app.test_request_context("/", headers={"X-Request-ID": "abc-1"}):
        app.preprocess_request()
        bound = backend_module.get_backend()

    assert bound.request_id == "abc-1"
    assert bound.session is app.extensions["backend"].session
    assert bound.session.trust_env is False

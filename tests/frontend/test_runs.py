"""Starting runs (CSRF, token, 303/JSON, 409), polling their status, and their rejected lines."""

from __future__ import annotations

import pytest
import requests
import responses

from .conftest import BACKEND, RUN_TOKEN, calls_to, csrf_token, query_of, serve_dashboard
from .fake_backend import error_body, run_object
from .html_text import element, text_of

JSON = {"Accept": "application/json"}


def started(backend, run_id: int = 8, mode: str = "incremental") -> None:
    """Let POST /run-etl start run ``run_id``."""
    backend.add(
        responses.POST,
        f"{BACKEND}/run-etl",
        status=202,
        json=run_object(run_id, "queued", mode=mode),
        headers={"Location": f"/etl-runs/{run_id}", "Retry-After": "2"},
    )


def in_progress(backend, run_id: int = 7) -> None:
    """Make POST /run-etl answer 409: run ``run_id`` is already going."""
    backend.add(
        responses.POST,
        f"{BACKEND}/run-etl",
        status=409,
        json=error_body(
            "run_in_progress",
            "a run is already in progress",
            run_id=run_id,
            location=f"/etl-runs/{run_id}",
        ),
    )


def test_post_without_csrf_token_is_refused(client, backend):
    started(backend)

    response = client.post("/runs", data={"mode": "incremental"})

    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert calls_to(backend, "/run-etl", "POST") == []


def test_post_without_csrf_token_asking_for_json_gets_json(client, backend):
    started(backend)

    response = client.post("/runs", data={"mode": "full"}, headers=JSON)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert calls_to(backend, "/run-etl", "POST") == []


def test_post_with_a_forged_token_is_refused(client, backend):
    started(backend)
    csrf_token(client)  # a real session, but the token below is not its own

    response = client.post("/runs", data={"mode": "incremental", "csrf_token": "forged.token"})

    assert response.status_code == 400
    assert calls_to(backend, "/run-etl", "POST") == []


def test_run_button_starts_a_run_and_redirects_303(client, backend):
    started(backend, 8)
    token = csrf_token(client)

    response = client.post(
        "/runs",
        data={
            "mode": "incremental",
            "csrf_token": token,
            "idempotency_key": "0123456789abcdef-incremental",
            "country": "France",
            "group_by": "month",
        },
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/?run=8&country=France&group_by=month"
    (call,) = calls_to(backend, "/run-etl", "POST")
    assert query_of(call) == {"mode": "incremental"}
    assert call.request.headers["Authorization"] == f"Bearer {RUN_TOKEN}"
    assert call.request.headers["Idempotency-Key"] == "0123456789abcdef-incremental"
    assert call.request.req_kwargs["timeout"] == (3.0, 30.0)


def test_started_run_is_announced_after_the_redirect(client, backend):
    started(backend, 8)
    serve_dashboard(backend)
    backend.add(responses.GET, f"{BACKEND}/etl-runs/8", json=run_object(8, "queued"))
    token = csrf_token(client)

    page = client.post(
        "/runs", data={"mode": "incremental", "csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)

    assert "Run #8 (incremental) started." in page
    assert element(page, "run-progress")[1]["data-run-id"] == "8"
    assert len(calls_to(backend, "/run-etl", "POST")) == 1


def test_full_rebuild_asks_for_mode_full(client, backend):
    started(backend, 9, "full")

    client.post("/runs", data={"mode": "full", "csrf_token": csrf_token(client)})

    (call,) = calls_to(backend, "/run-etl", "POST")
    assert query_of(call) == {"mode": "full"}


def test_json_mode_returns_the_run_id_and_where_to_poll(client, backend):
    started(backend, 8)
    token = csrf_token(client)

    response = client.post(
        "/runs", data={"mode": "incremental"}, headers={**JSON, "X-CSRFToken": token}
    )

    assert response.status_code == 202
    body = response.get_json()
    assert body["run_id"] == 8 and body["already_running"] is False
    assert body["status_url"] == "/runs/8.json"
    assert body["run"]["status"] == "queued"


def test_run_in_progress_is_information_in_json(client, backend):
    in_progress(backend, 7)

    response = client.post(
        "/runs", data={"mode": "incremental", "csrf_token": csrf_token(client)}, headers=JSON
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body == {
        "run_id": 7,
        "already_running": True,
        "message": "A run is already in progress (#7).",
        "status_url": "/runs/7.json",
        "run": None,
    }


def test_run_in_progress_redirects_to_follow_that_run(client, backend):
    in_progress(backend, 7)
    serve_dashboard(backend)
    backend.add(responses.GET, f"{BACKEND}/etl-runs/7", json=run_object(7, "running"))
    token = csrf_token(client)

    response = client.post("/runs", data={"mode": "full", "csrf_token": token})
    page = client.get(response.headers["Location"]).get_data(as_text=True)

    assert response.status_code == 303
    assert response.headers["Location"] == "/?run=7"
    assert "A run is already in progress (#7)." in page
    assert "notice-info" in page and "notice-error" not in page


@pytest.mark.parametrize(
    ("failure", "status", "message"),
    [
        (requests.ConnectionError(), 502, "cannot be reached"),
        (requests.ReadTimeout(), 504, "did not answer in time (within 30 s)"),
    ],
)
def test_backend_down_when_starting_is_a_json_error(client, backend, failure, status, message):
    backend.add(responses.POST, f"{BACKEND}/run-etl", body=failure)

    response = client.post(
        "/runs", data={"mode": "incremental", "csrf_token": csrf_token(client)}, headers=JSON
    )

    assert response.status_code == status
    assert message in response.get_json()["error"]["message"]


def test_backend_refusing_the_token_is_flashed_after_redirect(client, backend):
    backend.add(
        responses.POST,
        f"{BACKEND}/run-etl",
        status=401,
        json=error_body("unauthorized", "a valid bearer token is required"),
    )
    serve_dashboard(backend)
    token = csrf_token(client)

    response = client.post("/runs", data={"mode": "incremental", "csrf_token": token})
    page = client.get(response.headers["Location"]).get_data(as_text=True)

    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "could not be started" in page and "check API_TOKEN" in page


@pytest.mark.parametrize("headers", [{}, JSON])
def test_unknown_mode_is_refused_before_the_backend(client, backend, headers):
    started(backend)

    response = client.post(
        "/runs", data={"mode": "drop", "csrf_token": csrf_token(client)}, headers=headers
    )

    assert response.status_code == (400 if headers else 303)
    assert calls_to(backend, "/run-etl", "POST") == []


def test_malformed_idempotency_key_is_not_forwarded(client, backend):
    started(backend)

    client.post(
        "/runs",
        data={
            "mode": "incremental",
            "csrf_token": csrf_token(client),
            "idempotency_key": "bad key\r\nX-Evil: 1",
        },
    )

    (call,) = calls_to(backend, "/run-etl", "POST")
    assert "Idempotency-Key" not in call.request.headers


def test_status_json_relays_progress_without_internal_fields(client, backend):
    backend.add(
        responses.GET,
        f"{BACKEND}/etl-runs/8",
        json=run_object(8, "running", stage="extract", rows_extracted=1234),
    )

    response = client.get("/runs/8.json")

    body = response.get_json()
    assert response.status_code == 200
    assert body["status"] == "running" and body["stage"] == "extract"
    assert body["rows_extracted"] == 1234 and body["finished"] is False
    assert "watermark_after" not in body and "triggered_by" not in body
    assert response.headers["Cache-Control"] == "no-store"


def test_status_json_says_when_a_run_finished(client, backend):
    backend.add(responses.GET, f"{BACKEND}/etl-runs/8", json=run_object(8, "failed", error="boom"))

    body = client.get("/runs/8.json").get_json()

    assert body["finished"] is True and body["error"] == "boom"


def test_status_json_of_an_unknown_run_is_404(client, backend):
    backend.add(
        responses.GET,
        f"{BACKEND}/etl-runs/99",
        status=404,
        json=error_body("not_found", "no run 99"),
    )

    response = client.get("/runs/99.json")

    assert response.status_code == 404
    assert response.get_json()["error"]["message"] == "Run #99 does not exist."


def test_status_json_when_backend_is_down_is_502_json(client, backend):
    backend.add(responses.GET, f"{BACKEND}/etl-runs/8", body=requests.ConnectionError())

    response = client.get("/runs/8.json")

    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "backend_error"


def rejects_body(total: int, offset: int = 0) -> dict:
    rows = [
        {
            "source_id": 100 + i,
            "reason": "zero_price",
            "invoice_no": f"53{i:04d}",
            "stock_code": "22423",
            "quantity": 1,
            "unit_price": "0.000",
            "invoice_date": "2011-12-01",
            "country": "France",
        }
        for i in range(offset, min(offset + 50, total))
    ]
    meta = {
        "limit": 50,
        "offset": offset,
        "total_rows": total,
        "by_reason": {"zero_price": total - 2, "bad_date": 2},
    }
    return {"data": rows, "meta": meta}


def test_rejects_page_lists_the_rejected_lines(client, backend):
    backend.add(responses.GET, f"{BACKEND}/etl-runs/6/rejects", json=rejects_body(120, 50))

    response = client.get("/runs/6/rejects?offset=50&reason=zero_price")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    table = text_of(page, "rejects-table")
    assert "run #6" in table and "530050" in table and "530099" in table and "530100" not in table
    assert query_of(backend.calls[0]) == {"limit": "50", "offset": "50", "reason": "zero_price"}
    assert 'href="/runs/6/rejects?offset=0&amp;reason=zero_price" rel="prev"' in page
    assert 'href="/runs/6/rejects?offset=100&amp;reason=zero_price" rel="next"' in page
    assert 'href="/runs/6/rejects?reason=bad_date"' in page


def test_rejects_page_drops_a_malformed_reason(client, backend):
    backend.add(responses.GET, f"{BACKEND}/etl-runs/6/rejects", json=rejects_body(3))

    client.get("/runs/6/rejects?reason=x%27%20OR%201=1&offset=²")

    assert query_of(backend.calls[0]) == {"limit": "50", "offset": "0"}


def test_rejects_of_an_unknown_run_is_404(client, backend):
    backend.add(
        responses.GET,
        f"{BACKEND}/etl-runs/99/rejects",
        status=404,
        json=error_body("not_found", "no run 99"),
    )

    response = client.get("/runs/99/rejects")

    assert response.status_code == 404
    assert "Run #99 does not exist." in text_of(response.get_data(as_text=True), "backend-error")


def test_rejects_page_with_backend_down_still_renders(client, backend):
    backend.add(responses.GET, f"{BACKEND}/etl-runs/6/rejects", body=requests.ReadTimeout())

    response = client.get("/runs/6/rejects")

    assert response.status_code == 200
    assert "did not answer in time" in text_of(response.get_data(as_text=True), "backend-error")


def test_history_says_why_a_run_rebuilt_in_full_and_what_a_verify_found(client, backend):
    runs = [
        run_object(9, mode="verify", result={"days_differing": 3, "days": []}),
        run_object(8, full_reason="online_sales was truncated since the last run"),
        run_object(7, mode="full", full_reason="requested"),
    ]
    serve_dashboard(backend, runs=runs)

    page = client.get("/").get_data(as_text=True)

    assert "Rebuilt in full: online_sales was truncated since the last run" in page
    assert "Rebuilt in full: requested" not in page  # asked for: nothing to explain
    assert "3 day(s) differed from the source" in page


def test_status_json_carries_the_full_reason_and_the_days_differing(client, backend):
    backend.add(
        responses.GET,
        f"{BACKEND}/etl-runs/8",
        json=run_object(
            8, full_reason="the source is another server", result={"days_differing": 2}
        ),
    )

    body = client.get("/runs/8.json").get_json()

    assert body["full_reason"] == "the source is another server"
    assert body["days_differing"] == 2
    assert "result" not in body

"""Errors are JSON with the right status and code: bad input, 404, 405, 413, 503, 500."""

from __future__ import annotations

import pytest

from tests.api.conftest import build_app, make_settings

CLOSED_PORT_MYSQL = "mysql://root:hunter2@127.0.0.1:9/retail_dw"


def assert_error(answer, status: int, code: str, message_part: str = "") -> dict:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    error = answer.json["error"]
    assert error["code"] == code
    assert message_part in error["message"]
    assert "Traceback" not in answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    return error


@pytest.mark.parametrize(
    "query, message",
    [
        ("from=2011-13-01", "from must be a date like 2011-12-31, not '2011-13-01'"),
        ("to=yesterday", "to must be a date like 2011-12-31, not 'yesterday'"),
        ("from=2011-1-5", "from must be a date"),
        ("from=20111231", "from must be a date"),
        ("from=2011-12-31&to=2011-01-01", "from (2011-12-31) must not be after to (2011-01-01)"),
        ("group_by=week", "group_by must be one of product, day, month, country, not 'week'"),
        ("format=xml", "format must be one of json, csv, not 'xml'"),
        ("limit=1001", "limit must be at most 1000, not 1001"),
        ("limit=0", "limit must be at least 1, not 0"),
        ("limit=ten", "limit must be a whole number, not 'ten'"),
        ("limit=1.5", "limit must be a whole number"),
        ("offset=-1", "offset must be at least 0, not -1"),
        ("offset=99999999999999999999999", "offset must be a whole number"),
        ("sort=price", "sort must be a field of a product row"),
        ("sort=date", "sort must be a field of a product row"),
        ("group_by=day&sort=product_id", "sort must be a field of a day row"),
        ("sort=--orders", "sort must be a field"),
        ("country=" + "x" * 300, "country must be at most 256 characters"),
    ],
)
def test_bad_sales_parameters_are_400_with_a_precise_message(client, query, message):
    assert_error(client.get(f"/sales?{query}"), 400, "bad_request", message)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"query_string": {"mode": "partial"}}, "mode must be one of incremental, full"),
        ({"json": {"mode": "partial"}}, "mode must be one of incremental, full"),
        ({"json": {"mode": 1}}, "mode in the body must be a string"),
        ({"json": {"mode": None}}, "mode in the body must be a string"),
        (
            {"json": {"mode": ""}},
            "mode must be one of incremental, full, verify, repair, not empty",
        ),
        (
            {"data": "mode=", "content_type": "application/x-www-form-urlencoded"},
            "mode must be one of incremental, full, verify, repair, not empty",
        ),
        ({"json": [1, 2]}, "the body must be empty or a JSON object"),
        ({"data": "{not json", "content_type": "application/json"}, "must be empty or a JSON"),
        ({"json": {"mdoe": "full"}}, "the body may only hold mode, not 'mdoe'"),
        (
            {"query_string": {"mode": "full"}, "json": {"mode": "incremental"}},
            "mode is 'full' in the query but 'incremental' in the body",
        ),
        ({"query_string": {"wait": "-1"}}, "wait must be a number of seconds"),
        ({"query_string": {"wait": "soon"}}, "wait must be a number of seconds"),
        ({"headers": {"Idempotency-Key": "x" * 129}}, "Idempotency-Key must be 1 to 128"),
        ({"headers": {"Idempotency-Key": "has space"}}, "Idempotency-Key must be 1 to 128"),
    ],
)
def test_bad_run_requests_are_400_and_start_nothing(client, kwargs, message):
    assert_error(client.post("/run-etl", **kwargs), 400, "bad_request", message)
    assert client.get("/etl-runs").json["meta"]["total_rows"] == 0


@pytest.mark.parametrize(
    "path, message",
    [
        ("/etl-runs?limit=5000", "limit must be at most 1000"),
        ("/etl-runs?offset=x", "offset must be a whole number"),
        ("/etl-runs/1/rejects?reason=bogus", "reason must be one of missing_invoice"),
        ("/etl-runs/1/rejects?limit=0", "limit must be at least 1"),
    ],
)
def test_bad_run_listing_parameters_are_400(client, path, message):
    assert_error(client.get(path), 400, "bad_request", message)


def test_unknown_path_is_404(client):
    assert_error(client.get("/no-such-thing"), 404, "not_found")


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("delete", "/sales", {"GET", "HEAD", "OPTIONS"}),
        ("post", "/sales", {"GET", "HEAD", "OPTIONS"}),
        ("get", "/run-etl", {"POST", "OPTIONS"}),
        ("put", "/etl-runs/1", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_wrong_method_is_405_with_allow(client, method, path, allowed):
    answer = getattr(client, method)(path)
    assert_error(answer, 405, "method_not_allowed")
    assert set(answer.headers["Allow"].split(", ")) == allowed


def test_a_huge_body_is_413(client):
    answer = client.post("/run-etl", data="x" * (65 * 1024), content_type="text/plain")
    assert_error(answer, 413, "payload_too_large")


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/sales"),
        ("get", "/sales?group_by=day&format=csv"),
        ("get", "/etl-runs"),
        ("get", "/etl-runs/1"),
        ("get", "/etl-runs/1/rejects"),
        ("post", "/run-etl"),
    ],
)
def test_an_unreachable_warehouse_is_503_without_details(source_db, method, path):
    app = build_app(make_settings(source_db.url, CLOSED_PORT_MYSQL, connect_timeout=1.0))
    answer = getattr(app.test_client(), method)(path)
    error = assert_error(answer, 503, "database_unavailable", "warehouse (MySQL)")
    assert "hunter2" not in error["message"] and "9" not in error["message"]


def test_an_unexpected_error_is_a_bare_500_and_logged(app, caplog):
    def explode():
        raise RuntimeError("secret internals")

    app.add_url_rule("/explode", view_func=explode)
    answer = app.test_client().get("/explode", headers={"X-Request-ID": "boom-1"})
    error = assert_error(answer, 500, "internal_error", "An internal error occurred.")
    assert "secret" not in error["message"]
    logged = [r for r in caplog.records if r.levelname == "ERROR"]
    assert logged and logged[-1].exc_info and logged[-1].request_id == "boom-1"

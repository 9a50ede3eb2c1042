"""The dashboard page and its CSV download, against a fake backend at the HTTP boundary."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses

from .conftest import BACKEND, READ_TOKEN, calls_to, query_of, serve_dashboard
from .fake_backend import error_body, run_object, sales_body
from .html_text import element, text_of

PRODUCTS = [
    {
        "product_id": "22423",
        "description": "REGENCY CAKESTAND 3 TIER",
        "total_quantity": 1200,
        "total_sale_amount": "15000.25",
        "orders": 310,
        "returned_quantity": 12,
        "returned_amount": "153.00",
    },
    {
        "product_id": "85123A",
        "description": "WHITE HANGING HEART T-LIGHT HOLDER",
        "total_quantity": 3400,
        "total_sale_amount": "8670.00",
        "orders": 500,
        "returned_quantity": 40,
        "returned_amount": "102.00",
    },
]


def recent(hours: float) -> str:
    """Return the ISO timestamp of ``hours`` ago, as the backend writes it."""
    moment = datetime.now(UTC) - timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_headline_figures_come_from_meta_totals(client, backend):
    serve_dashboard(backend, sales_body(PRODUCTS, refreshed=recent(2)))

    page = client.get("/").get_data(as_text=True)

    # 15000.25 + 8670.00 = 23670.25; 1200 + 3400 units; 310 + 500 orders;
    # (153.00 + 102.00) / 23670.25 = 1.0773 %
    assert text_of(page, "kpi-revenue") == "23,670.25"
    assert text_of(page, "kpi-units") == "4,600"
    assert text_of(page, "kpi-orders") == "810"
    assert text_of(page, "kpi-return-rate") == "1.1 %"
    refreshed = text_of(page, "last-refreshed")
    assert "2 hours ago" in refreshed and "run #7" in refreshed
    assert "Stale" not in refreshed
    assert element(page, "backend-error") is None


def test_sales_table_rows_show_money_with_separators(client, backend):
    serve_dashboard(backend, sales_body(PRODUCTS))

    table = text_of(client.get("/").get_data(as_text=True), "sales-table")

    assert "REGENCY CAKESTAND 3 TIER" in table
    assert "15,000.25" in table and "8,670.00" in table and "3,400" in table


def test_empty_warehouse_says_no_run_has_succeeded(client, backend):
    serve_dashboard(backend, sales_body([], last_run_id=None), runs=[])

    response = client.get("/")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert text_of(page, "kpi-revenue") == "0.00"
    assert text_of(page, "kpi-return-rate") == "n/a"
    assert "no ETL run has succeeded yet" in text_of(page, "last-refreshed")
    assert "is-stale" in element(page, "last-refreshed")[1]["class"]
    assert "No sales match these filters" in page
    assert text_of(page, "run-history") == "No runs yet."
    assert element(page, "backend-error") is None


@pytest.mark.parametrize(("hours_ago", "stale"), [(30, True), (20, False)])
def test_refresh_older_than_stale_after_hours_is_flagged(client, backend, hours_ago, stale):
    serve_dashboard(backend, sales_body(PRODUCTS, refreshed=recent(hours_ago)))

    page = client.get("/").get_data(as_text=True)

    assert ("Stale data" in text_of(page, "last-refreshed")) is stale
    assert ("is-stale" in element(page, "last-refreshed")[1]["class"]) is stale


def test_stale_after_hours_is_configurable(settings, backend):
    from retail_dashboard import create_app

    client = create_app({**settings, "STALE_AFTER_HOURS": "1"}).test_client()
    serve_dashboard(backend, sales_body(PRODUCTS, refreshed=recent(2)))

    assert "Stale data" in text_of(client.get("/").get_data(as_text=True), "last-refreshed")


def test_table_request_carries_the_filters_sort_and_page(client, backend):
    serve_dashboard(backend, sales_body([], "month", total_rows=80))

    client.get(
        "/?from=2011-01-01&to=2011-03-31&country=France&group_by=month&sort=-orders"
        "&limit=25&offset=25"
    )

    table_calls = [c for c in calls_to(backend, "/sales") if query_of(c).get("offset") == "25"]
    assert len(table_calls) == 1
    assert query_of(table_calls[0]) == {
        "from": "2011-01-01",
        "to": "2011-03-31",
        "country": "France",
        "group_by": "month",
        "sort": "-orders",
        "limit": "25",
        "offset": "25",
    }


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("from=2011-13-01", "From date is not a date"),
        ("to=yesterday", "To date is not a date"),
        ("from=2011-05-01&to=2011-01-01", "From date is after To date"),
        ("group_by=customer", "Unknown grouping"),
    ],
)
def test_bad_filters_are_reported_and_not_sent(client, backend, query, problem):
    serve_dashboard(backend)

    page = client.get(f"/?{query}").get_data(as_text=True)

    assert problem in page
    for call in calls_to(backend, "/sales"):
        params = query_of(call)
        assert "from" not in params and "to" not in params
        assert params["group_by"] in ("product", "day", "month", "country")


def test_unknown_sort_field_falls_back_to_the_default(client, backend):
    serve_dashboard(backend)

    client.get("/?group_by=country&sort=password&limit=9999")

    table = [c for c in calls_to(backend, "/sales") if query_of(c).get("limit") == "1000"]
    sorts = {query_of(c)["sort"] for c in table if query_of(c)["group_by"] == "country"}
    assert sorts == {"-total_sale_amount"}


@pytest.mark.parametrize("query", ["limit=²", "offset=¹²", "run=³", "limit=٣"])
def test_non_ascii_digits_in_numbers_are_ignored(client, backend, query):
    serve_dashboard(backend)

    response = client.get(f"/?{query}")

    assert response.status_code == 200
    assert {query_of(c).get("offset") for c in calls_to(backend, "/sales")} <= {None, "0"}
    assert calls_to(backend, "/etl-runs/3") == []


def test_sort_links_flip_the_current_column(client, backend):
    serve_dashboard(backend, sales_body(PRODUCTS))

    page = client.get("/?sort=-orders").get_data(as_text=True)

    assert 'aria-sort="descending"' in page
    assert 'href="/?sort=orders"' in page  # current column: flip to ascending
    assert 'href="/?sort=-total_quantity"' in page  # another measure: largest first
    assert 'href="/?sort=description"' in page  # a text column: A to Z


def test_pager_links_step_by_the_page_size(client, backend):
    serve_dashboard(backend, sales_body(PRODUCTS, total_rows=120, limit=50, offset=50))

    page = client.get("/?offset=50").get_data(as_text=True)

    assert 'href="/" rel="prev"' in page
    assert 'href="/?offset=100" rel="next"' in page
    assert "Rows 51–100 of 120" in page


def test_no_next_link_on_the_last_page(client, backend):
    serve_dashboard(backend, sales_body(PRODUCTS, total_rows=120, limit=50, offset=100))

    page = client.get("/?offset=100").get_data(as_text=True)

    assert 'rel="next"' not in page
    assert "Rows 101–120 of 120" in page


@pytest.mark.parametrize(
    ("date_range", "grouping"),
    [("from=2011-01-01&to=2011-04-02", "day"), ("from=2011-01-01&to=2011-04-03", "month")],
)
def test_revenue_over_time_is_daily_up_to_92_days(client, backend, date_range, grouping):
    serve_dashboard(backend)

    client.get(f"/?{date_range}")

    groups = {query_of(c)["group_by"] for c in calls_to(backend, "/sales")}
    assert grouping in groups
    assert ({"day", "month"} - {grouping}).isdisjoint(groups)


def test_charts_data_is_embedded_as_json_not_script(client, backend):
    days = [{**PRODUCTS[0], "date": "2011-01-02"}, {**PRODUCTS[1], "date": "2011-01-01"}]
    countries = [{**PRODUCTS[0], "country": "France"}, {**PRODUCTS[1], "country": "EIRE"}]
    serve_dashboard(
        backend, by_group={"day": sales_body(days, "day"), "country": sales_body(countries)}
    )

    page = client.get("/?country=EIRE").get_data(as_text=True)

    block = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page, re.S)
    data = json.loads(block.group(1))
    assert data["trend"] == {
        "grouping": "day",
        "labels": ["2011-01-01", "2011-01-02"],
        "values": ["8670.00", "15000.25"],
    }
    assert data["countries"]["labels"] == ["France", "EIRE"]
    assert data["countries"]["selected"] == "EIRE"
    assert '<option value="EIRE" selected>' in page
    assert element(page, "revenue-chart") and element(page, "country-chart")


def test_country_chart_and_filter_ignore_the_country_filter(client, backend):
    serve_dashboard(backend)

    client.get("/?country=France&from=2011-01-01")

    country_calls = [c for c in calls_to(backend, "/sales") if query_of(c)["group_by"] == "country"]
    assert [query_of(c).get("country") for c in country_calls] == [None]
    assert query_of(country_calls[0])["from"] == "2011-01-01"


def test_backend_500_on_sales_leaves_the_runs_visible(client, backend, caplog):
    backend.add(
        responses.GET,
        f"{BACKEND}/sales",
        status=500,
        json=error_body("internal_error", "warehouse query failed"),
    )
    backend.add(
        responses.GET,
        f"{BACKEND}/etl-runs",
        json={"data": [run_object(7)], "meta": {"limit": 10, "offset": 0, "total_rows": 1}},
    )

    response = client.get("/")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    banner = text_of(page, "backend-error")
    assert "sales table" in banner and "HTTP 500" in banner and "warehouse query failed" in banner
    assert "run history" not in banner
    assert "#7" in text_of(page, "run-history")
    assert element(page, "kpi-revenue") is None and element(page, "sales-table") is None
    assert "Traceback" not in page
    assert any(
        "backend call failed: GET /sales: HTTP 500" in r.getMessage() for r in caplog.records
    )


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (requests.ConnectTimeout(), "did not answer in time (within 2 s)"),
        (requests.ReadTimeout(), "did not answer in time (within 2 s)"),
        (requests.ConnectionError("refused"), "cannot be reached"),
    ],
)
def test_backend_down_or_slow_still_renders_the_page(client, backend, caplog, failure, message):
    backend.add(responses.GET, f"{BACKEND}/sales", body=failure)
    backend.add(responses.GET, f"{BACKEND}/etl-runs", body=failure)

    with caplog.at_level(logging.WARNING, logger="retail_dashboard"):
        response = client.get("/")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert message in text_of(page, "backend-error")
    assert element(page, "run-etl-button") is not None  # the page is still usable
    assert "Traceback" not in page and "Exception" not in page
    assert len([r for r in caplog.records if "backend call failed" in r.getMessage()]) >= 2


def test_backend_answer_that_is_not_json_is_a_clear_error(client, backend):
    backend.add(responses.GET, f"{BACKEND}/sales", body="<html>oops</html>", status=200)
    backend.add(
        responses.GET, f"{BACKEND}/etl-runs", body="Traceback (most recent call last)", status=502
    )

    page = client.get("/").get_data(as_text=True)

    banner = text_of(page, "backend-error")
    assert "could not be read" in banner
    assert "Traceback" not in page and "oops" not in page


def test_malformed_sales_rows_do_not_break_the_page(client, backend):
    serve_dashboard(backend, {"data": "not a list", "meta": {}})

    response = client.get("/")

    assert response.status_code == 200
    assert "could not read" in text_of(response.get_data(as_text=True), "backend-error")


def test_request_id_is_reused_and_forwarded(client, backend):
    serve_dashboard(backend)

    response = client.get("/", headers={"X-Request-ID": "req-abc.123"})

    assert response.headers["X-Request-ID"] == "req-abc.123"
    assert {c.request.headers["X-Request-ID"] for c in backend.calls} == {"req-abc.123"}


@pytest.mark.parametrize("incoming", [None, "bad id with spaces", "x" * 200])
def test_request_id_is_made_when_missing_or_unsafe(client, backend, incoming):
    serve_dashboard(backend)
    headers = {"X-Request-ID": incoming} if incoming else {}

    response = client.get("/", headers=headers)

    made = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert {c.request.headers["X-Request-ID"] for c in backend.calls} == {made}


def test_gets_send_the_read_token_only_when_configured(settings, backend):
    from retail_dashboard import create_app

    serve_dashboard(backend)
    create_app(settings).test_client().get("/")
    create_app({**settings, "API_READ_TOKEN": READ_TOKEN}).test_client().get("/")

    auth = [c.request.headers.get("Authorization") for c in backend.calls]
    assert auth[: len(auth) // 2] == [None] * (len(auth) // 2)
    assert set(auth[len(auth) // 2 :]) == {f"Bearer {READ_TOKEN}"}


def test_run_argument_shows_that_runs_progress(client, backend):
    serve_dashboard(backend)
    backend.add(
        responses.GET,
        f"{BACKEND}/etl-runs/8",
        json=run_object(8, "running", stage="load", rows_extracted=1500),
    )

    page = client.get("/?run=8").get_data(as_text=True)

    text, attrs = element(page, "run-progress")
    assert attrs["data-run-id"] == "8" and attrs["data-run-status"] == "running"
    assert "Run #8" in text and "stage load" in text and "1,500 rows extracted" in text
    assert calls_to(backend, "/run-etl", "POST") == []  # a reload never starts a run


def test_a_run_going_on_is_followed_without_asking(client, backend):
    serve_dashboard(backend, runs=[run_object(9, "queued"), run_object(8)])

    page = client.get("/").get_data(as_text=True)

    assert element(page, "run-progress")[1]["data-run-id"] == "9"


def test_finished_runs_are_not_followed(client, backend):
    serve_dashboard(backend, runs=[run_object(8)])

    attrs = element(client.get("/").get_data(as_text=True), "run-progress")[1]

    assert "data-run-id" not in attrs


def test_failed_run_shows_its_error_and_rejects_link(client, backend):
    failed = run_object(6, "failed", error="source database unavailable", rows_rejected=3)
    serve_dashboard(backend, runs=[failed])

    page = client.get("/").get_data(as_text=True)

    history = text_of(page, "run-history")
    assert "failed" in history and "source database unavailable" in history
    assert 'href="/runs/6/rejects"' in page


def test_csv_download_streams_the_backends_csv_for_the_same_table(client, backend):
    csv_text = "product_id,description,total_sale_amount\r\n22423,CAKESTAND,15000.25\r\n"
    backend.add(
        responses.GET, f"{BACKEND}/sales", body=csv_text, content_type="text/csv; charset=utf-8"
    )
    query = "from=2011-01-01&to=2011-01-31&country=France&group_by=product&sort=orders&limit=25"

    response = client.get(f"/sales.csv?{query}")

    assert response.status_code == 200
    assert response.get_data(as_text=True) == csv_text
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"] == 'attachment; filename="sales-by-product.csv"'
    (call,) = backend.calls
    assert query_of(call) == {
        "from": "2011-01-01",
        "to": "2011-01-31",
        "country": "France",
        "group_by": "product",
        "sort": "orders",
        "limit": "25",
        "offset": "0",
        "format": "csv",
    }
    assert call.request.req_kwargs["stream"] is True


def test_download_link_matches_the_table_on_screen(client, backend):
    serve_dashboard(backend)

    page = client.get("/?country=EIRE&group_by=day&offset=50").get_data(as_text=True)

    link = element(page, "download-csv")[1]["href"]
    assert link == "/sales.csv?country=EIRE&amp;group_by=day&amp;offset=50".replace("&amp;", "&")


@pytest.mark.parametrize(
    ("failure", "status"),
    [(requests.ReadTimeout(), 504), (requests.ConnectionError(), 502)],
)
def test_csv_download_failure_is_a_clear_page(client, backend, failure, status):
    backend.add(responses.GET, f"{BACKEND}/sales", body=failure)

    response = client.get("/sales.csv")

    assert response.status_code == status
    assert "Download failed" in response.get_data(as_text=True)
    assert "Content-Disposition" not in response.headers


def test_csv_download_backend_error_is_not_relayed_as_csv(client, backend):
    backend.add(
        responses.GET,
        f"{BACKEND}/sales",
        status=503,
        json=error_body("database_unavailable", "warehouse is down"),
    )

    response = client.get("/sales.csv")

    assert response.status_code == 502
    assert "warehouse is down" in response.get_data(as_text=True)


def test_health_answers_without_the_backend(client, backend):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert len(backend.calls) == 0


def test_chartjs_is_served_by_the_app(client):
    with client.get("/static/vendor/chart.js") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert b"window.Chart" in response.data


def test_missing_chartjs_is_a_404_not_a_crash(settings):
    from retail_dashboard import create_app

    client = create_app({**settings, "CHARTJS_DIR": "/nonexistent/chart.js/dist"}).test_client()

    response = client.get("/static/vendor/chart.js")

    assert response.status_code == 404
    assert "npm ci" in response.get_data(as_text=True)


def test_page_loads_chartjs_and_its_own_script_from_the_app(client, backend):
    serve_dashboard(backend)

    page = client.get("/").get_data(as_text=True)

    sources = re.findall(r'<script src="([^"]+)"', page)
    assert sources == ["/static/vendor/chart.js", "/static/dashboard.js"]


def test_every_control_has_its_test_id_and_label(client, backend):
    days = [{**PRODUCTS[0], "date": "2011-01-01"}]
    countries = [{**PRODUCTS[0], "country": "France"}]
    serve_dashboard(
        backend,
        sales_body(PRODUCTS),
        by_group={"day": sales_body(days, "day"), "country": sales_body(countries, "country")},
    )

    page = client.get("/").get_data(as_text=True)

    for element_id in (
        "run-etl-button",
        "full-rebuild-button",
        "run-progress",
        "kpi-revenue",
        "kpi-orders",
        "kpi-units",
        "kpi-return-rate",
        "last-refreshed",
        "revenue-chart",
        "country-chart",
        "sales-table",
        "download-csv",
        "run-history",
    ):
        assert element(page, element_id) is not None, element_id
    for input_id in ("filter-from", "filter-to", "filter-country", "filter-group-by"):
        assert f'<label for="{input_id}">' in page
    assert element(page, "run-progress")[1]["aria-live"] == "polite"

"""Fetching the dashboard's sections: concurrently, each failing on its own."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import responses

from retail_dashboard.page_data import load_dashboard
from retail_dashboard.queries import SalesQuery

from .conftest import BACKEND, calls_to, query_of, serve_dashboard
from .fake_backend import run_object, sales_body

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def bound_client(app):
    return app.extensions["backend"].for_request("rid")


def test_sections_are_fetched_at_the_same_time(app, backend):
    together = threading.Barrier(5, timeout=5)  # breaks if the five calls came one by one

    def answer(request):
        together.wait()
        if "/etl-runs" in request.url:
            return 200, {}, json.dumps({"data": [], "meta": {"limit": 10, "offset": 0}})
        return 200, {}, json.dumps(sales_body([]))

    backend.add_callback(responses.GET, f"{BACKEND}/sales", callback=answer)
    backend.add_callback(responses.GET, f"{BACKEND}/etl-runs", callback=answer)

    sections = load_dashboard(bound_client(app), SalesQuery(), None, NOW, 24)

    assert all(section.error is None for section in sections.values()), sections


def test_long_daily_data_is_drawn_by_month(app, backend):
    days = [
        {
            "date": d,
            "total_sale_amount": "1.00",
            "total_quantity": 1,
            "orders": 1,
            "returned_quantity": 0,
            "returned_amount": "0.00",
        }
        for d in ("2011-01-01", "2011-02-15", "2011-06-30")
    ]
    serve_dashboard(backend, by_group={"day": sales_body(days, "day")})

    sections = load_dashboard(bound_client(app), SalesQuery(), None, NOW, 24)

    assert sections["trend"].data == {
        "grouping": "month",
        "labels": ["2011-01", "2011-02", "2011-06"],
        "values": ["1.00", "1.00", "1.00"],
    }


def test_more_days_than_one_page_asks_for_months(app, backend):
    serve_dashboard(backend, by_group={"day": sales_body([], "day", total_rows=1500)})

    load_dashboard(bound_client(app), SalesQuery(), None, NOW, 24)

    trend = [
        query_of(c)["group_by"]
        for c in calls_to(backend, "/sales")
        if query_of(c).get("sort") in ("date", "month")
    ]
    assert trend == ["day", "month"]


def test_kpis_fall_back_to_the_top_products_answer(app, backend):
    def answer(request):
        if "limit=10&" in request.url or request.url.endswith("limit=10"):
            return 200, {}, json.dumps(sales_body([], total_rows=0))
        return 500, {}, "{}"

    backend.add_callback(responses.GET, f"{BACKEND}/sales", callback=answer)
    backend.add(responses.GET, f"{BACKEND}/etl-runs", json={"data": [], "meta": {}})

    sections = load_dashboard(bound_client(app), SalesQuery(), None, NOW, 24)

    assert sections["table"].error and sections["kpis"].data is not None


def test_explicit_run_is_fetched_even_when_finished(app, backend):
    serve_dashboard(backend, runs=[])
    backend.add(responses.GET, f"{BACKEND}/etl-runs/3", json=run_object(3, "failed"))

    sections = load_dashboard(bound_client(app), SalesQuery(), 3, NOW, 24)

    assert sections["run"].data["status"] == "failed"

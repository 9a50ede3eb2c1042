"""Everything the dashboard page shows, fetched from the backend section by section.

The sections are fetched concurrently, so a slow backend costs one timeout, not one per
section, and each fails on its own: the sales figures may be missing while the runs show.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import charts
from .backend import BackendClient, BackendError
from .kpis import kpis_from_meta
from .queries import SalesQuery

log = logging.getLogger(__name__)
UNREADABLE = "The backend sent data the dashboard could not read."
ACTIVE_STATUSES = ("queued", "running")


@dataclass(frozen=True)
class Section:
    """One part of the page: its data, or the message to show instead."""

    data: Any = None
    error: str | None = None


def checked_listing(body: dict) -> dict:
    """Return a ``{"data": [...], "meta": {...}}`` body; ValueError when it is not one."""
    data, meta = body.get("data"), body.get("meta")
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise ValueError("data is not a list of objects")
    if not isinstance(meta, dict):
        raise ValueError("meta is not an object")
    return body


def fetch_trend(backend: BackendClient, query: SalesQuery) -> dict:
    """Fetch revenue over time by day, or by month when the period is long."""
    params = {**query.filter_params(), "limit": charts.TREND_ROW_LIMIT}
    if charts.trend_grouping(query.date_from, query.date_to) == "day":
        body = backend.sales({**params, "group_by": "day", "sort": "date"})
        rows = body["data"]
        if body["meta"]["total_rows"] <= len(rows):
            if not charts.daily_rows_span_too_long(rows):
                return charts.revenue_over_time(rows, "day")
            return charts.revenue_over_time(charts.months_from_days(rows), "month")
    body = backend.sales({**params, "group_by": "month", "sort": "month"})
    return charts.revenue_over_time(body["data"], "month")


def fetch_countries(backend: BackendClient, query: SalesQuery) -> dict:
    """Fetch revenue by country for the period (every country, for the chart and the filter)."""
    params = {k: v for k, v in query.filter_params().items() if k != "country"}
    body = backend.sales(
        {**params, "group_by": "country", "sort": "-total_sale_amount", "limit": 1000}
    )
    names = sorted({row["country"] for row in body["data"]} | ({query.country} - {None}))
    return {"chart": charts.revenue_by_country(body["data"], query.country), "names": names}


def fetch_top_products(backend: BackendClient, query: SalesQuery) -> dict:
    """Fetch the ten best-selling products of the filtered period."""
    params = {**query.filter_params(), "group_by": "product", "sort": "-total_sale_amount"}
    return checked_listing(backend.sales({**params, "limit": 10}))


def load_dashboard(
    backend: BackendClient, query: SalesQuery, run_id: int | None, now: datetime, stale_hours: float
) -> dict[str, Section]:
    """Fetch every section of the dashboard; failures become messages, never exceptions."""
    tasks: dict[str, Callable[[], Any]] = {
        "table": lambda: checked_listing(backend.sales(query.backend_params())),
        "trend": lambda: fetch_trend(backend, query),
        "countries": lambda: fetch_countries(backend, query),
        "products": lambda: fetch_top_products(backend, query),
        "runs": lambda: checked_listing(backend.runs(limit=10))["data"],
    }
    if run_id is not None:
        tasks["run"] = lambda: backend.run(run_id)
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = {name: pool.submit(_guarded, name, task, backend) for name, task in tasks.items()}
        sections = {name: future.result() for name, future in futures.items()}

    sections["kpis"] = _kpis(sections, now, stale_hours)
    if "run" not in sections:
        active = [r for r in sections["runs"].data or [] if r.get("status") in ACTIVE_STATUSES]
        sections["run"] = Section(active[0] if active else None)
    return sections


def _kpis(sections: dict[str, Section], now: datetime, stale_hours: float) -> Section:
    for source in ("table", "products"):
        body = sections[source].data
        if body is not None:
            try:
                return Section(kpis_from_meta(body["meta"], now, stale_hours))
            except (KeyError, TypeError, ValueError):
                log.warning("unreadable meta.totals from GET /sales", exc_info=True)
                return Section(error=UNREADABLE)
    return Section(error=sections["table"].error)


def _guarded(name: str, task: Callable[[], Any], backend: BackendClient) -> Section:
    try:
        return Section(task())
    except BackendError as exc:
        return Section(error=exc.message)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        log.warning(
            "unreadable backend data for the %s section",
            name,
            exc_info=True,
            extra={"request_id": backend.request_id},
        )
        return Section(error=UNREADABLE)

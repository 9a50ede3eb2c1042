"""The dashboard page and the CSV download of the sales table it shows."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import requests
from flask import Blueprint, Response, render_template, request

from .backend import BackendError, get_backend
from .config import current_settings
from .page_data import load_dashboard
from .queries import GROUP_KEYS, MEASURES, PAGE_SIZES, SalesQuery, whole_number

bp = Blueprint("dashboard", __name__)
log = logging.getLogger(__name__)

COLUMN_LABELS = {
    "product_id": "Stock code",
    "description": "Description",
    "date": "Day",
    "month": "Month",
    "country": "Country",
    "total_quantity": "Units",
    "total_sale_amount": "Revenue",
    "orders": "Orders",
    "returned_quantity": "Units returned",
    "returned_amount": "Returned amount",
}
GROUP_LABELS = {"product": "Product", "day": "Day", "month": "Month", "country": "Country"}
SECTION_LABELS = {
    "kpis": "headline figures",
    "table": "sales table",
    "trend": "revenue over time",
    "countries": "revenue by country",
    "products": "top products",
    "runs": "run history",
    "run": "run progress",
}


def run_id_arg(raw: str | None) -> int | None:
    """Return the ``run`` query argument as a run id, None when absent or malformed."""
    return whole_number(raw, max_digits=11)


@bp.get("/")
def index() -> str:
    """Render the dashboard; each section shows its data or why it is missing."""
    settings = current_settings()
    query = SalesQuery.from_args(request.args)
    now = datetime.now(UTC)
    sections = load_dashboard(
        get_backend(), query, run_id_arg(request.args.get("run")), now, settings.stale_after_hours
    )
    failed = [label for name, label in SECTION_LABELS.items() if sections[name].error]
    first_error = next((s.error for s in sections.values() if s.error), None)
    chart_data = {
        "trend": sections["trend"].data,
        "countries": (sections["countries"].data or {}).get("chart"),
    }
    return render_template(
        "dashboard.html",
        query=query,
        sections=sections,
        failed_sections=failed,
        first_error=first_error,
        chart_data=chart_data,
        country_names=(sections["countries"].data or {}).get("names") or [],
        columns=GROUP_KEYS[query.group_by] + MEASURES,
        column_labels=COLUMN_LABELS,
        group_labels=GROUP_LABELS,
        page_sizes=PAGE_SIZES,
        idempotency_key=uuid.uuid4().hex,
        stale_after_hours=settings.stale_after_hours,
    )


@bp.get("/sales.csv")
def download_csv() -> Response | tuple[str, int]:
    """Stream the backend's CSV of exactly the table the dashboard shows for these filters."""
    query = SalesQuery.from_args(request.args)
    try:
        upstream = get_backend().sales_csv(query.backend_params())
    except BackendError as exc:
        page = render_template("error.html", title="Download failed", message=exc.message)
        return page, 504 if exc.timed_out else 502
    content_type = upstream.headers.get("Content-Type", "")
    response = Response(
        _relay(upstream, request.url),
        content_type=content_type if content_type.startswith("text/csv") else "text/csv",
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="sales-by-{query.group_by}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    response.call_on_close(upstream.close)
    return response


def _relay(upstream: requests.Response, url: str) -> Iterator[bytes]:
    try:
        yield from upstream.iter_content(chunk_size=64 * 1024)
    except requests.RequestException:
        # Re-raise: the server then cuts the connection and the browser reports a failed
        # download, rather than keeping a silently truncated file.
        log.warning("CSV stream from the backend broke off: %s", url, exc_info=True)
        raise

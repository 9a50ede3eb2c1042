"""Chart series from GET /sales rows: pure functions, no I/O.

Amounts stay exact ``Decimal`` here and travel to the browser as 2-decimal strings; only the
drawing code turns them into numbers.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date
from decimal import Decimal

DAILY_RANGE_LIMIT_DAYS = 92  # a longer range is drawn by month
TREND_ROW_LIMIT = 1000  # the backend's largest page
TOP_COUNTRIES = 10


def trend_grouping(date_from: date | None, date_to: date | None) -> str:
    """Return ``month`` when the chosen range is longer than the daily limit, else ``day``."""
    if date_from and date_to and (date_to - date_from).days + 1 > DAILY_RANGE_LIMIT_DAYS:
        return "month"
    return "day"


def daily_rows_span_too_long(rows: list[dict]) -> bool:
    """Tell whether day rows cover more days than the daily limit."""
    days = [date.fromisoformat(row["date"]) for row in rows if row.get("date")]
    return bool(days) and (max(days) - min(days)).days + 1 > DAILY_RANGE_LIMIT_DAYS


def months_from_days(rows: list[dict]) -> list[dict]:
    """Add day rows up into month rows (``month`` and ``total_sale_amount`` only)."""
    totals: OrderedDict[str, Decimal] = OrderedDict()
    for row in sorted(rows, key=lambda r: r["date"]):
        month = row["date"][:7]
        totals[month] = totals.get(month, Decimal("0")) + Decimal(row["total_sale_amount"])
    return [{"month": m, "total_sale_amount": f"{v:.2f}"} for m, v in totals.items()]


def revenue_over_time(rows: list[dict], grouping: str) -> dict:
    """Return the revenue-over-time series in date order."""
    key = "date" if grouping == "day" else "month"
    ordered = sorted((r for r in rows if r.get(key)), key=lambda r: r[key])
    return {
        "grouping": grouping,
        "labels": [r[key] for r in ordered],
        "values": [_amount(r["total_sale_amount"]) for r in ordered],
    }


def revenue_by_country(rows: list[dict], selected: str | None = None) -> dict:
    """Return the top countries by revenue (and the selected one, even outside the top)."""
    ranked = sorted(rows, key=lambda r: Decimal(r["total_sale_amount"]), reverse=True)
    top = ranked[:TOP_COUNTRIES]
    if selected and all(r["country"] != selected for r in top):
        top += [r for r in ranked if r["country"] == selected]
    return {
        "labels": [r["country"] for r in top],
        "values": [_amount(r["total_sale_amount"]) for r in top],
        "selected": selected,
    }


def _amount(raw: str) -> str:
    return f"{Decimal(raw):.2f}"

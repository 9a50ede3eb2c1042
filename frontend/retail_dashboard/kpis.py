"""The headline figures of the selected period, from GET /sales ``meta``: pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from .formatting import age, parse_utc


@dataclass(frozen=True)
class Freshness:
    """When the warehouse was last refreshed, and whether that is too long ago."""

    refreshed_at: datetime | None
    stale: bool
    age_text: str
    last_run_id: int | None = None

    @property
    def never(self) -> bool:
        """True before the first successful run."""
        return self.refreshed_at is None


@dataclass(frozen=True)
class Kpis:
    """Revenue, orders, units and return rate of the selected period."""

    revenue: Decimal
    orders: int
    units: int
    returned_amount: Decimal
    return_rate: Decimal | None  # None when there was no revenue to compare with
    freshness: Freshness


def return_rate(returned_amount: Decimal, revenue: Decimal) -> Decimal | None:
    """Return returned_amount / revenue, or None when revenue is not positive."""
    return returned_amount / revenue if revenue > 0 else None


def freshness(meta: dict, now: datetime, stale_after_hours: float) -> Freshness:
    """Judge ``meta.last_refreshed`` against the staleness limit."""
    refreshed_at = parse_utc(meta.get("last_refreshed"))
    run_id = meta.get("last_run_id") if isinstance(meta.get("last_run_id"), int) else None
    if refreshed_at is None:
        return Freshness(None, True, "no successful run yet", run_id)
    stale = now - refreshed_at > timedelta(hours=stale_after_hours)
    return Freshness(refreshed_at, stale, age(refreshed_at, now), run_id)


def kpis_from_meta(meta: dict, now: datetime, stale_after_hours: float) -> Kpis:
    """Build the headline figures from a GET /sales ``meta``; ValueError if it is malformed."""
    totals = meta.get("totals")
    if not isinstance(totals, dict):
        raise ValueError("meta.totals is missing")
    try:
        revenue = Decimal(str(totals.get("total_sale_amount") or "0"))
        returned = Decimal(str(totals.get("returned_amount") or "0"))
    except InvalidOperation as exc:
        raise ValueError("meta.totals has a malformed amount") from exc
    return Kpis(
        revenue=revenue,
        orders=int(totals.get("orders") or 0),
        units=int(totals.get("total_quantity") or 0),
        returned_amount=returned,
        return_rate=return_rate(returned, revenue),
        freshness=freshness(meta, now, stale_after_hours),
    )

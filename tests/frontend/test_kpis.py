"""Headline figures and freshness from GET /sales meta."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from retail_dashboard.kpis import freshness, kpis_from_meta, return_rate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def meta(**totals: object) -> dict:
    base = {
        "total_quantity": 10,
        "total_sale_amount": "200.00",
        "orders": 3,
        "returned_quantity": 1,
        "returned_amount": "5.00",
    }
    return {
        "totals": {**base, **totals},
        "last_refreshed": "2026-11-25T09:30:00Z",
        "last_run_id": 7,
    }


def test_figures_are_exact():
    kpis = kpis_from_meta(meta(total_sale_amount="0.30", returned_amount="0.10"), NOW, 24)

    assert kpis.revenue == Decimal("0.30")
    assert kpis.return_rate == Decimal("0.10") / Decimal("0.30")
    assert (kpis.units, kpis.orders) == (10, 3)


def test_return_rate_is_none_without_revenue():
    assert return_rate(Decimal("0"), Decimal("0")) is None
    assert return_rate(Decimal("1"), Decimal("4")) == Decimal("0.25")


@pytest.mark.parametrize(
    ("refreshed", "stale", "age"),
    [
        ("2026-11-25T09:30:00Z", False, "2 hours ago"),
        ("2026-11-24T12:00:00Z", False, "1 day ago"),
        ("2026-11-24T11:59:00Z", True, "1 day ago"),
        (None, True, "no successful run yet"),
    ],
)
def test_freshness_against_the_limit(refreshed, stale, age):
    judged = freshness({"last_refreshed": refreshed}, NOW, 24)

    assert (judged.stale, judged.age_text, judged.never) == (stale, age, refreshed is None)


@pytest.mark.parametrize("bad", [{}, {"totals": None}, {"totals": {"total_sale_amount": "lots"}}])
def test_malformed_meta_is_a_value_error(bad):
    with pytest.raises(ValueError):
        kpis_from_meta(bad, NOW, 24)

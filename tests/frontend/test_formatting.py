"""How figures read: money, counts, percentages, times and durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retail_dashboard.formatting import age, count, duration, money, parse_utc, percent, utc_time


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1234567.891", "1,234,567.89"),
        ("0", "0.00"),
        (Decimal("-12.5"), "-12.50"),
        ("15000.25", "15,000.25"),
        (None, "–"),
        ("n/a", "–"),
    ],
)
def test_money(value, text):
    assert money(value) == text


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False))
def test_money_reads_back_as_the_same_amount(amount):
    assert Decimal(money(amount).replace(",", "")) == amount


def test_counts_and_percentages():
    assert count(1234567) == "1,234,567"
    assert count(None) == "–" and count(True) == "–"
    assert percent(Decimal("0.0126")) == "1.3 %"
    assert percent(Decimal("0.5")) == "50.0 %"
    assert percent(None) == "n/a"


def test_times():
    assert utc_time("2026-11-25T09:30:00Z") == "2026-11-25 09:30 UTC"
    assert utc_time(None) == "–" and parse_utc("not a time") is None
    now = datetime(2026, 11, 25, tzinfo=UTC)
    assert age(now - timedelta(seconds=30), now) == "just now"
    assert age(now - timedelta(minutes=1), now) == "1 minute ago"
    assert age(now - timedelta(hours=50), now) == "2 days ago"


@pytest.mark.parametrize(("seconds", "text"), [(4.25, "4.2 s"), (65, "1 min 05 s"), (None, "–")])
def test_duration(seconds, text):
    assert duration(seconds) == text

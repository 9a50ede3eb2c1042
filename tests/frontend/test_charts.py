"""Chart series: daily or monthly revenue, top countries."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from retail_dashboard import charts


def day_row(day: str, amount: str) -> dict:
    return {"date": day, "total_sale_amount": amount}


def test_trend_grouping_switches_to_months_after_92_days():
    start = date(2011, 1, 1)

    assert charts.trend_grouping(start, start + timedelta(days=91)) == "day"  # 92 days
    assert charts.trend_grouping(start, start + timedelta(days=92)) == "month"  # 93 days
    assert charts.trend_grouping(None, date(2011, 5, 1)) == "day"


def test_months_from_days_adds_up_exactly():
    rows = [
        day_row("2011-01-31", "0.10"),
        day_row("2011-02-01", "0.20"),
        day_row("2011-01-01", "0.20"),
    ]

    assert charts.months_from_days(rows) == [
        {"month": "2011-01", "total_sale_amount": "0.30"},
        {"month": "2011-02", "total_sale_amount": "0.20"},
    ]


def test_daily_rows_span():
    rows = [day_row("2011-01-01", "1.00"), day_row("2011-04-02", "1.00")]  # 92 days

    assert charts.daily_rows_span_too_long(rows) is False
    assert charts.daily_rows_span_too_long(rows + [day_row("2011-04-03", "1.00")]) is True
    assert charts.daily_rows_span_too_long([]) is False


def test_revenue_over_time_is_in_date_order_with_exact_amounts():
    series = charts.revenue_over_time(
        [day_row("2011-01-02", "5"), day_row("2011-01-01", "1234.5")], "day"
    )

    assert series == {
        "grouping": "day",
        "labels": ["2011-01-01", "2011-01-02"],
        "values": ["1234.50", "5.00"],
    }


def test_top_countries_keep_the_selected_one():
    rows = [{"country": f"C{i:02d}", "total_sale_amount": f"{100 - i}.00"} for i in range(15)]

    series = charts.revenue_by_country(rows, selected="C14")

    assert series["labels"] == [f"C{i:02d}" for i in range(10)] + ["C14"]
    assert series["values"][0] == "100.00" and series["values"][-1] == "86.00"


amounts = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False)


@given(st.lists(st.tuples(st.integers(0, 800), amounts), min_size=1, max_size=60))
def test_monthly_roll_up_keeps_the_total(days_and_amounts):
    rows = [
        day_row((date(2010, 1, 1) + timedelta(days=d)).isoformat(), f"{a:.2f}")
        for d, a in days_and_amounts
    ]

    months = charts.months_from_days(rows)

    assert sum(Decimal(m["total_sale_amount"]) for m in months) == sum(
        a for _, a in days_and_amounts
    )
    assert [m["month"] for m in months] == sorted({r["date"][:7] for r in rows})

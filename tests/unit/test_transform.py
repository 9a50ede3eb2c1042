"""The business rules and the aggregation, on hand-made lines and on generated ones."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retail_backend.etl.transform import transform_chunk
from tests.unit.chunk_lines import DAY, lines


def test_chunk_aggregates_sales_returns_orders_and_duplicates():
    result = transform_chunk(
        lines(
            {"invoice_no": "1", "quantity": 2, "unit_price_milli": 1500},
            {"invoice_no": "1", "quantity": 2, "unit_price_milli": 1500},  # exact duplicate
            {"invoice_no": "2", "quantity": 1, "unit_price_milli": 1001},
            {"invoice_no": "C3", "quantity": -3, "unit_price_milli": 1500},
            {"invoice_no": "4", "quantity": 0},
        )
    )
    row = result.product_sales.iloc[0]
    assert (row.units_sold, row.revenue_milli, row.orders) == (5, 7001, 2)
    assert (row.units_returned, row.returns_value_milli) == (3, 4500)
    assert result.country_sales.iloc[0].return_orders == 1
    assert (result.lines, result.loaded, result.duplicates) == (5, 4, 1)
    assert result.rejects_by_reason == {"zero_quantity": 1}
    assert list(result.rejects["id"]) == [5]


def test_sums_beyond_float64_precision_stay_exact():
    # 11 lines of 999,999 x 999,999.999: an odd total of thousandths above 2**53, which float64
    # (np.bincount's accumulator) cannot hold.
    big = {"quantity": 999_999, "unit_price": "999999.999", "unit_price_milli": 999_999_999}
    result = transform_chunk(lines(*[{**big, "invoice_no": str(i)} for i in range(11)]))
    revenue = int(result.product_sales.iloc[0].revenue_milli)
    assert revenue == 11 * 999_999 * 999_999_999 and revenue > 2**53 and revenue % 2 == 1
    assert int(result.country_sales.iloc[0].revenue_milli) == revenue


def test_keys_that_differ_only_in_case_or_spaces_stay_apart():
    result = transform_chunk(
        lines({"stock_code": "85123A"}, {"stock_code": "85123a"}, {"stock_code": "85123A "})
    )
    assert sorted(result.product_sales["stock_code"]) == ["85123A", "85123A ", "85123a"]
    assert list(result.product_sales["units_sold"]) == [6, 6, 6]


def test_newest_non_blank_description_names_the_product():
    result = transform_chunk(
        lines({"description": "OLD"}, {"description": "NEW"}, {"description": ""})
    )
    assert result.descriptions.to_dict("records") == [
        {"stock_code": "85123A", "source_id": 2, "description": "NEW"}
    ]


line_rows = st.fixed_dictionaries(
    {
        "invoice_no": st.sampled_from(["1", "2", "3", "C4", "C5"]),
        "stock_code": st.sampled_from(["A", "B", "POST", "a", ""]),
        "quantity": st.integers(-50, 50),
        "day": st.integers(DAY, DAY + 3),
        "unit_price_milli": st.integers(-100, 100_000),
        "country": st.sampled_from(["United Kingdom", "France", "EIRE"]),
    }
)


def _by_key(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys).reset_index(drop=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(line_rows, min_size=1, max_size=60), data=st.data())
def test_chunking_by_days_and_row_order_never_change_the_result(rows, data):
    frame = lines(*rows)
    whole = transform_chunk(frame)
    shuffled = transform_chunk(frame.sample(frac=1, random_state=data.draw(st.integers(0, 99))))
    keys = ["day", "country", "stock_code"]
    pd.testing.assert_frame_equal(
        _by_key(whole.product_sales, keys), _by_key(shuffled.product_sales, keys)
    )
    split_day = data.draw(st.integers(DAY, DAY + 3))
    parts = [
        transform_chunk(frame[frame["day"] < split_day]),
        transform_chunk(frame[frame["day"] >= split_day]),
    ]
    pieces = [p.product_sales for p in parts if not p.product_sales.empty]
    if whole.product_sales.empty:
        assert not pieces
    else:
        combined = pd.concat(pieces)
        pd.testing.assert_frame_equal(
            _by_key(whole.product_sales, keys), _by_key(combined, keys), check_dtype=False
        )


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(line_rows, min_size=1, max_size=60))
def test_totals_reconcile_to_the_cent(rows):
    result = transform_chunk(lines(*rows))
    expected_revenue = sum(
        Decimal(r["quantity"]) * Decimal(r["unit_price_milli"]) / 1000
        for r in rows
        if r["stock_code"]
        and not r["invoice_no"].startswith("C")
        and r["quantity"] > 0
        and r["unit_price_milli"] > 0
    )
    assert Decimal(int(result.product_sales["revenue_milli"].sum())) / 1000 == expected_revenue
    assert Decimal(int(result.country_sales["revenue_milli"].sum())) / 1000 == expected_revenue
    assert result.loaded + len(result.rejects) == result.lines == len(rows)
    assert sum(result.rejects_by_reason.values()) == len(result.rejects)


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(line_rows, min_size=1, max_size=60))
def test_orders_are_distinct_invoices_per_key(rows):
    frame = lines(*rows)
    result = transform_chunk(frame)
    sales = frame[
        ~frame["invoice_no"].str.startswith("C")
        & (frame["quantity"] > 0)
        & (frame["unit_price_milli"] > 0)
        & (frame["stock_code"] != "")
    ]
    for keys, table in (
        (["day", "country", "stock_code"], result.product_sales),
        (["day", "country"], result.country_sales),
    ):
        expected = sales.groupby(keys)["invoice_no"].nunique()
        got = table.set_index(keys)["orders"]
        got = got[got > 0]
        assert got.sort_index().to_dict() == expected.sort_index().to_dict()

"""The wire table of a window read turned into the transform's typed lines (no database)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa

from retail_backend.etl.rules import day_number
from retail_backend.etl.source_lines import lines_frame, parse_days, parse_prices
from retail_backend.etl.transform import LINE_COLUMNS


def wire_table(dates: pa.Array, prices: list[str | None]) -> pa.Table:
    """A table shaped as ADBC returns a window query (integer columns as PostgreSQL's int4)."""
    n = len(dates)
    return pa.table(
        {
            "id": pa.array(range(1, n + 1), pa.int64()),
            "invoice_no": pa.array(["536365", None, *["C536379"] * (n - 2)][:n], pa.string()),
            "stock_code": pa.array(["85123A"] * n, pa.string()),
            "description": pa.array([None, *["WHITE METAL LANTERN"] * (n - 1)][:n], pa.string()),
            "quantity": pa.array([6, None, *[-1] * (n - 2)][:n], pa.int32()),
            "invoice_date": dates,
            "unit_price": pa.array(prices, pa.string()),
            "customer_id": pa.array([17850, None, *[12345] * (n - 2)][:n], pa.int32()),
            "country": pa.array(["United Kingdom"] * n, pa.string()),
        }
    )


def test_a_dated_window_gives_the_transform_columns_typed():
    stamps = pa.array(
        [dt.datetime(2011, 3, 4, 8, 26), dt.datetime(1969, 12, 31, 23, 59), None],
        pa.timestamp("us"),
    )
    frame = lines_frame(wire_table(stamps, ["2.55", "0.001", None]))
    assert tuple(frame.columns) == LINE_COLUMNS
    for column in ("id", "quantity", "day", "unit_price_milli", "customer_id"):
        assert frame[column].dtype == pd.Int64Dtype(), column
    for column in ("invoice_no", "stock_code", "description", "unit_price", "country"):
        assert frame[column].dtype == pd.StringDtype(), column
    assert frame["day"].tolist() == [day_number(dt.date(2011, 3, 4)), -1, pd.NA]  # floor
    assert frame["unit_price_milli"].tolist() == [2550, 1, pd.NA]
    assert frame["quantity"].tolist() == [6, pd.NA, -1]
    assert frame["customer_id"].tolist() == [17850, pd.NA, 12345]
    assert frame["invoice_no"].tolist() == ["536365", pd.NA, "C536379"]
    assert frame["unit_price"].tolist() == ["2.55", "0.001", pd.NA]  # the raw text stays


def test_the_undated_window_parses_postgres_timestamp_text():
    text = pa.array(
        [
            "2011-03-04 08:26:00",
            "2011-03-04 23:59:59.999999",  # fractional seconds: parsed one by one
            "0001-01-01 00:00:00",
            "infinity",
            "12345-01-01 00:00:00",  # five digits: no Python date
            "0044-03-15 00:00:00 BC",
            None,
        ],
        pa.string(),
    )
    frame = lines_frame(wire_table(text, ["1"] * len(text)))
    assert frame["invoice_date"].dtype == pd.StringDtype()
    assert frame["invoice_date"].tolist()[:2] == [
        "2011-03-04 08:26:00",
        "2011-03-04 23:59:59.999999",
    ]
    march_4 = day_number(dt.date(2011, 3, 4))
    assert frame["day"].tolist() == [
        march_4,
        march_4,
        day_number(dt.date(1, 1, 1)),
        pd.NA,
        pd.NA,
        pd.NA,
        pd.NA,
    ]


def test_prices_are_exact_thousandths_or_missing():
    text = pa.array(
        ["2.55", "-0.001", "0", "1.2345", "NaN", "abc", "1e3", "999999999999.999", "1e12", None],
        pa.string(),
    )
    assert parse_prices(text).tolist() == [
        2550,
        -1,
        0,
        pd.NA,  # a fraction of a thousandth
        pd.NA,
        pd.NA,
        1_000_000,
        999_999_999_999_999,
        pd.NA,  # 10**15 thousandths: out of range
        pd.NA,
    ]


def test_repeated_prices_are_spread_over_their_lines():
    text = pa.array(["1.5", None, "1.5", "x", "1.5", "2"], pa.string())
    assert parse_prices(text).tolist() == [1500, pd.NA, 1500, pd.NA, 1500, 2000]


def test_parse_days_of_nothing_is_empty():
    assert parse_days(pa.array([], pa.string())).tolist() == []

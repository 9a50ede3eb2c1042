"""The business rules: each kind of line and each reason a line is rejected for."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from retail_backend.etl.rules import REJECT, RETURN, SALE, classify, day_number
from tests.unit.chunk_lines import lines


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"quantity": 0}, "zero_quantity"),
        ({"unit_price": "0", "unit_price_milli": 0}, "zero_price"),
        ({"unit_price": "-11062.06", "unit_price_milli": -11062060}, "negative_price"),
        ({"invoice_no": "C536379", "quantity": 3}, "positive_quantity_on_cancellation"),
        ({"quantity": -2}, "negative_quantity_on_sale"),
        ({"stock_code": None}, "missing_stock_code"),
        ({"stock_code": "   "}, "missing_stock_code"),
        ({"country": ""}, "missing_country"),
        ({"invoice_no": None}, "missing_invoice"),
        ({"invoice_date": None, "day": None}, "missing_date"),
        ({"invoice_date": "294276-01-01 00:00:00", "day": None}, "invalid_date"),
        ({"day": day_number(dt.date(1900, 1, 1))}, "date_out_of_range"),
        ({"day": day_number(dt.date(2200, 1, 1))}, "date_out_of_range"),
        ({"quantity": None}, "missing_quantity"),
        ({"unit_price": None, "unit_price_milli": None}, "missing_price"),
        ({"unit_price": "1.23456", "unit_price_milli": None}, "invalid_price"),
        ({"quantity": 5_000_000}, "quantity_out_of_range"),
        ({"unit_price_milli": 10**13}, "price_out_of_range"),
        ({"country": "X" * 65}, "text_too_long"),
    ],
)
def test_each_bad_line_is_rejected_with_its_reason(row, reason):
    kind, reasons = classify(lines(row))
    assert (kind[0], reasons[0]) == (REJECT, reason)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({}, SALE),
        ({"stock_code": "POST", "description": "POSTAGE"}, SALE),
        ({"invoice_no": "C536379", "quantity": -1}, RETURN),
        ({"invoice_no": "C536379", "quantity": -1, "unit_price_milli": 0}, RETURN),
    ],
)
def test_sales_and_returns_are_classified(row, expected):
    kind, reasons = classify(lines(row))
    assert kind[0] == expected and pd.isna(reasons[0])

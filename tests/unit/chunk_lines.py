"""Hand-made lines, typed as the extract step delivers them, for the transform's tests."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from retail_backend.etl.rules import day_number
from retail_backend.etl.transform import LINE_COLUMNS

DAY = day_number(dt.date(2011, 3, 4))


def lines(*rows: dict) -> pd.DataFrame:
    """Build typed lines as the extract step delivers them."""
    defaults = {
        "invoice_no": "536365",
        "stock_code": "85123A",
        "description": "WHITE HANGING HEART T-LIGHT HOLDER",
        "quantity": 6,
        "invoice_date": "2011-03-04 08:26:00",
        "day": DAY,
        "unit_price": "2.55",
        "unit_price_milli": 2550,
        "customer_id": 17850,
        "country": "United Kingdom",
    }
    records = [{"id": i + 1, **defaults, **row} for i, row in enumerate(rows)]
    frame = pd.DataFrame.from_records(records, columns=list(LINE_COLUMNS))
    for column in ("id", "quantity", "day", "unit_price_milli", "customer_id"):
        frame[column] = frame[column].astype("Int64")
    for column in (
        "invoice_no",
        "stock_code",
        "description",
        "invoice_date",
        "unit_price",
        "country",
    ):
        frame[column] = frame[column].astype("string")
    return frame

"""Turn the Arrow table a window query returns into the transform's typed lines.

Dated windows carry ``invoice_date`` as a timestamp, which gives the day by one division; the
window of undated lines carries it as PostgreSQL's text (infinity, five-digit years), parsed
here. Prices arrive as the numeric's exact text and are parsed once per distinct value.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .rules import EPOCH, PRICE_SCALE
from .transform import LINE_COLUMNS

MICROSECONDS_PER_DAY = 86_400 * 1_000_000


def lines_frame(table: pa.Table) -> pd.DataFrame:
    """Return the wire table as the transform's columns, with days and exact prices parsed."""
    columns = {name: _column(table.column(name)) for name in table.column_names}
    dates = table.column("invoice_date").combine_chunks()
    columns["day"] = (
        parse_days(dates) if pa.types.is_string(dates.type) else _days_of_timestamps(dates)
    )
    columns["unit_price_milli"] = parse_prices(table.column("unit_price").combine_chunks())
    return pd.DataFrame({name: columns[name] for name in LINE_COLUMNS}, copy=False)


def _column(values: pa.ChunkedArray) -> pd.Series:
    if pa.types.is_integer(values.type):
        return pd.Series(values.to_pandas(types_mapper={values.type: pd.Int64Dtype()}.get))
    if pa.types.is_string(values.type):
        return pd.Series(values.to_pandas(types_mapper={values.type: pd.StringDtype()}.get))
    return values.to_pandas()


def _days_of_timestamps(stamps: pa.Array) -> pd.Series:
    micros = pc.cast(stamps, pa.int64())
    missing = micros.is_null().to_numpy(zero_copy_only=False)
    days = micros.fill_null(0).to_numpy() // MICROSECONDS_PER_DAY  # floor: before 1970 too
    return pd.Series(pd.arrays.IntegerArray(days.astype(np.int64), missing))


_TIMESTAMP = re.compile(r"^(\d{4})-(\d\d)-(\d\d) \d\d:\d\d:\d\d(\.\d+)?$")


def parse_days(text: pa.Array) -> pd.Series:
    """Return days since 1970-01-01 for PostgreSQL timestamp text; NA where it does not parse."""
    stamps = pc.strptime(text, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    seconds = pc.cast(stamps, pa.int64()).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    days = seconds // 86_400
    retry = np.flatnonzero(days.isna().to_numpy() & text.is_valid().to_numpy(zero_copy_only=False))
    for i in retry:  # fractional seconds, BC or five-digit years: rare, parsed one by one
        match = _TIMESTAMP.match(text[i].as_py())
        if match:
            year, month, day = (int(g) for g in match.groups()[:3])
            try:
                days.iat[i] = (dt.date(year, month, day) - EPOCH).days
            except ValueError:
                pass
    return days


def parse_prices(text: pa.Array) -> pd.Series:
    """Return prices in thousandths; NA for text that is not an exact thousandth below 10**15.

    A chunk holds few distinct prices: each is parsed once and spread over its lines.
    """
    encoded = pc.dictionary_encode(text)
    per_value = _parse_distinct_prices(encoded.dictionary)
    codes = encoded.indices.fill_null(len(per_value)).to_numpy()
    values = np.append(per_value.to_numpy(dtype=np.int64, na_value=0), 0)[codes]
    missing = np.append(per_value.isna().to_numpy(), True)[codes]
    return pd.Series(pd.arrays.IntegerArray(values, missing))


def _parse_distinct_prices(text: pa.Array) -> pd.Series:
    try:
        scaled = pc.cast(text, pa.decimal128(18, 3))
    except pa.ArrowInvalid:  # too many decimals, too large, NaN: fall back value by value
        return pd.Series([_price_milli(v) for v in text.to_pylist()], dtype="Int64")
    # A decimal128 holds its unscaled integer in 16 little-endian bytes; with 18 digits it fits
    # the low 8, which are read directly as int64.
    raw = np.frombuffer(scaled.buffers()[1], dtype=np.int64)
    low = raw[2 * scaled.offset : 2 * (scaled.offset + len(scaled)) : 2]
    valid = scaled.is_valid().to_numpy(zero_copy_only=False)
    return pd.Series(pd.arrays.IntegerArray(low.copy(), ~valid))


def _price_milli(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = Decimal(text) * PRICE_SCALE
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.to_integral_value() or abs(value) >= 10**15:
        return None
    return int(value)

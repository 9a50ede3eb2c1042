"""Business rules of the ETL, as pure pandas functions: no I/O, no clock, no globals.

A *sale* is a line of an invoice that does not start with ``C``, with quantity > 0 and unit
price > 0. A *return* is a line of a ``C`` invoice with quantity < 0 and a price >= 0; its units
and value count as returns, positive. Every other line is rejected with a reason code. Money is
scaled int64 in thousandths (the source's smallest unit here), with bounds that make overflow
impossible inside one chunk and a check that proves it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SALE, RETURN, REJECT = "sale", "return", "reject"
PRICE_SCALE = 1000  # unit prices are carried in thousandths
MAX_QUANTITY = 1_000_000  # |quantity| beyond this is absurd for one order line
MAX_UNIT_PRICE_MILLI = 1_000_000 * PRICE_SCALE  # a unit price over 1,000,000.000 is absurd
EPOCH = dt.date(1970, 1, 1)
MIN_DAY = (dt.date(1990, 1, 1) - EPOCH).days
MAX_DAY = (dt.date(2100, 1, 1) - EPOCH).days  # exclusive
MAX_TEXT = 64  # longest invoice number, stock code or country the warehouse stores
INT64_LIMIT = 2**63 - 1

# Reason codes, in the order they are tested: a line gets the first that applies.
REASONS = (
    "missing_invoice",
    "missing_stock_code",
    "missing_country",
    "missing_date",
    "invalid_date",
    "date_out_of_range",
    "missing_quantity",
    "missing_price",
    "invalid_price",
    "text_too_long",
    "zero_quantity",
    "quantity_out_of_range",
    "price_out_of_range",
    "negative_price",
    "zero_price",
    "positive_quantity_on_cancellation",
    "negative_quantity_on_sale",
)

# Columns the extract step delivers (raw text kept beside the parsed values, so a line can be
# rejected for the exact reason and duplicates compared on what the source holds).
LINE_COLUMNS = (
    "id",  # int64
    "invoice_no",  # str or NA
    "stock_code",  # str or NA
    "description",  # str or NA
    "quantity",  # Int64
    "invoice_date",  # raw text or NA
    "day",  # Int64 days since 1970-01-01, NA when the text does not parse
    "unit_price",  # raw text or NA
    "unit_price_milli",  # Int64, NA when the text is not an exact thousandth within int64
    "customer_id",  # Int64
    "country",  # str or NA
)
DUPLICATE_COLUMNS = [c for c in LINE_COLUMNS if c not in ("id", "day", "unit_price_milli")]
KEY_PRODUCT = ["day", "country", "stock_code"]
KEY_COUNTRY = ["day", "country"]
MEASURES = ["sale_lines", "units_sold", "revenue_milli", "orders"]
RETURN_MEASURES = ["return_lines", "units_returned", "returns_value_milli"]


def day_number(day: dt.date) -> int:
    """Return days since 1970-01-01, the transform's representation of a date."""
    return (day - EPOCH).days


def is_plausible_day(day: int) -> bool:
    """Tell whether a day number lies within the bounds a sale's date may have."""
    return MIN_DAY <= day < MAX_DAY


@dataclass
class ChunkResult:
    """What one chunk of whole days contributes to a run."""

    product_sales: pd.DataFrame  # KEY_PRODUCT + MEASURES + RETURN_MEASURES
    country_sales: pd.DataFrame  # KEY_COUNTRY + MEASURES + RETURN_MEASURES + return_orders
    rejects: pd.DataFrame  # id, reason, and the line's values
    descriptions: pd.DataFrame  # stock_code, source_id, description (newest non-blank)
    lines: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)


def _blank(text: pd.Series) -> pd.Series:
    # Only spaces make a value blank, as PostgreSQL's btrim: a tab or an ideographic space is
    # data, kept byte for byte like any other character.
    return text.isna() | (text.str.strip(" ") == "")


# An exact thousandth as PostgreSQL prints a numeric. Extract leaves such a price NA only when it
# is too large for int64 thousandths: it is then out of range, not invalid.
_EXACT_THOUSANDTH = r"-?[0-9]+(\.[0-9]{0,3}0*)?"


def classify(lines: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Return each line's kind (sale, return, reject) and its reject reason (NA if none)."""
    qty = lines["quantity"]
    price = lines["unit_price_milli"]
    cancelled = lines["invoice_no"].str.startswith("C").fillna(False).astype(bool)
    too_long = (
        (lines["invoice_no"].str.len() > MAX_TEXT)
        | (lines["stock_code"].str.len() > MAX_TEXT)
        | (lines["country"].str.len() > MAX_TEXT)
    ).fillna(False)
    day = lines["day"]
    unparsed = price.isna().to_numpy(dtype=bool)  # rare: the regex runs on these lines only
    too_large = pd.Series(False, index=lines.index)
    too_large[unparsed] = (
        lines["unit_price"][unparsed].str.fullmatch(_EXACT_THOUSANDTH).fillna(False)
    )
    tests = {
        "missing_invoice": _blank(lines["invoice_no"]),
        "missing_stock_code": _blank(lines["stock_code"]),
        "missing_country": _blank(lines["country"]),
        "missing_date": lines["invoice_date"].isna(),
        "invalid_date": day.isna(),
        "date_out_of_range": (day < MIN_DAY) | (day >= MAX_DAY),
        "missing_quantity": qty.isna(),
        "missing_price": lines["unit_price"].isna(),
        "invalid_price": price.isna() & ~too_large,
        "text_too_long": too_long,
        "zero_quantity": qty == 0,
        "quantity_out_of_range": qty.abs() > MAX_QUANTITY,
        "price_out_of_range": (price.abs() > MAX_UNIT_PRICE_MILLI) | too_large,
        "negative_price": price < 0,
        "zero_price": (price == 0) & ~cancelled,
        "positive_quantity_on_cancellation": cancelled & (qty > 0),
        "negative_quantity_on_sale": ~cancelled & (qty < 0),
    }
    codes = np.full(len(lines), -1, dtype=np.int8)
    for number in reversed(range(len(REASONS))):  # the first matching test wins: apply it last
        codes[tests[REASONS[number]].fillna(False).to_numpy(dtype=bool)] = number
    categories = pd.Categorical.from_codes(codes, categories=REASONS)
    reason = pd.Series(categories, index=lines.index).astype("string")
    kinds = np.where(codes >= 0, REJECT, np.where(cancelled.to_numpy(dtype=bool), RETURN, SALE))
    return pd.Series(kinds, index=lines.index, dtype="string"), reason


def _line_values(lines: pd.DataFrame) -> pd.Series:
    """Return |quantity| x unit price in thousandths, proving the chunk's sums cannot overflow."""
    qty = lines["quantity"].astype("int64").abs()
    price = lines["unit_price_milli"].astype("int64")
    # classify bounds each product by MAX_QUANTITY x MAX_UNIT_PRICE_MILLI (10**15): exact in
    # int64. Every group's sum is at most the chunk's total, summed here in float with a margin
    # of half of int64 that float rounding cannot eat. (Bounding by max quantity x max price x
    # lines refused a chunk of 10,000 lines that held one line at both limits.)
    values = qty * price
    if float(values.to_numpy(dtype="float64").sum()) >= INT64_LIMIT / 2:
        raise OverflowError("a chunk's money sums could exceed int64; lower ETL_CHUNK_ROWS")
    return values


def group_codes(columns: list[pd.Series]) -> np.ndarray:
    """Number the distinct combinations of ``columns`` 0..n-1, in order of first appearance.

    Grouping on one int64 array instead of a MultiIndex of strings is what keeps the transform
    fast; re-numbering after each column keeps the combined code dense, so it cannot overflow.
    """
    codes = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        column_codes, uniques = pd.factorize(column, use_na_sentinel=False)
        codes, _ = pd.factorize(codes * len(uniques) + column_codes)
    return codes.astype(np.int64, copy=False)


def _sum_by(groups: np.ndarray, count: int, values: np.ndarray) -> np.ndarray:
    """Exact int64 sums of non-negative ``values`` per group.

    np.bincount adds in float64, which is exact while every partial sum stays below 2**53;
    beyond that, the slower integer np.add.at.
    """
    if values.sum() < 2**53:
        return np.bincount(groups, weights=values, minlength=count).astype(np.int64)
    sums = np.zeros(count, dtype=np.int64)
    np.add.at(sums, groups, values)
    return sums


def _distinct_by(groups: np.ndarray, count: int, items: np.ndarray, item_count: int) -> np.ndarray:
    """Count the distinct ``items`` (codes below ``item_count``) of each group."""
    pairs = pd.unique(groups * item_count + items)
    return np.bincount(pairs // item_count, minlength=count)


def _aggregate(valid: pd.DataFrame, keys: list[str], with_return_orders: bool) -> pd.DataFrame:
    groups = group_codes([valid[k] for k in keys])
    count = int(groups.max()) + 1 if len(groups) else 0
    _, first_rows = np.unique(groups, return_index=True)
    result = valid[keys].iloc[first_rows].reset_index(drop=True)
    invoices, invoice_values = pd.factorize(valid["invoice_no"])
    units, value = valid["units"].to_numpy(), valid["value"].to_numpy()
    for prefix, rows in (("sale", valid["is_sale"].to_numpy()), ("return", ~valid["is_sale"])):
        rows = np.asarray(rows)
        measures = {
            "sale": ("sale_lines", "units_sold", "revenue_milli", "orders"),
            "return": ("return_lines", "units_returned", "returns_value_milli", "return_orders"),
        }[prefix]
        lines_name, units_name, value_name, orders_name = measures
        result[lines_name] = np.bincount(groups[rows], minlength=count)
        result[units_name] = _sum_by(groups[rows], count, units[rows])
        result[value_name] = _sum_by(groups[rows], count, value[rows])
        if prefix == "sale" or with_return_orders:
            result[orders_name] = _distinct_by(
                groups[rows], count, invoices[rows], len(invoice_values)
            )
    columns = [*MEASURES, *RETURN_MEASURES] + (["return_orders"] if with_return_orders else [])
    return result[[*keys, *columns]].astype(dict.fromkeys(columns, "int64"))


def newest_descriptions(lines: pd.DataFrame) -> pd.DataFrame:
    """Return, per stock code, the newest (highest id) non-blank description."""
    described = lines.loc[~_blank(lines["description"]) & ~_blank(lines["stock_code"])]
    codes, uniques = pd.factorize(described["stock_code"])
    ids = described["id"].to_numpy(dtype=np.int64)
    newest = np.full(len(uniques), -1, dtype=np.int64)
    np.maximum.at(newest, codes, ids)
    chosen = described.loc[ids == newest[codes]]  # ids are unique: one line per stock code
    return chosen.rename(columns={"id": "source_id"})[["stock_code", "source_id", "description"]]


def transform_chunk(lines: pd.DataFrame) -> ChunkResult:
    """Classify the lines of whole days and aggregate them at both warehouse grains."""
    kind, reason = classify(lines)
    rejected = reason.notna()
    valid = lines.loc[~rejected, ["id", "invoice_no", "stock_code", "country", "day"]].copy()
    valid["is_sale"] = (kind[~rejected] == SALE).to_numpy(dtype=bool)
    valid["day"] = valid["day"].astype("int64")
    valid["units"] = lines.loc[~rejected, "quantity"].astype("int64").abs()
    valid["value"] = _line_values(lines.loc[~rejected])
    rejects = lines.loc[
        rejected,
        ["id", "invoice_no", "stock_code", "quantity", "day", "unit_price_milli", "country"],
    ].copy()
    rejects.insert(1, "reason", reason[rejected])
    return ChunkResult(
        product_sales=_aggregate(valid, KEY_PRODUCT, with_return_orders=False),
        country_sales=_aggregate(valid, KEY_COUNTRY, with_return_orders=True),
        rejects=rejects,
        descriptions=newest_descriptions(lines.loc[~rejected]),
        lines=len(lines),
        loaded=len(valid),
        duplicates=int(lines.duplicated(subset=DUPLICATE_COLUMNS).sum()),
        rejects_by_reason={k: int(v) for k, v in reason[rejected].value_counts().items()},
    )

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

from .aggregate import KEY_COUNTRY, KEY_PRODUCT, CodedLines, aggregate

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
    reason = pd.Series(pd.Categorical.from_codes(codes, categories=REASONS), index=lines.index)
    kinds = np.where(codes >= 0, 2, np.where(cancelled.to_numpy(dtype=bool), 1, 0))
    kind = pd.Categorical.from_codes(kinds.astype(np.int8), categories=[SALE, RETURN, REJECT])
    return pd.Series(kind, index=lines.index), reason  # categoricals: no string per line


def _line_values(quantity: np.ndarray, price_milli: np.ndarray) -> np.ndarray:
    """Return |quantity| x unit price in thousandths, proving the chunk's sums cannot overflow."""
    # classify bounds each product by MAX_QUANTITY x MAX_UNIT_PRICE_MILLI (10**15): exact in
    # int64. Every group's sum is at most the chunk's total, summed here in float with a margin
    # of half of int64 that float rounding cannot eat. (Bounding by max quantity x max price x
    # lines refused a chunk of 10,000 lines that held one line at both limits.)
    values = np.abs(quantity) * price_milli
    if float(values.astype(np.float64).sum()) >= INT64_LIMIT / 2:
        raise OverflowError("a chunk's money sums could exceed int64; lower ETL_CHUNK_ROWS")
    return values


def newest_descriptions(lines: pd.DataFrame, counted: np.ndarray) -> pd.DataFrame:
    """Return, per stock code, the newest (highest id) non-blank description of counted lines."""
    described = np.flatnonzero(counted & ~_blank(lines["description"]).to_numpy(dtype=bool))
    codes, uniques = pd.factorize(lines["stock_code"].array.take(described))
    ids = lines["id"].to_numpy(dtype=np.int64)[described]
    newest = np.full(len(uniques), -1, dtype=np.int64)
    np.maximum.at(newest, codes, ids)
    chosen = described[ids == newest[codes]]  # ids are unique: one line per stock code
    picked = lines.iloc[chosen][["stock_code", "id", "description"]]
    return picked.rename(columns={"id": "source_id"}).reset_index(drop=True)


def _coded(lines: pd.DataFrame, kind: pd.Series, counted: np.ndarray) -> CodedLines:
    codes, names = {}, {}
    for key in ("country", "stock_code", "invoice_no"):
        numbers, names[key] = pd.factorize(lines[key])
        codes[key] = numbers[counted]
    quantity = lines["quantity"].to_numpy(dtype=np.int64, na_value=0)[counted]
    price = lines["unit_price_milli"].to_numpy(dtype=np.int64, na_value=0)[counted]
    return CodedLines(
        day=lines["day"].to_numpy(dtype=np.int64, na_value=0)[counted],
        codes=codes,
        names=names,
        is_sale=(kind == SALE).to_numpy(dtype=bool)[counted],
        units=np.abs(quantity),
        value=_line_values(quantity, price),
    )


def transform_chunk(lines: pd.DataFrame) -> ChunkResult:
    """Classify the lines of whole days and aggregate them at both warehouse grains."""
    kind, reason = classify(lines)
    rejected = reason.notna().to_numpy(dtype=bool)
    counted = ~rejected
    coded = _coded(lines, kind, counted)
    rejects = lines.iloc[np.flatnonzero(rejected)][
        ["id", "invoice_no", "stock_code", "quantity", "day", "unit_price_milli", "country"]
    ]
    rejects.insert(1, "reason", reason[rejected].astype(str))
    return ChunkResult(
        product_sales=aggregate(coded, KEY_PRODUCT, with_return_orders=False),
        country_sales=aggregate(coded, KEY_COUNTRY, with_return_orders=True),
        rejects=rejects,
        descriptions=newest_descriptions(lines, counted),
        lines=len(lines),
        loaded=int(counted.sum()),
        duplicates=int(lines.duplicated(subset=DUPLICATE_COLUMNS).sum()),
        rejects_by_reason={k: int(v) for k, v in reason[rejected].value_counts().items() if v},
    )

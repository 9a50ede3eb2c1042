"""The transform: one chunk of whole days in, its aggregates, rejects and counts out.

Pure pandas and numpy, no I/O, no clock, no globals. The business rules live in ``rules``;
this module numbers the text keys once per chunk and hands the integer codes to the rules and
to both aggregate grains, which is what keeps it near a million lines a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .aggregate import KEY_COUNTRY, KEY_PRODUCT, CodedLines, aggregate, group_codes
from .rules import REASONS, Codes, classify_codes, integers

INT64_LIMIT = 2**63 - 1

# Columns the extract step delivers (raw text kept beside the parsed values, so a line can be
# rejected for the exact reason and duplicates compared on what the source holds).
LINE_COLUMNS = (
    "id",  # int64
    "invoice_no",  # str or NA
    "stock_code",  # str or NA
    "description",  # str or NA
    "quantity",  # Int64
    "invoice_date",  # what the source holds (text or a timestamp), NA when missing
    "day",  # Int64 days since 1970-01-01, NA when the date does not parse
    "unit_price",  # raw text or NA
    "unit_price_milli",  # Int64, NA when the text is not an exact thousandth within int64
    "customer_id",  # Int64
    "country",  # str or NA
)
DUPLICATE_COLUMNS = [c for c in LINE_COLUMNS if c not in ("id", "day", "unit_price_milli")]
REJECT_COLUMNS = [
    "id",
    "invoice_no",
    "stock_code",
    "quantity",
    "day",
    "unit_price_milli",
    "country",
]


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


def line_values(quantity: np.ndarray, price_milli: np.ndarray) -> np.ndarray:
    """Return |quantity| x unit price in thousandths, proving the chunk's sums cannot overflow."""
    # The rules bound each product by MAX_QUANTITY x MAX_UNIT_PRICE_MILLI (10**15): exact in
    # int64. Every group's sum is at most the chunk's total, summed here in float with a margin
    # of half of int64 that float rounding cannot eat. (Bounding by max quantity x max price x
    # lines refused a chunk of 10,000 lines that held one line at both limits.)
    values = np.abs(quantity) * price_milli
    if float(values.astype(np.float64).sum()) >= INT64_LIMIT / 2:
        raise OverflowError("a chunk's money sums could exceed int64; lower ETL_CHUNK_ROWS")
    return values


def recurring_pairs(invoice: Codes, stock: Codes) -> tuple[np.ndarray, np.ndarray]:
    """Number the (invoice, stock code) pairs; return (pair per line, pair recurs in the chunk)."""
    pairs, _ = pd.factorize(invoice.codes * (len(stock.uniques) + 1) + stock.codes + 1)
    pairs = pairs.astype(np.int64, copy=False)
    return pairs, np.bincount(pairs)[pairs] > 1


def count_duplicates(lines: pd.DataFrame, pairs: np.ndarray, recurring: np.ndarray) -> int:
    """Count lines that repeat an earlier line of the chunk in every column but the id.

    Only lines sharing an invoice and a stock code with another line can be duplicates, and
    they are few: the other columns are numbered (NA as a value of its own) on those alone.
    """
    shared = np.flatnonzero(recurring)
    if not len(shared):
        return 0
    columns = [(pairs[shared], len(pairs))]
    for name in DUPLICATE_COLUMNS:
        if name not in ("invoice_no", "stock_code"):
            codes, uniques = pd.factorize(lines[name].array.take(shared), use_na_sentinel=False)
            columns.append((codes.astype(np.int64, copy=False), len(uniques)))
    _, first_lines = group_codes(columns)
    return len(shared) - len(first_lines)


def newest_descriptions(lines: pd.DataFrame, counted: np.ndarray, stock: Codes) -> pd.DataFrame:
    """Return, per stock code, the newest (highest id) non-blank description of counted lines."""
    blank = (lines["description"].str.strip(" ") == "").fillna(True).to_numpy(dtype=bool)
    described = np.flatnonzero(counted & ~blank)
    codes = stock.codes[described]
    ids = lines["id"].to_numpy(dtype=np.int64)[described]
    newest = np.full(len(stock.uniques), -1, dtype=np.int64)
    np.maximum.at(newest, codes, ids)
    chosen = described[ids == newest[codes]]  # ids are unique: one line per stock code
    picked = lines[["stock_code", "id", "description"]].iloc[chosen]
    return picked.rename(columns={"id": "source_id"}).reset_index(drop=True)


def _coded(lines: pd.DataFrame, keys: dict[str, Codes], is_sale, counted, recurring) -> CodedLines:
    quantity, _ = integers(lines["quantity"])
    price, _ = integers(lines["unit_price_milli"])
    day, _ = integers(lines["day"])
    quantity = quantity[counted]
    return CodedLines(
        day=day[counted],
        codes={name: key.codes[counted] for name, key in keys.items()},
        names={name: key.uniques for name, key in keys.items()},
        is_sale=is_sale[counted],
        units=np.abs(quantity),
        value=line_values(quantity, price[counted]),
        recurring=recurring[counted],
    )


def transform_chunk(lines: pd.DataFrame) -> ChunkResult:
    """Classify the lines of whole days and aggregate them at both warehouse grains."""
    keys = {name: Codes.of(lines[name]) for name in ("invoice_no", "stock_code", "country")}
    classified = classify_codes(lines, keys["invoice_no"], keys["stock_code"], keys["country"])
    counted = classified.counted
    pairs, recurring = recurring_pairs(keys["invoice_no"], keys["stock_code"])
    coded = _coded(lines, keys, ~classified.cancelled, counted, recurring)
    rejected = np.flatnonzero(~counted)
    rejects = lines[REJECT_COLUMNS].iloc[rejected]
    reasons = classified.reasons[rejected]
    rejects.insert(1, "reason", np.asarray(REASONS, dtype=object)[reasons])
    by_reason = np.bincount(reasons, minlength=len(REASONS))
    return ChunkResult(
        product_sales=aggregate(coded, KEY_PRODUCT, with_return_orders=False),
        country_sales=aggregate(coded, KEY_COUNTRY, with_return_orders=True),
        rejects=rejects,
        descriptions=newest_descriptions(lines, counted, keys["stock_code"]),
        lines=len(lines),
        loaded=int(counted.sum()),
        duplicates=count_duplicates(lines, pairs, recurring),
        rejects_by_reason={REASONS[i]: int(n) for i, n in enumerate(by_reason) if n},
    )

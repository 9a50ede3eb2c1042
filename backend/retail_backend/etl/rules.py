"""The business rules that decide, line by line, what is a sale, a return or a reject.

A *sale* is a line of an invoice that does not start with ``C``, with quantity > 0 and unit
price > 0. A *return* is a line of a ``C`` invoice with quantity < 0 and a price >= 0; its units
and value count as returns, positive. Every other line is rejected with a reason code. Money is
scaled int64 in thousandths (the source's smallest unit here); the bounds below make overflow
impossible for one line. Pure functions on pandas and numpy: no I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

SALE, RETURN, REJECT = "sale", "return", "reject"
KINDS = (SALE, RETURN, REJECT)
PRICE_SCALE = 1000  # unit prices are carried in thousandths
MAX_QUANTITY = 1_000_000  # |quantity| beyond this is absurd for one order line
MAX_UNIT_PRICE_MILLI = 1_000_000 * PRICE_SCALE  # a unit price over 1,000,000.000 is absurd
EPOCH = dt.date(1970, 1, 1)
MIN_DAY = (dt.date(1990, 1, 1) - EPOCH).days
MAX_DAY = (dt.date(2100, 1, 1) - EPOCH).days  # exclusive
MAX_TEXT = 64  # longest invoice number, stock code or country the warehouse stores

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
COUNTED = -1  # the reason code of a line that is not rejected

# An exact thousandth as PostgreSQL prints a numeric. Extract leaves such a price NA only when it
# is too large for int64 thousandths: it is then out of range, not invalid.
_EXACT_THOUSANDTH = r"-?[0-9]+(\.[0-9]{0,3}0*)?"


def day_number(day: dt.date) -> int:
    """Return days since 1970-01-01, the transform's representation of a date."""
    return (day - EPOCH).days


def is_plausible_day(day: int) -> bool:
    """Tell whether a day number lies within the bounds a sale's date may have."""
    return MIN_DAY <= day < MAX_DAY


@dataclass(frozen=True)
class Codes:
    """A text column numbered by distinct value (``pd.factorize``): -1 marks NA.

    Tests on text run once per distinct value and are spread over the lines through the
    codes: a chunk of 100,000 lines holds a few thousand invoices and a few dozen countries.
    """

    codes: np.ndarray
    uniques: pd.Index

    @classmethod
    def of(cls, column: pd.Series) -> Codes:
        codes, uniques = pd.factorize(column)
        return cls(codes.astype(np.int64, copy=False), pd.Index(uniques))

    def spread(self, per_value: np.ndarray, if_missing: bool) -> np.ndarray:
        """Give each line the value of its text's entry in ``per_value`` (NA: ``if_missing``)."""
        return np.append(np.asarray(per_value, dtype=bool), if_missing)[self.codes]

    def blank(self) -> np.ndarray:
        # Only spaces make a value blank, as PostgreSQL's btrim: a tab or an ideographic space
        # is data, kept byte for byte like any other character.
        return self.spread(self.uniques.str.strip(" ") == "", True)

    def longer_than(self, length: int) -> np.ndarray:
        return self.spread(self.uniques.str.len() > length, False)


def integers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Split a nullable integer column into int64 values (0 where NA) and its NA mask."""
    missing = column.isna().to_numpy(dtype=bool)
    return column.to_numpy(dtype=np.int64, na_value=0), missing


@dataclass(frozen=True)
class Classified:
    """Each line's reason code (``COUNTED`` if none) and whether its invoice is a cancellation."""

    reasons: np.ndarray  # int8 index into REASONS, or COUNTED
    cancelled: np.ndarray  # bool

    @property
    def counted(self) -> np.ndarray:
        return self.reasons == COUNTED

    def kinds(self) -> np.ndarray:
        """Return each line's index into KINDS."""
        return np.where(self.counted, np.where(self.cancelled, 1, 0), 2).astype(np.int8)


def classify_codes(lines: pd.DataFrame, invoice: Codes, stock: Codes, country: Codes) -> Classified:
    """Apply the business rules to every line, the text keys given by their codes."""
    qty, qty_missing = integers(lines["quantity"])
    price, price_missing = integers(lines["unit_price_milli"])
    day, day_missing = integers(lines["day"])
    cancelled = invoice.spread(invoice.uniques.str.startswith("C"), False)
    too_large = np.zeros(len(lines), dtype=bool)
    unparsed = np.flatnonzero(price_missing)  # rare: the regex runs on these lines only
    if len(unparsed):
        text = lines["unit_price"].iloc[unparsed]
        too_large[unparsed] = text.str.fullmatch(_EXACT_THOUSANDTH).fillna(False).to_numpy(bool)
    tests = (  # in the order of REASONS; a value masked as NA reads 0 and never gets this far
        invoice.blank(),
        stock.blank(),
        country.blank(),
        lines["invoice_date"].isna().to_numpy(dtype=bool),
        day_missing,
        (day < MIN_DAY) | (day >= MAX_DAY),
        qty_missing,
        lines["unit_price"].isna().to_numpy(dtype=bool),
        price_missing & ~too_large,
        invoice.longer_than(MAX_TEXT) | stock.longer_than(MAX_TEXT) | country.longer_than(MAX_TEXT),
        qty == 0,
        np.abs(qty) > MAX_QUANTITY,
        (np.abs(price) > MAX_UNIT_PRICE_MILLI) | too_large,
        price < 0,
        (price == 0) & ~cancelled,
        cancelled & (qty > 0),
        ~cancelled & (qty < 0),
    )
    assert len(tests) == len(REASONS)
    reasons = np.select(tests, np.arange(len(REASONS), dtype=np.int8), COUNTED).astype(np.int8)
    return Classified(reasons, cancelled)


def classify(lines: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Return each line's kind (sale, return, reject) and its reject reason (NA if none)."""
    keys = (Codes.of(lines[k]) for k in ("invoice_no", "stock_code", "country"))
    classified = classify_codes(lines, *keys)
    kind = pd.Categorical.from_codes(classified.kinds(), categories=KINDS)
    reason = pd.Categorical.from_codes(classified.reasons, categories=REASONS)
    return pd.Series(kind, index=lines.index), pd.Series(reason, index=lines.index)

"""Aggregation of a chunk's counted lines at one warehouse grain, on integer codes.

Exact: sums are int64 thousandths (float64 only where it provably cannot round), and orders
are distinct invoices per key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

KEY_PRODUCT = ["day", "country", "stock_code"]
KEY_COUNTRY = ["day", "country"]
MEASURES = ["units_sold", "revenue_milli", "orders"]
RETURN_MEASURES = ["units_returned", "returns_value_milli"]
_COMPOSITE_LIMIT = 2**62  # mixed-radix keys below this cannot overflow int64


@dataclass
class CodedLines:
    """The lines that count, as integer arrays: what both grains aggregate.

    Each text key is numbered once per chunk (``pd.factorize``) and both grains group those
    numbers; the text comes back only for the one row per key of the result.
    """

    day: np.ndarray
    codes: dict[str, np.ndarray]  # country, stock_code, invoice_no -> number per line
    names: dict[str, pd.Index]  # country, stock_code, invoice_no -> text per number
    is_sale: np.ndarray
    units: np.ndarray
    value: np.ndarray
    # Lines whose (invoice, stock code) pair recurs in the chunk. Any other line's invoice is
    # unique within its product key, so it is one order there without being hashed.
    recurring: np.ndarray

    def key_columns(self, keys: list[str]) -> list[tuple[np.ndarray, int]]:
        """Return each key as non-negative codes with their count, the day as an offset."""
        if not len(self.day):
            return [(self.day, 1) for _ in keys]
        first_day = int(self.day.min())
        columns = [(self.day - first_day, int(self.day.max()) - first_day + 1)]
        columns += [(self.codes[k], len(self.names[k])) for k in keys if k != "day"]
        return columns


def group_codes(columns: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct combinations of code columns; return (group per line, first lines).

    The columns form one mixed-radix int64 key. When its range is small next to the number of
    lines, groups are ranks over a dense count (in key order); otherwise one hash pass
    (``pd.factorize``), with a re-numbering wherever the radix product would overflow.
    """
    lines = len(columns[0][0])
    combined = np.zeros(lines, dtype=np.int64)
    radix = 1
    for codes, count in columns:
        if radix * count >= _COMPOSITE_LIMIT:
            combined, _ = pd.factorize(combined)
            radix = int(combined.max()) + 1 if lines else 1
        combined = combined * count + codes
        radix *= count
    if radix <= 4 * lines + 1024:
        present = np.bincount(combined, minlength=radix) > 0
        rank = np.cumsum(present) - 1
        groups = rank[combined]
    else:
        groups, _ = pd.factorize(combined)
    groups = groups.astype(np.int64, copy=False)
    first = np.full(int(groups.max()) + 1 if lines else 0, lines, dtype=np.int64)
    np.minimum.at(first, groups, np.arange(lines, dtype=np.int64))
    return groups, first


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


def _orders(lines: CodedLines, rows: np.ndarray, groups: np.ndarray, count: int, by_product: bool):
    invoices, invoice_count = lines.codes["invoice_no"], len(lines.names["invoice_no"])
    if not by_product:
        return _distinct_by(groups[rows], count, invoices[rows], invoice_count)
    single = rows & ~lines.recurring
    hashed = rows & lines.recurring
    return np.bincount(groups[single], minlength=count) + _distinct_by(
        groups[hashed], count, invoices[hashed], invoice_count
    )


_SALE_SUMS = ("units_sold", "revenue_milli", "orders")
_RETURN_SUMS = ("units_returned", "returns_value_milli", "return_orders")


def aggregate(lines: CodedLines, keys: list[str], with_return_orders: bool) -> pd.DataFrame:
    """Sum sales and returns per key of ``keys`` (day first), with distinct invoices."""
    groups, first = group_codes(lines.key_columns(keys))
    count = len(first)
    result = {"day": lines.day[first]}
    for key in keys[1:]:
        result[key] = lines.names[key].take(lines.codes[key][first]).array
    by_product = "stock_code" in keys
    for rows, measures in ((lines.is_sale, _SALE_SUMS), (~lines.is_sale, _RETURN_SUMS)):
        units_name, value_name, orders_name = measures
        in_rows = groups[rows]
        result[units_name] = _sum_by(in_rows, count, lines.units[rows])
        result[value_name] = _sum_by(in_rows, count, lines.value[rows])
        if orders_name == "orders" or with_return_orders:
            result[orders_name] = _orders(lines, rows, groups, count, by_product)
    columns = [*keys, *MEASURES, *RETURN_MEASURES] + (["return_orders"] * with_return_orders)
    return pd.DataFrame({name: result[name] for name in columns}, copy=False)

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
MEASURES = ["sale_lines", "units_sold", "revenue_milli", "orders"]
RETURN_MEASURES = ["return_lines", "units_returned", "returns_value_milli"]


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


def group_codes(columns: list[np.ndarray]) -> np.ndarray:
    """Number the distinct combinations of ``columns`` 0..n-1, in order of first appearance.

    Grouping on one int64 array instead of a MultiIndex of strings is what keeps the transform
    fast; re-numbering after each column keeps the combined code dense, so it cannot overflow.
    """
    codes = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        column_codes, uniques = pd.factorize(column)
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


_SALE_SUMS = ("sale_lines", "units_sold", "revenue_milli", "orders")
_RETURN_SUMS = ("return_lines", "units_returned", "returns_value_milli", "return_orders")


def aggregate(lines: CodedLines, keys: list[str], with_return_orders: bool) -> pd.DataFrame:
    """Sum sales and returns per key of ``keys`` (day first), with distinct invoices."""
    text_keys = [k for k in keys if k != "day"]
    groups = group_codes([lines.day, *(lines.codes[k] for k in text_keys)])
    count = int(groups.max()) + 1 if len(groups) else 0
    _, first_rows = np.unique(groups, return_index=True)
    result = pd.DataFrame({"day": lines.day[first_rows]})
    for key in text_keys:
        result[key] = lines.names[key].take(lines.codes[key][first_rows]).array
    invoices, invoice_count = lines.codes["invoice_no"], len(lines.names["invoice_no"])
    for rows, measures in ((lines.is_sale, _SALE_SUMS), (~lines.is_sale, _RETURN_SUMS)):
        lines_name, units_name, value_name, orders_name = measures
        result[lines_name] = np.bincount(groups[rows], minlength=count)
        result[units_name] = _sum_by(groups[rows], count, lines.units[rows])
        result[value_name] = _sum_by(groups[rows], count, lines.value[rows])
        if orders_name == "orders" or with_return_orders:
            result[orders_name] = _distinct_by(groups[rows], count, invoices[rows], invoice_count)
    columns = [*MEASURES, *RETURN_MEASURES] + (["return_orders"] if with_return_orders else [])
    return result[[*keys, *columns]].astype(dict.fromkeys(columns, "int64"))

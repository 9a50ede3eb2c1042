"""The text of the load's INSERTs: exact money, escape-free text, dates and NULLs."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from retail_backend.etl.warehouse_rows import (
    date_literals,
    hex_literals,
    thousandths,
    values_lists,
    yyyymmdd,
)

INT64 = st.integers(-(2**63), 2**63 - 1)


@given(st.lists(INT64, min_size=1, max_size=50))
def test_thousandths_are_the_exact_decimals_of_any_int64(milli):
    decimals = thousandths(np.array(milli, dtype=np.int64)).to_pylist()
    assert decimals == [Decimal(m).scaleb(-3) for m in milli]


def test_missing_thousandths_are_written_as_null():
    column = thousandths(np.array([-1234, 0, 5], dtype=np.int64), np.array([False, True, False]))
    assert b"".join(values_lists({"money": column}, 10)) == b"-1.234),(NULL),(0.005"


@pytest.mark.parametrize("text", ["85123A", "", 'it\'s \\ a "quote"', "é\x00\n),(", "漢字"])
def test_text_becomes_a_hex_literal_of_its_utf8_bytes(text):
    (literal,) = hex_literals(pd.Series([text], dtype="string")).to_pylist()
    assert literal == "X'" + "".join(f"{b:02x}" for b in text.encode("utf-8")) + "'"


def test_hex_literals_cut_long_text_and_keep_na_as_null():
    literals = hex_literals(pd.Series(["ab" * 40, None], dtype="string"), length=3).to_pylist()
    assert literals == ["X'616261'", None]


def test_dates_outside_years_one_to_9999_are_null():
    days = pd.Series([0, -719162, 2932896, 2932897, None], dtype="Int64")
    literals = date_literals(days).to_pylist()
    assert literals == ["'1970-01-01'", "'0001-01-01'", "'9999-12-31'", None, None]


def test_days_become_yyyymmdd():
    assert yyyymmdd(np.array([0, 15309, -1], dtype=np.int64)).tolist() == [
        19700101,
        20111201,
        19691231,
    ]


def test_values_lists_split_rows_into_lists_of_at_most_the_given_size():
    lists = list(values_lists({"a": np.arange(5), "b": np.arange(5) * 10}, 2))
    assert lists == [b"0,0),(1,10", b"2,20),(3,30", b"4,40"]

"""Grouping on integer codes: the dense and the hashed way number the same groups."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retail_backend.etl.aggregate import group_codes

RADIX = (7, 5, 10)


def _partition(groups: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(groups == g).tolist()) for g in np.unique(groups)}


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.tuples(*(st.integers(0, n - 1) for n in RADIX)), min_size=1))
def test_dense_and_hashed_grouping_agree(keys):
    columns = [np.array([key[i] for key in keys], dtype=np.int64) for i in range(len(RADIX))]
    dense, dense_first = group_codes(list(zip(columns, RADIX, strict=True)))
    # Counts far beyond the number of lines force the hash pass and the re-numbering on overflow.
    hashed, hashed_first = group_codes([(column, 2**40) for column in columns])
    assert _partition(dense) == _partition(hashed)
    first_lines = sorted({key: i for i, key in reversed(list(enumerate(keys)))}.values())
    assert sorted(dense_first.tolist()) == sorted(hashed_first.tolist()) == first_lines


def test_dense_groups_come_in_key_order():
    day = np.array([2, 0, 1, 0], dtype=np.int64)
    country = np.array([0, 1, 0, 0], dtype=np.int64)
    groups, first = group_codes([(day, 3), (country, 2)])
    assert groups.tolist() == [3, 1, 2, 0]
    assert first.tolist() == [3, 1, 2, 0]


@pytest.mark.parametrize("lines", [0, 1])
def test_grouping_handles_empty_and_single_line_chunks(lines):
    groups, first = group_codes([(np.zeros(lines, dtype=np.int64), 1)])
    assert len(groups) == len(first) == lines

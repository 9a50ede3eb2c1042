"""Window planning of the extract step: days grouped into bounded reads (no database)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from retail_backend.etl.extract import UNDATED, Window, consecutive_ranges, group_windows

D = dt.date(2011, 3, 1)


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


def test_consecutive_ranges_splits_sorted_days_at_gaps():
    days = [day(0), day(1), day(2), day(5), day(7), day(8)]
    assert consecutive_ranges(days) == [(day(0), day(2)), (day(5), day(5)), (day(7), day(8))]


def test_consecutive_ranges_of_nothing_and_of_one_day():
    assert consecutive_ranges([]) == []
    assert consecutive_ranges([day(3)]) == [(day(3), day(3))]


def test_consecutive_ranges_crosses_month_and_year_ends():
    days = [dt.date(2010, 12, 31), dt.date(2011, 1, 1), dt.date(2011, 2, 28), dt.date(2011, 3, 1)]
    assert consecutive_ranges(days) == [
        (dt.date(2010, 12, 31), dt.date(2011, 1, 1)),
        (dt.date(2011, 2, 28), dt.date(2011, 3, 1)),
    ]


def test_days_fill_a_window_up_to_chunk_rows():
    counts = [(day(0), 40), (day(1), 60), (day(2), 1), (day(3), 99)]
    assert group_windows(counts, 100, split_at_gaps=False) == [
        Window(day(0), day(1), 100),
        Window(day(2), day(3), 100),
    ]


def test_a_day_bigger_than_chunk_rows_is_a_window_alone():
    counts = [(day(0), 10), (day(1), 500), (day(2), 10)]
    assert group_windows(counts, 100, split_at_gaps=False) == [
        Window(day(0), day(0), 10),
        Window(day(1), day(1), 500),
        Window(day(2), day(2), 10),
    ]


def test_a_full_run_spans_days_without_lines():
    counts = [(day(0), 10), (day(4), 10), (day(9), 10)]
    assert group_windows(counts, 100, split_at_gaps=False) == [Window(day(0), day(9), 30)]


def test_an_incremental_run_never_spans_a_day_it_did_not_count():
    counts = [(day(0), 10), (day(1), 10), (day(4), 10), (day(9), 10), (day(10), 10)]
    assert group_windows(counts, 100, split_at_gaps=True) == [
        Window(day(0), day(1), 20),
        Window(day(4), day(4), 10),
        Window(day(9), day(10), 20),
    ]


def test_undated_lines_are_a_window_of_their_own():
    counts = [(UNDATED, 7), (day(0), 10), (day(1), 10)]
    assert group_windows(counts, 100, split_at_gaps=False) == [
        Window(None, None, 7),
        Window(day(0), day(1), 20),
    ]
    # An incremental run asks for the undated lines with a count of 0: they are still read.
    assert group_windows([(day(0), 5), (UNDATED, 0)], 100, split_at_gaps=True) == [
        Window(None, None, 0),
        Window(day(0), day(0), 5),
    ]


def test_no_counts_no_windows():
    assert group_windows([], 100, split_at_gaps=False) == []
    assert group_windows([], 100, split_at_gaps=True) == []


@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 300)), max_size=30),
    st.integers(1, 250),
    st.booleans(),
)
def test_windows_cover_every_day_once_in_order_and_stay_bounded(steps, chunk_rows, split):
    counts, n = [], -1
    for gap, count in steps:
        n += gap + 1
        counts.append((day(n), count))
    windows = group_windows(counts, chunk_rows, split_at_gaps=split)
    covered = [(d, c) for d, c in counts if any(w.first <= d <= w.last for w in windows)]
    assert covered == counts  # every day is read...
    assert sum(w.rows for w in windows) == sum(c for _, c in counts)  # ...exactly once
    assert all(w.first <= w.last for w in windows)
    assert all(a.last < b.first for a, b in zip(windows, windows[1:], strict=False))
    for w in windows:
        inside = [c for d, c in counts if w.first <= d <= w.last]
        assert w.rows == sum(inside)
        assert w.rows <= chunk_rows or len(inside) == 1  # only a lone big day exceeds it
        if split:
            assert (w.last - w.first).days == len(inside) - 1  # no gap inside

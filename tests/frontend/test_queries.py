"""Reading the sales query from the URL and writing it back into links."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from retail_dashboard.queries import DEFAULT_SORT, SalesQuery, sortable_fields


def read(**args: str) -> SalesQuery:
    return SalesQuery.from_args(MultiDict(args))


def test_defaults():
    query = read()

    assert query.backend_params() == {
        "group_by": "product",
        "sort": "-total_sale_amount",
        "limit": 50,
        "offset": 0,
    }
    assert query.url_args() == {}
    assert query.problems == ()


def test_full_query_round_trips_through_the_url():
    args = {
        "from": "2011-01-01",
        "to": "2011-02-01",
        "country": "EIRE",
        "group_by": "day",
        "sort": "-orders",
        "limit": "100",
        "offset": "200",
    }

    query = read(**args)

    assert query.date_from == date(2011, 1, 1) and query.date_to == date(2011, 2, 1)
    assert {k: str(v) for k, v in query.url_args().items()} == args
    assert read(**{k: str(v) for k, v in query.url_args().items()}) == query


@pytest.mark.parametrize(
    "value", ["2011-1-1", "20110101", "2011-02-30", "yesterday", "2011-01-01T00"]
)
def test_malformed_dates_are_dropped_with_a_problem(value):
    query = read(**{"from": value})

    assert query.date_from is None
    assert query.problems == ("From date is not a date (YYYY-MM-DD); it was ignored.",)


@pytest.mark.parametrize(
    ("raw", "expected"), [("0", 1), ("5000", 1000), ("-1", 50), ("abc", 50), ("", 50)]
)
def test_limit_is_kept_within_the_backends_range(raw, expected):
    assert read(limit=raw).limit == expected


def test_sort_must_be_a_field_of_the_grouping():
    assert read(group_by="day", sort="description").sort == DEFAULT_SORT["day"]
    assert read(group_by="day", sort="-date").sort == "-date"


def test_sort_args_flip_and_reset_the_page():
    query = read(sort="orders", offset="100")

    assert query.sort_args("orders") == {"sort": "-orders"}
    assert query.sort_args("description") == {"sort": "description"}
    assert query.sort_state("orders") == "ascending"
    assert query.sort_state("description") is None


def test_pages():
    query = read(limit="25", offset="30")

    assert query.previous_offset == 5
    assert query.next_offset(56) == 55
    assert query.next_offset(55) is None
    assert read().previous_offset is None


@given(
    group_by=st.sampled_from(["product", "day", "month", "country", "x"]),
    sort=st.text(max_size=30),
    limit=st.text(max_size=6),
    offset=st.text(max_size=12),
)
def test_any_input_gives_parameters_the_backend_accepts(group_by, sort, limit, offset):
    params = read(group_by=group_by, sort=sort, limit=limit, offset=offset).backend_params()

    assert params["sort"].lstrip("-") in sortable_fields(params["group_by"])
    assert 1 <= params["limit"] <= 1000
    assert params["offset"] >= 0

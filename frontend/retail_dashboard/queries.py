"""The dashboard's sales query: read from the URL, checked, and turned back into links.

Bad input never reaches the backend: it is dropped, and ``problems`` says what was ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from werkzeug.datastructures import MultiDict

GROUP_KEYS: dict[str, tuple[str, ...]] = {
    "product": ("product_id", "description"),
    "day": ("date",),
    "month": ("month",),
    "country": ("country",),
}
MEASURES = ("total_quantity", "total_sale_amount", "orders", "returned_quantity", "returned_amount")
DEFAULT_SORT = {
    "product": "-total_sale_amount",
    "country": "-total_sale_amount",
    "day": "date",
    "month": "month",
}
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_LIMIT = 50
MAX_OFFSET = 10_000_000


def whole_number(raw: str | None, max_digits: int = 9) -> int | None:
    """Return ``raw`` as a non-negative int if it is ASCII digits only, else None.

    (``str.isdigit`` also accepts characters such as ``²`` that ``int`` refuses.)
    """
    if raw and len(raw) <= max_digits and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


def parse_day(raw: str | None) -> date | None:
    """Return the date of a ``YYYY-MM-DD`` string, None when empty; ValueError when bad."""
    if not raw:
        return None
    if len(raw) != 10:
        raise ValueError(raw)
    return date.fromisoformat(raw)


@dataclass(frozen=True)
class SalesQuery:
    """What the sales table shows: filters, grouping, order and page."""

    date_from: date | None = None
    date_to: date | None = None
    country: str | None = None
    group_by: str = "product"
    sort: str = DEFAULT_SORT["product"]
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    problems: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, args: MultiDict) -> SalesQuery:
        """Read the query from request arguments, dropping what is malformed."""
        problems: list[str] = []
        dates: dict[str, date | None] = {}
        for name, label in (("from", "From"), ("to", "To")):
            try:
                dates[name] = parse_day(args.get(name, "").strip())
            except ValueError:
                dates[name] = None
                problems.append(f"{label} date is not a date (YYYY-MM-DD); it was ignored.")
        if dates["from"] and dates["to"] and dates["from"] > dates["to"]:
            problems.append("From date is after To date; both were ignored.")
            dates = {"from": None, "to": None}
        country = args.get("country", "").strip()[:100] or None
        group_by = args.get("group_by", "product")
        if group_by not in GROUP_KEYS:
            problems.append("Unknown grouping; showing products.")
            group_by = "product"
        sort = args.get("sort") or DEFAULT_SORT[group_by]
        if sort.lstrip("-") not in sortable_fields(group_by):
            sort = DEFAULT_SORT[group_by]
        limit = _int_arg(args, "limit", DEFAULT_LIMIT, 1, 1000)
        offset = _int_arg(args, "offset", 0, 0, MAX_OFFSET)
        return cls(
            dates["from"], dates["to"], country, group_by, sort, limit, offset, tuple(problems)
        )

    def backend_params(self) -> dict[str, Any]:
        """Return the GET /sales parameters for exactly this table."""
        return {
            **self.filter_params(),
            "group_by": self.group_by,
            "sort": self.sort,
            "limit": self.limit,
            "offset": self.offset,
        }

    def filter_params(self) -> dict[str, str]:
        """Return the date and country filters as GET /sales parameters."""
        params = {}
        if self.date_from:
            params["from"] = self.date_from.isoformat()
        if self.date_to:
            params["to"] = self.date_to.isoformat()
        if self.country:
            params["country"] = self.country
        return params

    def url_args(self, **changes: Any) -> dict[str, Any]:
        """Return the dashboard URL arguments of this query with ``changes`` applied."""
        query = replace(self, **changes)
        args: dict[str, Any] = dict(query.filter_params())
        if query.group_by != "product":
            args["group_by"] = query.group_by
        if query.sort != DEFAULT_SORT[query.group_by]:
            args["sort"] = query.sort
        if query.limit != DEFAULT_LIMIT:
            args["limit"] = query.limit
        if query.offset:
            args["offset"] = query.offset
        return args

    def sort_args(self, field: str) -> dict[str, Any]:
        """Return the URL arguments that sort by ``field``, flipping the order if it is current."""
        if self.sort == field:
            new_sort = f"-{field}"
        elif self.sort == f"-{field}":
            new_sort = field
        else:
            new_sort = f"-{field}" if field in MEASURES else field
        return self.url_args(sort=new_sort, offset=0)

    def sort_state(self, field: str) -> str | None:
        """Return ``ascending``/``descending`` when the table is sorted by ``field``."""
        if self.sort == field:
            return "ascending"
        if self.sort == f"-{field}":
            return "descending"
        return None

    @property
    def previous_offset(self) -> int | None:
        """The offset of the previous page, None on the first."""
        return max(self.offset - self.limit, 0) if self.offset > 0 else None

    def next_offset(self, total_rows: int) -> int | None:
        """The offset of the next page, None on the last."""
        return self.offset + self.limit if self.offset + self.limit < total_rows else None


def sortable_fields(group_by: str) -> tuple[str, ...]:
    """Return the fields a table grouped by ``group_by`` can be sorted by."""
    return GROUP_KEYS[group_by] + MEASURES


def _int_arg(args: MultiDict, name: str, default: int, low: int, high: int) -> int:
    value = whole_number(args.get(name, ""))
    return default if value is None else min(max(value, low), high)

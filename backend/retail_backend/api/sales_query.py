"""What a ``GET /sales`` request asks for, parsed and checked before any SQL runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from werkzeug.datastructures import MIMEAccept

from . import params
from .errors import bad_request

GROUPS = ("product", "day", "month", "country")
FORMATS = ("json", "csv")
MEASURES = (
    "total_quantity",
    "total_sale_amount",
    "orders",
    "returned_quantity",
    "returned_amount",
)
# The fields of a row, in the order JSON and CSV give them; the first is the unique group key.
FIELDS = {
    "product": ("product_id", "description", *MEASURES),
    "day": ("date", *MEASURES),
    "month": ("month", *MEASURES),
    "country": ("country", *MEASURES),
}
DEFAULT_SORT = {
    "product": "-total_sale_amount",
    "day": "date",
    "month": "month",
    "country": "-total_sale_amount",
}
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000


@dataclass(frozen=True)
class SalesQuery:
    """A normalized /sales query: equal queries compare (and cache) equal."""

    group_by: str = "product"
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    country: str | None = None
    product: str | None = None
    sort: str = "-total_sale_amount"
    limit: int = 100
    offset: int = 0

    @property
    def sort_field(self) -> str:
        """The field the rows are sorted by, without its direction."""
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        """Whether the sort is descending."""
        return self.sort.startswith("-")

    def filters(self) -> dict[str, str | None]:
        """Return the filters as ``meta.filters`` shows them."""
        return {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "country": self.country,
            "product": self.product,
        }


def parse_sales_query(args: Mapping[str, str]) -> SalesQuery:
    """Parse and check the query parameters of GET /sales."""
    group_by = params.choice(args.get("group_by"), "group_by", GROUPS, "product")
    date_from = params.date(args, "from")
    date_to = params.date(args, "to")
    if date_from and date_to and date_from > date_to:
        raise bad_request(f"from ({date_from}) must not be after to ({date_to})")
    sort = args.get("sort") or DEFAULT_SORT[group_by]
    if sort.lstrip("-") not in FIELDS[group_by] or sort.count("-") > 1:
        allowed = ", ".join(FIELDS[group_by])
        raise bad_request(
            f"sort must be a field of a {group_by} row ({allowed}), with - for descending, "
            f"not {params.shown(sort)}"
        )
    return SalesQuery(
        group_by=group_by,
        date_from=date_from,
        date_to=date_to,
        country=params.text(args, "country"),
        product=params.text(args, "product"),
        sort=sort,
        limit=params.integer(args, "limit", 100, 1, MAX_LIMIT),
        offset=params.integer(args, "offset", 0, 0, MAX_OFFSET),
    )


def parse_format(args: Mapping[str, str], accept: MIMEAccept) -> str:
    """Return ``json`` or ``csv``: the format parameter wins, then the Accept header."""
    if args.get("format"):
        return params.choice(args.get("format"), "format", FORMATS, None)
    best = accept.best_match(["application/json", "text/csv"])
    return "csv" if best == "text/csv" else "json"

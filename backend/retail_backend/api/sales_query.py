"""What a ``GET /sales`` request asks for: its args parsed and checked into a ``SalesQuery``."""

from __future__ import annotations

from collections.abc import Mapping

from werkzeug.datastructures import MIMEAccept

from ..queries.sales_model import FIELDS, GROUPS, SalesQuery
from . import params
from .errors import bad_request

FORMATS = ("json", "csv")
DEFAULT_SORT = {
    "product": "-total_sale_amount",
    "day": "date",
    "month": "month",
    "country": "-total_sale_amount",
}
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000


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

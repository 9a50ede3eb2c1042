"""What a /sales query is, below HTTP: the SQL reads it, and the API parses requests into it.

Its field tables name every row type's fields, so the SQL's column aliases, the sort whitelist,
the JSON and CSV output and the OpenAPI schemas all come from the same place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

GROUPS = ("product", "day", "month", "country")
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

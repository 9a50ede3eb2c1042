"""Match the header of an "Online Retail" CSV export to the columns of ``online_sales``.

Both layouts of the public export are read (``InvoiceNo``/``Invoice``, ``UnitPrice``/``Price``,
``CustomerID``/``Customer ID``), in any column order; a header that names a column twice, misses
one or adds one is refused as a whole, naming the fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .import_report import CsvImportError

# The header names of each target column, in COPY order; the first is the one messages use.
COLUMNS = {
    "invoice_no": ("InvoiceNo", "Invoice"),
    "stock_code": ("StockCode",),
    "description": ("Description",),
    "quantity": ("Quantity",),
    "invoice_date": ("InvoiceDate",),
    "unit_price": ("UnitPrice", "Price"),
    "customer_id": ("CustomerID", "Customer ID"),
    "country": ("Country",),
}
_ALIASES = {name.lower(): column for column, names in COLUMNS.items() for name in names}


@dataclass(frozen=True)
class Layout:
    """Where each target column sits in the file's records, and the name the header gives it."""

    positions: tuple[int, ...]  # in COPY order
    names: tuple[str, ...]  # in COPY order, as the header writes them
    width: int  # fields per record


def match_header(header: Sequence[str]) -> Layout:
    """Match a header's names to the target columns, or raise CsvImportError naming the fault."""
    positions: dict[str, int] = {}
    names: dict[str, str] = {}
    unknown, repeated = [], []
    for position, raw in enumerate(header):
        name = raw.strip().strip("\ufeff").strip()
        column = _ALIASES.get(name.lower())
        if column is None:
            unknown.append(repr(name))
        elif column in positions:
            repeated.append(name)
        else:
            positions[column], names[column] = position, name
    missing = [" or ".join(COLUMNS[c]) for c in COLUMNS if c not in positions]
    problems = [
        f"{label} {', '.join(items)}"
        for label, items in (
            ("missing column(s)", missing),
            ("unknown column(s)", unknown),
            ("repeated column(s)", repeated),
        )
        if items
    ]
    if problems:
        expected = ", ".join(aliases[0] for aliases in COLUMNS.values())
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
            hint = " (the file does not seem to be separated by commas)"
        raise CsvImportError(f"the header has {'; '.join(problems)}{hint}; expected {expected}")
    return Layout(
        positions=tuple(positions[c] for c in COLUMNS),
        names=tuple(names[c] for c in COLUMNS),
        width=len(header),
    )

"""Expected /sales figures, computed with plain SQL over the source, never by the code under test.

The business rules, restated: a sale is a line of an invoice not starting with 'C' with
quantity > 0 and unit price > 0, worth quantity x price; a return is a line of a 'C' invoice
with quantity < 0 and price >= 0; everything else is rejected. Orders are distinct invoices per
day and country, so they add up over days and countries.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

KEYS = {
    "product": "stock_code",
    "day": "to_char(day, 'YYYY-MM-DD')",
    "month": "to_char(day, 'YYYY-MM')",
    "country": "country",
}
LINES = """
    WITH lines AS (
        SELECT id, invoice_no, stock_code, description, country, quantity, unit_price,
               invoice_date::date AS day,
               CASE
                 WHEN invoice_no NOT LIKE 'C%%' AND quantity > 0 AND unit_price > 0 THEN 'sale'
                 WHEN invoice_no LIKE 'C%%' AND quantity < 0 AND unit_price >= 0 THEN 'return'
               END AS kind
        FROM online_sales
        WHERE (%(from)s::date IS NULL OR invoice_date::date >= %(from)s::date)
          AND (%(to)s::date IS NULL OR invoice_date::date <= %(to)s::date)
          AND (%(country)s::text IS NULL OR country = %(country)s::text)
          AND (%(product)s::text IS NULL OR stock_code = %(product)s::text)
    )
"""
MEASURES = """
    coalesce(sum(quantity) FILTER (WHERE kind = 'sale'), 0),
    coalesce(sum(quantity * unit_price) FILTER (WHERE kind = 'sale'), 0),
    count(DISTINCT (invoice_no, day, country)) FILTER (WHERE kind = 'sale'),
    coalesce(sum(-quantity) FILTER (WHERE kind = 'return'), 0),
    coalesce(sum(-quantity * unit_price) FILTER (WHERE kind = 'return'), 0)
"""
MEASURE_NAMES = (
    "total_quantity",
    "total_sale_amount",
    "orders",
    "returned_quantity",
    "returned_amount",
)


def money(value: Decimal) -> str:
    """Round half up to cents, as the contract says."""
    return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _filters(filters: dict | None) -> dict:
    base = {"from": None, "to": None, "country": None, "product": None}
    base.update(filters or {})
    for name in ("from", "to"):
        if isinstance(base[name], str):
            base[name] = dt.date.fromisoformat(base[name])
    return base


def _measures(values) -> dict:
    quantity, revenue, orders, returned, returned_value = values
    return {
        "total_quantity": int(quantity),
        "total_sale_amount": money(revenue),
        "orders": int(orders),
        "returned_quantity": int(returned),
        "returned_amount": money(returned_value),
    }


def expected_rows(source_db, group_by: str, filters: dict | None = None) -> dict[str, dict]:
    """Return {group key: row figures} (unrounded revenue under ``_revenue``) from the source."""
    sql = LINES + f"SELECT {KEYS[group_by]}, {MEASURES} FROM lines WHERE kind IS NOT NULL "
    sql += "GROUP BY 1"
    with source_db.connect() as conn:
        rows = conn.execute(sql, _filters(filters)).fetchall()
    return {key: {**_measures(values), "_revenue": Decimal(values[1])} for key, *values in rows}


def expected_totals(source_db, filters: dict | None = None) -> dict:
    """Return the totals over every matching line."""
    sql = LINES + f"SELECT {MEASURES} FROM lines WHERE kind IS NOT NULL"
    with source_db.connect() as conn:
        return _measures(conn.execute(sql, _filters(filters)).fetchone())


def expected_descriptions(source_db) -> dict[str, str]:
    """Return each product's newest non-blank description among the lines not rejected."""
    sql = (
        LINES
        + """SELECT DISTINCT ON (stock_code) stock_code, description FROM lines
        WHERE kind IS NOT NULL AND coalesce(btrim(description), '') <> ''
        ORDER BY stock_code, id DESC"""
    )
    with source_db.connect() as conn:
        return dict(conn.execute(sql, _filters(None)).fetchall())


def expected_rejects(source_db) -> int:
    """Count the lines that are neither a sale nor a return."""
    sql = LINES + "SELECT count(*) FROM lines WHERE kind IS NULL"
    with source_db.connect() as conn:
        return conn.execute(sql, _filters(None)).fetchone()[0]

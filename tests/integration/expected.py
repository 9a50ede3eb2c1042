"""Expected figures computed independently, with plain SQL over the source.

The business rules are restated here in SQL on purpose: a test compares the pipeline's pandas
implementation with this second, separate one.
"""

from __future__ import annotations

from decimal import Decimal

CLASSIFIED = """
    WITH lines AS (  -- quantity is widened to bigint: abs(-2^31) overflows integer
        SELECT invoice_no, stock_code, country, quantity, unit_price,
               invoice_date::date AS day,
               CASE
                 WHEN invoice_no NOT LIKE 'C%' AND quantity > 0 AND unit_price > 0 THEN 'sale'
                 WHEN invoice_no LIKE 'C%' AND quantity < 0 AND unit_price >= 0 THEN 'return'
               END AS kind
        FROM online_sales
        WHERE btrim(coalesce(invoice_no, '')) <> '' AND btrim(coalesce(stock_code, '')) <> ''
          AND btrim(coalesce(country, '')) <> '' AND invoice_date >= '1990-01-01'
          AND invoice_date < '2100-01-01' AND abs(quantity::bigint) <= 1000000
          AND unit_price <= 1000000 AND unit_price = round(unit_price, 3)
          AND length(invoice_no) <= 64 AND length(stock_code) <= 64 AND length(country) <= 64
    )
"""

MEASURES = """
    sum(quantity) FILTER (WHERE kind = 'sale') AS units,
    sum(quantity * unit_price) FILTER (WHERE kind = 'sale') AS revenue,
    sum(-quantity) FILTER (WHERE kind = 'return') AS returned_units,
    sum(-quantity * unit_price) FILTER (WHERE kind = 'return') AS returned_value
"""

# orders: distinct invoices per (day, country), summed: an invoice counts once per day and country
SOURCE_QUERIES = {
    "product": CLASSIFIED
    + f"""SELECT stock_code, {MEASURES},
        count(DISTINCT (invoice_no, day, country)) FILTER (WHERE kind = 'sale') AS orders
        FROM lines WHERE kind IS NOT NULL GROUP BY stock_code""",
    "day": CLASSIFIED
    + f"""SELECT day::text, {MEASURES},
        count(DISTINCT (invoice_no, country)) FILTER (WHERE kind = 'sale') AS orders
        FROM lines WHERE kind IS NOT NULL GROUP BY day""",
    "month": CLASSIFIED
    + f"""SELECT to_char(day, 'YYYY-MM'), {MEASURES},
        count(DISTINCT (invoice_no, day, country)) FILTER (WHERE kind = 'sale') AS orders
        FROM lines WHERE kind IS NOT NULL GROUP BY 1""",
    "country": CLASSIFIED
    + f"""SELECT country, {MEASURES},
        count(DISTINCT (invoice_no, day)) FILTER (WHERE kind = 'sale') AS orders
        FROM lines WHERE kind IS NOT NULL GROUP BY country""",
}

_WAREHOUSE_MEASURES = (
    "SUM(f.units_sold), SUM(f.revenue), SUM(f.units_returned), SUM(f.returns_value), SUM(f.orders)"
)
WAREHOUSE_QUERIES = {
    "product": f"""SELECT CONVERT(p.stock_code USING utf8mb4), {_WAREHOUSE_MEASURES}
        FROM daily_product_sales f JOIN products p ON p.product_key = f.product_key
        GROUP BY p.stock_code""",
    "day": f"""SELECT DATE_FORMAT(f.sale_date, '%Y-%m-%d'), {_WAREHOUSE_MEASURES}
        FROM daily_country_sales f GROUP BY f.sale_date""",
    "month": f"""SELECT DATE_FORMAT(f.sale_date, '%Y-%m'), {_WAREHOUSE_MEASURES}
        FROM daily_country_sales f GROUP BY 1""",
    "country": f"""SELECT CONVERT(c.name USING utf8mb4), {_WAREHOUSE_MEASURES}
        FROM daily_country_sales f JOIN countries c ON c.country_key = f.country_key
        GROUP BY c.name""",
}


def _normal(row) -> tuple:
    key, *values = row
    return (key, *(Decimal(v or 0) for v in values))


def source_figures(source_db, grain: str) -> dict:
    """Return {key: (units, revenue, returned units, returned value, orders)} from the source."""
    with source_db.connect() as conn:
        rows = conn.execute(SOURCE_QUERIES[grain]).fetchall()
    return {r[0]: _normal(r)[1:] for r in rows}


def warehouse_figures(warehouse_db, grain: str) -> dict:
    """Return the same figures as the warehouse holds them."""
    conn = warehouse_db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(WAREHOUSE_QUERIES[grain])
            rows = cur.fetchall()
    finally:
        conn.close()
    return {r[0]: _normal(r)[1:] for r in rows}


def warehouse_checksum(warehouse_db) -> str:
    """Return a digest of every aggregate and dimension row, in key order."""
    import hashlib

    digest = hashlib.sha256()
    conn = warehouse_db.connect()
    try:
        with conn.cursor() as cur:
            for table, order in (
                ("daily_product_sales", "sale_date, country_key, product_key"),
                ("daily_country_sales", "sale_date, country_key"),
                ("products", "product_key"),
                ("countries", "country_key"),
            ):
                cur.execute(f"SELECT * FROM {table} ORDER BY {order}")
                for row in cur.fetchall():
                    digest.update(repr(row).encode())
    finally:
        conn.close()
    return digest.hexdigest()

"""The SQL of GET /sales: a page of rows, their count and their totals, from one snapshot.

Product rows come from ``daily_product_sales``. Day, month and country rows come from
``daily_country_sales``, whose ``orders`` are distinct invoices over all products (they do not
add up over products); with a product filter they come from ``daily_product_sales``, where the
orders of one product do add up over days and countries. Totals follow the same rule.

Nothing a user sends is spliced into SQL: filters are parameters, and sorting goes through
``SORT_COLUMNS``, a whitelist of the row's column aliases.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal

import pymysql

from .runs import LastRun, last_success
from .sales_model import FIELDS, SalesQuery

MONTH = "DATE_FORMAT(f.sale_date, '%%Y-%%m')"  # %% because pymysql formats with %


@dataclass(frozen=True)
class Grouping:
    """How one group_by selects, joins, groups and counts its rows."""

    select: str
    joins: str
    group: str
    count: str


GROUPINGS = {
    "product": Grouping(
        "p.stock_code AS `product_id`, p.description AS `description`",
        "JOIN products p ON p.product_key = f.product_key",
        "f.product_key, p.stock_code, p.description",
        "COUNT(DISTINCT f.product_key)",
    ),
    "day": Grouping("f.sale_date AS `date`", "", "f.sale_date", "COUNT(DISTINCT f.sale_date)"),
    "month": Grouping(f"{MONTH} AS `month`", "", MONTH, f"COUNT(DISTINCT {MONTH})"),
    "country": Grouping(
        "c.name AS `country`",
        "JOIN countries c ON c.country_key = f.country_key",
        "f.country_key, c.name",
        "COUNT(DISTINCT f.country_key)",
    ),
}
MEASURES = (
    "SUM(f.units_sold) AS `total_quantity`, SUM(f.revenue) AS `total_sale_amount`, "
    "SUM(f.orders) AS `orders`, SUM(f.units_returned) AS `returned_quantity`, "
    "SUM(f.returns_value) AS `returned_amount`"
)
TOTALS = (
    "COALESCE(SUM(f.units_sold), 0), COALESCE(SUM(f.revenue), 0), COALESCE(SUM(f.orders), 0), "
    "COALESCE(SUM(f.units_returned), 0), COALESCE(SUM(f.returns_value), 0)"
)
# Every field of every row type, as the alias it has in the SELECT; stock codes and country
# names are VARBINARY, so ties sort byte by byte, the same on MySQL and MariaDB.
SORT_COLUMNS = {field: f"`{field}`" for fields in FIELDS.values() for field in fields}


@dataclass(frozen=True)
class SalesSnapshot:
    """One consistent reading of the warehouse for one /sales query."""

    last_run: LastRun
    rows: list[tuple]
    total_rows: int
    totals: tuple[int, Decimal, int, int, Decimal]


def _fact_table(query: SalesQuery) -> str:
    by_product = query.group_by == "product" or query.product is not None
    return "daily_product_sales" if by_product else "daily_country_sales"


def _totals_table(query: SalesQuery) -> str:
    return "daily_product_sales" if query.product is not None else "daily_country_sales"


def _where(query: SalesQuery) -> tuple[str, list]:
    clauses: list[str] = []
    args: list = []
    if query.date_from is not None:
        clauses.append("f.sale_date >= %s")
        args.append(query.date_from)
    if query.date_to is not None:
        clauses.append("f.sale_date <= %s")
        args.append(query.date_to)
    if query.country is not None:
        clauses.append("f.country_key = (SELECT country_key FROM countries WHERE name = %s)")
        args.append(query.country.encode("utf-8", "surrogatepass"))
    if query.product is not None:
        clauses.append("f.product_key = (SELECT product_key FROM products WHERE stock_code = %s)")
        args.append(query.product.encode("utf-8", "surrogatepass"))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def _order_by(query: SalesQuery) -> str:
    key = FIELDS[query.group_by][0]
    order = f"{SORT_COLUMNS[query.sort_field]} {'DESC' if query.descending else 'ASC'}"
    # The group key is unique, so it makes the order total: pages never skip or repeat rows.
    return order if query.sort_field == key else f"{order}, {SORT_COLUMNS[key]} ASC"


def rows_sql(query: SalesQuery) -> tuple[str, list]:
    """Return the SQL and parameters of one page of rows."""
    grouping = GROUPINGS[query.group_by]
    where, args = _where(query)
    sql = (
        f"SELECT {grouping.select}, {MEASURES} FROM {_fact_table(query)} f {grouping.joins}"
        f"{where} GROUP BY {grouping.group} ORDER BY {_order_by(query)} LIMIT %s OFFSET %s"
    )
    return sql, [*args, query.limit, query.offset]


def count_sql(query: SalesQuery) -> tuple[str, list]:
    """Return the SQL and parameters of the number of rows over all pages."""
    where, args = _where(query)
    return f"SELECT {GROUPINGS[query.group_by].count} FROM {_fact_table(query)} f{where}", args


def totals_sql(query: SalesQuery) -> tuple[str, list]:
    """Return the SQL and parameters of the totals over every matching row."""
    where, args = _where(query)
    return f"SELECT {TOTALS} FROM {_totals_table(query)} f{where}", args


def read_sales(conn: pymysql.connections.Connection, query: SalesQuery) -> SalesSnapshot:
    """Read the rows, count, totals and last run of ``query`` in one read-only snapshot."""
    with conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        try:
            last_run = last_success(cur)
            cur.execute(*rows_sql(query))
            rows = list(cur.fetchall())
            cur.execute(*count_sql(query))
            total_rows = int(cur.fetchone()[0])
            cur.execute(*totals_sql(query))
            quantity, revenue, orders, returned, returned_value = cur.fetchone()
            cur.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                conn.rollback()
            raise
    totals = (int(quantity), Decimal(revenue), int(orders), int(returned), Decimal(returned_value))
    return SalesSnapshot(last_run, rows, total_rows, totals)

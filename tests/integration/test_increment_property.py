"""Property: after any sequence of source operations, each followed by an incremental run, the
warehouse serves what a full run of the same source serves.

The operations are the ones users perform: insert lines, update them, delete them, move them to
another day, and replace the table's contents (truncate, then reload part of it with the rows'
old values, changed_xid included, as a restore does). Small sources keep each example quick.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import dbtools
from tests.api.sample import insert_lines, sample_lines
from tests.integration.test_trusted_increments import (
    assert_serves_what_a_full_run_serves,
    run,
    settings_for,
)

pytestmark = pytest.mark.slow

SELECT = "SELECT id FROM online_sales WHERE mod(id, {m}) = {r}"
OPERATIONS = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 60), st.integers(1, 5)),
    st.tuples(st.just("update"), st.integers(2, 9), st.integers(0, 8)),
    st.tuples(st.just("delete"), st.integers(3, 12), st.integers(0, 11)),
    st.tuples(st.just("move"), st.integers(2, 9), st.integers(-40, 40)),
    st.tuples(st.just("replace"), st.integers(2, 5), st.integers(0, 4)),
)


def apply(source_db, operation: tuple) -> None:
    kind, a, b = operation
    with source_db.connect() as conn:
        if kind == "insert":  # b more copies of the lines of day offset a, a day later
            conn.execute(
                "INSERT INTO online_sales (invoice_no, stock_code, description, quantity, "
                "invoice_date, unit_price, customer_id, country) "
                "SELECT invoice_no || '-' || g, stock_code, description, quantity, "
                "invoice_date + interval '1 day', unit_price, customer_id, country "
                "FROM online_sales, generate_series(1, %s) g WHERE invoice_date::date = "
                "(SELECT min(invoice_date)::date FROM online_sales) + %s",
                (b, a),
            )
        elif kind == "update":
            conn.execute(
                f"UPDATE online_sales SET quantity = quantity * 2 WHERE id IN "
                f"({SELECT.format(m=a, r=b % a)})"
            )
        elif kind == "delete":
            conn.execute(f"DELETE FROM online_sales WHERE id IN ({SELECT.format(m=a, r=b % a)})")
        elif kind == "move":
            conn.execute(
                f"UPDATE online_sales SET invoice_date = invoice_date + %s * interval '1 day' "
                f"WHERE id IN ({SELECT.format(m=a, r=0)})",
                (b,),
            )
        else:  # replace: keep the lines with id mod a != b mod a, truncate, load them back
            conn.execute(
                f"CREATE TEMPORARY TABLE kept AS SELECT * FROM online_sales WHERE id NOT IN "
                f"({SELECT.format(m=a, r=b % a)})"
            )
            conn.execute("TRUNCATE online_sales")
            conn.execute("INSERT INTO online_sales SELECT * FROM kept")
        conn.commit()


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(OPERATIONS, min_size=1, max_size=3))
def test_incremental_runs_after_any_operations_serve_what_a_full_run_serves(
    postgres_server, mysql_server, operations
):
    source = dbtools.create_source_db()
    warehouse = dbtools.create_warehouse_db()
    try:
        insert_lines(source, sample_lines())
        current = settings_for(source.url, warehouse)
        run(current, "full")
        for operation in operations:
            apply(source, operation)
            record = run(current)
            assert record["mode"] == "incremental"
            assert_serves_what_a_full_run_serves(source.url, warehouse)
    finally:
        source.drop()
        warehouse.drop()

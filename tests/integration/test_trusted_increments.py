"""Incremental runs that know when they cannot be trusted, and verify / repair.

Every case ends the same way: what the warehouse holds after the incremental run equals what a
fresh full run into an empty warehouse holds, row for row at both grains (fact_rows).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from retail_backend.config import Settings
from retail_backend.etl import pipeline
from retail_backend.etl.runs import WarehouseOutdated
from retail_backend.etl.trust import MARKER_REASONS, NO_MARKERS, UNKNOWN_SOURCE
from tests import dbtools
from tests.api.sample import insert_lines, sample_lines
from tests.integration.second_cluster import second_cluster

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FACT_SQL = {
    "country": """SELECT f.sale_date, CONVERT(c.name USING utf8mb4), f.units_sold, f.revenue,
            f.orders, f.units_returned, f.returns_value, f.return_orders
        FROM daily_country_sales f JOIN countries c ON c.country_key = f.country_key""",
    "product": """SELECT f.sale_date, CONVERT(c.name USING utf8mb4),
            CONVERT(p.stock_code USING utf8mb4), f.units_sold, f.revenue, f.orders,
            f.units_returned, f.returns_value
        FROM daily_product_sales f JOIN countries c ON c.country_key = f.country_key
        JOIN products p ON p.product_key = f.product_key""",
}


def fact_rows(warehouse_db) -> dict[str, set[tuple]]:
    """Every fact row by its natural keys (surrogate keys differ between warehouses)."""
    conn = warehouse_db.connect()
    try:
        with conn.cursor() as cur:
            found = {}
            for grain, sql in FACT_SQL.items():
                cur.execute(sql)
                found[grain] = set(cur.fetchall())
            return found
    finally:
        conn.close()


def settings_for(source_url: str, warehouse_db) -> Settings:
    return Settings(
        source_db_url=source_url,
        warehouse_db_url=warehouse_db.url,
        heartbeat_seconds=0.5,
        chunk_rows=40_000,
    )


def fresh_full_rows(source_url: str) -> dict[str, set[tuple]]:
    """What a full run of the source into an empty warehouse loads."""
    fresh = dbtools.create_warehouse_db()
    try:
        record = pipeline.run(settings_for(source_url, fresh), mode="full")
        assert record["status"] == "succeeded", record["error_message"]
        return fact_rows(fresh)
    finally:
        fresh.drop()


def run(settings: Settings, mode: str = "incremental") -> dict:
    """Run once; the record with its result (a verify's findings) parsed."""
    record = pipeline.run(settings, mode=mode)
    assert record["status"] == "succeeded", record["error_message"]
    return {**record, "result": json.loads(record["result"]) if record["result"] else None}


def assert_serves_what_a_full_run_serves(source_url: str, warehouse_db) -> None:
    expected = fresh_full_rows(source_url)
    actual = fact_rows(warehouse_db)
    for grain in expected:
        assert actual[grain] == expected[grain], (
            grain,
            sorted(actual[grain] - expected[grain])[:3],
            sorted(expected[grain] - actual[grain])[:3],
        )


@pytest.fixture
def settings(seeded_source_db, warehouse_db) -> Settings:
    return settings_for(seeded_source_db.url, warehouse_db)


def execute(source_db, *statements: str, replica: bool = False) -> None:
    with source_db.connect(autocommit=False) as conn:
        if replica:  # what bypasses every trigger
            conn.execute("SET LOCAL session_replication_role = replica")
        for statement in statements:
            conn.execute(statement)
        conn.commit()


# TRUNCATE -------------------------------------------------------------------------------------


def test_truncate_and_partial_reload_rebuilds_in_full_and_says_why(
    settings, seeded_source_db, warehouse_db
):
    first = run(settings, "full")
    assert first["full_reason"] == "requested"
    # The usual way to replace a table's contents: keep a copy, truncate, load part of it back
    # (with the rows' old changed_xid values, as a COPY of a dump brings them).
    execute(
        seeded_source_db,
        "CREATE TABLE kept AS SELECT * FROM online_sales WHERE invoice_date::date < "
        "(SELECT min(invoice_date)::date + 200 FROM online_sales)",
        "TRUNCATE online_sales",
        "INSERT INTO online_sales SELECT * FROM kept",
        "DROP TABLE kept",
    )
    record = run(settings)
    assert record["mode"] == "incremental"
    assert record["full_reason"] == MARKER_REASONS["truncate"]
    assert_serves_what_a_full_run_serves(seeded_source_db.url, warehouse_db)
    after = run(settings)
    assert after["full_reason"] is None and after["rows_extracted"] == 0


def test_a_truncated_change_log_rebuilds_in_full(settings, seeded_source_db, warehouse_db):
    run(settings, "full")
    # An update moves lines to another day; the log row naming the old day is then lost.
    execute(
        seeded_source_db,
        "UPDATE online_sales SET invoice_date = invoice_date + interval '3 days' "
        "WHERE id IN (SELECT id FROM online_sales ORDER BY id LIMIT 50)",
        "TRUNCATE online_sales_changes",
    )
    record = run(settings)
    assert record["full_reason"] == MARKER_REASONS["log_truncate"]
    assert_serves_what_a_full_run_serves(seeded_source_db.url, warehouse_db)


def test_cutting_unread_log_rows_rebuilds_but_pruning_read_ones_does_not(
    settings, seeded_source_db, warehouse_db
):
    run(settings, "full")
    execute(seeded_source_db, "DELETE FROM online_sales WHERE id % 1000 = 0")
    run(settings)  # reads those deletions
    execute(seeded_source_db, "DELETE FROM online_sales_changes")  # pruning what was read
    pruned = run(settings)
    assert pruned["full_reason"] is None and pruned["rows_extracted"] == 0
    execute(
        seeded_source_db,
        "DELETE FROM online_sales WHERE id % 1000 = 1",
        "DELETE FROM online_sales_changes WHERE kind = 'row'",  # before any run read them
    )
    cut = run(settings)
    assert cut["full_reason"] == MARKER_REASONS["log_cut"]
    assert_serves_what_a_full_run_serves(seeded_source_db.url, warehouse_db)


# Another source -------------------------------------------------------------------------------


def add_lines(url: str, count: int, day: str = "2011-12-09") -> None:
    """Append ``count`` sale lines of one product on ``day`` (units 5, price 7.28 each)."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO online_sales (invoice_no, stock_code, description, quantity, "
            "invoice_date, unit_price, customer_id, country) "
            "SELECT 'R' || g, '85123A', 'WHITE HANGING HEART T-LIGHT HOLDER', 5, "
            "%s::timestamp + g * interval '1 minute' / 10, 7.28, 17850, 'United Kingdom' "
            "FROM generate_series(1, %s) g",
            (day, count),
        )


def test_a_source_restored_onto_another_server_is_rebuilt_then_incremental_again(
    settings, seeded_source_db, warehouse_db
):
    add_lines(seeded_source_db.url, 10)  # rows written by a later transaction than the seed
    first = run(settings, "full")
    with second_cluster() as cluster:
        subprocess.run(
            [cluster.tool("createdb"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U",
             "postgres", "retail"],
            check=True, capture_output=True,
        )  # fmt: skip
        dump = subprocess.run(
            [cluster.tool("pg_dump"), "--no-owner", "--no-privileges", seeded_source_db.url],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [cluster.tool("psql"), "-q", "-v", "ON_ERROR_STOP=1", cluster.url("retail")],
            input=dump.stdout, check=True, capture_output=True,
        )  # fmt: skip
        moved = settings.replace(source_db_url=cluster.url("retail"))
        add_lines(cluster.url("retail"), 500, day="2011-12-08")
        record = run(moved)
        assert record["full_reason"].startswith("the source is another server"), record
        assert record["source_identity"] != first["source_identity"]
        assert_serves_what_a_full_run_serves(cluster.url("retail"), warehouse_db)
        add_lines(cluster.url("retail"), 3, day="2011-12-07")
        again = run(moved)
        assert again["full_reason"] is None
        assert 3 <= again["rows_extracted"] < record["rows_extracted"] / 10
        assert_serves_what_a_full_run_serves(cluster.url("retail"), warehouse_db)


def test_a_database_made_again_on_the_same_server_is_rebuilt(
    settings, seeded_source_db, warehouse_db
):
    run(settings, "full")
    copy = dbtools.SourceDB(f"{seeded_source_db.name}_copy")
    with dbtools.pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{copy.name}" TEMPLATE "{seeded_source_db.name}"')
    try:
        execute(copy, "DELETE FROM online_sales WHERE id % 7 = 0", replica=True)
        record = run(settings.replace(source_db_url=copy.url))
        assert record["full_reason"].startswith("the source is another database"), record
        assert_serves_what_a_full_run_serves(copy.url, warehouse_db)
    finally:
        copy.drop()


def set_last_watermark(warehouse_db, snapshot: str | None = None, identity=...) -> None:
    conn = warehouse_db.connect(autocommit=True)
    try:
        with conn.cursor() as cur:
            if snapshot is not None:
                cur.execute(
                    "UPDATE etl_runs SET watermark_after = %s ORDER BY id DESC LIMIT 1",
                    (snapshot,),
                )
            if identity is not ...:
                cur.execute(
                    "UPDATE etl_runs SET source_identity = %s ORDER BY id DESC LIMIT 1",
                    (identity,),
                )
    finally:
        conn.close()


def test_a_counter_behind_the_watermark_rebuilds_and_the_watermark_never_goes_back_silently(
    settings, seeded_source_db, warehouse_db
):
    run(settings, "full")
    ahead = 4_000_000_000
    set_last_watermark(warehouse_db, f"{ahead}:{ahead}:")
    add_lines(seeded_source_db.url, 5)
    record = run(settings)
    assert "transaction counter" in record["full_reason"] and str(ahead) in record["full_reason"]
    assert record["watermark_before"] == f"{ahead}:{ahead}:"
    assert int(record["watermark_after"].split(":")[1]) < ahead  # went back, and said why
    assert_serves_what_a_full_run_serves(seeded_source_db.url, warehouse_db)
    assert run(settings)["full_reason"] is None


def test_a_watermark_written_before_sources_were_recorded_rebuilds_once(
    settings, seeded_source_db, warehouse_db
):
    run(settings, "full")
    set_last_watermark(warehouse_db, identity=None)
    assert run(settings)["full_reason"] == UNKNOWN_SOURCE
    assert run(settings)["full_reason"] is None


# verify and repair ----------------------------------------------------------------------------


def days_of(source_db, where: str) -> set[str]:
    with source_db.connect() as conn:
        rows = conn.execute(
            f"SELECT DISTINCT invoice_date::date::text FROM online_sales WHERE {where}"
        ).fetchall()
    return {row[0] for row in rows}


def test_verify_names_exactly_the_days_changed_behind_the_triggers_and_repair_fixes_them(
    settings, seeded_source_db, warehouse_db
):
    run(settings, "full")
    clean = run(settings, "verify")
    assert clean["result"]["days_differing"] == 0 and clean["result"]["days"] == []
    assert clean["rows_loaded"] == 0 and clean["watermark_after"] is None
    # Three kinds of change no trigger sees: a quantity, a deleted line, a product renamed.
    with seeded_source_db.connect() as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT min(id) FROM online_sales WHERE invoice_no NOT LIKE 'C%%' AND quantity > 0 "
            "AND unit_price > 0 GROUP BY invoice_date::date ORDER BY 1 LIMIT 3"
        ).fetchall()]  # fmt: skip
    changed = days_of(seeded_source_db, f"id IN ({', '.join(map(str, ids))})")
    execute(
        seeded_source_db,
        f"UPDATE online_sales SET quantity = quantity + 1 WHERE id = {ids[0]}",
        f"DELETE FROM online_sales WHERE id = {ids[1]}",
        f"UPDATE online_sales SET stock_code = stock_code || 'X' WHERE id = {ids[2]}",
        replica=True,
    )
    found = run(settings, "verify")["result"]
    assert set(found["days"]) == changed and found["days_differing"] == 3
    assert all(detail["products"] for detail in found["details"])
    # An incremental run does not see them: that is what verify is for.
    assert run(settings)["rows_extracted"] == 0
    repaired = run(settings, "repair")
    assert set(repaired["result"]["days"]) == changed
    assert repaired["watermark_after"] == repaired["watermark_before"]
    assert run(settings, "verify")["result"]["days_differing"] == 0
    assert_serves_what_a_full_run_serves(seeded_source_db.url, warehouse_db)


def test_verify_counts_days_an_incremental_run_will_rebuild_as_pending(
    settings, seeded_source_db, warehouse_db
):
    run(settings, "full")
    add_lines(seeded_source_db.url, 4, day="2011-12-09")
    found = run(settings, "verify")["result"]
    assert (found["days_differing"], found["days_pending"]) == (0, 1)


def test_verify_finds_a_day_that_vanished_from_the_source(settings, seeded_source_db, warehouse_db):
    run(settings, "full")
    [day] = sorted(days_of(seeded_source_db, "true"))[:1]
    execute(seeded_source_db, f"DELETE FROM online_sales WHERE invoice_date::date = '{day}'",
            replica=True)  # fmt: skip
    found = run(settings, "verify")["result"]
    assert found["days"] == [day]
    assert found["details"][0]["vanished"] is True
    run(settings, "repair")
    assert run(settings, "verify")["result"]["days_differing"] == 0


def test_a_repair_that_finds_nothing_loads_nothing(settings, warehouse_db):
    run(settings, "full")
    repaired = run(settings, "repair")
    assert repaired["result"]["days_differing"] == 0
    assert repaired["keys_inserted"] == repaired["keys_updated"] == 0


def test_a_source_not_yet_upgraded_rebuilds_and_says_how_to_upgrade_it(
    postgres_server, warehouse_db
):
    """A source made by an earlier version has no TRUNCATE markers: every run would miss one."""
    source = dbtools.SourceDB(f"t_srcv1_{uuid.uuid4().hex[:10]}")
    with dbtools.pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{source.name}"')
    try:
        with source.connect(autocommit=True) as conn:
            conn.execute((FIXTURES / "source-schema-v1.sql").read_text())
        insert_lines(source, sample_lines())
        settings = settings_for(source.url, warehouse_db)
        run(settings, "full")
        assert run(settings)["full_reason"] == NO_MARKERS
        with source.connect(autocommit=True) as conn:  # what deploy.sh does on an upgrade
            dbtools.run_pg_script(conn, dbtools.PG_INIT / "01-schema.sql")
        upgraded = run(settings)
        assert upgraded["full_reason"] is None and upgraded["rows_extracted"] == 0
    finally:
        source.drop()


def test_a_warehouse_not_yet_migrated_fails_the_run_saying_how_to_upgrade_it(
    mysql_server, seeded_source_db
):
    old = dbtools.create_warehouse_db("t_dwv1", [FIXTURES / "warehouse-schema-v1.sql"])
    try:
        with pytest.raises(WarehouseOutdated, match="run ./deploy.sh"):
            pipeline.run(settings_for(seeded_source_db.url, old))
        with dbtools.mysql_admin(old.name) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM etl_runs")
            assert cur.fetchone() == (0,)  # refused before anything was written
    finally:
        old.drop()

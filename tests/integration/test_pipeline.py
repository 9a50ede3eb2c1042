"""The pipeline on real PostgreSQL and MariaDB: exact, idempotent, incremental, one at a time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from retail_backend.config import Settings
from retail_backend.etl import pipeline
from retail_backend.etl.runs import RunInProgress
from tests.integration.expected import source_figures, warehouse_checksum, warehouse_figures

BACKEND = Path(__file__).resolve().parents[2] / "backend"
GRAINS = ("product", "day", "month", "country")


@pytest.fixture
def settings(seeded_source_db, warehouse_db) -> Settings:
    return Settings(
        source_db_url=seeded_source_db.url,
        warehouse_db_url=warehouse_db.url,
        heartbeat_seconds=0.5,
        chunk_rows=40_000,  # several chunks even for the seed
    )


def assert_matches_source(source_db, warehouse_db) -> None:
    for grain in GRAINS:
        expected = source_figures(source_db, grain)
        actual = warehouse_figures(warehouse_db, grain)
        assert actual.keys() == expected.keys(), grain
        differing = {k: (actual[k], expected[k]) for k in expected if actual[k] != expected[k]}
        assert not differing, f"{grain}: {list(differing.items())[:3]}"


def test_full_run_gives_exact_totals_per_product_day_month_and_country(
    settings, seeded_source_db, warehouse_db
):
    record = pipeline.run(settings, mode="full")
    assert record["status"] == "succeeded", record["error_message"]
    assert record["rows_extracted"] == record["rows_loaded"] + record["rows_rejected"]
    with seeded_source_db.connect() as conn:
        lines = conn.execute("SELECT count(*) FROM online_sales").fetchone()[0]
    assert record["rows_extracted"] == lines
    assert record["rows_rejected"] > 0 and record["duplicate_lines"] > 0
    assert_matches_source(seeded_source_db, warehouse_db)


def test_second_run_changes_nothing(settings, warehouse_db):
    assert pipeline.run(settings, mode="full")["status"] == "succeeded"
    before = warehouse_checksum(warehouse_db)
    again_full = pipeline.run(settings, mode="full")
    again_incremental = pipeline.run(settings)
    assert warehouse_checksum(warehouse_db) == before
    for record in (again_full, again_incremental):
        assert record["status"] == "succeeded"
        assert (record["keys_inserted"], record["keys_updated"], record["keys_deleted"]) == (
            0,
            0,
            0,
        )
    assert again_incremental["rows_extracted"] == 0


def test_incremental_runs_pick_up_new_updated_and_late_lines(
    settings, seeded_source_db, warehouse_db
):
    assert pipeline.run(settings)["status"] == "succeeded"  # the first run reads everything
    with seeded_source_db.connect() as conn:
        conn.execute(
            "INSERT INTO online_sales (invoice_no, stock_code, description, quantity, "
            "invoice_date, unit_price, customer_id, country) "
            "SELECT '900001', 'NEW-1', 'A NEW PRODUCT', 5, max(invoice_date), 2.50, 12345, "
            "'Iceland' FROM online_sales"
        )
    record = pipeline.run(settings)
    assert record["status"] == "succeeded" and record["keys_inserted"] >= 2
    assert_matches_source(seeded_source_db, warehouse_db)

    with seeded_source_db.connect() as conn:  # an update moves a line to another day
        conn.execute(
            "UPDATE online_sales SET quantity = quantity + 7, "
            "invoice_date = invoice_date - interval '3 days' "
            "WHERE id = (SELECT min(id) FROM online_sales WHERE invoice_no NOT LIKE 'C%' "
            "AND quantity > 0 AND unit_price > 0)"
        )
    record = pipeline.run(settings)
    assert record["status"] == "succeeded" and record["keys_updated"] >= 1
    assert_matches_source(seeded_source_db, warehouse_db)

    with seeded_source_db.connect() as conn:  # a late line, 200 days back, on an existing key
        stock_code, country, day = conn.execute(
            "SELECT stock_code, country, invoice_date FROM online_sales "
            "WHERE invoice_date < "
            "(SELECT max(invoice_date) - interval '199 days' FROM online_sales)"
            " AND invoice_no NOT LIKE 'C%' AND quantity > 0 AND unit_price > 0 "
            "ORDER BY invoice_date DESC LIMIT 1"
        ).fetchone()
        conn.execute(
            "INSERT INTO online_sales (invoice_no, stock_code, description, quantity, "
            "invoice_date, unit_price, customer_id, country) "
            "VALUES ('900002', %s, 'LATE LINE', 3, %s, 1.25, NULL, %s)",
            (stock_code, day, country),
        )
    record = pipeline.run(settings)
    assert record["status"] == "succeeded"
    assert record["keys_updated"] >= 2 and record["keys_inserted"] == 0
    assert_matches_source(seeded_source_db, warehouse_db)


@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_vanished_product_and_day_leave_the_warehouse(
    mode, settings, seeded_source_db, warehouse_db
):
    assert pipeline.run(settings, mode="full")["status"] == "succeeded"
    with seeded_source_db.connect() as conn:
        stock_code = conn.execute(
            "SELECT stock_code FROM online_sales GROUP BY 1 ORDER BY count(*) LIMIT 1"
        ).fetchone()[0]
        day = conn.execute("SELECT min(invoice_date)::date FROM online_sales").fetchone()[0]
        conn.execute("DELETE FROM online_sales WHERE stock_code = %s", (stock_code,))
        conn.execute("DELETE FROM online_sales WHERE invoice_date::date = %s", (day,))
    record = pipeline.run(settings, mode=mode)
    assert record["status"] == "succeeded" and record["keys_deleted"] > 0
    assert stock_code not in warehouse_figures(warehouse_db, "product")
    assert str(day) not in warehouse_figures(warehouse_db, "day")
    assert_matches_source(seeded_source_db, warehouse_db)


def test_two_runs_started_at_once_give_one_run_and_one_refusal(settings, warehouse_db):
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def trigger() -> None:
        barrier.wait()
        try:
            outcomes.append(pipeline.run(settings, mode="full")["status"])
        except RunInProgress as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=trigger) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(map(type, outcomes), key=str) == sorted([str, RunInProgress], key=str)
    refusal = next(o for o in outcomes if isinstance(o, RunInProgress))
    assert refusal.run_id is not None
    conn = warehouse_db.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT status FROM etl_runs")
        assert [r[0] for r in cur.fetchall()] == ["succeeded"]
    conn.close()


def _run_status(warehouse_db, run_id=None):
    conn = warehouse_db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT id, status, stage FROM etl_runs ORDER BY id DESC LIMIT 1"
                if run_id is None
                else "SELECT id, status, stage FROM etl_runs WHERE id = %s",
                () if run_id is None else (run_id,),
            )
            return cur.fetchone()
    finally:
        conn.close()


def test_sigkill_during_load_leaves_warehouse_unchanged_and_next_run_succeeds(
    settings, seeded_source_db, warehouse_db
):
    assert pipeline.run(settings, mode="full")["status"] == "succeeded"
    before = warehouse_checksum(warehouse_db)
    with seeded_source_db.connect() as conn:
        conn.execute("UPDATE online_sales SET quantity = quantity + 1 WHERE id % 50 = 0")
    # Hold a row lock the merge needs, so the load stage lasts until the process is killed.
    blocker = warehouse_db.connect(autocommit=False)
    with blocker.cursor() as cur:
        cur.execute("SELECT * FROM daily_country_sales FOR UPDATE")
    env = {
        **os.environ,
        "SOURCE_DB_URL": settings.source_db_url,
        "WAREHOUSE_DB_URL": settings.warehouse_db_url,
        "ETL_HEARTBEAT_SECONDS": "0.5",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "etl", "run", "--mode", "full"],
        cwd=BACKEND,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run_id, status, stage = _run_status(warehouse_db)
            if run_id > 1 and stage == "load":
                break
            assert process.poll() is None, "the run ended before its load stage"
            time.sleep(0.02)
        else:
            pytest.fail("the run never reached the load stage")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        blocker.rollback()
        blocker.close()
    assert warehouse_checksum(warehouse_db) == before
    record = pipeline.run(settings, mode="full")
    assert record["status"] == "succeeded"
    killed = _run_status(warehouse_db, run_id)
    assert killed[1] == "failed"
    assert_matches_source(seeded_source_db, warehouse_db)

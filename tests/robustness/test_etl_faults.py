"""Faults in the middle of a run: a database connection killed, the ETL process killed or frozen.

Each fault strikes a run held at a known point by a lock the test takes (a row lock in the
warehouse, a table lock in the source), so it lands exactly there. After it the run is failed
with a one-line error that holds no password, the warehouse is unchanged, the run lock is free
(a new trigger is accepted within three heartbeats) and the next run gives exactly the figures
of a clean run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from retail_backend.config import Settings
from retail_backend.db import source_url, warehouse_url
from retail_backend.etl import pipeline
from retail_backend.etl.runs import LOCK_PREFIX, RunInProgress, RunRecorder
from tests import dbtools
from tests.api.conftest import make_settings
from tests.api.sample import FIRST_DAY, insert_lines, sample_lines
from tests.integration.expected import source_figures, warehouse_checksum, warehouse_figures

BACKEND = Path(__file__).resolve().parents[2] / "backend"
HEARTBEAT = 0.5  # seconds, for the runs in this process and in the ETL processes alike
CHUNK_ROWS = 60  # the sample's 270 lines make several windows
GRAINS = ("product", "day", "month", "country")
WAIT = 30.0  # seconds a run may take to reach the point a test holds it at


@pytest.fixture
def settings_with_passwords(source_db, warehouse_db) -> Iterator[Settings]:
    """Settings whose URLs both hold a password, so an error message could leak one.

    The warehouse gets its own user with a password; PostgreSQL trusts local connections and
    never asks for the one in the source URL, which is there only to be looked for.
    """
    user, password = f"t_etl_{uuid.uuid4().hex[:8]}", f"pw{uuid.uuid4().hex}"
    with dbtools.mysql_admin() as admin, admin.cursor() as cur:
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
        cur.execute(f"GRANT ALL ON `{warehouse_db.name}`.* TO %s@'%%'", (user,))
    yield make_settings(
        f"postgresql://{dbtools.PG_USER}:src{password}@{dbtools.PG_HOST}:{dbtools.PG_PORT}/"
        f"{source_db.name}",
        f"mysql://{user}:{password}@{dbtools.MYSQL_HOST}:{dbtools.MYSQL_PORT}/{warehouse_db.name}",
        heartbeat_seconds=HEARTBEAT,
        chunk_rows=CHUNK_ROWS,
    )
    with dbtools.mysql_admin() as admin, admin.cursor() as cur:
        cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))


@pytest.fixture
def loaded_then_changed(settings_with_passwords, source_db, warehouse_db) -> str:
    """Load the sample, then change the source so the next run has work; return the checksum."""
    insert_lines(source_db, sample_lines())
    assert pipeline.run(settings_with_passwords, mode="full")["status"] == "succeeded"
    with source_db.connect() as conn:
        conn.execute("UPDATE online_sales SET quantity = quantity + 1 WHERE id % 7 = 0")
        # a new product on the first day: the first chunk must insert it into products
        conn.execute(
            "INSERT INTO online_sales (invoice_no, stock_code, description, quantity, "
            "invoice_date, unit_price, customer_id, country) "
            "VALUES ('580001', 'NEW-1', 'NEW PRODUCT', 2, %s, 4.50, NULL, 'France')",
            (f"{FIRST_DAY} 16:00",),
        )
    return warehouse_checksum(warehouse_db)


# -- holding a run at a known point ---------------------------------------------------------


@contextlib.contextmanager
def _warehouse_rows_locked(warehouse_db, table: str, waiter: str) -> Iterator[str]:
    """Lock every row and gap of ``table``; yield how the run's waiting statement starts."""
    blocker = warehouse_db.connect(autocommit=False)
    try:
        with blocker.cursor() as cur:
            cur.execute(f"SELECT * FROM {table} FOR UPDATE")
        yield waiter
    finally:
        blocker.rollback()
        blocker.close()


def merge_held(source_db, warehouse_db):
    """Hold a row lock the merge needs: the run waits in its load stage."""
    return _warehouse_rows_locked(warehouse_db, "daily_country_sales", "UPDATE daily_country_sales")


def staging_held(source_db, warehouse_db):
    """Lock every products row and gap: the first chunk waits to insert its new product."""
    return _warehouse_rows_locked(warehouse_db, "products", "INSERT INTO products")


@contextlib.contextmanager
def source_held(source_db, warehouse_db) -> Iterator[None]:
    """Lock online_sales against reads: the extract waits on its first query."""
    blocker = source_db.connect()
    try:
        blocker.execute("LOCK TABLE online_sales IN ACCESS EXCLUSIVE MODE")
        yield None
    finally:
        blocker.rollback()
        blocker.close()


HOLDS: dict[str, Callable] = {
    "load": merge_held,
    "extract": staging_held,
    "first_read": source_held,
}


def poll(what: str, probe: Callable[[], object], timeout: float = WAIT) -> object:
    """Return the first truthy result of ``probe``, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def waiting_warehouse_connection(warehouse_db, statement: str) -> int:
    """Return the id of the warehouse connection running a statement that starts so."""

    def probe():
        with dbtools.mysql_admin() as admin, admin.cursor() as cur:
            cur.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND INFO LIKE %s",
                (warehouse_db.name, statement + "%"),
            )
            row = cur.fetchone()
        return row and row[0]

    return poll(f"a connection running {statement}", probe)


def extract_backend(source_db, waiting_on_lock: bool = False) -> int:
    """Return the pid of the run's source connection (the ADBC one of the extract)."""

    def probe():
        with dbtools.pg_admin() as admin:
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                "AND application_name = 'retail-etl-extract' "
                "AND (NOT %s OR wait_event_type = 'Lock')",
                (source_db.name, waiting_on_lock),
            ).fetchone()
        return row and row[0]

    return poll("the extract's connection", probe)


def reach(hold: str, held: str | None, source_db, warehouse_db) -> int | None:
    """Wait until the run waits at the hold; return the waiting warehouse connection if any."""
    if held is None:
        extract_backend(source_db, waiting_on_lock=True)
        return None
    return waiting_warehouse_connection(warehouse_db, held)


# -- what every fault must leave behind ------------------------------------------------------


def newest_run(warehouse_db) -> dict:
    conn = warehouse_db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT id, status, stage, error_message, lock_connection_id FROM etl_runs "
                "ORDER BY id DESC LIMIT 1"
            )
            keys = ("id", "status", "stage", "error_message", "lock_connection_id")
            return dict(zip(keys, cur.fetchone(), strict=True))
    finally:
        conn.close()


def run_status(warehouse_db, run_id: int) -> tuple[str, str | None]:
    conn = warehouse_db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT status, error_message FROM etl_runs WHERE id = %s", (run_id,))
            return cur.fetchone()
    finally:
        conn.close()


def assert_clear_failure(status: str, message: str | None, settings: Settings) -> None:
    """The run is failed with one line of error, no traceback and no password."""
    assert status == "failed", status
    assert message and "\n" not in message and "Traceback" not in message, message
    for url in (source_url(settings), warehouse_url(settings)):
        assert url.password not in message, "the error message leaks a password"


def lock_is_free(warehouse_db) -> bool:
    with dbtools.mysql_admin() as admin, admin.cursor() as cur:
        cur.execute("SELECT IS_FREE_LOCK(%s)", ((LOCK_PREFIX + warehouse_db.name)[:64],))
        return cur.fetchone()[0] == 1


def differing_keys(source_db, warehouse_db) -> int:
    """Count the keys whose figures differ from the source's, over every grain."""
    wrong = 0
    for grain in GRAINS:
        expected = source_figures(source_db, grain)
        actual = warehouse_figures(warehouse_db, grain)
        wrong += sum(actual.get(k) != expected.get(k) for k in expected.keys() | actual.keys())
    return wrong


def accept_trigger(settings: Settings, since: float) -> tuple[RunRecorder, float]:
    """Trigger a run until it is accepted; return it and the seconds since ``since``."""
    while True:
        try:
            recorder = pipeline.start_run(settings, mode="full", triggered_by="test")
        except RunInProgress:
            if time.monotonic() - since > 20 * HEARTBEAT:
                pytest.fail(f"no trigger accepted in {20 * HEARTBEAT} s")
            time.sleep(0.01)
            continue
        return recorder, time.monotonic() - since


# -- connection_killed ------------------------------------------------------------------------


@pytest.mark.campaign("connection_killed")
@pytest.mark.parametrize(
    ("victim", "hold"),
    [
        ("load", "load"),  # the load transaction's connection, waiting in the merge
        ("lock", "load"),  # the lock and progress connection, while the merge waits
        ("load", "extract"),  # the load connection, staging the first chunk
        ("source", "first_read"),  # the source connection, waiting on its first query
        ("source", "extract"),  # the source connection, with chunks read and more to come
    ],
)
def test_killed_connection_fails_the_run_cleanly_and_the_next_run_is_exact(
    victim,
    hold,
    settings_with_passwords,
    loaded_then_changed,
    source_db,
    warehouse_db,
    campaign,
):
    settings = settings_with_passwords
    with ThreadPoolExecutor(max_workers=1) as pool:
        with HOLDS[hold](source_db, warehouse_db) as held:
            running = pool.submit(pipeline.run, settings, "full", "test")
            waiting = reach(hold, held, source_db, warehouse_db)
            if victim == "source":
                with dbtools.pg_admin() as admin:
                    pid = extract_backend(source_db)
                    assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
            else:
                target = (
                    newest_run(warehouse_db)["lock_connection_id"] if victim == "lock" else waiting
                )
                with dbtools.mysql_admin() as admin, admin.cursor() as cur:
                    cur.execute(f"KILL {int(target)}")
        record = running.result(timeout=WAIT)

    unchanged = warehouse_checksum(warehouse_db) == loaded_then_changed
    assert_clear_failure(record["status"], record["error_message"], settings)
    assert lock_is_free(warehouse_db)
    after = pipeline.run(settings, mode="full")
    lost = (not unchanged) + differing_keys(source_db, warehouse_db)
    campaign.data_lost(lost)
    assert unchanged, "the failed run changed the warehouse"
    assert after["status"] == "succeeded", after["error_message"]
    assert lost == 0


# -- etl_process_killed -----------------------------------------------------------------------


def start_etl_process(settings: Settings) -> subprocess.Popen:
    """Start ``flask etl run --mode full`` as the deployment runs it, in its own process."""
    env = {
        **os.environ,
        "SOURCE_DB_URL": settings.source_db_url,
        "WAREHOUSE_DB_URL": settings.warehouse_db_url,
        "ETL_HEARTBEAT_SECONDS": str(HEARTBEAT),
        "ETL_CHUNK_ROWS": str(CHUNK_ROWS),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "etl", "run", "--mode", "full"],
        cwd=BACKEND,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def assert_next_run_took_over(
    signal_name: str,
    seconds: float,
    unchanged: bool,
    after: dict,
    source_db,
    warehouse_db,
    campaign,
) -> None:
    """Check that a new run was accepted within 3 heartbeats of the signal and is exact."""
    lost = (not unchanged) + differing_keys(source_db, warehouse_db)
    campaign.data_lost(lost)
    assert seconds < 3 * HEARTBEAT, f"the trigger was accepted {seconds:.2f} s after {signal_name}"
    assert unchanged, f"the run stopped by {signal_name} changed the warehouse"
    assert after["status"] == "succeeded", after["error_message"]
    assert lost == 0


@pytest.mark.campaign("etl_process_killed")
@pytest.mark.parametrize("hold", ["first_read", "extract", "load"])
def test_sigkilled_etl_process_frees_the_lock_at_once_and_the_next_run_is_exact(
    hold,
    settings_with_passwords,
    loaded_then_changed,
    source_db,
    warehouse_db,
    campaign,
    record_property,
):
    settings = settings_with_passwords
    process = start_etl_process(settings)
    try:
        with HOLDS[hold](source_db, warehouse_db) as held:
            reach(hold, held, source_db, warehouse_db)
            dead_run = newest_run(warehouse_db)["id"]
            killed_at = time.monotonic()
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        recorder, seconds = accept_trigger(settings, killed_at)
    finally:
        if process.poll() is None:
            process.kill()
    record_property("seconds_kill_to_accepted_trigger", round(seconds, 3))
    unchanged = warehouse_checksum(warehouse_db) == loaded_then_changed
    assert_clear_failure(*run_status(warehouse_db, dead_run), settings)
    after = pipeline.execute(settings, recorder)
    assert_next_run_took_over(
        "SIGKILL", seconds, unchanged, after, source_db, warehouse_db, campaign
    )


@pytest.mark.campaign("etl_process_killed")
@pytest.mark.parametrize("resumed", ["resumed_before_the_next_run", "frozen_through_the_next_run"])
def test_frozen_etl_process_is_evicted_within_three_heartbeats_and_can_commit_nothing(
    resumed,
    settings_with_passwords,
    loaded_then_changed,
    source_db,
    warehouse_db,
    campaign,
    record_property,
):
    # SIGSTOP keeps the process's connections open, so the lock stays taken: only the stale
    # heartbeat can free it. The frozen run is stopped inside its merge, holding row locks.
    settings = settings_with_passwords
    process = start_etl_process(settings)
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        with merge_held(source_db, warehouse_db) as held:
            waiting_warehouse_connection(warehouse_db, held)
            frozen_run = newest_run(warehouse_db)["id"]
            frozen_at = time.monotonic()
            process.send_signal(signal.SIGSTOP)
        recorder, seconds = accept_trigger(settings, frozen_at)
        record_property("seconds_freeze_to_accepted_trigger", round(seconds, 3))
        if resumed == "resumed_before_the_next_run":
            # It wakes with the lock gone: the re-check before commit must refuse it.
            process.send_signal(signal.SIGCONT)
            assert process.wait(timeout=WAIT) == 1
            refused = warehouse_checksum(warehouse_db) == loaded_then_changed
            after = pool.submit(pipeline.execute, settings, recorder).result(timeout=WAIT)
        else:
            refused = warehouse_checksum(warehouse_db) == loaded_then_changed
            # The new run must not wait on the row locks of the run still frozen.
            after = pool.submit(pipeline.execute, settings, recorder).result(timeout=WAIT)
            process.send_signal(signal.SIGCONT)
            assert process.wait(timeout=WAIT) != 0
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.send_signal(signal.SIGCONT)
            process.wait(timeout=10)
        pool.shutdown(wait=True)
    assert_clear_failure(*run_status(warehouse_db, frozen_run), settings)
    assert_next_run_took_over("SIGSTOP", seconds, refused, after, source_db, warehouse_db, campaign)

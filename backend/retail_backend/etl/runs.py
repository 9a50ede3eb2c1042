"""The run record, its heartbeat, the one-run-at-a-time lock and stale-run detection.

The lock is MySQL's GET_LOCK, held by a dedicated connection for the whole run: the server
frees it the moment that connection dies, so a killed process never blocks the next run. The
same connection writes progress and heartbeats in autocommit, so they are visible at once and
never wait on the load transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from dataclasses import dataclass

import pymysql

from ..config import Settings
from ..db import connect_warehouse, warehouse_url
from .trust import SourceIdentity

LOCK_PREFIX = "retail_etl_run:"  # + the warehouse database: one lock per warehouse
LOAD_LOCK_PREFIX = "retail_etl_load:"  # held by the load connection of the run holding the lock
STALE_HEARTBEATS = 2  # missed beats that make a holder stale: a frozen one goes within three
LOAD_LOCK_WAIT = 10  # seconds for a killed orphan load to roll back and free the load lock
ACTIVE = ("queued", "running")
RUN_COLUMNS = (
    "id, status, mode, triggered_by, idempotency_key, stage, created_at, started_at, "
    "finished_at, heartbeat_at, rows_extracted, rows_rejected, rows_loaded, duplicate_lines, "
    "keys_inserted, keys_updated, keys_deleted, watermark_before, watermark_after, error_message, "
    "full_reason, source_identity, result"
)


class RunInProgress(Exception):
    """Another run holds the lock."""

    def __init__(self, run_id: int | None) -> None:
        super().__init__(f"run {run_id} is already in progress")
        self.run_id = run_id


class WarehouseOutdated(RuntimeError):
    """The warehouse's schema is older than this version's (mysql-migrations/ not applied)."""

    def __init__(self) -> None:
        super().__init__(
            "the warehouse schema is older than this version: run ./deploy.sh, which applies "
            "mysql-migrations/ with scripts/migrate-warehouse.sh"
        )


UNKNOWN_COLUMN = 1054  # MySQL's ER_BAD_FIELD_ERROR


class LockLost(RuntimeError):
    """The run lock was lost before commit (its connection died)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def fetch_run(conn: pymysql.connections.Connection, run_id: int) -> dict | None:
    """Return one run as a dict, or None."""
    with conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute(f"SELECT {RUN_COLUMNS} FROM etl_runs WHERE id = %s", (run_id,))
        return cur.fetchone()


def active_run_id(conn: pymysql.connections.Connection) -> int | None:
    """Return the id of the newest queued or running run, if any."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id FROM etl_runs WHERE status IN (%s, %s) ORDER BY id DESC LIMIT 1", ACTIVE
        )
        row = cur.fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class Watermark:
    """The snapshot the last loading run read, and the source it read it from."""

    snapshot: str
    source: SourceIdentity | None  # None: written before runs recorded their source


def last_watermark(conn: pymysql.connections.Connection) -> Watermark | None:
    """Return the last successful loading run's watermark, the start of the next increment.

    Verify runs load nothing and leave no watermark; repair runs keep the one they found.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT watermark_after, source_identity FROM etl_runs WHERE status = 'succeeded' "
            "AND watermark_after IS NOT NULL ORDER BY id DESC LIMIT 1"
        )
        row = cur.fetchone()
    return Watermark(row[0], SourceIdentity.parse(row[1])) if row else None


@dataclass
class Progress:
    """Counters a run reports while it works."""

    stage: str = "queued"
    rows_extracted: int = 0
    rows_rejected: int = 0
    rows_loaded: int = 0
    duplicate_lines: int = 0


class RunRecorder:
    """Owns the lock connection: the run lock, the run row, progress and heartbeats."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.conn = connect_warehouse(settings, autocommit=True)
        database = warehouse_url(settings).database
        self.lock_name = (LOCK_PREFIX + database)[:64]
        self.load_lock_name = (LOAD_LOCK_PREFIX + database)[:64]
        self.connection_id = self.conn.thread_id()
        self.run_id: int | None = None
        self.mode = "incremental"
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    # -- the lock ---------------------------------------------------------------------------
    def acquire(self) -> None:
        """Take the run lock or raise RunInProgress; a holder with a stale heartbeat is evicted."""
        self._check_schema()
        if self._get_lock():
            self._fail_abandoned_runs()
            return
        holder = self._execute("SELECT IS_USED_LOCK(%s)", (self.lock_name,))[0][0]
        run_id = self._wait_for_active_run()
        if holder is not None and self._is_stale(run_id):
            # The holder's connection lingers but its process stopped beating: evict it.
            with contextlib.suppress(pymysql.MySQLError):
                self._execute(f"KILL CONNECTION {int(holder)}")
            if self._get_lock(timeout=2):
                self._fail_abandoned_runs()
                return
        raise RunInProgress(run_id)

    def _check_schema(self) -> None:
        try:
            self._execute(f"SELECT {RUN_COLUMNS} FROM etl_runs LIMIT 0")
        except pymysql.err.OperationalError as exc:
            if exc.args[:1] == (UNKNOWN_COLUMN,):
                raise WarehouseOutdated() from exc
            raise

    def _get_lock(self, timeout: float = 0) -> bool:
        return self._execute("SELECT GET_LOCK(%s, %s)", (self.lock_name, timeout))[0][0] == 1

    def _wait_for_active_run(self) -> int | None:
        # The holder inserts its run row just after taking the lock; give it a moment.
        for _ in range(20):
            run_id = active_run_id(self.conn)
            if run_id is not None:
                return run_id
            self._stop.wait(0.05)
        return None

    def _is_stale(self, run_id: int | None) -> bool:
        if run_id is None:
            return False
        limit = STALE_HEARTBEATS * self.settings.heartbeat_seconds
        row = self._execute(
            "SELECT TIMESTAMPDIFF(MICROSECOND, COALESCE(heartbeat_at, created_at), NOW(3))"
            " FROM etl_runs WHERE id = %s",
            (run_id,),
        )
        return bool(row) and row[0][0] is not None and row[0][0] / 1e6 > limit

    def _fail_abandoned_runs(self) -> None:
        # Holding the lock proves no other run is alive: any run still marked active is dead.
        self._execute(
            "UPDATE etl_runs SET status = 'failed', finished_at = %s, error_message = "
            "CONCAT('abandoned: the process running it stopped (last heartbeat ', "
            "COALESCE(DATE_FORMAT(heartbeat_at, '%%Y-%%m-%%d %%H:%%i:%%s'), 'never'), ' UTC)') "
            "WHERE status IN ('queued', 'running')",
            (_now(),),
        )

    def claim_load(self, load_conn: pymysql.connections.Connection) -> None:
        """Take the load lock on the run's load connection, killing an orphaned holder.

        A run evicted while frozen (or whose lock connection was killed) keeps its load
        connection and the row locks its merge took; holding the run lock proves that load is
        an orphan, so it is killed rather than waited for (it could wait forever).
        """
        with load_conn.cursor() as cur:
            cur.execute(*self.holds_lock_sql())
            if cur.fetchone()[0] != 1:
                raise LockLost("the run lock was lost before the load began; nothing was loaded")
            cur.execute("SELECT GET_LOCK(%s, 0), IS_USED_LOCK(%s)", (self.load_lock_name,) * 2)
            taken, holder = cur.fetchone()
            if taken == 1:
                return
            if holder is not None:
                with contextlib.suppress(pymysql.MySQLError):
                    cur.execute(f"KILL CONNECTION {int(holder)}")
            cur.execute("SELECT GET_LOCK(%s, %s)", (self.load_lock_name, LOAD_LOCK_WAIT))
            if cur.fetchone()[0] != 1:
                raise LockLost("the load of an evicted run is still going; nothing was loaded")

    def holds_lock_sql(self) -> tuple[str, tuple]:
        """Return a query any connection can run to check this recorder still holds the lock."""
        return "SELECT IS_USED_LOCK(%s) = %s", (self.lock_name, self.connection_id)

    # -- the run row ------------------------------------------------------------------------
    def create_run(
        self, mode: str, triggered_by: str, idempotency_key: str | None = None, status="running"
    ) -> int:
        """Insert the run row (the lock must be held)."""
        self.mode = mode
        now = _now()
        with self._mutex, self.conn.cursor() as cur:
            cur.execute(
                "INSERT INTO etl_runs (status, mode, triggered_by, idempotency_key, stage, "
                "created_at, started_at, heartbeat_at, lock_connection_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    status,
                    mode,
                    triggered_by[:128],
                    idempotency_key,
                    "queued",
                    now,
                    now if status == "running" else None,
                    now,
                    self.connection_id,
                ),
            )
            self.run_id = cur.lastrowid
        return self.run_id

    def start(self, watermark_before: str | None) -> None:
        """Mark the run running and start its heartbeat."""
        self._execute(
            "UPDATE etl_runs SET status = 'running', started_at = COALESCE(started_at, %s), "
            "watermark_before = %s WHERE id = %s",
            (_now(), watermark_before, self.run_id),
        )
        self._heartbeat = threading.Thread(target=self._beat, name="etl-heartbeat", daemon=True)
        self._heartbeat.start()

    def note_full_reason(self, reason: str) -> None:
        """Record why this run rebuilds in full (shown on the run and the dashboard)."""
        self._execute(
            "UPDATE etl_runs SET full_reason = %s WHERE id = %s", (reason[:255], self.run_id)
        )

    def finish_without_load(self, progress: Progress, result: dict) -> None:
        """Mark a run that loaded nothing (a verify, or a repair that found nothing) succeeded."""
        self._execute(
            "UPDATE etl_runs SET status = 'succeeded', stage = 'done', finished_at = %s, "
            "heartbeat_at = %s, rows_extracted = %s, rows_rejected = %s, result = %s "
            "WHERE id = %s AND status = 'running'",
            (
                _now(),
                _now(),
                progress.rows_extracted,
                progress.rows_rejected,
                json.dumps(result),
                self.run_id,
            ),
        )

    def report(self, progress: Progress) -> None:
        """Publish the stage and counters so far."""
        self._execute(
            "UPDATE etl_runs SET stage = %s, rows_extracted = %s, rows_rejected = %s, "
            "rows_loaded = %s, duplicate_lines = %s, heartbeat_at = %s "
            "WHERE id = %s AND status = 'running'",
            (
                progress.stage,
                progress.rows_extracted,
                progress.rows_rejected,
                progress.rows_loaded,
                progress.duplicate_lines,
                _now(),
                self.run_id,
            ),
        )

    def fail(self, message: str) -> None:
        """Mark the run failed, unless it already finished."""
        sql = (
            "UPDATE etl_runs SET status = 'failed', finished_at = %s, error_message = %s "
            "WHERE id = %s AND status IN ('queued', 'running')"
        )
        params = (_now(), message[:4000], self.run_id)
        try:
            self._execute(sql, params)
        except pymysql.MySQLError:
            # The lock connection died (killed, or the server restarted): say so on a fresh one,
            # or the run would show 'running' until the next run found it abandoned.
            with contextlib.suppress(pymysql.MySQLError):
                conn = connect_warehouse(self.settings, autocommit=True)
                try:
                    with conn.cursor() as cur:
                        cur.execute(sql, params)
                finally:
                    conn.close()

    def _beat(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_seconds):
            with contextlib.suppress(pymysql.MySQLError):
                self._execute(
                    "UPDATE etl_runs SET heartbeat_at = %s WHERE id = %s AND status = 'running'",
                    (_now(), self.run_id),
                )

    def _execute(self, sql: str, params: tuple = ()) -> tuple:
        with self._mutex, self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def close(self) -> None:
        """Stop the heartbeat and release the lock by closing its connection."""
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
        with contextlib.suppress(Exception):
            self._execute("SELECT RELEASE_LOCK(%s)", (self.lock_name,))
        with contextlib.suppress(Exception):
            self.conn.close()

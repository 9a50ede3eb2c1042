"""Stream source lines out of PostgreSQL in bounded chunks of whole days.

Every chunk holds complete days, because the warehouse's finest grain is a day: a chunk's
aggregates (distinct invoices included) are then final and never need merging with another's.
All queries of one run share one REPEATABLE READ snapshot, whose text becomes the watermark.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import adbc_driver_postgresql.dbapi as adbc
import pandas as pd
import pyarrow as pa

from .source_lines import lines_frame
from .trust import SourceIdentity, snapshot_bounds

UNDATED = None  # the pseudo-day of lines whose date is missing or not finite

# Dates Python and the warehouse can hold; the others are read with the undated lines and
# rejected by the transform.
_DATED = "invoice_date >= '0001-01-01' AND invoice_date < '10000-01-01'"
# Window reads carry no bind parameters: ADBC streams a parameterless query through binary COPY,
# but runs one with parameters through the row protocol, several times slower on both ends. The
# bounds travel as parameters of set_config instead, and the query reads them back.
_SET_WINDOW = (
    "SELECT set_config('retail_etl.first_day', $1, true), "
    "set_config('retail_etl.last_day', $2, true)"
)
_DATED_WINDOW = """
    SELECT id, invoice_no, stock_code, description, quantity,
           invoice_date,                        -- a timestamp Arrow holds: the window is dated
           unit_price::text AS unit_price,      -- text: exact, whatever its scale
           customer_id, country
    FROM online_sales
    WHERE invoice_date::date BETWEEN current_setting('retail_etl.first_day')::date
                                 AND current_setting('retail_etl.last_day')::date"""
_UNDATED_WINDOW = f"""
    SELECT id, invoice_no, stock_code, description, quantity,
           invoice_date::text AS invoice_date,  -- text: infinity, five-digit years, NULL
           unit_price::text AS unit_price,
           customer_id, country
    FROM online_sales
    WHERE NOT COALESCE({_DATED}, false)"""
_DAY_COUNTS = f"""
    SELECT CASE WHEN {_DATED} THEN invoice_date::date END AS day, count(*)
    FROM online_sales GROUP BY 1 ORDER BY 1"""
_DAY_COUNTS_BETWEEN = """
    SELECT invoice_date::date AS day, count(*) FROM online_sales
    WHERE invoice_date::date BETWEEN $1 AND $2 GROUP BY 1 ORDER BY 1"""
# Rows written since a snapshot: changed_xid at or above its xmin (a literal, so the planner can
# weigh it against the index; a function of a parameter it cannot estimate, and it scanned the
# whole table) and not visible in it. Sequential scans are off for these two queries alone: on
# a table an import left unanalyzed the planner guesses a third of the rows and scans them all.
# And below this run's own xmax: no row this snapshot sees was written by a later transaction,
# so a higher changed_xid came with a dump restored from another server, whose counter was
# ahead. The rebuild after the restore read those rows; without the bound every run after it
# would read them again, until this server's counter passed the old one.
_CHANGED_DAYS = f"""
    SELECT CASE WHEN {_DATED} THEN invoice_date::date END AS day
    FROM online_sales
    WHERE changed_xid >= '{{xmin}}'::xid8 AND changed_xid < '{{xmax}}'::xid8
      AND NOT pg_visible_in_snapshot(changed_xid, $1::pg_snapshot)
    UNION
    SELECT CASE WHEN old_day >= '0001-01-01' AND old_day < '10000-01-01' THEN old_day END
    FROM online_sales_changes
    WHERE changed_xid >= '{{xmin}}'::xid8 AND changed_xid < '{{xmax}}'::xid8 AND kind = 'row'
      AND NOT pg_visible_in_snapshot(changed_xid, $1::pg_snapshot)"""
# The change log's markers since a snapshot (see trust.py); a log_cut counts only when the rows
# it deleted had not been read.
_MARKERS = """
    SELECT DISTINCT kind FROM online_sales_changes
    WHERE changed_xid >= '{xmin}'::xid8 AND changed_xid < '{xmax}'::xid8 AND kind <> 'row'
      AND NOT pg_visible_in_snapshot(changed_xid, $1::pg_snapshot)
      AND (kind <> 'log_cut' OR NOT pg_visible_in_snapshot(cut_xid, $1::pg_snapshot))"""
_SOURCE = """
    SELECT pg_current_snapshot()::text, (SELECT system_identifier::text FROM pg_control_system()),
           d.oid::bigint, d.datname::text,
           EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                   AND table_name = 'online_sales_changes' AND column_name = 'kind')
    FROM pg_database d WHERE d.datname = current_database()"""


@dataclass(frozen=True)
class Window:
    """Consecutive whole days read by one query (``first`` None means the undated lines)."""

    first: dt.date | None
    last: dt.date | None
    rows: int


def use_system_allocator() -> None:
    """Let pyarrow allocate with malloc instead of its default mimalloc.

    mimalloc keeps freed memory in per-thread heaps, and a window's Arrow buffers are allocated
    on the reader's thread and freed on another: a long run's RSS grew with the number of
    windows (378 MB at 5M lines against 262 MB).
    """
    pa.set_memory_pool(pa.system_memory_pool())


class SourceStalled(TimeoutError):
    """The source stopped answering in the middle of a read."""


class SourceReader:
    """One run's reads of the source, all in a single REPEATABLE READ snapshot.

    Arrow record batches come straight from PostgreSQL's binary COPY through ADBC, with no
    per-row Python work; that is what makes extraction run near the wire's speed.

    Reads run one at a time on the reader's own daemon thread, and each is waited for at most
    ``read_timeout`` seconds. statement_timeout cannot help when the network stalls (the server
    never hears of it) and a blocked ADBC read cannot be interrupted, so the run gives up on
    the read and fails; the thread closes the connection whenever the read ends. One thread for
    the whole run, not one per read: each new thread's allocations went to fresh malloc arenas,
    and peak memory grew with the number of windows.
    """

    def __init__(self, connection: adbc.Connection, read_timeout: float) -> None:
        self._conn = connection
        self._cursor = connection.cursor()
        self._read_timeout = read_timeout
        self._guard = threading.Lock()
        self._abandoned = False
        self._reading: Future | None = None
        self._reads: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="etl-extract", daemon=True).start()
        try:
            self.watermark, self.source, self.has_markers = self._wait(self._start(self._begin))
        except BaseException:
            self.close()
            raise

    def _begin(self) -> tuple[str, SourceIdentity, bool]:
        self._set("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot, system_identifier, oid, database, has_markers = self._fetch(_SOURCE)[0]
        return snapshot, SourceIdentity(system_identifier, int(oid), database), bool(has_markers)

    def _set(self, sql: str) -> None:
        statement = self._cursor.adbc_statement
        statement.set_sql_query(sql)
        statement.execute_update()

    def _since(self, sql: str, since: str) -> list[tuple]:
        """Run a query on the rows written since snapshot ``since``, by the changed_xid index."""
        xmin = snapshot_bounds(since)[0]
        xmax = snapshot_bounds(self.watermark)[1]
        self._set("SET LOCAL enable_seqscan = off")
        try:
            return self._fetch(sql.format(xmin=int(xmin), xmax=int(xmax)), (since,))
        finally:
            with contextlib.suppress(Exception):  # after an error the query's own is raised
                self._set("SET LOCAL enable_seqscan = on")

    def _fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        self._cursor.execute(sql, parameters=params or None)
        return self._cursor.fetchall()

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self._wait(self._start(self._fetch, sql, params))

    def _start(self, read, *args) -> Future:
        """Queue ``read(*args)`` for the reader's thread (a daemon: a stall never holds up exit)."""
        future: Future = Future()
        self._reading = future
        self._reads.put((future, read, args))
        return future

    def _serve(self) -> None:
        while (job := self._reads.get()) is not None:
            future, read, args = job
            try:
                future.set_result(read(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                future.set_exception(exc)
            with self._guard:
                abandoned = self._abandoned
            if abandoned:
                self._close_connection()
                return

    def _wait(self, read: Future):
        try:
            return read.result(timeout=self._read_timeout)
        except FutureTimeout:
            with self._guard:
                self._abandoned = not read.done()
            if not self._abandoned:
                return read.result()  # it ended just now
            raise SourceStalled(
                f"the source database did not answer within {self._read_timeout:g} s "
                "(ETL_READ_TIMEOUT)"
            ) from None

    def changed_days(self, since: str) -> set[dt.date | None]:
        """Return the days touched since the snapshot ``since`` (None for undated lines)."""
        return {row[0] for row in self._wait(self._start(self._since, _CHANGED_DAYS, since))}

    def markers(self, since: str) -> set[str]:
        """Return the kinds of change log markers written since the snapshot ``since``."""
        return {row[0] for row in self._wait(self._start(self._since, _MARKERS, since))}

    def plan_windows(self, days: set[dt.date | None] | None, chunk_rows: int) -> list[Window]:
        """Group days into runs of consecutive days of at most ``chunk_rows`` lines.

        ``days`` None means every day. A day bigger than ``chunk_rows`` is a window alone.
        """
        return group_windows(self._day_counts(days), chunk_rows, split_at_gaps=bool(days))

    def _day_counts(self, days: set[dt.date | None] | None) -> list[tuple]:
        if days is None:
            return self._query(_DAY_COUNTS)
        counts: list[tuple] = []
        for first, last in consecutive_ranges(sorted(d for d in days if d is not UNDATED)):
            counts += self._query(_DAY_COUNTS_BETWEEN, (first, last))
        if UNDATED in days:
            counts.append((UNDATED, 0))
        return counts

    def read_window(self, window: Window) -> pd.DataFrame:
        """Return one window's lines, typed as the transform expects."""
        if window.first is None:
            self._cursor.execute(_UNDATED_WINDOW)
        else:
            self._fetch(_SET_WINDOW, (window.first.isoformat(), window.last.isoformat()))
            self._cursor.execute(_DATED_WINDOW)
        return lines_frame(self._cursor.fetch_arrow_table())

    def stream(self, windows: list[Window]) -> Iterator[tuple[Window, pd.DataFrame]]:
        """Yield each window with its lines, reading the next one while the caller works.

        ADBC releases the GIL while it reads, so the next window's COPY overlaps the transform
        and load of this one; one read at a time keeps the cursor single-threaded.
        """
        pending: tuple[Window, Future] | None = None
        for window in windows:
            done = None if pending is None else (pending[0], self._wait(pending[1]))
            pending = (window, self._start(self.read_window, window))  # once the last read ended
            if done is not None:
                yield done
        if pending is not None:
            yield pending[0], self._wait(pending[1])

    def close(self) -> None:
        """End the snapshot and the connection, once the read in flight (if any) has ended."""
        if self._reading is not None and not self._abandoned:
            with contextlib.suppress(Exception):
                self._wait(self._reading)  # a prefetch the caller no longer wants
        if not self._abandoned:  # an abandoned read's thread closes the connection itself
            self._reads.put(None)
            self._close_connection()

    def _close_connection(self) -> None:
        with contextlib.suppress(Exception):
            self._cursor.close()
        with contextlib.suppress(Exception):
            self._conn.rollback()
        with contextlib.suppress(Exception):
            self._conn.close()


def consecutive_ranges(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Split sorted days into (first, last) runs of consecutive days."""
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in days:
        if ranges and (day - ranges[-1][1]).days == 1:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def group_windows(
    counts: list[tuple[dt.date | None, int]], chunk_rows: int, *, split_at_gaps: bool
) -> list[Window]:
    """Group (day, lines) counts, sorted by day, into windows of at most ``chunk_rows`` lines.

    The undated pseudo-day (``UNDATED``) is always a window of its own, and so is a day bigger
    than ``chunk_rows``. With ``split_at_gaps`` (an incremental run, which reads only the
    changed days) a window never spans a day missing from ``counts``; otherwise the days
    between two counted days hold no lines, and a window may span them.
    """
    windows: list[Window] = []
    first = last = None
    rows = 0
    for day, count in counts:
        if day is UNDATED:
            windows.append(Window(None, None, count))
            continue
        adjacent = last is not None and (day - last).days == 1
        if first is not None and (rows + count > chunk_rows or (split_at_gaps and not adjacent)):
            windows.append(Window(first, last, rows))
            first, rows = None, 0
        first = first or day
        last = day
        rows += count
    if first is not None:
        windows.append(Window(first, last, rows))
    return windows

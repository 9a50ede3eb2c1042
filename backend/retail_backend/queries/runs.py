"""The SQL the API runs on ``etl_runs`` and ``etl_rejects`` (the pipeline keeps its own)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pymysql

from ..etl.runs import RUN_COLUMNS

REJECT_COLUMNS = (
    "source_id, reason, invoice_no, stock_code, quantity, unit_price, sale_date, country"
)


@dataclass(frozen=True)
class LastRun:
    """The newest successful run: what the warehouse's figures were last refreshed by."""

    run_id: int | None
    finished_at: dt.datetime | None


def last_success(cur: pymysql.cursors.Cursor) -> LastRun:
    """Return the newest successful run (one probe of the (status, id) index)."""
    # A verify run loads nothing: the figures are as old as the last run that could load.
    cur.execute(
        "SELECT id, finished_at FROM etl_runs WHERE status = 'succeeded' AND mode <> 'verify' "
        "ORDER BY id DESC LIMIT 1"
    )
    row = cur.fetchone()
    return LastRun(int(row[0]), row[1]) if row else LastRun(None, None)


def days_differing(cur: pymysql.cursors.Cursor) -> int | None:
    """Days the newest verify found differing from the source (0 once a repair followed it).

    None when no verify or repair has succeeded yet.
    """
    cur.execute(
        "SELECT mode, result FROM etl_runs WHERE status = 'succeeded' "
        "AND mode IN ('verify', 'repair') ORDER BY id DESC LIMIT 1"
    )
    row = cur.fetchone()
    if row is None:
        return None
    mode, result = row
    return int(json.loads(result)["days_differing"]) if mode == "verify" and result else 0


def _dicts(cur: pymysql.cursors.Cursor) -> list[dict]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def list_runs(conn: pymysql.connections.Connection, limit: int, offset: int) -> tuple[list, int]:
    """Return a page of runs, newest first, and the number of runs."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {RUN_COLUMNS} FROM etl_runs ORDER BY id DESC LIMIT %s OFFSET %s",
            (limit, offset),
        )
        runs = _dicts(cur)
        cur.execute("SELECT COUNT(*) FROM etl_runs")
        return runs, int(cur.fetchone()[0])


def find_run_by_key(conn: pymysql.connections.Connection, key: str) -> dict | None:
    """Return the run an Idempotency-Key started, if any."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT {RUN_COLUMNS} FROM etl_runs WHERE idempotency_key = %s", (key,))
        rows = _dicts(cur)
    return rows[0] if rows else None


def list_rejects(
    conn: pymysql.connections.Connection,
    run_id: int,
    reason: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict], int, dict[str, int]]:
    """Return a page of a run's rejected lines, their number, and the count per reason."""
    where, args = "WHERE run_id = %s", [run_id]
    if reason is not None:
        where += " AND reason = %s"
        args.append(reason)
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {REJECT_COLUMNS} FROM etl_rejects {where} "
            "ORDER BY source_id LIMIT %s OFFSET %s",
            (*args, limit, offset),
        )
        rejects = _dicts(cur)
        cur.execute(f"SELECT COUNT(*) FROM etl_rejects {where}", args)
        total = int(cur.fetchone()[0])
        cur.execute(
            "SELECT reason, COUNT(*) FROM etl_rejects WHERE run_id = %s GROUP BY reason "
            "ORDER BY reason",
            (run_id,),
        )
        by_reason = {str(r): int(n) for r, n in cur.fetchall()}
    return rejects, total, by_reason

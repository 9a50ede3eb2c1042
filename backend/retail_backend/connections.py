"""The warehouse connection of one request, borrowed from the app's ``WarehousePool``.

A request answered from a cache borrows none. Connections are reused because opening one is
not cheap: PyMySQL builds a TLS context for every connect (about 20 ms, more than the whole
answer from the cache). A connection goes back to the pool only when the request ended cleanly
(no error, no transaction left open), and one that sat idle is pinged before it is lent again,
so a database restart costs a reconnect, not a failed request. A database error empties the
pool: the connections in it went through the same outage.
"""

from __future__ import annotations

import pymysql
from flask import Flask, g
from pymysql.constants import SERVER_STATUS

from .extensions import retail
from .queries.runs import LastRun, last_success
from .warehouse_pool import close_quietly


def warehouse() -> pymysql.connections.Connection:
    """Return this request's autocommit warehouse connection, borrowing one if needed."""
    conn = g.get("warehouse")
    if conn is None:
        conn = g.warehouse = retail().warehouse_pool.borrow()
    return conn


def last_successful_run() -> LastRun:
    """Return the newest successful run, read at most once a second per process."""

    def probe() -> LastRun:
        with warehouse().cursor() as cur:
            return last_success(cur)

    return retail().last_run.get(probe)


def discard_warehouse() -> None:
    """Close this request's connection instead of pooling it (it failed, or may have)."""
    conn = g.pop("warehouse", None)
    if conn is not None:
        close_quietly(conn)


def discard_idle_warehouse_connections() -> None:
    """Close the pooled connections after a database error: they share the failed one's fate.

    A reset or a restart leaves every idle connection dead; without this, each would fail one
    request after the database is back.
    """
    retail().warehouse_pool.close()


def release_warehouse(exc: BaseException | None = None) -> None:
    """Give this request's connection back to the pool, or close it after an error."""
    conn = g.pop("warehouse", None)
    if conn is None:
        return
    # A connection is reusable only if the request ended cleanly and left no transaction.
    in_transaction = conn.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS
    if exc is None and conn.open and not in_transaction:
        retail().warehouse_pool.give_back(conn)
    else:
        close_quietly(conn)


def init_app(app: Flask) -> None:
    """Return the request's connection when its app context ends."""
    app.teardown_appcontext(release_warehouse)

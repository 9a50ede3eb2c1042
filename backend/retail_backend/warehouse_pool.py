"""The per-process pool of idle warehouse connections, built with the settings it connects with.

Connections are reused because opening one is not cheap: PyMySQL builds a TLS context for every
connect (about 20 ms). One that sat idle is pinged before it is lent again, so a database restart
costs a reconnect, not a failed request. The pool knows nothing of Flask: ``connections`` lends
its connections to requests, and the app's ``Extension`` owns it.
"""

from __future__ import annotations

import contextlib
import threading
import time

import pymysql

from .config import Settings
from .db import connect_warehouse

IDLE_BEFORE_PING = 5.0  # seconds: a connection idle longer is checked before use


class WarehousePool:
    """Idle autocommit warehouse connections, newest first, at most ``size`` of them."""

    def __init__(self, settings: Settings, size: int = 8) -> None:
        self.settings = settings
        self.size = size
        self._lock = threading.Lock()
        self._idle: list[tuple[pymysql.connections.Connection, float]] = []

    def borrow(self) -> pymysql.connections.Connection:
        """Return a live connection: an idle one if it still answers, else a new one."""
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn, since = self._idle.pop()
            if time.monotonic() - since < IDLE_BEFORE_PING:
                return conn
            try:
                conn.ping(reconnect=False)
                return conn
            except pymysql.MySQLError:
                close_quietly(conn)
                self.close()  # the others went idle with it: a ping each would add up
        return connect_warehouse(self.settings, autocommit=True)

    def give_back(self, conn: pymysql.connections.Connection) -> None:
        """Keep a connection for the next request, or close it when the pool is full."""
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append((conn, time.monotonic()))
                return
        close_quietly(conn)

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            close_quietly(conn)


def close_quietly(conn: pymysql.connections.Connection) -> None:
    """Close ``conn``, ignoring any error: it is being thrown away."""
    with contextlib.suppress(Exception):
        conn.close()

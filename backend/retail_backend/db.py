"""Connection factories for the source (PostgreSQL) and the warehouse (MySQL).

Both URLs are plain ``scheme://user:password@host:port/db`` strings that the project parses
itself, so users never need to know which driver is behind them.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import quote, unquote, urlencode, urlsplit

import psycopg
import pymysql
import pymysql.cursors

from .config import ConfigError, Settings


@dataclass(frozen=True)
class DatabaseURL:
    """The parts of a database URL."""

    scheme: str
    user: str | None
    password: str | None
    host: str
    port: int
    database: str

    @classmethod
    def parse(cls, url: str, schemes: tuple[str, ...], default_port: int) -> DatabaseURL:
        """Parse ``url``, refusing a scheme that is not one of ``schemes``."""
        parts = urlsplit(url)
        scheme = parts.scheme.split("+", 1)[0]
        if scheme not in schemes:
            raise ConfigError(f"expected a {schemes[0]}:// URL, got scheme {parts.scheme!r}")
        database = unquote(parts.path.lstrip("/"))
        if not database:
            raise ConfigError(f"the {scheme} URL names no database")
        try:
            port = parts.port or default_port
        except ValueError as exc:
            raise ConfigError(f"the {scheme} URL has a bad port") from exc
        return cls(
            scheme=scheme,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            host=parts.hostname or "localhost",
            port=port,
            database=database,
        )

    def describe(self) -> str:
        """Return the URL without its password, for logs and errors."""
        return f"{self.scheme}://{self.user or ''}@{self.host}:{self.port}/{self.database}"


def source_url(settings: Settings) -> DatabaseURL:
    """Return the parsed source URL."""
    return DatabaseURL.parse(settings.source_db_url, ("postgresql", "postgres"), 5432)


def warehouse_url(settings: Settings) -> DatabaseURL:
    """Return the parsed warehouse URL."""
    return DatabaseURL.parse(settings.warehouse_db_url, ("mysql", "mariadb"), 3306)


def connect_source(
    settings: Settings, *, statement_timeout: float | None = None
) -> psycopg.Connection:
    """Open a PostgreSQL connection with connect and statement timeouts."""
    url = source_url(settings)
    timeout_ms = int((statement_timeout or settings.read_timeout) * 1000)
    return psycopg.connect(
        host=url.host,
        port=url.port,
        user=url.user,
        password=url.password,
        dbname=url.database,
        connect_timeout=max(1, round(settings.connect_timeout)),
        application_name="retail-etl",
        options=f"-c statement_timeout={timeout_ms}",
        # Keepalives notice a peer that vanished without closing the connection.
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=2,
        keepalives_count=3,
    )


class WarehouseConnection(pymysql.connections.Connection):
    """A PyMySQL connection whose handshake, not only its TCP connect, gets the connect timeout.

    PyMySQL reads the server's greeting with the read timeout: a server (or a stalled network)
    that accepts the connection but never answers would hold a request for ``read_timeout`` and
    a run's load connection for ``etl_read_timeout``.
    """

    _preferred_tls: ClassVar[ssl.SSLContext | None] = None

    def _create_ssl_ctx(self, sslp):
        """Build the context of PyMySQL's "TLS if the server offers it" mode once per process.

        PyMySQL builds it for every connection, and loading the system CA bundle took 50 ms
        of each: half of a run with nothing to do, which opens three connections.
        """
        if sslp != {}:
            return super()._create_ssl_ctx(sslp)
        if WarehouseConnection._preferred_tls is None:
            WarehouseConnection._preferred_tls = super()._create_ssl_ctx(sslp)
        return WarehouseConnection._preferred_tls

    def connect(self, sock=None) -> None:
        # PyMySQL 1.x keeps both timeouts here and re-applies them before the next read/write.
        timeouts = self._read_timeout, self._write_timeout
        self._read_timeout = self._write_timeout = self.connect_timeout
        try:
            super().connect(sock)
        finally:
            self._read_timeout, self._write_timeout = timeouts


def connect_warehouse(
    settings: Settings, *, read_timeout: float | None = None, autocommit: bool = False
) -> pymysql.connections.Connection:
    """Open a MySQL connection; the driver's read timeout bounds every statement."""
    url = warehouse_url(settings)
    timeout = read_timeout or settings.read_timeout
    return WarehouseConnection(
        host=url.host,
        port=url.port,
        user=url.user or "root",
        password=url.password or "",
        database=url.database,
        charset="utf8mb4",
        connect_timeout=settings.connect_timeout,
        read_timeout=timeout,
        write_timeout=timeout,
        autocommit=autocommit,
        cursorclass=pymysql.cursors.Cursor,
        init_command="SET SESSION time_zone = '+00:00'",
    )


@contextlib.contextmanager
def warehouse_transaction(settings: Settings, **kwargs) -> Iterator[pymysql.connections.Connection]:
    """Yield a warehouse connection whose work commits on success and rolls back on error."""
    conn = connect_warehouse(settings, **kwargs)
    try:
        yield conn
        conn.commit()
    except BaseException:
        with contextlib.suppress(Exception):
            conn.rollback()
        raise
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def connect_source_arrow(settings: Settings, *, statement_timeout: float | None = None):
    """Open an ADBC connection to the source, for Arrow record batches straight from COPY."""
    import adbc_driver_postgresql.dbapi as adbc  # heavy import: only the ETL needs it

    url = source_url(settings)
    timeout_ms = int((statement_timeout or settings.etl_read_timeout) * 1000)
    query = urlencode(
        {
            "connect_timeout": max(1, round(settings.connect_timeout)),
            "application_name": "retail-etl-extract",
            "options": f"-c statement_timeout={timeout_ms}",
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
        },
        quote_via=quote,
    )
    auth = quote(url.user or "", safe="")
    if url.password is not None:
        auth += ":" + quote(url.password, safe="")
    host = f"[{url.host}]" if ":" in url.host else url.host
    uri = f"postgresql://{auth}@{host}:{url.port}/{quote(url.database, safe='')}?{query}"
    return adbc.connect(uri)

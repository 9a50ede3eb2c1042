"""Throwaway PostgreSQL and MySQL databases built from the project's init SQL.

Shared by the test fixtures, the benchmarks and the robustness suite, so every one of them
runs against schemas made exactly as the database images make them.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pymysql
from pymysql.constants import CLIENT

ROOT = Path(__file__).resolve().parents[1]
PG_INIT = ROOT / "postgres-init"
MYSQL_INIT = ROOT / "mysql-init"

PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TEST_PG_USER", "postgres")
MYSQL_HOST = os.environ.get("TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("TEST_MYSQL_USER", "root")
MYSQL_PASSWORD = os.environ.get("TEST_MYSQL_PASSWORD", "")


def pg_admin() -> psycopg.Connection:
    """Connect to the maintenance database as the superuser, autocommit."""
    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        dbname="postgres",
        autocommit=True,
        connect_timeout=3,
    )


def mysql_admin(database: str | None = None) -> pymysql.connections.Connection:
    """Connect to MySQL as the administrative user, autocommit, multi-statement."""
    return pymysql.connect(
        host=MYSQL_HOST,
        port=MYSQL_PORT,
        user=MYSQL_USER,
        password=MYSQL_PASSWORD,
        database=database,
        autocommit=True,
        charset="utf8mb4",
        connect_timeout=3,
        client_flag=CLIENT.MULTI_STATEMENTS,
    )


def pg_sql_files(with_seed: bool) -> list[Path]:
    """Return the init SQL files in the order the image runs them."""
    files = sorted(PG_INIT.glob("*.sql"))
    return [f for f in files if with_seed or "seed" not in f.name]


@dataclass
class SourceDB:
    """A throwaway PostgreSQL database."""

    name: str

    @property
    def url(self) -> str:
        return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.name}"

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=self.name, **kwargs)

    def drop(self) -> None:
        with pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@dataclass
class WarehouseDB:
    """A throwaway MySQL database."""

    name: str

    @property
    def url(self) -> str:
        password = f":{MYSQL_PASSWORD}" if MYSQL_PASSWORD else ""
        return f"mysql://{MYSQL_USER}{password}@{MYSQL_HOST}:{MYSQL_PORT}/{self.name}"

    def connect(self, **kwargs) -> pymysql.connections.Connection:
        kwargs.setdefault("autocommit", True)
        return pymysql.connect(
            host=MYSQL_HOST,
            port=MYSQL_PORT,
            user=MYSQL_USER,
            password=MYSQL_PASSWORD,
            database=self.name,
            charset="utf8mb4",
            **kwargs,
        )

    def drop(self) -> None:
        with mysql_admin() as admin, admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{self.name}`")


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def run_pg_script(conn: psycopg.Connection, path: Path) -> None:
    """Run one init SQL file (no parameters, so several statements go in one call)."""
    conn.execute(path.read_text(encoding="utf-8"))


def seed_template_name() -> str:
    """Name a template database by the hash of the SQL that builds it, so it is reused safely."""
    digest = hashlib.sha256()
    for path in pg_sql_files(with_seed=True):
        digest.update(path.read_bytes())
    return f"retail_seed_tmpl_{digest.hexdigest()[:12]}"


def ensure_seed_template() -> str:
    """Create the seeded template database once; later databases are cheap copies of it."""
    name = seed_template_name()
    with pg_admin() as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return name
        building = name + "_building"
        admin.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{building}"')
    db = SourceDB(building)
    with db.connect(autocommit=True) as conn:
        for path in pg_sql_files(with_seed=True):
            run_pg_script(conn, path)
        conn.execute("VACUUM ANALYZE")
    with pg_admin() as admin:
        admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
    return name


def create_source_db(seeded: bool = False, prefix: str = "t_src") -> SourceDB:
    """Create a source database from postgres-init (seeded ones are copied from a template)."""
    db = SourceDB(_unique(prefix))
    with pg_admin() as admin:
        if seeded:
            admin.execute(f'CREATE DATABASE "{db.name}" TEMPLATE "{ensure_seed_template()}"')
            return db
        admin.execute(f'CREATE DATABASE "{db.name}"')
    with db.connect(autocommit=True) as conn:
        for path in pg_sql_files(with_seed=False):
            run_pg_script(conn, path)
    return db


def create_warehouse_db(prefix: str = "t_dw", schema: list[Path] | None = None) -> WarehouseDB:
    """Create a warehouse database from mysql-init (or from the ``schema`` files given)."""
    db = WarehouseDB(_unique(prefix))
    with mysql_admin() as admin, admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db.name}` CHARACTER SET utf8mb4")
        cur.execute(f"USE `{db.name}`")
        for path in schema or sorted(MYSQL_INIT.glob("*.sql")):
            cur.execute(path.read_text(encoding="utf-8"))
            while cur.nextset():
                pass
    return db

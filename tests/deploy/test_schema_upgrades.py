"""Databases made by an earlier version, upgraded the way deploy.sh upgrades them.

The init scripts run on an empty volume only, so an existing source gets
postgres-init/01-schema.sql applied again (it is idempotent), and an existing warehouse gets the
migrations of mysql-migrations/ through scripts/migrate-warehouse.sh. Each test starts from a
frozen copy of the old schema (tests/fixtures/*-v1.sql) and ends with today's.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from tests import dbtools
from tests.deploy.netns import require_tool

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
MIGRATE = ROOT / "scripts" / "migrate-warehouse.sh"


def mysql_client(database: str) -> list[str]:
    """The CLIENT migrate-warehouse.sh is given: SQL on stdin, results without headers."""
    command = [require_tool("mysql"), "-N", "-B", "--protocol=tcp", "-h", dbtools.MYSQL_HOST]
    command += ["-P", str(dbtools.MYSQL_PORT), "-u", dbtools.MYSQL_USER, database]
    return command


def migrate(database: str, *extra: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "MYSQL_PWD": dbtools.MYSQL_PASSWORD}
    return subprocess.run(
        [str(MIGRATE), *extra, "--", *mysql_client(database)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def columns(database: str) -> dict[str, list[tuple]]:
    with dbtools.mysql_admin(database) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_name, column_name, column_type, is_nullable FROM "
            "information_schema.columns WHERE table_schema = %s "
            "ORDER BY table_name, column_name",
            (database,),
        )
        found: dict[str, list[tuple]] = {}
        for table, *column in cur.fetchall():
            found.setdefault(table, []).append(tuple(column))
    return found


@pytest.fixture
def old_warehouse(mysql_server):
    """A warehouse made by the version before mysql-migrations/, holding a run."""
    db = dbtools.create_warehouse_db("t_dwv1", [FIXTURES / "warehouse-schema-v1.sql"])
    with dbtools.mysql_admin(db.name) as admin, admin.cursor() as cur:
        cur.execute(
            "INSERT INTO etl_runs (status, mode, triggered_by, stage, created_at, "
            "watermark_after) VALUES ('succeeded', 'full', 'cli', 'done', NOW(), '751:751:')"
        )
    yield db
    db.drop()


def test_an_old_warehouse_is_migrated_to_todays_schema_once_and_keeps_its_runs(
    old_warehouse, warehouse_db
):
    first = migrate(old_warehouse.name)
    assert first.returncode == 0, first.stderr
    assert "Applying warehouse migration 0001-trusted-increments" in first.stdout
    assert columns(old_warehouse.name) == columns(warehouse_db.name)
    again = migrate(old_warehouse.name)
    assert again.returncode == 0, again.stderr
    assert "(0 migration(s) applied)" in again.stdout
    with dbtools.mysql_admin(old_warehouse.name) as conn, conn.cursor() as cur:
        cur.execute("SELECT watermark_after, full_reason FROM etl_runs")
        assert cur.fetchall() == (("751:751:", None),)


def test_a_warehouse_made_by_todays_init_scripts_needs_no_migration(warehouse_db):
    result = migrate(warehouse_db.name)
    assert result.returncode == 0, result.stderr
    assert "(0 migration(s) applied)" in result.stdout


def test_a_failing_migration_stops_and_is_not_recorded(warehouse_db, tmp_path: Path):
    (tmp_path / "0001-trusted-increments.sql").write_text("SELECT 1;")
    (tmp_path / "0002-broken.sql").write_text("ALTER TABLE no_such_table ADD COLUMN x INT;")
    (tmp_path / "0003-later.sql").write_text("CREATE TABLE later (id INT);")
    result = migrate(warehouse_db.name, "--dir", str(tmp_path))
    assert result.returncode != 0
    with dbtools.mysql_admin(warehouse_db.name) as conn, conn.cursor() as cur:
        cur.execute("SELECT version FROM schema_migrations ORDER BY version")
        assert [row[0] for row in cur.fetchall()] == ["0001-trusted-increments"]
        cur.execute("SHOW TABLES LIKE 'later'")
        assert cur.fetchall() == ()


def test_an_old_source_gets_the_truncate_markers_by_applying_the_schema_again(postgres_server):
    db = dbtools.SourceDB(f"t_srcv1_{uuid.uuid4().hex[:10]}")
    with dbtools.pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{db.name}"')
    try:
        with db.connect(autocommit=True) as conn:
            conn.execute((FIXTURES / "source-schema-v1.sql").read_text())
            conn.execute("INSERT INTO online_sales (invoice_no, quantity) VALUES ('1', 2)")
            for _ in range(2):  # what deploy.sh does on every deploy
                dbtools.run_pg_script(conn, dbtools.PG_INIT / "01-schema.sql")
            conn.execute("TRUNCATE online_sales")
            markers = conn.execute("SELECT kind FROM online_sales_changes").fetchall()
        assert markers == [("truncate",)]
    finally:
        db.drop()

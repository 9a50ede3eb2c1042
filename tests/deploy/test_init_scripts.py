"""The database init scripts that create the API's limited accounts, run on real servers.

Each script is sourced by a shell that mimics the official image's entrypoint (``set -Eeo
pipefail``, and for MySQL a ``docker_process_sql`` that runs the client as root), against a
throwaway database built from the schema, as the image runs them on first start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import pymysql
import pytest
from psycopg import sql

from tests import dbtools
from tests.deploy.netns import require_tool

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
PG_SCRIPT = ROOT / "postgres-init" / "03-readonly-role.sh"
MYSQL_SCRIPT = ROOT / "mysql-init" / "02-etl-user.sh"
# Quotes, backslash, dollar, semicolon and spaces: quoting mistakes break on one of them.
HOSTILE_PASSWORD = 'it\'s a "pass\\word" $HOME; --'


def source_like_the_image(script: Path, env: dict[str, str], prelude: str = ""):
    """Source ``script`` the way the image's entrypoint does; return the finished process."""
    command = f'set -Eeo pipefail\n{prelude}\n. "$0"\n'
    return subprocess.run(
        ["bash", "-c", command, str(script)],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


# PostgreSQL ----------------------------------------------------------------------------------


def scram_matches(stored: str, password: str) -> bool:
    """Check a SCRAM-SHA-256 verifier from pg_authid against ``password`` (RFC 5802)."""
    method, rest = stored.split("$", 1)
    assert method == "SCRAM-SHA-256", f"unexpected password storage {method}"
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key = base64.b64decode(keys.split(":")[0])
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return hashlib.sha256(client_key).digest() == stored_key


@pytest.fixture
def readonly_role(source_db):
    """A unique role name (with quotes in it); the role is dropped afterwards."""
    role = f'ro {uuid.uuid4().hex[:8]} it\'s "q"'
    yield role
    with source_db.connect(autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if exists:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def run_readonly_script(db, role: str, password: str):
    require_tool("psql")
    return source_like_the_image(
        PG_SCRIPT,
        {
            "PGHOST": dbtools.PG_HOST,
            "PGPORT": str(dbtools.PG_PORT),
            "POSTGRES_USER": dbtools.PG_USER,
            "POSTGRES_DB": db.name,
            "SOURCE_DB_READONLY_USER": role,
            "SOURCE_DB_READONLY_PASSWORD": password,
        },
    )


def connect_as(db, role: str, password: str) -> psycopg.Connection:
    return psycopg.connect(
        host=dbtools.PG_HOST,
        port=dbtools.PG_PORT,
        dbname=db.name,
        user=role,
        password=password,
        autocommit=True,
    )


def test_readonly_role_reads_tables_and_runs_functions_but_writes_nothing(source_db, readonly_role):
    with source_db.connect(autocommit=True) as owner:
        owner.execute("INSERT INTO online_sales (invoice_no, quantity) VALUES ('536365', 6)")
    result = run_readonly_script(source_db, readonly_role, HOSTILE_PASSWORD)
    assert result.returncode == 0, result.stderr

    with connect_as(source_db, readonly_role, HOSTILE_PASSWORD) as conn:
        assert conn.execute("SELECT count(*) FROM online_sales").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM online_sales_changes").fetchone() == (0,)
        assert conn.execute(
            "SELECT has_function_privilege(current_user, 'online_sales_track_change()', 'EXECUTE')"
        ).fetchone() == (True,)
        forbidden = [
            "INSERT INTO online_sales (id, invoice_no) VALUES (-1, 'x')",
            "UPDATE online_sales SET quantity = 0",
            "DELETE FROM online_sales",
            "TRUNCATE online_sales",
            "CREATE TABLE public.intruder (id int)",
        ]
        for statement in forbidden:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        for table in ("online_sales", "online_sales_changes"):
            for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"):
                held = conn.execute(
                    "SELECT has_table_privilege(current_user, %s, %s)", (table, privilege)
                ).fetchone()
                assert held == (False,), f"{privilege} on {table}"


def test_readonly_role_can_read_tables_the_owner_creates_later(source_db, readonly_role):
    assert run_readonly_script(source_db, readonly_role, "pw").returncode == 0
    with source_db.connect(autocommit=True) as owner:
        owner.execute("CREATE TABLE later_table (id int)")
        owner.execute("INSERT INTO later_table VALUES (1), (2)")
    with connect_as(source_db, readonly_role, "pw") as conn:
        assert conn.execute("SELECT count(*) FROM later_table").fetchone() == (2,)


def test_readonly_role_gets_the_password_exactly_and_no_attribute(source_db, readonly_role):
    assert run_readonly_script(source_db, readonly_role, HOSTILE_PASSWORD).returncode == 0
    with source_db.connect() as conn:
        row = conn.execute(
            "SELECT rolpassword, rolsuper, rolcreatedb, rolcreaterole, rolreplication, "
            "rolbypassrls, rolcanlogin FROM pg_authid WHERE rolname = %s",
            (readonly_role,),
        ).fetchone()
    stored, *attributes, can_login = row
    assert scram_matches(stored, HOSTILE_PASSWORD)
    assert not scram_matches(stored, HOSTILE_PASSWORD + "x")
    assert attributes == [False] * 5
    assert can_login


def test_readonly_script_runs_again_without_error_and_takes_the_new_password(
    source_db, readonly_role
):
    assert run_readonly_script(source_db, readonly_role, "first").returncode == 0
    result = run_readonly_script(source_db, readonly_role, "second")
    assert result.returncode == 0, result.stderr
    with source_db.connect() as conn:
        [stored] = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (readonly_role,)
        ).fetchone()
    assert scram_matches(stored, "second")


@pytest.mark.parametrize("unset", ["SOURCE_DB_READONLY_USER", "SOURCE_DB_READONLY_PASSWORD"])
def test_readonly_script_stops_when_a_setting_is_missing(source_db, unset: str):
    env = {
        "PGHOST": dbtools.PG_HOST,
        "PGPORT": str(dbtools.PG_PORT),
        "POSTGRES_USER": dbtools.PG_USER,
        "POSTGRES_DB": source_db.name,
        "SOURCE_DB_READONLY_USER": "never_created",
        "SOURCE_DB_READONLY_PASSWORD": "pw",
    }
    del env[unset]
    result = source_like_the_image(PG_SCRIPT, env)
    assert result.returncode != 0
    assert unset in result.stderr and "is not set" in result.stderr


def test_readonly_role_takes_its_password_from_a_secret_file(source_db, readonly_role, tmp_path):
    """As compose passes it: SOURCE_DB_READONLY_PASSWORD_FILE, a file ending in a newline."""
    secret = tmp_path / "source_db_readonly_password"
    secret.write_text(HOSTILE_PASSWORD + "\n")
    require_tool("psql")
    result = source_like_the_image(
        PG_SCRIPT,
        {
            "PGHOST": dbtools.PG_HOST,
            "PGPORT": str(dbtools.PG_PORT),
            "POSTGRES_USER": dbtools.PG_USER,
            "POSTGRES_DB": source_db.name,
            "SOURCE_DB_READONLY_USER": readonly_role,
            "SOURCE_DB_READONLY_PASSWORD": "not this one",
            "SOURCE_DB_READONLY_PASSWORD_FILE": str(secret),
        },
    )
    assert result.returncode == 0, result.stderr
    connect_as(source_db, readonly_role, HOSTILE_PASSWORD).close()


# MySQL -----------------------------------------------------------------------------------------

# The image's docker_process_sql runs the client as root on the init server's socket; here it
# reaches the test server the same way the test fixtures do.
DOCKER_PROCESS_SQL = """
docker_process_sql() {
    MYSQL_PWD="$TEST_ROOT_PASSWORD" mysql --protocol=tcp -h "$TEST_HOST" -P "$TEST_PORT" \\
        -u "$TEST_ROOT_USER" --database="$MYSQL_DATABASE" "$@"
}
"""


def run_etl_user_script(db, user: str, password: str, **extra: str):
    require_tool("mysql")
    return source_like_the_image(
        MYSQL_SCRIPT,
        {
            "TEST_HOST": dbtools.MYSQL_HOST,
            "TEST_PORT": str(dbtools.MYSQL_PORT),
            "TEST_ROOT_USER": dbtools.MYSQL_USER,
            "TEST_ROOT_PASSWORD": dbtools.MYSQL_PASSWORD,
            "MYSQL_DATABASE": db.name,
            "WAREHOUSE_DB_USER": user,
            "WAREHOUSE_DB_PASSWORD": password,
            **extra,
        },
        prelude=DOCKER_PROCESS_SQL,
    )


@pytest.fixture
def etl_user(mysql_server):
    """A unique user name; the user is dropped afterwards."""
    user = f"etl_{uuid.uuid4().hex[:10]}"
    yield user
    with dbtools.mysql_admin() as admin, admin.cursor() as cur:
        cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))


@pytest.fixture
def lookalike_db(warehouse_db):
    """A database whose name matches the warehouse's if "_" were a wildcard."""
    name = warehouse_db.name.replace("_", "x")
    with dbtools.mysql_admin() as admin, admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    yield name
    with dbtools.mysql_admin() as admin, admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def connect_mysql(user: str, password: str, database: str | None):
    return pymysql.connect(
        host=dbtools.MYSQL_HOST,
        port=dbtools.MYSQL_PORT,
        user=user,
        password=password,
        database=database,
        autocommit=True,
        charset="utf8mb4",
    )


def test_etl_user_reads_and_writes_the_warehouse_and_nothing_else(
    warehouse_db, etl_user, lookalike_db
):
    result = run_etl_user_script(warehouse_db, etl_user, HOSTILE_PASSWORD)
    assert result.returncode == 0, result.stderr

    with connect_mysql(etl_user, HOSTILE_PASSWORD, warehouse_db.name) as conn:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO countries (name) VALUES ('Iceland')")
            cur.execute("UPDATE countries SET name = 'Norway' WHERE name = 'Iceland'")
            cur.execute("SELECT COUNT(*) FROM countries WHERE name = 'Norway'")
            assert cur.fetchone() == (1,)
            cur.execute("DELETE FROM countries")
            cur.execute("CREATE TEMPORARY TABLE scratch (id INT)")
            cur.execute("LOCK TABLES countries WRITE")
            cur.execute("UNLOCK TABLES")
            for statement in [
                "CREATE TABLE intruder (id INT)",
                "DROP TABLE countries",
                "ALTER TABLE countries ADD COLUMN x INT",
                "CREATE USER intruder IDENTIFIED BY 'x'",
                f"USE `{lookalike_db}`",
                "SELECT user FROM mysql.user",
            ]:
                with pytest.raises(pymysql.err.OperationalError) as refused:
                    cur.execute(statement)
                assert refused.value.args[0] in (1044, 1045, 1142, 1227), statement


def test_etl_user_has_no_global_privilege(warehouse_db, etl_user):
    assert run_etl_user_script(warehouse_db, etl_user, "pw").returncode == 0
    with dbtools.mysql_admin() as admin, admin.cursor() as cur:
        cur.execute("SHOW GRANTS FOR %s@'%%'", (etl_user,))
        grants = [row[0] for row in cur.fetchall()]
    on_everything = [g for g in grants if " ON *.* " in g]
    assert all(g.startswith("GRANT USAGE ON *.*") for g in on_everything), grants
    [database_grant] = [g for g in grants if " ON *.* " not in g]
    privileges = database_grant.split(" ON ")[0].removeprefix("GRANT ").split(", ")
    assert sorted(privileges) == sorted(
        ["SELECT", "INSERT", "UPDATE", "DELETE", "CREATE TEMPORARY TABLES", "LOCK TABLES"]
    )


def test_etl_user_script_runs_again_and_takes_the_new_password(warehouse_db, etl_user):
    assert run_etl_user_script(warehouse_db, etl_user, "first").returncode == 0
    result = run_etl_user_script(warehouse_db, etl_user, "second")
    assert result.returncode == 0, result.stderr
    connect_mysql(etl_user, "second", warehouse_db.name).close()
    with pytest.raises(pymysql.err.OperationalError):
        connect_mysql(etl_user, "first", warehouse_db.name)


@pytest.mark.parametrize("user", ["bad-name", "a'b", "x" * 33, ""])
def test_etl_user_script_refuses_a_user_name_it_cannot_quote(warehouse_db, user: str):
    result = run_etl_user_script(warehouse_db, user, "pw")
    assert result.returncode != 0
    assert "WAREHOUSE_DB_USER" in result.stderr


def test_etl_user_takes_its_password_from_a_secret_file(warehouse_db, etl_user, tmp_path):
    """As compose passes it: WAREHOUSE_DB_PASSWORD_FILE, a file ending in a newline."""
    secret = tmp_path / "warehouse_db_password"
    secret.write_text(HOSTILE_PASSWORD + "\n")
    result = run_etl_user_script(
        warehouse_db, etl_user, "not this one", WAREHOUSE_DB_PASSWORD_FILE=str(secret)
    )
    assert result.returncode == 0, result.stderr
    connect_mysql(etl_user, HOSTILE_PASSWORD, warehouse_db.name).close()

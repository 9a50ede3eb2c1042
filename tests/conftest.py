"""Fixtures shared by every test: throwaway databases and settings pointing at them.

Tests that need a database fail, never skip, under CI=true when the server is missing.
"""

from __future__ import annotations

import os

import pytest

from tests import dbtools

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(what: str, exc: BaseException) -> None:
    """Fail under CI, skip elsewhere, when a server the test needs is missing."""
    message = f"{what} is not available: {exc}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server() -> None:
    try:
        dbtools.pg_admin().close()
    except Exception as exc:  # noqa: BLE001 - any failure means no server
        require("PostgreSQL", exc)


@pytest.fixture(scope="session")
def mysql_server() -> None:
    try:
        dbtools.mysql_admin().close()
    except Exception as exc:  # noqa: BLE001
        require("MySQL/MariaDB", exc)


@pytest.fixture
def source_db(postgres_server):
    """An empty source database with the schema of postgres-init (no seed)."""
    db = dbtools.create_source_db(seeded=False)
    yield db
    db.drop()


@pytest.fixture
def seeded_source_db(postgres_server):
    """A source database with the schema and the seed data of postgres-init."""
    db = dbtools.create_source_db(seeded=True)
    yield db
    db.drop()


@pytest.fixture
def warehouse_db(mysql_server):
    """An empty warehouse database built from mysql-init."""
    db = dbtools.create_warehouse_db()
    yield db
    db.drop()

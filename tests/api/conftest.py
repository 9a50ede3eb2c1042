"""Fixtures of the API tests: settings on throwaway databases, an app, a client, loaded data."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from retail_backend import create_app
from retail_backend.config import Settings
from retail_backend.etl import pipeline
from tests.api.sample import insert_lines, sample_lines


def make_settings(source_url: str, warehouse_url: str, **changes: object) -> Settings:
    """Settings for a test app: short waits and timeouts, a recognisable instance name."""
    base = Settings(
        source_db_url=source_url,
        warehouse_db_url=warehouse_url,
        heartbeat_seconds=0.5,
        run_wait_max=20.0,
        connect_timeout=2.0,
        ready_timeout=1.0,
        instance_name="api-test",
    )
    return base.replace(**changes)


def build_app(settings: Settings) -> Flask:
    """Build an app on ``settings``."""
    return create_app({"SETTINGS": settings})


def close_app(app: Flask) -> None:
    """Wait for the app's run threads and close its connections, before the databases go."""
    state = app.extensions["retail"]
    leftovers = state.runs.shutdown(grace=120)
    state.warehouse_pool.close()
    assert not leftovers, f"runs still going at the end of the test: {leftovers}"


@pytest.fixture
def settings(source_db, warehouse_db) -> Settings:
    """Settings on an empty source and an empty warehouse."""
    return make_settings(source_db.url, warehouse_db.url)


@pytest.fixture
def app(settings: Settings):
    """The API on the test's databases."""
    app = build_app(settings)
    yield app
    close_app(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()


@pytest.fixture
def sample(source_db) -> None:
    """The known lines of tests/api/sample.py in the source (not yet loaded)."""
    insert_lines(source_db, sample_lines())


@pytest.fixture
def loaded(settings: Settings, sample) -> dict:
    """The known lines loaded into the warehouse by one full run; returns the run record."""
    run = pipeline.run(settings, mode="full", triggered_by="test")
    assert run["status"] == "succeeded", run["error_message"]
    return run


@pytest.fixture
def seeded_settings(seeded_source_db, warehouse_db) -> Settings:
    """Settings on the seed data (120,000 lines: a run takes a few seconds)."""
    return make_settings(seeded_source_db.url, warehouse_db.url)


@pytest.fixture
def seeded_app(seeded_settings: Settings):
    """The API on the seed data, for tests that need a run to last a while."""
    app = build_app(seeded_settings)
    yield app
    close_app(app)

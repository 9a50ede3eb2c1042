"""/health touches no database; /ready follows the databases down and back up."""

from __future__ import annotations

import time

import pytest

from tests import dbtools
from tests.api.conftest import build_app, close_app, make_settings
from tests.api.netutil import TcpRelay

DEAD_SOURCE = "postgresql://postgres@127.0.0.1:9/retail"
DEAD_WAREHOUSE = "mysql://root@127.0.0.1:9/retail_dw"


def test_health_is_ok_even_with_both_databases_down():
    app = build_app(make_settings(DEAD_SOURCE, DEAD_WAREHOUSE))
    answer = app.test_client().get("/health")
    assert answer.status_code == 200 and answer.json == {"status": "ok"}
    assert answer.headers["X-Served-By"] == "api-test"


def test_ready_when_both_databases_answer(client):
    answer = client.get("/ready")
    assert answer.status_code == 200
    assert answer.json == {"status": "ready", "checks": {"source": "ok", "warehouse": "ok"}}
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.fixture
def relays(source_db, warehouse_db):
    """TCP relays in front of both databases, and an app that reaches them through the relays."""
    source = TcpRelay(dbtools.PG_HOST, dbtools.PG_PORT)
    warehouse = TcpRelay(dbtools.MYSQL_HOST, dbtools.MYSQL_PORT)
    source.start()
    warehouse.start()
    source_url = source_db.url.replace(f":{dbtools.PG_PORT}/", f":{source.port}/")
    warehouse_url = warehouse_db.url.replace(f":{dbtools.MYSQL_PORT}/", f":{warehouse.port}/")
    app = build_app(make_settings(source_url, warehouse_url))
    yield app.test_client(), {"source": source, "warehouse": warehouse}
    close_app(app)
    source.stop()
    warehouse.stop()


@pytest.mark.parametrize(
    "down, named", [("warehouse", "warehouse (MySQL)"), ("source", "source (PostgreSQL)")]
)
def test_ready_is_503_naming_the_database_that_is_down_then_200_again(relays, down, named):
    client, relay = relays
    assert client.get("/ready").status_code == 200
    relay[down].stop()
    started = time.monotonic()
    answer = client.get("/ready")
    assert time.monotonic() - started < 5
    assert answer.status_code == 503
    up = "source" if down == "warehouse" else "warehouse"
    assert answer.json["status"] == "unavailable"
    assert answer.json["checks"] == {down: "unavailable", up: "ok"}
    assert answer.json["error"]["code"] == "database_unavailable"
    assert named in answer.json["error"]["message"]
    assert client.get("/health").status_code == 200
    relay[down].start()
    assert client.get("/ready").status_code == 200


def test_ready_names_both_when_both_are_down():
    app = build_app(make_settings(DEAD_SOURCE, DEAD_WAREHOUSE))
    answer = app.test_client().get("/ready")
    assert answer.status_code == 503
    assert answer.json["checks"] == {"source": "unavailable", "warehouse": "unavailable"}
    message = answer.json["error"]["message"]
    assert "source (PostgreSQL)" in message and "warehouse (MySQL)" in message


def test_sales_turns_503_and_back_when_the_warehouse_goes_away(relays, sample):
    client, relay = relays
    assert client.get("/sales").status_code == 200
    relay["warehouse"].stop()
    # A different query: an answer from the cache would not show the outage.
    down = client.get("/sales?group_by=day")
    assert down.status_code == 503
    assert down.json["error"]["code"] == "database_unavailable"
    relay["warehouse"].start()
    assert client.get("/sales?group_by=day").status_code == 200

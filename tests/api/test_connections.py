"""The per-process warehouse pool: connections are reused, and a dead one is replaced."""

from __future__ import annotations

from retail_backend import warehouse_pool
from tests import dbtools


def test_requests_reuse_one_connection(app, client, loaded):
    pool = app.extensions["retail"].warehouse_pool
    client.get("/sales?group_by=day")
    client.get("/etl-runs")
    client.get("/sales?group_by=month")
    assert len(pool._idle) == 1  # one request at a time needs one connection


def test_a_connection_killed_while_idle_is_replaced_not_failed(app, client, loaded, monkeypatch):
    monkeypatch.setattr(warehouse_pool, "IDLE_BEFORE_PING", 0.0)  # ping on every borrow
    assert client.get("/etl-runs").status_code == 200
    pool = app.extensions["retail"].warehouse_pool
    (idle, _since), *_ = pool._idle
    with dbtools.mysql_admin() as admin, admin.cursor() as cur:
        cur.execute(f"KILL CONNECTION {idle.thread_id()}")  # as a database restart would
    assert client.get("/etl-runs").status_code == 200
    assert pool._idle[0][0] is not idle


def test_a_failed_request_does_not_pool_its_connection(app, client, loaded):
    pool = app.extensions["retail"].warehouse_pool
    with dbtools.mysql_admin() as admin, admin.cursor() as cur:
        client.get("/etl-runs")
        (idle, _since), *_ = pool._idle
        cur.execute(f"KILL CONNECTION {idle.thread_id()}")
    answer = client.get("/etl-runs")  # used at once, without a ping: this request fails...
    assert answer.status_code == 503
    assert pool._idle == []  # ...and the dead connection is not lent again
    assert client.get("/etl-runs").status_code == 200

"""A database refused, reset, black-holed or slowed (a TCP proxy in front of it), then back.

The API must answer 503 ``database_unavailable`` within its timeouts, say in /ready which
database is missing, keep serving what does not need that database, and answer 200 again by
itself as soon as the database is back: no restart, no pooled connection from the outage lent
to a later request.
"""

from __future__ import annotations

import threading
import time
from itertools import count

import pytest
from flask.testing import FlaskClient

from retail_backend import connections, warehouse_pool
from tests import dbtools
from tests.api.conftest import build_app, close_app
from tests.robustness.faultproxy import fault_proxy

TIMEOUTS = {"connect_timeout": 1.0, "read_timeout": 3.0, "ready_timeout": 1.0}
MARGIN = 0.75  # seconds of slack over a timeout: Python, the proxy and a loaded machine
FAULTS = [("refuse", 0), ("drop", 0), ("blackhole", 0), ("latency", 4000)]
FAULT_IDS = ["refuse", "drop", "blackhole", "latency-beyond-timeout"]
POOLED = 4  # idle warehouse connections in the pool when the fault starts
_unique = count(1)


@pytest.fixture
def proxied(settings, loaded):
    """The app on the loaded databases, through a fault proxy in front of each."""
    with (
        fault_proxy(dbtools.PG_HOST, dbtools.PG_PORT) as source,
        fault_proxy(dbtools.MYSQL_HOST, dbtools.MYSQL_PORT) as warehouse,
    ):
        app = build_app(
            settings.replace(
                source_db_url=source.url(settings.source_db_url, dbtools.PG_PORT),
                warehouse_db_url=warehouse.url(settings.warehouse_db_url, dbtools.MYSQL_PORT),
                **TIMEOUTS,
            )
        )
        try:
            yield app, {"source": source, "warehouse": warehouse}
        finally:
            close_app(app)


def timed(call):
    """Return ``call()``'s answer and the seconds it took."""
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def figures(client: FlaskClient) -> dict:
    """Return what must survive an outage: the sales figures and the run list."""
    sales = client.get("/sales?group_by=month")
    runs = client.get("/etl-runs")
    assert sales.status_code == 200 and runs.status_code == 200, (sales.json, runs.json)
    return {
        "sales": {"data": sales.json["data"], "totals": sales.json["meta"]["totals"]},
        "runs": runs.json,
    }


def fill_pool(app, size: int = POOLED) -> None:
    """Leave ``size`` idle connections in the warehouse pool, as after a burst of requests."""
    barrier = threading.Barrier(size)

    def borrow_together() -> None:
        with app.app_context():  # its teardown gives the connection back to the pool
            connections.warehouse()
            barrier.wait()  # every thread holds its own connection at once

    threads = [threading.Thread(target=borrow_together) for _ in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(app.extensions["retail"].warehouse_pool._idle) == size


def assert_unavailable(answer, database: str) -> None:
    assert answer.status_code == 503, answer.data
    assert answer.json["error"]["code"] == "database_unavailable"
    assert database in answer.json["error"]["message"]


def ready_while_down(client: FlaskClient, down: str, named: str, record_property) -> None:
    answer, seconds = timed(lambda: client.get("/ready"))
    record_property("ready_seconds", round(seconds, 2))
    assert answer.status_code == 503
    assert answer.json["checks"][down] == "unavailable"
    assert answer.json["checks"]["source" if down == "warehouse" else "warehouse"] == "ok"
    assert_unavailable(answer, named)
    assert seconds < 2.0, f"/ready took {seconds:.2f} s"


def recovery(client: FlaskClient, before: dict, proxy, record_property) -> int:
    """Put the proxy back to pass; return how many answers after that were wrong."""
    proxy.set_mode("pass")
    back = time.monotonic()
    wrong = 0
    for _ in range(3):  # more requests than one pooled connection could spoil
        wrong += figures_or_none(client) != before
    wrong += client.get("/ready").status_code != 200
    record_property("recovery_seconds", round(time.monotonic() - back, 2))
    return wrong


def figures_or_none(client: FlaskClient) -> dict | None:
    try:
        return figures(client)
    except AssertionError:
        return None


@pytest.mark.campaign("database_unreachable")
@pytest.mark.parametrize("mode, latency_ms", FAULTS, ids=FAULT_IDS)
def test_warehouse_fault_gives_503_within_the_timeout_then_200_by_itself(
    proxied, mode, latency_ms, campaign, record_property
):
    app, proxy = proxied
    client = app.test_client()
    before = figures(client)
    fill_pool(app)
    proxy["warehouse"].set_mode(mode, latency_ms)
    # A query never asked before, so no cached page can hide the outage.
    sales, sales_s = timed(lambda: client.get(f"/sales?limit={next(_unique)}"))
    runs, runs_s = timed(lambda: client.get("/etl-runs"))
    trigger, trigger_s = timed(lambda: client.post("/run-etl"))  # opens new connections
    record_property("seconds_to_503", [round(s, 2) for s in (sales_s, runs_s, trigger_s)])
    for answer in (sales, runs, trigger):
        assert_unavailable(answer, "warehouse (MySQL)")
    limit = TIMEOUTS["read_timeout"] + MARGIN
    assert sales_s < limit and runs_s < limit, (sales_s, runs_s)
    assert trigger_s < TIMEOUTS["connect_timeout"] + MARGIN, trigger_s
    ready_while_down(client, "warehouse", "warehouse (MySQL)", record_property)
    assert client.get("/health").status_code == 200
    wrong = recovery(client, before, proxy["warehouse"], record_property)
    campaign.cases(5)
    campaign.data_lost(wrong)
    assert wrong == 0


@pytest.mark.campaign("database_unreachable")
def test_idle_pooled_connections_cost_one_ping_not_one_each(
    proxied, monkeypatch, campaign, record_property
):
    app, proxy = proxied
    client = app.test_client()
    before = figures(client)
    fill_pool(app)
    monkeypatch.setattr(warehouse_pool, "IDLE_BEFORE_PING", 0.0)  # every pooled one is "idle"
    proxy["warehouse"].set_mode("blackhole")
    answer, seconds = timed(lambda: client.get(f"/sales?limit={next(_unique)}"))
    record_property("seconds_to_503", round(seconds, 2))
    assert_unavailable(answer, "warehouse (MySQL)")
    # One ping that times out, then one connect that does: never a ping per pooled connection.
    assert seconds < TIMEOUTS["read_timeout"] + TIMEOUTS["connect_timeout"] + MARGIN, seconds
    wrong = recovery(client, before, proxy["warehouse"], record_property)
    campaign.cases(1)
    campaign.data_lost(wrong)
    assert wrong == 0


@pytest.mark.campaign("database_unreachable")
@pytest.mark.parametrize("mode, latency_ms", FAULTS, ids=FAULT_IDS)
def test_source_fault_fails_ready_and_the_run_but_not_the_reads(
    proxied, mode, latency_ms, campaign, record_property
):
    app, proxy = proxied
    client = app.test_client()
    before = figures(client)
    proxy["source"].set_mode(mode, latency_ms)
    # The API's reads come from the warehouse only: they go on.
    during = figures_or_none(client)
    ready_while_down(client, "source", "source (PostgreSQL)", record_property)
    wrong = during != before
    posted = time.monotonic()
    answer = client.post("/run-etl?wait=20")
    run_seconds = time.monotonic() - posted
    record_property("failed_run_seconds", round(run_seconds, 2))
    assert answer.status_code == 200, answer.json  # finished within the wait
    run = answer.json
    assert run["status"] == "failed" and run["error"], run
    # libpq waits at least 2 s to connect, whatever connect_timeout says.
    assert run_seconds < max(TIMEOUTS["connect_timeout"], 2.0) + 2 * MARGIN, run_seconds
    before["runs"] = client.get("/etl-runs").json  # now with the failed run
    wrong += recovery(client, before, proxy["source"], record_property)
    # The lock was freed: the next run goes through, and changes nothing.
    again = client.post("/run-etl?wait=20&mode=full")
    wrong += again.status_code != 200 or again.json["status"] != "succeeded"
    wrong += figures(client)["sales"] != before["sales"]
    campaign.cases(4)
    campaign.data_lost(wrong)
    assert wrong == 0


@pytest.mark.campaign("database_unreachable")
def test_moderate_latency_below_the_timeouts_still_answers_200(proxied, campaign):
    app, proxy = proxied
    client = app.test_client()
    before = figures(client)
    for relay in proxy.values():
        relay.set_mode("latency", 30)
    during = figures_or_none(client)
    fresh = client.get(f"/sales?limit={next(_unique)}")
    ready = client.get("/ready")
    run = client.post("/run-etl?wait=30&mode=full")
    wrong = (during != before) + (fresh.status_code != 200) + (ready.status_code != 200)
    wrong += run.status_code != 200 or run.json["status"] != "succeeded"
    campaign.cases(4)
    campaign.data_lost(wrong)
    assert wrong == 0, (during, fresh.json, ready.json, run.json)


@pytest.mark.campaign("database_unreachable")
def test_source_that_stalls_mid_run_fails_the_run_within_the_etl_read_timeout(
    settings, loaded, source_db, campaign, record_property
):
    etl_read_timeout = 3.0
    with fault_proxy(dbtools.PG_HOST, dbtools.PG_PORT) as proxy:
        app = build_app(
            settings.replace(
                source_db_url=proxy.url(settings.source_db_url, dbtools.PG_PORT),
                etl_read_timeout=etl_read_timeout,
                **TIMEOUTS,
            )
        )
        try:
            client = app.test_client()
            before = figures(client)
            answers: list = []
            # The run connects and takes its snapshot, then its first read of online_sales
            # waits behind this lock; the answer the server sends on release falls into the
            # black hole, as on a network that stalls mid-run.
            with source_db.connect() as holder:
                holder.execute("LOCK TABLE online_sales IN ACCESS EXCLUSIVE MODE")
                trigger = threading.Thread(
                    target=lambda: answers.append(client.post("/run-etl?wait=30&mode=full"))
                )
                trigger.start()
                wait_for_etl_read_behind_lock(holder)
                proxy.set_mode("blackhole")
                stalled = time.monotonic()
            trigger.join(30)
            seconds = time.monotonic() - stalled
            record_property("failed_run_seconds", round(seconds, 2))
            run = answers[0].json
            assert run["status"] == "failed", run
            assert f"did not answer within {etl_read_timeout:g} s" in run["error"], run
            assert seconds < etl_read_timeout + 2 * MARGIN, seconds
            proxy.set_mode("pass")
            again = client.post("/run-etl?wait=30&mode=full")  # the lock was freed
            wrong = again.status_code != 200 or again.json["status"] != "succeeded"
            wrong += figures(client)["sales"] != before["sales"]
            campaign.cases(1)
            campaign.data_lost(wrong)
            assert wrong == 0, again.json
        finally:
            close_app(app)


def wait_for_etl_read_behind_lock(holder, timeout: float = 15) -> None:
    """Return once the ETL's extract connection waits on a lock of ``holder``'s database."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder.execute("SELECT pg_stat_clear_snapshot()")  # else it is frozen for the transaction
        waiting = holder.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'retail-etl-extract' AND wait_event_type = 'Lock'"
        ).fetchone()[0]
        if waiting:
            return
        time.sleep(0.05)
    pytest.fail("the run's extract never waited on the lock")

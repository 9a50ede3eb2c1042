"""SIGTERM to a gunicorn replica that is serving steady GET /sales traffic and running an ETL run.

tests/api/test_gunicorn.py checks the run's fate when nobody is asking anything; here clients
keep the workers busy, so the shutdown has requests in flight: every request the server
accepted must be answered in full, the master must exit within its graceful timeout, and the
run must end succeeded or failed with its lock free.
"""

from __future__ import annotations

import http.client
import itertools
import json
import signal
import threading
import time
from collections import Counter

import pytest

from retail_backend.etl import pipeline
from tests.api.servers import Gunicorn, start_gunicorn

CLIENTS = 6
GRACEFUL = 30  # gunicorn.conf.py's graceful_timeout
_request_numbers = itertools.count(1)


def get_sales(server: Gunicorn, query: str, request_id: str) -> str:
    """Send one GET /sales on a new connection; say how it ended.

    ``refused``: the server was no longer listening (or closed its listener with this
    connection still in the backlog: the handshake ends in a reset, and nothing was accepted).
    ``ok``: a complete 200 whose body has the figures. Anything else, once connected, is
    ``lost: <why>``.
    """
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        try:
            conn.connect()
        except (ConnectionRefusedError, ConnectionResetError):
            return "refused"
        try:
            conn.request("GET", f"/sales?{query}", headers={"X-Request-ID": request_id})
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            return f"lost: {type(exc).__name__}"
        if response.status != 200 or b'"totals"' not in body:
            return f"lost: status {response.status}"
        return "ok"
    finally:
        conn.close()


def steady_clients(server: Gunicorn, stop: threading.Event, outcomes: list[tuple]) -> list:
    """Start client threads that send GET /sales back to back until the server refuses."""

    def client(index: int) -> None:
        queries = ["group_by=product", "group_by=month", f"group_by=country&limit={10 + index}"]
        sent = 0
        while not stop.is_set():
            started = time.monotonic()
            request_id = f"sigterm-{next(_request_numbers)}"
            outcome = get_sales(server, queries[sent % len(queries)], request_id)
            outcomes.append((started, time.monotonic(), outcome, request_id))
            sent += 1
            if outcome == "refused":
                return

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    return threads


@pytest.mark.campaign("replica_sigterm")
def test_sigterm_answers_every_accepted_request_and_never_leaves_the_run_running(
    seeded_settings, tmp_path, campaign, record_property
):
    assert pipeline.run(seeded_settings, mode="full")["status"] == "succeeded"  # figures to read
    env = {
        "SOURCE_DB_URL": seeded_settings.source_db_url,
        "WAREHOUSE_DB_URL": seeded_settings.warehouse_db_url,
    }
    server = start_gunicorn(tmp_path, env)
    stop = threading.Event()
    outcomes: list[tuple] = []
    threads = steady_clients(server, stop, outcomes)
    try:
        # Traffic flowing (and the workers' caches warm) before the run starts, however
        # loaded the machine is: there must be something to lose.
        deadline = time.monotonic() + 30
        while sum(o[2] == "ok" for o in list(outcomes)) <= CLIENTS:
            assert time.monotonic() < deadline, Counter(o[2] for o in outcomes)
            time.sleep(0.1)
        started = server.request("/run-etl?mode=full", method="POST")
        assert started.status == 202, started.body
        run_id = started.json()["id"]
        time.sleep(1.0)  # steady traffic, and the run well under way
        run_before = pipeline.finished_run(seeded_settings, run_id)
        signalled = time.monotonic()
    finally:
        status = server.stop(signal.SIGTERM, timeout=GRACEFUL + 30)
        exited = time.monotonic() - signalled
        stop.set()
        for thread in threads:
            thread.join(70)
    assert run_before["status"] == "running", run_before  # the shutdown met a run in progress
    # A connection the kernel queued that no worker accepted before the listening socket closed
    # is reset without the server ever reading its request (a load balancer retries it); the
    # access log, written for every request a worker handled, tells the two apart.
    handled = handled_request_ids(server)
    outcomes = [
        (begun, ended, "never accepted" if _unread(outcome, rid, handled) else outcome)
        for begun, ended, outcome, rid in outcomes
    ]
    before = Counter(outcome for begun, _, outcome in outcomes if begun < signalled)
    in_flight = Counter(o for begun, ended, o in outcomes if begun < signalled < ended)
    after = Counter(outcome for begun, _, outcome in outcomes if begun >= signalled)
    lost = sum(n for outcome, n in before.items() if outcome not in ("ok", "never accepted"))
    record_property("sent_before_sigterm", dict(before))
    record_property("in_flight_at_sigterm", dict(in_flight))
    record_property("sent_after_sigterm", dict(after))
    record_property("exit_seconds", round(exited, 2))
    campaign.cases(len(outcomes))
    campaign.data_lost(lost)
    assert lost == 0, (before, in_flight)
    assert before["ok"] > CLIENTS and in_flight["ok"] > 0, before  # there was traffic to lose
    assert set(after) <= {"ok", "refused", "never accepted"}, after
    assert status == 0 and exited < GRACEFUL, (status, exited)
    run = pipeline.finished_run(seeded_settings, run_id)
    assert run["status"] in ("succeeded", "failed"), run
    # The lock is free: the next run starts at once and succeeds.
    assert pipeline.run(seeded_settings, mode="incremental")["status"] == "succeeded"


def handled_request_ids(server: Gunicorn) -> set[str]:
    """Return the request ids of the access log: the requests a worker read and answered."""
    ids = set()
    for line in server.log_lines():
        if line.startswith("{"):
            ids.add(json.loads(line).get("request_id"))
    return ids


def _unread(outcome: str, request_id: str, handled: set[str]) -> bool:
    return outcome == "lost: ConnectionResetError" and request_id not in handled

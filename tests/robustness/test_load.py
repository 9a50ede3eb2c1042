"""Load on the deployed server (gunicorn): reads during a run that changes every figure, and
triggers racing across replicas.

Readers must see the whole old snapshot or the whole new one, never a mix, and never a 5xx;
of any number of simultaneous triggers on any replicas, exactly one starts a run.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from retail_backend.etl import pipeline
from tests.api.expected import expected_descriptions, expected_rows, expected_totals
from tests.api.servers import Gunicorn, start_gunicorn

SALES = "/sales?group_by=product&limit=1000"  # rows from daily_product_sales, totals from
# daily_country_sales: a mix of two loads would show as rows and totals that disagree
POLL_SECONDS = 0.03
TRIGGERS = 30
REPLICAS = 3


def expected_page(source_db) -> dict:
    """Return the data and totals of SALES, computed with plain SQL over the source."""
    rows = expected_rows(source_db, "product")
    descriptions = expected_descriptions(source_db)
    order = sorted(rows, key=lambda code: (-rows[code]["_revenue"], code.encode()))[:1000]
    data = [
        {
            "product_id": code,
            "description": descriptions.get(code, ""),
            **{k: v for k, v in rows[code].items() if k != "_revenue"},
        }
        for code in order
    ]
    return {"data": data, "totals": expected_totals(source_db)}


def change_the_source(source_db) -> None:
    """Change most figures: double a third of the quantities, delete a seventh of the lines."""
    with source_db.connect(autocommit=True) as conn:
        conn.execute("UPDATE online_sales SET quantity = quantity * 2 WHERE id % 3 = 0")
        conn.execute("DELETE FROM online_sales WHERE id % 7 = 0")


def env_of(settings) -> dict[str, str]:
    return {"SOURCE_DB_URL": settings.source_db_url, "WAREHOUSE_DB_URL": settings.warehouse_db_url}


def run_ids(warehouse_db) -> set[int]:
    """Return the ids in etl_runs, read straight from the table."""
    with warehouse_db.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM etl_runs")
        return {row[0] for row in cur.fetchall()}


@pytest.mark.campaign("sales_during_run")
def test_sales_during_a_full_run_are_the_whole_old_or_the_whole_new_snapshot(
    seeded_source_db, warehouse_db, seeded_settings, tmp_path, campaign, record_property
):
    assert pipeline.run(seeded_settings, mode="full")["status"] == "succeeded"
    old = expected_page(seeded_source_db)
    change_the_source(seeded_source_db)
    new = expected_page(seeded_source_db)
    assert old["totals"] != new["totals"] and old["data"] != new["data"]
    server = start_gunicorn(tmp_path, env_of(seeded_settings))
    seen: list[tuple[str, int, dict | None]] = []  # (stage when sent, status, page)
    try:
        assert server.request(SALES).json()["meta"]["totals"] == old["totals"]
        started = server.request("/run-etl?mode=full", method="POST")
        assert started.status == 202, started.body
        run_id = started.json()["id"]
        finished_at = None
        with warehouse_db.connect() as probe, probe.cursor() as cur:
            # Keep reading until a second after the run ends: caches refresh within a second.
            while finished_at is None or time.monotonic() - finished_at < 1.5:
                cur.execute("SELECT status, stage FROM etl_runs WHERE id = %s", (run_id,))
                status, stage = cur.fetchone()
                if status in ("succeeded", "failed") and finished_at is None:
                    finished_at = time.monotonic()
                answer = server.request(SALES)
                page = None
                if answer.status == 200:
                    body = answer.json()
                    page = {"data": body["data"], "totals": body["meta"]["totals"]}
                seen.append((stage, answer.status, page))
                time.sleep(POLL_SECONDS)
        run = pipeline.finished_run(seeded_settings, run_id)
    finally:
        assert server.stop() == 0
    assert run["status"] == "succeeded", run
    as_old = sum(page == old for _, _, page in seen)
    as_new = sum(page == new for _, _, page in seen)
    during_load = sum(stage == "load" for stage, _, _ in seen)
    server_errors = sum(status >= 500 for _, status, _ in seen)
    record_property("requests", len(seen))
    record_property("old_new_during_load", [as_old, as_new, during_load])
    campaign.cases(len(seen))
    campaign.data_lost(len(seen) - as_old - as_new)
    assert server_errors == 0 and as_old + as_new == len(seen), (server_errors, as_old, as_new)
    assert during_load > 0, "no request overlapped the load stage"
    assert as_old > 0 and as_new > 0 and seen[-1][2] == new


def trigger_all(servers: list[Gunicorn], count: int) -> list:
    """POST /run-etl ``count`` times at once, spread over the servers; return (status, body)."""
    barrier = threading.Barrier(count)

    def trigger(index: int) -> tuple[int, dict]:
        server = servers[index % len(servers)]
        request = urllib.request.Request(server.url("/run-etl?mode=full"), method="POST")
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(trigger, range(count)))


def wait_finished(settings, run_id: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = pipeline.finished_run(settings, run_id)
        if run["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


@pytest.mark.campaign("concurrent_triggers")
def test_simultaneous_triggers_on_three_replicas_start_exactly_one_run_per_round(
    seeded_settings, warehouse_db, tmp_path, campaign, record_property
):
    env = env_of(seeded_settings)
    with ThreadPoolExecutor(max_workers=REPLICAS) as pool:
        servers = list(pool.map(lambda i: start_gunicorn(tmp_path, env), range(REPLICAS)))
    wrong = 0
    try:
        for round_no in (1, 2):
            before = run_ids(warehouse_db)
            answers = trigger_all(servers, TRIGGERS)
            started = [body for status, body in answers if status == 202]
            refused = [body for status, body in answers if status == 409]
            winner = started[0]["id"] if len(started) == 1 else None
            wrong += len(answers) - len(started) - len(refused)  # neither 202 nor 409
            wrong += abs(len(started) - 1)
            wrong += sum(body["error"]["run_id"] != winner for body in refused)
            new_runs = run_ids(warehouse_db) - before
            wrong += new_runs != {winner}
            record_property(f"round_{round_no}", [len(started), len(refused), len(new_runs)])
            assert winner is not None, answers
            assert wait_finished(seeded_settings, winner)["status"] == "succeeded"
    finally:
        for server in servers:
            server.stop()
    campaign.cases(2 * TRIGGERS)
    campaign.data_lost(wrong)
    assert wrong == 0

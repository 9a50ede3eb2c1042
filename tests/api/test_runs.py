"""POST /run-etl and /etl-runs: start in the background, wait, one at a time, idempotent retries."""

from __future__ import annotations

import threading
import time

import pytest

from retail_backend.etl import pipeline
from retail_backend.etl.runs import RunInProgress
from tests.api.conftest import build_app, close_app, make_settings
from tests.api.expected import expected_rejects
from tests.api.sample import EXPECTED_REJECTS, sample_lines

RUN_FIELDS = [
    "id", "status", "mode", "triggered_by", "stage", "created_at", "started_at", "finished_at",
    "heartbeat_at", "duration_seconds", "rows_extracted", "rows_rejected", "rows_loaded",
    "duplicate_lines", "keys_inserted", "keys_updated", "keys_deleted", "watermark_before",
    "watermark_after", "source", "full_reason", "result", "error",
]  # fmt: skip


def wait_until_finished(client, run_id: int, timeout: float = 60) -> dict:
    """Poll the run's location until it has finished."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/etl-runs/{run_id}").json
        if run["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return run
        time.sleep(0.1)


def test_post_answers_202_at_once_with_the_run_and_its_location(client, sample, source_db):
    answer = client.post("/run-etl")
    assert answer.status_code == 202
    run = answer.json
    assert list(run) == RUN_FIELDS
    assert run["status"] in ("queued", "running") and run["mode"] == "incremental"
    assert run["triggered_by"] == "api"
    assert answer.headers["Location"] == f"/etl-runs/{run['id']}"
    assert answer.headers["Retry-After"] == "2"
    assert answer.headers["Cache-Control"] == "no-store"
    assert run["created_at"].endswith("Z")
    done = wait_until_finished(client, run["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["stage"] == "done" and done["error"] is None
    assert done["rows_extracted"] == len(sample_lines())
    assert done["rows_rejected"] == expected_rejects(source_db) == sum(EXPECTED_REJECTS.values())
    assert done["rows_loaded"] == done["rows_extracted"] - done["rows_rejected"]
    assert done["duration_seconds"] > 0 and done["finished_at"].endswith("Z")


def test_wait_returns_the_finished_run_with_its_counts(client, sample):
    answer = client.post("/run-etl?wait=30&mode=full")
    assert answer.status_code == 200
    run = answer.json
    assert run["status"] == "succeeded" and run["mode"] == "full"
    assert run["rows_extracted"] == len(sample_lines())
    assert run["rows_rejected"] == sum(EXPECTED_REJECTS.values())
    assert run["keys_inserted"] > 0 and run["watermark_after"]
    assert answer.headers["Location"] == f"/etl-runs/{run['id']}"
    assert "Retry-After" not in answer.headers


def test_wait_that_runs_out_answers_202_with_the_run_still_going(seeded_app):
    client = seeded_app.test_client()
    started = time.monotonic()
    answer = client.post("/run-etl?wait=0.3")
    assert answer.status_code == 202
    assert time.monotonic() - started < 3
    assert answer.json["status"] in ("queued", "running")
    assert wait_until_finished(client, answer.json["id"])["status"] == "succeeded"


def test_wait_is_capped(seeded_settings):
    app = build_app(seeded_settings.replace(run_wait_max=0.5))
    try:
        started = time.monotonic()
        answer = app.test_client().post("/run-etl?wait=3600")
        assert answer.status_code == 202 and time.monotonic() - started < 3
    finally:
        close_app(app)


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"query_string": {"mode": "full"}},
        {"json": {"mode": "full"}},
        {"data": '{"mode": "full"}', "content_type": "application/x-www-form-urlencoded"},
        {"data": {"mode": "full"}},
        {"query_string": {"mode": "full"}, "json": {"mode": "full"}},
    ],
    ids=["query", "json", "json-without-content-type", "form", "both-agree"],
)
def test_mode_comes_from_the_query_or_the_body(client, sample, request_kwargs):
    query = {"wait": "30", **request_kwargs.pop("query_string", {})}
    answer = client.post("/run-etl", query_string=query, **request_kwargs)
    assert answer.status_code == 200 and answer.json["mode"] == "full"


def test_a_bare_post_with_no_body_runs_incrementally(client, sample):
    answer = client.post("/run-etl?wait=30", data=b"", content_type=None)
    assert answer.status_code == 200 and answer.json["mode"] == "incremental"


def test_second_trigger_gets_409_with_the_running_runs_id_and_location(seeded_app):
    client = seeded_app.test_client()
    first = client.post("/run-etl")
    assert first.status_code == 202
    second = client.post("/run-etl", headers={"X-Forwarded-Prefix": "/api"})
    assert second.status_code == 409
    error = second.json["error"]
    assert error["code"] == "run_in_progress"
    assert error["run_id"] == first.json["id"]
    assert error["location"] == f"/api/etl-runs/{first.json['id']}"
    assert second.headers["Location"] == error["location"]
    assert second.headers["Cache-Control"] == "no-store"
    wait_until_finished(client, first.json["id"])


def test_concurrent_triggers_give_exactly_one_202_and_the_rest_409(seeded_app):
    clients = [seeded_app.test_client() for _ in range(12)]
    barrier = threading.Barrier(len(clients))
    answers: list = [None] * len(clients)

    def trigger(index: int) -> None:
        barrier.wait()
        answers[index] = clients[index].post("/run-etl")

    threads = [threading.Thread(target=trigger, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202] + [409] * (len(clients) - 1)
    winner = next(answer.json["id"] for answer in answers if answer.status_code == 202)
    assert {a.json["error"]["run_id"] for a in answers if a.status_code == 409} == {winner}
    assert wait_until_finished(clients[0], winner)["status"] == "succeeded"


def test_a_run_from_another_process_also_gives_409(client, seeded_settings, sample):
    recorder = pipeline.start_run(seeded_settings, "full", "cli")  # holds the lock, as the CLI
    try:
        answer = client.post("/run-etl")
        assert answer.status_code == 409
        assert answer.json["error"]["run_id"] == recorder.run_id
    finally:
        pipeline.execute(seeded_settings, recorder)


def test_idempotency_key_makes_a_retry_return_the_same_run(client, sample):
    headers = {"Idempotency-Key": "7d0f3a1e-retry"}
    first = client.post("/run-etl", headers=headers)
    assert first.status_code == 202
    again = client.post("/run-etl", headers=headers)
    assert again.status_code in (200, 202) and again.json["id"] == first.json["id"]
    wait_until_finished(client, first.json["id"])
    later = client.post("/run-etl", headers=headers)
    assert later.status_code == 200
    assert later.json["id"] == first.json["id"] and later.json["status"] == "succeeded"
    assert later.headers["Location"] == f"/etl-runs/{first.json['id']}"
    assert client.get("/etl-runs").json["meta"]["total_rows"] == 1
    other = client.post("/run-etl?wait=30", headers={"Idempotency-Key": "another"})
    assert other.status_code == 200 and other.json["id"] != first.json["id"]


def test_idempotency_keys_that_differ_only_in_case_start_different_runs(client, sample):
    first = client.post("/run-etl?wait=30", headers={"Idempotency-Key": "Retry-A"})
    second = client.post("/run-etl?wait=30", headers={"Idempotency-Key": "retry-a"})
    assert first.status_code == second.status_code == 200
    assert first.json["id"] != second.json["id"]


def test_concurrent_retries_with_one_key_all_get_the_same_run(seeded_app):
    clients = [seeded_app.test_client() for _ in range(6)]
    barrier = threading.Barrier(len(clients))
    answers: list = [None] * len(clients)

    def trigger(index: int) -> None:
        barrier.wait()
        answers[index] = clients[index].post("/run-etl", headers={"Idempotency-Key": "same"})

    threads = [threading.Thread(target=trigger, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert {answer.status_code for answer in answers} <= {200, 202}
    assert len({answer.json["id"] for answer in answers}) == 1
    wait_until_finished(clients[0], answers[0].json["id"])


def test_a_failed_run_reports_its_error_without_the_password(warehouse_db):
    # The source is unreachable (a closed port), with a password in its URL.
    settings = make_settings(
        "postgresql://etl:s3cret-pw@127.0.0.1:9/retail", warehouse_db.url, connect_timeout=1.0
    )
    app = build_app(settings)
    try:
        answer = app.test_client().post("/run-etl?wait=20")
        assert answer.status_code == 200
        run = answer.json
        assert run["status"] == "failed" and run["error"]
        assert "s3cret-pw" not in run["error"]
        assert run["finished_at"] is not None
    finally:
        close_app(app)


def test_runs_are_listed_newest_first_with_paging(client, sample, settings):
    ids = [pipeline.run(settings, triggered_by="test")["id"] for _ in range(3)]
    listing = client.get("/etl-runs").json
    assert [run["id"] for run in listing["data"]] == ids[::-1]
    assert listing["meta"] == {"limit": 20, "offset": 0, "total_rows": 3}
    page = client.get("/etl-runs?limit=1&offset=1").json
    assert [run["id"] for run in page["data"]] == [ids[1]]
    assert all(list(run) == RUN_FIELDS for run in listing["data"])


def test_unknown_run_is_404(client):
    answer = client.get("/etl-runs/424242")
    assert answer.status_code == 404 and answer.json["error"]["code"] == "not_found"
    assert client.get("/etl-runs/424242/rejects").status_code == 404


def test_rejects_list_each_rejected_line_with_its_reason(client, loaded):
    body = client.get(f"/etl-runs/{loaded['id']}/rejects").json
    assert body["meta"]["by_reason"] == EXPECTED_REJECTS
    assert body["meta"]["total_rows"] == sum(EXPECTED_REJECTS.values())
    by_invoice = {line["invoice_no"]: line for line in body["data"]}
    assert by_invoice["549007"] == {
        "source_id": by_invoice["549007"]["source_id"],
        "reason": "zero_price",
        "invoice_no": "549007",
        "stock_code": "22423",
        "quantity": 4,
        "unit_price": "0.000",
        "invoice_date": "2011-02-14",
        "country": "United Kingdom",
    }
    only = client.get(f"/etl-runs/{loaded['id']}/rejects?reason=zero_quantity").json
    assert [line["invoice_no"] for line in only["data"]] == ["549008"]
    assert only["meta"]["total_rows"] == 1 and only["meta"]["by_reason"] == EXPECTED_REJECTS
    first = client.get(f"/etl-runs/{loaded['id']}/rejects?limit=2").json["data"]
    second = client.get(f"/etl-runs/{loaded['id']}/rejects?limit=2&offset=2").json["data"]
    assert [r["source_id"] for r in first + second] == [r["source_id"] for r in body["data"]]


def test_shutdown_marks_a_run_still_going_failed_and_frees_the_lock(seeded_app, seeded_settings):
    client = seeded_app.test_client()
    run_id = client.post("/run-etl").json["id"]
    interrupted = seeded_app.extensions["retail"].runs.shutdown(grace=0)
    assert interrupted == [run_id]
    run = client.get(f"/etl-runs/{run_id}").json
    assert run["status"] == "failed" and "shut down" in run["error"]
    # The lock is free at once: another process can start a run.
    try:
        recorder = pipeline.start_run(seeded_settings, "full", "test")
    except RunInProgress as exc:  # pragma: no cover - the failure this test looks for
        pytest.fail(f"the lock was not released: {exc}")
    recorder.fail("not run: the test only checks the lock")
    recorder.close()
    # The interrupted thread ends without loading anything over the failed run.
    seeded_app.extensions["retail"].runs.join(run_id, 60)
    assert client.get(f"/etl-runs/{run_id}").json["status"] == "failed"
    assert client.get("/sales").json["meta"]["last_run_id"] is None

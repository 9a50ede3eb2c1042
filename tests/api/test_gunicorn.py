"""End to end: ``gunicorn -c gunicorn.conf.py`` (the Dockerfile's command) over real HTTP.

Two workers, as deployed: the answers, the JSON logs on stdout, the token, metrics added up
across workers, and what a SIGTERM does to a run in progress.
"""

from __future__ import annotations

import json
import signal
import time
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from schemathesis.specs.openapi.checks import positive_data_acceptance

from retail_backend.config import Settings
from retail_backend.etl import pipeline
from tests import dbtools
from tests.api.sample import insert_lines, sample_lines
from tests.api.servers import Gunicorn, start_gunicorn

TOKEN = "e2e-token-41c9"


@pytest.fixture(scope="module")
def databases(postgres_server, mysql_server):
    """A source with the known lines and a warehouse loaded from it, for the whole module."""
    source = dbtools.create_source_db(prefix="t_src_e2e")
    warehouse = dbtools.create_warehouse_db(prefix="t_dw_e2e")
    insert_lines(source, sample_lines())
    settings = Settings(source_db_url=source.url, warehouse_db_url=warehouse.url)
    assert pipeline.run(settings, mode="full", triggered_by="test")["status"] == "succeeded"
    yield source, warehouse
    source.drop()
    warehouse.drop()


@pytest.fixture(scope="module")
def live(databases, tmp_path_factory):
    """gunicorn with two workers and a run token, on the loaded databases."""
    source, warehouse = databases
    env = {"SOURCE_DB_URL": source.url, "WAREHOUSE_DB_URL": warehouse.url, "API_TOKEN": TOKEN}
    server = start_gunicorn(tmp_path_factory.mktemp("gunicorn"), env)
    yield server
    assert server.stop() == 0


def test_sales_over_http_from_the_dockerfiles_command(live: Gunicorn):
    answer = live.request("/sales?group_by=month", headers={"X-Request-ID": "e2e-month"})
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-served-by"] == "gunicorn-test"
    assert answer.headers["x-request-id"] == "e2e-month"
    assert [row["month"] for row in answer.json()["data"]] == ["2011-01", "2011-02", "2011-03"]
    behind_nginx = live.request("/sales", headers={"X-Forwarded-Prefix": "/api"})
    assert behind_nginx.status == 200


def test_logs_are_json_lines_on_stdout_with_the_request_id(live: Gunicorn):
    request_id = f"e2e-{uuid.uuid4().hex[:8]}"
    assert live.request("/sales?limit=0", headers={"X-Request-ID": request_id}).status == 400
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(line) for line in live.log_lines() if line.strip()]
        ours = [line for line in lines if line.get("request_id") == request_id]
        if ours or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert ours, "no access log line carries the request id"
    assert ours[0]["status"] == 400 and ours[0]["path"] == "/sales"
    assert {"time", "level", "logger", "message"} <= ours[0].keys()


def test_post_needs_the_token_then_runs_in_the_background(live: Gunicorn):
    assert live.request("/run-etl", method="POST").status == 401
    wrong = live.request("/run-etl", method="POST", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401 and wrong.json()["error"]["code"] == "unauthorized"
    answer = live.request(
        "/run-etl?wait=30&mode=full", method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status == 200, answer.body
    run = answer.json()
    assert run["status"] == "succeeded" and run["rows_extracted"] == len(sample_lines())
    assert answer.headers["location"] == f"/etl-runs/{run['id']}"
    assert live.request(answer.headers["location"]).json()["status"] == "succeeded"


def _requests_by_pid(server: Gunicorn, route: str) -> dict[int, float]:
    counts: dict[int, float] = {}
    for path in server.metrics_dir.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
            _metric, name, labels, _help = json.loads(key)  # prometheus_client's file format
            if name == "retail_http_requests_total" and labels.get("route") == route:
                counts[pid] = counts.get(pid, 0) + value
    return counts


def test_metrics_add_up_requests_across_both_workers(live: Gunicorn):
    route = "/etl-runs"

    def served() -> float:
        text = live.request("/metrics").body.decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if sample.name == "retail_http_requests_total" and labels.get("route") == route:
                    return sample.value
        return 0.0

    before = served()
    sent = 0
    # New connections for each request, so both workers take some (checked per worker below).
    while len(_requests_by_pid(live, route)) < 2 and sent < 400:
        for _ in range(20):
            assert live.request(route).status == 200
            sent += 1
    per_worker = _requests_by_pid(live, route)
    assert len(per_worker) == 2, f"one worker served everything: {per_worker}"
    assert served() - before == sent
    assert sum(per_worker.values()) == served()


@pytest.fixture
def live_schema(live: Gunicorn):
    """The document as gunicorn serves it, its operations called over HTTP."""
    return schemathesis.openapi.from_url(live.url("/openapi.json"))


live_contract = schemathesis.pytest.from_fixture("live_schema")


@live_contract.parametrize()
@hypothesis_settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
def test_answers_over_http_match_the_document(case):
    # As in test_openapi.py; POST /run-etl answers 401 here (no token), which is documented.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def _slow_source(seeded_source_db) -> None:
    # About 300,000 more lines: a run then lasts several seconds.
    with seeded_source_db.connect(autocommit=True) as conn:
        conn.execute("SELECT generate_online_sales(180000, '2012-01-09', 120, 11)")


@pytest.mark.parametrize(
    "graceful, outcome",
    [(None, "succeeded"), ("5", "failed")],
    ids=["waits-for-the-run", "fails-the-run-when-out-of-time"],
)
def test_sigterm_never_leaves_a_run_running(
    seeded_source_db, warehouse_db, tmp_path, graceful, outcome
):
    _slow_source(seeded_source_db)
    env = {"SOURCE_DB_URL": seeded_source_db.url, "WAREHOUSE_DB_URL": warehouse_db.url}
    if graceful:
        env["GUNICORN_CMD_ARGS"] = f"--graceful-timeout {graceful}"  # grace - margin = 0 s
    server = start_gunicorn(tmp_path, env)
    try:
        started = server.request("/run-etl", method="POST")
        assert started.status == 202
        run_id = started.json()["id"]
        waiting = time.monotonic()
    finally:
        assert server.stop(signal.SIGTERM, timeout=90) == 0
    settings = Settings(source_db_url=seeded_source_db.url, warehouse_db_url=warehouse_db.url)
    run = pipeline.finished_run(settings, run_id)
    assert run["status"] == outcome, run
    if outcome == "failed":
        assert "shut down" in run["error_message"]
        assert time.monotonic() - waiting < 15
    # Whatever happened, the lock is free for the next run.
    pipeline.execute(settings, pipeline.start_run(settings, "incremental", "test"))

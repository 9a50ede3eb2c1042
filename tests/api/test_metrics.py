"""GET /metrics in one process: requests by route and status, runs, rows, run age.

(Counting across gunicorn workers is in test_gunicorn.py.) The counters live for the whole test
session, so each test compares the figures before and after what it does.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import build_app, make_settings


def samples(client) -> dict[tuple, float]:
    """Scrape /metrics into {(sample name, sorted labels): value}."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    found = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_requests_are_counted_by_route_and_status_with_latency(client, loaded):
    before = samples(client)
    for _ in range(3):
        assert client.get("/sales").status_code == 200
    assert client.get("/sales?limit=0").status_code == 400
    assert client.get("/etl-runs/424242").status_code == 404
    assert client.get("/nowhere").status_code == 404
    after = samples(client)
    requests = "retail_http_requests_total"
    assert delta(before, after, requests, method="GET", route="/sales", status="200") == 3
    assert delta(before, after, requests, method="GET", route="/sales", status="400") == 1
    run_route = "/etl-runs/<int:run_id>"
    assert delta(before, after, requests, method="GET", route=run_route, status="404") == 1
    assert delta(before, after, requests, method="GET", route="<unmatched>", status="404") == 1
    latency = "retail_http_request_duration_seconds_count"
    assert delta(before, after, latency, method="GET", route="/sales") == 4
    bucket = "retail_http_request_duration_seconds_bucket"
    assert delta(before, after, bucket, method="GET", route="/sales", le="+Inf") == 4


def test_runs_rows_and_duration_are_counted(client, sample):
    before = samples(client)
    run = client.post("/run-etl?wait=30&mode=full").json
    assert run["status"] == "succeeded"
    after = samples(client)
    assert delta(before, after, "retail_etl_runs_total", mode="full", status="succeeded") == 1
    assert delta(before, after, "retail_etl_rows_total", stage="extract") == run["rows_extracted"]
    assert delta(before, after, "retail_etl_rows_total", stage="load") == run["rows_loaded"]
    assert (
        delta(before, after, "retail_etl_rows_rejected_total", mode="full") == run["rows_rejected"]
    )
    duration = "retail_etl_run_duration_seconds_count"
    assert delta(before, after, duration, mode="full", status="succeeded") == 1
    age = after[("retail_etl_seconds_since_last_success", ())]
    assert 0 <= age < 60
    assert after[("retail_warehouse_up", ())] == 1


def test_no_run_age_before_the_first_success(client):
    found = samples(client)
    assert ("retail_etl_seconds_since_last_success", ()) not in found
    assert found[("retail_warehouse_up", ())] == 1


def test_metrics_answer_with_the_warehouse_down():
    app = build_app(make_settings("postgresql://p@127.0.0.1:9/x", "mysql://r@127.0.0.1:9/x"))
    found = samples(app.test_client())
    assert found[("retail_warehouse_up", ())] == 0

"""Prometheus metrics of the API and of the runs it executes, right across gunicorn workers.

Under gunicorn every worker writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR``
(gunicorn.conf.py sets it before any worker imports prometheus_client, which reads it once at
import) and ``GET /metrics`` adds up the files of all workers. Without it (the development
server, tests) the samples stay in this process. Figures that belong to the warehouse rather
than to a process, such as the age of the last successful run, are read at scrape time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
RUN_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)

HTTP_REQUESTS = Counter(
    "retail_http_requests", "HTTP requests answered, by route and status.",
    ["method", "route", "status"],
)  # fmt: skip
HTTP_LATENCY = Histogram(
    "retail_http_request_duration_seconds", "Time to answer a request, by route.",
    ["method", "route"], buckets=LATENCY_BUCKETS,
)  # fmt: skip
ETL_RUNS = Counter(
    "retail_etl_runs", "ETL runs this process executed, by mode and final status.",
    ["mode", "status"],
)  # fmt: skip
ETL_ROWS = Counter(
    "retail_etl_rows", "Source lines the runs of this process handled, by stage.", ["stage"]
)
ETL_REJECTED = Counter(
    "retail_etl_rows_rejected", "Source lines the runs of this process rejected.", ["mode"]
)
ETL_DURATION = Histogram(
    "retail_etl_run_duration_seconds", "Wall time of the runs this process executed.",
    ["mode", "status"], buckets=RUN_BUCKETS,
)  # fmt: skip


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_request_series: dict[tuple[str, str, int], tuple] = {}


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request."""
    # Any other method (a scanner's "FOO") is one series, not one per invented name.
    method = method if method in METHODS else "OTHER"
    key = (method, route, status)
    series = _request_series.get(key)
    if series is None:  # labels() is a lookup with a lock: do it once per series
        series = (
            HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_LATENCY.labels(method, route),
        )
        _request_series[key] = series
    series[0].inc()
    series[1].observe(seconds)


def record_run(run: dict | None, seconds: float) -> None:
    """Count one finished run (``run`` is its etl_runs row, None if it could not be read)."""
    mode = run["mode"] if run else "unknown"
    status = run["status"] if run else "unknown"
    ETL_RUNS.labels(mode, status).inc()
    ETL_DURATION.labels(mode, status).observe(seconds)
    if run:
        ETL_ROWS.labels("extract").inc(run["rows_extracted"] or 0)
        ETL_ROWS.labels("load").inc(run["rows_loaded"] or 0)
        ETL_REJECTED.labels(mode).inc(run["rows_rejected"] or 0)


class _Fixed:
    """A collector that yields metric families computed just before the scrape."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def render(live: Iterable[Metric] = ()) -> bytes:
    """Return the exposition text: every worker's samples, then ``live`` ones."""
    # prometheus_client's own switch; the library read it at import, so read it the same way.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    extra = CollectorRegistry(auto_describe=False)
    extra.register(_Fixed(live))
    return generate_latest(registry) + generate_latest(extra)

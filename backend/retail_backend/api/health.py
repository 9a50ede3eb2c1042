"""``/health`` (liveness), ``/ready`` (both databases answer) and ``/metrics`` (Prometheus).

/health touches nothing, so a slow database never gets a container restarted. /ready asks both
databases at once with a short timeout and names the one that failed, so a load balancer stops
sending traffic to a replica that cannot answer.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor, wait

from flask import Blueprint, Response, jsonify
from prometheus_client.core import GaugeMetricFamily

from .. import metrics
from ..config import Settings
from ..connections import last_successful_run, warehouse
from ..db import connect_source, connect_warehouse
from ..extensions import settings
from ..queries.runs import days_differing
from .serialize import utc_now

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> Response:
    """Say the process is alive."""
    return jsonify({"status": "ok"})


def _ping_source(current: Settings) -> None:
    with connect_source(current, statement_timeout=current.ready_timeout) as conn:
        conn.execute("SELECT 1").fetchone()


def _ping_warehouse(current: Settings) -> None:
    conn = connect_warehouse(current, read_timeout=current.ready_timeout)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    finally:
        conn.close()


CHECKS = {"source": ("PostgreSQL", _ping_source), "warehouse": ("MySQL", _ping_warehouse)}


@bp.get("/ready")
def ready() -> tuple[Response, int]:
    """Answer 200 when both databases answer within the ready timeout, else 503."""
    current = settings()
    quick = current.replace(connect_timeout=current.ready_timeout)
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="ready")
    futures = {name: pool.submit(ping, quick) for name, (_, ping) in CHECKS.items()}
    # The drivers round their timeouts up (libpq waits at least 2 s), so the answer does not
    # wait for them: a check still going at the deadline failed; its thread ends on its own.
    wait(futures.values(), timeout=current.ready_timeout)
    pool.shutdown(wait=False)
    checks, failed = {}, []
    for name, future in futures.items():
        error = future.exception(0) if future.done() else TimeoutError("no answer in time")
        checks[name] = "ok" if error is None else "unavailable"
        if error is not None:
            failed.append(f"{name} ({CHECKS[name][0]})")
            log.warning("readiness: the %s database is unavailable: %s", name, error)
    if not failed:
        return jsonify({"status": "ready", "checks": checks}), 200
    message = f"The {' and '.join(failed)} database did not answer within "
    message += f"{current.ready_timeout:g} s."
    body = {
        "status": "unavailable",
        "checks": checks,
        "error": {"code": "database_unavailable", "message": message},
    }
    return jsonify(body), 503


def _warehouse_figures() -> list:
    """Read the age of the last successful run; a dead warehouse reports up = 0 instead."""
    up = GaugeMetricFamily("retail_warehouse_up", "Whether the warehouse answered this scrape.")
    try:
        last_run = last_successful_run()
    except Exception as exc:  # noqa: BLE001 - a scrape must not fail with the database
        log.warning("metrics: the warehouse is unavailable: %s", exc)
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    families = [up]
    if last_run.finished_at is not None:
        age = GaugeMetricFamily(
            "retail_etl_seconds_since_last_success",
            "Seconds since the last successful ETL run finished.",
        )
        age.add_metric([], max((utc_now() - last_run.finished_at).total_seconds(), 0.0))
        families.append(age)
    try:
        with warehouse().cursor() as cur:
            differing = days_differing(cur)
    except Exception as exc:  # noqa: BLE001 - a scrape must not fail with the database
        log.warning("metrics: could not read the last verify: %s", exc)
        differing = None
    if differing is not None:
        verify = GaugeMetricFamily(
            "retail_etl_verify_days_differing",
            "Days the newest verify found differing from the source (0 after a repair).",
        )
        verify.add_metric([], differing)
        families.append(verify)
    return families


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    """Expose the metrics of every worker in Prometheus text format."""
    return Response(metrics.render(_warehouse_figures()), content_type=metrics.CONTENT_TYPE)

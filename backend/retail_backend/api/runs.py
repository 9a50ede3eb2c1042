"""Runs: ``POST /run-etl`` starts one in the background; ``/etl-runs...`` report on them.

Starting happens in the request: ``pipeline.start_run`` takes the cluster-wide run lock (MySQL
GET_LOCK) and writes the queued run, so the answer is immediate and exact: 202 with the run,
or 409 with the run that holds the lock on any replica. The work then goes on in a thread
(see run_threads). Every report comes from ``etl_runs``, whichever replica runs the run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pymysql
from flask import Blueprint, Response, jsonify, request, url_for

from .. import metrics
from ..connections import warehouse
from ..etl.pipeline import start_run
from ..etl.rules import REASONS
from ..etl.runs import RunInProgress, active_run_id, fetch_run
from ..extensions import Extension, retail
from ..queries.runs import LastRun, find_run_by_key, list_rejects, list_runs
from . import auth, params
from .errors import ApiError, not_found
from .links import page_links
from .run_request import RunRequest, parse_run_request
from .serialize import is_finished, run_json

log = logging.getLogger(__name__)
bp = Blueprint("runs", __name__)
RETRY_AFTER = "2"
POLL_SECONDS = 0.25


@bp.before_request
def authorize() -> None:
    """Starting a run needs the write token; reading runs follows the read rules."""
    if request.method == "POST":
        auth.require_write_token()
    else:
        auth.require_read_token()


def run_location(run_id: int) -> str:
    """Return the run's URL path, under the prefix the app is served at (X-Forwarded-Prefix)."""
    return url_for("runs.get_run", run_id=run_id)


def _wait_for(row: dict, seconds: float) -> dict:
    """Wait until the run finishes, ``seconds`` pass, or the server starts shutting down."""
    state = retail()
    deadline = time.monotonic() + seconds
    while not is_finished(row) and not state.runs.stopping.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if state.runs.is_local(row["id"]):
            state.runs.join(row["id"], min(remaining, 1.0))
        else:
            state.runs.stopping.wait(min(remaining, POLL_SECONDS))
        row = fetch_run(warehouse(), row["id"]) or row
    return row


def _answer(row: dict, wanted: RunRequest, fresh: bool) -> Response:
    if wanted.wait > 0:
        row = _wait_for(row, wanted.wait)
    # A new run answers 202 at once; a waited-for or repeated trigger says whether it is done.
    done = is_finished(row) and (wanted.wait > 0 or not fresh)
    response = jsonify(run_json(row))
    response.status_code = 200 if done else 202
    response.headers["Location"] = run_location(row["id"])
    if not done:
        response.headers["Retry-After"] = RETRY_AFTER
    return response


def _earlier_run(key: str | None) -> dict | None:
    return find_run_by_key(warehouse(), key) if key else None


def _in_progress(run_id: int | None) -> ApiError:
    location = run_location(run_id) if run_id is not None else None
    headers = {"Retry-After": RETRY_AFTER, **({"Location": location} if location else {})}
    return ApiError(
        409,
        "run_in_progress",
        f"Run {run_id} is already in progress; follow it at its location."
        if run_id is not None
        else "Another run is starting; try again in a moment.",
        headers=headers,
        run_id=run_id,
        location=location,
    )


def _finished(state: Extension) -> Callable[[dict | None, float], None]:
    def finished(run: dict | None, seconds: float) -> None:
        metrics.record_run(run, seconds)
        if run is not None and run["status"] == "succeeded":
            # This process knows at once; other replicas notice within a second.
            state.last_run.remember(LastRun(int(run["id"]), run["finished_at"]))

    return finished


@bp.post("/run-etl")
def run_etl() -> Response:
    """Start a run (202), or say which one is already going (409)."""
    state = retail()
    wanted = parse_run_request(request, state.settings.run_wait_max)
    earlier = _earlier_run(wanted.idempotency_key)
    if earlier is not None:
        return _answer(earlier, wanted, fresh=False)
    try:
        recorder = start_run(state.settings, wanted.mode, "api", wanted.idempotency_key)
    except (RunInProgress, pymysql.err.IntegrityError) as exc:
        # A retry with the same key may have started the run a moment ago (on any replica).
        earlier = _earlier_run(wanted.idempotency_key)
        if earlier is not None:
            return _answer(earlier, wanted, fresh=False)
        if isinstance(exc, pymysql.err.IntegrityError):
            raise
        raise _in_progress(exc.run_id or active_run_id(warehouse())) from None
    state.runs.launch(state.settings, recorder, on_finish=_finished(state))
    log.info("ETL run %s started (mode %s)", recorder.run_id, wanted.mode)
    return _answer(fetch_run(warehouse(), recorder.run_id), wanted, fresh=True)


@bp.get("/etl-runs")
def get_runs() -> Response:
    """List runs, newest first."""
    limit = params.integer(request.args, "limit", 20, 1, 1000)
    offset = params.integer(request.args, "offset", 0, 0, 1_000_000_000)
    rows, total = list_runs(warehouse(), limit, offset)
    response = jsonify(
        {
            "data": [run_json(row) for row in rows],
            "meta": {"limit": limit, "offset": offset, "total_rows": total},
        }
    )
    response.headers["Link"] = page_links(limit, offset, total)
    return response


def _existing_run(run_id: int) -> dict:
    row = fetch_run(warehouse(), run_id)
    if row is None:
        raise not_found(f"There is no run {run_id}.")
    return row


@bp.get("/etl-runs/<int:run_id>")
def get_run(run_id: int) -> Response:
    """Report one run: status, stage, rows so far, counts and error."""
    return jsonify(run_json(_existing_run(run_id)))


def _reject_json(row: dict) -> dict:
    price = row["unit_price"]
    return {
        "source_id": int(row["source_id"]),
        "reason": row["reason"],
        "invoice_no": row["invoice_no"],
        "stock_code": row["stock_code"],
        "quantity": None if row["quantity"] is None else int(row["quantity"]),
        "unit_price": None if price is None else f"{price:f}",
        "invoice_date": row["sale_date"].isoformat() if row["sale_date"] else None,
        "country": row["country"],
    }


@bp.get("/etl-runs/<int:run_id>/rejects")
def get_rejects(run_id: int) -> Response:
    """List the lines a run rejected, with their reasons."""
    limit = params.integer(request.args, "limit", 100, 1, 1000)
    offset = params.integer(request.args, "offset", 0, 0, 1_000_000_000)
    reason = request.args.get("reason") or None
    if reason is not None:
        reason = params.choice(reason, "reason", REASONS, None)
    _existing_run(run_id)
    rows, total, by_reason = list_rejects(warehouse(), run_id, reason, limit, offset)
    return jsonify(
        {
            "data": [_reject_json(row) for row in rows],
            "meta": {"limit": limit, "offset": offset, "total_rows": total, "by_reason": by_reason},
        }
    )

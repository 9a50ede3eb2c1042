"""Starting ETL runs, following their progress, and showing their rejected lines."""

from __future__ import annotations

import re

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for

from .backend import BackendError, get_backend
from .errors import json_error, wants_json
from .queries import SalesQuery, whole_number

bp = Blueprint("runs", __name__)

MODES = ("incremental", "full")
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")
_REASON = re.compile(r"^[a-z_]{1,64}$")
PUBLIC_RUN_FIELDS = (
    "id",
    "status",
    "mode",
    "stage",
    "created_at",
    "started_at",
    "finished_at",
    "duration_seconds",
    "rows_extracted",
    "rows_rejected",
    "rows_loaded",
    "duplicate_lines",
    "full_reason",
    "error",
)
REJECT_PAGE_SIZE = 50


def public_run(run: dict) -> dict:
    """Return the fields of a run object the browser needs (and nothing else)."""
    fields = {name: run.get(name) for name in PUBLIC_RUN_FIELDS}
    fields["finished"] = run.get("status") in ("succeeded", "failed")
    fields["days_differing"] = (run.get("result") or {}).get("days_differing")
    return fields


@bp.post("/runs")
def start() -> Response | tuple[Response, int]:
    """Ask the backend to start a run, then redirect (303) to the dashboard following it."""
    mode = request.form.get("mode", "incremental")
    if mode not in MODES:
        message = "Unknown run mode: choose incremental or full."
        if wants_json():
            return json_error(400, "bad_request", message)
        flash(message, "error")
        return redirect(url_for("dashboard.index"), 303)
    key = request.form.get("idempotency_key", "")
    back = SalesQuery.from_args(request.form).url_args()
    try:
        started = get_backend().start_run(mode, key if _IDEMPOTENCY_KEY.match(key) else None)
    except BackendError as exc:
        message = f"The run could not be started. {exc.message}"
        if wants_json():
            return json_error(504 if exc.timed_out else 502, "backend_error", message)
        flash(message, "error")
        return redirect(url_for("dashboard.index", **back), 303)

    if started.already_running:
        message = f"A run is already in progress (#{started.run_id})."
    else:
        message = f"Run #{started.run_id} ({mode}) started."
    if wants_json():
        body = {
            "run_id": started.run_id,
            "already_running": started.already_running,
            "message": message,
            "status_url": url_for(".status", run_id=started.run_id),
            "run": public_run(started.run) if started.run else None,
        }
        return jsonify(body), 200 if started.already_running else 202
    flash(message, "info" if started.already_running else "success")
    return redirect(url_for("dashboard.index", run=started.run_id, **back), 303)


@bp.get("/runs/<int:run_id>.json")
def status(run_id: int) -> Response | tuple[Response, int]:
    """Return a run's status and progress as JSON (the page polls this)."""
    try:
        run = get_backend().run(run_id)
    except BackendError as exc:
        if exc.status == 404:
            return json_error(404, "not_found", f"Run #{run_id} does not exist.")
        return json_error(504 if exc.timed_out else 502, "backend_error", exc.message)
    response = jsonify(public_run(run))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/runs/<int:run_id>/rejects")
def rejects(run_id: int) -> tuple[str, int]:
    """Show the lines a run rejected, a page at a time, optionally for one reason."""
    offset_value = whole_number(request.args.get("offset"), max_digits=8) or 0
    reason = request.args.get("reason", "")
    reason = reason if _REASON.match(reason) else None
    params = {"limit": REJECT_PAGE_SIZE, "offset": offset_value}
    if reason:
        params["reason"] = reason
    body, error, status_code = None, None, 200
    try:
        body = get_backend().rejects(run_id, params)
        if not isinstance(body.get("data"), list) or not isinstance(body.get("meta"), dict):
            body, error = None, "The backend sent data the dashboard could not read."
    except BackendError as exc:
        error = exc.message
        if exc.status == 404:
            error, status_code = f"Run #{run_id} does not exist.", 404
    page = render_template(
        "rejects.html",
        run_id=run_id,
        body=body,
        error=error,
        reason=reason,
        offset=offset_value,
        page_size=REJECT_PAGE_SIZE,
    )
    return page, status_code

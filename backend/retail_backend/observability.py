"""JSON log lines on stdout, a request id on every request and log line, and request metrics.

An incoming X-Request-ID (a plain token, as nginx and the dashboard send) is kept, otherwise a
new one is made; either way it is echoed on the response and stamped on every log line written
while the request (or a run it started) is being handled.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
import time

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

from . import metrics

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
LOGGER_NAME = "retail_backend"
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def json_formatter() -> logging.Formatter:
    """Return the formatter every log line of the service goes through."""
    return JsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


class RequestIdFilter(logging.Filter):
    """Stamp each record with the request id of the request (or run) that wrote it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


def current_request_id() -> str | None:
    """Return the id of the request (or of the request that started the run) being served."""
    found = request_id.get()
    if found is None and has_request_context():
        found = g.get("request_id")
    return found


def configure_logging(level: str) -> None:
    """Send the package's log records (API and ETL) to stdout as JSON lines."""
    logger = logging.getLogger(LOGGER_NAME)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    for old in [h for h in logger.handlers if getattr(h, "_retail", False)]:
        logger.removeHandler(old)  # create_app runs more than once in tests
    handler._retail = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)


def _route() -> str:
    # The rule, not the path: /etl-runs/<int:run_id> is one series, not one per run.
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def start_request() -> None:
    """Give the request its id and start its clock."""
    candidate = request.environ.get("HTTP_X_REQUEST_ID", "")
    g.request_id = candidate if _SAFE_REQUEST_ID.match(candidate) else os.urandom(16).hex()
    g.started = time.perf_counter()


def finish_request(response: Response) -> Response:
    """Echo the request id and count the request."""
    if "request_id" in g:
        response.headers[REQUEST_ID_HEADER] = g.request_id
        seconds = time.perf_counter() - g.started
        metrics.record_request(request.method, _route(), response.status_code, seconds)
    return response


def init_app(app: Flask) -> None:
    """Install the request id and metrics hooks."""
    app.before_request(start_request)
    app.after_request(finish_request)

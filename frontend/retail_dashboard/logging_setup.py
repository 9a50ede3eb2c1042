"""JSON log lines on stdout, and the request id that ties them to the backend's logs."""

from __future__ import annotations

import logging
import re
import sys
import uuid

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
LOGGER_NAME = "retail_dashboard"


def json_formatter() -> logging.Formatter:
    """Return the formatter every log line of the service goes through."""
    return JsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request's id unless the caller gave one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


def configure_logging(level: str) -> None:
    """Send the package's log records to stdout as JSON lines."""
    logger = logging.getLogger(LOGGER_NAME)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    for old in list(logger.handlers):  # create_app may run more than once (tests)
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level)


def incoming_request_id() -> str:
    """Reuse a well-formed incoming X-Request-ID, or make a new one."""
    candidate = request.headers.get(REQUEST_ID_HEADER, "")
    return candidate if _SAFE_REQUEST_ID.match(candidate) else uuid.uuid4().hex


def init_app(app: Flask) -> None:
    """Give every request an id and echo it on the response."""

    @app.before_request
    def assign_request_id() -> None:
        g.request_id = incoming_request_id()

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        return response

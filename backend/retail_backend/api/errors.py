"""Every error of the API as ``{"error": {"code", "message", ...}}`` with the right status.

One handler formats every ``HTTPException`` (Werkzeug's own and ``ApiError``); an unreachable
database becomes 503 ``database_unavailable``; anything else is a 500 with no detail, logged
with its traceback and request id. A client never sees a stack trace.
"""

from __future__ import annotations

import logging

import psycopg
import pymysql
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from ..connections import discard_idle_warehouse_connections, discard_warehouse

log = logging.getLogger(__name__)

# Codes for the statuses Werkzeug raises on its own (routing, methods, bodies).
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "run_in_progress",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
    503: "database_unavailable",
}


class ApiError(HTTPException):
    """An error the API answers on purpose, with a code, a message and optional extra keys."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: object,
    ) -> None:
        super().__init__(description=message)
        self.code = status
        self.error_code = code
        self.extra = extra
        self.extra_headers = headers or {}


def bad_request(message: str) -> ApiError:
    """Return the 400 for a malformed or contradictory input."""
    return ApiError(400, "bad_request", message)


def not_found(message: str) -> ApiError:
    """Return the 404 for a resource that does not exist."""
    return ApiError(404, "not_found", message)


def error_response(status: int, code: str, message: str, **extra: object) -> Response:
    """Build the JSON error body every error of the API has."""
    response = jsonify({"error": {"code": code, "message": message, **extra}})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def handle_http_exception(exc: HTTPException) -> Response:
    """Turn any HTTPException into the API's JSON error, keeping headers such as Allow."""
    status = exc.code or 500
    if isinstance(exc, ApiError):
        response = error_response(status, exc.error_code, exc.description, **exc.extra)
        response.headers.update(exc.extra_headers)
        return response
    code = _CODES.get(status) or (exc.name or "error").lower().replace(" ", "_").replace("'", "")
    response = error_response(status, code, exc.description or exc.name)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_database_error(exc: Exception) -> Response:
    """Answer 503 when a database cannot be reached or dropped the connection."""
    discard_warehouse()  # never lend a connection that just failed to the next request
    which = "source (PostgreSQL)" if isinstance(exc, psycopg.Error) else "warehouse (MySQL)"
    if which.startswith("warehouse"):
        discard_idle_warehouse_connections()
    log.warning("%s database unavailable: %s", which, exc)
    return error_response(
        503, "database_unavailable", f"The {which} database is unavailable; try again shortly."
    )


def handle_unexpected_error(exc: Exception) -> Response:
    """Log an unexpected failure in full and answer a bare 500."""
    discard_warehouse()  # its state is unknown: do not lend it again
    log.exception("unhandled error: %s", type(exc).__name__)
    return error_response(500, "internal_error", "An internal error occurred.")


def register_error_handlers(app: Flask) -> None:
    """Install the JSON error handlers."""
    app.register_error_handler(HTTPException, handle_http_exception)
    for database_error in (
        pymysql.err.OperationalError,
        pymysql.err.InterfaceError,
        psycopg.OperationalError,
    ):
        app.register_error_handler(database_error, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected_error)

"""Error pages: HTML for people, JSON for scripts; never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)
CSRF_MESSAGE = (
    "The form was missing its security token or the token has expired. "
    "Reload the page and try again."
)


def wants_json() -> bool:
    """Tell whether the client asked for JSON rather than a page."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" or request.path.endswith(".json")


def json_error(status: int, code: str, message: str) -> tuple[Response, int]:
    """Return the contract's error body ``{"error": {"code", "message"}}``."""
    return jsonify({"error": {"code": code, "message": message}}), status


def _error_response(status: int, code: str, title: str, message: str):
    if wants_json():
        return json_error(status, code, message)
    return render_template("error.html", title=title, message=message), status


def handle_csrf_error(error: CSRFError):
    """Refuse a POST without a valid CSRF token (400) and say what to do."""
    log.info("CSRF check failed: %s", error.description)
    return _error_response(400, "csrf_failed", "Security check failed", CSRF_MESSAGE)


def handle_http_error(error: HTTPException):
    """Render any HTTP error as a short page or JSON."""
    code = (error.name or "error").lower().replace(" ", "_")
    return _error_response(error.code or 500, code, error.name, error.description or error.name)


def handle_unexpected_error(error: Exception):
    """Log an unexpected error and answer 500 without details."""
    if isinstance(error, HTTPException):
        return handle_http_error(error)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _error_response(
        500,
        "internal_error",
        "Something went wrong",
        "The dashboard hit an unexpected error. It has been logged; please try again.",
    )


def register_error_handlers(app: Flask) -> None:
    """Install the error handlers."""
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)

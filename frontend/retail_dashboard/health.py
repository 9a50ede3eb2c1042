"""The container healthcheck: answers without touching the backend."""

from flask import Blueprint, Response, jsonify

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> Response:
    """Say the dashboard process is up."""
    response = jsonify({"status": "ok"})
    response.headers["Cache-Control"] = "no-store"
    return response

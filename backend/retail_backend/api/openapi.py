"""``GET /openapi.json``: the OpenAPI 3 document of the API.

``servers`` is the prefix the request came under (X-Forwarded-Prefix), so tools pointed at
``/api/openapi.json`` behind nginx call ``/api/...``.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..version import __version__
from .openapi_paths import PATHS
from .openapi_spec import SCHEMAS

bp = Blueprint("openapi", __name__)


def document(prefix: str = "") -> dict:
    """Return the OpenAPI document for the API served under ``prefix``."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Retail sales ETL API",
            "version": __version__,
            "description": "Aggregated sales from the warehouse, and the runs that refresh it.",
        },
        "servers": [{"url": prefix or "/"}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    """Serve the OpenAPI document."""
    response = jsonify(document(request.script_root))
    response.headers["Cache-Control"] = "no-cache"
    return response

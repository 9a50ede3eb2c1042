"""The HTTP API: one blueprint per concern, registered by ``register_blueprints``."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach the sales, runs, health and OpenAPI routes."""
    from . import health, openapi, runs, sales

    for module in (sales, runs, health, openapi):
        app.register_blueprint(module.bp)

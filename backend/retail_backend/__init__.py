"""Retail sales ETL backend: the pipeline, its command line and its REST API."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from .config import Settings


@dataclass
class Extension:
    """What the app keeps for its blueprints and commands."""

    settings: Settings


def create_app(config: dict | None = None) -> Flask:
    """Build the backend app; ``config`` may carry a ready ``SETTINGS`` object (tests)."""
    app = Flask(__name__)
    app.config.from_mapping(config or {})
    settings = app.config.get("SETTINGS") or Settings.from_env()
    app.extensions["retail"] = Extension(settings=settings)
    from . import cli

    cli.init_app(app)
    return app

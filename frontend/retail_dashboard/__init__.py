"""The retail sales dashboard: a Flask app that shows the backend's figures and starts runs.

``create_app`` assembles it from small steps; nothing happens at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask

from . import backend, dashboard, formatting, health, logging_setup, runs, security, vendor
from .config import ConfigError, Settings
from .errors import register_error_handlers
from .extensions import csrf

__all__ = ["ConfigError", "Settings", "create_app"]
FLASK_KEYS = frozenset({"TESTING", "WTF_CSRF_ENABLED", "SERVER_NAME", "PROPAGATE_EXCEPTIONS"})


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the dashboard app from the environment, or from ``config`` alone (tests)."""
    settings = Settings.from_env(os.environ if config is None else config)
    app = Flask(__name__)
    configure_app(app, settings, config or {})
    logging_setup.configure_logging(settings.log_level)
    logging_setup.init_app(app)
    csrf.init_app(app)
    backend.init_app(app, settings)
    formatting.register(app)
    register_blueprints(app)
    register_error_handlers(app)
    security.init_app(app, settings.proxy_hops)
    return app


def configure_app(app: Flask, settings: Settings, overrides: Mapping[str, object]) -> None:
    """Set Flask's configuration from the settings; Flask keys in ``overrides`` win."""
    app.extensions["settings"] = settings
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        # The token lives as long as the session cookie: a dashboard left open all day still
        # starts a run; SameSite=Lax and the token together stop cross-site posts.
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.config.update({k: v for k, v in overrides.items() if k.isupper() and k in FLASK_KEYS})


def register_blueprints(app: Flask) -> None:
    """Attach the page, run, health and vendor routes."""
    for module in (dashboard, runs, health, vendor):
        app.register_blueprint(module.bp)

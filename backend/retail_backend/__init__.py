"""Retail sales ETL backend: the pipeline, its command line and its REST API.

``create_app`` assembles the API from small steps; nothing connects to anything at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import Flask

from .config import ConfigError, Settings

__all__ = ["ConfigError", "Settings", "create_app"]
MAX_BODY_BYTES = 64 * 1024  # POST /run-etl takes at most {"mode": "..."}


class RetailFlask(Flask):
    """Flask, remembering which views and hooks are coroutines instead of asking every call.

    Flask inspects every hook and view on every request to see whether it is async; with the
    handful of hooks here that is about a tenth of a cached /sales answer.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._sync_functions: dict[Callable, Callable] = {}

    def ensure_sync(self, func: Callable) -> Callable:
        """Return ``func`` as a plain function, as Flask does, but decide once per function."""
        try:
            return self._sync_functions[func]
        except KeyError:
            sync = self._sync_functions[func] = super().ensure_sync(func)
            return sync
        except TypeError:  # an unhashable callable: ask every time
            return super().ensure_sync(func)


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the backend app; ``config`` may carry a ready ``SETTINGS`` object (tests)."""
    # Imported here: gunicorn's master imports this package for its hooks, and must not load
    # the ETL (pandas) or prometheus_client before the worker environment is set.
    from .extensions import Extension

    app = RetailFlask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.config.from_mapping(config or {})
    settings = app.config.get("SETTINGS") or Settings.from_env()
    app.extensions["retail"] = Extension(settings=settings)
    app.json.sort_keys = False  # keep fields in the contract's order
    configure_logging(settings)
    register_request_hooks(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def configure_logging(settings: Settings) -> None:
    """Log JSON lines to stdout at the configured level."""
    from .observability import configure_logging as configure

    configure(settings.log_level)


def register_request_hooks(app: Flask) -> None:
    """Request ids and metrics, the per-request connection, proxy trust and standard headers."""
    from . import connections, observability, security

    observability.init_app(app)
    connections.init_app(app)
    security.init_app(app)


def register_blueprints(app: Flask) -> None:
    """Attach the sales, runs, health and OpenAPI routes."""
    from .api import register_blueprints as register

    register(app)


def register_error_handlers(app: Flask) -> None:
    """Make every error a JSON body with the right status."""
    from .api.errors import register_error_handlers as register

    register(app)


def register_commands(app: Flask) -> None:
    """Register ``flask etl ...``."""
    from . import cli

    cli.init_app(app)

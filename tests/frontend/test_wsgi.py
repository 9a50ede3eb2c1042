"""The WSGI entry point gunicorn loads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from retail_dashboard.config import ConfigError

WSGI = Path(__file__).resolve().parents[2] / "frontend" / "wsgi.py"


def import_wsgi():
    """Run frontend/wsgi.py afresh (by path: the backend has a wsgi module too)."""
    spec = importlib.util.spec_from_file_location("frontend_wsgi", WSGI)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wsgi_builds_the_app_from_the_environment(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("BACKEND_URL", "http://nginx/api")

    app = import_wsgi().app

    assert app.extensions["settings"].backend_url == "http://nginx/api"
    assert app.test_client().get("/health").get_json() == {"status": "ok"}


def test_wsgi_without_secret_key_fails_clearly(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        import_wsgi()

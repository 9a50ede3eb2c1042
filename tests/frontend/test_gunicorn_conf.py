"""The gunicorn configuration file that starts the dashboard alone."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "frontend" / "gunicorn.conf.py"


def load(monkeypatch, **env: str) -> dict:
    monkeypatch.delenv("GUNICORN_WORKERS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_settings(monkeypatch):
    conf = load(monkeypatch)

    assert conf["wsgi_app"] == "wsgi:app"
    assert conf["bind"] == "0.0.0.0:5000"
    assert conf["workers"] == 2
    assert (conf["worker_class"], conf["threads"]) == ("gthread", 4)
    assert (conf["timeout"], conf["graceful_timeout"]) == (60, 20)
    assert (conf["accesslog"], conf["errorlog"]) == ("-", "-")
    assert conf["logger_class"] == "retail_dashboard.gunicorn_logging.JsonLogger"


def test_workers_from_the_environment(monkeypatch):
    assert load(monkeypatch, GUNICORN_WORKERS="5")["workers"] == 5


def test_startup_stops_on_missing_secret_key(monkeypatch):
    conf = load(monkeypatch)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)
    errors = []

    class Server:
        class log:  # noqa: N801 - stands in for gunicorn's logger attribute
            @staticmethod
            def error(message, *args):
                errors.append(message % args)

    with pytest.raises(SystemExit):
        conf["on_starting"](Server())

    assert "SECRET_KEY" in errors[0]

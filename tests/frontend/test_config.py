"""The settings object: required secret, *_FILE secrets, defaults and bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from retail_dashboard import config, create_app
from retail_dashboard.config import ConfigError, Settings

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def test_missing_secret_key_stops_the_app_with_a_clear_message():
    with pytest.raises(
        ConfigError, match=r"missing required setting SECRET_KEY \(or SECRET_KEY_FILE\)"
    ):
        create_app({"BACKEND_URL": "http://backend:5001"})


def test_blank_secret_key_counts_as_missing():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env({"SECRET_KEY": "   "})


def test_defaults():
    settings = Settings.from_env({"SECRET_KEY": "k"})

    assert settings.backend_url == "http://localhost:5001"
    assert settings.api_token is None and settings.api_read_token is None
    assert settings.page_timeout == (3.0, 5.0)
    assert settings.run_timeout == (3.0, 30.0)
    assert settings.stale_after_hours == 24.0
    assert settings.proxy_hops == 1
    assert settings.chartjs_dir == FRONTEND / "node_modules" / "chart.js" / "dist"


def test_environment_is_read_when_no_config_is_given(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("BACKEND_URL", "http://nginx/api/")
    monkeypatch.setenv("BACKEND_TIMEOUT", "1.5")

    settings = Settings.from_env()

    assert settings.secret_key == "from-env"
    assert settings.backend_url == "http://nginx/api"  # trailing slash dropped
    assert settings.page_timeout == (1.5, 1.5)  # connect never longer than read


def test_secrets_are_read_from_their_files(monkeypatch):
    files = {"/run/secrets/key": "file-key", "/run/secrets/token": "file-token"}
    monkeypatch.setattr(config, "_read_secret_file", lambda path: files[path])

    settings = Settings.from_env(
        {
            "SECRET_KEY_FILE": "/run/secrets/key",
            "API_TOKEN_FILE": "/run/secrets/token",
            "API_TOKEN": "ignored: the file wins",
        }
    )

    assert settings.secret_key == "file-key"
    assert settings.api_token == "file-token"


def test_unreadable_secret_file_names_the_setting():
    with pytest.raises(ConfigError, match="SECRET_KEY_FILE=/nonexistent/secret cannot be read"):
        Settings.from_env({"SECRET_KEY_FILE": "/nonexistent/secret"})


def test_secrets_stay_out_of_the_repr():
    settings = Settings.from_env({"SECRET_KEY": "k-123456", "API_TOKEN": "t-123456"})

    assert "k-123456" not in repr(settings) and "t-123456" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BACKEND_URL", "ftp://backend", "BACKEND_URL must be an http"),
        ("BACKEND_URL", "backend:5001", "BACKEND_URL must be an http"),
        ("BACKEND_TIMEOUT", "soon", "BACKEND_TIMEOUT must be a number"),
        ("BACKEND_TIMEOUT", "0", "BACKEND_TIMEOUT must be positive"),
        ("BACKEND_RUN_TIMEOUT", "-3", "BACKEND_RUN_TIMEOUT must be positive"),
        ("STALE_AFTER_HOURS", "nan", "STALE_AFTER_HOURS must be positive"),
        ("PROXY_FIX_HOPS", "-1", "PROXY_FIX_HOPS must be a whole number"),
        ("PROXY_FIX_HOPS", "²", "PROXY_FIX_HOPS must be a whole number"),
        ("SESSION_COOKIE_SECURE", "maybe", "SESSION_COOKIE_SECURE must be true or false"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be a logging level"),
    ],
)
def test_bad_values_are_refused_by_name(name, value, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"SECRET_KEY": "k", name: value})


def test_relative_chartjs_dir_is_taken_from_the_frontend_directory():
    settings = Settings.from_env({"SECRET_KEY": "k", "CHARTJS_DIR": "vendor/chart"})

    assert settings.chartjs_dir == FRONTEND / "vendor" / "chart"


def test_absolute_chartjs_dir_is_kept():
    settings = Settings.from_env(
        {"SECRET_KEY": "k", "CHARTJS_DIR": "/app/node_modules/chart.js/dist"}
    )

    assert settings.chartjs_dir == Path("/app/node_modules/chart.js/dist")


def test_config_mapping_ignores_the_environment(monkeypatch):
    monkeypatch.setenv("BACKEND_URL", "http://from-env:1")

    app = create_app({"SECRET_KEY": "k"})

    assert app.extensions["settings"].backend_url == "http://localhost:5001"
    assert app.config["SECRET_KEY"] == "k"

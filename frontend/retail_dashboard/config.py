"""The dashboard's settings: one typed object read from the environment at start-up.

Every secret can also come from a file named by ``<NAME>_FILE`` (Docker secrets). A secret has
no default, so a missing ``SECRET_KEY`` stops the service with a message that names it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

FRONTEND_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CHARTJS_DIR = FRONTEND_DIR / "node_modules" / "chart.js" / "dist"


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


def _read_secret_file(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


def read_setting(environ: Mapping[str, object], name: str) -> str | None:
    """Return ``name`` from ``environ`` or from the file ``name_FILE`` names; None when unset."""
    path = environ.get(f"{name}_FILE")
    if path:
        try:
            return _read_secret_file(str(path))
        except OSError as exc:
            raise ConfigError(f"{name}_FILE={path} cannot be read: {exc.strerror}") from exc
    value = environ.get(name)
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _positive_number(environ: Mapping[str, object], name: str, default: float) -> float:
    raw = read_setting(environ, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from exc
    if not value > 0:
        raise ConfigError(f"{name} must be positive, not {raw!r}")
    return value


def _whole_number(environ: Mapping[str, object], name: str, default: int) -> int:
    raw = read_setting(environ, name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ConfigError(f"{name} must be a whole number >= 0, not {raw!r}")
    return int(raw)


def _flag(environ: Mapping[str, object], name: str, default: bool) -> bool:
    raw = read_setting(environ, name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _backend_url(environ: Mapping[str, object]) -> str:
    url = read_setting(environ, "BACKEND_URL") or "http://localhost:5001"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"BACKEND_URL must be an http(s) URL, not {url!r}")
    return url.rstrip("/")


@dataclass(frozen=True)
class Settings:
    """Everything the dashboard reads from its environment."""

    secret_key: str = field(repr=False)
    backend_url: str = "http://localhost:5001"
    api_token: str | None = field(default=None, repr=False)
    api_read_token: str | None = field(default=None, repr=False)
    backend_timeout: float = 5.0  # read timeout for page data
    backend_connect_timeout: float = 3.0
    backend_run_timeout: float = 30.0  # POST /run-etl and the CSV download take longer
    breaker_fail_max: int = 3  # failures in a row that open the circuit breaker
    breaker_reset_seconds: float = 10.0  # how long it stays open before one call is tried
    stale_after_hours: float = 24.0
    chartjs_dir: Path = DEFAULT_CHARTJS_DIR  # a relative CHARTJS_DIR is taken from frontend/
    proxy_hops: int = 1  # nginx in front; 0 when the app is reached directly
    session_cookie_secure: bool = False
    log_level: str = "INFO"

    @property
    def page_timeout(self) -> tuple[float, float]:
        """(connect, read) timeout for the page's GETs."""
        return (min(self.backend_connect_timeout, self.backend_timeout), self.backend_timeout)

    @property
    def run_timeout(self) -> tuple[float, float]:
        """(connect, read) timeout for starting a run and streaming CSV."""
        return (self.backend_connect_timeout, self.backend_run_timeout)

    @classmethod
    def from_env(cls, environ: Mapping[str, object] | None = None) -> Settings:
        """Read the settings, failing with a clear message on a missing or bad one."""
        env = os.environ if environ is None else environ
        secret_key = read_setting(env, "SECRET_KEY")
        if not secret_key:
            raise ConfigError(
                "missing required setting SECRET_KEY (or SECRET_KEY_FILE): "
                "set it to a long random string, e.g. python -c "
                "'import secrets; print(secrets.token_hex(32))'"
            )
        log_level = (read_setting(env, "LOG_LEVEL") or "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"LOG_LEVEL must be a logging level name, not {log_level!r}")
        return cls(
            secret_key=secret_key,
            backend_url=_backend_url(env),
            api_token=read_setting(env, "API_TOKEN"),
            api_read_token=read_setting(env, "API_READ_TOKEN"),
            backend_timeout=_positive_number(env, "BACKEND_TIMEOUT", 5.0),
            backend_connect_timeout=_positive_number(env, "BACKEND_CONNECT_TIMEOUT", 3.0),
            backend_run_timeout=_positive_number(env, "BACKEND_RUN_TIMEOUT", 30.0),
            breaker_fail_max=max(_whole_number(env, "BACKEND_BREAKER_FAILURES", 3), 1),
            breaker_reset_seconds=_positive_number(env, "BACKEND_BREAKER_RESET_SECONDS", 10.0),
            stale_after_hours=_positive_number(env, "STALE_AFTER_HOURS", 24.0),
            chartjs_dir=FRONTEND_DIR / (read_setting(env, "CHARTJS_DIR") or DEFAULT_CHARTJS_DIR),
            proxy_hops=_whole_number(env, "PROXY_FIX_HOPS", 1),
            session_cookie_secure=_flag(env, "SESSION_COOKIE_SECURE", False),
            log_level=log_level,
        )


def current_settings() -> Settings:
    """Return the settings of the app handling the current request."""
    from flask import current_app

    return current_app.extensions["settings"]

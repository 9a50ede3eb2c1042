"""One settings object, read from the environment once at start-up.

Every secret can also come from a file named by ``<NAME>_FILE`` (Docker secrets); a secret
has no default, so a missing one stops the service with a message that names it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


def read_setting(environ: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    """Return ``name`` from the environment, or the contents of the file ``name_FILE`` names."""
    path = environ.get(f"{name}_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE={path} cannot be read: {exc.strerror}") from exc
    value = environ.get(name)
    return value if value not in (None, "") else default


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = read_setting(environ, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be positive, not {raw!r}")
    return value


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {raw!r}")
    return level


@dataclass(frozen=True)
class Settings:
    """Everything the backend reads from its environment."""

    source_db_url: str
    warehouse_db_url: str
    api_token: str | None = field(default=None, repr=False)
    api_read_token: str | None = field(default=None, repr=False)
    connect_timeout: float = 3.0  # seconds to notice a dead database
    read_timeout: float = 10.0  # seconds an API query may take
    etl_read_timeout: float = 900.0  # the ETL's own statements run longer
    heartbeat_seconds: float = 2.0
    chunk_rows: int = 100_000
    run_wait_max: float = 60.0
    instance_name: str = "backend"
    ready_timeout: float = 2.0  # seconds /ready gives each database to answer
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings, failing with a clear message on a missing secret."""
        env = os.environ if environ is None else environ
        missing = [n for n in ("SOURCE_DB_URL", "WAREHOUSE_DB_URL") if not read_setting(env, n)]
        if missing:
            raise ConfigError(
                "missing required setting(s): " + ", ".join(f"{n} (or {n}_FILE)" for n in missing)
            )
        return cls(
            source_db_url=read_setting(env, "SOURCE_DB_URL"),
            warehouse_db_url=read_setting(env, "WAREHOUSE_DB_URL"),
            api_token=read_setting(env, "API_TOKEN"),
            api_read_token=read_setting(env, "API_READ_TOKEN"),
            connect_timeout=_number(env, "DB_CONNECT_TIMEOUT", 3.0),
            read_timeout=_number(env, "DB_READ_TIMEOUT", 10.0),
            etl_read_timeout=_number(env, "ETL_READ_TIMEOUT", 900.0),
            heartbeat_seconds=_number(env, "ETL_HEARTBEAT_SECONDS", 2.0),
            chunk_rows=int(_number(env, "ETL_CHUNK_ROWS", 100_000)),
            run_wait_max=_number(env, "RUN_WAIT_MAX_SECONDS", 60.0),
            instance_name=read_setting(env, "INSTANCE_NAME")
            or read_setting(env, "HOSTNAME")
            or os.uname().nodename,
            ready_timeout=_number(env, "READY_TIMEOUT_SECONDS", 2.0),
            log_level=_log_level(read_setting(env, "LOG_LEVEL", "INFO")),
        )

    def replace(self, **changes: object) -> Settings:
        """Return a copy with some settings changed (tests, the CLI's overrides)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)

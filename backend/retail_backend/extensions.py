"""The per-app state that blueprints, commands and gunicorn hooks share.

It lives in ``app.extensions["retail"]`` rather than in module globals, so every app a test
builds has its own caches and its own run threads, and nothing is created at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

from .api.run_threads import RunThreads
from .api.sales_cache import LastRunCache, Memo, SalesCache
from .config import Settings

if TYPE_CHECKING:
    from .connections import WarehousePool


@dataclass
class Extension:
    """What the app keeps for its blueprints, commands and server hooks."""

    settings: Settings
    sales_cache: SalesCache = field(default_factory=SalesCache)
    last_run: LastRunCache = field(default_factory=LastRunCache)
    parsed_queries: Memo = field(default_factory=Memo)
    runs: RunThreads = field(default_factory=RunThreads)
    warehouse_pool: WarehousePool = field(default_factory=lambda: _pool())


def _pool() -> WarehousePool:
    from .connections import WarehousePool  # connections imports this module

    return WarehousePool()


def retail(app: Flask | None = None) -> Extension:
    """Return the state of ``app``, or of the app handling the current request."""
    return (app or current_app).extensions["retail"]


def settings() -> Settings:
    """Return the current app's settings."""
    return retail().settings

"""The per-app state that blueprints, commands and gunicorn hooks share.

It lives in ``app.extensions["retail"]`` rather than in module globals, so every app a test
builds has its own caches and its own run threads, and nothing is created at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, current_app

from .config import Settings
from .run_threads import RunThreads
from .sales_cache import LastRunCache, Memo, SalesCache
from .warehouse_pool import WarehousePool


@dataclass
class Extension:
    """What the app keeps for its blueprints, commands and server hooks."""

    settings: Settings
    sales_cache: SalesCache = field(default_factory=SalesCache)
    last_run: LastRunCache = field(default_factory=LastRunCache)
    parsed_queries: Memo = field(default_factory=Memo)
    runs: RunThreads = field(default_factory=RunThreads)
    warehouse_pool: WarehousePool = field(init=False)

    def __post_init__(self) -> None:
        self.warehouse_pool = WarehousePool(self.settings)


def retail(app: Flask | None = None) -> Extension:
    """Return the state of ``app``, or of the app handling the current request."""
    return (app or current_app).extensions["retail"]


def settings() -> Settings:
    """Return the current app's settings."""
    return retail().settings

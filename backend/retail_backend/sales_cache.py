"""Caches of GET /sales: the last successful run (for a second) and the pages it produced.

The warehouse's figures change only when a run succeeds (the load commits the aggregates and
the run's success together), so a page computed for run N stays right until run N+1 succeeds.
Pages are therefore keyed on (last successful run id, normalized query), and finding the last
run id costs one indexed probe at most once a second per process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Protocol

from .queries.runs import LastRun


class Sized(Protocol):
    """A cached value that knows roughly how many bytes it holds."""

    size: int


class LastRunCache:
    """The last successful run, re-read at most every ``ttl`` seconds."""

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._value: LastRun | None = None
        self._read_at = 0.0

    def get(self, fetch: Callable[[], LastRun]) -> LastRun:
        """Return the cached run, or ``fetch()`` it when the cached one is too old."""
        now = time.monotonic()
        with self._lock:
            if self._value is not None and now - self._read_at < self.ttl:
                return self._value
        value = fetch()
        self.remember(value, now)
        return value

    def remember(self, value: LastRun, read_at: float | None = None) -> None:
        """Record a run seen elsewhere (a snapshot), never going back to an older one."""
        with self._lock:
            current = self._value
            if current is None or (value.run_id or 0) >= (current.run_id or 0):
                self._value = value
                self._read_at = time.monotonic() if read_at is None else read_at

    def clear(self) -> None:
        """Forget the cached run, so the next request reads it again."""
        with self._lock:
            self._value = None


class SalesCache:
    """A least-recently-used map of pages, bounded in entries and in bytes."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._pages: OrderedDict[tuple[int | None, Hashable], Sized] = OrderedDict()
        self._bytes = 0

    def get(self, run_id: int | None, query: Hashable) -> Sized | None:
        """Return the page of ``query`` computed for ``run_id``, if it is cached."""
        key = (run_id, query)
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, run_id: int | None, query: Hashable, page: Sized) -> None:
        """Cache a page, dropping pages of older runs and the least recently used ones."""
        if page.size > self.max_bytes:
            return
        with self._lock:
            for key in [k for k in self._pages if (k[0] or 0) < (run_id or 0)]:
                self._drop(key)
            if (run_id, query) in self._pages:
                self._drop((run_id, query))
            self._pages[(run_id, query)] = page
            self._bytes += page.size
            while len(self._pages) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._pages)))

    def _drop(self, key: tuple[int | None, Hashable]) -> None:
        self._bytes -= self._pages.pop(key).size

    def __len__(self) -> int:
        with self._lock:
            return len(self._pages)


class Memo:
    """A small bounded map for values that are pure functions of their key (parsed queries)."""

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._values: dict[Hashable, object] = {}

    def get(self, key: Hashable) -> object | None:
        """Return the value remembered for ``key``, if any."""
        return self._values.get(key)

    def put(self, key: Hashable, value: object) -> None:
        """Remember a value; forget everything when full (cheap, and the hot keys come back)."""
        if len(self._values) >= self.max_entries:
            self._values = {}
        self._values[key] = value

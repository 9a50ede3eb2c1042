"""The caches behind GET /sales: bounded, least recently used, pages of older runs dropped."""

from __future__ import annotations

from dataclasses import dataclass

from retail_backend.queries.runs import LastRun
from retail_backend.sales_cache import LastRunCache, SalesCache


@dataclass
class Page:
    size: int


def test_least_recently_used_page_goes_first():
    cache = SalesCache(max_entries=2)
    cache.put(1, "a", Page(1))
    cache.put(1, "b", Page(1))
    assert cache.get(1, "a") is not None  # "a" is now the most recently used
    cache.put(1, "c", Page(1))
    assert cache.get(1, "b") is None and cache.get(1, "a") and cache.get(1, "c")


def test_the_byte_budget_bounds_the_cache():
    cache = SalesCache(max_bytes=10)
    cache.put(1, "a", Page(6))
    cache.put(1, "b", Page(6))
    assert cache.get(1, "a") is None and cache.get(1, "b") is not None
    cache.put(1, "huge", Page(11))
    assert cache.get(1, "huge") is None


def test_pages_of_older_runs_are_dropped_when_a_new_run_arrives():
    cache = SalesCache()
    cache.put(1, "a", Page(1))
    cache.put(2, "a", Page(1))
    assert cache.get(1, "a") is None and len(cache) == 1


def test_last_run_is_read_once_per_ttl_and_never_goes_back():
    cache = LastRunCache(ttl=60)
    reads = []

    def fetch():
        reads.append(1)
        return LastRun(5, None)

    assert cache.get(fetch).run_id == 5 and cache.get(fetch).run_id == 5
    assert len(reads) == 1
    cache.remember(LastRun(4, None))  # an older snapshot must not hide the newer run
    assert cache.get(fetch).run_id == 5
    cache.remember(LastRun(6, None))
    assert cache.get(fetch).run_id == 6

"""Fixtures of the dashboard's tests: an app per test and a fake backend at the HTTP boundary."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient

from retail_dashboard import create_app

from .fake_backend import run_object, sales_body

BACKEND = "http://backend.test:5001"
RUN_TOKEN = "run-token-7f3a9c21e5"
READ_TOKEN = "read-token-b81d04aa62"
STUB_CHARTJS_DIR = Path(__file__).parent / "fixtures" / "chartjs"
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@pytest.fixture
def settings() -> dict[str, object]:
    """The settings each test's app is built from (a test may change them before ``app``)."""
    return {
        "SECRET_KEY": "test-secret-key",
        "BACKEND_URL": BACKEND,
        "API_TOKEN": RUN_TOKEN,
        "BACKEND_TIMEOUT": "2",
        "CHARTJS_DIR": str(STUB_CHARTJS_DIR),
        "TESTING": True,
    }


@pytest.fixture
def app(settings: dict[str, object]) -> Flask:
    """A fresh dashboard app for one test."""
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()


@pytest.fixture
def backend():
    """The fake backend: every request the app makes is answered (or refused) here."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def query_of(call) -> dict[str, str]:
    """Return the query parameters of a recorded backend call."""
    return dict(parse_qsl(urlsplit(call.request.url).query))


def calls_to(backend, path: str, method: str = "GET") -> list:
    """Return the recorded backend calls to ``path``."""
    return [
        c
        for c in backend.calls
        if urlsplit(c.request.url).path == path and c.request.method == method
    ]


def sales_router(
    table: dict | None = None, by_group: dict[str, dict] | None = None
) -> Callable[[object], tuple[int, dict, str]]:
    """Answer GET /sales per ``group_by``: from ``by_group``, else ``table`` if it has that
    grouping, else an empty body."""
    import json

    def answer(request) -> tuple[int, dict, str]:
        group_by = dict(parse_qsl(urlsplit(request.url).query)).get("group_by", "product")
        body = (by_group or {}).get(group_by)
        if body is None:
            same = table is not None and table["meta"]["group_by"] == group_by
            body = table if same else sales_body([], group_by)
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    return answer


def serve_dashboard(
    backend,
    table: dict | None = None,
    runs: list[dict] | None = None,
    by_group: dict[str, dict] | None = None,
) -> None:
    """Register healthy answers for everything the dashboard page asks for."""
    backend.add_callback(responses.GET, f"{BACKEND}/sales", callback=sales_router(table, by_group))
    history = [run_object(7)] if runs is None else runs
    backend.add(
        responses.GET,
        f"{BACKEND}/etl-runs",
        json={"data": history, "meta": {"limit": 10, "offset": 0, "total_rows": len(history)}},
    )


def csrf_token(client: FlaskClient) -> str:
    """Get a CSRF token the way a browser does: from a page the app rendered."""
    page = client.get("/no-such-page").get_data(as_text=True)
    match = _CSRF_META.search(page)
    assert match, "every page carries the CSRF token in a meta tag"
    return match.group(1)

"""The dashboard's circuit breaker and retries (retail_dashboard/backend_guard.py).

At the HTTP boundary (``responses``) for the rules, and over real sockets for the two ways a
backend goes away: killed (connections refused) and black-holed (the fault proxy accepts and
forwards nothing). After ``BACKEND_BREAKER_FAILURES`` failures a page renders within 100 ms
with the "backend unavailable" state, and the breaker closes by itself once the backend is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests
import responses
from flask import Flask, jsonify
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from werkzeug.serving import make_server

from retail_dashboard import create_app
from retail_dashboard.backend_guard import CONNECT_RETRIES, connect_retries
from tests.api.netutil import free_port
from tests.robustness.faultproxy import fault_proxy

from .conftest import BACKEND, calls_to, serve_dashboard
from .fake_backend import run_object, sales_body

UNAVAILABLE = "The backend is unavailable"
RESET = 0.6


@pytest.fixture
def settings(settings: dict[str, object]) -> dict[str, object]:
    return {**settings, "BACKEND_BREAKER_FAILURES": "2", "BACKEND_BREAKER_RESET_SECONDS": RESET}


def timed_page(client) -> tuple[str, float]:
    started = time.perf_counter()
    page = client.get("/").get_data(as_text=True)
    return page, time.perf_counter() - started


def refuse_everything(backend) -> None:
    for path in ("/sales", "/etl-runs"):
        backend.add(responses.GET, f"{BACKEND}{path}", body=requests.ConnectionError("refused"))


def test_after_the_failures_a_page_calls_nothing_and_comes_at_once_then_it_closes(client, backend):
    refuse_everything(backend)
    first, _ = timed_page(client)
    assert "cannot be reached" in first
    sent = len(backend.calls)

    page, seconds = timed_page(client)
    assert UNAVAILABLE in page and seconds < 0.1
    assert len(backend.calls) == sent  # nothing was sent while open

    backend.reset()
    serve_dashboard(backend)
    time.sleep(RESET + 0.1)
    recovered, _ = timed_page(client)
    assert UNAVAILABLE not in recovered and "cannot be reached" not in recovered
    assert calls_to(backend, "/sales")


@pytest.mark.parametrize("status", [502, 503, 504])
def test_nginx_gateway_errors_count_as_failures(client, backend, status):
    for path in ("/sales", "/etl-runs"):
        backend.add(responses.GET, f"{BACKEND}{path}", status=status, body="<html>502</html>")
    first, _ = timed_page(client)
    assert f"HTTP {status}" in first
    page, seconds = timed_page(client)
    assert UNAVAILABLE in page and seconds < 0.1


def test_an_error_the_backend_answers_itself_does_not_open_the_breaker(client, backend):
    error = {"error": {"code": "internal", "message": "boom"}}
    for path in ("/sales", "/etl-runs"):
        backend.add(responses.GET, f"{BACKEND}{path}", status=500, json=error)
    for _ in range(3):
        page, _ = timed_page(client)
        assert "HTTP 500" in page and UNAVAILABLE not in page


def test_connect_failures_are_retried_twice_and_timeouts_never():
    policy = connect_retries()
    refused = NewConnectionError(None, "refused")
    for _ in range(CONNECT_RETRIES):
        policy = policy.increment("POST", "/run-etl", error=refused)  # not sent: safe to retry
    with pytest.raises(MaxRetryError):
        policy.increment("POST", "/run-etl", error=refused)
    with pytest.raises(MaxRetryError):
        connect_retries().increment("GET", "/sales", error=ConnectTimeoutError("slow"))
    assert connect_retries().read is False  # nothing is retried once it was sent


# Over real sockets ----------------------------------------------------------------------------


class StubBackend:
    """A real HTTP server answering the dashboard's GETs, which can be killed and restarted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.app = Flask("stub-backend")
        self.app.add_url_rule("/sales", "sales", lambda: jsonify(sales_body([])))
        self.app.add_url_rule(
            "/etl-runs",
            "runs",
            lambda: jsonify({"data": [run_object(7)], "meta": {"limit": 10, "offset": 0}}),
        )
        self.server = None

    def start(self) -> None:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kill(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[StubBackend]:
    backend = StubBackend()
    backend.start()
    yield backend
    backend.kill()


def dashboard(settings: dict[str, object], url: str) -> Flask:
    return create_app({**settings, "BACKEND_URL": url, "BACKEND_TIMEOUT": "0.5"})


def test_a_killed_backend_opens_the_breaker_and_a_restarted_one_closes_it(settings, stub):
    client = dashboard(settings, f"http://127.0.0.1:{stub.port}").test_client()
    healthy, _ = timed_page(client)
    assert "cannot be reached" not in healthy
    stub.kill()
    down, _ = timed_page(client)
    assert "cannot be reached" in down
    page, seconds = timed_page(client)
    assert UNAVAILABLE in page and seconds < 0.1
    stub.start()
    time.sleep(RESET + 0.1)
    back, _ = timed_page(client)
    assert UNAVAILABLE not in back and "cannot be reached" not in back


def test_a_black_holed_backend_costs_one_timeout_then_pages_come_at_once(settings, stub):
    with fault_proxy("127.0.0.1", stub.port) as proxy:
        client = dashboard(settings, f"http://127.0.0.1:{proxy.port}").test_client()
        assert UNAVAILABLE not in timed_page(client)[0]
        proxy.set_mode("blackhole")
        slow, waited = timed_page(client)
        assert "did not answer in time" in slow and waited >= 0.5
        page, seconds = timed_page(client)
        assert UNAVAILABLE in page and seconds < 0.1
        proxy.set_mode("pass")
        time.sleep(RESET + 0.1)
        back, _ = timed_page(client)
        assert UNAVAILABLE not in back and "did not answer" not in back

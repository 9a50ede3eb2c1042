"""What keeps the dashboard quick when the backend is down: a circuit breaker and capped retries.

The breaker (the ``circuitbreaker`` package) lives in each gunicorn worker process. Connection
errors, timeouts and nginx's 502, 503 and 504 count as failures; after ``fail_max`` of them in
a row the process stops calling the backend for ``reset_timeout`` seconds, and every section
fails at once with the "backend unavailable" message instead of each waiting for its own
timeout. Then calls are let through again, and the first success closes the breaker. An answer
the backend gave itself (a 4xx, a 500 with its JSON error) is not a failure to reach it and does
not count. (pybreaker, tried first, holds one lock for the whole of every call it guards: the
page's five sections were fetched one by one.)

Retries (urllib3's ``Retry``): only connections that never reached the backend (refused, reset
while connecting), at most ``CONNECT_RETRIES`` times, for every method: a request that was not
sent cannot have started anything, so a POST is as safe as a GET. Nothing is retried once it
was sent (nginx already tries the other replicas), and a timeout is never retried: that would
multiply the wait the breaker is there to cut.
"""

from __future__ import annotations

import requests
from circuitbreaker import CircuitBreaker
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

GATEWAY_FAILURES = frozenset({502, 503, 504})
CONNECT_RETRIES = 2


class GatewayFailure(Exception):
    """nginx could not reach a backend replica: a failure for the breaker."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code} from the proxy")
        self.response = response


class ConnectOnlyRetry(Retry):
    """urllib3's Retry, giving up at once on a connect timeout.

    (urllib3 counts a refused connection as a kind of connect timeout: NewConnectionError is a
    subclass of ConnectTimeoutError. Only the refused ones are retried.)
    """

    def increment(  # noqa: PLR0913 - urllib3's signature
        self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None
    ):
        if isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError):
            raise MaxRetryError(_pool, url, error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


def connect_retries() -> Retry:
    """The retry policy of the dashboard's connection pool."""
    return ConnectOnlyRetry(
        total=CONNECT_RETRIES,
        connect=CONNECT_RETRIES,
        read=False,  # a read error is raised as it is (requests' ReadTimeout), never retried
        status=0,
        other=0,
        redirect=0,
        backoff_factor=0.05,
        raise_on_status=False,
    )


def new_breaker(fail_max: int, reset_timeout: float) -> CircuitBreaker:
    """One process's breaker in front of the backend: what counts is failing to reach it."""
    return CircuitBreaker(
        failure_threshold=fail_max,
        recovery_timeout=reset_timeout,
        expected_exception=(requests.RequestException, GatewayFailure),
        name="backend",
    )


def checked(response: requests.Response) -> requests.Response:
    """Return ``response``, or raise GatewayFailure for a 502/503/504 (inside the breaker)."""
    if response.status_code in GATEWAY_FAILURES:
        raise GatewayFailure(response)
    return response

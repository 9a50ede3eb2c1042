"""The HTTP client of the backend API: timeouts, tokens, request ids and error translation.

Every failure (connection refused, timeout, an error status, a body that is not JSON) becomes a
``BackendError`` carrying a message fit to show to a user; the details go to the log. Every
call goes through the process's circuit breaker (backend_guard.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import requests
from circuitbreaker import CircuitBreaker
from flask import Flask, current_app, g
from requests.adapters import HTTPAdapter

from .backend_guard import GatewayFailure, checked, connect_retries, new_breaker
from .config import Settings

log = logging.getLogger(__name__)
MAX_MESSAGE = 300


class BackendError(Exception):
    """The backend could not give an answer; ``message`` is safe to show to a user."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        body: object = None,
        timed_out: bool = False,
        unavailable: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.timed_out = timed_out
        self.unavailable = unavailable  # the circuit breaker is open: nothing was sent
        self.status = status
        self.code = code
        self.body = body if isinstance(body, dict) else {}


@dataclass(frozen=True)
class RunStart:
    """What became of a request to start a run."""

    run_id: int
    already_running: bool
    run: dict | None = None


@dataclass(frozen=True)
class BackendClient:
    """Calls the backend for one request (its request id) over a shared connection pool."""

    settings: Settings
    session: requests.Session
    breaker: CircuitBreaker
    request_id: str | None = None

    def for_request(self, request_id: str) -> BackendClient:
        """Return a client that sends ``request_id`` as X-Request-ID."""
        return replace(self, request_id=request_id)

    def sales(self, params: Mapping[str, Any]) -> dict:
        """GET /sales as JSON."""
        return self._get_json("/sales", params)

    def runs(self, limit: int = 10, offset: int = 0) -> dict:
        """GET /etl-runs, newest first."""
        return self._get_json("/etl-runs", {"limit": limit, "offset": offset})

    def run(self, run_id: int) -> dict:
        """GET /etl-runs/<id>."""
        return self._get_json(f"/etl-runs/{int(run_id)}", {})

    def rejects(self, run_id: int, params: Mapping[str, Any]) -> dict:
        """GET /etl-runs/<id>/rejects."""
        return self._get_json(f"/etl-runs/{int(run_id)}/rejects", params)

    def start_run(self, mode: str, idempotency_key: str | None = None) -> RunStart:
        """POST /run-etl; a run already going (409) is an answer, not an error."""
        headers = self._headers(self.settings.api_token)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        response = self._send(
            "POST", "/run-etl", {"mode": mode}, headers, self.settings.run_timeout, stream=False
        )
        body = _json_body(response)
        if response.status_code == 409 and isinstance(body.get("error"), dict):
            run_id = body["error"].get("run_id")
            if isinstance(run_id, int):
                return RunStart(run_id=run_id, already_running=True)
        if response.status_code in (200, 201, 202) and isinstance(body.get("id"), int):
            return RunStart(run_id=body["id"], already_running=False, run=body)
        raise self._error_from(response, "/run-etl", body)

    def sales_csv(self, params: Mapping[str, Any]) -> requests.Response:
        """Open GET /sales?format=csv as a stream; the caller closes the response."""
        query = {**params, "format": "csv"}
        headers = {**self._headers(self.settings.api_read_token), "Accept": "text/csv"}
        response = self._send("GET", "/sales", query, headers, self.settings.run_timeout, True)
        if response.status_code != 200:
            try:
                raise self._error_from(response, "/sales?format=csv", _json_body(response))
            finally:
                response.close()
        return response

    def _get_json(self, path: str, params: Mapping[str, Any]) -> dict:
        headers = self._headers(self.settings.api_read_token)
        headers["Accept"] = "application/json"
        response = self._send("GET", path, params, headers, self.settings.page_timeout, False)
        body = _json_body(response)
        if response.status_code != 200 or not body:
            raise self._error_from(response, path, body)
        return body

    def _headers(self, token: str | None) -> dict[str, str]:
        headers = {"X-Request-ID": self.request_id} if self.request_id else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _send(self, method, path, params, headers, timeout, stream) -> requests.Response:
        url = self.settings.backend_url + path

        if self.breaker.opened:  # nothing is sent until it may be tried again
            self._log_failure(method, path, "circuit breaker open")
            seconds = max(self.breaker.open_remaining, 0)
            message = (
                "The backend is unavailable (it failed several times in a row); "
                f"the dashboard tries it again within {seconds:.0f} s."
            )
            raise BackendError(message, unavailable=True)
        try:
            with self.breaker:
                return checked(
                    self.session.request(
                        method, url, params=params, headers=headers, timeout=timeout, stream=stream
                    )
                )
        except GatewayFailure as exc:
            return exc.response  # an answer all the same: translated by the caller
        except requests.RequestException as exc:
            self._raise_for(method, path, timeout, exc)

    def _raise_for(self, method, path, timeout, error: requests.RequestException):
        if isinstance(error, requests.Timeout):
            self._log_failure(method, path, f"timeout: {error.__class__.__name__}")
            message = f"The backend did not answer in time (within {timeout[1]:g} s)."
            raise BackendError(message, timed_out=True) from error
        if isinstance(error, requests.ConnectionError):
            self._log_failure(method, path, f"connection failed: {error.__class__.__name__}")
            raise BackendError("The backend cannot be reached.") from error
        self._log_failure(method, path, f"request failed: {error.__class__.__name__}")
        raise BackendError("The request to the backend failed.") from error

    def _error_from(self, response: requests.Response, path: str, body: dict) -> BackendError:
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        code = error.get("code") if isinstance(error.get("code"), str) else None
        detail = error.get("message") if isinstance(error.get("message"), str) else None
        status = response.status_code
        self._log_failure(response.request.method or "GET", path, f"HTTP {status} {code}")
        if status == 200:
            message = "The backend sent an answer that could not be read."
        elif status == 401:
            message = "The backend refused the dashboard's credentials (HTTP 401): check API_TOKEN."
        elif detail:
            message = f"The backend answered with an error (HTTP {status}): {detail[:MAX_MESSAGE]}"
        else:
            message = f"The backend answered with an error (HTTP {status})."
        return BackendError(message, status=status, code=code, body=body)

    def _log_failure(self, method: str, path: str, reason: str) -> None:
        log.warning(
            "backend call failed: %s %s: %s",
            method,
            path,
            reason,
            extra={"request_id": self.request_id, "backend_path": path, "reason": reason},
        )


def _json_body(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def init_app(app: Flask, settings: Settings) -> None:
    """Create the app's pooled client of the backend."""
    session = requests.Session()
    session.trust_env = False  # the backend is an internal service: never via an HTTP proxy
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=connect_retries())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    breaker = new_breaker(settings.breaker_fail_max, settings.breaker_reset_seconds)
    app.extensions["backend"] = BackendClient(settings=settings, session=session, breaker=breaker)


def get_backend() -> BackendClient:
    """Return the backend client bound to the current request's id."""
    client: BackendClient = current_app.extensions["backend"]
    return client.for_request(g.get("request_id") or "")

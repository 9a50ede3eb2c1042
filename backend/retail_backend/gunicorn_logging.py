"""Gunicorn's own logs (access and error) as JSON lines on stdout, like the app's."""

from __future__ import annotations

import logging
import sys

from gunicorn.glogging import Logger

from .observability import json_formatter


class JsonLogger(Logger):
    """A gunicorn logger whose error and access lines are JSON objects on stdout."""

    def setup(self, cfg) -> None:
        """Configure gunicorn's handlers, then make them JSON and point "-" at stdout."""
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(json_formatter())
                if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
                    handler.setStream(sys.stdout)

    def access(self, resp, req, environ, request_time) -> None:
        """Log one request as a JSON object with separate fields.

        Reads the few fields it needs directly: gunicorn's ``atoms()`` copies every header and
        environ variable into a dict first, which costs more than the rest of the line.
        """
        if not self.access_log_enabled:
            return
        status = str(resp.status).split(None, 1)[0]
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        request_id = _header(resp.headers, "x-request-id") or _header(req.headers, "x-request-id")
        self.access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "remote_addr": environ.get("REMOTE_ADDR", "-"),
                "method": method,
                "path": path,
                "query": environ.get("QUERY_STRING", ""),
                "status": int(status) if status.isdigit() else status,
                "bytes": getattr(resp, "sent", None),
                "duration_ms": round(request_time.total_seconds() * 1000, 3),
                "request_id": request_id,
                "user_agent": environ.get("HTTP_USER_AGENT", "-"),
            },
        )


def _header(headers, name: str) -> str | None:
    """Find a header in gunicorn's list of (name, value) pairs, ignoring case."""
    for key, value in headers or ():
        if key.lower() == name:
            return value
    return None

"""Gunicorn's own logs (access and error) as JSON lines, like the app's."""

from __future__ import annotations

from gunicorn.glogging import Logger

from .logging_setup import json_formatter


class JsonLogger(Logger):
    """A gunicorn logger whose error and access lines are JSON objects."""

    def setup(self, cfg) -> None:
        """Configure gunicorn's handlers, then give them the JSON formatter."""
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(json_formatter())

    def access(self, resp, req, environ, request_time) -> None:
        """Log one request as a JSON object with separate fields."""
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        self.access_log.info(
            "%s %s %s",
            atoms["m"],
            atoms["U"],
            atoms["s"],
            extra={
                "remote_addr": atoms["h"],
                "method": atoms["m"],
                "path": atoms["U"],
                "query": atoms["q"],
                "status": int(atoms["s"])
                if str(atoms["s"]).isascii() and str(atoms["s"]).isdigit()
                else atoms["s"],
                "bytes": atoms["B"],
                "duration_ms": atoms["M"],
                "request_id": atoms.get("{x-request-id}o") or atoms.get("{x-request-id}i"),
                "user_agent": atoms["a"],
            },
        )

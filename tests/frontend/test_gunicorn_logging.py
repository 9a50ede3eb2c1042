"""Gunicorn's access log as JSON lines."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from types import SimpleNamespace

from gunicorn.config import Config

from retail_dashboard.gunicorn_logging import JsonLogger


def test_access_line_is_json_with_the_request_id(capsys):
    cfg = Config()
    cfg.set("accesslog", "-")
    logger = JsonLogger(cfg)
    response = SimpleNamespace(
        status="200 OK",
        sent=512,
        headers=[("X-Request-ID", "rid-9"), ("Content-Type", "text/html")],
    )
    request = SimpleNamespace(headers=[("USER-AGENT", 'curl "quoted"')])
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/?a=1",
        "PATH_INFO": "/",
        "QUERY_STRING": "a=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.2",
        "HTTP_USER_AGENT": 'curl "quoted"',
    }

    logger.access(response, request, environ, timedelta(milliseconds=25))
    for handler in logger.access_log.handlers:
        handler.flush()

    out = capsys.readouterr().out.strip().splitlines()
    line = json.loads(out[-1])
    assert line["message"] == "GET / 200"
    assert line["status"] == 200 and line["duration_ms"] == 25 and line["bytes"] == 512
    assert line["request_id"] == "rid-9" and line["user_agent"] == 'curl "quoted"'
    assert line["logger"] == "gunicorn.access"
    logging.getLogger("gunicorn.access").handlers.clear()

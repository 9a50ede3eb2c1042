"""Gunicorn settings for the dashboard: ``cd frontend && gunicorn -c gunicorn.conf.py``."""

import os
import sys

wsgi_app = "wsgi:app"
bind = "0.0.0.0:5000"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = 4
timeout = 60
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logger_class = "retail_dashboard.gunicorn_logging.JsonLogger"
# No gunicornc control socket: nothing uses it, and it would write under $HOME.
control_socket_disable = True


def on_starting(server):
    """Stop at once, with a clear message, when the configuration is incomplete."""
    from retail_dashboard.config import ConfigError, Settings

    try:
        Settings.from_env()
    except ConfigError as exc:
        server.log.error("configuration error: %s", exc)
        sys.exit(1)

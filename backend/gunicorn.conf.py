"""Gunicorn settings for the API: ``cd backend && gunicorn -c gunicorn.conf.py`` starts it all.

Everything the service needs is here or in the environment: the app, the port ($PORT, default
5001), the workers ($GUNICORN_WORKERS, default 2, each with 4 threads), JSON logs on stdout,
and the Prometheus multiprocess directory. The hooks live in retail_backend.gunicorn_hooks.
"""

import os

# prometheus_client picks its multiprocess mode when a worker first imports it, so this must be
# in the environment before any worker starts (preload_app is off: only workers import the app).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/tmp/retail-metrics")

from retail_backend import gunicorn_hooks  # noqa: E402 - after the environment is set

wsgi_app = "wsgi:app"
bind = "0.0.0.0:" + os.environ.get("PORT", "5001")
workers = int(os.environ.get("GUNICORN_WORKERS") or 2)
worker_class = "gthread"
threads = 4
timeout = 120
graceful_timeout = 30
keepalive = 5
preload_app = False
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logger_class = "retail_backend.gunicorn_logging.JsonLogger"
# No gunicornc control socket: nothing uses it, it would write under $HOME, and two servers on
# one machine (tests, the benchmark) would fight over the same path.
control_socket_disable = True

on_starting = gunicorn_hooks.on_starting
post_worker_init = gunicorn_hooks.post_worker_init
worker_int = gunicorn_hooks.worker_int
worker_abort = gunicorn_hooks.worker_abort
worker_exit = gunicorn_hooks.worker_exit
child_exit = gunicorn_hooks.child_exit

"""The server hooks gunicorn.conf.py installs: start-up checks, metrics files, run shutdown.

How a run meets a shutdown: SIGTERM reaches a worker; ``post_worker_init`` has wrapped the
worker's handler so the app's run registry learns the time (``?wait`` requests stop waiting at
once and answer 202, so the worker's own graceful wait for requests ends quickly). When the
worker loop ends, ``worker_exit`` waits for runs still executing in that worker until
``graceful_timeout - SHUTDOWN_MARGIN`` seconds after the SIGTERM, then marks those still going
failed and frees their lock, before the master's SIGKILL at ``graceful_timeout``. SIGINT/SIGQUIT
(quick shutdown) and a worker abort skip the wait.
"""

from __future__ import annotations

import glob
import os
import signal
import sys

from .config import ConfigError, Settings

SHUTDOWN_MARGIN = 5.0  # seconds kept to mark a run failed (connect timeout + one UPDATE)


def _runs(worker):
    """Return the run registry of the worker's app, or None if the app never loaded."""
    app = getattr(worker, "wsgi", None)
    extensions = getattr(app, "extensions", None) or {}
    state = extensions.get("retail")
    return state.runs if state is not None else None


def _grace(worker) -> float:
    return max(float(worker.cfg.graceful_timeout) - SHUTDOWN_MARGIN, 0.0)


def on_starting(server) -> None:
    """Refuse to start on an incomplete configuration; start with empty metrics files."""
    try:
        Settings.from_env()
    except ConfigError as exc:
        server.log.error("configuration error: %s", exc)
        sys.exit(1)
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        # Files of an earlier server would be added to this one's counts.
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)


def child_exit(server, worker) -> None:
    """Tell prometheus_client a worker is gone (its live gauges stop counting)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker) -> None:
    """Let the run registry know when SIGTERM starts a graceful shutdown."""
    runs = _runs(worker)
    if runs is None:
        return
    previous = signal.getsignal(signal.SIGTERM)
    grace = _grace(worker)

    def on_sigterm(signum, frame):
        runs.begin_shutdown(grace)
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn has it: requests go on


def worker_int(worker) -> None:
    """SIGINT/SIGQUIT: quick shutdown, no waiting for runs."""
    runs = _runs(worker)
    if runs is not None:
        runs.begin_shutdown(0.0)


def worker_abort(worker) -> None:
    """A worker killed for a timeout: no waiting for runs."""
    worker_int(worker)


def worker_exit(server, worker) -> None:
    """Wait for this worker's runs within the graceful timeout, then fail the rest."""
    runs = _runs(worker)
    if runs is None:
        return
    interrupted = runs.shutdown(_grace(worker))
    if interrupted:
        server.log.warning("runs marked failed at shutdown: %s", interrupted)

"""The ETL runs this process executes in background threads, and what happens to them at shutdown.

``POST /run-etl`` takes the run lock and writes the queued run in the request, then hands the
recorder to a named, non-daemon thread that calls ``pipeline.execute``. The registry lets a
``?wait`` request join that thread, and lets gunicorn's ``worker_exit`` hook wait for a run
until the graceful timeout runs out, then mark whatever is still going as failed and release
its lock, so no run stays "running" after the process is gone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .config import Settings
from .db import connect_warehouse
from .etl.pipeline import execute
from .etl.runs import RunRecorder
from .observability import current_request_id, request_id

log = logging.getLogger(__name__)
INTERRUPTED = "interrupted: the API process running it was shut down before it finished"


@dataclass
class ActiveRun:
    """A run executing in this process."""

    run_id: int
    settings: Settings
    recorder: RunRecorder
    thread: threading.Thread


class RunThreads:
    """The registry of this process's run threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[int, ActiveRun] = {}
        self.stopping = threading.Event()
        self._deadline: float | None = None

    def launch(
        self,
        settings: Settings,
        recorder: RunRecorder,
        on_finish: Callable[[dict | None, float], None] = lambda run, seconds: None,
    ) -> None:
        """Execute a started run in a new thread (its log lines keep the caller's request id)."""
        run_id = recorder.run_id
        thread = threading.Thread(
            target=self._execute,
            args=(run_id, settings, recorder, on_finish, current_request_id()),
            name=f"etl-run-{run_id}",
            daemon=False,  # the interpreter waits for a run rather than cutting it off
        )
        with self._lock:
            self._active[run_id] = ActiveRun(run_id, settings, recorder, thread)
        thread.start()

    def _execute(self, run_id, settings, recorder, on_finish, started_by) -> None:
        request_id.set(started_by)  # the run's log lines carry the id of the request
        started = time.monotonic()
        run = None
        try:
            run = execute(settings, recorder)
            log.info("ETL run %s finished: %s", run_id, run and run["status"])
        except BaseException:  # a failure here must not kill the process silently
            log.exception("ETL run %s stopped with an error", run_id)
        finally:
            with self._lock:
                self._active.pop(run_id, None)
            with contextlib.suppress(Exception):
                on_finish(run, time.monotonic() - started)

    def is_local(self, run_id: int) -> bool:
        """Tell whether the run executes in this process."""
        with self._lock:
            return run_id in self._active

    def join(self, run_id: int, timeout: float) -> bool:
        """Wait up to ``timeout`` for a local run; return True once it is no longer running here."""
        with self._lock:
            active = self._active.get(run_id)
        if active is None:
            return True
        active.thread.join(timeout)
        return not active.thread.is_alive()

    def begin_shutdown(self, grace: float) -> None:
        """Start shutting down: waits stop, and runs have ``grace`` seconds left to finish."""
        deadline = time.monotonic() + max(grace, 0.0)
        with self._lock:
            if self._deadline is None or deadline < self._deadline:
                self._deadline = deadline
        self.stopping.set()

    def shutdown(self, grace: float) -> list[int]:
        """Wait for the runs until the deadline, then fail those still going; return their ids."""
        self.begin_shutdown(grace)
        with self._lock:
            active = list(self._active.values())
            deadline = self._deadline or time.monotonic()
        for run in active:
            run.thread.join(max(deadline - time.monotonic(), 0.0))
        leftovers = [run for run in active if run.thread.is_alive()]
        for run in leftovers:
            interrupt(run)
        return [run.run_id for run in leftovers]


def interrupt(run: ActiveRun) -> None:
    """Mark a run failed and free its lock, on a connection of this thread's own."""
    log.warning("ETL run %s is still going at shutdown: marking it failed", run.run_id)
    try:
        conn = connect_warehouse(run.settings, read_timeout=5.0, autocommit=True)
    except Exception:
        # The next run to take the lock marks it abandoned (etl.runs), so it is not lost.
        log.exception("could not mark ETL run %s failed", run.run_id)
        return
    try:
        with conn.cursor() as cur:
            cur.execute(
                "UPDATE etl_runs SET status = 'failed', finished_at = %s, error_message = %s "
                "WHERE id = %s AND status IN ('queued', 'running')",
                (_utc_now(), INTERRUPTED, run.run_id),
            )
            # Killing the lock connection frees the lock at once (another replica may start a
            # run) and makes the run's next write fail; if its load reaches the commit, it finds
            # the lock gone and rolls back. The recorder is never touched from this thread.
            with contextlib.suppress(Exception):
                cur.execute(f"KILL CONNECTION {int(run.recorder.connection_id)}")
    except Exception:
        log.exception("could not mark ETL run %s failed", run.run_id)
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)

"""The one entry point callers use: run the ETL once and record it.

``start_run`` takes the lock and writes the run row (so a caller can answer at once), and
``execute`` does the work; ``run`` does both, for the command line and the benchmarks.
"""

from __future__ import annotations

import contextlib
import logging

from ..config import Settings
from ..db import connect_source_arrow, connect_warehouse, source_url, warehouse_url
from .extract import SourceReader, use_system_allocator
from .load import WarehouseLoad
from .rules import day_number, is_plausible_day
from .runs import Progress, RunRecorder, fetch_run, last_watermark
from .transform import transform_chunk

MODES = ("incremental", "full")
log = logging.getLogger(__name__)


def start_run(
    settings: Settings,
    mode: str = "incremental",
    triggered_by: str = "cli",
    idempotency_key: str | None = None,
) -> RunRecorder:
    """Take the run lock and record a queued run; raise RunInProgress if one is going."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    recorder = RunRecorder(settings)
    try:
        recorder.acquire()
        recorder.create_run(mode, triggered_by, idempotency_key, status="queued")
    except BaseException:
        recorder.close()
        raise
    return recorder


def execute(settings: Settings, recorder: RunRecorder) -> dict:
    """Do a started run's work, mark it failed on any error, always release the lock."""
    try:
        _extract_transform_load(settings, recorder)
    except BaseException as exc:
        recorder.fail(describe_error(settings, exc))
        if not isinstance(exc, Exception):
            raise
        log.exception("ETL run %s failed", recorder.run_id)
    finally:
        recorder.close()
    return finished_run(settings, recorder.run_id)


def run(settings: Settings, mode: str = "incremental", triggered_by: str = "cli") -> dict:
    """Run the ETL once, synchronously, and return its run record."""
    return execute(settings, start_run(settings, mode, triggered_by))


def finished_run(settings: Settings, run_id: int) -> dict:
    """Read a run record on a fresh connection."""
    conn = connect_warehouse(settings, autocommit=True)
    try:
        return fetch_run(conn, run_id)
    finally:
        conn.close()


def _extract_transform_load(settings: Settings, recorder: RunRecorder) -> None:
    watermark = last_watermark(recorder.conn)
    full = recorder.mode == "full" or watermark is None
    recorder.start(watermark)
    progress = Progress(stage="extract")
    recorder.report(progress)
    use_system_allocator()
    reader = SourceReader(connect_source_arrow(settings), settings.etl_read_timeout)
    load = None
    try:
        touched = None if full else reader.changed_days(watermark)
        windows = reader.plan_windows(touched, settings.chunk_rows)
        load = WarehouseLoad(settings, recorder.run_id, full)
        recorder.claim_load(load.conn)
        if touched:
            load.stage_days(d for d in touched if d is not None and is_plausible_day(day_number(d)))
        for _window, lines in reader.stream(windows):
            result = transform_chunk(lines)
            load.stage(result)
            progress.rows_extracted += result.lines
            progress.rows_rejected += result.lines - result.loaded
            progress.rows_loaded += result.loaded
            progress.duplicate_lines += result.duplicates
            recorder.report(progress)
        progress.stage = "load"
        recorder.report(progress)
        load.commit(progress, reader.watermark, recorder.holds_lock_sql())
    finally:
        if load is not None:
            load.close()
        reader.close()


def describe_error(settings: Settings, exc: BaseException) -> str:
    """Say what went wrong in one line, with no password in it."""
    message = f"{type(exc).__name__}: {exc}".strip().splitlines()
    text = message[0] if message else type(exc).__name__
    for url in (_safe(source_url, settings), _safe(warehouse_url, settings)):
        if url is not None and url.password:
            text = text.replace(url.password, "***")
    return text[:2000]


def _safe(parse, settings):
    with contextlib.suppress(Exception):
        return parse(settings)
    return None

"""The one entry point callers use: run the ETL once and record it.

``start_run`` takes the lock and writes the run row (so a caller can answer at once), and
``execute`` does the work; ``run`` does both, for the command line and the benchmarks.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from ..config import Settings
from ..db import connect_source_arrow, connect_warehouse, source_url, warehouse_url
from .extract import SourceReader, use_system_allocator
from .load import WarehouseLoad
from .rules import day_number, is_plausible_day
from .runs import Progress, RunRecorder, Watermark, fetch_run, last_watermark
from .transform import transform_chunk
from .trust import NO_MARKERS, distrust_reason, marker_reason
from .verify import verify

# incremental: the days changed since the last run, or everything when that cannot be trusted;
# full: everything; verify: compare with the source, load nothing; repair: verify, then rebuild
# exactly the days that differ.
MODES = ("incremental", "full", "verify", "repair")
LOADING_MODES = ("incremental", "full")  # what ``flask etl run --mode`` offers
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


@dataclass
class Plan:
    """What a run rebuilds: ``touched`` days (None: all), and where the next increment starts."""

    touched: set | None
    full: bool
    watermark: Watermark | None
    result: dict | None = None  # a repair's findings


def _extract_transform_load(settings: Settings, recorder: RunRecorder) -> None:
    previous = last_watermark(recorder.conn)
    recorder.start(previous.snapshot if previous else None)
    progress = Progress(stage="extract")
    recorder.report(progress)
    use_system_allocator()
    reader = SourceReader(connect_source_arrow(settings), settings.etl_read_timeout)
    load = None
    try:
        plan = _plan(settings, recorder, reader, previous)
        if plan is None:  # a verify, or a repair with nothing to repair: finished already
            return
        windows = reader.plan_windows(plan.touched, settings.chunk_rows)
        load = WarehouseLoad(settings, recorder.run_id, plan.full)
        recorder.claim_load(load.conn)
        if plan.touched:
            days = plan.touched
            load.stage_days(d for d in days if d is not None and is_plausible_day(day_number(d)))
        for _window, lines in reader.stream(windows):
            chunk = transform_chunk(lines)
            load.stage(chunk)
            progress.rows_extracted += chunk.lines
            progress.rows_rejected += chunk.lines - chunk.loaded
            progress.rows_loaded += chunk.loaded
            progress.duplicate_lines += chunk.duplicates
            recorder.report(progress)
        progress.stage = "load"
        recorder.report(progress)
        load.commit(progress, plan.watermark, recorder.holds_lock_sql(), plan.result)
    finally:
        if load is not None:
            load.close()
        reader.close()


def _plan(
    settings: Settings, recorder: RunRecorder, reader: SourceReader, previous: Watermark | None
) -> Plan | None:
    """Decide what the run rebuilds; a verify (or an idle repair) is finished here instead."""
    if recorder.mode in ("verify", "repair"):
        findings = _verify(settings, reader, previous)
        if recorder.mode == "verify" or not findings.differing:
            done = Progress(stage="done", rows_extracted=findings.lines_read)
            recorder.finish_without_load(done, findings.as_json())
            return None
        # A repair rebuilds days; the next increment starts where it would have.
        return Plan(set(findings.days), False, previous, findings.as_json())
    reason = full_reason(recorder.mode, previous, reader)
    if reason is not None:
        recorder.note_full_reason(reason)
        log.info("ETL run %s rebuilds in full: %s", recorder.run_id, reason)
        return Plan(None, True, Watermark(reader.watermark, reader.source))
    touched = reader.changed_days(previous.snapshot)
    return Plan(touched, False, Watermark(reader.watermark, reader.source))


def full_reason(mode: str, previous: Watermark | None, reader: SourceReader) -> str | None:
    """Why this run must rebuild in full, or None when the increment is complete."""
    if mode == "full":
        return "requested"
    if previous is None:
        return "no earlier successful run"
    reason = distrust_reason(previous.source, previous.snapshot, reader.source, reader.watermark)
    if reason is None and not reader.has_markers:
        reason = NO_MARKERS
    return reason or marker_reason(reader.markers(previous.snapshot))


def _verify(settings: Settings, reader: SourceReader, previous: Watermark | None):
    """Compare the warehouse with the source; days the next increment rebuilds are pending."""
    pending = set()
    if previous is not None and full_reason("incremental", previous, reader) is None:
        pending = {d for d in reader.changed_days(previous.snapshot) if d is not None}
    conn = connect_warehouse(settings, autocommit=True, read_timeout=settings.etl_read_timeout)
    try:
        return verify(reader, conn, settings.chunk_rows, pending)
    finally:
        conn.close()


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

"""How values leave the API: money as exact 2-decimal strings, times as ISO 8601 UTC with Z."""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Context, Decimal

CENT = Decimal("0.01")
# Sums of DECIMAL(20, 3) columns can have more digits than the default 28 of precision.
_MONEY_CONTEXT = Context(prec=80, rounding=ROUND_HALF_UP)

RUN_FIELDS = (
    "id",
    "status",
    "mode",
    "triggered_by",
    "stage",
    "created_at",
    "started_at",
    "finished_at",
    "heartbeat_at",
    "duration_seconds",
    "rows_extracted",
    "rows_rejected",
    "rows_loaded",
    "duplicate_lines",
    "keys_inserted",
    "keys_updated",
    "keys_deleted",
    "watermark_before",
    "watermark_after",
    "source",
    "full_reason",
    "result",
    "error",
)
_COUNTS = (
    "rows_extracted",
    "rows_rejected",
    "rows_loaded",
    "duplicate_lines",
    "keys_inserted",
    "keys_updated",
    "keys_deleted",
)


def money(value: Decimal | int | None) -> str:
    """Format an amount with exactly two decimals, rounding half up; never through float."""
    amount = Decimal(value or 0).quantize(CENT, context=_MONEY_CONTEXT)
    return f"{abs(amount) if amount.is_zero() else amount:f}"  # never "-0.00"


def utc_time(value: dt.datetime | None) -> str | None:
    """Format a naive-UTC (as the warehouse stores it) or aware time as ISO 8601 with Z."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    text = value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    return text + "Z"


def utc_now() -> dt.datetime:
    """Return the current time as naive UTC, comparable with the warehouse's timestamps."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def run_json(row: dict, now: dt.datetime | None = None) -> dict:
    """Turn an ``etl_runs`` row into the run object of the contract (docs/api.md)."""
    started, finished = row["started_at"], row["finished_at"]
    if started is None:
        duration = None
    else:
        end = finished or now or utc_now()
        duration = round(max((end - started).total_seconds(), 0.0), 3)
    run = {
        "id": int(row["id"]),
        "status": row["status"],
        "mode": row["mode"],
        "triggered_by": row["triggered_by"],
        "stage": row["stage"],
        "created_at": utc_time(row["created_at"]),
        "started_at": utc_time(started),
        "finished_at": utc_time(finished),
        "heartbeat_at": utc_time(row["heartbeat_at"]),
        "duration_seconds": duration,
        **{name: int(row[name]) for name in _COUNTS},
        "watermark_before": row["watermark_before"],
        "watermark_after": row["watermark_after"],
        "source": _source(row.get("source_identity")),
        "full_reason": row.get("full_reason"),
        "result": json.loads(row["result"]) if row.get("result") else None,
        "error": row["error_message"],
    }
    return run


def _source(identity: str | None) -> dict | None:
    """The source a run's watermark came from, as etl_runs.source_identity keeps it."""
    if not identity:
        return None
    system_identifier, oid, database = identity.split(":", 2)
    return {"system_identifier": system_identifier, "database": database, "database_oid": int(oid)}


def is_finished(row: dict) -> bool:
    """Tell whether a run has ended, one way or the other."""
    return row["status"] in ("succeeded", "failed")

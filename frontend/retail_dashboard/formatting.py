"""How figures read on the page: money, counts, rates, times and durations (Jinja filters)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from flask import Flask

MISSING = "–"


def money(value: object) -> str:
    """Format an amount with thousands separators and 2 decimals (``1,234.50``)."""
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return MISSING


def count(value: object) -> str:
    """Format a whole number with thousands separators."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else MISSING


def percent(ratio: Decimal | None) -> str:
    """Format a ratio as a percentage with one decimal, or ``n/a``."""
    return "n/a" if ratio is None else f"{ratio * 100:.1f} %"


def parse_utc(value: object) -> datetime | None:
    """Read an ISO 8601 UTC timestamp (``...Z``); None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utc_time(value: object) -> str:
    """Format a backend timestamp as ``2026-11-25 09:30 UTC``."""
    parsed = parse_utc(value) if not isinstance(value, datetime) else value
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if parsed else MISSING


def age(moment: datetime, now: datetime) -> str:
    """Say how long ago ``moment`` was, roughly (``3 hours ago``)."""
    seconds = max(int((now - moment).total_seconds()), 0)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            amount = seconds // size
            return f"{amount} {unit}{'s' if amount != 1 else ''} ago"
    return "just now"


def duration(seconds: object) -> str:
    """Format a run's duration (``4.2 s``, ``3 min 05 s``)."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s"


def register(app: Flask) -> None:
    """Make the formatters available to templates as filters."""
    for function in (money, count, percent, utc_time, duration):
        app.add_template_filter(function)

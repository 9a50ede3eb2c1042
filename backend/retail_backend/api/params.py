"""Small, explicit parsers for query parameters, each failing with a message a curl user can act on.

An empty value (``?from=``, what an empty form field sends) counts as absent. Unknown parameters
are ignored, so cache busters and the like pass; a value outside a parameter's enum is a 400.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

from .errors import bad_request

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INTEGER = re.compile(r"^[+-]?\d{1,18}$")
_NUMBER = re.compile(r"^\+?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
MAX_TEXT = 256


def text(args: Mapping[str, str], name: str, max_length: int = MAX_TEXT) -> str | None:
    """Return a free-text parameter, or None when it is absent or empty."""
    value = args.get(name)
    if value in (None, ""):
        return None
    if len(value) > max_length:
        raise bad_request(f"{name} must be at most {max_length} characters, not {len(value)}")
    return value


def date(args: Mapping[str, str], name: str) -> dt.date | None:
    """Return an ISO date parameter (YYYY-MM-DD), or None when it is absent."""
    value = text(args, name)
    if value is None:
        return None
    try:
        if not _DATE.match(value):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise bad_request(f"{name} must be a date like 2011-12-31, not {shown(value)}") from None


def integer(args: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    """Return an integer parameter within [minimum, maximum], or ``default`` when absent."""
    value = text(args, name, 32)
    if value is None:
        return default
    if not _INTEGER.match(value):
        raise bad_request(f"{name} must be a whole number, not {shown(value)}")
    number = int(value)
    if number < minimum:
        raise bad_request(f"{name} must be at least {minimum}, not {number}")
    if number > maximum:
        raise bad_request(f"{name} must be at most {maximum}, not {number}")
    return number


def seconds(args: Mapping[str, str], name: str, cap: float) -> float:
    """Return a non-negative number of seconds, capped at ``cap`` (1e999 too); 0 when absent."""
    value = text(args, name, 64)
    if value is None:
        return 0.0
    if not _NUMBER.match(value):
        raise bad_request(f"{name} must be a number of seconds like 30, not {shown(value)}")
    return min(float(value), cap)


def choice(value: str | None, name: str, choices: Sequence[str], default: str | None) -> str:
    """Return ``value`` if it is one of ``choices``, ``default`` if it is absent or empty."""
    if value in (None, "") and default is not None:
        return default
    if value not in choices:
        raise bad_request(f"{name} must be one of {', '.join(choices)}, not {shown(value or '')}")
    return value


def shown(value: str) -> str:
    """Quote a rejected value for a message, cut short so a huge input stays a short message."""
    return repr(value if len(value) <= 40 else value[:40] + "...")

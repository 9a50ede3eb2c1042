"""Parse the single fields of an "Online Retail" CSV export into the values COPY stores.

Each parser returns the value a field writes or raises ValueError with the reason, worded to
follow the column's name in a refused line's message. Values are stored as written: no business
rule is applied here, only what PostgreSQL needs to accept them (integer range, no NUL).
"""

from __future__ import annotations

import datetime as dt
import re

INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # PostgreSQL integer
# Longest unit price accepted: far inside numeric's limits, so COPY never fails on one.
MAX_PRICE_LENGTH = 1_000

_INTEGER = re.compile(r"[+-]?[0-9]+")  # [0-9], not \d: other scripts' digits are not numbers
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_CUSTOMER_ID = re.compile(r"([+-]?[0-9]+)(?:\.0+)?")  # exports write 17850 or 17850.0
_US_DATE = re.compile(
    r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4}|[0-9]{2})"
    r"(?: ([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?(?: ?([AaPp][Mm]))?)?"
)
_ISO_DATE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[ T]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?)?"
)


def parse_text(text: str) -> str | None:
    """Return a text field as written; an empty field means NULL."""
    if "\x00" in text:
        raise ValueError("contains a NUL character, which PostgreSQL cannot store")
    return text or None


def parse_quantity(text: str) -> int:
    """Return the integer ``text`` writes, or raise ValueError saying why it is not one."""
    if _INTEGER.fullmatch(text) is None:
        raise ValueError("is not an integer")
    return _integer(text)


def parse_unit_price(text: str) -> str:
    """Return a plain decimal number's exact text, or raise ValueError."""
    if _DECIMAL.fullmatch(text) is None:
        raise ValueError("is not a decimal number")
    if len(text) > MAX_PRICE_LENGTH:
        raise ValueError(f"has more than {MAX_PRICE_LENGTH} characters")
    return text


def parse_customer_id(text: str) -> int | None:
    """Return the customer number (``17850`` or ``17850.0``), None when empty, or raise."""
    if not text:
        return None
    match = _CUSTOMER_ID.fullmatch(text)
    if match is None:
        raise ValueError("is not an integer")
    return _integer(match[1])


def parse_invoice_date(text: str) -> dt.datetime:
    """Return the timestamp of a US month/day or an ISO date, or raise ValueError."""
    try:
        if match := _US_DATE.fullmatch(text):
            month, day, year, hour, minute, second, half = match.groups()
            hour = int(hour or 0)
            if half:  # 12 AM is midnight, 12 PM noon
                if not 1 <= hour <= 12:
                    raise ValueError
                hour = hour % 12 + (12 if half.lower() == "pm" else 0)
            return dt.datetime(
                int(year) + (2000 if len(year) == 2 else 0),
                int(month),
                int(day),
                hour,
                int(minute or 0),
                int(second or 0),
            )
        if match := _ISO_DATE.fullmatch(text):
            year, month, day, hour, minute, second, fraction = match.groups()
            return dt.datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                int((fraction or "0").ljust(6, "0")),
            )
    except ValueError:  # a month, day or hour out of range
        pass
    raise ValueError("is not a date")


def _integer(text: str) -> int:
    try:
        value = int(text)
    except ValueError:  # more digits than Python converts: out of range anyway
        value = INT_MAX + 1
    if not INT_MIN <= value <= INT_MAX:
        raise ValueError("is out of range for an integer")
    return value

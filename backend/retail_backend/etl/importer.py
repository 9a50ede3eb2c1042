"""Import an "Online Retail" CSV export into ``online_sales``, as it is, in one transaction.

The importer applies no business rule: every line it can parse is stored with the values it
holds (cancellations, zero or negative prices, blank descriptions and all); the ETL judges them
later. A line it cannot parse (wrong number of fields, a number or a date that does not parse)
is refused with its physical line number and the reason, and never stops the rest. The file is
streamed and copied in batches inside a single transaction: memory stays bounded, and either
every accepted line is committed or none is. A file that cannot be read as a whole (bad header,
not UTF-8, empty) raises ``CsvImportError`` and imports nothing.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import itertools
import operator
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import psycopg

from ..config import Settings
from ..db import connect_source

COPY_SQL = (
    "COPY online_sales (invoice_no, stock_code, description, quantity, invoice_date,"
    " unit_price, customer_id, country) FROM STDIN"
)
# The header names of each target column, in COPY order; the first is the one messages use.
COLUMNS = {
    "invoice_no": ("InvoiceNo", "Invoice"),
    "stock_code": ("StockCode",),
    "description": ("Description",),
    "quantity": ("Quantity",),
    "invoice_date": ("InvoiceDate",),
    "unit_price": ("UnitPrice", "Price"),
    "customer_id": ("CustomerID", "Customer ID"),
    "country": ("Country",),
}
_ALIASES = {name.lower(): column for column, names in COLUMNS.items() for name in names}
MAX_REFUSED_KEPT = 1_000
MAX_REFUSED_SHOWN = 20
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # PostgreSQL integer
# Longest unit price accepted: far inside numeric's limits, so COPY never fails on one.
MAX_PRICE_LENGTH = 1_000
# Parsed values are remembered: an export repeats its dates, quantities, prices and customers.
MEMO_ENTRIES, MEMO_KEY_LENGTH = 50_000, 64  # bounds the memory of each memo

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

Row = tuple[str | None, str | None, str | None, int, dt.datetime, str, int | None, str | None]


class CsvImportError(ValueError):
    """The file as a whole cannot be imported; the message says why, for humans."""


@dataclass
class RefusedLine:
    """A line that was not imported, and why."""

    line_number: int  # 1-based physical line in the file; the header is line 1
    reason: str


@dataclass
class ImportReport:
    """What an import read, loaded and refused."""

    path: str
    lines_read: int = 0  # data lines (records), not the header nor blank lines
    lines_loaded: int = 0
    lines_refused: int = 0
    refused: list[RefusedLine] = field(default_factory=list)  # the first MAX_REFUSED_KEPT

    def refuse(self, line_number: int, reason: str) -> None:
        """Count a refused line, keeping its details while there is room."""
        self.lines_refused += 1
        if len(self.refused) < MAX_REFUSED_KEPT:
            self.refused.append(RefusedLine(line_number, reason))


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


def _show(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:40]) + "..."


class _Memo(dict):
    """A parser that remembers what it returned for short texts (a bounded number of them)."""

    def __init__(self, parse: Callable[[str], object]) -> None:
        super().__init__()
        self.parse = parse

    def __missing__(self, text: str) -> object:
        value = self.parse(text)  # a ValueError is not remembered
        if len(text) <= MEMO_KEY_LENGTH:
            if len(self) >= MEMO_ENTRIES:
                self.clear()
            self[text] = value
        return value


@dataclass(frozen=True)
class Layout:
    """Where each target column sits in the file's records, and the name the header gives it."""

    positions: tuple[int, ...]  # in COPY order
    names: tuple[str, ...]  # in COPY order, as the header writes them
    width: int  # fields per record


def match_header(header: Sequence[str]) -> Layout:
    """Match a header's names to the target columns, or raise CsvImportError naming the fault."""
    positions: dict[str, int] = {}
    names: dict[str, str] = {}
    unknown, repeated = [], []
    for position, raw in enumerate(header):
        name = raw.strip().strip("\ufeff").strip()
        column = _ALIASES.get(name.lower())
        if column is None:
            unknown.append(repr(name))
        elif column in positions:
            repeated.append(name)
        else:
            positions[column], names[column] = position, name
    missing = [" or ".join(COLUMNS[c]) for c in COLUMNS if c not in positions]
    problems = [
        f"{label} {', '.join(items)}"
        for label, items in (
            ("missing column(s)", missing),
            ("unknown column(s)", unknown),
            ("repeated column(s)", repeated),
        )
        if items
    ]
    if problems:
        expected = ", ".join(aliases[0] for aliases in COLUMNS.values())
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
            hint = " (the file does not seem to be separated by commas)"
        raise CsvImportError(f"the header has {'; '.join(problems)}{hint}; expected {expected}")
    return Layout(
        positions=tuple(positions[c] for c in COLUMNS),
        names=tuple(names[c] for c in COLUMNS),
        width=len(header),
    )


class CsvRows:
    """The rows of a CSV export, parsed lazily; reading the header checks it."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._file = iter(lines)
        self._taken: list[str] = []  # the lines of the record being read
        self._again: list[str] = []  # lines to read again before the file's, the next one last
        self._reader = csv.reader(self._feed())
        self.layout = match_header(self._header())
        self._pick = operator.itemgetter(*self.layout.positions)
        self._quantities = _Memo(parse_quantity)
        self._dates = _Memo(parse_invoice_date)
        self._prices = _Memo(parse_unit_price)
        self._customers = _Memo(parse_customer_id)
        self._parsers = (parse_text, parse_text, parse_text, parse_quantity, parse_invoice_date)
        self._parsers += (parse_unit_price, parse_customer_id, parse_text)

    def _header(self) -> list[str]:
        try:
            for header in self._reader:
                if header:  # blank lines before the header carry nothing
                    return header
        except csv.Error as exc:
            line = self._reader.line_num
            raise CsvImportError(f"line {line} is not a CSV header: {exc}") from exc
        raise CsvImportError("the file is empty: it has no header line")

    def parse(self, record: list[str]) -> Row:
        """Return the row of one record of the header's width, or raise ValueError saying why."""
        invoice, stock, description, quantity, date, price, customer, country = self._pick(record)
        # The common case inline, in one expression: a loop over the fields takes twice as long.
        nul = "\x00"  # PostgreSQL text cannot hold it
        if not (nul in invoice or nul in stock or nul in description or nul in country):
            try:
                return (
                    invoice or None,
                    stock or None,
                    description or None,
                    self._quantities[quantity],
                    self._dates[date],
                    self._prices[price],
                    self._customers[customer],
                    country or None,
                )
            except ValueError:
                pass
        # Rare: parse again, field by field, to name the first one that fails.
        for parse, text, name in zip(
            self._parsers, self._pick(record), self.layout.names, strict=True
        ):
            try:
                parse(text)
            except ValueError as exc:
                reason = f"{name} {_show(text)} {exc}" if text else f"{name} is empty"
                raise ValueError(reason) from None
        raise AssertionError("a field failed to parse only once")

    def _feed(self) -> Iterator[str]:
        """Give the reader the lines to read again, then the file's; keep the record's lines."""
        taken, again = self._taken, self._again
        while again:
            taken.append(line := again.pop())
            yield line
        for line in self._file:
            taken.append(line)
            yield line

    def _read_again(self, lines: list[str]) -> None:
        """Make the reader take ``lines`` next (a new reader: the last one may have hit the end)."""
        self._again.extend(reversed(lines))
        self._reader = csv.reader(self._feed())

    def _swallowed_lines(self) -> bool:
        """Tell whether a record runs over several lines because of a stray quote.

        A field quoted as CSV writers quote it closes with a quote before a comma or the end
        of a line; a stray quote runs on to the next quote, lines later, or to the end.
        """
        if len(self._taken) < 2:
            return False
        try:
            for _record in csv.reader(self._taken, strict=True):
                pass
        except csv.Error:
            return True
        return False

    def rows(self, report: ImportReport) -> Iterator[Row]:
        """Yield the row of every record that parses; count the others in ``report``."""
        taken, width = self._taken, self.layout.width
        next_line = self._reader.line_num + 1  # the physical number of the next line
        while True:
            first_line = next_line
            taken.clear()
            try:
                record = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. an unclosed quote ran past the field size limit
                record, reason = None, f"malformed CSV: {exc}"
            next_line += len(taken)
            if record == []:  # a blank line is no data line
                continue
            report.lines_read += 1
            if self._swallowed_lines():
                report.refuse(
                    first_line,
                    f"a quote opened on this line is not closed before line {next_line - 1};"
                    " the lines after it were read again on their own",
                )
                next_line = first_line + 1
                self._read_again(taken[1:])
                continue
            if record is not None:
                if len(record) != width:
                    reason = f"expected {width} fields, found {len(record)}"
                else:
                    try:
                        row = self.parse(record)
                    except ValueError as exc:
                        reason = str(exc)
                    else:
                        yield row
                        continue
            if next_line - 1 > first_line:  # a quoted newline
                reason += f" (the record spans lines {first_line}-{next_line - 1})"
            elif taken and taken[0].count('"') % 2:
                reason += "; a quote opened on this line is never closed"
            report.refuse(first_line, reason)


def import_csv(
    settings: Settings, path: str | os.PathLike, *, batch_lines: int = 50_000
) -> ImportReport:
    """Copy the lines of a CSV export into ``online_sales`` in one transaction; report them."""
    if batch_lines < 1:
        raise ValueError("batch_lines must be positive")
    name = os.fspath(path)
    report = ImportReport(path=name)
    try:
        with open(name, encoding="utf-8-sig", newline="") as text:
            rows = CsvRows(text)  # a bad header stops here, before any connection
            with (
                connect_source(settings, statement_timeout=settings.etl_read_timeout) as conn,
                conn.cursor() as cursor,
            ):  # commits when the block ends, rolls back on any exception
                parsed = rows.rows(report)
                while (copied := _copy(cursor, itertools.islice(parsed, batch_lines))) > 0:
                    report.lines_loaded += copied
    except UnicodeDecodeError as exc:
        raise CsvImportError(_where_not_utf8(name, exc)) from None
    except OSError as exc:  # missing, a directory, unreadable, a failing disk
        raise CsvImportError(f"the file cannot be read: {exc.strerror or exc}") from exc
    return report


def _copy(cursor: psycopg.Cursor, rows: Iterable[Row]) -> int:
    """COPY one batch of rows as they are parsed (the server works while the file is read)."""
    copied = 0
    with cursor.copy(COPY_SQL) as copy:
        for row in rows:
            copy.write_row(row)
            copied += 1
    return copied


def _where_not_utf8(path: str, error: UnicodeDecodeError) -> str:
    """Say where the first byte that is not UTF-8 is (the decoder only knew its own buffer)."""
    advice = "save it as UTF-8 and import it again (other encodings are not guessed)"
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line_number = 0, 1
    try:
        with open(path, "rb") as raw:
            while True:
                piece = raw.readline(1 << 16)  # bounded, even for a file without newlines
                pending = len(decoder.getstate()[0])  # bytes of a character cut by the bound
                try:
                    decoder.decode(piece, final=not piece)
                except UnicodeDecodeError as exc:
                    return (
                        f"the file is not UTF-8: byte 0x{exc.object[exc.start]:02X} at offset"
                        f" {offset - pending + exc.start} (line {line_number}) cannot be"
                        f" decoded; {advice}"
                    )
                if not piece:
                    break
                offset += len(piece)
                line_number += piece.endswith(b"\n")
    except OSError:
        pass
    return f"the file is not UTF-8 ({error.reason}); {advice}"


def format_report(report: ImportReport) -> str:
    """Return the report as text: a summary line, then the first refused lines."""
    lines = [
        f"Imported {report.lines_loaded} lines from {report.path}; refused {report.lines_refused}."
    ]
    shown = report.refused[:MAX_REFUSED_SHOWN]
    lines += [f"line {refused.line_number}: {refused.reason}" for refused in shown]
    if report.lines_refused > len(shown):
        lines.append(f"... and {report.lines_refused - len(shown)} more")
    return "\n".join(lines)

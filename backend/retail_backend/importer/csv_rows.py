"""Read the records of a CSV export as rows for COPY, refusing the lines that do not parse.

A line that cannot be parsed (wrong number of fields, a number or a date that does not parse) is
refused with its physical line number and the reason, and never stops the rest. A stray quote
that swallows the lines after it into one record is caught, and those lines are read again on
their own. A header that cannot be matched stops the file before any row is read.
"""

from __future__ import annotations

import csv
import datetime as dt
import operator
from collections.abc import Callable, Iterable, Iterator

from .csv_fields import (
    parse_customer_id,
    parse_invoice_date,
    parse_quantity,
    parse_text,
    parse_unit_price,
)
from .csv_header import match_header
from .import_report import CsvImportError, ImportReport

# Parsed values are remembered: an export repeats its dates, quantities, prices and customers.
MEMO_ENTRIES, MEMO_KEY_LENGTH = 50_000, 64  # bounds the memory of each memo

Row = tuple[str | None, str | None, str | None, int, dt.datetime, str, int | None, str | None]


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

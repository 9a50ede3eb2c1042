"""Import an "Online Retail" CSV export into ``online_sales``, as it is, in one transaction.

The importer applies no business rule: every line it can parse is stored with the values it
holds (cancellations, zero or negative prices, blank descriptions and all); the ETL judges them
later. A line it cannot parse (wrong number of fields, a number or a date that does not parse)
is refused with its physical line number and the reason, and never stops the rest. The file is
streamed and copied in batches inside a single transaction: memory stays bounded, and either
every accepted line is committed or none is. A file that cannot be read as a whole (bad header,
not UTF-8, empty) raises ``CsvImportError`` and imports nothing.

It is a package of its own, apart from ``etl``: it feeds the source database, not the
warehouse, and shares nothing with the pipeline. This module owns the file and the COPY;
``csv_rows`` reads the records (with ``csv_header`` and ``csv_fields``), and ``import_report``
holds the report and the error.
"""

from __future__ import annotations

import codecs
import itertools
import os
from collections.abc import Iterable

import psycopg

from ..config import Settings
from ..db import connect_source
from .csv_rows import CsvRows, Row
from .import_report import CsvImportError, ImportReport

COPY_SQL = (
    "COPY online_sales (invoice_no, stock_code, description, quantity, invoice_date,"
    " unit_price, customer_id, country) FROM STDIN"
)


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

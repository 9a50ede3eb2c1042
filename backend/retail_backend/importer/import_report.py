"""What a CSV import tells its caller: the report of lines loaded and refused, or the error.

A file that cannot be read as a whole raises ``CsvImportError``; a line that cannot be parsed is
only counted in the ``ImportReport`` (with its details while there is room) and never stops the
rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_REFUSED_KEPT = 1_000
MAX_REFUSED_SHOWN = 20


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

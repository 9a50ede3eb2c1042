"""``flask etl import-csv`` on malformed files: a clear refusal, never a traceback or half a file.

Each file goes through the real command (a subprocess in backend/) into a throwaway source
database. A file that is wrong as a whole (header, encoding, not text, not a file) exits non-zero
and imports nothing; a file with bad lines imports exactly its good lines and names each bad
one by its line number. What was imported is read back with plain SQL, not from the report.
"""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.api.servers import BACKEND

FLASK = Path(sys.executable).with_name("flask")
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
BIG_FILE_BYTES = 200 * 1024 * 1024
# The command loads the whole app (pandas included) before it reads a line: about 150 MB.
PEAK_RSS_BOUND_MB = 200
GROWTH_BOUND_MB = 64  # over the same command on a header-only file


@dataclass
class Outcome:
    """What the command did: exit status, its output, and its peak resident memory."""

    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    seconds: float


# Runs the command and writes its peak RSS to argv[1]. A wrapper, because a child forked
# straight from pytest starts as a copy of pytest's memory, which its ru_maxrss would count.
MEASURED = (
    "import resource, subprocess, sys;"
    "code = subprocess.call(sys.argv[2:]);"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss));"
    "sys.exit(code)"
)


def import_file(source_db, path: Path, tmp_path: Path) -> Outcome:
    """Run ``flask etl import-csv path`` from backend/ and measure its time and peak memory."""
    env = {
        **os.environ,
        "SOURCE_DB_URL": source_db.url,
        "WAREHOUSE_DB_URL": "mysql://root@127.0.0.1:1/unused",  # the importer never uses it
        "PYTHONPATH": str(BACKEND),
    }
    peak_kb = tmp_path / "peak_rss_kb"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, str(peak_kb), str(FLASK), "etl", "import-csv", str(path)],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.monotonic() - started
    peak_mb = int(peak_kb.read_text()) / 1024
    return Outcome(done.returncode, done.stdout, done.stderr, peak_mb, seconds)


def imported_invoices(source_db) -> list[str]:
    with source_db.connect() as conn:
        return [row[0] for row in conn.execute("SELECT invoice_no FROM online_sales ORDER BY id")]


def good_line(n: int) -> str:
    """A valid line whose invoice number G<n> says it is the n-th good line."""
    return (
        f"G{n},{20000 + n % 50},ITEM {n},{n % 13 + 1},"
        f"{n % 12 + 1}/{n % 28 + 1}/2011 9:{n % 60:02d},{n % 500 / 100 + 0.01:.2f},"
        f"{12000 + n % 5000},United Kingdom"
    )


def good_lines(count: int, first: int = 0) -> list[str]:
    return [good_line(n) for n in range(first, first + count)]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    return path


def file_of(data: bytes):
    """Return a maker that writes exactly ``data``."""

    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path

    return make


def latin1_late(path: Path) -> Path:
    """60,000 good lines (more than one 50,000-line batch), then a Latin-1 'É'."""
    text = "\n".join([HEADER, *good_lines(60_000), "B1,1,CAFÉ,1,1/2/2011 9:00,1.00,1,UK"]) + "\n"
    path.write_bytes(text.encode("latin-1"))
    return path


WHOLE_FILE_ERRORS = {
    "missing-column": (
        lambda p: write(p, [HEADER.replace(",Quantity", ""), *good_lines(3)]),
        "missing column(s) Quantity",
    ),
    "semicolon-layout": (
        lambda p: write(p, [HEADER.replace(",", ";"), *good_lines(3)]),
        "does not seem to be separated by commas",
    ),
    "unknown-layout": (
        lambda p: write(p, ["Date,Sku,Units,Amount", "2011-01-02,A,1,2.00"]),
        "unknown column(s) 'Date', 'Sku', 'Units', 'Amount'",
    ),
    "duplicated-column": (
        lambda p: write(p, [HEADER + ",Country", *[line + ",UK" for line in good_lines(3)]]),
        "repeated column(s) Country",
    ),
    "latin-1-header": (
        file_of(HEADER.replace("Description", "Désignation").encode("latin-1")),
        f"not UTF-8: byte 0xE9 at offset {HEADER.index('Description') + 1} (line 1)",
    ),
    "utf-16-with-bom": (
        file_of("\n".join([HEADER, *good_lines(3)]).encode("utf-16")),
        "not UTF-8: byte 0xFF at offset 0 (line 1)",
    ),
    "invalid-utf-8-after-60000-good-lines": (latin1_late, "(line 60002) cannot be decoded"),
    "empty": (file_of(b""), "the file is empty"),
    "only-blank-lines": (file_of(b"\n\n\r\n\n"), "the file is empty"),
    "random-bytes": (file_of(random.Random(7).randbytes(4096)), "the file is not UTF-8"),
    "gzip": (
        file_of(gzip.compress("\n".join([HEADER, *good_lines(50)]).encode(), mtime=0)),
        "the file is not UTF-8: byte 0x8B at offset 1 (line 1)",
    ),
    "does-not-exist": (lambda p: p.with_name("no-such-file.csv"), "does not exist"),
    "a-directory": (lambda p: p.parent, "is a directory"),
}


@pytest.mark.campaign("malformed_csv")
@pytest.mark.parametrize(
    ("make", "message"), WHOLE_FILE_ERRORS.values(), ids=WHOLE_FILE_ERRORS.keys()
)
def test_a_file_wrong_as_a_whole_exits_non_zero_and_imports_nothing(
    source_db, tmp_path, campaign, make, message
):
    path = make(tmp_path / "bad.csv")

    outcome = import_file(source_db, path, tmp_path)

    imported = imported_invoices(source_db)
    campaign.cases(1)
    campaign.data_lost(len(imported))  # a refused file must leave nothing behind
    assert imported == []
    assert outcome.returncode != 0, outcome.stdout
    assert message in outcome.stderr, outcome.stderr
    assert "Traceback" not in outcome.stderr + outcome.stdout


@pytest.mark.campaign("malformed_csv")
def test_a_header_only_file_imports_nothing_and_succeeds(source_db, tmp_path, campaign):
    outcome = import_file(source_db, write(tmp_path / "header.csv", [HEADER]), tmp_path)

    campaign.cases(1)
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.stdout.startswith("Imported 0 lines from ") and "refused 0." in outcome.stdout
    assert imported_invoices(source_db) == []


def unterminated_quote(line: str) -> str:
    return line.replace(",ITEM", ',"ITEM', 1)


def nul_in_quantity(line: str) -> str:
    fields = line.split(",")
    fields[3] += "\x00"
    return ",".join(fields)


# Each file: good lines with bad ones among them; (physical line number, reason) of the bad.
BAD_LINES = {
    "too-few-fields": (lambda g: g.rsplit(",", 1)[0], "expected 8 fields, found 7"),
    "too-many-fields": (lambda g: g + ",extra", "expected 8 fields, found 9"),
    "unterminated-quote": (unterminated_quote, "a quote opened on this line is"),
    "nul-in-description": (lambda g: g.replace("ITEM", "IT\x00EM"), "contains a NUL character"),
    "nul-in-quantity": (nul_in_quantity, "is not an integer"),
    "bad-date": (lambda g: g.replace("/2011", "/20x1"), "is not a date"),
}


@pytest.mark.campaign("malformed_csv")
@pytest.mark.parametrize(("spoil", "reason"), BAD_LINES.values(), ids=BAD_LINES.keys())
def test_bad_lines_are_refused_by_number_and_exactly_the_good_lines_load(
    source_db, tmp_path, campaign, spoil, reason
):
    good = good_lines(3_000)
    bad_at = (5, 1_500, 2_999)  # indexes into good: early, in the middle, the last line
    lines = [HEADER]
    for index, line in enumerate(good):
        lines.append(spoil(line).replace(f"G{index},", f"B{index},") if index in bad_at else line)
    outcome = import_file(source_db, write(tmp_path / "ragged.csv", lines), tmp_path)

    imported = imported_invoices(source_db)
    expected = [f"G{n}" for n in range(len(good)) if n not in bad_at]
    lost = len(set(expected) - set(imported)) + sum(i.startswith("B") for i in imported)
    campaign.cases(len(bad_at))
    campaign.data_lost(lost)
    assert lost == 0
    assert imported == expected
    assert outcome.returncode == 0, outcome.stderr
    report = outcome.stdout.splitlines()
    assert report[0].endswith(f"; refused {len(bad_at)}.")
    assert [line.split(":", 1)[0] for line in report[1:]] == [f"line {i + 2}" for i in bad_at]
    assert all(reason in line for line in report[1:]), report
    assert "Traceback" not in outcome.stderr + outcome.stdout


def write_big_file(path: Path, target_bytes: int) -> int:
    """Stream valid lines into ``path`` until it holds ``target_bytes``; return the line count."""
    written, count = 0, 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(HEADER + "\n")
        while written < target_bytes:
            chunk = "".join(good_line(n) + "\n" for n in range(count, count + 50_000))
            handle.write(chunk)
            written += len(chunk)
            count += 50_000
    return count


@pytest.mark.campaign("malformed_csv")
def test_a_200_mb_file_imports_every_line_in_bounded_memory(
    source_db, tmp_path, campaign, record_property
):
    baseline = import_file(source_db, write(tmp_path / "header.csv", [HEADER]), tmp_path)
    path = tmp_path / "big.csv"
    written = write_big_file(path, BIG_FILE_BYTES)

    outcome = import_file(source_db, path, tmp_path)

    with source_db.connect() as conn:
        stored = conn.execute("SELECT count(*) FROM online_sales").fetchone()[0]
    path.unlink()
    campaign.cases(1)
    campaign.data_lost(abs(written - stored))
    record_property("import_seconds", round(outcome.seconds, 1))
    record_property("lines_per_second", round(written / outcome.seconds))
    record_property("peak_rss_mb", round(outcome.peak_rss_mb, 1))
    record_property("header_only_peak_rss_mb", round(baseline.peak_rss_mb, 1))
    assert outcome.returncode == 0, outcome.stderr
    assert stored == written
    assert outcome.stdout.startswith(f"Imported {written} lines") and "refused 0." in outcome.stdout
    assert outcome.peak_rss_mb < PEAK_RSS_BOUND_MB
    assert outcome.peak_rss_mb - baseline.peak_rss_mb < GROWTH_BOUND_MB

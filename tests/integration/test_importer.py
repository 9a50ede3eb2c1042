"""The CSV importer on a real PostgreSQL: what it loads is the file, exactly, or nothing at all.

Expected values come from an independent reading of the file (``csv`` and ``strptime`` here),
never from the importer's own parsers.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from retail_backend.config import Settings
from retail_backend.importer import import_csv
from retail_backend.importer.import_report import CsvImportError, format_report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIRST_ROWS = FIXTURES / "online_retail_first_rows.csv"  # 183 lines, 4 of them with 7 fields
FIRST_ROWS_II = FIXTURES / "online_retail_II_first_rows.csv"  # 99 lines, BOM
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
COLUMNS = "invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id"
COLUMNS += ", country"


@pytest.fixture
def settings(source_db) -> Settings:
    return Settings(
        source_db_url=source_db.url, warehouse_db_url="mysql://root@127.0.0.1:3306/unused"
    )


def expected_rows(path: Path, date_format: str) -> list[tuple]:
    """Read the 8-field lines of a fixture the plain way, as the table should hold them."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        records = [r for r in csv.reader(handle)][1:]
    return [
        (
            invoice or None,
            stock or None,
            description or None,
            int(quantity),
            dt.datetime.strptime(date, date_format),
            Decimal(price),
            int(Decimal(customer)) if customer else None,
            country or None,
        )
        for invoice, stock, description, quantity, date, price, customer, country in (
            r for r in records if len(r) == 8
        )
    ]


def table_rows(source_db) -> list[tuple]:
    with source_db.connect() as conn:
        return conn.execute(f"SELECT {COLUMNS} FROM online_sales ORDER BY id").fetchall()


def line_count(source_db) -> int:
    with source_db.connect() as conn:
        return conn.execute("SELECT count(*) FROM online_sales").fetchone()[0]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    return path


def synthetic_lines(count: int, first_invoice: int = 600000) -> list[str]:
    return [
        f"{first_invoice + n // 7},{20000 + n % 50},ITEM {n} ,{n % 13 - 2},"
        f"{n % 12 + 1}/{n % 28 + 1}/2011 {n % 24}:{n % 60:02d},{n % 500 / 100},{12000 + n},UK"
        for n in range(count)
    ]


def test_first_rows_load_except_the_four_ragged_lines_with_values_exactly_as_written(
    settings, source_db
):
    report = import_csv(settings, FIRST_ROWS)

    assert (report.lines_read, report.lines_loaded, report.lines_refused) == (183, 179, 4)
    assert [(r.line_number, r.reason) for r in report.refused] == [
        (n, "expected 8 fields, found 7") for n in (121, 172, 175, 179)
    ]
    expected = expected_rows(FIRST_ROWS, "%m/%d/%y %H:%M")
    assert table_rows(source_db) == expected
    with source_db.connect() as conn:
        quantity, price, cancellations, first_date, garbled, kept_spaces = conn.execute(
            """SELECT sum(quantity), sum(unit_price),
                      count(*) FILTER (WHERE invoice_no LIKE 'C%'),
                      (SELECT invoice_date FROM online_sales ORDER BY id LIMIT 1),
                      count(*) FILTER (WHERE stock_code = '22344' AND description = 'POST POSTAGE'),
                      count(*) FILTER (WHERE description = 'MINI PAINT SET VINTAGE ')
               FROM online_sales"""
        ).fetchone()
    assert quantity == sum(row[3] for row in expected)
    assert price == sum(row[5] for row in expected)
    assert cancellations == sum(row[0].startswith("C") for row in expected) == 1
    assert first_date == dt.datetime(2010, 12, 1, 8, 26)
    assert garbled == 1  # line 47: odd, but it parses, so it loads
    assert kept_spaces == 1


def test_online_retail_ii_layout_with_bom_loads_every_line(settings, source_db):
    report = import_csv(settings, FIRST_ROWS_II)

    assert (report.lines_read, report.lines_loaded, report.lines_refused) == (99, 99, 0)
    expected = expected_rows(FIRST_ROWS_II, "%m/%d/%Y %H:%M")
    assert table_rows(source_db) == expected
    assert expected[0][0] == "536365" and expected[0][4] == dt.datetime(2010, 12, 1, 8, 26)
    assert format_report(report) == f"Imported 99 lines from {FIRST_ROWS_II}; refused 0."


def test_bad_lines_mixed_in_are_refused_by_line_number_and_the_rest_loads(
    settings, source_db, tmp_path
):
    good = synthetic_lines(6)
    path = write_lines(
        tmp_path / "mixed.csv",
        [
            HEADER,
            good[0],  # 2
            "536365,85123A,HEART,abc,12/1/10 8:26,2.55,17850,United Kingdom",  # 3
            good[1],  # 4
            "536365,85123A,HEART,6,13/45/2010 8:26,2.55,17850,United Kingdom",  # 5
            "536365,85123A,HEART 6,12/1/10 8:26,2.55,17850,United Kingdom",  # 6
            good[2],  # 7
            "C536379,D,,-1,12/1/10 9:41,-27.50,,United Kingdom",  # 8: odd, but it parses
            '536365,85123A,"TWO\nLINES",6,12/1/10 8:26,2.55,17850.0,France',  # 9-10
            good[3],  # 11
            "536365,85123A,HEART,6,12/1/10 8:26,NaN,17850,United Kingdom",  # 12
            good[4],  # 13
        ],
    )

    report = import_csv(settings, path, batch_lines=2)

    assert [(r.line_number, r.reason) for r in report.refused] == [
        (3, "Quantity 'abc' is not an integer"),
        (5, "InvoiceDate '13/45/2010 8:26' is not a date"),
        (6, "expected 8 fields, found 7"),
        (12, "UnitPrice 'NaN' is not a decimal number"),
    ]
    assert (report.lines_read, report.lines_loaded, report.lines_refused) == (11, 7, 4)
    rows = table_rows(source_db)
    assert [row[0] for row in rows] == ["600000", "600000", "600000", "C536379", "536365"] + [
        "600000",
        "600000",
    ]
    assert rows[3] == (
        "C536379",
        "D",
        None,
        -1,
        dt.datetime(2010, 12, 1, 9, 41),
        Decimal("-27.50"),
        None,
        "United Kingdom",
    )
    assert rows[4][2] == "TWO\nLINES" and rows[4][6] == 17850


def test_multi_batch_import_loads_every_line_in_file_order(settings, source_db, tmp_path):
    lines = synthetic_lines(305)
    path = write_lines(tmp_path / "many.csv", [HEADER, *lines])

    report = import_csv(settings, path, batch_lines=10)

    assert (report.lines_read, report.lines_loaded, report.lines_refused) == (305, 305, 0)
    assert [row[1:4] for row in table_rows(source_db)] == [
        (line.split(",")[1], line.split(",")[2], int(line.split(",")[3])) for line in lines
    ]


def test_header_only_file_loads_nothing_and_is_no_error(settings, source_db, tmp_path):
    report = import_csv(settings, write_lines(tmp_path / "header.csv", [HEADER]))

    assert (report.lines_read, report.lines_loaded, report.lines_refused) == (0, 0, 0)
    assert line_count(source_db) == 0


def not_utf8_late(path: Path) -> tuple[Path, str]:
    """Write a file whose one latin-1 byte comes after many batches (far past the first read)."""
    data = ("\n".join([HEADER, *synthetic_lines(2000)]) + "\n").encode("utf-8")
    offset = data.index(b"ITEM 1900 ")
    path.write_bytes(data[:offset] + b"CAF\xc9 " + data[offset:])
    return path, f"byte 0xC9 at offset {offset + 3} (line 1902)"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: write_lines(p, [HEADER.replace(",Quantity", ""), "1,2,3,4,5,6,7"]),
            "missing column(s) Quantity",
        ),
        (
            lambda p: write_lines(p, [HEADER + ",Discount", "1,2,3,4,12/1/10 8:26,6,7,8,9"]),
            "unknown column(s) 'Discount'",
        ),
        (lambda p: (p.write_bytes(b""), p)[1], "the file is empty"),
        (lambda p: (p.write_bytes("\ufeff".encode()), p)[1], "the file is empty"),
        (lambda p: (p.write_bytes(b"Invoice\xa3No,StockCode\n"), p)[1], "is not UTF-8"),
        (lambda p: p.parent, "cannot be read"),
    ],
    ids=["missing-column", "unknown-column", "empty", "bom-only", "not-utf8-header", "directory"],
)
def test_a_file_that_cannot_be_read_as_a_whole_imports_nothing(
    settings, source_db, tmp_path, make, message
):
    path = make(tmp_path / "bad.csv")

    with pytest.raises(CsvImportError) as caught:
        import_csv(settings, path)

    assert message in str(caught.value)
    assert line_count(source_db) == 0


def test_a_file_not_utf8_after_batches_were_copied_imports_nothing(settings, source_db, tmp_path):
    path, where = not_utf8_late(tmp_path / "latin1.csv")

    with pytest.raises(CsvImportError) as caught:
        import_csv(settings, path, batch_lines=100)

    assert f"the file is not UTF-8: {where} cannot be decoded" in str(caught.value)
    assert line_count(source_db) == 0


def test_a_byte_not_utf8_is_located_exactly_past_a_long_line(settings, source_db, tmp_path):
    # The locating scan reads in bounded pieces; here one cuts the 2-byte 'é' in two.
    line = b"x" * 65535 + "é".encode() + b"\xff"
    (tmp_path / "long.csv").write_bytes(HEADER.encode() + b"\n" + line + b"\n")

    with pytest.raises(CsvImportError) as caught:
        import_csv(settings, tmp_path / "long.csv")

    assert f"byte 0xFF at offset {len(HEADER) + 1 + 65537} (line 2)" in str(caught.value)


def test_a_batch_postgresql_refuses_rolls_back_every_batch_before_it(settings, source_db, tmp_path):
    with source_db.connect(autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE online_sales ADD CONSTRAINT test_poison"
            " CHECK (stock_code IS DISTINCT FROM 'POISON')"
        )
    lines = synthetic_lines(300)
    lines[250] = lines[250].replace(",20000,", ",POISON,")
    path = write_lines(tmp_path / "poison.csv", [HEADER, *lines])

    with pytest.raises(psycopg.errors.CheckViolation):
        import_csv(settings, path, batch_lines=10)  # batch 26 fails; 25 were copied

    assert line_count(source_db) == 0


def test_a_connection_dropped_mid_import_leaves_the_table_untouched(settings, source_db, tmp_path):
    # The server ends the importer's own session when it reaches the marked line: a connection
    # drop at an exact point of the import, with no race.
    with source_db.connect(autocommit=True) as conn:
        conn.execute(
            """CREATE FUNCTION test_drop_connection() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                   IF NEW.stock_code = 'DROP' THEN
                       PERFORM pg_terminate_backend(pg_backend_pid());
                   END IF;
                   RETURN NEW;
               END $$;
               CREATE TRIGGER test_drop_connection BEFORE INSERT ON online_sales
                   FOR EACH ROW EXECUTE FUNCTION test_drop_connection();"""
        )
    lines = synthetic_lines(300)
    lines[250] = lines[250].replace(",20000,", ",DROP,")
    path = write_lines(tmp_path / "drop.csv", [HEADER, *lines])

    with pytest.raises(psycopg.OperationalError):
        import_csv(settings, path, batch_lines=10)

    assert line_count(source_db) == 0


def test_import_reads_a_copy_of_the_fixture_anywhere(settings, source_db, tmp_path):
    # The path may be a str or a PathLike; the report names it as given.
    copy = shutil.copy(FIRST_ROWS_II, tmp_path / "sales export.csv")
    report = import_csv(settings, str(copy))
    assert report.path == str(copy) and report.lines_loaded == line_count(source_db) == 99

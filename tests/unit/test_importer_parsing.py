"""Parsing of CSV exports by the importer: fields, header, records and the report (no database)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retail_backend.importer.csv_fields import (
    parse_customer_id,
    parse_invoice_date,
    parse_quantity,
    parse_text,
    parse_unit_price,
)
from retail_backend.importer.csv_header import match_header
from retail_backend.importer.csv_rows import CsvRows
from retail_backend.importer.import_report import (
    MAX_REFUSED_KEPT,
    CsvImportError,
    ImportReport,
    RefusedLine,
    format_report,
)

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
HEADER_II = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"
GOOD = "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/10 8:26,2.55,17850,United Kingdom"
INT_MAX = 2**31 - 1


def read(text: str) -> tuple[list[tuple], ImportReport]:
    """Parse a whole CSV text as the importer does; return the rows and the report."""
    report = ImportReport(path="test.csv")
    rows = list(CsvRows(io.StringIO(text, newline="")).rows(report))
    return rows, report


def refusals(report: ImportReport) -> list[tuple[int, str]]:
    return [(r.line_number, r.reason) for r in report.refused]


# --- InvoiceDate ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12/1/2010 8:26", dt.datetime(2010, 12, 1, 8, 26)),
        ("12/1/10 8:26", dt.datetime(2010, 12, 1, 8, 26)),
        ("12/01/2010 08:26", dt.datetime(2010, 12, 1, 8, 26)),
        ("1/12/2011 17:05", dt.datetime(2011, 1, 12, 17, 5)),  # month first, always
        ("12/1/2010 8:26:59", dt.datetime(2010, 12, 1, 8, 26, 59)),
        ("12/1/2010 8:26:00 AM", dt.datetime(2010, 12, 1, 8, 26)),
        ("12/1/2010 12:05 AM", dt.datetime(2010, 12, 1, 0, 5)),
        ("12/1/2010 12:05 PM", dt.datetime(2010, 12, 1, 12, 5)),
        ("12/1/2010 1:05pm", dt.datetime(2010, 12, 1, 13, 5)),
        ("12/1/2010", dt.datetime(2010, 12, 1)),
        ("2/29/2012 10:00", dt.datetime(2012, 2, 29, 10, 0)),
        ("2010-12-01 08:26:00", dt.datetime(2010, 12, 1, 8, 26)),
        ("2010-12-01T08:26:00", dt.datetime(2010, 12, 1, 8, 26)),
        ("2010-12-01T08:26", dt.datetime(2010, 12, 1, 8, 26)),
        ("2010-12-01 08:26", dt.datetime(2010, 12, 1, 8, 26)),
        ("2010-12-01", dt.datetime(2010, 12, 1)),
        ("2010-12-01 08:26:00.5", dt.datetime(2010, 12, 1, 8, 26, 0, 500_000)),
    ],
)
def test_invoice_date_parses_us_month_day_and_iso_forms(text, expected):
    assert parse_invoice_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "13/1/2010 8:26",  # no 13th month: day/month order is not guessed
        "2/30/2011 10:00",
        "2/29/2011 10:00",
        "12/1/2010 24:00",
        "12/1/2010 8:60",
        "12/1/2010 13:05 PM",
        "12/1/2010 0:05 AM",
        "2010-13-01",
        "2010-12-01T08:26:00+01:00",  # a zone would be silently dropped
        "2010-12-01 8:26",
        "12/1/2010 8",
        "1/12/210 8:26",
        " 12/1/2010 8:26",
        "12/1/2010 8:26 ",
        "12/1/2010  8:26",
        "\u0661\u0662/1/2010 8:26",  # Arabic-Indic digits
        "yesterday",
        "",
    ],
)
def test_invoice_date_refuses_what_is_not_a_date(text):
    with pytest.raises(ValueError, match="is not a date"):
        parse_invoice_date(text)


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)))
def test_invoice_date_reads_back_every_minute_in_every_form(when):
    when = when.replace(second=0, microsecond=0)
    us_long = f"{when.month}/{when.day}/{when.year} {when.hour}:{when.minute:02d}"
    us_short = f"{when.month}/{when.day}/{when.year % 100:02d} {when.hour}:{when.minute:02d}"
    for text in (us_long, us_short, f"{when:%m/%d/%Y %H:%M}", when.isoformat(sep=" ")):
        assert parse_invoice_date(text) == when, text
    assert parse_invoice_date(when.isoformat()) == when


# --- Quantity, UnitPrice, CustomerID, text -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6", 6),
        ("-12", -12),
        ("+3", 3),
        ("0", 0),
        ("007", 7),
        ("80995", 80995),
        (str(INT_MAX), INT_MAX),
        (str(-INT_MAX - 1), -INT_MAX - 1),
    ],
)
def test_quantity_parses_integers(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1.5", "is not an integer"),
        ("", "is not an integer"),
        ("abc", "is not an integer"),
        ("6.0", "is not an integer"),
        ("1e3", "is not an integer"),
        ("1_000", "is not an integer"),  # Python's int() would take it
        (" 6", "is not an integer"),
        ("6 ", "is not an integer"),
        ("\u0663", "is not an integer"),  # an Arabic-Indic 3, which int() would take too
        ("--6", "is not an integer"),
        (str(INT_MAX + 1), "is out of range"),
        (str(-INT_MAX - 2), "is out of range"),
        ("9" * 5000, "is out of range"),
    ],
)
def test_quantity_refuses_non_integers_and_values_postgresql_cannot_hold(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_quantity(text)


@given(st.integers(min_value=-(2**31), max_value=INT_MAX))
def test_quantity_reads_back_every_postgresql_integer(value):
    assert parse_quantity(str(value)) == value


@pytest.mark.parametrize(
    "text", ["2.55", "18", "0", "0.00", "-11062.06", "+1.0", ".5", "-.5", "5.", "0.001"]
)
def test_unit_price_keeps_the_exact_text_of_a_decimal(text):
    assert parse_unit_price(text) == text


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1,5", "NaN", "nan", "inf", "-Infinity", "1e3", " 2.55", "2.55 ", "1_000.5"]
    + [".", "-", "1.2.3", "\u00b2", "$2.55", "1" * 1001],
)
def test_unit_price_refuses_what_is_not_a_plain_decimal(text):
    with pytest.raises(ValueError):
        parse_unit_price(text)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=3))
def test_unit_price_accepts_every_fixed_point_decimal_and_keeps_its_value(value):
    text = f"{value:f}"
    assert Decimal(parse_unit_price(text)) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [("17850", 17850), ("17850.0", 17850), ("17850.00", 17850), ("", None), ("0", 0)],
)
def test_customer_id_takes_integers_written_plain_or_with_a_zero_fraction(text, expected):
    assert parse_customer_id(text) == expected


@pytest.mark.parametrize(
    "text", ["17850.5", "17850.", "abc", "1.785e4", " 17850", "NaN", "99999999999", "17850.0.0"]
)
def test_customer_id_refuses_other_non_integers(text):
    with pytest.raises(ValueError):
        parse_customer_id(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", None), ("WHITE METAL LANTERN", "WHITE METAL LANTERN"), (" TRAILING  ", " TRAILING  ")],
)
def test_text_is_kept_as_written_and_empty_means_null(text, expected):
    assert parse_text(text) == expected


def test_text_with_a_nul_character_is_refused():
    with pytest.raises(ValueError, match="NUL"):
        parse_text("A\x00B")


# --- header --------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [HEADER, HEADER_II])
def test_header_of_either_export_layout_matches(header):
    layout = match_header(header.split(","))
    assert layout.positions == tuple(range(8))
    assert layout.width == 8
    assert layout.names == tuple(header.split(","))


def test_header_names_match_ignoring_case_spacing_bom_and_order():
    header = ["\ufeff country ", "PRICE", "customer id", "invoicedate", " Quantity", "stockcode"]
    header += ["DESCRIPTION\t", "invoice"]
    layout = match_header(header)
    assert layout.positions == (7, 5, 6, 4, 3, 1, 2, 0)
    assert layout.names[0] == "invoice" and layout.names[7] == "country"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HEADER.replace(",Quantity", ""), "missing column(s) Quantity;"),
        (
            "StockCode,Description,Quantity,InvoiceDate,Price,CustomerID",
            "missing column(s) InvoiceNo or Invoice, Country;",
        ),
        (HEADER + ",Discount", "unknown column(s) 'Discount';"),
        (HEADER.replace("UnitPrice", "Amount"), "missing column(s) UnitPrice or Price; unknown"),
        (HEADER + ",Price", "repeated column(s) Price"),
        (HEADER + ",", "unknown column(s) ''"),
        (HEADER.replace(",", ";"), "does not seem to be separated by commas"),
    ],
)
def test_header_with_missing_unknown_or_repeated_columns_is_refused_naming_them(header, message):
    with pytest.raises(CsvImportError) as caught:
        match_header(next(csv.reader([header])))
    assert message in str(caught.value)
    assert "expected InvoiceNo, StockCode" in str(caught.value)


@pytest.mark.parametrize("text", ["", "\n\n", "\r\n"])
def test_empty_file_is_refused_as_a_whole(text):
    with pytest.raises(CsvImportError, match="empty"):
        read(text)


def test_header_only_file_has_no_rows_and_is_no_error():
    rows, report = read(HEADER + "\r\n")
    assert rows == [] and (report.lines_read, report.lines_refused) == (0, 0)


# --- records -------------------------------------------------------------------------------


def test_a_line_becomes_a_row_with_its_values_as_written():
    rows, report = read(f"{HEADER}\n{GOOD}\n")
    assert rows == [
        (
            "536365",
            "85123A",
            "WHITE HANGING HEART T-LIGHT HOLDER",
            6,
            dt.datetime(2010, 12, 1, 8, 26),
            "2.55",
            17850,
            "United Kingdom",
        )
    ]
    assert (report.lines_read, report.lines_refused) == (1, 0)


def test_lines_no_business_rule_would_keep_are_parsed_all_the_same():
    lines = [
        "C536379,D,Discount,-1,12/1/10 9:41,27.5,14527,United Kingdom",  # a cancellation
        "536414,22139,,56,12/1/10 11:52,0,,United Kingdom",  # no description, price or customer
        "A563185,B,Adjust bad debt,1,8/12/11 14:50,-11062.06,,United Kingdom",
        ",,,0,12/1/10 11:52,0,,",  # no invoice, stock code or country: the ETL rejects it later
    ]
    rows, report = read("\n".join([HEADER, *lines]))
    assert report.lines_refused == 0
    assert [row[0] for row in rows] == ["C536379", "536414", "A563185", None]
    assert rows[1][2] is None and rows[1][5] == "0" and rows[1][6] is None
    assert rows[2][5] == "-11062.06"
    assert rows[3] == (None, None, None, 0, dt.datetime(2010, 12, 1, 11, 52), "0", None, None)


def test_bad_lines_are_refused_with_physical_line_numbers_and_reasons():
    lines = [
        HEADER,
        GOOD,  # 2
        GOOD.replace(",6,", ",abc,"),  # 3
        "",  # 4: blank, skipped
        GOOD.replace("12/1/10 8:26", "13/45/2010 8:26"),  # 5
        '536365,85123A,"A QUOTED, MULTI-LINE\nDESCRIPTION",6,12/1/10 8:26,2.55,17850,UK',  # 6-7
        GOOD.replace(",6,", ","),  # 8: 7 fields
        GOOD.replace(",2.55,", ",1,5,"),  # 9: 9 fields
        GOOD.replace(",2.55,", ",,"),  # 10
        GOOD.replace(",17850,", ",17850.5,"),  # 11
        '536365,85123A,"TWO\nLINES",6,12/1/10 8:26,2.55,17850',  # 12-13: 7 fields
        GOOD.replace(",6,", ",1.5,"),  # 14
        GOOD,  # 15
    ]
    rows, report = read("\r\n".join(lines))
    assert refusals(report) == [
        (3, "Quantity 'abc' is not an integer"),
        (5, "InvoiceDate '13/45/2010 8:26' is not a date"),
        (8, "expected 8 fields, found 7"),
        (9, "expected 8 fields, found 9"),
        (10, "UnitPrice is empty"),
        (11, "CustomerID '17850.5' is not an integer"),
        (12, "expected 8 fields, found 7 (the record spans lines 12-13)"),
        (14, "Quantity '1.5' is not an integer"),
    ]
    assert [row[2] for row in rows] == [
        "WHITE HANGING HEART T-LIGHT HOLDER",
        "A QUOTED, MULTI-LINE\nDESCRIPTION",
        "WHITE HANGING HEART T-LIGHT HOLDER",
    ]
    assert (report.lines_read, report.lines_refused) == (11, 8)


def test_reasons_use_the_files_own_column_names():
    bad = GOOD.replace(",2.55,", ",abc,").replace(",17850,", ",x,")
    _, report = read(f"{HEADER_II}\n{bad}")
    assert refusals(report) == [(2, "Price 'abc' is not a decimal number")]


def test_a_value_refused_once_is_refused_every_time():
    bad = GOOD.replace(",6,", ",six,")
    rows, report = read("\n".join([HEADER, bad, GOOD, bad]))
    assert len(rows) == 1
    assert [r.line_number for r in report.refused] == [2, 4]


def test_long_refused_values_are_cut_short_in_the_reason():
    _, report = read(f"{HEADER}\n" + GOOD.replace(",6,", f",{'x' * 500},"))
    assert len(report.refused[0].reason) < 80


def test_only_the_first_refused_lines_are_kept_but_all_are_counted():
    bad = GOOD.replace(",6,", ",?,")
    _, report = read("\n".join([HEADER] + [bad] * (MAX_REFUSED_KEPT + 5)))
    assert report.lines_refused == MAX_REFUSED_KEPT + 5
    assert len(report.refused) == MAX_REFUSED_KEPT
    assert report.refused[-1].line_number == MAX_REFUSED_KEPT + 1


def test_header_in_another_column_order_reads_each_field_from_its_place():
    header = "Country,Price,Customer ID,InvoiceDate,Quantity,StockCode,Description,Invoice"
    rows, _ = read(f"{header}\nFrance,0.42,12583,12/1/2010 08:45,24,22544,MINI JIGSAW,536370")
    assert rows == [
        ("536370", "22544", "MINI JIGSAW", 24, dt.datetime(2010, 12, 1, 8, 45), "0.42")
        + (12583, "France")
    ]


text_field = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)


@given(st.lists(st.tuples(text_field, text_field, text_field, text_field), max_size=8))
def test_text_fields_read_back_exactly_whatever_their_commas_quotes_and_newlines(values):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(HEADER.split(","))
    for invoice, stock, description, country in values:
        writer.writerow([invoice, stock, description, "1", "12/1/10 8:26", "1", "", country])
    rows, report = read(buffer.getvalue())
    assert report.lines_refused == 0
    expected = [tuple(v or None for v in texts) for texts in values]
    assert [(r[0], r[1], r[2], r[7]) for r in rows] == expected


# --- report --------------------------------------------------------------------------------


def test_report_text_lists_the_first_twenty_refused_lines_then_counts_the_rest():
    report = ImportReport(path="sales.csv", lines_read=125, lines_loaded=100, lines_refused=25)
    report.refused = [RefusedLine(n, "expected 8 fields, found 7") for n in range(2, 27)]
    lines = format_report(report).splitlines()
    assert lines[0] == "Imported 100 lines from sales.csv; refused 25."
    assert lines[1] == "line 2: expected 8 fields, found 7"
    assert lines[20] == "line 21: expected 8 fields, found 7"
    assert lines[21:] == ["... and 5 more"]


def test_report_text_without_refusals_is_one_line():
    report = ImportReport(path="sales.csv", lines_read=3, lines_loaded=3)
    assert format_report(report) == "Imported 3 lines from sales.csv; refused 0."

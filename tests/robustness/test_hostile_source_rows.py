"""Source lines built to break the transform: each is loaded or rejected for its reason.

Every hostile kind is one case: its lines are mixed with the known sample lines, picked up by an
incremental run and then by a full run. Both runs must succeed, account for every line
(extracted = loaded + rejected), give each hostile line the reason the README's rules give it,
and hold exactly the figures plain SQL computes over the source.
"""

from __future__ import annotations

import pytest

from retail_backend.etl import pipeline
from tests.api.sample import insert_lines, sample_lines
from tests.integration.expected import source_figures, warehouse_checksum, warehouse_figures

pytestmark = pytest.mark.campaign("hostile_source_rows")

GRAINS = ("product", "day", "month", "country")
DESCRIPTION_LENGTH = 255  # the width of products.description (mysql-init/01-schema.sql)

# A normal sale on a day the sample lines also use; each hostile line changes some of it.
BASE = {
    "invoice_no": "560001",
    "stock_code": "HOSTILE-1",
    "description": "A HOSTILE LINE",
    "quantity": 3,
    "invoice_date": "2011-02-14 15:00:00",
    "unit_price": "1.25",
    "customer_id": 17000,
    "country": "United Kingdom",
}
RETURN = {"invoice_no": "C560002"}

NULL_REASONS = {  # every column of online_sales that allows NULL, one line each
    "invoice_no": "missing_invoice",
    "stock_code": "missing_stock_code",
    "description": None,
    "quantity": "missing_quantity",
    "invoice_date": "missing_date",
    "unit_price": "missing_price",
    "customer_id": None,
    "country": "missing_country",
}

# kind -> [(changes to BASE, the expected reject reason or None when the line is loaded)]
HOSTILE: dict[str, list[tuple[dict, str | None]]] = {
    "null_in_each_column": [({column: None}, reason) for column, reason in NULL_REASONS.items()],
    "int32_quantities": [
        ({"quantity": 2**31 - 1}, "quantity_out_of_range"),
        ({"quantity": -(2**31)}, "quantity_out_of_range"),
        ({**RETURN, "quantity": -(2**31)}, "quantity_out_of_range"),
        ({"quantity": 1_000_001}, "quantity_out_of_range"),
        ({"quantity": 1_000_000}, None),
        ({**RETURN, "quantity": -1_000_000}, None),
    ],
    "price_decimals": [
        ({"unit_price": "1.2345"}, "invalid_price"),
        ({"unit_price": "0.0001"}, "invalid_price"),
        ({"unit_price": "3.14159265358979323846264338327950288"}, "invalid_price"),
        ({"unit_price": "1.2340000000"}, None),
        ({"unit_price": "0.001"}, None),
    ],
    "huge_prices": [
        ({"unit_price": "1000000.000"}, None),
        ({"unit_price": "1000000.001"}, "price_out_of_range"),
        ({"unit_price": "999999999999.999"}, "price_out_of_range"),
        ({"unit_price": "1" + "0" * 20}, "price_out_of_range"),  # beyond int64 thousandths
        ({**RETURN, "quantity": -1, "unit_price": "-" + "9" * 30}, "price_out_of_range"),
        ({"unit_price": "NaN"}, "invalid_price"),
        ({"unit_price": "Infinity"}, "invalid_price"),
        ({"unit_price": "-Infinity"}, "invalid_price"),
        ({"unit_price": "-0.5"}, "negative_price"),
    ],
    "far_dates": [
        ({"invoice_date": "0001-01-01 00:00:00"}, "date_out_of_range"),
        ({"invoice_date": "1900-01-01 12:00:00"}, "date_out_of_range"),
        ({"invoice_date": "1989-12-31 23:59:59.999999"}, "date_out_of_range"),
        ({"invoice_date": "1990-01-01 00:00:00"}, None),
        ({"invoice_date": "2099-12-31 23:59:59.999999"}, None),
        ({"invoice_date": "2100-01-01 00:00:00"}, "date_out_of_range"),
        ({"invoice_date": "2200-06-30 08:00:00"}, "date_out_of_range"),
        ({"invoice_date": "9999-12-31 23:59:59.999999"}, "date_out_of_range"),
        ({"invoice_date": "10000-01-01 00:00:00"}, "invalid_date"),
        ({"invoice_date": "0044-03-15 12:00:00 BC"}, "invalid_date"),
        ({"invoice_date": "infinity"}, "invalid_date"),
        ({"invoice_date": "-infinity"}, "invalid_date"),
    ],
    "unicode_text": [
        ({"stock_code": "🎁-GIFT", "description": "🎁 GIFT BOX 🎄"}, None),
        ({"stock_code": "e\u0301TOILE", "description": "COMBINING ACUTE"}, None),
        ({"stock_code": "\u00e9TOILE", "description": "PRECOMPOSED ACUTE"}, None),
        ({"stock_code": "\u05e9\u05dc\u05d5\u05dd\u200f-1", "country": "\u0645\u0635\u0631"}, None),
        ({"stock_code": "👨\u200d👩\u200d👧", "country": "🇫🇷", "description": "\u202eRTL"}, None),
        ({"country": "C\u00f4te d\u2019Ivoire", "description": "Z\u0351\u0352\u0353ALGO"}, None),
    ],
    "control_chars": [
        ({"stock_code": "AB\x01C", "description": "ONE\x01TWO"}, None),
        ({"stock_code": "A\tB", "description": "TAB\tHERE"}, None),
        ({"stock_code": "A\nB", "description": "LINE1\nLINE2\r\n"}, None),
        ({"stock_code": "A\rB", "country": "Fr\x01ance"}, None),
        ({"stock_code": "\x7fDEL\x1b[31m", "country": "Ger\tmany"}, None),
    ],
    "blank_text": [
        ({"stock_code": "   "}, "missing_stock_code"),
        ({"country": "  "}, "missing_country"),
        ({"invoice_no": ""}, "missing_invoice"),
        # Only spaces make a value blank (as btrim does); other characters are data.
        ({"stock_code": "\t"}, None),
        ({"country": "\u3000"}, None),
        ({"stock_code": "BLANK-DESC", "description": "   "}, None),
    ],
    "long_text": [
        ({"stock_code": "S" * 10_000}, "text_too_long"),
        ({"country": "C" * 10_000}, "text_too_long"),
        ({"invoice_no": "9" * 10_000}, "text_too_long"),
        ({"stock_code": "L" * 65}, "text_too_long"),
        ({"stock_code": "🎁" * 65}, "text_too_long"),
        ({"stock_code": "🎁" * 64}, None),  # 256 bytes: the widest key the warehouse holds
        ({"stock_code": "WIDE-COUNTRY", "country": "\U0001f30d" * 64}, None),
        ({"stock_code": "LONG-DESC", "description": "D" * 10_000}, None),
        ({"stock_code": "LONG-EMOJI-DESC", "description": "😀" * 10_000}, None),
    ],
    "case_and_space_twins": [
        ({"stock_code": "TWIN-A"}, None),
        ({"stock_code": "TWIN-a"}, None),
        ({"stock_code": "TWIN-A "}, None),
        ({"stock_code": " TWIN-A"}, None),
        ({"stock_code": "TWIN-A\u00a0"}, None),
        ({"stock_code": "TWIN-A", "country": "France "}, None),
        ({"stock_code": "TWIN-A", "country": "france"}, None),
        ({"stock_code": "TWIN-A", "country": "FRANCE"}, None),
    ],
}


def insert_hostile(source_db, lines: list[dict]) -> list[int]:
    """Insert lines given as text where PostgreSQL parses it; return their ids, in order."""
    ids = []
    with source_db.connect() as conn:
        for line in lines:
            ids.append(
                conn.execute(
                    "INSERT INTO online_sales (invoice_no, stock_code, description, quantity, "
                    "invoice_date, unit_price, customer_id, country) VALUES "
                    "(%(invoice_no)s, %(stock_code)s, %(description)s, %(quantity)s, "
                    "%(invoice_date)s::timestamp, %(unit_price)s::numeric, %(customer_id)s, "
                    "%(country)s) RETURNING id",
                    line,
                ).fetchone()[0]
            )
    return ids


def differing_keys(source_db, warehouse_db) -> dict[str, list]:
    """Return, per grain, the keys whose figures differ between warehouse and source."""
    differing = {}
    for grain in GRAINS:
        expected = source_figures(source_db, grain)
        actual = warehouse_figures(warehouse_db, grain)
        keys = expected.keys() | actual.keys()
        wrong = sorted((k for k in keys if actual.get(k) != expected.get(k)), key=repr)
        if wrong:
            differing[grain] = [(k, actual.get(k), expected.get(k)) for k in wrong]
    return differing


def reject_reasons(warehouse_db, run_id: int) -> dict[int, str]:
    """Return {source id: reason} of the lines the run rejected."""
    conn = warehouse_db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT source_id, reason FROM etl_rejects WHERE run_id = %s", (run_id,))
            return dict(cur.fetchall())
    finally:
        conn.close()


def stored_descriptions(warehouse_db) -> dict[str, str]:
    """Return {stock code: description} as the warehouse holds them."""
    conn = warehouse_db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT CONVERT(stock_code USING utf8mb4), description FROM products")
            return dict(cur.fetchall())
    finally:
        conn.close()


def run_mistakes(record: dict, reasons: dict, ids: list[int], expected: list) -> list[str]:
    """List what a run got wrong: accounting and the reason of each hostile line."""
    mistakes = []
    if record["status"] != "succeeded":
        mistakes.append(f"run {record['id']} {record['status']}: {record['error_message']}")
    if record["rows_extracted"] != record["rows_loaded"] + record["rows_rejected"]:
        mistakes.append(f"run {record['id']}: extracted != loaded + rejected")
    if record["rows_rejected"] != len(reasons):
        mistakes.append(f"run {record['id']}: {len(reasons)} reject rows, counted differently")
    for source_id, reason in zip(ids, expected, strict=True):
        if reasons.get(source_id) != reason:
            mistakes.append(f"line {source_id}: {reasons.get(source_id)} instead of {reason}")
    return mistakes


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_lines_are_loaded_or_rejected_with_their_reason_and_totals_reconcile(
    kind, settings, source_db, warehouse_db, campaign
):
    changes, expected = zip(*HOSTILE[kind], strict=True)
    lines = [{**BASE, **change} for change in changes]
    campaign.cases(len(lines))
    insert_lines(source_db, sample_lines())
    assert pipeline.run(settings, mode="full")["status"] == "succeeded"
    ids = insert_hostile(source_db, lines)

    mistakes = []
    checksums = []
    for mode in ("incremental", "full"):
        record = pipeline.run(settings, mode=mode)
        mistakes += run_mistakes(record, reject_reasons(warehouse_db, record["id"]), ids, expected)
        for grain, wrong in differing_keys(source_db, warehouse_db).items():
            mistakes += [f"{mode} {grain} {key!r}: {got} != {want}" for key, got, want in wrong]
        checksums.append(warehouse_checksum(warehouse_db))
    descriptions = stored_descriptions(warehouse_db)
    for line, reason in zip(lines, expected, strict=True):
        text = line["description"]
        if reason is None and text and text.strip(" ") and line["stock_code"] in descriptions:
            if descriptions[line["stock_code"]] != text[:DESCRIPTION_LENGTH]:
                mistakes.append(f"description of {line['stock_code'][:20]!r} not stored exactly")

    campaign.data_lost(len(mistakes))
    assert not mistakes, mistakes[:5]
    assert checksums[0] == checksums[1], "the full run changed what the incremental run loaded"


def test_largest_valid_line_among_ten_thousand_loads_exactly(
    settings, source_db, warehouse_db, campaign
):
    # 10,000 ordinary lines and one at both limits (1,000,000 units at 1,000,000.000) in one
    # chunk: the sums stay far inside int64, so the run must not refuse the chunk.
    with source_db.connect() as conn:
        conn.execute(
            "INSERT INTO online_sales (invoice_no, stock_code, description, quantity, "
            "invoice_date, unit_price, customer_id, country) "
            "SELECT (570000 + n / 5)::text, 'BULK-' || n % 97, 'BULK LINE', 1 + n % 12, "
            "timestamp '2011-05-02 09:00' + n * interval '1 minute', 0.5 + (n % 40) * 0.125, "
            "NULL, 'United Kingdom' FROM generate_series(1, 10000) AS n"
        )
    largest = {**BASE, "quantity": 1_000_000, "unit_price": "1000000.000"}
    insert_hostile(source_db, [largest])
    record = pipeline.run(settings, mode="full")
    differing = differing_keys(source_db, warehouse_db)
    campaign.data_lost(sum(map(len, differing.values())))
    assert record["status"] == "succeeded", record["error_message"]
    assert (record["rows_extracted"], record["rows_loaded"]) == (10_001, 10_001)
    assert not differing

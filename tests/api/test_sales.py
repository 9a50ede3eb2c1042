"""GET /sales: figures equal to plain SQL over the source, every grouping, filter, sort and page."""

from __future__ import annotations

import csv
import io
import re
import threading
import time
import unicodedata
from decimal import Decimal

import pytest

from retail_backend.etl import pipeline
from tests.api.expected import (
    MEASURE_NAMES,
    expected_descriptions,
    expected_rows,
    expected_totals,
)
from tests.api.sample import UNICODE_COUNTRY, insert_lines

KEY_FIELD = {"product": "product_id", "day": "date", "month": "month", "country": "country"}
MONEY = re.compile(r"^\d+\.\d{2}$")


def all_rows(client, **params) -> list[dict]:
    """Fetch every row of a query (the sample has well under 1000 per grouping)."""
    answer = client.get("/sales", query_string={**params, "limit": 1000})
    assert answer.status_code == 200, answer.json
    assert answer.json["meta"]["total_rows"] == len(answer.json["data"])
    return answer.json["data"]


def collation_key(text: str) -> str:
    """Approximate utf8mb4_unicode_ci: case and accents do not matter."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def figures(row: dict) -> dict:
    return {name: row[name] for name in MEASURE_NAMES}


def test_default_is_one_row_per_product_sorted_by_revenue_then_product_id(
    client, loaded, source_db
):
    answer = client.get("/sales")
    assert answer.status_code == 200
    body = answer.json
    expected = expected_rows(source_db, "product")
    descriptions = expected_descriptions(source_db)
    assert body["meta"]["total_rows"] == len(expected)
    assert len(body["data"]) == min(100, len(expected))
    order = sorted(expected, key=lambda code: (-expected[code]["_revenue"], code.encode()))
    assert [row["product_id"] for row in body["data"]] == order[:100]
    for row in body["data"]:
        want = expected[row["product_id"]]
        assert figures(row) == {k: v for k, v in want.items() if k != "_revenue"}
        assert row["description"] == descriptions.get(row["product_id"], "")


def test_rows_keep_the_first_versions_field_names_and_exact_stock_codes(client, loaded):
    rows = {row["product_id"]: row for row in all_rows(client)}
    # case, digits and non-ASCII kept exactly; both twins present; codes are strings
    assert {"85123A", "85123a", "22423", "ÄÖ-1"} <= rows.keys()
    row = rows["22423"]
    assert list(row) == [
        "product_id",
        "description",
        "total_quantity",
        "total_sale_amount",
        "orders",
        "returned_quantity",
        "returned_amount",
    ]
    assert isinstance(row["total_quantity"], int) and MONEY.match(row["total_sale_amount"])
    assert rows["85123A"]["description"] != rows["85123a"]["description"]


def test_money_is_rounded_half_up_to_two_decimals(client, loaded):
    rows = {row["product_id"]: row for row in all_rows(client)}
    assert rows["HALF"]["total_sale_amount"] == "2.35"  # 1 x 2.345
    assert rows["RET-ONLY"]["total_sale_amount"] == "0.00"
    assert rows["RET-ONLY"]["returned_amount"] == "8.00"
    assert rows["RET-ONLY"]["returned_quantity"] == 2


@pytest.mark.parametrize("group_by", ["product", "day", "month", "country"])
@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"from": "2011-02-01", "to": "2011-02-28"},
        {"country": "United Kingdom"},
        {"country": UNICODE_COUNTRY},
        {"product": "85123A", "from": "2011-01-15"},
    ],
    ids=["all", "february", "uk", "unicode-country", "one-product"],
)
def test_groupings_and_filters_match_the_source(client, loaded, source_db, group_by, filters):
    rows = all_rows(client, group_by=group_by, **filters)
    expected = expected_rows(source_db, group_by, filters)
    assert {row[KEY_FIELD[group_by]]: figures(row) for row in rows} == {
        key: {k: v for k, v in want.items() if k != "_revenue"} for key, want in expected.items()
    }
    answer = client.get("/sales", query_string={"group_by": group_by, **filters, "limit": 1})
    meta = answer.json["meta"]
    assert meta["totals"] == expected_totals(source_db, filters)
    assert meta["total_rows"] == len(expected)
    assert meta["filters"] == {
        "from": None,
        "to": None,
        "country": None,
        "product": None,
        **filters,
    }
    assert meta["group_by"] == group_by


def test_totals_count_each_order_once_across_products(client, loaded, source_db):
    meta = client.get("/sales").json["meta"]
    per_product_orders = sum(row["orders"] for row in all_rows(client))
    assert meta["totals"]["orders"] == expected_totals(source_db)["orders"]
    assert meta["totals"]["orders"] < per_product_orders  # invoices hold several products


def test_dates_and_months_are_sorted_ascending_by_default(client, loaded):
    days = [row["date"] for row in all_rows(client, group_by="day")]
    assert days == sorted(days) and days[0] >= "2011-01-03"
    months = [row["month"] for row in all_rows(client, group_by="month")]
    assert months == ["2011-01", "2011-02", "2011-03"]


@pytest.mark.parametrize(
    "group_by, sort",
    [
        ("product", "total_sale_amount"),
        ("product", "-total_quantity"),
        ("product", "orders"),
        ("product", "-product_id"),
        ("product", "description"),
        ("product", "-returned_amount"),
        ("country", "-orders"),
        ("country", "country"),
        ("day", "-date"),
        ("day", "-total_sale_amount"),
        ("month", "-returned_quantity"),
    ],
)
def test_sorted_pages_never_skip_or_repeat_a_row(client, loaded, group_by, sort):
    everything = all_rows(client, group_by=group_by, sort=sort)
    key = KEY_FIELD[group_by]
    paged: list[dict] = []
    for offset in range(0, len(everything) + 7, 7):
        page = client.get(
            "/sales",
            query_string={"group_by": group_by, "sort": sort, "limit": 7, "offset": offset},
        )
        assert page.json["meta"]["offset"] == offset and page.json["meta"]["sort"] == sort
        paged += page.json["data"]
    assert paged == everything
    assert len({row[key] for row in paged}) == len(paged)
    field = sort.lstrip("-")

    def value(row):
        raw = row[field]
        if field == "description":  # a text column: the warehouse's collation, not code points
            return collation_key(raw)
        return Decimal(raw) if field.endswith("amount") else raw

    descending = sort.startswith("-")
    for before, after in zip(everything, everything[1:], strict=False):
        if value(before) == value(after):
            tie_key = lambda row: row[key].encode() if isinstance(row[key], str) else row[key]  # noqa: E731
            assert tie_key(before) < tie_key(after), "ties must fall back on the group key"
        else:
            assert (value(before) > value(after)) == descending


def test_tied_products_are_ordered_by_product_id(client, loaded):
    rows = all_rows(client, sort="-total_sale_amount")
    tied = [row["product_id"] for row in rows if row["product_id"].startswith("TIE-")]
    assert tied == ["TIE-A", "TIE-B", "TIE-C"]


def test_empty_warehouse_is_200_with_no_rows(client):
    answer = client.get("/sales")
    assert answer.status_code == 200
    body = answer.json
    assert body["data"] == []
    assert body["meta"]["total_rows"] == 0
    assert body["meta"]["last_refreshed"] is None and body["meta"]["last_run_id"] is None
    assert body["meta"]["totals"] == {
        "total_quantity": 0,
        "total_sale_amount": "0.00",
        "orders": 0,
        "returned_quantity": 0,
        "returned_amount": "0.00",
    }


def test_meta_says_when_the_data_was_last_refreshed(client, loaded):
    meta = client.get("/sales").json["meta"]
    assert meta["last_run_id"] == loaded["id"]
    finished = loaded["finished_at"]
    assert meta["last_refreshed"].startswith(finished.strftime("%Y-%m-%dT%H:%M:%S"))
    assert meta["last_refreshed"].endswith("Z")


@pytest.mark.parametrize(
    "how", [{"query_string": {"format": "csv"}}, {"headers": {"Accept": "text/csv"}}]
)
def test_csv_download_has_the_same_rows_as_json(client, loaded, how):
    params = {"group_by": "country", "sort": "country"}
    answer = client.get(
        "/sales",
        query_string={**params, **how.get("query_string", {})},
        headers=how.get("headers"),
    )
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="sales-by-country.csv"'
    table = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    as_json = all_rows(client, **params)[:100]
    assert table == [{k: str(v) for k, v in row.items()} for row in as_json]


def test_csv_of_an_empty_warehouse_is_just_the_header(client):
    answer = client.get("/sales?format=csv&group_by=day")
    assert answer.get_data(as_text=True) == (
        "date,total_quantity,total_sale_amount,orders,returned_quantity,returned_amount\r\n"
    )


def test_unknown_query_parameters_are_ignored(client, loaded):
    assert client.get("/sales?_=1732526400&utm_source=x").status_code == 200


def test_unchanged_warehouse_answers_304_to_its_etag(client, loaded):
    first = client.get("/sales?group_by=month")
    assert first.headers["Cache-Control"] == "no-cache"
    etag = first.headers["ETag"]
    again = client.get("/sales?group_by=month", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag
    assert client.get("/sales?group_by=month", headers={"If-None-Match": "*"}).status_code == 304
    weak = client.get("/sales?group_by=month", headers={"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304  # If-None-Match compares weakly
    other_query = client.get("/sales?group_by=day", headers={"If-None-Match": etag})
    assert other_query.status_code == 200
    as_csv = client.get("/sales?group_by=month&format=csv", headers={"If-None-Match": etag})
    assert as_csv.status_code == 200  # another representation, another tag


def test_a_new_successful_run_changes_the_figures_and_the_etag(client, loaded, settings, source_db):
    before = client.get("/sales?product=22423")
    etag = before.headers["ETag"]
    sold = before.json["meta"]["totals"]["total_quantity"]
    line = (
        "560000",
        "22423",
        "REGENCY CAKESTAND 3 TIER",
        5,
        "2011-03-30 10:00",
        "12.75",
        1,
        "EIRE",
    )
    insert_lines(source_db, [line])
    assert pipeline.run(settings)["status"] == "succeeded"
    deadline = time.monotonic() + 5  # the last run is looked up at most once a second
    while True:
        after = client.get("/sales?product=22423", headers={"If-None-Match": etag})
        if after.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert after.status_code == 200
    assert after.headers["ETag"] != etag
    assert after.json["meta"]["totals"]["total_quantity"] == sold + 5
    assert after.json["meta"]["last_run_id"] == loaded["id"] + 1


def test_a_repeated_query_is_served_from_the_cache(app, client, loaded, warehouse_db):
    first = client.get("/sales?group_by=country").json
    # Change the warehouse behind the API's back (no run): the cached page is still served,
    # which proves the second answer did not query the facts again.
    conn = warehouse_db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE daily_country_sales SET units_sold = units_sold + 1000")
    finally:
        conn.close()
    assert client.get("/sales?group_by=country").json == first
    assert len(app.extensions["retail"].sales_cache) == 1


def test_answers_during_a_load_are_the_old_or_the_new_figures_never_a_mix(
    seeded_app, seeded_settings, seeded_source_db
):
    client = seeded_app.test_client()
    assert pipeline.run(seeded_settings, mode="full")["status"] == "succeeded"

    def snapshot(limit: int, reader=client) -> tuple:
        # A new limit each time: a new query, so each answer is read from the warehouse.
        body = reader.get(f"/sales?group_by=month&limit={limit}").json
        rows, meta = body["data"], body["meta"]
        summed = sum(Decimal(row["total_sale_amount"]) for row in rows)
        assert Decimal(meta["totals"]["total_sale_amount"]) == summed  # one snapshot
        assert sum(row["total_quantity"] for row in rows) == meta["totals"]["total_quantity"]
        return meta["last_run_id"], meta["totals"]["total_sale_amount"], meta["total_rows"]

    before = snapshot(1000)
    with seeded_source_db.connect(autocommit=True) as conn:
        conn.execute("SELECT generate_online_sales(60000, '2012-01-09', 60, 5)")
    run = client.post("/run-etl").json
    seen: list[tuple] = []
    finished = threading.Event()

    failures: list[BaseException] = []

    def reader(limits: range) -> None:
        reader_client = seeded_app.test_client()
        try:
            for limit in limits:
                seen.append(snapshot(limit, reader_client))
                if finished.is_set():
                    return
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    readers = [threading.Thread(target=reader, args=(range(999 - i, 0, -3),)) for i in range(3)]
    for thread in readers:
        thread.start()
    while client.get(f"/etl-runs/{run['id']}").json["status"] in ("queued", "running"):
        time.sleep(0.05)
    finished.set()
    for thread in readers:
        thread.join(30)
    after = snapshot(1000)
    assert after[0] == run["id"] and after != before
    assert not failures, failures
    assert len(seen) > 10 and set(seen) <= {before, after}

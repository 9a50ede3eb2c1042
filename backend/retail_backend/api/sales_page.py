"""A /sales answer built once from a snapshot, kept rendered so the cache can serve it as is."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

from ..queries.sales import SalesSnapshot
from ..queries.sales_model import FIELDS, MEASURES, SalesQuery
from .serialize import money, utc_time

CSV_BATCH = 200  # rows per chunk of a streamed CSV


@dataclass(frozen=True)
class SalesPage:
    """The rows and the rendered JSON body of one query for one last successful run."""

    run_id: int | None
    group_by: str
    rows: list[dict]
    body: bytes
    total_rows: int = 0

    @property
    def size(self) -> int:
        """Roughly the memory the page holds (the cache's byte budget counts it twice)."""
        return 2 * len(self.body)


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return value or ""


def _measures(values: tuple) -> dict:
    quantity, amount, orders, returned, returned_amount = values
    return {
        "total_quantity": int(quantity),
        "total_sale_amount": money(amount),
        "orders": int(orders),
        "returned_quantity": int(returned),
        "returned_amount": money(returned_amount),
    }


def row_json(group_by: str, row: tuple) -> dict:
    """Turn one SQL row into the contract's row object."""
    if group_by == "product":
        key = {"product_id": _text(row[0]), "description": _text(row[1])}
        return {**key, **_measures(row[2:])}
    if group_by == "day":
        return {"date": row[0].isoformat(), **_measures(row[1:])}
    return {group_by: _text(row[0]), **_measures(row[1:])}


def build_page(query: SalesQuery, snapshot: SalesSnapshot) -> SalesPage:
    """Render the answer to ``query`` from one snapshot of the warehouse."""
    rows = [row_json(query.group_by, row) for row in snapshot.rows]
    meta = {
        "group_by": query.group_by,
        "filters": query.filters(),
        "sort": query.sort,
        "limit": query.limit,
        "offset": query.offset,
        "total_rows": snapshot.total_rows,
        "totals": dict(zip(MEASURES, _measures(snapshot.totals).values(), strict=True)),
        "last_refreshed": utc_time(snapshot.last_run.finished_at),
        "last_run_id": snapshot.last_run.run_id,
    }
    body = json.dumps({"data": rows, "meta": meta}, ensure_ascii=False, separators=(",", ":"))
    return SalesPage(
        snapshot.last_run.run_id, query.group_by, rows, body.encode("utf-8"), snapshot.total_rows
    )


def csv_chunks(page: SalesPage) -> Iterator[bytes]:
    """Yield the page as CSV (a header line, then the rows), a batch of rows at a time."""
    fields = FIELDS[page.group_by]
    for start in range(0, max(len(page.rows), 1), CSV_BATCH):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        if start == 0:
            writer.writerow(fields)
        for row in page.rows[start : start + CSV_BATCH]:
            writer.writerow([row[f] for f in fields])
        yield out.getvalue().encode("utf-8")

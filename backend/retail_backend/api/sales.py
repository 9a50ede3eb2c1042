"""``GET /sales``: aggregated sales as JSON or CSV, cached per last successful run.

The ETag is a hash of (last successful run id, normalized query, format), so a client that
sends it back in If-None-Match gets a 304 until a run changes the figures, without any query
beyond the once-a-second probe for the last run.
"""

from __future__ import annotations

import functools
import hashlib

from flask import Blueprint, Response, request

from ..connections import last_successful_run, warehouse
from ..extensions import retail
from ..queries.runs import LastRun
from ..queries.sales import read_sales
from ..queries.sales_model import SalesQuery
from . import auth
from .links import page_links
from .sales_page import SalesPage, build_page, csv_chunks
from .sales_query import parse_format, parse_sales_query

bp = Blueprint("sales", __name__)
bp.before_request(auth.require_read_token)


@functools.lru_cache(maxsize=4096)
def _etag(run_id: int | None, query: SalesQuery, fmt: str) -> str:
    digest = hashlib.blake2b(f"{run_id}|{query!r}|{fmt}".encode(), digest_size=12)
    return digest.hexdigest()


def _parsed() -> tuple[SalesQuery, str]:
    """Parse the query and the wanted format; the answer for the same raw request is kept."""
    key = (request.query_string, request.environ.get("HTTP_ACCEPT", ""))
    memo = retail().parsed_queries
    parsed = memo.get(key)
    if parsed is None:  # a bad request raises here, and is never kept
        query = parse_sales_query(request.args)
        parsed = (query, parse_format(request.args, request.accept_mimetypes))
        memo.put(key, parsed)
    return parsed  # type: ignore[return-value]


def _headers(etag: str) -> dict[str, str]:
    return {"ETag": f'"{etag}"', "Cache-Control": "no-cache", "Vary": "Accept"}


def _page(query: SalesQuery, last_run: LastRun) -> SalesPage:
    state = retail()
    page = state.sales_cache.get(last_run.run_id, query)
    if page is None:
        snapshot = read_sales(warehouse(), query)
        page = build_page(query, snapshot)
        state.sales_cache.put(page.run_id, query, page)
        state.last_run.remember(snapshot.last_run)
    return page


@bp.get("/sales")
def sales() -> Response:
    """Answer one page of aggregated sales, with totals over every matching row."""
    query, fmt = _parsed()
    last_run = last_successful_run()
    etag = _etag(last_run.run_id, query, fmt)
    if request.if_none_match.contains_weak(etag):  # "*" matches too
        return Response(status=304, headers=_headers(etag))
    page = _page(query, last_run)
    # The page may come from a newer snapshot than the probe saw: tag what is sent.
    headers = _headers(_etag(page.run_id, query, fmt))
    headers["Link"] = page_links(query.limit, query.offset, page.total_rows)
    if fmt == "csv":
        headers["Content-Disposition"] = f'attachment; filename="sales-by-{query.group_by}.csv"'
        return Response(csv_chunks(page), mimetype="text/csv", headers=headers)
    return Response(page.body, mimetype="application/json", headers=headers)

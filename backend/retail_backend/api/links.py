"""RFC 8288 ``Link`` headers of the paged lists (``/sales``, ``/etl-runs``).

``first``, ``prev``, ``next`` and ``last`` are the same request with another ``offset``: every
other parameter is kept as the client sent it, and the path carries the prefix the request came
under (X-Forwarded-Prefix), so the links are right behind nginx's ``/api`` too.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import request


def page_links(limit: int, offset: int, total: int) -> str:
    """Return the Link header value for the page at ``offset`` of ``total`` rows."""
    last = max((total - 1) // limit * limit, 0)
    pages = {"first": 0}
    if offset > 0:
        pages["prev"] = max(min(offset - limit, last), 0)
    if offset + limit < total:
        pages["next"] = offset + limit
    pages["last"] = last
    kept = [(k, v) for k, v in request.args.items(multi=True) if k != "offset"]
    path = request.script_root + request.path
    return ", ".join(
        f'<{path}?{urlencode([*kept, ("offset", str(at))])}>; rel="{rel}"'
        for rel, at in pages.items()
    )

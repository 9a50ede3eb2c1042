"""Proxy trust and the headers every response carries.

Behind nginx the app trusts exactly one hop of ``X-Forwarded-*`` (ProxyFix), including
``X-Forwarded-Prefix``, so every URL it builds (``Location``) is right under ``/api/`` too.
No CORS headers are sent: the dashboard calls the API server-side, and browsers of other
origins must not read it.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

from .extensions import retail


def standard_headers(instance_name: str) -> Callable[[Response], Response]:
    """Return the hook that names the replica, forbids sniffing and keeps answers uncached."""

    def add_standard_headers(response: Response) -> Response:
        headers = response.headers
        headers["X-Served-By"] = instance_name
        headers["X-Content-Type-Options"] = "nosniff"
        if "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"
        return response

    return add_standard_headers


def init_app(app: Flask) -> None:
    """Trust one proxy hop and add the standard headers to every response."""
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)
    app.after_request(standard_headers(retail(app).settings.instance_name))

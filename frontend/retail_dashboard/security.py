"""Browser-facing safety: security headers, the origin of form posts, the proxy in front."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def add_security_headers(response: Response) -> Response:
    """Set the security headers (after every request, error pages included)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def refuse_foreign_origin() -> None:
    """Refuse a POST that the browser says comes from another site, even with a valid token.

    A stolen CSRF token must not let another site start runs. Host names alone are compared:
    nginx passes ``Host`` without the port. A client that sends neither Origin nor Referer
    (curl, scripts) still needs the token.
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source is not None and urlsplit(source).hostname != urlsplit(f"//{request.host}").hostname:
        raise CSRFError("The request came from another site.")


def init_app(app: Flask, proxy_hops: int) -> None:
    """Install the headers and the origin check, and trust ``proxy_hops`` proxies' headers."""
    app.after_request(add_security_headers)
    app.before_request(refuse_foreign_origin)
    if proxy_hops:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=proxy_hops,
            x_proto=proxy_hops,
            x_host=proxy_hops,
            x_prefix=proxy_hops,
        )

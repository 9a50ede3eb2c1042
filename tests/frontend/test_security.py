"""Security headers on every response, no secrets or inline code in pages, the proxy setup."""

from __future__ import annotations

import re

import pytest
import responses

from retail_dashboard import create_app, page_data

from .conftest import BACKEND, READ_TOKEN, RUN_TOKEN, csrf_token, serve_dashboard
from .fake_backend import error_body, run_object, sales_body

EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'"
)


def full_backend(backend) -> None:
    """A backend that answers every route the dashboard uses."""
    serve_dashboard(backend, sales_body([]), runs=[run_object(7, "failed", error="oops")])
    backend.add(responses.GET, f"{BACKEND}/etl-runs/7", json=run_object(7))
    backend.add(
        responses.GET,
        f"{BACKEND}/etl-runs/7/rejects",
        json={"data": [], "meta": {"limit": 50, "offset": 0, "total_rows": 0}},
    )
    backend.add(
        responses.POST,
        f"{BACKEND}/run-etl",
        status=409,
        json=error_body("run_in_progress", "busy", run_id=7, location="/etl-runs/7"),
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/health"),
        ("GET", "/static/dashboard.css"),
        ("GET", "/static/dashboard.js"),
        ("GET", "/static/vendor/chart.js"),
        ("GET", "/runs/7.json"),
        ("GET", "/runs/7/rejects"),
        ("GET", "/sales.csv"),
        ("GET", "/no-such-page"),
        ("POST", "/runs"),  # no CSRF token: 400
        ("DELETE", "/health"),  # 405
    ],
)
def test_every_response_has_the_security_headers(client, backend, method, path):
    full_backend(backend)

    with client.open(path, method=method) as response:
        headers = response.headers

    assert headers["Content-Security-Policy"] == EXPECTED_CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"


def test_tokens_never_reach_the_browser(settings, backend):
    client = create_app({**settings, "API_READ_TOKEN": READ_TOKEN}).test_client()
    full_backend(backend)
    token = csrf_token(client)
    answers = [
        client.get("/"),
        client.get("/?run=7"),
        client.get("/runs/7.json"),
        client.get("/runs/7/rejects"),
        client.get("/sales.csv"),
        client.post("/runs", data={"mode": "full", "csrf_token": token}),
        client.post(
            "/runs",
            data={"mode": "full", "csrf_token": token},
            headers={"Accept": "application/json"},
        ),
        client.post("/runs", data={"mode": "full"}),
    ]

    sent = [c.request.headers.get("Authorization") for c in backend.calls]
    assert f"Bearer {RUN_TOKEN}" in sent and f"Bearer {READ_TOKEN}" in sent
    for answer in answers:
        exposed = answer.get_data(as_text=True) + str(answer.headers)
        assert RUN_TOKEN not in exposed and READ_TOKEN not in exposed


def test_the_run_token_is_only_sent_to_start_runs(client, backend):
    full_backend(backend)
    client.get("/")
    client.post("/runs", data={"mode": "full", "csrf_token": csrf_token(client)})

    for call in backend.calls:
        is_run = call.request.method == "POST"
        assert (call.request.headers.get("Authorization") == f"Bearer {RUN_TOKEN}") is is_run


def test_pages_have_no_inline_script_or_style(client, backend):
    full_backend(backend)

    for path in ("/", "/runs/7/rejects", "/no-such-page"):
        page = client.get(path).get_data(as_text=True)
        for tag in re.findall(r"<script\b[^>]*>", page):
            assert 'src="/' in tag or 'type="application/json"' in tag, tag
        assert not re.search(r"\sstyle\s*=", page)
        assert "<style" not in page
        assert not re.search(r"\son[a-z]+\s*=", page)  # no onclick= and the like
        for url in re.findall(r'(?:src|href)="([^"]*)"', page):
            assert not url.startswith(("//", "http:", "https:")), url  # no CDN, nothing external


def test_session_cookie_is_http_only_and_same_site(client, backend):
    full_backend(backend)

    cookie = client.get("/").headers["Set-Cookie"]

    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookie_when_configured(settings, backend):
    full_backend(backend)
    client = create_app({**settings, "SESSION_COOKIE_SECURE": "true"}).test_client()

    assert "Secure" in client.get("/").headers["Set-Cookie"]


def test_behind_nginx_links_keep_the_forwarded_prefix(client, backend):
    full_backend(backend)

    page = client.get(
        "/",
        headers={
            "X-Forwarded-Prefix": "/dashboard",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "shop.example",
            "X-Forwarded-For": "203.0.113.9",
        },
    ).get_data(as_text=True)

    assert 'href="/dashboard/static/dashboard.css"' in page
    assert 'action="/dashboard/runs"' in page
    assert 'data-status-url="/dashboard/runs/0.json"' in page


def test_only_one_proxy_hop_is_trusted(app):
    seen = {}

    @app.get("/_peer")
    def peer():
        from flask import request

        seen["addr"] = request.remote_addr
        return "ok"

    app.test_client().get(
        "/_peer",
        headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.7"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )

    assert seen["addr"] == "198.51.100.7"  # what nginx saw, not what the client claimed


def test_proxy_fix_can_be_turned_off(settings):
    app = create_app({**settings, "PROXY_FIX_HOPS": "0"})
    page = app.test_client().get("/no-such-page", headers={"X-Forwarded-Prefix": "/evil"})

    assert "/evil" not in page.get_data(as_text=True)


def test_unexpected_error_is_500_without_details(client, backend, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(page_data, "load_dashboard", explode)
    monkeypatch.setattr("retail_dashboard.dashboard.load_dashboard", explode)

    response = client.get("/")
    page = response.get_data(as_text=True)

    assert response.status_code == 500
    assert "Something went wrong" in page
    assert "secret internal detail" not in page and "Traceback" not in page
    assert response.headers["Content-Security-Policy"] == EXPECTED_CSP
    assert any(
        r.exc_info and "secret internal detail" in str(r.exc_info[1]) for r in caplog.records
    )


def test_unknown_json_route_answers_json(client):
    response = client.get("/runs/abc.json", headers={"Accept": "application/json"})

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"

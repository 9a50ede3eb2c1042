"""Browser-side defences of both apps: CSRF on the dashboard, security headers, and no CORS.

The dashboard runs against a fake backend at the HTTP boundary, so the calls it makes (or must
not make) are recorded; the backend runs on throwaway databases. Expected values are written
here, not read from the apps.
"""

from __future__ import annotations

import pytest
import responses
from flask import Flask

from retail_dashboard import create_app as create_dashboard
from retail_dashboard import page_data
from tests.frontend.conftest import BACKEND, STUB_CHARTJS_DIR, csrf_token, serve_dashboard
from tests.frontend.fake_backend import run_object, sales_body
from tests.robustness.security_tokens import READ_TOKEN, RUN_TOKEN

EVIL = "https://evil.example"


# --- the dashboard: CSRF -------------------------------------------------------------------


@pytest.fixture
def dashboard_settings() -> dict[str, object]:
    return {
        "SECRET_KEY": "sec-dashboard-secret",
        "BACKEND_URL": BACKEND,
        "API_TOKEN": RUN_TOKEN,
        "API_READ_TOKEN": READ_TOKEN,
        "BACKEND_TIMEOUT": "2",
        "CHARTJS_DIR": str(STUB_CHARTJS_DIR),
    }


@pytest.fixture
def dashboard(dashboard_settings) -> Flask:
    return create_dashboard(dashboard_settings)


@pytest.fixture
def fake_backend():
    """The backend as the dashboard sees it: every route answered, every call recorded."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        serve_dashboard(mock, sales_body([]), runs=[run_object(7)])
        mock.add(responses.GET, f"{BACKEND}/etl-runs/7", json=run_object(7))
        mock.add(
            responses.GET,
            f"{BACKEND}/etl-runs/7/rejects",
            json={"data": [], "meta": {"limit": 50, "offset": 0, "total_rows": 0}},
        )
        mock.add(responses.POST, f"{BACKEND}/run-etl", status=202, json=run_object(8, "queued"))
        yield mock


def run_posts(fake_backend) -> int:
    return sum(call.request.method == "POST" for call in fake_backend.calls)


def forged_posts(dashboard: Flask) -> dict[str, tuple]:
    """Ways to post /runs that must be refused: (client, form data, headers)."""
    victim, attacker = dashboard.test_client(), dashboard.test_client()
    token, attackers_token = csrf_token(victim), csrf_token(attacker)
    form = {"mode": "full"}
    return {
        "no-token": (victim, form, {}),
        "empty-token": (victim, {**form, "csrf_token": ""}, {}),
        "garbage-token": (victim, {**form, "csrf_token": "x" * 40}, {}),
        "token-of-another-session": (victim, {**form, "csrf_token": attackers_token}, {}),
        "token-without-a-session": (dashboard.test_client(), {**form, "csrf_token": token}, {}),
        "foreign-origin": (victim, {**form, "csrf_token": token}, {"Origin": EVIL}),
        "null-origin": (victim, {**form, "csrf_token": token}, {"Origin": "null"}),
        "foreign-referer": (victim, {**form, "csrf_token": token}, {"Referer": f"{EVIL}/x"}),
        "foreign-origin-json": (
            victim,
            {**form, "csrf_token": token},
            {"Origin": EVIL, "Accept": "application/json"},
        ),
    }


@pytest.mark.campaign("security")
def test_the_dashboard_refuses_forged_run_posts_and_never_calls_the_backend(
    dashboard, fake_backend, campaign
):
    forged = forged_posts(dashboard)
    accepted = []
    for name, (client, form, headers) in forged.items():
        answer = client.post("/runs", data=form, headers=headers)
        if answer.status_code != 400 or run_posts(fake_backend):
            accepted.append((name, answer.status_code, run_posts(fake_backend)))
    campaign.cases(len(forged))
    assert accepted == []

    # The same post from the dashboard's own page does start a run: the refusals above were
    # about the forgery, not a broken form.
    victim, token = forged["foreign-origin"][0], forged["foreign-origin"][1]["csrf_token"]
    own = victim.post(
        "/runs",
        data={"mode": "full", "csrf_token": token},
        headers={"Origin": "http://localhost", "Referer": "http://localhost/"},
    )
    assert own.status_code == 303 and run_posts(fake_backend) == 1


# --- security headers and CORS on every route ----------------------------------------------

DASHBOARD_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def every_route(app: Flask, ids: dict[str, str]) -> list[tuple[str, str]]:
    """(method, url) of every rule of ``app``, its variables filled from ``ids``."""
    adapter = app.url_map.bind("localhost")
    return [
        (method, adapter.build(rule.endpoint, {name: ids[name] for name in rule.arguments}))
        for rule in app.url_map.iter_rules()
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


def dashboard_requests(dashboard: Flask) -> list[tuple[str, str, dict]]:
    """Every route, and the error answers: 404, 405, 413, and a CSRF refusal."""
    routes = every_route(dashboard, {"run_id": "7", "filename": "dashboard.css"})
    return [(m, u, {}) for m, u in routes] + [
        ("GET", "/no-such-page", {}),
        ("GET", "/runs/abc.json", {"headers": {"Accept": "application/json"}}),
        ("DELETE", "/health", {}),
        ("POST", "/runs", {"data": {"mode": "full", "pad": "x" * 70_000}}),
    ]


def no_cors(headers) -> bool:
    return not [name for name in headers.keys() if name.lower().startswith("access-control-")]


@pytest.mark.campaign("security")
def test_every_dashboard_answer_has_the_security_headers_and_no_cors(
    dashboard, fake_backend, campaign, monkeypatch
):
    client, missing = dashboard.test_client(), []
    requests = dashboard_requests(dashboard)
    statuses = set()
    for method, url, extra in requests:
        for origin in (None, EVIL):
            headers = {**extra.get("headers", {}), **({"Origin": origin} if origin else {})}
            with client.open(url, method=method, data=extra.get("data"), headers=headers) as got:
                statuses.add(got.status_code)
                wrong = {k: got.headers.get(k) for k, v in DASHBOARD_HEADERS.items()}
                wrong = {k: v for k, v in wrong.items() if v != DASHBOARD_HEADERS[k]}
                if wrong or not no_cors(got.headers):
                    missing.append((method, url, got.status_code, wrong, dict(got.headers)))
        preflight = client.options(
            url, headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
        )
        if not no_cors(preflight.headers):
            missing.append(("OPTIONS", url, preflight.status_code, dict(preflight.headers)))

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("retail_dashboard.dashboard.load_dashboard", explode)
    monkeypatch.setattr(page_data, "load_dashboard", explode)
    failed = client.get("/")
    statuses.add(failed.status_code)
    if any(failed.headers.get(k) != v for k, v in DASHBOARD_HEADERS.items()):
        missing.append(("GET", "/ (500)", failed.status_code, dict(failed.headers)))
    campaign.cases(3 * len(requests) + 1)
    assert missing == []
    assert {200, 400, 404, 405, 413, 500} <= statuses, statuses


BACKEND_ALWAYS = ("X-Content-Type-Options", "X-Served-By", "X-Request-ID", "Cache-Control")


def backend_requests(app: Flask) -> list[tuple[str, str, dict]]:
    routes = every_route(app, {"run_id": "1", "filename": "x.txt"})
    return [(m, u, {}) for m, u in routes if m == "GET"] + [
        ("POST", "/run-etl?mode=bogus", {}),  # 400, before any run starts
        ("GET", "/no-such-route", {}),
        ("DELETE", "/sales", {}),
        ("POST", "/run-etl", {"data": "x" * 70_000}),
        ("GET", "/etl-runs/999", {}),
    ]


@pytest.mark.campaign("security")
def test_every_backend_answer_has_the_standard_headers_and_no_cors(
    app, loaded, warehouse_db, campaign
):
    client, missing, statuses = app.test_client(), [], set()
    requests = backend_requests(app)
    for method, url, extra in requests:
        for origin in (None, EVIL):
            headers = {"Origin": origin} if origin else {}
            got = client.open(url, method=method, data=extra.get("data"), headers=headers)
            statuses.add(got.status_code)
            absent = [name for name in BACKEND_ALWAYS if name not in got.headers]
            nosniff = got.headers.get("X-Content-Type-Options") == "nosniff"
            if absent or not nosniff or not no_cors(got.headers):
                missing.append((method, url, got.status_code, dict(got.headers)))
        preflight = client.options(
            url, headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
        )
        if not no_cors(preflight.headers):
            missing.append(("OPTIONS", url, dict(preflight.headers)))
    with warehouse_db.connect() as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE etl_rejects")  # a real internal error: 500
    failed = client.get(f"/etl-runs/{loaded['id']}/rejects")
    statuses.add(failed.status_code)
    if any(name not in failed.headers for name in BACKEND_ALWAYS):
        missing.append(("GET", "rejects (500)", dict(failed.headers)))
    campaign.cases(3 * len(requests) + 1)
    assert missing == []
    assert {200, 400, 404, 405, 413, 500} <= statuses, statuses

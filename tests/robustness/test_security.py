"""Hostile requests to both apps: tokens, CSRF, headers, CORS, leaks, SQL metacharacters.

The backend runs on throwaway databases (in-process, and under gunicorn where its whole log is
read); the dashboard runs against a fake backend at the HTTP boundary, so the calls it makes
(or must not make) are recorded. Expected values are written here, not read from the apps.
"""

from __future__ import annotations

import json
import re

import pytest
import responses
from flask import Flask

from retail_dashboard import create_app as create_dashboard
from retail_dashboard import page_data
from tests.api.conftest import build_app, close_app
from tests.api.netutil import free_port
from tests.api.servers import start_gunicorn
from tests.frontend.conftest import BACKEND, STUB_CHARTJS_DIR, csrf_token, serve_dashboard
from tests.frontend.fake_backend import run_object, sales_body

RUN_TOKEN = "sec-run-token-4f1e9a"
READ_TOKEN = "sec-read-token-b27c33"
PROTECTED = {  # (method, path) -> a token it accepts; a POST with ?mode=bogus never starts a run
    ("POST", "/run-etl?mode=bogus"): RUN_TOKEN,
    ("GET", "/sales"): READ_TOKEN,
    ("GET", "/etl-runs"): READ_TOKEN,
    ("GET", "/etl-runs/1"): READ_TOKEN,
    ("GET", "/etl-runs/1/rejects"): READ_TOKEN,
}
OPEN = ["/health", "/ready", "/metrics", "/openapi.json"]
EVIL = "https://evil.example"


def bad_authorizations(token: str) -> dict[str, str | None]:
    """Authorization values that must not pass for ``token`` (None: no header at all)."""
    return {
        "missing": None,
        "empty": "",
        "scheme-only": "Bearer",
        "scheme-and-space": "Bearer ",
        "wrong-token": "Bearer wrong",
        "token-without-scheme": token,
        "basic-scheme": f"Basic {token}",
        "token-scheme": f"Token {token}",
        "tab-instead-of-space": f"Bearer\t{token}",
        "upper-cased-token": f"Bearer {token.upper()}",
        "token-prefix": f"Bearer {token[:-1]}",
        "token-plus-a-character": f"Bearer {token}x",
        "space-inside-token": f"Bearer {token[:4]} {token[4:]}",
        "no-break-space-after": f"Bearer {token}\xa0",
        "unit-separator-after": f"Bearer {token}\x1f",
        "vertical-tab-after": f"Bearer {token}\x0b",
        "two-tokens": f"Bearer {token}, Bearer {token}",
    }


def good_authorizations(token: str) -> list[str]:
    """Spellings RFC 6750/7235 allow: the scheme in any case, one or more spaces before it."""
    return [f"Bearer {token}", f"bearer {token}", f"BEARER {token}", f"Bearer  {token}"]


@pytest.fixture
def guarded(settings):
    """The API with both tokens set, on an empty warehouse."""
    app = build_app(settings.replace(api_token=RUN_TOKEN, api_read_token=READ_TOKEN))
    yield app
    close_app(app)


def header(authorization: str | None) -> dict[str, str]:
    return {} if authorization is None else {"Authorization": authorization}


@pytest.mark.campaign("security")
@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_a_protected_operation_answers_401_to_every_token_but_the_right_one(
    guarded, campaign, method, path
):
    token = PROTECTED[(method, path)]
    client, wrong = guarded.test_client(), []
    bad = bad_authorizations(token)
    for name, authorization in bad.items():
        answer = client.open(path, method=method, headers=header(authorization))
        if not (
            answer.status_code == 401
            and answer.is_json
            and answer.json["error"]["code"] == "unauthorized"
            and answer.headers.get("WWW-Authenticate", "").startswith("Bearer")
            and token not in answer.get_data(as_text=True)
        ):
            wrong.append((name, answer.status_code, answer.get_data(as_text=True)[:200]))
    for authorization in good_authorizations(token):
        answer = client.open(path, method=method, headers=header(authorization))
        if answer.status_code == 401:
            wrong.append((authorization, 401, "the right token was refused"))
    campaign.cases(len(bad) + len(good_authorizations(token)))
    assert wrong == []


@pytest.mark.campaign("security")
@pytest.mark.parametrize("path", OPEN)
def test_health_ready_metrics_and_openapi_stay_open_whatever_the_token(guarded, campaign, path):
    client = guarded.test_client()
    variants = [None, "Bearer wrong", f"Bearer {RUN_TOKEN}", "Basic Zm9vOmJhcg=="]
    statuses = [client.get(path, headers=header(v)).status_code for v in variants]
    campaign.cases(len(variants))
    assert statuses == [200] * len(variants)


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


# --- no stack trace, password or token in any answer or log line ----------------------------

PG_PASSWORD = "pg-Secret-7d1f"
MYSQL_PASSWORD = "my-Secret-91ab"


@pytest.fixture
def warehouse_user(warehouse_db):
    """A MySQL user with a password, allowed on the throwaway warehouse only."""
    user = f"u{warehouse_db.name[-12:]}"
    with warehouse_db.connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{MYSQL_PASSWORD}'")
        cur.execute(f"GRANT ALL ON `{warehouse_db.name}`.* TO '{user}'@'%'")
    yield user
    with warehouse_db.connect() as conn, conn.cursor() as cur:
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")


def leaks(text: str, secrets: tuple[str, ...]) -> list[str]:
    return [secret for secret in secrets if secret in text]


@pytest.mark.campaign("security")
def test_gunicorn_answers_and_logs_hold_no_password_token_or_traceback(
    warehouse_db, warehouse_user, tmp_path, campaign
):
    dead = free_port()  # nothing listens: the source is down
    warehouse_url = f"mysql://{warehouse_user}:{MYSQL_PASSWORD}@127.0.0.1:3306/{warehouse_db.name}"
    env = {
        "SOURCE_DB_URL": f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{dead}/retail",
        "WAREHOUSE_DB_URL": warehouse_url,
        "API_TOKEN": RUN_TOKEN,
        "API_READ_TOKEN": READ_TOKEN,
        "DB_CONNECT_TIMEOUT": "1",
    }
    server = start_gunicorn(tmp_path, env)
    secrets = (PG_PASSWORD, MYSQL_PASSWORD, RUN_TOKEN, READ_TOKEN)
    read, run = {"Authorization": f"Bearer {READ_TOKEN}"}, {"Authorization": f"Bearer {RUN_TOKEN}"}
    try:
        answers = [
            server.request("/ready"),  # 503: the source is down
            server.request("/sales", headers={"Authorization": f"Bearer {READ_TOKEN}x"}),
            server.request("/run-etl", method="POST", headers={"Authorization": "Bearer nope"}),
        ]
        failed_run = server.request("/run-etl?wait=20&mode=full", method="POST", headers=run)
        answers.append(failed_run)
        assert failed_run.status == 200 and failed_run.json()["status"] == "failed"
        run_id = failed_run.json()["id"]
        answers += [server.request(f"/etl-runs/{run_id}", headers=read)]
        answers += [server.request("/etl-runs", headers=read)]
        with warehouse_db.connect() as conn, conn.cursor() as cur:
            cur.execute("DROP TABLE etl_rejects")  # an internal error: 500
        answers += [server.request(f"/etl-runs/{run_id}/rejects", headers=read)]
        answers += [server.request("/run-etl", method="POST", headers=run, data=b"{" * 70_000)]
    finally:
        assert server.stop() == 0
    statuses = [answer.status for answer in answers]
    assert statuses == [503, 401, 401, 200, 200, 200, 500, 413], statuses
    exposed = [
        (answer.status, leaks(answer.body.decode() + json.dumps(answer.headers), secrets))
        for answer in answers
    ]
    traces = [answer.status for answer in answers if b"Traceback" in answer.body]
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    campaign.cases(len(answers))
    assert [leaked for leaked in exposed if leaked[1]] == [] and traces == []
    assert "ProgrammingError" in log and "Traceback" in log  # the 500's cause is in the log
    assert leaks(log, secrets) == []


@pytest.mark.campaign("security")
def test_a_dead_warehouse_with_a_password_leaks_it_nowhere(settings, capsys, campaign):
    dead = free_port()
    url = f"mysql://root:{MYSQL_PASSWORD}@127.0.0.1:{dead}/retail_dw"
    app = build_app(settings.replace(warehouse_db_url=url, api_token=RUN_TOKEN))
    try:
        client = app.test_client()
        answers = [
            client.get("/sales"),
            client.get("/etl-runs"),
            client.get("/etl-runs/1"),
            client.get("/ready"),
            client.get("/metrics"),
            client.post("/run-etl", headers={"Authorization": f"Bearer {RUN_TOKEN}"}),
        ]
    finally:
        close_app(app)
    log = capsys.readouterr().out
    campaign.cases(len(answers))
    bodies = [a.get_data(as_text=True) + str(a.headers) for a in answers]
    assert [a.status_code for a in answers] == [503, 503, 503, 503, 200, 503]
    assert [b for b in bodies if leaks(b, (MYSQL_PASSWORD, RUN_TOKEN)) or "Traceback" in b] == []
    assert "Can't connect to MySQL" in log  # the cause is logged...
    assert leaks(log, (MYSQL_PASSWORD, RUN_TOKEN)) == []  # ...without the secrets


# --- SQL metacharacters in every parameter and header ---------------------------------------

HOSTILE = [
    "' OR 1=1 --",
    '"; DROP TABLE etl_runs; --',
    "\\",
    "%",
    "_",
    "\x00",
    "\u2019 OR \u20181\u2019=\u20181",
    "1e309",
    "x" * 5_000,
]
SALES_PARAMETERS = ["country", "product", "from", "to", "sort", "group_by", "limit", "offset"]
SALES_PARAMETERS += ["format"]
LITERAL = {"country", "product"}  # free text: a match or no row, never a 400 for the quote
HEADERS = ["X-Request-ID", "Accept", "If-None-Match", "X-Forwarded-Prefix"]
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # docs/api.md: only these are echoed


def warehouse_fingerprint(warehouse_db) -> dict[str, tuple]:
    """Every table's row count and checksum."""
    with warehouse_db.connect() as conn, conn.cursor() as cur:
        cur.execute("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")
        tables = sorted(row[0] for row in cur.fetchall())
        fingerprint = {}
        for table in tables:
            cur.execute(f"SELECT count(*) FROM `{table}`")
            count = cur.fetchone()[0]
            cur.execute(f"CHECKSUM TABLE `{table}`")
            fingerprint[table] = (count, cur.fetchone()[1])
    return fingerprint


def as_header(value: str) -> str:
    """The value as a client sends it: UTF-8 bytes, which WSGI reads as Latin-1; no NUL."""
    return value.replace("\x00", "").encode().decode("latin-1")


@pytest.mark.campaign("security")
def test_sql_metacharacters_in_reads_are_refused_or_taken_literally(
    app, loaded, warehouse_db, campaign
):
    client, before, wrong = app.test_client(), warehouse_fingerprint(warehouse_db), []
    cases = 0
    for name in SALES_PARAMETERS:
        for value in HOSTILE:
            cases += 1
            answer = client.get("/sales", query_string={name: value})
            literal_miss = answer.status_code == 200 and answer.json["meta"]["total_rows"] == 0
            refused = answer.status_code == 400 and answer.json["error"]["code"] == "bad_request"
            if not (refused or (name in LITERAL and (literal_miss or len(value) > 256))):
                wrong.append(("/sales", name, value[:30], answer.status_code))
    run_id = loaded["id"]
    for path, names in (
        ("/etl-runs", ["limit", "offset"]),
        (f"/etl-runs/{run_id}/rejects", ["limit", "offset", "reason"]),
    ):
        for name in names:
            for value in HOSTILE:
                cases += 1
                answer = client.get(path, query_string={name: value})
                if answer.status_code != 400:
                    wrong.append((path, name, value[:30], answer.status_code))
    for name in HEADERS:
        for value in HOSTILE:
            cases += 1
            answer = client.get("/sales", headers={name: as_header(value)})
            echoed = answer.headers.get("X-Request-ID") == as_header(value)
            if answer.status_code >= 500 or (echoed and not SAFE_REQUEST_ID.fullmatch(value)):
                wrong.append(("/sales", name, value[:30], answer.status_code))
    campaign.cases(cases)
    assert wrong == []
    assert client.get("/sales?country=United Kingdom").json["meta"]["total_rows"] > 0
    assert warehouse_fingerprint(warehouse_db) == before


@pytest.mark.campaign("security")
def test_sql_metacharacters_in_run_requests_are_refused_or_taken_literally(
    app, loaded, warehouse_db, campaign
):
    client, wrong = app.test_client(), []
    runs_before = client.get("/etl-runs").json["meta"]["total_rows"]
    for value in HOSTILE:
        answer = client.post("/run-etl", query_string={"mode": value})
        if answer.status_code != 400:
            wrong.append(("mode", value[:30], answer.status_code))
        answer = client.post("/run-etl", json={"mode": value})
        if answer.status_code != 400:
            wrong.append(("body mode", value[:30], answer.status_code))
    keyed: dict[str, int] = {}
    for value in HOSTILE:
        answer = client.post("/run-etl?wait=20", headers={"Idempotency-Key": as_header(value)})
        valid_key = value.isascii() and value.isprintable() and " " not in value
        valid_key = valid_key and 1 <= len(value) <= 128
        if valid_key and answer.status_code == 200:
            keyed[value] = answer.json["id"]
        elif valid_key or answer.status_code != 400:
            wrong.append(("Idempotency-Key", value[:30], answer.status_code))
    # Each key names its own run ('%' and '_' match nothing else) and a repeat finds it again.
    repeats = {
        value: client.post("/run-etl", headers={"Idempotency-Key": value}).json["id"]
        for value in keyed
    }
    campaign.cases(3 * len(HOSTILE) + len(repeats))
    assert wrong == []
    assert sorted(keyed) == ["%", "1e309", "\\", "_"]
    assert len(set(keyed.values())) == len(keyed) and repeats == keyed
    assert client.get("/etl-runs").json["meta"]["total_rows"] == runs_before + len(keyed)
    with warehouse_db.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM etl_runs WHERE id IN %s", (tuple(keyed.values()),))
        assert {row[0] for row in cur.fetchall()} == {"succeeded"}

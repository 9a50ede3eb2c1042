"""Hostile input to the backend API: Authorization values and SQL metacharacters.

Every protected operation answers 401 to every token but the right one, while health, readiness,
metrics and the document stay open; SQL metacharacters in every parameter and header are refused
or taken literally, and leave the warehouse as it was. The backend runs on throwaway databases;
expected values are written here, not read from the app.
"""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import build_app, close_app
from tests.robustness.security_tokens import READ_TOKEN, RUN_TOKEN

PROTECTED = {  # (method, path) -> a token it accepts; a POST with ?mode=bogus never starts a run
    ("POST", "/run-etl?mode=bogus"): RUN_TOKEN,
    ("GET", "/sales"): READ_TOKEN,
    ("GET", "/etl-runs"): READ_TOKEN,
    ("GET", "/etl-runs/1"): READ_TOKEN,
    ("GET", "/etl-runs/1/rejects"): READ_TOKEN,
}
OPEN = ["/health", "/ready", "/metrics", "/openapi.json"]


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

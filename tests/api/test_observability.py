"""Request ids, JSON logs, standard headers, proxy trust and the absence of CORS."""

from __future__ import annotations

import json
import logging

import pytest
from flask import jsonify, request

from tests.api.conftest import build_app, close_app

PATHS = ["/health", "/sales", "/sales?limit=0", "/nowhere", "/etl-runs/5", "/openapi.json"]


@pytest.mark.parametrize("path", PATHS)
def test_every_response_names_the_replica_and_forbids_sniffing(client, path):
    answer = client.get(path)
    assert answer.headers["X-Served-By"] == "api-test"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert len(answer.headers["X-Request-ID"]) >= 16


def test_an_incoming_request_id_is_kept_and_echoed(client):
    answer = client.get("/health", headers={"X-Request-ID": "req-42.abc:1"})
    assert answer.headers["X-Request-ID"] == "req-42.abc:1"


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "new\u00e9line", ""])
def test_a_malformed_request_id_is_replaced(client, bad):
    answer = client.get("/health", headers={"X-Request-ID": bad})
    assert answer.headers["X-Request-ID"] != bad
    assert len(answer.headers["X-Request-ID"]) == 32


def test_log_lines_are_json_on_stdout_with_the_request_id(settings, capsys):
    app = build_app(settings)  # built now, so its handler writes to the captured stdout

    def shout():
        logging.getLogger("retail_backend.test").warning("something to say")
        return jsonify({})

    app.add_url_rule("/shout", view_func=shout)
    app.test_client().get("/shout", headers={"X-Request-ID": "trace-me"})
    close_app(app)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    said = [line for line in lines if line["message"] == "something to say"]
    assert said == [
        {
            "time": said[0]["time"],
            "level": "WARNING",
            "logger": "retail_backend.test",
            "message": "something to say",
            "request_id": "trace-me",
        }
    ]


def test_no_cors_headers_for_any_origin(client):
    for answer in (
        client.get("/sales", headers={"Origin": "https://evil.example"}),
        client.options(
            "/sales",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        ),
    ):
        assert not [h for h in answer.headers.keys() if h.lower().startswith("access-control")]


def test_exactly_one_proxy_hop_is_trusted(app):
    def whoami():
        return jsonify(addr=request.remote_addr, scheme=request.scheme, root=request.script_root)

    app.add_url_rule("/whoami", view_func=whoami)
    answer = app.test_client().get(
        "/whoami",
        headers={
            "X-Forwarded-For": "203.0.113.9, 198.51.100.7",  # a client's forgery, then nginx's
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Prefix": "/api",
        },
    )
    assert answer.json == {"addr": "198.51.100.7", "scheme": "https", "root": "/api"}


def test_openapi_servers_follow_the_forwarded_prefix(client):
    assert client.get("/openapi.json").json["servers"] == [{"url": "/"}]
    behind = client.get("/openapi.json", headers={"X-Forwarded-Prefix": "/api"})
    assert behind.json["servers"] == [{"url": "/api"}]


def test_run_endpoints_and_errors_are_not_cached_but_sales_is_revalidated(client):
    assert client.get("/etl-runs").headers["Cache-Control"] == "no-store"
    assert client.get("/etl-runs/9").headers["Cache-Control"] == "no-store"
    assert client.get("/sales").headers["Cache-Control"] == "no-cache"
    assert client.get("/sales?limit=x").headers["Cache-Control"] == "no-store"

"""Stand-ins for the services behind nginx, and a client, run inside a test network namespace.

``python httpstub.py serve --listen ADDR:PORT --name NAME [--status CODE]`` answers every
request with JSON describing what it received (method, path, headers) and its own name, and
prints one line per request on stdout (``hit NAME METHOD PATH``), so a test can count where
requests went. The JSON also says how many requests its connection has carried (keep-alive
reuse). ``?pad=N`` adds N bytes of padding to the JSON (for gzip checks).

``python httpstub.py request URL SPEC_JSON`` waits until URL answers, then sends each request of
SPEC_JSON (a list of ``{"method", "path", "headers", "body_size"}``) to its host and prints a
JSON list of ``{"status", "headers", "body", "raw_length"}``.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class StubHandler(BaseHTTPRequestHandler):
    """Echo the request as JSON, with the configured status."""

    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn behind nginx's keepalive pool
    server_version = "stub"
    name = "stub"
    status = 200

    def setup(self) -> None:
        super().setup()
        self.requests_on_connection = 0  # one handler per connection: counts keep-alive reuse

    def _answer(self) -> None:
        self.requests_on_connection += 1
        length = int(self.headers.get("Content-Length") or 0)
        body_size = len(self.rfile.read(length)) if length else 0
        print(f"hit {self.name} {self.command} {self.path}", flush=True)
        query = parse_qs(urlsplit(self.path).query)
        payload = {
            "served_by": self.name,
            "method": self.command,
            "path": self.path,
            "request_version": self.request_version,
            "requests_on_connection": self.requests_on_connection,
            "headers": {key.lower(): value for key, value in self.headers.items()},
            "body_size": body_size,
            "padding": "x" * int(query.get("pad", ["0"])[0]),
        }
        data = json.dumps(payload).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the hit lines are the log."""


def serve(listen: str, name: str, status: int) -> None:
    """Serve on ``listen`` (ADDR:PORT) until killed."""
    host, port = listen.rsplit(":", 1)
    handler = type("Handler", (StubHandler,), {"name": name, "status": status})
    server = ThreadingHTTPServer((host, int(port)), handler)
    print(f"ready {name}", flush=True)
    server.serve_forever()


def wait_until_up(url: str, deadline: float) -> None:
    """Poll ``url`` until it answers 200, or raise when the deadline passes."""
    parts = urlsplit(url)
    while True:
        try:
            connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=2)
            connection.request("GET", parts.path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer in time")
        time.sleep(0.05)


def send_requests(url: str, spec: list[dict]) -> list[dict]:
    """Send each request of ``spec`` on a new connection and describe the answers."""
    parts = urlsplit(url)
    results = []
    for item in spec:
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
        body = b"y" * item.get("body_size", 0) if item.get("body_size") else None
        connection.request(
            item.get("method", "GET"), item["path"], body=body, headers=item.get("headers", {})
        )
        response = connection.getresponse()
        raw = response.read()
        headers = {key.lower(): value for key, value in response.getheaders()}
        text = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw
        results.append(
            {
                "status": response.status,
                "headers": headers,
                "body": text.decode("utf-8", "replace"),
                "raw_length": len(raw),
            }
        )
        connection.close()
    return results


def main(argv: list[str] | None = None) -> None:
    """Run the ``serve`` or ``request`` command."""
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve")
    serve_parser.add_argument("--listen", required=True)
    serve_parser.add_argument("--name", required=True)
    serve_parser.add_argument("--status", type=int, default=200)
    request_parser = commands.add_parser("request")
    request_parser.add_argument("url")
    request_parser.add_argument("spec")
    request_parser.add_argument("--wait", type=float, default=15.0)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.listen, args.name, args.status)
    else:
        wait_until_up(args.url, time.monotonic() + args.wait)
        json.dump(send_requests(args.url, json.loads(args.spec)), sys.stdout)


if __name__ == "__main__":
    main()

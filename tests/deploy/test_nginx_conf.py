"""nginx.conf, checked and run by the machine's nginx inside a private network namespace.

The namespace's /etc/hosts gives ``frontend`` and ``backend-api`` several loopback addresses
each, and dnsstub.py answers from it on 127.0.0.11 as Docker's DNS does for replicas;
stand-in services (httpstub.py) listen there. The
committed file runs as it is, with a private /tmp for its pid and temp paths.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.netns import NetNamespace, network_namespace, require_tool

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "nginx.conf"
STUB = Path(__file__).with_name("httpstub.py")

FRONTENDS = ("127.0.1.1", "127.0.1.2")
BACKENDS = ("127.0.2.1", "127.0.2.2", "127.0.2.3")
REPLICAS = {"frontend": FRONTENDS, "backend-api": BACKENDS, "nginx": ("127.0.0.1",)}


@dataclass
class Balancer:
    """nginx and its stand-in upstreams, running in one namespace."""

    namespace: NetNamespace
    nginx: str
    private_tmp: Path
    stubs: dict[str, subprocess.Popen]

    def requests(self, spec: Sequence[Mapping]) -> list[dict]:
        """Send ``spec`` to nginx from inside the namespace; return the answers."""
        result = self.namespace.run(
            [
                sys.executable,
                str(STUB),
                "request",
                "http://127.0.0.1/nginx-health",
                json.dumps(list(spec)),
            ],
            timeout=90,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def get(self, path: str, **item) -> dict:
        """Send one request; return the answer."""
        return self.requests([{"path": path, **item}])[0]

    def hits(self) -> Counter:
        """Stop everything and count the requests each stub received, by (name, method)."""
        self.namespace.stop_all()
        counts: Counter = Counter()
        for process in self.stubs.values():
            for line in self.namespace.printed(process)[0].splitlines():
                if line.startswith("hit "):
                    _, name, method, _path = line.split(" ", 3)
                    counts[name, method] += 1
        return counts


def nginx_test(namespace: NetNamespace, nginx: str, private_tmp: Path):
    """Run ``nginx -t`` on the committed nginx.conf in the namespace."""
    return namespace.run(
        [nginx, "-t", "-e", "stderr", "-c", str(NGINX_CONF)], private_tmp=private_tmp
    )


@pytest.fixture
def private_tmp(tmp_path: Path) -> Path:
    directory = tmp_path / "tmp"
    directory.mkdir()
    directory.chmod(0o1777)  # like /tmp: nginx's workers run as an unprivileged user
    return directory


@pytest.fixture
def nginx() -> str:
    return require_tool("nginx")


def start_balancer(
    namespace: NetNamespace, nginx: str, private_tmp: Path, statuses: Mapping[str, int]
) -> Balancer:
    """Start a stub on every address in ``statuses`` (name -> HTTP status), then nginx."""
    stubs = {}
    for address, status in statuses.items():
        port = 5000 if address in FRONTENDS else 5001
        process = namespace.start(
            [
                sys.executable,
                str(STUB),
                "serve",
                "--listen",
                f"{address}:{port}",
                "--name",
                address,
                "--status",
                str(status),
            ]
        )
        assert process.stdout.readline().startswith("ready"), process.stderr.read()
        stubs[address] = process
    namespace.start_docker_dns()
    namespace.start(
        [nginx, "-e", "stderr", "-c", str(NGINX_CONF), "-g", "daemon off;"],
        private_tmp=private_tmp,
    )
    return Balancer(namespace, nginx, private_tmp, stubs)


@pytest.fixture
def balancer(nginx: str, private_tmp: Path) -> Iterator[Balancer]:
    """nginx in front of two healthy frontends and three healthy backends."""
    with network_namespace(REPLICAS) as namespace:
        yield start_balancer(namespace, nginx, private_tmp, {a: 200 for a in FRONTENDS + BACKENDS})


def test_nginx_accepts_the_config_when_each_service_name_has_several_replicas(
    nginx: str, private_tmp: Path
):
    with network_namespace(REPLICAS) as namespace:
        result = nginx_test(namespace, nginx, private_tmp)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_starts_before_the_replicas_exist_and_serves_them_once_they_resolve(
    nginx: str, private_tmp: Path
):
    """Names are resolved per request: a missing service is a quick 502, not a dead nginx."""
    with network_namespace({"frontend": FRONTENDS}) as namespace:
        running = start_balancer(namespace, nginx, private_tmp, {a: 200 for a in BACKENDS})
        started = time.monotonic()
        unresolved = running.get("/api/sales")
        waited = time.monotonic() - started
        namespace.write_hosts(REPLICAS)
        deadline = time.monotonic() + 10
        answer = running.get("/api/sales")
        while answer["status"] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            answer = running.get("/api/sales")
    assert unresolved["status"] == 502 and waited < 3
    assert answer["status"] == 200
    assert json.loads(answer["body"])["served_by"] in BACKENDS


def test_nginx_health_is_answered_by_nginx_itself(balancer: Balancer):
    answer = balancer.get("/nginx-health")
    assert answer["status"] == 200
    assert json.loads(answer["body"]) == {"status": "ok"}
    assert answer["headers"]["content-type"] == "application/json"
    assert answer["headers"]["server"] == "nginx"  # server_tokens off: no version
    assert sum(balancer.hits().values()) == 0


def test_api_prefix_is_stripped_and_forwarded_headers_are_set(balancer: Balancer):
    answer = balancer.get(
        "/api/sales?group_by=day", headers={"Host": "shop.example", "X-Request-ID": "req-42"}
    )
    assert answer["status"] == 200
    seen = json.loads(answer["body"])
    assert seen["served_by"] in BACKENDS
    assert seen["path"] == "/sales?group_by=day"
    assert seen["request_version"] == "HTTP/1.1"
    headers = seen["headers"]
    assert headers["x-forwarded-prefix"] == "/api"
    assert headers["host"] == "shop.example"
    assert headers["x-forwarded-host"] == "shop.example"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-request-id"] == "req-42"


def test_dashboard_gets_the_root_path_without_the_api_prefix_header(balancer: Balancer):
    seen = json.loads(balancer.get("/reports?x=1", headers={"X-Request-ID": "req-7"})["body"])
    assert seen["served_by"] in FRONTENDS
    assert seen["path"] == "/reports?x=1"
    assert "x-forwarded-prefix" not in seen["headers"]
    assert seen["headers"]["x-request-id"] == "req-7"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"


def test_each_request_opens_its_own_connection_to_a_replica(balancer: Balancer):
    """The documented cost of resolving per request on nginx 1.22: no keepalive pool."""
    answers = balancer.requests([{"path": "/api/sales"}] * 12 + [{"path": "/"}] * 8)
    reuse = [json.loads(answer["body"])["requests_on_connection"] for answer in answers]
    assert reuse == [1] * 20


@pytest.mark.parametrize("incoming", [None, "x" * 200, "has space"])
def test_a_missing_or_unsafe_request_id_is_replaced_by_nginx_own(
    balancer: Balancer, incoming: str | None
):
    headers = {} if incoming is None else {"X-Request-ID": incoming}
    seen = json.loads(balancer.get("/api/sales", headers=headers)["body"])
    assert re.fullmatch(r"[0-9a-f]{32}", seen["headers"]["x-request-id"])


def test_requests_are_spread_over_every_replica(balancer: Balancer):
    # nginx picks a replica at random per request: 30 each miss one with odds of 1 in 60,000.
    spec = [{"path": "/api/sales"}] * 30 + [{"path": "/"}] * 30
    assert all(answer["status"] == 200 for answer in balancer.requests(spec))
    hits = balancer.hits()
    assert {name for name, _ in hits} == set(FRONTENDS + BACKENDS)


def test_large_json_is_gzipped_for_clients_that_accept_it(balancer: Balancer):
    answer = balancer.get("/api/sales?pad=20000", headers={"Accept-Encoding": "gzip"})
    assert answer["headers"].get("content-encoding") == "gzip"
    assert answer["raw_length"] < 5000 < len(answer["body"])


def test_a_body_over_one_megabyte_is_refused(balancer: Balancer):
    answer = balancer.get("/api/run-etl", method="POST", body_size=1024 * 1024 + 1)
    assert answer["status"] == 413
    assert sum(balancer.hits().values()) == 0


def test_a_redirect_adds_the_slash_to_the_bare_api_prefix(balancer: Balancer):
    answer = balancer.get("/api")
    assert answer["status"] == 308
    assert answer["headers"]["location"] == "/api/"  # relative: right behind any port


def test_a_dead_or_failing_replica_costs_no_failed_get_and_posts_are_not_retried(
    nginx: str, private_tmp: Path
):
    # 127.0.2.1 answers 503 (first, so the first POST goes there), 127.0.2.2 has nothing
    # listening (connection refused), 127.0.2.3 is healthy.
    statuses = {"127.0.2.1": 503, "127.0.2.3": 200, **{a: 200 for a in FRONTENDS}}
    with network_namespace(REPLICAS) as namespace:
        running = start_balancer(namespace, nginx, private_tmp, statuses)
        posts = running.requests([{"path": "/api/run-etl", "method": "POST"}] * 6)
        gets = running.requests([{"path": "/api/sales"}] * 12)
        hits = running.hits()
    assert [answer["status"] for answer in gets] == [200] * 12
    assert {json.loads(answer["body"])["served_by"] for answer in gets} == {"127.0.2.3"}
    # Each POST reached exactly one replica: one that answered 503 is passed on, not retried.
    assert hits["127.0.2.1", "POST"] + hits["127.0.2.3", "POST"] == 6
    assert 503 in [answer["status"] for answer in posts]
    assert hits["127.0.2.1", "POST"] == [answer["status"] for answer in posts].count(503)


def served(running: Balancer, count: int = 6) -> set[str]:
    answers = running.requests([{"path": "/api/sales"}] * count)
    assert [a["status"] for a in answers] == [200] * count
    return {json.loads(a["body"])["served_by"] for a in answers}


def test_replicas_added_or_removed_are_followed_within_seconds_with_no_reload(
    nginx: str, private_tmp: Path
):
    one_backend = {**REPLICAS, "backend-api": BACKENDS[:1]}
    with network_namespace(one_backend) as namespace:
        running = start_balancer(
            namespace, nginx, private_tmp, {a: 200 for a in FRONTENDS + BACKENDS}
        )
        before = served(running)
        # As after "docker compose up --scale backend-api=3": the name has three addresses.
        namespace.write_hosts(REPLICAS)
        scaled_at = time.monotonic()
        after: set[str] = set()
        while after != set(BACKENDS) and time.monotonic() < scaled_at + 10:
            after |= served(running)
        scale_up = time.monotonic() - scaled_at
        # And back to one: the two others still answer, but nginx must stop sending them work.
        namespace.write_hosts(one_backend)
        time.sleep(3.5)  # valid=2s, on a clock of whole seconds: at most 3 s
        down = served(running, 12)
    assert before == {BACKENDS[0]}
    assert after == set(BACKENDS) and scale_up < 5
    assert down == {BACKENDS[0]}

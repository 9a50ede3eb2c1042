"""The scaled topology for real: the committed nginx.conf in front of gunicorn replicas.

nginx runs the repository's nginx.conf (``-c`` the file itself) in its own network namespace,
whose hosts file gives ``backend-api`` and ``frontend`` one address per replica. Each replica
runs its Dockerfile's CMD in its own namespace, so all of them bind the same port. The APIs use
throwaway PostgreSQL and MariaDB databases, reached through a forwarder on the host's side of
the bridge (see replicas.py). The tests run in order on one topology: spread, failover, scale
out, then one ETL run started by concurrent triggers.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import json
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import dbtools
from tests.api.netutil import TcpRelay
from tests.deploy.netns import NetNamespace, network_namespace, privilege_prefix, require_tool
from tests.deploy.replicas import Bridge, Replica, start_replica

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "nginx.conf"
API_TOKEN = "scaled-topology-token"
BACKEND_PORT = 5001
FRONTEND_PORT = 5000


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class Client:
    """One keep-alive connection to nginx (so one nginx worker sees every request)."""

    def __init__(self, host: str) -> None:
        self.connection = http.client.HTTPConnection(host, 80, timeout=30)

    def request(self, method: str, path: str, headers: dict | None = None) -> Answer:
        self.connection.request(method, path, headers=headers or {})
        response = self.connection.getresponse()
        body = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)

    def close(self) -> None:
        self.connection.close()


@dataclass
class Topology:
    bridge: Bridge
    nginx_ns: NetNamespace
    nginx: str
    nginx_address: str
    nginx_tmp: Path
    work_dir: Path
    backend_env: dict[str, str]
    stack: contextlib.ExitStack
    hosts: dict[str, list[str]]
    backends: list[Replica] = field(default_factory=list)
    frontends: list[Replica] = field(default_factory=list)

    def client(self) -> Client:
        return Client(self.nginx_address)

    def add_backend(self, number: int) -> Replica:
        namespace = self.stack.enter_context(network_namespace({}, prefix="retail-be"))
        address = self.bridge.attach(namespace, 20 + number)
        replica = start_replica(
            f"backend-{number}",
            namespace,
            address,
            BACKEND_PORT,
            ROOT / "backend",
            self.backend_env,
            self.work_dir,
        )
        self.backends.append(replica)
        return replica


def wait_for_nginx(address: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 15
    while True:
        assert process.poll() is None, log.read_text()
        with contextlib.suppress(OSError):
            client = Client(address)
            try:
                if client.request("GET", "/nginx-health").status == 200:
                    return
            finally:
                client.close()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


@pytest.fixture(scope="module")
def topology(postgres_server, mysql_server, tmp_path_factory) -> Iterator[Topology]:
    nginx = require_tool("nginx")
    ip = require_tool("ip")
    work_dir = tmp_path_factory.mktemp("scaled")
    work_dir.chmod(0o755)
    nginx_tmp = work_dir / "nginx-tmp"
    nginx_tmp.mkdir()
    nginx_tmp.chmod(0o1777)
    with contextlib.ExitStack() as stack:
        source = dbtools.create_source_db(seeded=True)
        stack.callback(source.drop)
        warehouse = dbtools.create_warehouse_db()
        stack.callback(warehouse.drop)

        bridge = Bridge(privilege_prefix(), ip)
        stack.callback(bridge.delete)
        bridge.create()
        # The servers usually listen on 127.0.0.1 only: forward from the bridge address (unless
        # a server already listens on every address, and so on this one too).
        for host, port in (
            (dbtools.PG_HOST, dbtools.PG_PORT),
            (dbtools.MYSQL_HOST, dbtools.MYSQL_PORT),
        ):
            try:
                forwarder = TcpRelay(host, port, listen_host=bridge.address, listen_port=port)
                forwarder.start()
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
            else:
                stack.enter_context(contextlib.closing(forwarder))

        nginx_address = f"{bridge.prefix}.2"
        frontends = [f"{bridge.prefix}.{11 + i}" for i in range(2)]
        backends = [f"{bridge.prefix}.{21 + i}" for i in range(3)]
        hosts = {"frontend": frontends, "backend-api": backends, "nginx": [nginx_address]}
        backend_env = {
            "SOURCE_DB_URL": f"postgresql://{dbtools.PG_USER}@{bridge.address}:"
            f"{dbtools.PG_PORT}/{source.name}",
            "WAREHOUSE_DB_URL": warehouse.url.replace(
                f"@{dbtools.MYSQL_HOST}:", f"@{bridge.address}:"
            ),
            "API_TOKEN": API_TOKEN,
            "GUNICORN_WORKERS": "2",
        }
        nginx_ns = stack.enter_context(network_namespace(hosts, prefix="retail-nginx"))
        bridge.attach(nginx_ns, 2)
        running = Topology(
            bridge, nginx_ns, nginx, nginx_address, nginx_tmp, work_dir, backend_env, stack, hosts
        )
        try:
            start_topology(running, frontends)
            yield running
        finally:
            # Every gunicorn (process group) and nginx stop first; the namespaces go after.
            for replica in running.backends + running.frontends:
                replica.kill()
            nginx_ns.stop_all()


def start_topology(running: Topology, frontends: list[str]) -> None:
    """Start 3 APIs and 2 dashboards, wait for them, then nginx on the committed nginx.conf."""
    stack, bridge, work_dir = running.stack, running.bridge, running.work_dir
    nginx, nginx_ns, nginx_address = running.nginx, running.nginx_ns, running.nginx_address
    for number in (1, 2, 3):
        running.add_backend(number)
    for number, address in enumerate(frontends, start=1):
        namespace = stack.enter_context(
            network_namespace({"nginx": [nginx_address]}, prefix="retail-fe")
        )
        bridge.attach(namespace, 10 + number)
        running.frontends.append(
            start_replica(
                f"frontend-{number}",
                namespace,
                address,
                FRONTEND_PORT,
                ROOT / "frontend",
                {
                    "BACKEND_URL": "http://nginx/api",
                    "API_TOKEN": API_TOKEN,
                    "SECRET_KEY": "scaled-topology-secret",
                    "GUNICORN_WORKERS": "2",
                },
                work_dir,
            )
        )
    for replica in running.backends + running.frontends:
        replica.wait_healthy()

    # The repository's file itself, byte for byte, is what nginx reads: no copy, no template.
    conf_sha = sha256(NGINX_CONF.read_bytes())
    nginx_ns.start_docker_dns()
    nginx_log = work_dir / "nginx.log"
    with nginx_log.open("w") as output:
        process = nginx_ns.start(
            [nginx, "-e", "stderr", "-c", str(NGINX_CONF), "-g", "daemon off;"],
            private_tmp=running.nginx_tmp,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    wait_for_nginx(nginx_address, process, nginx_log)
    # ip netns exec and sh exec nginx in place: this is the master, reading the repo's file
    # (nginx rewrites its argv into "nginx: master process <command line>").
    title = Path(f"/proc/{process.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert Path(f"/proc/{process.pid}/exe").resolve() == Path(nginx).resolve()
    assert f" -c {NGINX_CONF} " in title, title
    assert sha256(NGINX_CONF.read_bytes()) == conf_sha  # unchanged while nginx read it


def served_by(answers: list[Answer]) -> Counter:
    return Counter(answer.headers.get("x-served-by") for answer in answers)


def test_gets_are_spread_over_every_backend_and_frontend(topology: Topology):
    client = topology.client()
    try:
        api = [client.request("GET", "/api/sales") for _ in range(60)]
        # The dashboard sends no X-Served-By: its access log names the request id instead.
        ids = [f"scaled-page-{i}-{uuid.uuid4().hex}" for i in range(6)]
        pages = [client.request("GET", "/", {"X-Request-ID": rid}) for rid in ids]
    finally:
        client.close()
    assert [a.status for a in api] == [200] * 60, api[0].body[:500]
    counts = served_by(api)
    assert set(counts) == {"backend-1", "backend-2", "backend-3"}, counts
    assert min(counts.values()) >= 10, counts
    assert [p.status for p in pages] == [200] * 6, pages[0].body[:500]
    deadline = time.monotonic() + 10
    while True:
        logs = {f.name: f.log.read_text() for f in topology.frontends}
        where = {rid: [name for name, text in logs.items() if rid in text] for rid in ids}
        if all(len(names) == 1 for names in where.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert all(len(names) == 1 for names in where.values()), where
    assert {names[0] for names in where.values()} == {"frontend-1", "frontend-2"}, where


def test_killing_a_backend_costs_no_failed_get(topology: Topology):
    victim = topology.backends[0]
    answers: list[Answer] = []
    failures: list[str] = []
    stop = threading.Event()

    def loop() -> None:
        client = topology.client()
        try:
            while not stop.is_set():
                try:
                    answers.append(client.request("GET", "/api/sales"))
                except (OSError, http.client.HTTPException) as exc:
                    failures.append(repr(exc))
                    client.close()
                    client = topology.client()
        finally:
            client.close()

    threads = [threading.Thread(target=loop) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    before = len(answers)
    victim.kill()
    time.sleep(3.0)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert victim.process.poll() is not None
    assert failures == []
    assert before > 0 and len(answers) > before + 10
    assert [a.status for a in answers if a.status != 200] == []
    after = served_by(answers[before + 6 :])
    assert victim.name not in after, after
    assert set(after) == {"backend-2", "backend-3"}, after


def test_a_new_backend_gets_traffic_with_no_reload_once_the_dns_names_it(topology: Topology):
    """As after ``docker compose up --scale backend-api=N``: only Docker's answer changes."""
    replica = topology.add_backend(4)
    replica.wait_healthy()
    hosts = {**topology.hosts, "backend-api": [*topology.hosts["backend-api"], replica.address]}
    topology.nginx_ns.write_hosts(hosts)
    topology.hosts = hosts
    named = time.monotonic()
    seen: Counter = Counter()
    client = topology.client()  # one connection throughout: the same nginx worker
    try:
        while seen["backend-4"] == 0 and time.monotonic() < named + 10:
            answers = [client.request("GET", "/api/sales") for _ in range(8)]
            assert [a.status for a in answers] == [200] * 8
            seen += served_by(answers)
            time.sleep(0.1)
    finally:
        client.close()
    # nginx trusts an answer for 2 s (resolver valid=2s in nginx.conf).
    assert seen["backend-4"] > 0, seen
    assert time.monotonic() - named < 5


def test_concurrent_etl_triggers_start_exactly_one_run(topology: Topology):
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    barrier = threading.Barrier(6)
    answers: list[Answer] = []
    errors: list[str] = []

    def trigger() -> None:
        client = topology.client()
        try:
            barrier.wait(timeout=10)
            answers.append(client.request("POST", "/api/run-etl", {**auth, "Content-Length": "0"}))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            client.close()

    threads = [threading.Thread(target=trigger) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    statuses = sorted(a.status for a in answers)
    assert statuses == [202] + [409] * 5, [(a.status, a.body[:200]) for a in answers]
    started = next(a for a in answers if a.status == 202)
    location = started.headers["location"]
    assert location.startswith("/api/etl-runs/"), location
    run_id = started.json()["id"]

    client = topology.client()
    try:
        deadline = time.monotonic() + 60
        while True:
            answer = client.request("GET", location, auth)
            assert answer.status == 200, answer.body[:500]
            run = answer.json()
            assert run["id"] == run_id
            if run["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        client.close()
    assert run["status"] == "succeeded", run

"""Benchmark GET /api/sales through nginx with 1 backend replica, then 3 (not a test).

    .venv/bin/python bench/lb_bench.py [--duration 10] [--connections 32] [--workers 2]

Builds the scaled topology of tests/deploy/test_scaled_topology.py with its helpers: throwaway
databases from the seed (tests/dbtools.py), the ETL run once, three backend replicas (each the
Dockerfile's CMD in a network namespace of its own), and nginx on the committed nginx.conf in a
namespace whose hosts file first names one backend replica. wrk runs inside nginx's namespace
(``wrk -t2 -c32 -d10s --latency http://127.0.0.1/api/sales``); then the hosts file names all
three, nginx reloads (as deploy-scaled.sh does) and wrk runs again. Prints requests/s and p99
for each and the ratio 3/1. Needs root (or passwordless sudo), ip, nginx and wrk; everything
(processes, namespaces, bridge, databases) is removed at the end.

Every replica shares this machine's CPUs: the ratio shows what the load balancer adds on this
host, not what three machines would give.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKEND = ROOT / "backend"
sys.path[:0] = [str(ROOT), str(BACKEND)]

from retail_backend.config import Settings  # noqa: E402
from retail_backend.etl import pipeline  # noqa: E402
from tests import dbtools  # noqa: E402
from tests.api.netutil import TcpRelay  # noqa: E402
from tests.deploy.netns import NetNamespace, network_namespace, privilege_prefix  # noqa: E402
from tests.deploy.replicas import Bridge, Replica, start_replica  # noqa: E402

NGINX_CONF = ROOT / "nginx.conf"
NGINX = "/usr/sbin/nginx"
WRK = "/usr/bin/wrk"
BACKEND_PORT = 5001
PATH = "/api/sales"
WRK_P99 = re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", re.M)


@dataclass
class Figures:
    """What one wrk run measured."""

    rps: float
    p99_ms: float
    errors: int
    detail: str


def tool(path: str, name: str) -> str:
    found = path if os.access(path, os.X_OK) else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} is not installed ({path} missing)")
    return found


def request(address: str, path: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(address, 80, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def wait_for_nginx(address: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text()[-3000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if request(address, "/nginx-health").status == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"nginx did not answer: {log.read_text()[-3000:]}")
        time.sleep(0.1)


def wait_for_spread(address: str, expected: set[str], timeout: float = 30) -> Counter:
    """Send GETs on new connections until every expected replica (and no other) answers."""
    deadline = time.monotonic() + timeout
    while True:
        seen: Counter = Counter()
        for _ in range(10 * len(expected)):
            answer = request(address, PATH)
            if answer.status != 200:
                raise RuntimeError(f"GET {PATH} answered {answer.status}")
            seen[answer.getheader("X-Served-By")] += 1
        if set(seen) == expected:
            return seen
        if time.monotonic() > deadline:
            raise RuntimeError(f"expected {sorted(expected)} behind nginx, saw {dict(seen)}")
        time.sleep(0.5)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(namespace: NetNamespace, wrk: str, duration: int, connections: int) -> Figures:
    argv = [
        wrk,
        "-t2",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        f"http://127.0.0.1{PATH}",
    ]
    result = namespace.run(argv, timeout=duration + 60)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed: {result.stderr}")
    out = result.stdout
    p99 = WRK_P99.search(out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not (p99 and rps):
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    errors = 0
    detail = "; ".join(
        line.strip()
        for line in out.splitlines()
        if line.strip().startswith(("Latency  ", "Socket errors", "Non-2xx"))
    )
    if non_2xx := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(non_2xx.group(1))
    if socket_errors := re.search(r"Socket errors: ([^\n]*)", out):
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Figures(float(rps.group(1)), _ms(*p99.groups()), errors, detail)


def prepare(stack: contextlib.ExitStack) -> tuple[dbtools.SourceDB, dbtools.WarehouseDB]:
    source = dbtools.create_source_db(seeded=True, prefix="lbbench_src")
    stack.callback(source.drop)
    warehouse = dbtools.create_warehouse_db(prefix="lbbench_dw")
    stack.callback(warehouse.drop)
    settings = Settings(source_db_url=source.url, warehouse_db_url=warehouse.url)
    run = pipeline.run(settings, mode="full", triggered_by="bench")
    if run["status"] != "succeeded":
        raise RuntimeError(f"the ETL failed: {run['error_message']}")
    print(f"seed loaded: {run['rows_extracted']:,} lines -> run {run['id']}", flush=True)
    return source, warehouse


def bench(args: argparse.Namespace) -> dict[int, Figures]:
    nginx, wrk, ip = tool(NGINX, "nginx"), tool(WRK, "wrk"), tool("/usr/sbin/ip", "ip")
    results: dict[int, Figures] = {}
    replicas: list[Replica] = []
    nginx_ns: NetNamespace | None = None
    with contextlib.ExitStack() as stack:
        work_dir = Path(tempfile.mkdtemp(prefix="lb-bench-"))
        stack.callback(shutil.rmtree, work_dir, ignore_errors=True)
        work_dir.chmod(0o755)
        nginx_tmp = work_dir / "nginx-tmp"
        nginx_tmp.mkdir()
        nginx_tmp.chmod(0o1777)
        try:
            source, warehouse = prepare(stack)

            bridge = Bridge(privilege_prefix(), ip)
            stack.callback(bridge.delete)
            bridge.create()
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

            backend_env = {
                "SOURCE_DB_URL": f"postgresql://{dbtools.PG_USER}@{bridge.address}:"
                f"{dbtools.PG_PORT}/{source.name}",
                "WAREHOUSE_DB_URL": warehouse.url.replace(
                    f"@{dbtools.MYSQL_HOST}:", f"@{bridge.address}:"
                ),
                "API_TOKEN": "lb-bench-token",
                "GUNICORN_WORKERS": str(args.workers),
                "LOG_LEVEL": "warning",
            }
            for number in (1, 2, 3):
                namespace = stack.enter_context(network_namespace({}, prefix="lbbench-be"))
                address = bridge.attach(namespace, 20 + number)
                replicas.append(
                    start_replica(
                        f"backend-{number}",
                        namespace,
                        address,
                        BACKEND_PORT,
                        BACKEND,
                        backend_env,
                        work_dir,
                    )
                )
            for replica in replicas:
                replica.wait_healthy(timeout=60)

            # nginx.conf names "frontend" too: it must resolve (nothing listens there, and
            # nothing here asks for "/").
            nginx_address = f"{bridge.prefix}.2"
            hosts = {
                "frontend": [f"{bridge.prefix}.11"],
                "backend-api": [replicas[0].address],
                "nginx": [nginx_address],
            }
            nginx_ns = stack.enter_context(network_namespace(hosts, prefix="lbbench-nginx"))
            bridge.attach(nginx_ns, 2)
            nginx_log = work_dir / "nginx.log"
            with nginx_log.open("w") as output:
                process = nginx_ns.start(
                    [nginx, "-e", "stderr", "-c", str(NGINX_CONF), "-g", "daemon off;"],
                    private_tmp=nginx_tmp,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            wait_for_nginx(nginx_address, process, nginx_log)

            for count in (1, 3):
                if count > 1:
                    hosts = {**hosts, "backend-api": [r.address for r in replicas[:count]]}
                    nginx_ns.write_hosts(hosts)
                    reload = nginx_ns.run(
                        [nginx, "-e", "stderr", "-c", str(NGINX_CONF), "-s", "reload"],
                        private_tmp=nginx_tmp,
                    )
                    if reload.returncode != 0:
                        raise RuntimeError(f"nginx -s reload failed: {reload.stderr}")
                expected = {r.name for r in replicas[:count]}
                spread = wait_for_spread(nginx_address, expected)
                print(f"{count} replica(s) behind nginx: {dict(spread)}", flush=True)
                # Warm every worker's page cache and the keepalive pools, then measure.
                run_wrk(nginx_ns, wrk, args.warmup, args.connections)
                print(f"measuring {count} replica(s) ...", flush=True)
                figures = run_wrk(nginx_ns, wrk, args.duration, args.connections)
                results[count] = figures
        finally:
            # Every gunicorn (process group) and nginx stop first; the namespaces, the bridge,
            # the forwarders and the databases go after (the exit stack, in reverse order).
            for replica in replicas:
                replica.kill()
            if nginx_ns is not None:
                nginx_ns.stop_all()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per setup")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per replica")
    args = parser.parse_args()
    results = bench(args)
    print()
    print(
        f"GET {PATH} through nginx (committed nginx.conf); wrk -t2 -c{args.connections} "
        f"-d{args.duration}s --latency inside nginx's namespace; {args.workers} gthread "
        f"workers x 4 threads per replica; {os.cpu_count()} CPUs shared by everything"
    )
    header = f"{'replicas':>8} {'req/s':>10} {'p99 ms':>9} {'errors':>7}"
    print(header)
    print("-" * len(header))
    for count, figures in results.items():
        print(f"{count:>8} {figures.rps:>10.0f} {figures.p99_ms:>9.2f} {figures.errors:>7}")
    for count, figures in results.items():
        print(f"  {count} replica(s), wrk: {figures.detail}")
    print()
    one, three = results[1], results[3]
    print(f"ratio 3/1: requests/s {three.rps / one.rps:.2f}x, p99 {three.p99_ms / one.p99_ms:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

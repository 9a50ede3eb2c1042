"""Benchmark GET /sales on gunicorn against Flask's development server (not a test).

    .venv/bin/python bench/api_bench.py [--duration 10] [--workers 4]

Builds throwaway databases from the seed (tests/dbtools.py), runs the ETL once, starts the same
app twice on free ports (``gunicorn -c gunicorn.conf.py`` as the Dockerfile does, and
``python app.py`` as the first version of this system ran), then for each URL measures
  * the most requests/s with wrk (``wrk --latency``), and
  * latency at a fixed 200 requests/s with hey (``hey -q``),
and prints the figures side by side with the targets. Everything is cleaned up at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKEND = ROOT / "backend"
sys.path[:0] = [str(ROOT), str(BACKEND)]

from retail_backend.config import Settings  # noqa: E402
from retail_backend.etl import pipeline  # noqa: E402
from tests import dbtools  # noqa: E402

URLS = {
    "/sales (default)": "/sales",
    "/sales day, one month": "/sales?group_by=day&from=2011-03-01&to=2011-03-31",
}
TRIVIAL = ("/health (trivial JSON)", "/health")
WRK_PERCENTILE = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
FIXED_RATE = 200  # requests/s for the latency measurement
HEY_CLIENTS = 10  # hey -q is per client: 10 x 20 = 200 requests/s


@dataclass
class Figures:
    """What one load tool measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_health(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not answer /health")


def start(command: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=BACKEND,
            env={**os.environ, **env, "PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_for_health(port, process)
    return process, port


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "secs": 1000.0}[unit]


def run_wrk(url: str, duration: int, connections: int) -> Figures:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    percentiles = {p: _ms(value, unit) for p, value, unit in WRK_PERCENTILE.findall(out)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: ([^\n]*)", out)
    failed = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        failed += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return Figures(rps, percentiles["50"], percentiles["99"], failed)


def run_hey(url: str, duration: int) -> Figures:
    per_client = FIXED_RATE // HEY_CLIENTS
    out = subprocess.run(
        ["hey", "-z", f"{duration}s", "-c", str(HEY_CLIENTS), "-q", str(per_client), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    p50 = re.search(r"50% in ([\d.]+) secs", out)
    p99 = re.search(r"99% in ([\d.]+) secs", out)
    statuses = re.findall(r"\[(\d+)\]\s+(\d+) responses", out)
    errors = sum(int(n) for code, n in statuses if code != "200")
    if "Error distribution:" in out:  # connection errors: "[count]\tGet ...: <error>"
        failed_part = out.split("Error distribution:", 1)[1]
        errors += sum(int(n) for n in re.findall(r"^\s+\[(\d+)\]", failed_part, re.M))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return Figures(rps, _ms(p50.group(1), "secs"), _ms(p99.group(1), "secs"), errors)


def measure(port: int, path: str, duration: int, connections: int) -> tuple[Figures, Figures]:
    url = f"http://127.0.0.1:{port}{path}"
    with urllib.request.urlopen(url, timeout=30) as answer:
        assert answer.status == 200, answer.status
    # Warm every worker's cache (each gunicorn worker computes a page once per run) and let
    # the connection pools fill, so the figures are the steady state.
    subprocess.run(["hey", "-n", "2000", "-c", "16", url], capture_output=True, check=True)
    return run_wrk(url, duration, connections), run_hey(url, duration)


def prepare() -> tuple[dbtools.SourceDB, dbtools.WarehouseDB, dict[str, str]]:
    source = dbtools.create_source_db(seeded=True, prefix="bench_src")
    warehouse = dbtools.create_warehouse_db(prefix="bench_dw")
    settings = Settings(source_db_url=source.url, warehouse_db_url=warehouse.url)
    run = pipeline.run(settings, mode="full", triggered_by="bench")
    if run["status"] != "succeeded":
        raise RuntimeError(f"the ETL failed: {run['error_message']}")
    print(f"seed loaded: {run['rows_extracted']:,} lines -> run {run['id']}", flush=True)
    env = {"SOURCE_DB_URL": source.url, "WAREHOUSE_DB_URL": warehouse.url, "LOG_LEVEL": "info"}
    return source, warehouse, env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    args = parser.parse_args()
    for tool in ("wrk", "hey"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (apt-get install {tool})", file=sys.stderr)
            return 2
    source, warehouse, env = prepare()
    scratch = Path(tempfile.mkdtemp(prefix="api-bench-"))
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    results: dict[tuple[str, str], tuple[Figures, Figures]] = {}
    try:
        servers["gunicorn"] = start(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py"],
            {
                **env,
                "GUNICORN_WORKERS": str(args.workers),
                "PROMETHEUS_MULTIPROC_DIR": str(scratch / "metrics"),
            },
            scratch / "gunicorn.log",
        )
        servers["dev server"] = start([sys.executable, "app.py"], env, scratch / "devserver.log")
        for server, (_, port) in servers.items():
            # /health answers as soon as one worker is up; the others are still importing the
            # ETL (pandas) and would take CPU from the first measurement: load them all first.
            url = f"http://127.0.0.1:{port}/health"
            subprocess.run(["hey", "-z", "5s", "-c", "16", url], capture_output=True, check=True)
            paths = [*URLS.items()] + ([TRIVIAL] if server == "gunicorn" else [])
            for label, path in paths:
                print(f"measuring {server}: {label} ...", flush=True)
                results[(server, label)] = measure(port, path, args.duration, args.connections)
    finally:
        for process, _ in servers.values():
            stop(process)
        source.drop()
        warehouse.drop()
        shutil.rmtree(scratch, ignore_errors=True)
    report(results, args)
    return 0


def report(results: dict, args: argparse.Namespace) -> None:
    print()
    print(
        f"wrk: -t2 -c{args.connections} -d{args.duration}s; hey: {FIXED_RATE} req/s "
        f"({HEY_CLIENTS} clients x -q {FIXED_RATE // HEY_CLIENTS}) for {args.duration}s; "
        f"gunicorn: {args.workers} gthread workers x 4 threads"
    )
    header = f"{'server':<11} {'url':<24} {'wrk req/s':>10} {'p50 ms':>8} {'p99 ms':>8}"
    header += f" | {'hey req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    print(header)
    print("-" * len(header))
    for (server, label), (wrk, hey) in results.items():
        print(
            f"{server:<11} {label:<24} {wrk.rps:>10.0f} {wrk.p50_ms:>8.2f} {wrk.p99_ms:>8.2f}"
            f" | {hey.rps:>9.0f} {hey.p50_ms:>8.2f} {hey.p99_ms:>8.2f} {wrk.errors + hey.errors:>7}"
        )
    print()
    trivial = results[("gunicorn", TRIVIAL[0])][0].rps
    for label in URLS:
        gunicorn, dev = results[("gunicorn", label)], results[("dev server", label)]
        ratio = gunicorn[0].rps / dev[0].rps
        checks = [
            (f"{ratio:.1f}x the dev server's requests/s", ratio >= 3),
            (f"p99 {gunicorn[1].p99_ms:.1f} ms at {FIXED_RATE} req/s", gunicorn[1].p99_ms < 50),
            (
                f"{gunicorn[0].rps / trivial:.0%} of the trivial route's requests/s",
                gunicorn[0].rps >= trivial / 2,
            ),
        ]
        verdicts = "; ".join(f"{text} [{'ok' if good else 'MISSED'}]" for text, good in checks)
        print(f"{label}: {verdicts}")
    print("targets: >= 3x dev server, p99 < 50 ms at 200 req/s, >= 50% of the trivial route")


if __name__ == "__main__":
    sys.exit(main())

"""Start the API as deployed (``gunicorn -c gunicorn.conf.py`` in backend/), talk to it by HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.api.netutil import free_port

BACKEND = Path(__file__).resolve().parents[2] / "backend"
GUNICORN = Path(sys.executable).with_name("gunicorn")


@dataclass
class Answer:
    """An HTTP answer: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Gunicorn:
    """A gunicorn master with its workers, its port and its captured stdout."""

    process: subprocess.Popen
    port: int
    log_path: Path
    metrics_dir: Path
    env: dict[str, str] = field(repr=False)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(
        self,
        path: str,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        timeout: float = 30,
    ) -> Answer:
        """Send one request on a new connection and return the answer, errors included."""
        req = urllib.request.Request(self.url(path), method=method, data=data)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return Answer(response.status, _lower(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, _lower(error.headers), error.read())

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Stop the server with ``sig`` and return its exit status (killing it if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
                raise
        return self.process.returncode


def _lower(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def start_gunicorn(tmp_path: Path, env: dict[str, str], timeout: float = 60) -> Gunicorn:
    """Run ``gunicorn -c gunicorn.conf.py`` from backend/ on a free port; wait for /health."""
    port = free_port()
    metrics_dir = tmp_path / f"metrics-{port}"
    log_path = tmp_path / f"gunicorn-{port}.log"
    full_env = {
        **os.environ,
        "PORT": str(port),
        "GUNICORN_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "INSTANCE_NAME": "gunicorn-test",
        **env,
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py"],
            cwd=BACKEND,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a hung server can be killed
        )
    server = Gunicorn(process, port, log_path, metrics_dir, full_env)
    deadline = time.monotonic() + timeout
    while True:  # poll /health: no fixed sleep, no guess at how long workers take to boot
        if process.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with {process.returncode}:\n{log_path.read_text()}"
            )
        with contextlib.suppress(OSError):
            if server.request("/health", timeout=2).status == 200:
                return server
        if time.monotonic() > deadline:
            server.stop(signal.SIGKILL)
            raise RuntimeError(f"gunicorn did not answer /health:\n{log_path.read_text()}")
        time.sleep(0.1)

"""A second, throwaway PostgreSQL cluster: "another server" for the restore tests.

``initdb`` into a temporary folder and ``pg_ctl start`` on a free port, as the ``postgres`` system
user when the tests run as root (PostgreSQL refuses to run as root). It has its own system
identifier and its own transaction counter, starting low, as a server a dump is restored onto.
Stopped and removed at the end; nothing in /etc/postgresql is touched.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


@dataclass(frozen=True)
class Cluster:
    """A running cluster: TCP on 127.0.0.1:port, trust authentication, superuser postgres."""

    port: int
    bin_dir: Path

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


@contextlib.contextmanager
def second_cluster() -> Iterator[Cluster]:
    """Start a fresh cluster; stop it and delete its files afterwards."""
    bin_dir = next((d for d in BIN_DIRS if (d / "initdb").exists()), None)
    if bin_dir is None:
        require("PostgreSQL's initdb", FileNotFoundError("no /usr/lib/postgresql/*/bin/initdb"))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            require("a postgres system user to run a second cluster", exc)
    folder = Path(tempfile.mkdtemp(prefix="retail-second-cluster-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", _free_port()
    log = folder / "server.log"
    try:
        subprocess.run(
            _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                          "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder}"
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                          "-o", options, "start"]),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        yield Cluster(port, bin_dir)
    finally:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(folder, ignore_errors=True)

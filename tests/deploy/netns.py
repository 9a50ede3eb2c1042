"""Network namespaces for deployment tests: a private network with its own hosts file.

A namespace from ``network_namespace`` has its loopback up and an ``/etc/hosts`` that maps the
compose service names (``frontend``, ``backend-api``, ...) to several loopback addresses each,
as Docker's DNS does for replicas. Processes run in it through ``ip netns exec``, optionally
with a private ``/tmp`` bind-mounted over the real one, so nginx's fixed ``/tmp`` paths never
collide with another test or a real nginx. Every address lives inside the namespace: nothing a
test starts there is reachable from, or reaches, any other network.

Needs root (or passwordless sudo, as on CI runners) and the ``ip`` tool; ``require_tool`` fails
the test under CI=true when a tool is missing and skips it elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SBIN_PATH = os.pathsep.join(("/usr/local/sbin", "/usr/sbin", "/sbin"))
NETNS_ETC = Path("/etc/netns")
REPO = Path(__file__).resolve().parents[2]


def missing(reason: str) -> None:
    """Fail under CI, skip elsewhere, when something a test needs is not on this machine."""
    if IN_CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def require_tool(name: str, *extra_dirs: str | os.PathLike[str]) -> str:
    """Return the path of ``name`` (searched in extra_dirs, PATH and the sbin dirs)."""
    search = os.pathsep.join([*map(str, extra_dirs), os.environ.get("PATH", ""), SBIN_PATH])
    path = shutil.which(name, path=search)
    if path is None:
        missing(f"{name} is not installed")
    return path


def privilege_prefix() -> list[str]:
    """Return the command prefix that runs as root: nothing for root, else ``sudo -n``."""
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    if sudo and subprocess.run([sudo, "-n", "true"], capture_output=True).returncode == 0:
        return [sudo, "-n"]
    missing("network namespaces need root or passwordless sudo")
    return []  # not reached: missing() raises


@dataclass
class NetNamespace:
    """One network namespace and the processes the test started in it."""

    name: str
    ip: str
    sudo: list[str]
    processes: list[subprocess.Popen] = field(default_factory=list)
    output: dict[int, tuple[str, str]] = field(default_factory=dict)

    def command(self, argv: Sequence[str], private_tmp: Path | None = None) -> list[str]:
        """Return ``argv`` wrapped to run in the namespace (with ``private_tmp`` as /tmp)."""
        wrapped = [*self.sudo, self.ip, "netns", "exec", self.name]
        if private_tmp is None:
            return [*wrapped, *argv]
        # ip netns exec runs each command in a fresh mount namespace whose mounts do not
        # propagate back, so this bind mount is seen by this command alone.
        if not REPO.is_relative_to("/tmp"):
            script = 'mount --bind "$0" /tmp && exec "$@"'
            return [*wrapped, "sh", "-c", script, str(private_tmp), *argv]
        # A checkout under /tmp (a CI clone) stays visible through the private /tmp.
        inside = private_tmp / REPO.relative_to("/tmp")
        script = (
            'mkdir -p "$2" && mount --bind "$1" "$2" && mount --rbind "$0" /tmp '
            '&& shift 2 && exec "$@"'
        )
        return [*wrapped, "sh", "-c", script, str(private_tmp), str(REPO), str(inside), *argv]

    def run(
        self, argv: Sequence[str], private_tmp: Path | None = None, timeout: float = 60, **kwargs
    ) -> subprocess.CompletedProcess:
        """Run ``argv`` in the namespace and wait for it; output is captured as text."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(self.command(argv, private_tmp), timeout=timeout, **kwargs)

    def start(self, argv: Sequence[str], private_tmp: Path | None = None, **kwargs):
        """Start ``argv`` in the namespace in the background; it is stopped on exit."""
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("text", True)
        process = subprocess.Popen(self.command(argv, private_tmp), **kwargs)
        self.processes.append(process)
        return process

    def write_hosts(self, hosts: Mapping[str, Sequence[str]]) -> None:
        """Replace the namespace's hosts file in place (as a replica set changing size).

        In place, because each running process sees the file through a bind mount of its inode.
        """
        _write_root_file(self.sudo, NETNS_ETC / self.name / "hosts", hosts_file(hosts))

    def start_docker_dns(self) -> subprocess.Popen:
        """Answer DNS on 127.0.0.11 from this namespace's hosts file, as Docker's DNS does.

        nginx.conf resolves the replicas there at run time (see dnsstub.py).
        """
        process = self.start([sys.executable, str(Path(__file__).with_name("dnsstub.py"))])
        ready = process.stdout.readline()
        assert ready.startswith("ready"), process.stderr.read()
        return process

    def pids(self) -> list[int]:
        """Return the ids of every process still in the namespace."""
        result = subprocess.run(
            [*self.sudo, self.ip, "netns", "pids", self.name], capture_output=True, text=True
        )
        return [int(pid) for pid in result.stdout.split()]

    def stop_all(self, timeout: float = 10) -> None:
        """Stop what runs in the namespace (SIGTERM, then SIGKILL) and keep what it printed."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.pids()
            if pids:
                subprocess.run(
                    [*self.sudo, "kill", f"-{sig.name[3:]}", *map(str, pids)],
                    capture_output=True,
                )
            for process in self.processes:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=timeout)
            if not self.pids():
                break
        for process in self.processes:
            if process.pid not in self.output:
                stdout, stderr = process.communicate()  # reads the rest, closes the pipes
                self.output[process.pid] = (stdout or "", stderr or "")

    def printed(self, process: subprocess.Popen) -> tuple[str, str]:
        """Return the (stdout, stderr) a process printed that was not read (after stop_all)."""
        return self.output[process.pid]


def _write_root_file(sudo: list[str], path: Path, text: str) -> None:
    if not sudo:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    subprocess.run([*sudo, "mkdir", "-p", str(path.parent)], check=True)
    subprocess.run(
        [*sudo, "tee", str(path)], input=text, text=True, check=True, stdout=subprocess.DEVNULL
    )


def hosts_file(hosts: Mapping[str, Sequence[str]]) -> str:
    """Render an /etc/hosts with one line per (address, name) pair."""
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    lines += [f"{address} {name}" for name, addresses in hosts.items() for address in addresses]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def network_namespace(
    hosts: Mapping[str, Sequence[str]], prefix: str = "retail-test"
) -> Iterator[NetNamespace]:
    """Create a namespace whose /etc/hosts maps each name to all its addresses; delete it after.

    ``/etc/netns/<name>/host.conf`` says ``multi on`` so that a name listed on several lines
    resolves to every one of its addresses, the way nginx must see the replicas.
    """
    ip = require_tool("ip")
    sudo = privilege_prefix()
    namespace = NetNamespace(name=f"{prefix}-{uuid.uuid4().hex[:8]}", ip=ip, sudo=sudo)
    etc = NETNS_ETC / namespace.name
    subprocess.run([*sudo, ip, "netns", "add", namespace.name], check=True, capture_output=True)
    try:
        _write_root_file(sudo, etc / "hosts", hosts_file(hosts))
        _write_root_file(sudo, etc / "host.conf", "multi on\n")
        namespace.run([ip, "link", "set", "lo", "up"], check=True)
        yield namespace
    finally:
        namespace.stop_all()
        subprocess.run([*sudo, ip, "netns", "delete", namespace.name], capture_output=True)
        subprocess.run([*sudo, "rm", "-rf", str(etc)], capture_output=True)
        # /etc/netns itself goes too when no other namespace uses it.
        subprocess.run([*sudo, "rmdir", str(NETNS_ETC)], capture_output=True)

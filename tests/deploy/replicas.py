"""Replicas of the services, each in its own network namespace, for the scaled-topology test.

A bridge on the host joins the namespaces (one veth pair each), so nginx, the dashboards and
the APIs each have their own address and every replica listens on the same port. The bridge's
own address is the host side: a small TCP forwarder listens there and passes connections on to
PostgreSQL and MariaDB, which listen on 127.0.0.1 only. Nothing is routed beyond the bridge.

A replica runs its Dockerfile's own CMD (gunicorn -c gunicorn.conf.py) in the service
directory, in a session of its own, so that killing its process group kills the master and its
workers at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.deploy.netns import NetNamespace


def dockerfile_cmd(dockerfile: Path) -> list[str]:
    """Return the exec-form CMD of a Dockerfile (its last CMD line)."""
    lines = [line.strip() for line in dockerfile.read_text(encoding="utf-8").splitlines()]
    cmds = [line[len("CMD") :].strip() for line in lines if line.startswith("CMD ")]
    assert cmds, f"{dockerfile} has no CMD"
    argv = json.loads(cmds[-1])
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), cmds[-1]
    return argv


def free_subnet() -> str:
    """Return a 10.213.N prefix that no route on this machine uses yet."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    candidates = list(range(1, 250))
    random.shuffle(candidates)
    for n in candidates:
        if f"10.213.{n}." not in routes:
            return f"10.213.{n}"
    raise RuntimeError("no free 10.213.N.0/24 subnet")


class Bridge:
    """A host bridge with an address; namespaces join it through veth pairs."""

    def __init__(self, sudo: list[str], ip: str) -> None:
        self.sudo = sudo
        self.ip = ip
        tag = uuid.uuid4().hex[:6]
        self.name = f"rtb{tag}"
        self.tag = tag
        self.prefix = free_subnet()
        self.address = f"{self.prefix}.1"
        self._count = 0

    def _ip(self, *args: str) -> None:
        result = subprocess.run([*self.sudo, self.ip, *args], capture_output=True, text=True)
        assert result.returncode == 0, f"ip {' '.join(args)}: {result.stderr}"

    def create(self) -> None:
        self._ip("link", "add", self.name, "type", "bridge")
        self._ip("addr", "add", f"{self.address}/24", "dev", self.name)
        self._ip("link", "set", self.name, "up")
        self._forward("-I")

    def delete(self) -> None:
        self._forward("-D")
        subprocess.run(
            [*self.sudo, self.ip, "link", "delete", self.name], capture_output=True, check=False
        )

    def _forward(self, action: str) -> None:
        """Let frames across this bridge through the firewall's FORWARD chain.

        A running dockerd sets that chain's policy to DROP and has bridged frames filtered by
        iptables (bridge-nf-call-iptables=1): without this rule the namespaces could not reach
        each other while a Docker Engine runs. Nothing to do where iptables is not installed.
        """
        iptables = shutil.which("iptables", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
        if iptables is None:
            return
        rule = ["FORWARD", "-i", self.name, "-o", self.name, "-j", "ACCEPT"]
        subprocess.run([*self.sudo, iptables, action, *rule], capture_output=True, check=False)

    def attach(self, namespace: NetNamespace, host_number: int) -> str:
        """Give ``namespace`` the address prefix.host_number on the bridge; return it."""
        self._count += 1
        outside = f"rtv{self.tag}-{self._count}"
        address = f"{self.prefix}.{host_number}"
        self._ip(
            "link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", namespace.name
        )
        self._ip("link", "set", outside, "master", self.name, "up")
        self._ip("-n", namespace.name, "addr", "add", f"{address}/24", "dev", "eth0")
        self._ip("-n", namespace.name, "link", "set", "eth0", "up")
        # The host side of the veth (the bridge address) is the way to the databases.
        self._ip("-n", namespace.name, "route", "add", "default", "via", self.address)
        return address


@dataclass
class Replica:
    """One gunicorn server (master and workers) in its own namespace."""

    name: str
    address: str
    port: int
    namespace: NetNamespace
    process: subprocess.Popen
    log: Path

    def kill(self) -> None:
        """SIGKILL the master and every worker (one process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://{self.address}:{self.port}/health"
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not healthy: {self.log.read_text()[-3000:]}")
            time.sleep(0.2)


def start_replica(
    name: str,
    namespace: NetNamespace,
    address: str,
    port: int,
    service_dir: Path,
    env: Mapping[str, str],
    work_dir: Path,
) -> Replica:
    """Run the service's Dockerfile CMD in ``namespace``, cwd the service dir."""
    argv = dockerfile_cmd(service_dir / "Dockerfile")
    tmp = work_dir / f"{name}-tmp"
    tmp.mkdir(mode=0o1777)
    metrics = tmp / "metrics"
    metrics.mkdir()
    venv_bin = str(Path(sys.executable).parent)
    environment = {
        "PATH": os.pathsep.join((venv_bin, os.environ.get("PATH", "/usr/bin:/bin"))),
        "HOME": str(tmp),
        "TMPDIR": str(tmp),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "INSTANCE_NAME": name,
        **env,
    }
    # env(1) sets the variables inside the namespace even when sudo would reset them.
    wrapped = ["env", *(f"{key}={value}" for key, value in environment.items()), *argv]
    log = work_dir / f"{name}.log"
    with log.open("w") as output:
        process = namespace.start(
            wrapped,
            cwd=service_dir,
            env={**os.environ, **environment},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Replica(name, address, port, namespace, process, log)

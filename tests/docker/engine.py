"""The Docker Engine the docker group drives: one that already runs, or one it starts itself.

An engine found running is the user's: the group only adds its own test-named images,
containers, networks and volumes to it, and removes them again. An engine the group started is
stopped at the end, and the host's network settings that dockerd changes (the iptables FORWARD
policy and rules, ``bridge-nf-call-iptables``, the bridges it made) are put back as they were.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BRIDGE_SYSCTLS = ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables")
SYSCTL_DIR = Path("/proc/sys/net/bridge")
DOCKER_LINKS = ("docker0", "docker_gwbridge")
DOCKER_TABLES = {  # the iptables tables dockerd writes, with their built-in chains
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
}
START_TIMEOUT = 60.0


def _as_root(argv: list[str]) -> list[str]:
    return argv if os.geteuid() == 0 else ["sudo", "-n", *argv]


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    """Run the docker CLI and return its output (text)."""
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def engine_answers() -> bool:
    """Tell whether a Docker daemon answers the CLI."""
    if shutil.which("docker") is None:
        return False
    with contextlib.suppress(subprocess.TimeoutExpired):
        return docker("info", "--format", "{{.ID}}", timeout=20, check=False).returncode == 0
    return False


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


@dataclass
class HostNetwork:
    """What dockerd changes on the host, as it was before it started."""

    iptables: dict[str, str] = field(default_factory=dict)  # tool -> iptables-save output
    sysctls: dict[str, str] = field(default_factory=dict)
    links: set[str] = field(default_factory=set)

    @classmethod
    def capture(cls) -> HostNetwork:
        state = cls(links=_links())
        for tool in ("iptables", "ip6tables"):
            if shutil.which(f"{tool}-save"):
                out = subprocess.run(_as_root([f"{tool}-save"]), capture_output=True, text=True)
                state.iptables[tool] = out.stdout
        for name in BRIDGE_SYSCTLS:
            path = SYSCTL_DIR / name
            if path.exists():
                state.sysctls[name] = path.read_text().strip()
        return state

    def restore(self) -> None:
        """Put the firewall, the bridge sysctls and the set of docker links back."""
        for tool, saved in self.iptables.items():
            # A FORWARD rule of the network-namespace tests' own bridges (tests/deploy/
            # replicas.py, running beside this group) comes and goes with those tests.
            dump = "".join(line for line in saved.splitlines(True) if " -i rtb" not in line)
            # Tables absent from the saved dump were empty: restore them empty, with ACCEPT.
            for table, chains in DOCKER_TABLES.items():
                if f"*{table}\n" not in saved:
                    dump += f"*{table}\n" + "".join(f":{c} ACCEPT [0:0]\n" for c in chains)
                    dump += "COMMIT\n"
            subprocess.run(_as_root([f"{tool}-restore"]), input=dump, text=True, check=False)
        for name, value in self.sysctls.items():
            subprocess.run(
                _as_root(["sysctl", "-q", "-w", f"net.bridge.{name}={value}"]), check=False
            )
        for link in _links() - self.links:
            if link in DOCKER_LINKS or link.startswith(("br-", "veth", "vx-")):
                subprocess.run(_as_root(["ip", "link", "delete", link]), capture_output=True)


@dataclass
class Engine:
    """The engine the group uses; ``started`` says whether the group started it."""

    started: bool
    process: subprocess.Popen | None = None
    host: HostNetwork | None = None

    def swarm_state(self) -> str:
        """Return this node's swarm state: inactive, active, pending..."""
        return docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()

    def stop(self) -> None:
        """Stop an engine the group started and restore the host's network settings."""
        if not self.started or self.process is None:
            return
        subprocess.run(_as_root(["kill", "-TERM", str(self.process.pid)]), check=False)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            subprocess.run(_as_root(["kill", "-KILL", str(self.process.pid)]), check=False)
            self.process.wait(10)
        if self.host is not None:
            self.host.restore()


def start_engine(log_path: Path) -> Engine:
    """Start dockerd in the background and wait until it answers."""
    dockerd = shutil.which("dockerd") or shutil.which("dockerd", path="/usr/sbin:/sbin")
    if dockerd is None:
        raise RuntimeError("dockerd is not installed (scripts/test.sh installs docker.io)")
    host = HostNetwork.capture()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            _as_root([dockerd, "--log-level=warn"]),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    engine = Engine(started=True, process=process, host=host)
    deadline = time.monotonic() + START_TIMEOUT
    while not engine_answers():
        if process.poll() is not None or time.monotonic() > deadline:
            engine.stop()
            raise RuntimeError(f"dockerd did not start; see {log_path}")
        time.sleep(0.5)
    return engine


@contextlib.contextmanager
def docker_engine(log_path: Path) -> Iterator[Engine]:
    """Yield a running engine: the one found, or one started here and stopped after."""
    engine = Engine(started=False) if engine_answers() else start_engine(log_path)
    try:
        yield engine
    finally:
        engine.stop()


@contextlib.contextmanager
def single_node_swarm(engine: Engine) -> Iterator[None]:
    """Make the engine a one-node swarm manager for the block, unless it is one already.

    Only an engine the group started itself (or, with RETAIL_TEST_SWARM_INIT=1, a CI runner's
    throwaway engine) is turned into a swarm, and it leaves the swarm afterwards.
    """
    if engine.swarm_state() == "active":
        yield
        return
    if not (engine.started or os.environ.get("RETAIL_TEST_SWARM_INIT") == "1"):
        raise RuntimeError(
            "the running Docker Engine is not the suite's own and is not a swarm manager; "
            "the suite runs 'docker swarm init' only on an engine it started "
            "(or with RETAIL_TEST_SWARM_INIT=1)"
        )
    docker("swarm", "init", "--advertise-addr", _advertise_address())
    try:
        yield
    finally:
        docker("swarm", "leave", "--force", check=False)
        docker("network", "rm", "docker_gwbridge", check=False)


def _advertise_address() -> str:
    """Return an address of this host's own to advertise (the default route's source)."""
    out = subprocess.run(["ip", "-j", "route", "get", "192.0.2.1"], capture_output=True, text=True)
    with contextlib.suppress(ValueError, IndexError, KeyError):
        return json.loads(out.stdout)[0]["prefsrc"]
    return "127.0.0.1"


def stop_signal(pid: int, sig: signal.Signals = signal.SIGKILL) -> None:
    """Send a signal to a host process (a container's main process) as root."""
    subprocess.run(_as_root(["kill", f"-{sig.name[3:]}", str(pid)]), check=True)

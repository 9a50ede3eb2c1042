"""A compose project of a test's own: a fresh copy of the repository's files and its settings.

The copy holds the files git tracks (and new ones not yet ignored), exactly as a user's fresh
clone would, so the scripts run unchanged and write their ``.env`` and ``.secrets/`` there,
never into the developer's checkout. Everything the test overrides goes through the variables
the compose files read: a project name of its own, free host ports, the stand-in images and
test-only names for the images it builds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.docker.engine import docker

ROOT = Path(__file__).resolve().parents[2]
APP_IMAGES = {
    "BACKEND_IMAGE": "retail-test-app/backend-api:latest",
    "FRONTEND_IMAGE": "retail-test-app/frontend:latest",
}
SCALED = "docker-compose-scaled.yml"


def fresh_copy(target: Path) -> Path:
    """Copy the repository's tracked (and new, unignored) files to ``target``."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            destination = target / os.fsdecode(name)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    return target


def free_port() -> int:
    """Return a TCP port that nothing on this host listens on right now."""
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return probe.getsockname()[1]


def read_env_file(path: Path) -> dict[str, str]:
    """Return the settings of a .env file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


@dataclass
class Project:
    """One compose project: its directory, its name and the environment it runs with."""

    directory: Path
    images: dict[str, str]
    name: str = field(default_factory=lambda: f"retail-test-{uuid.uuid4().hex[:8]}")
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for variable in ("API_PORT", "DASHBOARD_PORT", "HTTP_PORT"):
            self.ports.setdefault(variable, free_port())

    @property
    def env(self) -> dict[str, str]:
        """The environment the scripts and compose run with: the host's plus the overrides."""
        return {
            **os.environ,
            **self.images,
            **APP_IMAGES,
            **{k: str(v) for k, v in self.ports.items()},
            "COMPOSE_PROJECT_NAME": self.name,
            "DEPLOY_WAIT_TIMEOUT": "240",
        }

    def run(self, argv: list[str], timeout: float = 600, check: bool = True, **kwargs):
        """Run a command in the project's directory with its environment."""
        result = subprocess.run(
            argv,
            cwd=self.directory,
            env={**self.env, **kwargs.pop("env", {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            **kwargs,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
                f"{result.stderr[-3000:]}"
            )
        return result

    def compose(self, *args: str, file: str | None = None, **kwargs):
        """Run ``docker compose`` (with ``-f file``) for this project."""
        files = ["-f", file] if file else []
        return self.run(["docker", "compose", *files, *args], **kwargs)

    def settings(self) -> dict[str, str]:
        """Return the .env the deploy script wrote (or kept)."""
        return read_env_file(self.directory / ".env")

    def containers(self, service: str, all_states: bool = False) -> list[str]:
        """Return the ids of the service's containers, by their labels."""
        args = ["ps", "-q", "--no-trunc"] + (["-a"] if all_states else [])
        args += [
            "--filter",
            f"label=com.docker.compose.project={self.name}",
            "--filter",
            f"label=com.docker.compose.service={service}",
        ]
        return docker(*args).stdout.split()

    def project_containers(self) -> list[str]:
        """Return every container of the project, whatever its state."""
        return docker(
            "ps", "-aq", "--no-trunc", "--filter", f"label=com.docker.compose.project={self.name}"
        ).stdout.split()

    def down(self) -> None:
        """Remove the project's containers, networks and volumes (never an image)."""
        for file in (None, SCALED):
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                self.compose(
                    "down", "-v", "--remove-orphans", "-t", "5", file=file, timeout=180, check=False
                )


def inspect(container: str) -> dict:
    """Return ``docker inspect`` of one container."""
    return json.loads(docker("inspect", container).stdout)[0]


def health(container: str) -> str | None:
    """Return a container's health status (starting, healthy, unhealthy), None if it has none."""
    state = inspect(container)["State"]
    return (state.get("Health") or {}).get("Status")


def wait_until(what: str, probe, timeout: float, interval: float = 0.25):
    """Poll ``probe`` until it returns a truthy value; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(requests.RequestException, OSError):
            value = probe()
            if value:
                return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)

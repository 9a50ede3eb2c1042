"""deploy.sh and deploy-scaled.sh, run without Docker.

Each test copies the scripts and compose files to a temporary directory and runs them with a
PATH built for the test: the few tools the scripts use, and a fake ``docker`` (a shell script
that logs its arguments) or none at all.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.deploy.composetools import (
    COMPOSE_FILES,
    REQUIRED_VARIABLES,
    example_values,
    run_compose,
)

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
REPO_FILES = [
    "deploy.sh",
    "deploy-scaled.sh",
    ".env.example",
    *(p.name for p in COMPOSE_FILES),
    "postgres-init/01-schema.sql",
    "scripts/migrate-warehouse.sh",
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "mysql-migrations").glob("*.sql"))),
]
TOOLS = ["bash", "env", "dirname", "basename", "date", "cat", "od", "tr", "mkdir", "chmod", "mv"]
TOOLS += ["grep"]
SECRETS = {name for name in REQUIRED_VARIABLES if re.search(r"PASSWORD|TOKEN|SECRET", name)}

FAKE_DOCKER = """#!/bin/sh
# Logs each call; answers like Docker with the Compose plugin, unless told to fail.
printf '%s\\n' "$*" >> "$FAKE_DOCKER_LOG"
case "$*" in
    "compose version") [ -z "$FAKE_DOCKER_NO_COMPOSE" ] || exit 1
        echo "Docker Compose version v2.40.3" ;;
    *" up "*) [ -z "$FAKE_DOCKER_UP_FAILS" ] || { echo "container unhealthy" >&2; exit 1; } ;;
    *" exec "*) cat >/dev/null
        [ -z "$FAKE_DOCKER_EXEC_FAILS" ] || { echo "ERROR 1045: denied" >&2; exit 1; } ;;
esac
exit 0
"""


class Deploy:
    """A copy of the deployment files and a PATH to run its scripts with."""

    def __init__(self, tmp_path: Path, with_docker: bool = True, with_openssl: bool = True):
        self.repo = tmp_path / "repo"
        self.repo.mkdir(parents=True)
        for name in REPO_FILES:
            (self.repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, self.repo / name)
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        for tool in TOOLS + (["openssl"] if with_openssl else []):
            found = shutil.which(tool)
            if found is None:
                pytest.fail(f"{tool} is needed to run the deploy scripts")
            (self.bin / tool).symlink_to(found)
        if with_docker:
            docker = self.bin / "docker"
            docker.write_text(FAKE_DOCKER)
            docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
        self.log = tmp_path / "docker.log"
        self.cwd = tmp_path  # not the repo: the scripts must find their own directory

    def run(self, script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.repo / script), *args],
            cwd=self.cwd,
            env={"PATH": str(self.bin), "FAKE_DOCKER_LOG": str(self.log), **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def docker_calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def env_file(self) -> dict[str, str]:
        lines = (self.repo / ".env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.fixture
def deploy(tmp_path: Path) -> Deploy:
    return Deploy(tmp_path)


def test_without_docker_it_says_so_and_fails_before_writing_anything(tmp_path: Path):
    deploy = Deploy(tmp_path, with_docker=False)
    result = deploy.run("deploy.sh")
    assert result.returncode != 0
    assert "docker was not found" in result.stderr
    assert "Install Docker" in result.stderr
    assert not (deploy.repo / ".env").exists()


def test_without_the_compose_plugin_it_says_so_and_fails(deploy: Deploy):
    result = deploy.run("deploy.sh", FAKE_DOCKER_NO_COMPOSE="1")
    assert result.returncode != 0
    assert "docker compose version" in result.stderr
    assert "Compose" in result.stderr
    assert not any(" up " in f" {call} " for call in deploy.docker_calls())


def test_first_run_writes_env_with_random_secrets_and_starts_the_stack(deploy: Deploy):
    result = deploy.run("deploy.sh")
    assert result.returncode == 0, result.stderr
    env = deploy.env_file()
    assert set(env) >= REQUIRED_VARIABLES
    for name in SECRETS:
        assert re.fullmatch(r"[0-9a-f]{48}", env[name]), name
    assert len({env[name] for name in SECRETS}) == len(SECRETS)
    assert stat.S_IMODE((deploy.repo / ".env").stat().st_mode) == 0o600
    assert deploy.docker_calls()[-1].split()[:5] == ["compose", "up", "-d", "--build", "--wait"]


def test_each_new_env_gets_its_own_secrets(tmp_path: Path):
    first, second = Deploy(tmp_path / "a"), Deploy(tmp_path / "b")
    assert first.run("deploy.sh").returncode == 0
    assert second.run("deploy.sh").returncode == 0
    for name in SECRETS:
        assert first.env_file()[name] != second.env_file()[name], name


def test_secrets_are_random_without_openssl_too(tmp_path: Path):
    deploy = Deploy(tmp_path, with_openssl=False)
    result = deploy.run("deploy.sh")
    assert result.returncode == 0, result.stderr
    env = deploy.env_file()
    for name in SECRETS:
        assert re.fullmatch(r"[0-9a-f]{48}", env[name]), name
    assert len({env[name] for name in SECRETS}) == len(SECRETS)


def test_an_existing_env_is_never_overwritten(deploy: Deploy):
    existing = deploy.repo / ".env"
    existing.write_text(valid_env(API_TOKEN="mine"))
    existing.chmod(0o640)
    result = deploy.run("deploy.sh")
    assert result.returncode == 0, result.stderr
    assert existing.read_text() == valid_env(API_TOKEN="mine")
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640
    assert "existing .env" in result.stdout
    assert any(call.startswith("compose up -d --build --wait") for call in deploy.docker_calls())


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_the_env_it_writes_satisfies_compose(deploy: Deploy, path: Path):
    assert deploy.run("deploy.sh").returncode == 0
    result = run_compose(deploy.repo / path.name, deploy.repo / ".env", "config", "-q")
    assert result.returncode == 0, result.stderr
    assert set(deploy.env_file()) >= set(example_values())


def test_it_prints_the_urls_and_curl_commands_that_work(deploy: Deploy):
    out = deploy.run("deploy.sh").stdout
    assert "http://localhost:8080" in out
    assert 'curl -X POST -H "Authorization: Bearer $API_TOKEN" http://localhost:5001/run-etl' in out
    assert "curl http://localhost:5001/sales" in out
    assert "API_TOKEN=\"$(sed -n 's/^API_TOKEN=//p' .env)\"" in out


def test_a_failed_start_fails_and_points_to_the_logs(deploy: Deploy):
    result = deploy.run("deploy-scaled.sh", FAKE_DOCKER_UP_FAILS="1")
    assert result.returncode != 0
    assert "logs" in result.stderr


def test_scaled_deploy_scales_as_asked_and_needs_no_nginx_reload(deploy: Deploy):
    result = deploy.run("deploy-scaled.sh", "--backend", "5", "--frontend", "2")
    assert result.returncode == 0, result.stderr
    up = deploy.docker_calls()[-1]
    assert up.startswith("compose -f docker-compose-scaled.yml up -d --build --wait")
    assert up.endswith("--scale backend-api=5 --scale frontend=2")
    assert not any("reload" in call for call in deploy.docker_calls())
    assert "curl http://localhost/api/sales" in result.stdout
    assert 'Bearer $API_TOKEN" http://localhost/api/run-etl' in result.stdout


def test_printed_urls_follow_the_published_ports(deploy: Deploy):
    (deploy.repo / ".env").write_text(valid_env() + "API_PORT=15001\nHTTP_PORT=18000\n")
    plain = deploy.run("deploy.sh", DASHBOARD_PORT="18080")
    assert plain.returncode == 0, plain.stderr
    assert "http://localhost:18080" in plain.stdout
    assert "curl http://localhost:15001/sales" in plain.stdout
    scaled = deploy.run("deploy-scaled.sh")
    assert "curl http://localhost:18000/api/sales" in scaled.stdout


# The secret files ---------------------------------------------------------------------------

SECRET_FILES = {
    "postgres_password",
    "source_db_readonly_password",
    "mysql_root_password",
    "warehouse_db_password",
    "source_db_url",
    "warehouse_db_url",
    "api_token",
    "api_read_token",
    "secret_key",
}


def valid_env(**overrides: str) -> str:
    values = {name: f"{name.lower().replace('_', '')}42" for name in REQUIRED_VARIABLES}
    values.update(overrides)
    return "".join(f"{key}={value}\n" for key, value in values.items())


def secret(deploy: Deploy, name: str) -> str:
    return (deploy.repo / ".secrets" / name).read_text()


def test_every_run_writes_the_secret_files_from_env_readable_only_through_a_private_folder(
    deploy: Deploy,
):
    assert deploy.run("deploy.sh").returncode == 0
    env = deploy.env_file()
    folder = deploy.repo / ".secrets"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {p.name for p in folder.iterdir()} == SECRET_FILES
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o444, path.name
    assert secret(deploy, "api_token") == env["API_TOKEN"] + "\n"
    assert secret(deploy, "mysql_root_password") == env["MYSQL_ROOT_PASSWORD"] + "\n"
    # An optional secret left empty is still a file: Swarm refuses empty secrets.
    assert secret(deploy, "api_read_token") == "\n"
    assert secret(deploy, "source_db_url") == (
        f"postgresql://retail_reader:{env['SOURCE_DB_READONLY_PASSWORD']}@postgres-db:5432/retail\n"
    )
    # A changed .env takes effect on the next run.
    text = (deploy.repo / ".env").read_text().replace(env["API_TOKEN"], "rotated-token")
    (deploy.repo / ".env").write_text(text)
    assert deploy.run("deploy.sh").returncode == 0
    assert secret(deploy, "api_token") == "rotated-token\n"


def test_passwords_with_url_characters_are_percent_encoded_in_the_urls(deploy: Deploy):
    (deploy.repo / ".env").write_text(
        valid_env(WAREHOUSE_DB_PASSWORD="p@ss:w/rd%", SOURCE_DB_READONLY_PASSWORD="a b#c")
    )
    assert deploy.run("deploy.sh").returncode == 0
    assert secret(deploy, "warehouse_db_url") == (
        "mysql://warehousedbuser42:p%40ss%3Aw%2Frd%25@mysql-db:3306/retail_dw\n"
    )
    assert secret(deploy, "source_db_url").startswith(
        "postgresql://sourcedbreadonlyuser42:a%20b%23c@"
    )
    assert secret(deploy, "warehouse_db_password") == "p@ss:w/rd%\n"


@pytest.mark.parametrize("name", sorted(REQUIRED_VARIABLES))
def test_an_env_missing_a_setting_or_keeping_a_placeholder_is_refused(deploy: Deploy, name):
    for problem, text in (
        (
            "does not set",
            "".join(
                line for line in valid_env().splitlines(True) if not line.startswith(f"{name}=")
            ),
        ),
        ("placeholder", valid_env(**{name: "change-me"})),
    ):
        (deploy.repo / ".env").write_text(text)
        result = deploy.run("deploy.sh")
        assert result.returncode != 0
        assert name in result.stderr and problem in result.stderr
        assert not any(" up " in f" {call} " for call in deploy.docker_calls())
        assert not (deploy.repo / ".secrets").exists()


def test_secrets_only_writes_env_and_secrets_without_docker(tmp_path: Path):
    deploy = Deploy(tmp_path, with_docker=False)
    result = deploy.run("deploy.sh", "--secrets-only")
    assert result.returncode == 0, result.stderr
    assert set(deploy.env_file()) >= REQUIRED_VARIABLES
    assert {p.name for p in (deploy.repo / ".secrets").iterdir()} == SECRET_FILES


def test_scaled_deploy_defaults_to_three_apis_and_two_dashboards(deploy: Deploy):
    assert deploy.run("deploy-scaled.sh").returncode == 0
    up = deploy.docker_calls()[-1]
    assert " up " in up and up.endswith("--scale backend-api=3 --scale frontend=2")


@pytest.mark.parametrize(
    "args",
    [
        ["--backend", "0"],
        ["--backend", "-1"],
        ["--backend", "two"],
        ["--frontend", "33"],
        ["--frontend", ""],
        ["--frontend"],
        ["--replicas", "2"],
    ],
)
def test_scaled_deploy_refuses_bad_arguments_before_touching_docker(deploy: Deploy, args):
    result = deploy.run("deploy-scaled.sh", *args)
    assert result.returncode != 0
    assert result.stderr.startswith("deploy: ")
    assert deploy.docker_calls() == []
    assert not (deploy.repo / ".env").exists()


def test_replica_counts_need_the_scaled_topology(deploy: Deploy):
    result = deploy.run("deploy.sh", "--backend", "2")
    assert result.returncode != 0
    assert "deploy-scaled.sh" in result.stderr


@pytest.mark.parametrize("script", ["deploy.sh", "deploy-scaled.sh"])
def test_help_explains_the_options_and_does_nothing(deploy: Deploy, script: str):
    result = deploy.run(script, "--help")
    assert result.returncode == 0
    assert "--backend N" in result.stdout and "--frontend M" in result.stdout
    assert deploy.docker_calls() == []
    assert not (deploy.repo / ".env").exists()


# Schema upgrades ----------------------------------------------------------------------------


def test_databases_start_first_and_their_schemas_are_upgraded_before_the_apps(deploy: Deploy):
    result = deploy.run("deploy.sh")
    assert result.returncode == 0, result.stderr
    calls = deploy.docker_calls()
    ups = [i for i, call in enumerate(calls) if call.startswith("compose up")]
    assert calls[ups[0]].endswith("--wait-timeout 300 postgres-db mysql-db")
    assert " --build " not in calls[ups[0]]
    execs = [i for i, call in enumerate(calls) if call.startswith("compose exec -T")]
    assert calls[execs[0]].startswith("compose exec -T postgres-db sh -c")
    assert any(calls[i].startswith("compose exec -T mysql-db sh -c") for i in execs)
    assert ups[0] < min(execs) and max(execs) < ups[1] == len(calls) - 1
    assert "up to date (1 migration(s) applied)" in result.stdout


def test_a_failed_schema_upgrade_stops_the_deploy_before_the_apps_start(deploy: Deploy):
    result = deploy.run("deploy.sh", FAKE_DOCKER_EXEC_FAILS="1")
    assert result.returncode != 0
    assert "could not upgrade the source schema" in result.stderr
    assert not any("--build" in call for call in deploy.docker_calls())

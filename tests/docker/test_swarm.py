"""docker-stack.yml on a one-node Docker Swarm: the command the README gives for production.

The images are built locally with the scaled compose file, the secrets written by
``./deploy.sh --secrets-only``, ``.env`` exported, then ``docker stack deploy``. Where the
kernel has no IPVS (our test machines), Swarm's virtual IPs cannot work, so the test sets
``SWARM_ENDPOINT_MODE=dnsrr``, as the README tells such users to. In order: the stack becomes
healthy and serves through nginx, a replica whose health check fails is replaced, and a rolling
update of backend-api costs no failed GET.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import require
from tests.docker import figures
from tests.docker.engine import docker, single_node_swarm
from tests.docker.project import SCALED, Project, fresh_copy, wait_until
from tests.docker.stack import SteadyLoad, run_full

STACK_FILE = "docker-stack.yml"
SERVICES = ("nginx", "frontend", "backend-api", "postgres-db", "mysql-db")


def kernel_has_ipvs() -> bool:
    return Path("/proc/net/ip_vs").exists()


@dataclass
class Stack:
    project: Project
    name: str
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.project.ports['HTTP_PORT']}"

    def service(self, name: str) -> str:
        return f"{self.name}_{name}"

    def tasks(self, service: str) -> list[dict]:
        """Return the service's tasks that should run, as docker service ps prints them."""
        out = docker(
            "service",
            "ps",
            self.service(service),
            "--filter",
            "desired-state=running",
            "--format",
            "{{json .}}",
        ).stdout
        return [json.loads(line) for line in out.splitlines()]

    def containers(self, service: str) -> list[str]:
        return docker(
            "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={self.service(service)}"
        ).stdout.split()

    def converged(self) -> bool:
        """Every service runs as many tasks as it wants, and nginx answers /api/ready."""
        for line in docker(
            "stack", "services", self.name, "--format", "{{.Replicas}}"
        ).stdout.split():
            running, _, wanted = line.partition("/")
            if running != wanted.split(" ")[0]:
                return False
        return requests.get(f"{self.url}/api/ready", timeout=5).status_code == 200


def remove_stack(name: str) -> None:
    docker("stack", "rm", name, check=False)
    wait_until(
        "the stack's containers to go",
        lambda: not docker(
            "ps", "-aq", "--filter", f"label=com.docker.stack.namespace={name}"
        ).stdout.split(),
        timeout=120,
    )
    for kind in ("volume", "network"):
        found = docker(kind, "ls", "-q", "--filter", f"label=com.docker.stack.namespace={name}")
        for item in found.stdout.split():
            docker(kind, "rm", item, check=False)


@pytest.fixture(scope="module")
def stack(engine, images, tmp_path_factory) -> Iterator[Stack]:
    """The stack, deployed as the README says, on a swarm of this engine's own."""
    try:
        swarm = single_node_swarm(engine)
        swarm.__enter__()
    except RuntimeError as exc:
        require("a swarm the suite may create", exc)
    project = Project(fresh_copy(tmp_path_factory.mktemp("swarm")), images)
    name = f"retail-test-{uuid.uuid4().hex[:8]}"
    try:
        project.run(["./deploy.sh", "--secrets-only"])
        project.compose("build", file=SCALED, timeout=900)
        env = {**project.env, **project.settings()}  # set -a; . ./.env; set +a
        if not kernel_has_ipvs():
            env["SWARM_ENDPOINT_MODE"] = "dnsrr"
        figures.record("swarm: endpoint mode", env.get("SWARM_ENDPOINT_MODE", "vip"))
        started = time.monotonic()
        project.run(["docker", "stack", "deploy", "-c", STACK_FILE, name], env=env)
        deployed = Stack(project, name, env)
        wait_until("the stack to converge and answer /api/ready", deployed.converged, 300, 1)
        figures.record("swarm: stack deploy until healthy, s", time.monotonic() - started)
        yield deployed
    finally:
        remove_stack(name)
        swarm.__exit__(None, None, None)


def test_stack_becomes_healthy_and_serves_sales_and_the_dashboard_through_nginx(stack: Stack):
    assert requests.get(stack.url + "/", timeout=30).status_code == 200
    run = run_full(stack.url + "/api", stack.project)
    assert run["status"] == "succeeded" and run["rows_extracted"] == 120_000
    sales = requests.get(stack.url + "/api/sales", timeout=30).json()
    assert sales["meta"]["totals"]["total_quantity"] > 0
    seen = {
        requests.get(stack.url + "/api/health", timeout=10).headers["X-Served-By"]
        for _ in range(60)
    }
    assert len(seen) == 3


def test_a_replica_whose_health_check_fails_is_replaced(stack: Stack):
    before = {task["ID"] for task in stack.tasks("backend-api")}
    victim = stack.containers("backend-api")[0]
    # Freeze every process of the app's user: /health stops answering, the process lives on.
    docker("exec", victim, "sh", "-c", "kill -STOP -1")
    frozen = time.monotonic()

    def replaced() -> bool:
        tasks = stack.tasks("backend-api")
        running = [t for t in tasks if t["CurrentState"].startswith("Running")]
        return len(running) == 3 and {t["ID"] for t in running} != before

    wait_until("Swarm to replace the unhealthy task", replaced, timeout=180, interval=1)
    figures.record("swarm: unhealthy replica replaced after, s", time.monotonic() - frozen)
    assert victim not in stack.containers("backend-api")


def test_rolling_update_of_the_api_fails_no_get(stack: Stack):
    spec = json.loads(docker("service", "inspect", stack.service("backend-api")).stdout)[0]
    assert spec["Spec"]["UpdateConfig"]["Parallelism"] == 1
    wait_until("the stack to converge", stack.converged, timeout=180, interval=1)
    before = set(stack.containers("backend-api"))
    with SteadyLoad(stack.url + "/api/sales?limit=5") as load:
        time.sleep(1)
        started = time.monotonic()
        docker(
            "service",
            "update",
            "--force",
            "--detach=false",
            stack.service("backend-api"),
            timeout=600,
        )
        figures.record("swarm: rolling update of 3 API replicas, s", time.monotonic() - started)
        time.sleep(2)
    figures.record(
        "swarm: rolling update under load: GETs / failed", f"{load.total} / {len(load.failures)}"
    )
    assert not before & set(stack.containers("backend-api"))
    assert load.total > 100 and load.failures == [], load.summary()

"""docker-compose-scaled.yml on a real engine: nginx in front of replicas that come and go.

One stack for the module, in order: ./deploy-scaled.sh, the plain ``--scale backend-api=5``
with no reload, a scale-down to two under steady load, a crash (SIGKILL from the host) and an
operator's ``docker kill`` under load, and the replica holding a run killed mid-load.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime

import pytest
import requests

from tests.docker import figures
from tests.docker.engine import docker, stop_signal
from tests.docker.project import SCALED, Project, fresh_copy, health, inspect, wait_until
from tests.docker.stack import SteadyLoad, bearer, run_full, source_sql
from tests.docker.test_basic_stack import REACH, assert_cannot_reach_a_database, database_addresses

HEARTBEAT = 2.0  # ETL_HEARTBEAT_SECONDS, the services' default


@pytest.fixture(scope="module")
def scaled(engine, images, tmp_path_factory) -> Iterator[Project]:
    """The scaled stack, started with ./deploy-scaled.sh from a fresh copy."""
    project = Project(fresh_copy(tmp_path_factory.mktemp("scaled")), images)
    try:
        started = time.monotonic()
        project.run(["./deploy-scaled.sh"], timeout=900)
        figures.record(
            "scaled: ./deploy-scaled.sh until every service is healthy, s",
            time.monotonic() - started,
        )
        yield project
    finally:
        project.down()


def base_url(project: Project) -> str:
    return f"http://127.0.0.1:{project.ports['HTTP_PORT']}"


def served_by(project: Project, path: str = "/api/health") -> str:
    response = requests.get(base_url(project) + path, timeout=10)
    response.raise_for_status()
    return response.headers["X-Served-By"]


def replicas(project: Project) -> list[str]:
    return project.containers("backend-api")


def short(container_id: str) -> str:
    """A container's hostname, which the API sends as X-Served-By."""
    return container_id[:12]


def test_deploy_serves_the_dashboard_and_the_api_through_nginx_over_every_replica(scaled):
    assert requests.get(base_url(scaled) + "/", timeout=30).status_code == 200
    sales = requests.get(base_url(scaled) + "/api/sales", timeout=30)
    assert sales.status_code == 200 and "meta" in sales.json()
    seen = {served_by(scaled) for _ in range(60)}
    assert seen == {short(c) for c in replicas(scaled)} and len(seen) == 3


def test_neither_nginx_nor_the_dashboards_can_reach_a_database(scaled):
    assert_cannot_reach_a_database(scaled, "frontend", file=SCALED)
    # nginx's image has no Python: the same probe runs in nginx's own network namespace.
    (nginx,) = scaled.containers("nginx")
    result = docker(
        "run",
        "--rm",
        f"--network=container:{nginx}",
        "--entrypoint",
        "python",
        scaled.env["BACKEND_IMAGE"],
        "-c",
        REACH,
        *database_addresses(scaled),
        timeout=120,
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert "connected" not in found.values(), found


def became_healthy_at(container: str) -> float | None:
    """Return when the container's first successful health check ended (epoch seconds)."""
    log = (inspect(container)["State"].get("Health") or {}).get("Log") or []
    ends = [entry["End"] for entry in log if entry["ExitCode"] == 0]
    if not ends:
        return None
    return datetime.fromisoformat(ends[0][:26].rstrip("Z") + "+00:00").timestamp()


def test_plain_scale_up_gets_traffic_to_each_new_replica_within_15_s_of_healthy(scaled):
    before = set(replicas(scaled))
    scaled.compose("up", "-d", "--scale", "backend-api=5", file=SCALED, timeout=300)
    returned = time.time()
    new = set(replicas(scaled)) - before
    assert len(new) == 2
    first_served: dict[str, float] = {}

    def all_served() -> bool:
        for _ in range(10):
            name = served_by(scaled)
            for container in new:
                if short(container) == name:
                    first_served.setdefault(container, time.time())
        return len(first_served) == len(new)

    wait_until("every new replica to serve a request", all_served, timeout=90)
    for index, container in enumerate(sorted(new), 1):
        healthy = wait_until("its health log", lambda c=container: became_healthy_at(c), 30)
        after_healthy = first_served[container] - healthy
        figures.record(f"scaled: new replica {index}: serving after healthy, s", after_healthy)
        figures.record(
            f"scaled: new replica {index}: serving after the command returned, s",
            first_served[container] - returned,
        )
        assert after_healthy <= 15.0


def test_scale_down_to_two_under_steady_load_fails_no_get(scaled):
    with SteadyLoad(base_url(scaled) + "/api/sales?limit=5") as load:
        time.sleep(2)
        scaled.compose("up", "-d", "--scale", "backend-api=2", file=SCALED, timeout=300)
        time.sleep(3)
    figures.record(
        "scaled: scale 5 -> 2 under load: GETs / failed", f"{load.total} / {len(load.failures)}"
    )
    assert len(replicas(scaled)) == 2
    assert load.total > 100 and load.failures == [], load.summary()


def test_sigkilled_replica_is_restarted_and_costs_no_failed_get(scaled):
    victim = replicas(scaled)[0]
    restarts = inspect(victim)["RestartCount"]
    with SteadyLoad(base_url(scaled) + "/api/sales?limit=5") as load:
        time.sleep(1)
        stop_signal(inspect(victim)["State"]["Pid"], signal.SIGKILL)  # a crash, from the host
        wait_until(
            "the restart policy to restart it",
            lambda: inspect(victim)["RestartCount"] > restarts,
            timeout=60,
        )
        wait_until("it to be healthy again", lambda: health(victim) == "healthy", timeout=90)
        wait_until(
            "it to serve again",
            lambda: any(served_by(scaled) == short(victim) for _ in range(20)),
            timeout=30,
        )
    figures.record(
        "scaled: SIGKILL under load: GETs / failed", f"{load.total} / {len(load.failures)}"
    )
    assert load.failures == [], load.summary()


def test_docker_kill_is_an_operators_stop_that_nginx_routes_around(scaled):
    victim = replicas(scaled)[0]
    restarts = inspect(victim)["RestartCount"]
    with SteadyLoad(base_url(scaled) + "/api/sales?limit=5") as load:
        time.sleep(1)
        docker("kill", victim)
        time.sleep(5)
    figures.record(
        "scaled: docker kill under load: GETs / failed", f"{load.total} / {len(load.failures)}"
    )
    state = inspect(victim)
    assert state["State"]["Status"] == "exited" and state["RestartCount"] == restarts
    assert load.total > 50 and load.failures == [], load.summary()
    scaled.compose("up", "-d", "--wait", "--scale", "backend-api=2", file=SCALED, timeout=300)


class RowLock:
    """Every row of a warehouse table locked by root's own session inside mysql-db."""

    def __init__(self, project: Project, table: str) -> None:
        (mysql,) = project.containers("mysql-db")
        self.process = subprocess.Popen(
            [
                "docker",
                "exec",
                "-i",
                mysql,
                "sh",
                "-c",
                'MYSQL_PWD="$(cat /run/secrets/mysql_root_password)" exec mysql -uroot -n -N '
                "retail_dw",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.send(f"BEGIN; SELECT COUNT(*) FROM {table} FOR UPDATE; SELECT 'locked';")
        while self.process.stdout.readline().strip() != "locked":
            assert self.process.poll() is None, "the locking session ended"

    def send(self, sql: str) -> None:
        self.process.stdin.write(sql + "\n")
        self.process.stdin.flush()

    def release(self) -> None:
        if self.process.poll() is None:
            self.send("ROLLBACK;")
        self.process.stdin.close()  # the client ends at the end of its input
        self.process.stdout.read()
        self.process.stdout.close()
        self.process.wait(30)


def run_of(project: Project, run_id: int) -> dict:
    response = requests.get(f"{base_url(project)}/api/etl-runs/{run_id}", timeout=10)
    response.raise_for_status()
    return response.json()


def test_killing_the_replica_that_holds_a_run_fails_it_and_frees_the_next_trigger(scaled):
    api = base_url(scaled) + "/api"
    assert run_full(api, scaled)["status"] == "succeeded"
    # A changed line makes the next run update daily_country_sales, which the lock holds.
    source_sql(
        scaled,
        "UPDATE online_sales SET quantity = quantity + 1 WHERE id = "
        "(SELECT min(id) FROM online_sales WHERE quantity > 0 AND unit_price > 0 "
        "AND invoice_no NOT LIKE 'C%')",
        file=SCALED,
    )
    lock = RowLock(scaled, "daily_country_sales")
    try:
        started = requests.post(f"{api}/run-etl", headers=bearer(scaled), timeout=30)
        assert started.status_code == 202, started.text
        run_id, holder = started.json()["id"], started.headers["X-Served-By"]
        wait_until(
            "the run to wait in its load",
            lambda: run_of(scaled, run_id)["stage"] == "load",
            timeout=60,
        )
        (victim,) = [c for c in replicas(scaled) if short(c) == holder]
        docker("kill", victim)
        killed = time.monotonic()

        def accepted():
            answer = requests.post(f"{api}/run-etl", headers=bearer(scaled), timeout=30)
            assert answer.status_code in (202, 409), answer.text
            return answer.json()["id"] if answer.status_code == 202 else None

        next_run = wait_until("the next trigger to be accepted", accepted, timeout=30)
        seconds = time.monotonic() - killed
        figures.record(
            "scaled: next trigger accepted after the run's replica was killed, s", seconds
        )
        assert seconds <= 3 * HEARTBEAT
        dead = run_of(scaled, run_id)
        assert dead["status"] == "failed" and "abandoned" in dead["error"], dead
    finally:
        lock.release()
    wait_until(
        "the next run to succeed",
        lambda: run_of(scaled, next_run)["status"] == "succeeded",
        timeout=120,
    )
    scaled.compose("up", "-d", "--wait", "--scale", "backend-api=2", file=SCALED, timeout=300)

"""docker-compose.yml on a real engine: ./deploy.sh from a fresh copy, as a new user runs it.

One stack for the module, state carried on purpose: deploy, the README's curl flow, the
dashboard in Chromium, least privilege inspected in the running containers, the warehouse
stopped and started again, then the data across ``down``/``up`` and ``down -v``/``up``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
import requests

from tests.browser import digits, launch, require_chromium
from tests.docker import figures, standins
from tests.docker.engine import docker
from tests.docker.project import APP_IMAGES, Project, fresh_copy, health, inspect, wait_until
from tests.docker.stack import bearer, run_full, secret_values, source_sql, source_totals

SERVICES = ("frontend", "backend-api", "postgres-db", "mysql-db")
APPS = ("frontend", "backend-api")


@pytest.fixture(scope="module")
def basic(engine, images, tmp_path_factory) -> Iterator[Project]:
    """The basic stack, started with ./deploy.sh from a fresh copy with no .env."""
    project = Project(fresh_copy(tmp_path_factory.mktemp("basic")), images)
    assert not (project.directory / ".env").exists()
    try:
        started = time.monotonic()
        project.run(["./deploy.sh"], timeout=900)
        figures.record(
            "basic: ./deploy.sh until every service is healthy, s", time.monotonic() - started
        )
        yield project
    finally:
        project.down()


def api_url(project: Project) -> str:
    return f"http://127.0.0.1:{project.ports['API_PORT']}"


def dashboard_url(project: Project) -> str:
    return f"http://127.0.0.1:{project.ports['DASHBOARD_PORT']}"


def container(project: Project, service: str) -> str:
    (found,) = project.containers(service)
    return found


def test_deploy_ends_with_every_service_healthy(basic: Project):
    for service in SERVICES:
        assert health(container(basic, service)) == "healthy", service
    for tag in APP_IMAGES.values():
        figures.record(f"image MB: {tag}", round(standins.image_size_mb(tag)))
    assert (basic.directory / ".env").stat().st_mode & 0o077 == 0


def test_readme_curl_flow_runs_the_etl_and_serves_its_figures(basic: Project):
    api = api_url(basic)
    run = run_full(api, basic)
    assert run["status"] == "succeeded", run
    assert run["rows_extracted"] == 120_000

    totals = requests.get(f"{api}/sales", timeout=30).json()["meta"]["totals"]
    units, revenue = source_totals(basic)
    assert (totals["total_quantity"], totals["total_sale_amount"]) == (units, revenue)

    runs = requests.get(f"{api}/etl-runs", timeout=30).json()
    assert runs["data"][0]["id"] == run["id"]
    assert runs["data"][0]["status"] == "succeeded"

    refused = requests.post(f"{api}/run-etl", timeout=30)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"


def test_dashboard_button_runs_the_etl_and_shows_the_figures_of_the_api(basic: Project):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            assert page.goto(dashboard_url(basic) + "/").status == 200
            page.locator("#run-etl-button").click()
            page.wait_for_url(re.compile(r"[?&]run=\d+"), timeout=60_000)
            expect(page.locator("#run-progress")).to_contain_text("succeeded")
            meta = requests.get(f"{api_url(basic)}/sales", timeout=30).json()["meta"]
            revenue = page.locator("#kpi-revenue").inner_text()
            assert digits(revenue) == digits(meta["totals"]["total_sale_amount"])
            orders = page.locator("#kpi-orders").inner_text()
            assert digits(orders) == str(meta["totals"]["orders"])
            assert errors == []
        finally:
            browser.close()


BACKEND_PRIVILEGES = r"""
import json, psycopg, pymysql
from retail_backend.config import Settings
from retail_backend.db import connect_source, connect_warehouse
settings = Settings.from_env()
found = {}
with connect_source(settings) as pg:
    found["source_reads"] = pg.execute("SELECT count(*) FROM online_sales").fetchone()[0]
    for name, sql in [("insert", "INSERT INTO online_sales (invoice_no) VALUES ('X')"),
                      ("create", "CREATE TABLE intruder (id int)")]:
        try:
            pg.execute(sql)
            found["source_" + name] = "allowed"
        except psycopg.Error as exc:
            found["source_" + name] = exc.sqlstate
        pg.rollback()
my = connect_warehouse(settings, autocommit=True)
with my.cursor() as cur:
    cur.execute("SHOW DATABASES")
    found["warehouse_databases"] = sorted(row[0] for row in cur.fetchall())
    for name, sql in [("create", "CREATE TABLE intruder (id int)"),
                      ("grant", "CREATE USER intruder IDENTIFIED BY 'x'"),
                      ("mysql_user", "SELECT * FROM mysql.user")]:
        try:
            cur.execute(sql)
            found["warehouse_" + name] = "allowed"
        except pymysql.MySQLError as exc:
            found["warehouse_" + name] = exc.args[0]
print(json.dumps(found))
"""


def test_backend_roles_read_only_on_the_source_and_limited_to_the_warehouse(basic: Project):
    result = basic.compose("exec", "-T", "backend-api", "python", "-c", BACKEND_PRIVILEGES)
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["source_reads"] == 120_000
    assert found["source_insert"] == "42501"  # insufficient_privilege
    assert found["source_create"] == "42501"
    assert found["warehouse_databases"] == ["information_schema", "retail_dw"]
    assert found["warehouse_create"] == 1142  # CREATE command denied
    assert found["warehouse_grant"] == 1227  # needs CREATE USER privilege
    assert found["warehouse_mysql_user"] == 1142


REACH = r"""
import json, socket, sys
found = {}
for name, port in [("postgres-db", 5432), ("mysql-db", 3306), *[(a, int(p)) for a, p in
                   (arg.split(":") for arg in sys.argv[1:])]]:
    try:
        socket.create_connection((name, port), timeout=3).close()
        found[name] = "connected"
    except OSError as exc:
        found[name] = type(exc).__name__
print(json.dumps(found))
"""


def database_addresses(project: Project, file: str | None = None) -> list[str]:
    """Return ``ip:port`` of each database container on every network it is on."""
    addresses = []
    for service, port in (("postgres-db", 5432), ("mysql-db", 3306)):
        networks = inspect(container(project, service))["NetworkSettings"]["Networks"]
        addresses += [f"{n['IPAddress']}:{port}" for n in networks.values() if n["IPAddress"]]
    return addresses


def assert_cannot_reach_a_database(project: Project, service: str, file: str | None = None):
    """The service's container neither resolves nor connects to either database."""
    targets = database_addresses(project)
    result = project.compose(
        "exec", "-T", service, "python", "-c", REACH, *targets, file=file, timeout=60
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(found) == 2 + len(targets)
    assert "connected" not in found.values(), found


def test_dashboard_cannot_reach_a_database(basic: Project):
    assert_cannot_reach_a_database(basic, "frontend")


def test_app_containers_run_as_10001_on_a_read_only_root(basic: Project):
    for service in APPS:
        config = inspect(container(basic, service))
        assert config["Config"]["User"] == "10001:10001", service
        assert config["HostConfig"]["ReadonlyRootfs"] is True, service
        assert basic.compose("exec", "-T", service, "id", "-u").stdout.strip() == "10001"
        write = basic.compose("exec", "-T", service, "touch", "/app/intruder", check=False)
        assert write.returncode != 0 and "Read-only file system" in write.stderr, service


def test_no_password_or_token_shows_in_docker_inspect(basic: Project):
    text = docker("inspect", *basic.project_containers()).stdout
    secrets = secret_values(basic)
    assert len(secrets) == 6
    assert [index for index, value in enumerate(secrets) if value in text] == []
    assert "/run/secrets/warehouse_db_url" in text  # the services read files instead


def ready_status(api: str) -> int:
    return requests.get(f"{api}/ready", timeout=5).status_code


def test_ready_fails_within_two_seconds_of_mysql_stopping_and_recovers_without_restart(
    basic: Project,
):
    api = api_url(basic)
    backend = container(basic, "backend-api")
    started_at = inspect(backend)["State"]["StartedAt"]
    assert ready_status(api) == 200
    basic.compose("stop", "-t", "10", "mysql-db")
    stopped = time.monotonic()
    wait_until("/ready to answer 503", lambda: ready_status(api) == 503, timeout=10)
    seconds = time.monotonic() - stopped
    figures.record("basic: /ready 503 after mysql-db stopped, s", seconds)
    assert seconds <= 2.0
    basic.compose("start", "mysql-db")
    wait_until(
        "mysql-db to be healthy",
        lambda: health(container(basic, "mysql-db")) == "healthy",
        timeout=120,
    )
    wait_until("/ready to answer 200 again", lambda: ready_status(api) == 200, timeout=30)
    state = inspect(backend)["State"]
    assert state["StartedAt"] == started_at and inspect(backend)["RestartCount"] == 0


def sales_totals(project: Project) -> dict:
    return requests.get(f"{api_url(project)}/sales", timeout=30).json()["meta"]["totals"]


def run_count(project: Project) -> int:
    return requests.get(f"{api_url(project)}/etl-runs", timeout=30).json()["meta"]["total_rows"]


def test_down_then_up_keeps_the_data(basic: Project):
    runs, totals = run_count(basic), sales_totals(basic)
    assert runs >= 2 and totals["total_quantity"] > 0
    basic.compose("down", "-t", "10", timeout=300)
    assert basic.containers("mysql-db", all_states=True) == []
    basic.compose("up", "-d", "--wait", timeout=600)
    assert (run_count(basic), sales_totals(basic)) == (runs, totals)


def test_down_with_volumes_then_up_starts_clean_and_runs_the_init_scripts_again(basic: Project):
    basic.compose("down", "-v", "-t", "10", timeout=300)
    basic.compose("up", "-d", "--wait", timeout=600)
    assert run_count(basic) == 0
    assert sales_totals(basic)["total_quantity"] == 0
    assert source_sql(basic, "SELECT count(*) FROM online_sales") == [["120000"]]
    assert requests.get(f"{api_url(basic)}/ready", timeout=10).status_code == 200
    run = run_full(api_url(basic), basic)
    assert run["status"] == "succeeded" and run["rows_extracted"] == 120_000
    assert requests.get(f"{api_url(basic)}/etl-runs", headers=bearer(basic), timeout=30).ok

"""What the docker group's tests ask of a running stack: its API, its source, its secrets.

Expected figures come from plain SQL over the source, run with psql inside ``postgres-db``
(tests/integration/expected.py restates the business rules), never from the API under test.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import requests

from tests.docker.project import Project
from tests.integration.expected import CLASSIFIED

SECRET_SETTINGS = (
    "POSTGRES_PASSWORD",
    "SOURCE_DB_READONLY_PASSWORD",
    "MYSQL_ROOT_PASSWORD",
    "WAREHOUSE_DB_PASSWORD",
    "API_TOKEN",
    "SECRET_KEY",
)
TOTALS_SQL = (
    CLASSIFIED
    + """SELECT coalesce(sum(quantity) FILTER (WHERE kind = 'sale'), 0),
           coalesce(sum(quantity * unit_price) FILTER (WHERE kind = 'sale'), 0)
    FROM lines"""
)


def source_sql(project: Project, sql: str, file: str | None = None) -> list[list[str]]:
    """Run SQL as the owner inside postgres-db and return the rows (text)."""
    user = project.settings()["POSTGRES_USER"]
    result = project.compose(
        "exec",
        "-T",
        "postgres-db",
        "psql",
        "-v",
        "ON_ERROR_STOP=1",
        "-qAt",
        "-F",
        "\t",
        "-U",
        user,
        "-d",
        "retail",
        "-c",
        sql,
        file=file,
        timeout=120,
    )
    return [line.split("\t") for line in result.stdout.splitlines() if line]


def source_totals(project: Project, file: str | None = None) -> tuple[int, str]:
    """Return the units and revenue (2 decimals) of every sale in the source."""
    units, revenue = source_sql(project, TOTALS_SQL, file)[0]
    return int(units), f"{Decimal(revenue).quantize(Decimal('0.01'))}"


def bearer(project: Project) -> dict[str, str]:
    """Return the Authorization header with the API token of the project's .env."""
    return {"Authorization": f"Bearer {project.settings()['API_TOKEN']}"}


def secret_values(project: Project) -> list[str]:
    """Return every password, token and key of the project's .env."""
    settings = project.settings()
    return [settings[name] for name in SECRET_SETTINGS if settings.get(name)]


def run_full(api: str, project: Project, timeout: float = 60) -> dict:
    """Start a full run with the README's curl request and wait for it to finish."""
    response = requests.post(
        f"{api}/run-etl",
        params={"mode": "full", "wait": str(int(timeout))},
        headers=bearer(project),
        timeout=timeout + 15,
    )
    assert response.status_code == 200, response.text
    return response.json()


@dataclass
class SteadyLoad:
    """GETs at a steady pace from a few threads, counting answers by status and replica."""

    url: str
    threads: int = 4
    pause: float = 0.02
    statuses: Counter = field(default_factory=Counter)
    served_by: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _work(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            try:
                response = session.get(self.url, timeout=30)
                self.statuses[response.status_code] += 1
                self.served_by[response.headers.get("X-Served-By")] += 1
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code}: {response.text[:200]}")
            except requests.RequestException as exc:
                self.statuses[type(exc).__name__] += 1
                self.failures.append(repr(exc))
            time.sleep(self.pause)

    def __enter__(self) -> SteadyLoad:
        for _ in range(self.threads):
            worker = threading.Thread(target=self._work, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(60)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def summary(self) -> str:
        return json.dumps(
            {
                "statuses": {str(k): v for k, v in self.statuses.items()},
                "failures": self.failures[:5],
            }
        )

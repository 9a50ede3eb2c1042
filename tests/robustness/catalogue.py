"""The classes of the robustness campaign: what each test records and what the report prints.

A test joins a class with ``@pytest.mark.campaign("<class id>")``; the report lists every class
here, so a class that no test tried shows zero cases and fails the report.
"""

from __future__ import annotations

from typing import NamedTuple


class CampaignClass(NamedTuple):
    kind: str  # fault | load | input
    title: str


CLASSES: dict[str, CampaignClass] = {
    "connection_killed": CampaignClass(
        "fault", "DB connection killed mid-run (KILL, pg_terminate_backend)"
    ),
    "etl_process_killed": CampaignClass(
        "fault", "ETL process SIGKILLed or frozen (SIGSTOP) mid-run"
    ),
    "database_unreachable": CampaignClass(
        "fault", "Database refused, stalled or black-holed (TCP proxy)"
    ),
    "replica_sigterm": CampaignClass("fault", "SIGTERM to a gunicorn replica under load"),
    "sales_during_run": CampaignClass("load", "GET /sales at a steady rate during a full run"),
    "concurrent_triggers": CampaignClass("load", "Concurrent triggers across replicas"),
    "contract_fuzz": CampaignClass("input", "schemathesis over /openapi.json"),
    "hostile_source_rows": CampaignClass("input", "Source rows built to break the transform"),
    "malformed_csv": CampaignClass("input", "Malformed CSV files for the importer"),
    "security": CampaignClass("input", "Tokens, CSRF, headers, CORS, leaks, SQL metacharacters"),
}

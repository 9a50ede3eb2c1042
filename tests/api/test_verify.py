"""verify and repair through the API, the command line and /metrics, on real databases."""

from __future__ import annotations

import re

import pytest

from tests.api.sample import sample_lines


@pytest.fixture
def loaded_client(client, sample):
    """A client of the API, with the sample loaded by a full run."""
    assert client.post("/run-etl?mode=full&wait=30").json["status"] == "succeeded"
    return client


def change_behind_the_triggers(source_db) -> str:
    """Add a unit to one sale line with the triggers off; return the line's day."""
    with source_db.connect() as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        [day] = conn.execute(
            "UPDATE online_sales SET quantity = quantity + 1 WHERE id = (SELECT min(id) FROM "
            "online_sales WHERE invoice_no NOT LIKE 'C%%' AND quantity > 0 AND unit_price > 0 "
            "AND country <> '') RETURNING invoice_date::date::text"
        ).fetchone()
        conn.commit()
    return day


def verify_days_gauge(client) -> float | None:
    text = client.get("/metrics").get_data(as_text=True)
    found = re.search(r"^retail_etl_verify_days_differing (\S+)$", text, flags=re.M)
    return float(found.group(1)) if found else None


def test_verify_mode_of_run_etl_reports_the_days_on_the_run_and_in_the_metrics(
    loaded_client, source_db
):
    assert verify_days_gauge(loaded_client) is None  # no verify yet
    clean = loaded_client.post("/run-etl?mode=verify&wait=30").json
    assert clean["mode"] == "verify" and clean["status"] == "succeeded"
    assert clean["result"]["days_differing"] == 0
    assert clean["rows_extracted"] == len(sample_lines()) and clean["rows_loaded"] == 0
    assert verify_days_gauge(loaded_client) == 0

    day = change_behind_the_triggers(source_db)
    found = loaded_client.post("/run-etl", json={"mode": "verify"}, query_string={"wait": 30}).json
    assert found["result"]["days"] == [day]
    [detail] = found["result"]["details"]
    [country] = detail["countries"]
    assert country["source"]["units_sold"] == country["warehouse"]["units_sold"] + 1
    assert verify_days_gauge(loaded_client) == 1
    assert loaded_client.get(f"/etl-runs/{found['id']}").json["result"] == found["result"]

    repaired = loaded_client.post("/run-etl?mode=repair&wait=30").json
    assert repaired["status"] == "succeeded" and repaired["result"]["days"] == [day]
    assert repaired["keys_updated"] >= 2  # the country row and the product row of that day
    assert verify_days_gauge(loaded_client) == 0
    assert loaded_client.post("/run-etl?mode=verify&wait=30").json["result"]["days_differing"] == 0


def test_a_verify_does_not_count_as_a_refresh_of_the_figures(loaded_client):
    before = loaded_client.get("/sales").json["meta"]["last_run_id"]
    loaded_client.post("/run-etl?mode=verify&wait=30")
    assert loaded_client.get("/sales").json["meta"]["last_run_id"] == before


def test_flask_etl_verify_exits_1_naming_the_day_and_repair_makes_it_clean(
    app, loaded_client, source_db
):
    cli = app.test_cli_runner()
    assert cli.invoke(args=["etl", "verify"]).exit_code == 0
    day = change_behind_the_triggers(source_db)
    found = cli.invoke(args=["etl", "verify"])
    assert found.exit_code == 1, found.output
    assert found.output.startswith("1 of ")
    assert f"{day}:" in found.output and "units_sold" in found.output
    repaired = cli.invoke(args=["etl", "verify", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert "were rebuilt" in repaired.output
    again = cli.invoke(args=["etl", "verify"])
    assert again.exit_code == 0 and again.output.startswith("0 of ")


def test_an_unknown_mode_is_a_400_that_lists_the_four(client):
    answer = client.post("/run-etl?mode=check")
    assert answer.status_code == 400
    assert "incremental, full, verify, repair" in answer.json["error"]["message"]

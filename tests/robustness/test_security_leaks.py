"""No stack trace, password or token in any answer or log line of the backend.

The backend runs on throwaway databases, in-process and under gunicorn where its whole log is
read; its databases are down or broken on purpose, so the errors it answers and logs are real.
"""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import build_app, close_app
from tests.api.netutil import free_port
from tests.api.servers import start_gunicorn
from tests.robustness.security_tokens import READ_TOKEN, RUN_TOKEN

PG_PASSWORD = "pg-Secret-7d1f"
MYSQL_PASSWORD = "my-Secret-91ab"


@pytest.fixture
def warehouse_user(warehouse_db):
    """A MySQL user with a password, allowed on the throwaway warehouse only."""
    user = f"u{warehouse_db.name[-12:]}"
    with warehouse_db.connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{MYSQL_PASSWORD}'")
        cur.execute(f"GRANT ALL ON `{warehouse_db.name}`.* TO '{user}'@'%'")
    yield user
    with warehouse_db.connect() as conn, conn.cursor() as cur:
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")


def leaks(text: str, secrets: tuple[str, ...]) -> list[str]:
    return [secret for secret in secrets if secret in text]


@pytest.mark.campaign("security")
def test_gunicorn_answers_and_logs_hold_no_password_token_or_traceback(
    warehouse_db, warehouse_user, tmp_path, campaign
):
    dead = free_port()  # nothing listens: the source is down
    warehouse_url = f"mysql://{warehouse_user}:{MYSQL_PASSWORD}@127.0.0.1:3306/{warehouse_db.name}"
    env = {
        "SOURCE_DB_URL": f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{dead}/retail",
        "WAREHOUSE_DB_URL": warehouse_url,
        "API_TOKEN": RUN_TOKEN,
        "API_READ_TOKEN": READ_TOKEN,
        "DB_CONNECT_TIMEOUT": "1",
    }
    server = start_gunicorn(tmp_path, env)
    secrets = (PG_PASSWORD, MYSQL_PASSWORD, RUN_TOKEN, READ_TOKEN)
    read, run = {"Authorization": f"Bearer {READ_TOKEN}"}, {"Authorization": f"Bearer {RUN_TOKEN}"}
    try:
        answers = [
            server.request("/ready"),  # 503: the source is down
            server.request("/sales", headers={"Authorization": f"Bearer {READ_TOKEN}x"}),
            server.request("/run-etl", method="POST", headers={"Authorization": "Bearer nope"}),
        ]
        failed_run = server.request("/run-etl?wait=20&mode=full", method="POST", headers=run)
        answers.append(failed_run)
        assert failed_run.status == 200 and failed_run.json()["status"] == "failed"
        run_id = failed_run.json()["id"]
        answers += [server.request(f"/etl-runs/{run_id}", headers=read)]
        answers += [server.request("/etl-runs", headers=read)]
        with warehouse_db.connect() as conn, conn.cursor() as cur:
            cur.execute("DROP TABLE etl_rejects")  # an internal error: 500
        answers += [server.request(f"/etl-runs/{run_id}/rejects", headers=read)]
        answers += [server.request("/run-etl", method="POST", headers=run, data=b"{" * 70_000)]
    finally:
        assert server.stop() == 0
    statuses = [answer.status for answer in answers]
    assert statuses == [503, 401, 401, 200, 200, 200, 500, 413], statuses
    exposed = [
        (answer.status, leaks(answer.body.decode() + json.dumps(answer.headers), secrets))
        for answer in answers
    ]
    traces = [answer.status for answer in answers if b"Traceback" in answer.body]
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    campaign.cases(len(answers))
    assert [leaked for leaked in exposed if leaked[1]] == [] and traces == []
    assert "ProgrammingError" in log and "Traceback" in log  # the 500's cause is in the log
    assert leaks(log, secrets) == []


@pytest.mark.campaign("security")
def test_a_dead_warehouse_with_a_password_leaks_it_nowhere(settings, capsys, campaign):
    dead = free_port()
    url = f"mysql://root:{MYSQL_PASSWORD}@127.0.0.1:{dead}/retail_dw"
    app = build_app(settings.replace(warehouse_db_url=url, api_token=RUN_TOKEN))
    try:
        client = app.test_client()
        answers = [
            client.get("/sales"),
            client.get("/etl-runs"),
            client.get("/etl-runs/1"),
            client.get("/ready"),
            client.get("/metrics"),
            client.post("/run-etl", headers={"Authorization": f"Bearer {RUN_TOKEN}"}),
        ]
    finally:
        close_app(app)
    log = capsys.readouterr().out
    campaign.cases(len(answers))
    bodies = [a.get_data(as_text=True) + str(a.headers) for a in answers]
    assert [a.status_code for a in answers] == [503, 503, 503, 503, 200, 503]
    assert [b for b in bodies if leaks(b, (MYSQL_PASSWORD, RUN_TOKEN)) or "Traceback" in b] == []
    assert "Can't connect to MySQL" in log  # the cause is logged...
    assert leaks(log, (MYSQL_PASSWORD, RUN_TOKEN)) == []  # ...without the secrets

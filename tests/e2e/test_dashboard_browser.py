"""The dashboard in a real Chromium, on the real backend and frontend under gunicorn.

One module, one page, state carried on purpose: an empty warehouse, a run started from the
button, the figures it loads, a country filter, the CSV download, then the backend going away.
Expected figures come from the backend's own ``GET /sales`` over HTTP, not from the page.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import requests

from tests import dbtools
from tests.api.netutil import free_port
from tests.api.servers import Gunicorn, start_gunicorn
from tests.browser import canvas_is_drawn, digits, launch, require_chromium
from tests.conftest import require

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
GUNICORN = Path(sys.executable).with_name("gunicorn")
SCREENSHOT = ROOT / "test-output" / "dashboard.png"
TOKEN = "e2e-browser-token-7f3a"
COUNTRY = "France"
RUN_TIMEOUT_MS = 60_000


@dataclass
class Frontend:
    """The dashboard's gunicorn master and its port."""

    process: subprocess.Popen
    port: int
    log_path: Path

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        """Terminate gunicorn and wait for it (killing its group if it hangs)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def start_frontend(tmp_path: Path, backend_url: str, timeout: float = 60) -> Frontend:
    """Run ``gunicorn -c gunicorn.conf.py`` from frontend/ on a free port; wait for /health."""
    port = free_port()
    log_path = tmp_path / f"frontend-{port}.log"
    env = {
        **os.environ,
        # frontend/gunicorn.conf.py binds 0.0.0.0:5000 and reads no PORT; gunicorn lets
        # GUNICORN_CMD_ARGS override the config file, so the test needs no change to it.
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "SECRET_KEY": "e2e-browser-secret-key-not-for-production",
        "BACKEND_URL": backend_url,
        "API_TOKEN": TOKEN,
        "PROXY_FIX_HOPS": "0",  # reached directly, no proxy in front
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py"],
            cwd=FRONTEND,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Frontend(process, port, log_path)
    deadline = time.monotonic() + timeout
    while True:  # poll /health rather than guess how long the workers take to boot
        if process.poll() is not None:
            output = log_path.read_text()
            raise RuntimeError(f"frontend exited with {process.returncode}:\n{output}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(server.url("/health"), timeout=2).status_code == 200:
                return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"frontend did not answer /health:\n{log_path.read_text()}")
        time.sleep(0.1)


@dataclass
class Stack:
    backend: Gunicorn
    frontend: Frontend
    source: dbtools.SourceDB

    def api(self, path: str, **params: object) -> requests.Response:
        """GET the backend directly (the independent view the page is checked against)."""
        response = requests.get(self.backend.url(path), params=params, timeout=30)
        response.raise_for_status()
        return response


@pytest.fixture(scope="module")
def playwright_api():
    """Playwright's sync API, or a skip (a failure under CI) when it or Chromium is missing."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    if not (FRONTEND / "node_modules" / "chart.js" / "dist").is_dir():
        require("Chart.js (cd frontend && npm ci --omit=dev)", FileNotFoundError("node_modules"))
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def stack(postgres_server, mysql_server, tmp_path_factory) -> Iterator[Stack]:
    """A seeded source, an empty warehouse, and both services as the Dockerfiles start them."""
    source = dbtools.create_source_db(seeded=True, prefix="t_src_browser")
    warehouse = dbtools.create_warehouse_db(prefix="t_dw_browser")
    backend = frontend = None
    try:
        tmp = tmp_path_factory.mktemp("e2e")
        env = {"SOURCE_DB_URL": source.url, "WAREHOUSE_DB_URL": warehouse.url, "API_TOKEN": TOKEN}
        backend = start_gunicorn(tmp, env)
        frontend = start_frontend(tmp, f"http://127.0.0.1:{backend.port}")
        yield Stack(backend, frontend, source)
    finally:
        if frontend is not None:
            frontend.stop()
        if backend is not None:
            backend.stop()
        source.drop()
        warehouse.drop()


@pytest.fixture(scope="module")
def browser_errors() -> list[str]:
    """Console errors and uncaught page errors seen by the page, in order."""
    return []


@pytest.fixture(scope="module")
def page(playwright_api, stack: Stack, browser_errors: list[str]):
    """One Chromium page for the whole module, recording its console errors."""
    browser = launch(playwright_api)
    context = browser.new_context(viewport={"width": 1280, "height": 1600}, accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on(
        "console",
        lambda message: browser_errors.append(f"console: {message.text}")
        if message.type == "error"
        else None,
    )
    page.on("pageerror", lambda error: browser_errors.append(f"pageerror: {error}"))
    yield page
    context.close()
    browser.close()


# The README's definition of a sale, written out in plain SQL over the source: not a rejected
# line (every field present, sane sizes and dates, a price in whole thousandths), not a
# cancellation, quantity and price above zero.
SALES_OF_A_COUNTRY = """
    SELECT coalesce(sum(quantity * unit_price), 0), count(DISTINCT invoice_no)
    FROM online_sales
    WHERE country = %s AND invoice_no NOT LIKE 'C%%' AND stock_code IS NOT NULL
      AND invoice_date >= '1990-01-01' AND invoice_date < '2100-01-01'
      AND quantity BETWEEN 1 AND 1000000
      AND unit_price > 0 AND unit_price <= 1000000 AND unit_price = round(unit_price, 3)
      AND length(invoice_no) <= 64 AND length(stock_code) <= 64 AND length(country) <= 64
"""


def source_sales(source: dbtools.SourceDB, country: str) -> tuple[str, int]:
    """Return a country's revenue (2 decimals, half up) and orders, computed from the source."""
    with source.connect() as conn:
        revenue, orders = conn.execute(SALES_OF_A_COUNTRY, (country,)).fetchone()
    return f"{revenue.quantize(Decimal('0.01'), ROUND_HALF_UP)}", orders


def test_run_button_loads_the_figures_the_api_serves(page, stack: Stack):
    from playwright.sync_api import expect

    response = page.goto(stack.frontend.url("/"))
    assert response is not None and response.status == 200
    expect(page.locator("#last-refreshed")).to_contain_text("no ETL run has succeeded yet")
    expect(page.locator("#kpi-revenue")).to_have_text("0.00")

    page.locator("#run-etl-button").click()
    progress = page.locator("#run-progress")
    expect(progress).to_contain_text(re.compile(r"Starting the run|Run #\d+"))
    # The page reloads itself with ?run=<id> once the run it follows has finished.
    page.wait_for_url(re.compile(r"[?&]run=\d+"), timeout=RUN_TIMEOUT_MS)
    expect(progress).to_contain_text("succeeded")

    meta = stack.api("/sales").json()["meta"]
    assert meta["last_run_id"] is not None
    revenue = meta["totals"]["total_sale_amount"]
    assert int(digits(revenue)) > 0
    assert digits(page.locator("#kpi-revenue").inner_text()) == digits(revenue)
    assert digits(page.locator("#kpi-orders").inner_text()) == str(meta["totals"]["orders"])
    assert digits(page.locator("#kpi-units").inner_text()) == str(meta["totals"]["total_quantity"])
    expect(page.locator("#last-refreshed")).to_contain_text(f"run #{meta['last_run_id']}")

    canvas_is_drawn(page, "revenue-chart")
    canvas_is_drawn(page, "country-chart")

    first_run = page.locator("#run-history tbody tr").first
    expect(first_run).to_contain_text(f"#{meta['last_run_id']}")
    expect(first_run).to_contain_text("succeeded")


def test_country_filter_shows_the_api_rows(page, stack: Stack):
    from playwright.sync_api import expect

    page.locator("#filter-country").select_option(COUNTRY)
    page.locator("form.filter-form button[type=submit]").click()
    page.wait_for_url(re.compile(rf"[?&]country={COUNTRY}(&|$)"))
    expect(page.locator(".period")).to_contain_text(COUNTRY)

    body = stack.api(
        "/sales", country=COUNTRY, group_by="product", sort="-total_sale_amount", limit=50
    ).json()
    expected = body["data"]
    assert expected, f"the seed has no sales in {COUNTRY}"
    rows = page.locator("#sales-table tbody tr")
    expect(rows).to_have_count(len(expected))
    for index, row in enumerate(expected[:5]):
        cells = rows.nth(index).locator("td").all_inner_texts()
        assert cells[0] == row["product_id"]
        assert digits(cells[3]) == digits(row["total_sale_amount"])
    revenue, orders = source_sales(stack.source, COUNTRY)
    assert body["meta"]["totals"]["total_sale_amount"] == revenue
    assert digits(page.locator("#kpi-revenue").inner_text()) == digits(revenue)
    assert digits(page.locator("#kpi-orders").inner_text()) == str(orders)
    canvas_is_drawn(page, "revenue-chart")

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_csv_download_matches_the_api_csv(page, stack: Stack):
    with page.expect_download() as info:
        page.locator("#download-csv").click()
    download = info.value
    assert download.suggested_filename == "sales-by-product.csv"
    downloaded = Path(download.path()).read_text(encoding="utf-8")

    expected = stack.api(
        "/sales",
        country=COUNTRY,
        group_by="product",
        sort="-total_sale_amount",
        limit=50,
        offset=0,
        format="csv",
    ).text
    got_rows = list(csv.reader(io.StringIO(downloaded)))
    expected_rows = list(csv.reader(io.StringIO(expected)))
    assert got_rows[0] == expected_rows[0]
    assert got_rows[0][:2] == ["product_id", "description"]
    assert len(got_rows) == len(expected_rows) > 1
    assert got_rows == expected_rows


def test_no_console_errors_while_using_the_page(browser_errors: list[str]):
    assert browser_errors == []


def test_backend_down_page_still_renders_with_an_error(page, stack: Stack):
    from playwright.sync_api import expect

    assert stack.backend.stop() == 0
    response = page.goto(stack.frontend.url("/"))
    assert response is not None and response.status == 200
    expect(page.locator("#backend-error")).to_be_visible()
    expect(page.locator("#backend-error")).to_contain_text("could not be loaded from the backend")
    html = page.content()
    assert "Traceback" not in html
    assert "Traceback" not in page.locator("body").inner_text()

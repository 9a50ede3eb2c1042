"""A stand-in for the backend API, shaped like docs/api.md, to look at the dashboard with.

Unit tests take its sample bodies; a person (or a browser test) runs it as a server::

    .venv/bin/python tests/frontend/fake_backend.py --port 5001 --scenario normal

Scenarios: ``normal`` (seeded sales, a run history, runs that progress over ~6 s), ``empty``
(an empty warehouse, no run yet), ``broken-sales`` (GET /sales answers 500), ``slow`` (every
answer waits 10 s).
"""

from __future__ import annotations

import argparse
import csv
import io
import threading
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from flask import Flask, Response, jsonify, request

PRODUCTS = [
    ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", Decimal("2.55")),
    ("22423", "REGENCY CAKESTAND 3 TIER", Decimal("12.75")),
    ("85099B", "JUMBO BAG RED RETROSPOT", Decimal("1.65")),
    ("47566", "PARTY BUNTING", Decimal("4.95")),
    ("84879", "ASSORTED COLOUR BIRD ORNAMENT", Decimal("1.69")),
    ("20725", "LUNCH BAG RED RETROSPOT", Decimal("1.65")),
    ("22720", "SET OF 3 CAKE TINS PANTRY DESIGN", Decimal("4.95")),
    ("21212", "PACK OF 72 RETROSPOT CAKE CASES", Decimal("0.55")),
]
COUNTRIES = [
    ("United Kingdom", 40),
    ("Germany", 6),
    ("France", 5),
    ("EIRE", 4),
    ("Spain", 2),
    ("Netherlands", 3),
    ("Belgium", 1),
    ("Switzerland", 1),
    ("Portugal", 1),
    ("Australia", 1),
    ("Norway", 1),
    ("Italy", 1),
]
FIRST_DAY = date(2011, 9, 1)
DAYS = 100
REFRESHED = "2011-12-10T06:00:00Z"
ZERO = Decimal(0)


def money(value: Decimal) -> str:
    """Format an amount the way the backend does (2 decimals)."""
    return f"{value.quantize(Decimal('0.01'))}"


def facts() -> list[dict]:
    """Make the deterministic order-line aggregates every answer is computed from."""
    rows = []
    for day_index in range(DAYS):
        day = FIRST_DAY + timedelta(days=day_index)
        for c_index, (country, weight) in enumerate(COUNTRIES):
            for p_index, (code, description, price) in enumerate(PRODUCTS):
                quantity = weight * (1 + (day_index * 7 + p_index * 3 + c_index) % 5)
                returned = quantity // 20 if (day_index + p_index) % 6 == 0 else 0
                rows.append(
                    {
                        "date": day.isoformat(),
                        "month": day.isoformat()[:7],
                        "country": country,
                        "product_id": code,
                        "description": description,
                        "quantity": quantity,
                        "amount": price * quantity,
                        "returned_quantity": returned,
                        "returned_amount": price * returned,
                    }
                )
    return rows


def aggregate(lines: list[dict], group_by: str) -> list[dict]:
    """Group fact lines like GET /sales does."""
    keys = {
        "product": ("product_id", "description"),
        "day": ("date",),
        "month": ("month",),
        "country": ("country",),
    }[group_by]
    groups: dict[tuple, dict] = defaultdict(
        lambda: {"q": 0, "a": Decimal(0), "o": 0, "rq": 0, "ra": Decimal(0)}
    )
    for line in lines:
        g = groups[tuple(line[k] for k in keys)]
        g["q"] += line["quantity"]
        g["a"] += line["amount"]
        g["o"] += 1
        g["rq"] += line["returned_quantity"]
        g["ra"] += line["returned_amount"]
    return [
        {
            **dict(zip(keys, key, strict=True)),
            "total_quantity": g["q"],
            "total_sale_amount": money(g["a"]),
            "orders": g["o"],
            "returned_quantity": g["rq"],
            "returned_amount": money(g["ra"]),
        }
        for key, g in groups.items()
    ]


def totals(rows: list[dict]) -> dict:
    """Add up rows into ``meta.totals``."""
    return {
        "total_quantity": sum(r["total_quantity"] for r in rows),
        "total_sale_amount": money(sum((Decimal(r["total_sale_amount"]) for r in rows), ZERO)),
        "orders": sum(r["orders"] for r in rows),
        "returned_quantity": sum(r["returned_quantity"] for r in rows),
        "returned_amount": money(sum((Decimal(r["returned_amount"]) for r in rows), ZERO)),
    }


def sales_body(
    rows: list[dict],
    group_by: str = "product",
    *,
    limit: int = 100,
    offset: int = 0,
    total_rows: int | None = None,
    all_rows: list[dict] | None = None,
    refreshed: str | None = REFRESHED,
    last_run_id: int | None = 7,
    filters: dict | None = None,
    sort: str = "-total_sale_amount",
) -> dict:
    """Build a GET /sales body around ``rows`` (totals over ``all_rows``, default ``rows``)."""
    return {
        "data": rows,
        "meta": {
            "group_by": group_by,
            "filters": {
                "from": None,
                "to": None,
                "country": None,
                "product": None,
                **(filters or {}),
            },
            "sort": sort,
            "limit": limit,
            "offset": offset,
            "total_rows": len(rows) if total_rows is None else total_rows,
            "totals": totals(rows if all_rows is None else all_rows),
            "last_refreshed": refreshed if last_run_id else None,
            "last_run_id": last_run_id,
        },
    }


def run_object(run_id: int = 7, status: str = "succeeded", **changes: object) -> dict:
    """Build a run object as GET /etl-runs/<id> returns it."""
    finished = status in ("succeeded", "failed")
    run = {
        "id": run_id,
        "status": status,
        "mode": "incremental",
        "triggered_by": "api",
        "stage": "done" if finished else ("queued" if status == "queued" else "extract"),
        "created_at": "2011-12-10T05:59:58Z",
        "started_at": "2011-12-10T06:00:00Z",
        "finished_at": "2011-12-10T06:00:42Z" if finished else None,
        "heartbeat_at": "2011-12-10T06:00:40Z",
        "duration_seconds": 42.5 if finished else None,
        "rows_extracted": 541909,
        "rows_rejected": 10624,
        "rows_loaded": 531285,
        "duplicate_lines": 5268,
        "keys_inserted": 1000,
        "keys_updated": 10,
        "keys_deleted": 0,
        "watermark_before": None,
        "watermark_after": "2011-12-09T12:50:00Z",
        "error": None,
    }
    run.update(changes)
    return run


def error_body(code: str, message: str, **extra: object) -> dict:
    """Build the contract's error body."""
    return {"error": {"code": code, "message": message, **extra}}


def create_fake_backend(scenario: str = "normal", token: str | None = None) -> Flask:
    """Build the fake backend app for one scenario."""
    app = Flask("fake_backend")
    lines = [] if scenario == "empty" else facts()
    lock = threading.Lock()
    runs: list[dict] = (
        []
        if scenario == "empty"
        else [
            run_object(7),
            run_object(
                6,
                "failed",
                mode="full",
                rows_loaded=0,
                duration_seconds=3.1,
                error="source database unavailable: connection refused",
            ),
            run_object(5, rows_rejected=0, duration_seconds=12.0),
        ]
    )
    started: dict[int, float] = {}

    def advance(run: dict) -> dict:
        if run["id"] in started and run["status"] in ("queued", "running"):
            age = time.monotonic() - started[run["id"]]
            stage = "queued" if age < 1 else "extract" if age < 3 else "load" if age < 6 else "done"
            status = "running" if stage in ("extract", "load") else run["status"]
            run.update(stage=stage, status=status, rows_extracted=min(int(age * 90000), 541909))
            if stage == "done":
                finished_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                run.update(status="succeeded", rows_loaded=531285, duration_seconds=round(age, 1))
                run.update(finished_at=finished_at)
        return run

    @app.before_request
    def slow_down():
        if scenario == "slow":
            time.sleep(10)

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/sales")
    def sales():
        if scenario == "broken-sales":
            return error_body("internal_error", "warehouse query failed"), 500
        args = request.args
        chosen = [
            line
            for line in lines
            if (not args.get("from") or line["date"] >= args["from"])
            and (not args.get("to") or line["date"] <= args["to"])
            and (not args.get("country") or line["country"] == args["country"])
        ]
        group_by = args.get("group_by", "product")
        rows = aggregate(chosen, group_by)
        sort = args.get("sort") or (
            "-total_sale_amount"
            if group_by in ("product", "country")
            else {"day": "date", "month": "month"}[group_by]
        )
        field = sort.lstrip("-")
        numeric = field in ("total_sale_amount", "returned_amount")
        rows.sort(
            key=lambda r: Decimal(r[field]) if numeric else r[field], reverse=sort.startswith("-")
        )
        limit, offset = int(args.get("limit", 100)), int(args.get("offset", 0))
        page = rows[offset : offset + limit]
        if args.get("format") == "csv":
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=list(page[0]) if page else ["none"])
            writer.writeheader()
            writer.writerows(page)
            return Response(out.getvalue(), mimetype="text/csv")
        last = next((r for r in runs if r["status"] == "succeeded"), None)
        body = sales_body(
            page,
            group_by,
            limit=limit,
            offset=offset,
            total_rows=len(rows),
            all_rows=rows,
            sort=sort,
            last_run_id=last["id"] if last else None,
            refreshed=last and (last["finished_at"] or REFRESHED),
        )
        return jsonify(body)

    @app.post("/run-etl")
    def run_etl():
        if token and request.headers.get("Authorization") != f"Bearer {token}":
            return error_body("unauthorized", "a valid bearer token is required"), 401
        with lock:
            active = [advance(r) for r in runs if r["status"] in ("queued", "running")]
            if active:
                run_id = active[0]["id"]
                body = error_body(
                    "run_in_progress",
                    "a run is already in progress",
                    run_id=run_id,
                    location=f"/etl-runs/{run_id}",
                )
                return body, 409
            run = run_object(
                max([r["id"] for r in runs], default=0) + 1,
                "queued",
                mode=request.args.get("mode", "incremental"),
                rows_extracted=0,
                rows_rejected=0,
                rows_loaded=0,
                started_at=None,
            )
            runs.insert(0, run)
            started[run["id"]] = time.monotonic()
        return run, 202, {"Location": f"/etl-runs/{run['id']}", "Retry-After": "2"}

    @app.get("/etl-runs")
    def list_runs():
        limit, offset = int(request.args.get("limit", 20)), int(request.args.get("offset", 0))
        with lock:
            data = [advance(r) for r in runs[offset : offset + limit]]
        return {"data": data, "meta": {"limit": limit, "offset": offset, "total_rows": len(runs)}}

    @app.get("/etl-runs/<int:run_id>")
    def get_run(run_id: int):
        with lock:
            run = next((advance(r) for r in runs if r["id"] == run_id), None)
        if run is None:
            return error_body("not_found", f"no run {run_id}"), 404
        return run

    @app.get("/etl-runs/<int:run_id>/rejects")
    def rejects(run_id: int):
        if not any(r["id"] == run_id for r in runs):
            return error_body("not_found", f"no run {run_id}"), 404
        reasons = ["zero_price", "missing_customer", "bad_date"]
        rows = [
            {
                "source_id": 1000 + i,
                "reason": reasons[i % 3],
                "invoice_no": f"5{i:05d}",
                "stock_code": PRODUCTS[i % len(PRODUCTS)][0],
                "quantity": 1 + i % 4,
                "unit_price": "0.000" if i % 3 == 0 else "1.250",
                "invoice_date": None if i % 3 == 2 else "2011-12-01",
                "country": "United Kingdom",
            }
            for i in range(120)
        ]
        if request.args.get("reason"):
            rows = [r for r in rows if r["reason"] == request.args["reason"]]
        limit, offset = int(request.args.get("limit", 100)), int(request.args.get("offset", 0))
        by_reason = {name: sum(1 for i in range(120) if reasons[i % 3] == name) for name in reasons}
        meta = {"limit": limit, "offset": offset, "total_rows": len(rows), "by_reason": by_reason}
        return {"data": rows[offset : offset + limit], "meta": meta}

    return app


def main() -> None:
    """Serve the fake backend on localhost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument(
        "--scenario", default="normal", choices=["normal", "empty", "broken-sales", "slow"]
    )
    parser.add_argument("--token", default=None, help="require this bearer token on POST")
    args = parser.parse_args()
    create_fake_backend(args.scenario, args.token).run("127.0.0.1", args.port, threaded=True)


if __name__ == "__main__":
    main()

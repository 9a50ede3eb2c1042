"""ETL benchmark (not a test): this pipeline beside three references, measured in one run.

Usage: .venv/bin/python bench/etl_bench.py [--rows 1000000]

(a) naive: pandas.read_sql of the whole table, groupby, insert the aggregates;
(b) the same aggregation as one GROUP BY inside PostgreSQL;
(c) the wire limit: psql COPY of the columns the pipeline reads, to /dev/null.
Each is timed in its own child process (interpreter start-up excluded, except for (c)), which
also reports its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "backend")]

from tests import dbtools  # noqa: E402

PIPELINE_COLUMNS = (
    "id, invoice_no, stock_code, description, quantity, invoice_date::text, unit_price::text, "
    "customer_id, country"
)
GROUP_BY_SQL = """
    SELECT stock_code, invoice_date::date, country, sum(quantity), sum(quantity * unit_price),
           count(DISTINCT invoice_no)
    FROM online_sales
    WHERE invoice_no NOT LIKE 'C%' AND quantity > 0 AND unit_price > 0
    GROUP BY 1, 2, 3"""


def child(kind: str, source_url: str, warehouse_url: str) -> dict:
    """Run one measured job in this process and return its figures."""
    from retail_backend.config import Settings
    from retail_backend.etl import pipeline

    settings = Settings(source_db_url=source_url, warehouse_db_url=warehouse_url)
    start = time.perf_counter()
    extra: dict = {}
    if kind.startswith("pipeline"):
        record = pipeline.run(settings, mode="full" if kind == "pipeline-full" else "incremental")
        assert record["status"] == "succeeded", record["error_message"]
        extra = {
            "lines": record["rows_extracted"],
            "keys": record["keys_inserted"] + record["keys_updated"],
        }
    elif kind == "naive":
        import warnings

        import pandas as pd
        import psycopg
        import pymysql

        warnings.simplefilter("ignore")
        with psycopg.connect(source_url) as conn:
            frame = pd.read_sql("SELECT * FROM online_sales", conn)
        sales = frame[
            ~frame.invoice_no.str.startswith("C") & (frame.quantity > 0) & (frame.unit_price > 0)
        ].copy()
        sales["day"] = sales.invoice_date.dt.date
        sales["revenue"] = sales.quantity * sales.unit_price
        grouped = (
            sales.groupby(["stock_code", "day", "country"])
            .agg(
                units=("quantity", "sum"),
                revenue=("revenue", "sum"),
                orders=("invoice_no", "nunique"),
            )
            .reset_index()
        )
        url = dbtools.WarehouseDB(warehouse_url.rsplit("/", 1)[1])
        conn = url.connect(autocommit=False)
        with conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE naive_sales (stock_code VARCHAR(64), day DATE, "
                "country VARCHAR(64), units BIGINT, revenue DECIMAL(20,3), orders INT)"
            )
            rows = [tuple(r) for r in grouped.itertuples(index=False)]
            for i in range(0, len(rows), 10_000):
                cur.executemany(
                    "INSERT INTO naive_sales VALUES (%s,%s,%s,%s,%s,%s)", rows[i : i + 10_000]
                )
        conn.commit()
        conn.close()
        del pymysql
        extra = {"lines": len(frame), "keys": len(grouped)}
    elif kind == "group-by":
        import psycopg

        with psycopg.connect(source_url) as conn:
            extra = {"keys": len(conn.execute(GROUP_BY_SQL).fetchall())}
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rss_mb": rss_mb, **extra}


def measure(kind: str, source, warehouse) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, source.url, warehouse.url],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def wire_limit(source) -> dict:
    start = time.perf_counter()
    subprocess.run(
        [
            "psql",
            "-X",
            "-q",
            "-h",
            dbtools.PG_HOST,
            "-U",
            dbtools.PG_USER,
            "-d",
            source.name,
            "-c",
            f"COPY (SELECT {PIPELINE_COLUMNS} FROM online_sales) TO STDOUT",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return {"seconds": time.perf_counter() - start, "rss_mb": float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SOURCE", "WAREHOUSE"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    source = dbtools.create_source_db(seeded=True, prefix="bench_src")
    warehouse = dbtools.create_warehouse_db(prefix="bench_dw")
    naive_dw = dbtools.create_warehouse_db(prefix="bench_naive")
    try:
        print(f"generating {args.rows:,} source lines ...", flush=True)
        with source.connect(autocommit=True) as conn:
            conn.execute("TRUNCATE online_sales, online_sales_changes RESTART IDENTITY")
            conn.execute("SELECT generate_online_sales(%s)", (args.rows,))
            conn.execute("VACUUM ANALYZE online_sales")
        results = {
            "(c) wire limit: psql COPY": wire_limit(source),
            "(b) one GROUP BY in PostgreSQL": measure("group-by", source, warehouse),
            "(a) naive read_sql+groupby+insert": measure("naive", source, naive_dw),
            "pipeline: full run": measure("pipeline-full", source, warehouse),
            "pipeline: incremental, no change": measure("pipeline-incremental", source, warehouse),
        }
        with source.connect(autocommit=True) as conn:  # 1% new lines in the last 7 days
            conn.execute(
                "INSERT INTO online_sales (invoice_no, stock_code, description, quantity, "
                "invoice_date, unit_price, customer_id, country) "
                "SELECT 'N' || invoice_no, stock_code, description, quantity, "
                "invoice_date + interval '1 minute', unit_price, customer_id, country "
                "FROM online_sales WHERE invoice_date > (SELECT max(invoice_date) - "
                "interval '7 days' FROM online_sales) ORDER BY id LIMIT %s",
                (args.rows // 100,),
            )
        results["pipeline: incremental, +1% in last 7 days"] = measure(
            "pipeline-incremental", source, warehouse
        )
    finally:
        source.drop()
        warehouse.drop()
        naive_dw.drop()
    wire = results["(c) wire limit: psql COPY"]["seconds"]
    full = results["pipeline: full run"]["seconds"]
    print(f"\nN = {args.rows:,} source lines\n")
    print(f"{'job':<45}{'seconds':>9}{'lines/s':>12}{'peak RSS MB':>13}{'x wire':>8}{'x full':>8}")
    for name, r in results.items():
        print(
            f"{name:<45}{r['seconds']:>9.2f}{args.rows / r['seconds']:>12,.0f}"
            f"{r['rss_mb']:>13.0f}{r['seconds'] / wire:>8.2f}{r['seconds'] / full:>8.3f}"
        )
    naive = results["(a) naive read_sql+groupby+insert"]["seconds"]
    print(f"\nfull run is {naive / full:.2f}x faster than (a) and {full / wire:.2f}x (c)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()

"""ETL benchmark (not a test): this pipeline beside three references, measured in one run.

Usage: .venv/bin/python bench/etl_bench.py [--rows 1000000 [5000000 ...]] [--repeat 3]
       .venv/bin/python bench/etl_bench.py --rows 1000000 20000000 --no-change-only

(a) naive: pandas.read_sql of the whole table, groupby, insert the aggregates;
(b) the same aggregation as one GROUP BY inside PostgreSQL;
(c) the wire limit: psql COPY of the columns the pipeline reads, to /dev/null.
Each job runs in its own child process (interpreter start-up excluded, except for (c)), which
also reports its peak RSS. The jobs run in interleaved rounds, so a slow spell of a shared
machine hits all of them alike; the table gives each job's best and median seconds, its
ratio to the best (c), and the highest peak RSS of its rounds.

Beside them: ``verify`` (compare the warehouse with the source, load nothing), and a run with no
change: on the table as an import leaves it (not analyzed, autovacuum off, so nothing analyzes
it behind the benchmark's back), after VACUUM ANALYZE, and as a long-lived process's second run
(the first run of a process also pays for loading the drivers and TLS set-up).
``--no-change-only`` measures just those (one full run first, for the watermark), which is what
the 20M figure needs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
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
ADD_ONE_PERCENT = """
    INSERT INTO online_sales (invoice_no, stock_code, description, quantity, invoice_date,
                              unit_price, customer_id, country)
    SELECT %s || invoice_no, stock_code, description, quantity,
           invoice_date + interval '1 minute', unit_price, customer_id, country
    FROM online_sales
    WHERE invoice_date > (SELECT max(invoice_date) - interval '7 days' FROM online_sales)
    ORDER BY id LIMIT %s"""
WIRE = "(c) wire limit: psql COPY"
FULL = "pipeline: full run, empty warehouse"
NO_CHANGE_RAW = "pipeline: no change, table not analyzed"
NO_CHANGE = "pipeline: incremental, no change"
NO_CHANGE_WARM = "pipeline: no change, process's second run"


def child(kind: str, source_url: str, warehouse_url: str) -> dict:
    """Run one measured job in this process and return its figures."""
    from retail_backend.config import Settings
    from retail_backend.etl import pipeline

    settings = Settings(source_db_url=source_url, warehouse_db_url=warehouse_url)
    if kind == "incremental-warm":  # as in a long-lived worker: the process's first run untimed
        pipeline.run(settings)
        kind = "incremental"
    start = time.perf_counter()
    if kind in ("full", "incremental", "verify"):
        record = pipeline.run(settings, mode=kind)
        assert record["status"] == "succeeded", record["error_message"]
    elif kind == "naive":
        naive(source_url, warehouse_url)
    elif kind == "group-by":
        import psycopg

        with psycopg.connect(source_url) as conn:
            conn.execute(GROUP_BY_SQL).fetchall()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def naive(source_url: str, warehouse_url: str) -> None:
    """Reference (a): the whole table in one DataFrame, groupby, multi-row inserts."""
    import warnings

    import pandas as pd
    import psycopg

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
    conn = dbtools.WarehouseDB(warehouse_url.rsplit("/", 1)[1]).connect(autocommit=False)
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS naive_sales")
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
        ["psql", "-X", "-q", "-h", dbtools.PG_HOST, "-U", dbtools.PG_USER, "-d", source.name]
        + ["-c", f"COPY (SELECT {PIPELINE_COLUMNS} FROM online_sales) TO STDOUT"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return {"seconds": time.perf_counter() - start, "rss_mb": float("nan")}


def generate(source, rows: int) -> None:
    """Replace the source's lines with ``rows`` generated ones, left as an import leaves them."""
    print(f"generating {rows:,} source lines ...", flush=True)
    with source.connect(autocommit=True) as conn:
        conn.execute("ALTER TABLE online_sales SET (autovacuum_enabled = false)")
        conn.execute("TRUNCATE online_sales, online_sales_changes RESTART IDENTITY")
        conn.execute("SELECT generate_online_sales(%s)", (rows,))


def no_change_rounds(source, warehouse, repeat: int, results: dict) -> None:
    """Runs with no change, before and after the table is analyzed (one full run first)."""
    measure("full", source, warehouse)
    for _ in range(repeat):
        results.setdefault(NO_CHANGE_RAW, []).append(measure("incremental", source, warehouse))
    with source.connect(autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE online_sales")


def bench(rows: int, repeat: int, no_change_only: bool = False) -> dict[str, list[dict]]:
    """Generate ``rows`` source lines and run every job ``repeat`` times, interleaved."""
    source = dbtools.create_source_db(seeded=True, prefix="bench_src")
    naive_dw = dbtools.create_warehouse_db(prefix="bench_naive")
    results: dict[str, list[dict]] = {}
    try:
        generate(source, rows)
        warehouse = dbtools.create_warehouse_db(prefix="bench_dw")
        no_change_rounds(source, warehouse, repeat, results)
        if no_change_only:
            for _ in range(repeat):
                results.setdefault(NO_CHANGE, []).append(measure("incremental", source, warehouse))
                results.setdefault(NO_CHANGE_WARM, []).append(
                    measure("incremental-warm", source, warehouse)
                )
            warehouse.drop()
            return results
        for round_ in range(repeat):
            print(f"round {round_ + 1} of {repeat} ...", flush=True)
            warehouse.drop()
            warehouse = dbtools.create_warehouse_db(prefix="bench_dw")
            jobs = (
                (WIRE, None, None),
                ("(b) one GROUP BY in PostgreSQL", "group-by", warehouse),
                ("(a) naive read_sql+groupby+insert", "naive", naive_dw),
                (FULL, "full", warehouse),
                (NO_CHANGE, "incremental", warehouse),
                (NO_CHANGE_WARM, "incremental-warm", warehouse),
                ("pipeline: verify (compare, load nothing)", "verify", warehouse),
            )
            for name, kind, target in jobs:
                figures = wire_limit(source) if kind is None else measure(kind, source, target)
                results.setdefault(name, []).append(figures)
        for round_ in range(repeat):  # each round adds 1% new lines dated in the last 7 days
            with source.connect(autocommit=True) as conn:
                conn.execute(ADD_ONE_PERCENT, (f"N{round_}", rows // 100))
            results.setdefault("pipeline: incremental, +1% in last 7 days", []).append(
                measure("incremental", source, warehouse)
            )
        for _ in range(repeat):  # a rebuild over the loaded warehouse: compare, not append
            results.setdefault("pipeline: full run over a loaded warehouse", []).append(
                measure("full", source, warehouse)
            )
        warehouse.drop()
    finally:
        source.drop()
        naive_dw.drop()
    return results


def report(rows: int, results: dict[str, list[dict]]) -> None:
    best = {name: min(r["seconds"] for r in runs) for name, runs in results.items()}
    print(f"\nN = {rows:,} source lines, {len(results[NO_CHANGE])} rounds\n")
    wire, full = best.get(WIRE), best.get(FULL)
    print(
        f"{'job':<46}{'best s':>8}{'median s':>10}{'lines/s':>12}{'peak RSS MB':>13}"
        f"{'x wire':>8}{'x full':>8}"
    )
    for name, runs in results.items():
        median = statistics.median(r["seconds"] for r in runs)
        rss = max(r["rss_mb"] for r in runs)
        ratios = "".join(
            f"{best[name] / ref:>8.3f}" if ref else f"{'-':>8}" for ref in (wire, full)
        )
        print(
            f"{name:<46}{best[name]:>8.3f}{median:>10.3f}{rows / best[name]:>12,.0f}"
            f"{rss:>13.0f}{ratios}"
        )
    if full is not None:
        naive = best["(a) naive read_sql+groupby+insert"]
        print(
            f"\nfull run: {naive / full:.2f}x faster than (a), {full / wire:.2f}x the time of (c)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-change-only", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SOURCE", "WAREHOUSE"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    peak, no_change = {}, {}
    for rows in args.rows:
        results = bench(rows, args.repeat, args.no_change_only)
        report(rows, results)
        no_change[rows] = {
            n: min(r["seconds"] for r in results[n])
            for n in (NO_CHANGE_RAW, NO_CHANGE, NO_CHANGE_WARM)
        }
        if FULL in results:
            peak[rows] = max(r["rss_mb"] for r in results[FULL])
    smallest = min(args.rows)
    if len(args.rows) > 1:
        for rows in args.rows:
            line = ", ".join(
                f"{name.split(', ', 1)[1]} {s:.3f} s ({s / no_change[smallest][name]:.2f}x)"
                for name, s in no_change[rows].items()
            )
            print(f"no-change run at {rows:,} lines: {line} of the {smallest:,} figure")
    if len(peak) > 1:
        for rows, rss in peak.items():
            print(
                f"full run peak RSS at {rows:,} lines: {rss:.0f} MB, {rss / peak[min(peak)]:.2f}x"
            )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()

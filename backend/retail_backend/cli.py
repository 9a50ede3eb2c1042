"""Command line: ``flask etl run | verify | runs | import-csv``, run from ``backend/``."""

from __future__ import annotations

import json
import sys

import click
import psycopg
from flask import Flask, current_app
from flask.cli import AppGroup

from .etl import pipeline
from .etl.runs import RunInProgress, WarehouseOutdated

etl = AppGroup("etl", help="Run the ETL, list its runs, import CSV exports.")


def _settings():
    return current_app.extensions["retail"].settings


def _print_json(value) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def _run_or_refuse(mode: str) -> dict:
    """Run once and return the record; exit 2 when the run cannot start."""
    try:
        return pipeline.run(_settings(), mode=mode, triggered_by="cli")
    except RunInProgress as exc:
        click.echo(f"Refused: run {exc.run_id} is already in progress.", err=True)
    except WarehouseOutdated as exc:
        click.echo(f"Refused: {exc}.", err=True)
    sys.exit(2)


@etl.command("run")
@click.option(
    "--mode", type=click.Choice(pipeline.LOADING_MODES), default="incremental", show_default=True
)
def run_command(mode: str) -> None:
    """Run the ETL once and print the run record."""
    record = _run_or_refuse(mode)
    _print_json(record)
    sys.exit(0 if record["status"] == "succeeded" else 1)


@etl.command("verify")
@click.option("--repair", is_flag=True, help="Rebuild exactly the days that differ.")
@click.option("--json", "as_json", is_flag=True, help="Print the run record as JSON.")
def verify_command(repair: bool, as_json: bool) -> None:
    """Compare the warehouse with the source, per day; exit 1 if a day differs.

    Loads nothing unless --repair is given, which rebuilds the differing days under the run
    lock (a run of mode "repair").
    """
    mode = "repair" if repair else "verify"
    record = _run_or_refuse(mode)
    if record["status"] != "succeeded":
        click.echo(f"The {mode} run {record['id']} failed: {record['error_message']}", err=True)
        sys.exit(2)
    findings = json.loads(record["result"])
    if as_json:
        _print_json({**record, "result": findings})
    else:
        click.echo(describe_findings(findings, repaired=repair))
    sys.exit(1 if findings["days_differing"] and not repair else 0)


def describe_findings(findings: dict, repaired: bool) -> str:
    """Say which days differ and how, one line per row that differs."""
    count = findings["days_differing"]
    head = (
        f"{count} of {findings['days_checked']} days differ from the source"
        + (" and were rebuilt" if repaired and count else "")
        + (
            f"; {findings['days_pending']} changed days await the next run"
            if findings["days_pending"]
            else ""
        )
        + "."
    )
    lines = [head]
    for detail in findings["details"]:
        lines.append(
            f"{detail['day']}:" + (" no longer in the source" if detail["vanished"] else "")
        )
        for grain in ("countries", "products"):
            for row in detail[grain]:
                where = " ".join(str(row[k]) for k in ("country", "stock_code") if k in row)
                lines.append(f"  {where}: source {row['source']}, warehouse {row['warehouse']}")
    rest = findings["days"][len(findings["details"]) :]
    if rest:
        lines.append(f"and {len(rest)} more days: {', '.join(rest)}")
    return "\n".join(lines)


@etl.command("runs")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def runs_command(limit: int) -> None:
    """List the newest runs."""
    import pymysql

    from .db import connect_warehouse
    from .etl.runs import RUN_COLUMNS

    conn = connect_warehouse(_settings(), autocommit=True)
    try:
        with conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute(f"SELECT {RUN_COLUMNS} FROM etl_runs ORDER BY id DESC LIMIT %s", (limit,))
            rows = cur.fetchall()
    finally:
        conn.close()
    for row in rows:
        click.echo(
            f"{row['id']:>6}  {row['status']:<9}  {row['mode']:<11}  {row['stage']:<7}  "
            f"{row['created_at']:%Y-%m-%d %H:%M:%S}  extracted={row['rows_extracted']}  "
            f"rejected={row['rows_rejected']}  loaded={row['rows_loaded']}"
            + (f"  error={row['error_message']}" if row["error_message"] else "")
        )


@etl.command("import-csv")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_csv_command(path: str) -> None:
    """Import an "Online Retail" CSV export into the source table."""
    from .importer import import_csv
    from .importer.import_report import CsvImportError, format_report

    try:
        report = import_csv(_settings(), path)
    except CsvImportError as exc:
        click.echo(f"Nothing imported from {path}: {exc}", err=True)
        sys.exit(1)
    except psycopg.Error as exc:  # the database failed, not the file: nothing was committed
        click.echo(f"Nothing imported from {path}: database error: {exc}", err=True)
        sys.exit(1)
    click.echo(format_report(report))


def init_app(app: Flask) -> None:
    """Register the ``etl`` command group."""
    app.cli.add_command(etl)

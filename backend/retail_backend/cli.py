"""Command line: ``flask etl run | runs | import-csv``, run from ``backend/``."""

from __future__ import annotations

import json
import sys

import click
import psycopg
from flask import Flask, current_app
from flask.cli import AppGroup

from .etl import pipeline
from .etl.runs import RunInProgress

etl = AppGroup("etl", help="Run the ETL, list its runs, import CSV exports.")


def _settings():
    return current_app.extensions["retail"].settings


def _print_json(value) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


@etl.command("run")
@click.option("--mode", type=click.Choice(pipeline.MODES), default="incremental", show_default=True)
def run_command(mode: str) -> None:
    """Run the ETL once and print the run record."""
    try:
        record = pipeline.run(_settings(), mode=mode, triggered_by="cli")
    except RunInProgress as exc:
        click.echo(f"Refused: run {exc.run_id} is already in progress.", err=True)
        sys.exit(2)
    _print_json(record)
    sys.exit(0 if record["status"] == "succeeded" else 1)


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
    from .etl.import_report import CsvImportError, format_report
    from .etl.importer import import_csv

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

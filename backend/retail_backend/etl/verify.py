"""Compare the warehouse with the source, day by day, without loading anything.

The source is read and transformed exactly as a full run reads it (the same windows, the same
pandas transform), and each window's aggregates are compared with the warehouse's rows for the
same days, at both grains: day x country (units, revenue, orders, returns, return orders) and
day x country x product. A day differs when any of its rows does, or when the warehouse holds
a day the source no longer has. Days an incremental run would rebuild anyway (changed since the
watermark) are pending, not differing.

Finds what the row triggers cannot see: changes made with ``session_replication_role =
replica``, with the triggers disabled, or on another path into the table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pymysql

from .aggregate import KEY_COUNTRY, KEY_PRODUCT
from .extract import SourceReader, Window
from .transform import transform_chunk

COUNTRY_MEASURES = [
    "units_sold",
    "revenue_milli",
    "orders",
    "units_returned",
    "returns_value_milli",
    "return_orders",
]
PRODUCT_MEASURES = COUNTRY_MEASURES[:-1]
DETAIL_DAYS = 50  # days described in full in the result
DETAIL_ROWS = 20  # differing rows described per day and grain
EPOCH_TO_DAYS = 719528  # TO_DAYS('1970-01-01'): days since 1970 from a DATE, in both servers

_WAREHOUSE_SQL = {
    "country": f"""
        SELECT TO_DAYS(f.sale_date) - {EPOCH_TO_DAYS}, c.name, f.units_sold,
               CAST(f.revenue * 1000 AS SIGNED), f.orders, f.units_returned,
               CAST(f.returns_value * 1000 AS SIGNED), f.return_orders
        FROM daily_country_sales f JOIN countries c ON c.country_key = f.country_key
        WHERE f.sale_date BETWEEN %s AND %s""",
    "product": f"""
        SELECT TO_DAYS(f.sale_date) - {EPOCH_TO_DAYS}, c.name, p.stock_code, f.units_sold,
               CAST(f.revenue * 1000 AS SIGNED), f.orders, f.units_returned,
               CAST(f.returns_value * 1000 AS SIGNED)
        FROM daily_product_sales f JOIN countries c ON c.country_key = f.country_key
        JOIN products p ON p.product_key = f.product_key
        WHERE f.sale_date BETWEEN %s AND %s""",
}
_GRAINS = {"country": (KEY_COUNTRY, COUNTRY_MEASURES), "product": (KEY_PRODUCT, PRODUCT_MEASURES)}


@dataclass
class Findings:
    """What a verify found; ``as_json`` is what the run record keeps."""

    days_checked: int = 0
    lines_read: int = 0
    differing: dict[dt.date, dict[str, list[dict]]] = field(default_factory=dict)
    pending: set[dt.date] = field(default_factory=set)

    @property
    def days(self) -> list[dt.date]:
        return sorted(self.differing)

    def as_json(self) -> dict:
        return {
            "days_differing": len(self.differing),
            "days_checked": self.days_checked,
            "days_pending": len(self.pending),
            "days": [day.isoformat() for day in self.days],
            "details": [
                {"day": day.isoformat(), **self.differing[day]} for day in self.days[:DETAIL_DAYS]
            ],
        }


def verify(
    reader: SourceReader,
    warehouse: pymysql.connections.Connection,
    chunk_rows: int,
    pending: set[dt.date] | None = None,
) -> Findings:
    """Compare every day of the source with the warehouse; ``pending`` days are not compared."""
    findings = Findings(pending=set(pending or ()))
    source_days: set[dt.date] = set()
    for window, lines in reader.stream(reader.plan_windows(None, chunk_rows)):
        findings.lines_read += len(lines)
        if window.first is None:  # undated lines are all rejected: no aggregate to compare
            continue
        days = _days(window)
        source_days |= days
        result = transform_chunk(lines)
        for grain, expected in (
            ("country", result.country_sales),
            ("product", result.product_sales),
        ):
            actual = _warehouse_rows(warehouse, grain, window)
            _record(findings, grain, expected, actual)
    for day in _warehouse_days(warehouse) - source_days:
        _entry(findings, day)["vanished"] = True
    for day in findings.pending:
        findings.differing.pop(day, None)
    findings.days_checked = len(source_days)
    return findings


def _days(window: Window) -> set[dt.date]:
    count = (window.last - window.first).days + 1
    return {window.first + dt.timedelta(days=i) for i in range(count)}


def _warehouse_rows(conn, grain: str, window: Window) -> pd.DataFrame:
    keys, measures = _GRAINS[grain]
    with conn.cursor() as cur:
        cur.execute(_WAREHOUSE_SQL[grain], (window.first, window.last))
        rows = cur.fetchall()
    frame = pd.DataFrame(list(rows), columns=[*keys, *measures])
    for key in keys[1:]:  # VARBINARY: UTF-8 bytes
        frame[key] = [bytes(v).decode("utf-8") for v in frame[key]]
    return frame


def _warehouse_days(conn) -> set[dt.date]:
    with conn.cursor() as cur:
        cur.execute("SELECT DISTINCT sale_date FROM daily_country_sales")
        return {row[0] for row in cur.fetchall()}


def _normalised(frame: pd.DataFrame, keys: list[str], measures: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({k: frame[k].astype(object).map(str) for k in keys[1:]})
    out.insert(0, "day", frame["day"].to_numpy(dtype=np.int64))
    for measure in measures:  # nullable: an outer merge must not turn them into floats
        out[measure] = pd.array(frame[measure].to_numpy(dtype=np.int64), dtype="Int64")
    return out


def _entry(findings: Findings, day: dt.date) -> dict:
    return findings.differing.setdefault(day, {"vanished": False, "countries": [], "products": []})


def _record(findings: Findings, grain: str, expected, actual) -> None:
    """Add the rows where the source's and the warehouse's aggregates differ."""
    keys, measures = _GRAINS[grain]
    merged = _normalised(expected, keys, measures).merge(
        _normalised(actual, keys, measures),
        on=keys,
        how="outer",
        suffixes=("_source", "_warehouse"),
        indicator=True,
    )
    differs = (merged["_merge"] != "both").to_numpy().copy()
    for measure in measures:
        unequal = merged[f"{measure}_source"] != merged[f"{measure}_warehouse"]
        differs |= unequal.fillna(True).to_numpy(dtype=bool)
    for row in merged[differs].to_dict("records"):
        day = dt.date(1970, 1, 1) + dt.timedelta(days=int(row["day"]))
        listed = _entry(findings, day)["countries" if grain == "country" else "products"]
        if len(listed) < DETAIL_ROWS:
            listed.append(_describe(row, keys, measures))


def _describe(values: dict, keys: list[str], measures: list[str]) -> dict:
    def side(suffix: str) -> dict | None:
        figures = {m: values[f"{m}_{suffix}"] for m in measures}
        if any(pd.isna(v) for v in figures.values()):
            return None
        return {m: int(v) for m, v in figures.items()}

    described = {k: values[k] for k in keys[1:]}
    described["source"] = side("source")
    described["warehouse"] = side("warehouse")
    return described

"""Load a run's aggregates into the warehouse, atomically and idempotently.

Chunks are staged in temporary tables as they arrive; at the end one transaction replaces the
touched keys (update what changed, insert what is new, delete what vanished), records the
rejects, moves the watermark and finishes the run. Readers see the old aggregates or the new.
A run with no source change writes nothing, so the tables stay identical row for row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import Settings
from ..db import connect_warehouse
from .runs import LockLost, Progress
from .transform import MAX_TEXT, PRICE_SCALE, ChunkResult

INSERT_BATCH = 20_000
# products.description is VARCHAR(255): a longer description is cut to its first 255
# characters. It only labels a product (no key, no figure), so no line is rejected for it; stock
# codes and countries are keys and are rejected instead when too long (text_too_long).
DESCRIPTION_LENGTH = 255
_MEASURES = (
    "sale_lines, units_sold, revenue_milli, orders, return_lines, units_returned, "
    "returns_value_milli"
)
_STAGING = (
    """CREATE TEMPORARY TABLE stage_product_sales (
        sale_date DATE NOT NULL, country_key INT UNSIGNED NOT NULL,
        product_key INT UNSIGNED NOT NULL, sale_lines BIGINT NOT NULL, units_sold BIGINT NOT NULL,
        revenue_milli BIGINT NOT NULL, orders BIGINT NOT NULL, return_lines BIGINT NOT NULL,
        units_returned BIGINT NOT NULL, returns_value_milli BIGINT NOT NULL,
        PRIMARY KEY (sale_date, country_key, product_key)) ENGINE=InnoDB""",
    """CREATE TEMPORARY TABLE stage_country_sales (
        sale_date DATE NOT NULL, country_key INT UNSIGNED NOT NULL, sale_lines BIGINT NOT NULL,
        units_sold BIGINT NOT NULL, revenue_milli BIGINT NOT NULL, orders BIGINT NOT NULL,
        return_lines BIGINT NOT NULL, units_returned BIGINT NOT NULL,
        returns_value_milli BIGINT NOT NULL, return_orders BIGINT NOT NULL,
        PRIMARY KEY (sale_date, country_key)) ENGINE=InnoDB""",
    """CREATE TEMPORARY TABLE stage_days (sale_date DATE NOT NULL PRIMARY KEY) ENGINE=InnoDB""",
)


@dataclass(frozen=True)
class FactTable:
    """A fact table, its staging twin and its key columns."""

    name: str
    stage: str
    keys: tuple[str, ...]
    counts: tuple[str, ...]  # integer measures, copied as they are
    money: tuple[str, ...]  # DECIMAL measures, staged in thousandths

    def _columns(self) -> str:
        return ", ".join((*self.keys, *self.counts, *self.money))

    def _staged_values(self) -> str:
        money = (f"CAST(s.{m}_milli AS DECIMAL(24, 0)) / {PRICE_SCALE}" for m in self.money)
        return ", ".join((*(f"s.{k}" for k in self.keys), *(f"s.{c}" for c in self.counts), *money))

    def _join(self) -> str:
        return " AND ".join(f"f.{k} = s.{k}" for k in self.keys)

    def update_sql(self) -> str:
        pairs = [(c, f"s.{c}") for c in self.counts] + [
            (m, f"CAST(s.{m}_milli AS DECIMAL(24, 0)) / {PRICE_SCALE}") for m in self.money
        ]
        sets = ", ".join(f"f.{c} = {v}" for c, v in pairs)
        same = " AND ".join(f"f.{c} = {v}" for c, v in pairs)
        return (
            f"UPDATE {self.name} f JOIN {self.stage} s ON {self._join()} "
            f"SET {sets} WHERE NOT ({same})"
        )

    def insert_sql(self) -> str:
        return (
            f"INSERT INTO {self.name} ({self._columns()}) SELECT {self._staged_values()} "
            f"FROM {self.stage} s LEFT JOIN {self.name} f ON {self._join()} "
            f"WHERE f.{self.keys[0]} IS NULL"
        )

    def delete_sql(self, full: bool) -> str:
        scope = "" if full else "JOIN stage_days d ON d.sale_date = f.sale_date "
        return (
            f"DELETE f FROM {self.name} f {scope}LEFT JOIN {self.stage} s ON {self._join()} "
            f"WHERE s.{self.keys[0]} IS NULL"
        )


_COMMON_COUNTS = ("sale_lines", "units_sold", "orders", "return_lines", "units_returned")
FACT_TABLES = (
    FactTable(
        "daily_product_sales",
        "stage_product_sales",
        ("sale_date", "country_key", "product_key"),
        _COMMON_COUNTS,
        ("revenue", "returns_value"),
    ),
    FactTable(
        "daily_country_sales",
        "stage_country_sales",
        ("sale_date", "country_key"),
        (*_COMMON_COUNTS, "return_orders"),
        ("revenue", "returns_value"),
    ),
)


@dataclass
class KeyCounts:
    """Aggregate rows a run changed."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0


_KEY_COLUMNS = {"day": "sale_date", "country": "country_key", "stock_code": "product_key"}


def thousandths_text(milli: pd.Series) -> pd.Series:
    """Write int64 thousandths as exact decimal text (``-1234`` -> ``-1.234``) for a VALUES list."""
    values = milli.to_numpy(dtype=np.int64)
    whole, fraction = np.divmod(np.abs(values), PRICE_SCALE)
    sign = pd.Series(np.where(values < 0, "-", ""), index=milli.index)
    fraction_text = pd.Series(fraction, index=milli.index).astype(str).str.zfill(3)
    return sign + pd.Series(whole, index=milli.index).astype(str) + "." + fraction_text


def day_numbers_to_yyyymmdd(days: pd.Series) -> np.ndarray:
    """Turn days since 1970-01-01 into YYYYMMDD integers, a DATE literal MySQL accepts."""
    dates = days.to_numpy(dtype="int64").astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    years = months.astype("datetime64[Y]").astype("int64") + 1970
    month = months.astype("int64") % 12 + 1
    day = (dates - months).astype("int64") + 1
    return years * 10_000 + month * 100 + day


class WarehouseLoad:
    """One run's load connection: staging as chunks arrive, then one atomic merge.

    Chunks are staged by one writer thread, so MySQL stores a chunk while the next one is
    transformed; the caller waits for the previous chunk before queueing the next, which keeps
    at most one chunk's aggregates waiting in memory.
    """

    def __init__(self, settings: Settings, run_id: int, full: bool) -> None:
        self.run_id = run_id
        self.full = full
        self.conn = connect_warehouse(settings, read_timeout=settings.etl_read_timeout)
        self._descriptions: dict[str, tuple[int, str]] = {}
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="etl-stage")
        self._staging: Future | None = None
        with self.conn.cursor() as cur:
            for ddl in _STAGING:
                cur.execute(ddl)
        self.conn.begin()
        # A full run into empty fact tables (the first load) writes them directly: there is
        # nothing to compare with, and it saves copying every key a second time.
        self.direct = full and not self._facts_hold_rows()
        self._direct_inserts = 0
        self._products = self._dimension("SELECT stock_code, product_key FROM products")
        self._countries = self._dimension("SELECT name, country_key FROM countries")

    def _facts_hold_rows(self) -> bool:
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT "
                + " OR ".join(f"EXISTS (SELECT 1 FROM {fact.name})" for fact in FACT_TABLES)
            )
            return bool(cur.fetchone()[0])

    def _dimension(self, sql: str) -> dict[str, int]:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return {bytes(name).decode("utf-8"): key for name, key in cur.fetchall()}

    def _keys(self, values: pd.Series, table: str, column: str, known: dict[str, int]) -> pd.Series:
        new = sorted(set(values.unique()) - known.keys())
        if new:
            with self.conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {table} ({column}) VALUES (%s)", [(v.encode(),) for v in new]
                )
            key_column = "product_key" if table == "products" else "country_key"
            known.update(self._dimension(f"SELECT {column}, {key_column} FROM {table}"))
        return values.map(known).astype("int64")

    def stage_days(self, days: Iterable[dt.date]) -> None:
        """Declare the days an incremental run rebuilds (their old keys may be deleted)."""
        rows = [(d,) for d in days]
        with self.conn.cursor() as cur:
            for start in range(0, len(rows), INSERT_BATCH):
                cur.executemany(
                    "INSERT INTO stage_days VALUES (%s)", rows[start : start + INSERT_BATCH]
                )

    def stage(self, result: ChunkResult) -> None:
        """Queue one chunk for staging, once the previous one is written (its error raises here)."""
        self._finish_staging()
        self._staging = self._writer.submit(self._stage_chunk, result)

    def _finish_staging(self) -> None:
        staging, self._staging = self._staging, None
        if staging is not None:
            staging.result()

    def _stage_chunk(self, result: ChunkResult) -> None:
        for frame, fact in zip(
            (result.product_sales, result.country_sales), FACT_TABLES, strict=True
        ):
            if frame.empty:
                continue
            staged = frame.copy()
            staged["day"] = day_numbers_to_yyyymmdd(staged["day"])
            staged["country"] = self._keys(staged["country"], "countries", "name", self._countries)
            if "stock_code" in staged:
                staged["stock_code"] = self._keys(
                    staged["stock_code"], "products", "stock_code", self._products
                )
            staged.columns = [_KEY_COLUMNS.get(c, c) for c in staged.columns]
            # In key order, InnoDB appends to its clustered index instead of splitting pages.
            staged = staged.sort_values(list(fact.keys), ignore_index=True)
            if self.direct:  # into the empty fact table, inside the run's transaction
                for money in fact.money:
                    staged[money] = thousandths_text(staged.pop(f"{money}_milli"))
                self._direct_inserts += self._insert_numbers(fact.name, staged)
            else:
                self._insert_numbers(fact.stage, staged)
        self._record_rejects(result.rejects)
        for code, source_id, text in result.descriptions.itertuples(index=False):
            if source_id > self._descriptions.get(code, (0, ""))[0]:
                self._descriptions[code] = (source_id, text[:DESCRIPTION_LENGTH])

    def _insert_numbers(self, table: str, frame: pd.DataFrame) -> int:
        # Only digits, signs and decimal points: the VALUES text is built by pandas in C, with
        # nothing to escape. Column names come from the frame, so their order cannot drift.
        names = f" ({', '.join(frame.columns)})"
        inserted = 0
        with self.conn.cursor() as cur:
            for start in range(0, len(frame), INSERT_BATCH):
                part = frame.iloc[start : start + INSERT_BATCH]
                text = part.to_csv(header=False, index=False, lineterminator="),(")
                inserted += cur.execute(f"INSERT INTO {table}{names} VALUES ({text[:-3]})")
        return inserted

    def _record_rejects(self, rejects: pd.DataFrame) -> None:
        if rejects.empty:
            return
        rows = [
            (
                self.run_id,
                int(source_id),
                reason,
                _clip(invoice),
                _clip(stock),
                None if pd.isna(qty) else int(qty),
                None if pd.isna(price) else _thousandths(int(price)),
                _date_or_none(day),
                _clip(country),
            )
            for source_id, reason, invoice, stock, qty, day, price, country in rejects.itertuples(
                index=False
            )
        ]
        with self.conn.cursor() as cur:
            for start in range(0, len(rows), INSERT_BATCH):
                cur.executemany(
                    "INSERT INTO etl_rejects (run_id, source_id, reason, invoice_no, stock_code, "
                    "quantity, unit_price, sale_date, country) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    rows[start : start + INSERT_BATCH],
                )

    def commit(
        self, progress: Progress, watermark: str, lock_check: tuple[str, tuple]
    ) -> KeyCounts:
        """Merge the staged keys, finish the run and commit, all or nothing."""
        self._finish_staging()
        counts = KeyCounts()
        with self.conn.cursor() as cur:
            self._apply_descriptions(cur)
            counts.inserted = self._direct_inserts
            for fact in () if self.direct else FACT_TABLES:
                counts.updated += cur.execute(fact.update_sql())
                # Deleting before inserting spares the delete a scan of the new keys.
                counts.deleted += cur.execute(fact.delete_sql(self.full))
                counts.inserted += cur.execute(fact.insert_sql())
            # Dimension rows no fact refers to any more have vanished from the source.
            cur.execute(
                "DELETE p FROM products p LEFT JOIN daily_product_sales f "
                "ON f.product_key = p.product_key WHERE f.product_key IS NULL"
            )
            cur.execute(
                "DELETE c FROM countries c LEFT JOIN daily_country_sales f "
                "ON f.country_key = c.country_key WHERE f.country_key IS NULL"
            )
            cur.execute(*lock_check)
            if cur.fetchone()[0] != 1:
                raise LockLost("the run lock was lost before commit; nothing was loaded")
            cur.execute(
                "UPDATE etl_runs SET status = 'succeeded', stage = 'done', finished_at = %s, "
                "heartbeat_at = %s, rows_extracted = %s, rows_rejected = %s, rows_loaded = %s, "
                "duplicate_lines = %s, keys_inserted = %s, keys_updated = %s, keys_deleted = %s, "
                "watermark_after = %s WHERE id = %s AND status = 'running'",
                (
                    _utcnow(),
                    _utcnow(),
                    progress.rows_extracted,
                    progress.rows_rejected,
                    progress.rows_loaded,
                    progress.duplicate_lines,
                    counts.inserted,
                    counts.updated,
                    counts.deleted,
                    watermark,
                    self.run_id,
                ),
            )
            if cur.rowcount != 1:
                raise LockLost("the run was marked finished by someone else; nothing was loaded")
        self.conn.commit()
        return counts

    def _apply_descriptions(self, cur) -> None:
        rows = [
            (text, source_id, code.encode(), source_id)
            for code, (source_id, text) in self._descriptions.items()
        ]
        for start in range(0, len(rows), INSERT_BATCH):
            cur.executemany(
                "UPDATE products SET description = %s, description_source_id = %s "
                "WHERE stock_code = %s AND description_source_id < %s",
                rows[start : start + INSERT_BATCH],
            )

    def close(self) -> None:
        """Roll back whatever was not committed and close the connection."""
        with contextlib.suppress(Exception):
            self._finish_staging()  # the connection is the writer's until it is done
        self._writer.shutdown()
        with contextlib.suppress(Exception):
            self.conn.rollback()
        with contextlib.suppress(Exception):
            self.conn.close()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _clip(text) -> str | None:
    return None if text is None or pd.isna(text) else str(text)[:MAX_TEXT]


def _thousandths(milli: int) -> str:
    sign = "-" if milli < 0 else ""
    whole, frac = divmod(abs(milli), PRICE_SCALE)
    return f"{sign}{whole}.{frac:03d}"


def _date_or_none(day) -> dt.date | None:
    if day is None or pd.isna(day):
        return None
    try:
        return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))
    except OverflowError:
        return None

"""Load a run's aggregates into the warehouse, atomically and idempotently.

Chunks are staged in temporary tables as they arrive; at the end one transaction replaces the
touched keys (update what changed, insert what is new, delete what vanished), records the
rejects, moves the watermark and finishes the run. Readers see the old aggregates or the new.
A run with no source change writes nothing, so the tables stay identical row for row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import Settings
from ..db import connect_warehouse
from .fact_tables import FACT_TABLES, STAGING
from .runs import LockLost, Progress, Watermark
from .transform import ChunkResult
from .warehouse_rows import reject_rows, thousandths, values_lists, yyyymmdd

INSERT_BATCH = 20_000
# products.description is VARCHAR(255): a longer description is cut to its first 255
# characters. It only labels a product (no key, no figure), so no line is rejected for it; stock
# codes and countries are keys and are rejected instead when too long (text_too_long).
DESCRIPTION_LENGTH = 255


@dataclass
class KeyCounts:
    """Aggregate rows a run changed."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0


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
            for ddl in STAGING:
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

    def _keys(
        self, values: pd.Series, table: str, column: str, known: dict[str, int]
    ) -> np.ndarray:
        codes, names = pd.factorize(values)
        new = sorted(set(names) - known.keys())
        if new:
            with self.conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {table} ({column}) VALUES (%s)", [(v.encode(),) for v in new]
                )
            key_column = "product_key" if table == "products" else "country_key"
            known.update(self._dimension(f"SELECT {column}, {key_column} FROM {table}"))
        return np.array([known[name] for name in names], dtype=np.int64)[codes]

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
            keys = {
                "sale_date": yyyymmdd(frame["day"].to_numpy()),
                "country_key": self._keys(frame["country"], "countries", "name", self._countries),
            }
            if "product_key" in fact.keys:
                keys["product_key"] = self._keys(
                    frame["stock_code"], "products", "stock_code", self._products
                )
            # In key order, InnoDB appends to its clustered index instead of splitting pages.
            order = np.lexsort([keys[k] for k in reversed(fact.keys)])
            columns = {k: keys[k][order] for k in fact.keys}
            columns |= {c: frame[c].to_numpy()[order] for c in fact.counts}
            for money in fact.money:
                milli = frame[f"{money}_milli"].to_numpy()[order]
                if self.direct:  # into the empty fact table, inside the run's transaction
                    columns[money] = thousandths(milli)
                else:
                    columns[f"{money}_milli"] = milli
            inserted = self._insert_rows(fact.name if self.direct else fact.stage, columns)
            self._direct_inserts += inserted if self.direct else 0
        self._record_rejects(result.rejects)
        descriptions = result.descriptions
        for code, source_id, text in zip(  # lists: iterating Arrow-backed columns is slow
            descriptions["stock_code"].tolist(),
            descriptions["source_id"].tolist(),
            descriptions["description"].tolist(),
            strict=True,
        ):
            if source_id > self._descriptions.get(code, (0, ""))[0]:
                self._descriptions[code] = (source_id, text[:DESCRIPTION_LENGTH])

    def _insert_rows(self, table: str, columns: dict) -> int:
        # Column names come from the same dict as the values, so their order cannot drift.
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES (".encode()
        inserted = 0
        with self.conn.cursor() as cur:
            for values in values_lists(columns, INSERT_BATCH):
                inserted += cur.execute(head + values + b")")
        return inserted

    def _record_rejects(self, rejects: pd.DataFrame) -> None:
        if not rejects.empty:
            self._insert_rows("etl_rejects", reject_rows(self.run_id, rejects))

    def commit(
        self,
        progress: Progress,
        watermark: Watermark | None,
        lock_check: tuple[str, tuple],
        result: dict | None = None,
    ) -> KeyCounts:
        """Merge the staged keys, finish the run and commit, all or nothing.

        ``watermark`` is where the next increment starts; ``result`` a repair run's findings.
        """
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
                "watermark_after = %s, source_identity = %s, result = %s "
                "WHERE id = %s AND status = 'running'",
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
                    watermark.snapshot if watermark else None,
                    watermark.source.text() if watermark and watermark.source else None,
                    None if result is None else json.dumps(result),
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

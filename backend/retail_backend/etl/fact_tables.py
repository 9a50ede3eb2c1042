"""The warehouse's fact tables as the load sees them, and the SQL that merges staged keys.

Each fact table has a temporary staging twin with the same keys and the measures in int64
thousandths; the merge updates what changed, inserts what is new and deletes what vanished.
Names and columns come from this module only, never from input.
"""

from __future__ import annotations

from dataclasses import dataclass

from .rules import PRICE_SCALE


@dataclass(frozen=True)
class FactTable:
    """A fact table, its staging twin and its key columns."""

    name: str
    stage: str
    keys: tuple[str, ...]
    counts: tuple[str, ...]  # integer measures, copied as they are
    money: tuple[str, ...]  # DECIMAL measures, staged in thousandths

    def stage_ddl(self) -> str:
        """Return the staging table's DDL: the keys, and every measure as a BIGINT."""
        columns = [*self.keys, *self.counts, *(f"{m}_milli" for m in self.money)]
        types = {"sale_date": "DATE", "country_key": "INT UNSIGNED", "product_key": "INT UNSIGNED"}
        definitions = ", ".join(f"{c} {types.get(c, 'BIGINT')} NOT NULL" for c in columns)
        return (
            f"CREATE TEMPORARY TABLE {self.stage} ({definitions}, "
            f"PRIMARY KEY ({', '.join(self.keys)})) ENGINE=InnoDB"
        )

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


_COMMON_COUNTS = ("units_sold", "orders", "units_returned")
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

# Each fact table's staging twin, and the days an incremental run rebuilds (a key of those days
# that was not staged has vanished from the source).
STAGING = (
    *(fact.stage_ddl() for fact in FACT_TABLES),
    "CREATE TEMPORARY TABLE stage_days (sale_date DATE NOT NULL PRIMARY KEY) ENGINE=InnoDB",
)

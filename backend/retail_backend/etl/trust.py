"""Whether an incremental run may trust the previous run's watermark, and if not, why.

An increment is the rows written since the previous run's snapshot. That is complete only if the
source is the same database on the same server (a restore onto another server keeps the rows'
old transaction ids, and the new server's counter starts elsewhere), its transaction counter
has not gone back, and nothing removed rows behind the row triggers' back in a way they cannot
see: a TRUNCATE of ``online_sales``, or the change log truncated or cut (the markers
postgres-init/01-schema.sql leaves). Otherwise the run rebuilds in full and says why.

Pure functions over what the reader found; no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass

# The change log's markers (online_sales_changes.kind), and what each means for a run.
MARKER_REASONS = {
    "truncate": "online_sales was truncated since the last run",
    "log_truncate": "the change log (online_sales_changes) was truncated since the last run",
    "log_cut": "change log rows the last run had not read were deleted",
}
UNKNOWN_SOURCE = "the last run's watermark does not name its source (an earlier version wrote it)"
NO_MARKERS = (
    "the source's schema predates the TRUNCATE markers, so a truncate would go unseen: apply "
    "postgres-init/01-schema.sql to it (deploy.sh does)"
)


@dataclass(frozen=True)
class SourceIdentity:
    """Which database on which server a snapshot was taken from."""

    system_identifier: str  # pg_control_system(): differs on every cluster, kept by a restore
    database_oid: int  # a database dropped and made again gets a new one
    database: str

    def text(self) -> str:
        """The form etl_runs.source_identity keeps."""
        return f"{self.system_identifier}:{self.database_oid}:{self.database}"

    @classmethod
    def parse(cls, text: str | None) -> SourceIdentity | None:
        if not text:
            return None
        system_identifier, oid, database = text.split(":", 2)
        return cls(system_identifier, int(oid), database)


def snapshot_bounds(snapshot: str) -> tuple[int, int]:
    """Return (xmin, xmax) of a pg_snapshot's text form ``xmin:xmax:xip,...``."""
    xmin, xmax, _ = snapshot.split(":", 2)
    return int(xmin), int(xmax)


def distrust_reason(
    previous_source: SourceIdentity | None,
    previous_snapshot: str,
    source: SourceIdentity,
    snapshot: str,
) -> str | None:
    """Why the previous watermark cannot start this increment, or None if it can.

    The markers are checked separately (``marker_reason``), and only when this says None: they
    are found by comparing transaction ids, which means nothing across servers.
    """
    if previous_source is None:
        return UNKNOWN_SOURCE
    if previous_source.system_identifier != source.system_identifier:
        return (
            f"the source is another server (system identifier {source.system_identifier}, "
            f"the last run's {previous_source.system_identifier})"
        )
    if previous_source.database_oid != source.database_oid:
        return (
            f"the source is another database ({source.database}, oid {source.database_oid}; "
            f"the last run's: {previous_source.database}, oid {previous_source.database_oid})"
        )
    current_xmax = snapshot_bounds(snapshot)[1]
    previous_xmax = snapshot_bounds(previous_snapshot)[1]
    if current_xmax < previous_xmax:
        return (
            f"the source's transaction counter ({current_xmax}) is behind the last run's "
            f"watermark ({previous_xmax})"
        )
    return None


def marker_reason(kinds: set[str]) -> str | None:
    """Why the change log's markers since the watermark make the increment incomplete."""
    for kind in MARKER_REASONS:  # a fixed order, so the reason does not depend on the set's
        if kind in kinds:
            return MARKER_REASONS[kind]
    return None

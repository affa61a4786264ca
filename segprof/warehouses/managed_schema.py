"""The managed schema `__segprof` inside a warehouse: table names and their DDL.

Owns the layout of segprof's bookkeeping tables (shared run history and checkpoints; per mapping a
snapshot, a pending-failures table, an acknowledgement log and run-scoped work tables; the state
store's documents and locks when `state.backend` is warehouse) and the idempotent statements that
create them, written once and translated per dialect. Must never read
or write rows (the change tracker does) and never touch a table outside `__segprof`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from segprof.warehouses.dialects import to_dialect

SCHEMA = "__segprof"

# the columns change detection adds to a changed record (model columns must not use these names)
ID_COLUMN = "__segprof_id"
KIND_COLUMN = "__segprof_kind"
CHECKSUM_COLUMN = "__segprof_checksum"
ORIGIN_COLUMN = "__segprof_origin"  # the run that first recorded the change (see ids.py)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table(name: str) -> str:
    """A fully qualified, quoted managed table name."""
    return f"{_q(SCHEMA)}.{_q(name)}"


def mapping_key(mapping_id: str) -> str:
    """A short, stable, identifier-safe key for a mapping id (readable slug + digest)."""
    slug = re.sub(r"[^a-z0-9]+", "_", mapping_id.lower()).strip("_")[:24]
    digest = hashlib.md5(mapping_id.encode("utf-8")).hexdigest()[:10]
    return f"{slug}_{digest}" if slug else digest


@dataclass(frozen=True)
class MappingTables:
    """The per-mapping tables, quoted and qualified."""

    key: str

    @property
    def snapshot(self) -> str:  # (id, checksum) of every record as last delivered
        return table(f"snapshot_{self.key}")

    @property
    def pending(self) -> str:  # records whose delivery failed, retried on later runs
        return table(f"pending_{self.key}")

    @property
    def acks(self) -> str:  # acknowledged changes not yet folded into the snapshot
        return table(f"acks_{self.key}")

    @property
    def changes(self) -> str:  # run-scoped: the changes of the current run, each with its origin
        return table(f"changes_{self.key}")

    @property
    def keystats(self) -> str:  # run-scoped: duplicate / null identifiers and the row count
        return table(f"keystats_{self.key}")

    @property
    def idbuf(self) -> str:  # scratch: identifiers of one ack/fail call
        return table(f"idbuf_{self.key}")

    @property
    def ackbuf(self) -> str:  # scratch: the changes of one acknowledgement write
        return table(f"ackbuf_{self.key}")

    def all(self) -> tuple[str, ...]:
        return (self.snapshot, self.pending, self.acks, self.changes, self.keystats, self.idbuf, self.ackbuf)


RUNS = table("runs")
CHECKPOINTS = table("checkpoints")

RUN_COUNTERS = (
    "extracted",
    "new_count",
    "updated_count",
    "deleted_count",
    "delivered",
    "failed",
    "dropped",
    "skipped",
    "duplicate_ids",
    "duplicate_rows",
    "null_ids",
)


def ddl(tables: MappingTables) -> list[str]:
    """CREATE statements (DuckDB dialect) for everything a mapping needs; all idempotent."""
    counters = ", ".join(f"{c} BIGINT" for c in RUN_COUNTERS)
    return [
        f"CREATE SCHEMA IF NOT EXISTS {_q(SCHEMA)}",
        f"CREATE TABLE IF NOT EXISTS {RUNS} (run_id VARCHAR, mapping_id VARCHAR, started_at TIMESTAMP, "
        f"finished_at TIMESTAMP, status VARCHAR, {counters}, error VARCHAR)",
        f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS} (mapping_id VARCHAR, run_id VARCHAR, "
        "checkpoint TIMESTAMP, model_fingerprint VARCHAR, columns_fingerprint VARCHAR, "
        "checksum_version VARCHAR)",
        f"CREATE TABLE IF NOT EXISTS {tables.snapshot} (id VARCHAR, checksum VARCHAR)",
        f"CREATE TABLE IF NOT EXISTS {tables.pending} (id VARCHAR, checksum VARCHAR, kind VARCHAR, "
        "attempts INTEGER, first_failed_at TIMESTAMP, last_failed_at TIMESTAMP, last_run_id VARCHAR, "
        "last_error VARCHAR, origin VARCHAR, outcome VARCHAR)",
        # origin: the run that first recorded a change (its message id derives from it); outcome:
        # failed, unsent, or unknown (a crash cut the run off while it may have been sent). Added in
        # place to tables made before they were kept.
        f"ALTER TABLE {tables.pending} ADD COLUMN IF NOT EXISTS origin VARCHAR",
        f"ALTER TABLE {tables.pending} ADD COLUMN IF NOT EXISTS outcome VARCHAR",
        # made empty here so that the next run can always carry an interrupted run's unsent changes
        f"CREATE TABLE IF NOT EXISTS {tables.changes} ({ID_COLUMN} VARCHAR, {KIND_COLUMN} VARCHAR, "
        f"{CHECKSUM_COLUMN} VARCHAR, {ORIGIN_COLUMN} VARCHAR)",
        f"ALTER TABLE {tables.changes} ADD COLUMN IF NOT EXISTS {ORIGIN_COLUMN} VARCHAR",
        f"CREATE TABLE IF NOT EXISTS {tables.acks} (run_id VARCHAR, id VARCHAR, checksum VARCHAR, "
        "kind VARCHAR, outcome VARCHAR)",
        f"CREATE TABLE IF NOT EXISTS {tables.idbuf} (id VARCHAR)",
        f"CREATE TABLE IF NOT EXISTS {tables.ackbuf} (id VARCHAR, checksum VARCHAR, kind VARCHAR)",
    ]


STATE_DOCUMENTS = table("state_documents")  # one state document per key (segprof.state.warehouse)
STATE_LOCKS = table("state_locks")  # at most one lock row per key


def state_ddl(primary_key: bool) -> list[str]:
    """CREATE statements (DuckDB dialect) for the state tables; `primary_key` where it is enforced."""
    key = "state_key VARCHAR(200) NOT NULL" + (" PRIMARY KEY" if primary_key else "")
    return [
        f"CREATE SCHEMA IF NOT EXISTS {_q(SCHEMA)}",
        f"CREATE TABLE IF NOT EXISTS {STATE_DOCUMENTS} ({key}, lineage VARCHAR(64), serial BIGINT, "
        "document TEXT, write_id VARCHAR(64), updated_at TIMESTAMP, updated_by VARCHAR(400))",
        f"CREATE TABLE IF NOT EXISTS {STATE_LOCKS} ({key}, lock_id VARCHAR(64), operation VARCHAR(64), "
        "holder_user VARCHAR(200), host VARCHAR(200), pid BIGINT, since VARCHAR(64))",
    ]


def ddl_for(tables: MappingTables, dialect: str) -> list[str]:
    statements = ddl(tables)
    if dialect == "databricks":
        # Spark SQL has no ADD COLUMN IF NOT EXISTS; no table there lacks these columns (no earlier
        # version got past these statements on Spark, and the CREATEs have every column)
        statements = [s for s in statements if " ADD COLUMN IF NOT EXISTS " not in s]
    return [to_dialect(s, dialect) for s in statements]

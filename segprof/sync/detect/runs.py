"""The values of change detection: a mapping's spec, a run, its counts and reports, and their limits.

Owns `MappingSpec`, `Run`, `RunRecord`, `ChangeCounts`, `KeyReport`, `DryRun`, the refusal of a mass
delete and the defaults Segment's own limits set. Must never touch a warehouse: these are values.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from segprof.errors import SegprofError
from segprof.warehouses.base import ColumnInfo
from segprof.warehouses.managed_schema import CHECKSUM_COLUMN, ID_COLUMN, KIND_COLUMN, ORIGIN_COLUMN

RESERVED = (ID_COLUMN, KIND_COLUMN, CHECKSUM_COLUMN, ORIGIN_COLUMN)
KINDS = ("new", "updated", "deleted")
PREVIEW_ORIGIN = "preview"  # what dry runs and previews record as a change's origin (nothing is sent)
# A run that would delete more than half of the synced records is far more often a broken or
# half-loaded model (empty upstream table, failed join) than real churn; past that share we stop
# and ask. The guard applies whatever the mapping's triggers: an accepted mass delete also resets
# the snapshot, so the records would come back later as a mass "new".
DEFAULT_MAX_DELETE_SHARE = 0.5
DEFAULT_MAX_ATTEMPTS = 5  # Segment retries failed records for up to 5 syncs …
DEFAULT_RETRY_WINDOW = timedelta(days=14)  # … or 14 days
# Segment extracts at most 150 million records in one sync and leaves the rest to the next ones.
DEFAULT_MAX_RECORDS = 150_000_000
EXAMPLES = 5


@dataclass(frozen=True)
class MappingSpec:
    """What change detection needs to know about one mapping."""

    mapping_id: str  # stable key: the live subscription id or the mapping address
    model_sql: str  # in the source's dialect
    identifier: str  # the model's unique identifier column
    columns: Sequence[str]  # the model columns the mapping uses (the checksum covers these)
    triggers: frozenset[str] = frozenset(KINDS)
    address: str | None = None  # e.g. "mapping.identify_users", for messages


class MassDeleteRefused(SegprofError):
    """A run would delete more of the snapshot than allowed; nothing was changed."""


@dataclass(frozen=True)
class KeyReport:
    """Identifier problems found in the model; such rows are left out of the sync."""

    duplicate_ids: int = 0
    duplicate_rows: int = 0
    null_ids: int = 0
    duplicate_examples: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return not (self.duplicate_ids or self.null_ids)

    def describe(self) -> str:
        parts = []
        if self.duplicate_ids:
            shown = ", ".join(repr(e) for e in self.duplicate_examples)
            parts.append(
                f"{self.duplicate_ids} duplicate identifier(s) on {self.duplicate_rows} rows skipped "
                f"(e.g. {shown})"
            )
        if self.null_ids:
            parts.append(f"{self.null_ids} row(s) with a null identifier skipped")
        return "; ".join(parts)


@dataclass(frozen=True)
class ChangeCounts:
    new: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def total(self) -> int:
        return self.new + self.updated + self.deleted

    def of(self, kind: str) -> int:
        return int(getattr(self, kind))


@dataclass(frozen=True)
class DryRun:
    """What a run would find now, computed without writing anything."""

    counts: ChangeCounts
    keys: KeyReport
    extracted: int
    snapshot_size: int


@dataclass
class Run:
    """One sync run of one mapping, from `begin` to `finish`."""

    run_id: str
    mapping_id: str
    started_at: datetime
    counts: ChangeCounts = field(default_factory=ChangeCounts)
    keys: KeyReport = field(default_factory=KeyReport)
    extracted: int = 0
    snapshot_size: int = 0
    dropped: int = 0  # failed records given up on (too many attempts or too old)
    skipped: int = 0  # changes of kinds the mapping does not trigger on (accepted, not sent)
    delivered: int = 0
    failed: int = 0
    model_columns: tuple[ColumnInfo, ...] = ()
    identifier_column: str = ""  # the model's identifier column, as the warehouse names it
    model_fingerprint: str = ""
    columns_fingerprint: str = ""
    mapped_columns: tuple[str, ...] = ()
    columns_changed: bool = False  # mapped columns or checksum encoding differ from the last run
    model_changed: bool = False  # model SQL or its output columns differ from the last run
    status: str = "running"
    error: str | None = None
    finished_at: datetime | None = None

    max_records: int | None = None  # the most changes one run extracts (None: no limit)

    @property
    def triggered(self) -> int:
        """Changes that the mapping triggers on."""
        return self.counts.total - self.skipped

    @property
    def to_send(self) -> int:
        """The triggered changes this run extracts (what `stream` yields)."""
        return self.triggered if self.max_records is None else min(self.triggered, self.max_records)

    @property
    def remaining(self) -> int:
        """Triggered changes past the run's record limit, left for the next runs."""
        return self.triggered - self.to_send


@dataclass(frozen=True)
class RunRecord:
    """One row of run history."""

    run_id: str
    mapping_id: str
    started_at: datetime | None
    finished_at: datetime | None
    status: str
    counters: dict[str, int]
    error: str | None


def new_run_id(now: datetime) -> str:
    """A run's id: when it started, and enough randomness to be unique."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"

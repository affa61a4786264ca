"""The record of failed deliveries: which records of which run failed, with payload and reason.

Owns the managed table `__segprof.failures` (one row per failed record per run) and reading it
back for `segprof syncs show RUN`. Must never store a write key (messages never carry one) and
never decide what is retried (the change tracker's pending table does that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from segprof.sync.messages.encode import dumps_text
from segprof.warehouses.base import table_exists
from segprof.warehouses.dialects import to_dialect
from segprof.warehouses.managed_schema import SCHEMA, table

FAILURES = table("failures")
MAX_PAYLOAD_CHARS = 64 * 1024  # an oversized message is kept in part: enough to find the culprit


@dataclass(frozen=True)
class FailedRecord:
    run_id: str
    mapping_id: str
    record_id: str
    kind: str
    message_id: str
    reason: str
    payload: Any  # the message as built (None when it could not be built)
    failed_at: datetime | None


def _lit(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


class FailureLog:
    """Failed records of runs, kept in the warehouse next to run history."""

    def __init__(self, connector: Any) -> None:
        self.con = connector
        self._ensured = False

    def _ensure(self) -> None:
        if self._ensured:
            return
        for stmt in (
            f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"',
            f"CREATE TABLE IF NOT EXISTS {FAILURES} (run_id VARCHAR, mapping_id VARCHAR, id VARCHAR, "
            "kind VARCHAR, message_id VARCHAR, reason VARCHAR, payload VARCHAR, failed_at TIMESTAMP)",
        ):
            self.con.execute(to_dialect(stmt, self.con.dialect))
        self._ensured = True

    def record(
        self,
        run_id: str,
        mapping_id: str,
        failed: Sequence[tuple[str, str, str, Any, str]],
    ) -> None:
        """Store (record id, kind, messageId, message or None, reason) rows for a run."""
        if not failed:
            return

        self._ensure()
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = []
        for rid, kind, mid, message, reason in failed:
            payload = None
            if message is not None:
                try:
                    payload = dumps_text(message)[:MAX_PAYLOAD_CHARS]
                except (TypeError, ValueError):
                    payload = None
            rows.append((run_id, mapping_id, str(rid), kind, mid, reason[:2000], payload, now))
        self.con.insert_rows(
            FAILURES,
            ["run_id", "mapping_id", "id", "kind", "message_id", "reason", "payload", "failed_at"],
            rows,
        )

    def exists(self) -> bool:
        return table_exists(self.con, SCHEMA, "failures")

    def of_run(self, run_id: str, limit: int = 1_000) -> list[FailedRecord]:
        import json

        if not self.exists():
            return []
        rows = self.con.query_rows(
            to_dialect(
                "SELECT run_id, mapping_id, id, kind, message_id, reason, payload, failed_at "
                f"FROM {FAILURES} WHERE run_id = {_lit(run_id)} ORDER BY id LIMIT {int(limit)}",
                self.con.dialect,
            )
        )
        out = []
        for run, mapping, rid, kind, mid, reason, payload, at in rows:
            try:
                body = json.loads(payload) if payload else None
            except ValueError:
                body = payload  # cut short: shown as text
            out.append(FailedRecord(run, mapping, rid, kind, mid, reason, body, at))
        return out

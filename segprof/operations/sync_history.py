"""Reading run history back for people: runs per mapping and the failed records of one run.

Owns `list_runs` and `show_run`, which read the managed schema of each source the project's
mappings use (runs are kept where the data is). A mapping's runs are found under its live
subscription id and under its address (self-hosted runs before it was applied). Must never
write to the warehouse: sessions are opened read-only, so a missing DuckDB file is reported,
not created, and no write lock is taken while a sync may hold one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from segprof.config.models import Project
from segprof.errors import SegprofError
from segprof.operations.sync_runs import recorded_state
from segprof.project.sources import connection_settings
from segprof.sync.detect.failures import FailedRecord, FailureLog
from segprof.sync.job import mapping_names
from segprof.warehouses import WarehouseError, connect
from segprof.warehouses.base import table_exists
from segprof.warehouses.dialects import to_dialect
from segprof.warehouses.managed_schema import RUN_COUNTERS, RUNS, SCHEMA


@dataclass(frozen=True)
class RunRow:
    run_id: str
    mapping_id: str
    address: str | None
    started_at: datetime | None
    finished_at: datetime | None
    status: str
    counters: dict[str, int]
    error: str | None

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "mapping": self.address,
            "mapping_id": self.mapping_id,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_seconds": self.duration,
            "status": self.status,
            **self.counters,
            "error": self.error,
        }


def _open(project: Project, project_dir: Path, source_name: str) -> Any:
    """A read-only session on one source (runs are only read here)."""

    source = project.sources.get(source_name)
    if source is None:
        raise SegprofError(f"the project has no source {source_name!r}", address=f"source.{source_name}")
    address = f"source.{source_name}"
    settings = {**connection_settings(source), "read_only": True}
    try:
        return connect(source.type, settings, project_dir, address=address)
    except WarehouseError as err:
        if source.type == "duckdb" and "different configuration" in err.message:
            # this process already has the file open for writing (DuckDB shares one instance per
            # file and process): join it; the file exists and is only read here
            settings.pop("read_only")
            return connect(source.type, settings, project_dir, address=address)
        if source.type == "duckdb" and "lock" in err.message.lower():
            # DuckDB lets one process write or many read: a running sync holds the file.
            raise WarehouseError(
                err.message,
                address=address,
                hint="another process (a sync?) has the DuckDB file open for writing; "
                "run `segprof syncs` again when it has finished",
            ) from None
        raise


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _by_source(project_dir: Path, project: Project, names: list[str]) -> dict[str, dict[str, str]]:
    """source name → {mapping id → mapping address} for the given mappings."""

    state = recorded_state(project_dir, project)
    out: dict[str, dict[str, str]] = {}
    for name in names:
        mapping = project.mappings[name]
        source = project.models[mapping.model].source_name if mapping.model in project.models else None
        if not source:
            continue
        ids = out.setdefault(source, {})
        ids[mapping.address] = mapping.address
        live = state.id_of(mapping.address)
        if live:
            ids[live] = mapping.address
    return out


def _has_runs(con: Any) -> bool:
    return table_exists(con, SCHEMA, "runs")


def _read(con: Any, where: str, ids: dict[str, str], limit: int) -> list[RunRow]:
    cols = ", ".join(RUN_COUNTERS)
    rows = con.query_rows(
        to_dialect(
            f"SELECT run_id, mapping_id, started_at, finished_at, status, {cols}, error FROM {RUNS} "
            f"WHERE {where} ORDER BY started_at DESC, run_id DESC LIMIT {int(limit)}",
            con.dialect,
        )
    )
    out = []
    for row in rows:
        counters = {k: int(v or 0) for k, v in zip(RUN_COUNTERS, row[5:-1], strict=True)}
        out.append(RunRow(row[0], row[1], ids.get(row[1]), row[2], row[3], row[4], counters, row[-1]))
    return out


def list_runs(project_dir: Path, project: Project, mapping: str | None, limit: int = 10) -> list[RunRow]:
    """Recent runs of one mapping (or all), newest first per mapping."""

    names = mapping_names(project, [mapping] if mapping else [], all_=mapping is None)
    records: list[RunRow] = []
    for source, ids in _by_source(project_dir, project, names).items():
        con = _open(project, project_dir, source)
        try:
            if not _has_runs(con):
                continue
            for address in dict.fromkeys(ids.values()):
                keys = [k for k, a in ids.items() if a == address]
                where = "mapping_id IN (" + ", ".join(_lit(k) for k in keys) + ")"
                records.extend(_read(con, where, ids, limit))
        finally:
            con.close()
    return records


def show_run(project_dir: Path, project: Project, run_id: str) -> tuple[RunRow, list[FailedRecord]]:
    """One run and its failed records (payload and reason)."""

    for source, ids in _by_source(project_dir, project, list(project.mappings)).items():
        con = _open(project, project_dir, source)
        try:
            if not _has_runs(con):
                continue
            found = _read(con, f"run_id = {_lit(run_id)}", ids, 1)
            if found:
                return found[0], FailureLog(con).of_run(run_id)
        finally:
            con.close()
    raise SegprofError(
        f"no sync run {run_id!r} in this project's warehouses", hint="list runs with `segprof syncs`"
    )

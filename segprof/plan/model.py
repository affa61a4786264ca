"""The plan as a value: per-address changes that every renderer and the executor read.

Owns: `Action` (a one-symbol enum printed as-is), `FieldChange`, `ResourceChange`, `Plan`, and the
payload preview values a mapping change may carry (`MappingPreview`: sample records through the
old and new settings, and what the next sync would send). Must never recompute anything:
renderers and apply only read these values (apply never reads a preview). Values at sensitive
paths are stored already redacted (`SENSITIVE`), so a plan can be printed or saved without leaking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from segprof.project.resources import Kind

SENSITIVE = "(sensitive)"
UNKNOWN = "(known after apply)"


class Action(StrEnum):
    noop = "noop"
    create = "create"
    update = "update"
    replace = "replace"
    delete = "delete"
    adopt = "adopt"  # an existing live resource becomes managed (and may also be updated)

    @property
    def symbol(self) -> str:
        return {
            "noop": " ",
            "create": "+",
            "update": "~",
            "replace": "-/+",
            "delete": "-",
            "adopt": "<=",
        }[self.value]


@dataclass
class FieldChange:
    path: str  # dotted attribute path, e.g. "settings.traits.email"
    before: Any
    after: Any
    sensitive: bool = False
    forces_replace: bool = False
    # the address of the managed resource an id field points at, on each side (None: not one)
    before_address: str | None = None
    after_address: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "sensitive": self.sensitive,
            "forces_replace": self.forces_replace,
            "before_address": self.before_address,
            "after_address": self.after_address,
        }


@dataclass
class PayloadChange:
    """One leaf of a sample record's message that differs between the old and the new settings."""

    path: str  # dotted path in the message, e.g. "traits.plan"
    op: str  # "added" | "removed" | "changed"
    before: Any = None  # absent for "added"
    after: Any = None  # absent for "removed"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "op": self.op, "before": self.before, "after": self.after}


@dataclass
class RecordPreview:
    """One sample record: the differences of its message, or why a side could not build it."""

    id: str
    changes: list[PayloadChange] = field(default_factory=list)
    before_error: str | None = None  # the old settings reject the record (or cannot be resolved)
    after_error: str | None = None  # the new settings reject the record: the sync would fail it
    omitted: int = 0  # further changes left out to keep the preview bounded

    @property
    def status(self) -> str:
        if self.after_error:
            return "error"
        return "changed" if self.changes or self.omitted else "unchanged"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "changes": [c.to_json() for c in self.changes],
            "omitted_changes": self.omitted,
            "before_error": self.before_error,
            "after_error": self.after_error,
        }


@dataclass
class SendCount:
    """How many records the next sync of a mapping would send, when that is knowable."""

    basis: str  # "create" | "replace" | "trigger" | "update" | "model": why the count is shown
    known: bool
    new: int = 0
    updated: int = 0
    deleted: int = 0
    note: str = ""

    @property
    def total(self) -> int:
        return self.new + self.updated + self.deleted

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, Any] = {"new": self.new, "updated": self.updated, "deleted": self.deleted}
        return {
            "basis": self.basis,
            "known": self.known,
            **({**counts, "total": self.total} if self.known else {k: None for k in [*counts, "total"]}),
            "note": self.note,
        }


@dataclass
class MappingPreview:
    """`plan --preview N` for one mapping change: sample payloads old → new, and the next sync."""

    sample_size: int  # N asked for
    available: bool = True
    reason: str | None = None  # why the preview is unavailable (the warehouse could not be read)
    has_before: bool = False  # an old side exists (the live subscription's settings)
    model_changed: bool = False  # the old side reads the model's live query, the new side its new one
    order_by: str = ""  # the identifier column the samples are ordered by
    event: str = "new"
    records: list[RecordPreview] = field(default_factory=list)
    send_count: SendCount | None = None

    @property
    def all_unchanged(self) -> bool:
        """Every sample builds the same message under the old and the new settings."""
        return (
            self.has_before
            and bool(self.records)
            and all(r.status == "unchanged" and not r.before_error for r in self.records)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "reason": self.reason,
            "sample_size": self.sample_size,
            "event": self.event,
            "order_by": self.order_by,
            "has_before": self.has_before,
            "model_changed": self.model_changed,
            "records": [r.to_json() for r in self.records],
            "send_count": self.send_count.to_json() if self.send_count else None,
        }


@dataclass
class ResourceChange:
    address: str
    kind: Kind
    action: Action
    name: str
    live_id: str | None = None
    before: dict[str, Any] | None = None  # redacted
    after: dict[str, Any] | None = None  # redacted
    changes: list[FieldChange] = field(default_factory=list)
    drift: list[FieldChange] = field(default_factory=list)  # changed outside segprof since last apply
    reason: str | None = None  # why a replace / delete / create happens
    moved_from: str | None = None
    warnings: list[str] = field(default_factory=list)
    also_update: bool = False  # adopt that also changes fields
    preview: MappingPreview | None = None  # `plan --preview N` (display only; apply never reads it)
    # id attributes of `after` that point at another managed resource: attribute → its address
    refs: dict[str, str] = field(default_factory=dict)

    @property
    def is_change(self) -> bool:
        return self.action is not Action.noop or bool(self.moved_from)

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "kind": self.kind.value,
            "action": self.action.value,
            "name": self.name,
            "live_id": self.live_id,
            "moved_from": self.moved_from,
            "reason": self.reason,
            "before": self.before,
            "after": self.after,
            "refs": dict(self.refs),
            "changes": [c.to_json() for c in self.changes],
            "drift": [c.to_json() for c in self.drift],
            "warnings": list(self.warnings),
            **({"preview": self.preview.to_json()} if self.preview is not None else {}),
        }


@dataclass
class DbtModelChange:
    """A model written `{dbt: …}` whose dbt model differs from production's (`plan --dbt-state`)."""

    model: str  # address, e.g. model.users
    dbt_model: str
    file: str  # the dbt model's SQL file, as the project names it
    reasons: list[str]
    mappings: list[str]  # addresses of the mappings whose payloads it feeds

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dbt_model": self.dbt_model,
            "file": self.file,
            "reasons": list(self.reasons),
            "mappings": list(self.mappings),
        }


@dataclass
class Plan:
    changes: list[ResourceChange]
    config_fingerprint: str = ""
    live_fingerprint: str = ""
    diagnostics: list[str] = field(default_factory=list)  # warnings to show above the plan
    targets: list[str] = field(default_factory=list)  # --target addresses the plan was limited to
    # with production's dbt manifest: the dbt models this change touches (for display only)
    dbt_changes: list[DbtModelChange] = field(default_factory=list)
    environment: str | None = None  # `--env NAME` / SEGPROF_ENV the plan was made for

    def counts(self) -> dict[str, int]:
        add = sum(1 for c in self.changes if c.action in (Action.create, Action.replace))
        change = sum(
            1
            for c in self.changes
            if c.action is Action.update or (c.action is Action.adopt and c.also_update)
        )
        destroy = sum(1 for c in self.changes if c.action in (Action.delete, Action.replace))
        adopt = sum(1 for c in self.changes if c.action is Action.adopt)
        moved = sum(1 for c in self.changes if c.moved_from)
        return {"add": add, "change": change, "destroy": destroy, "adopt": adopt, "move": moved}

    @property
    def has_changes(self) -> bool:
        return any(c.is_change for c in self.changes)

    def summary_line(self) -> str:
        if not self.has_changes:
            return "No changes. The workspace matches the configuration."
        n = self.counts()
        text = f"Plan: {n['add']} to add, {n['change']} to change, {n['destroy']} to destroy."
        extras = []
        if n["adopt"]:
            extras.append(f"{n['adopt']} to adopt")
        if n["move"]:
            extras.append(f"{n['move']} to move")
        if extras:
            text = text[:-1] + ", " + ", ".join(extras) + "."
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": 1,
            "environment": self.environment,
            "summary": {**self.counts(), "has_changes": self.has_changes, "text": self.summary_line()},
            "config_fingerprint": self.config_fingerprint,
            "live_fingerprint": self.live_fingerprint,
            "diagnostics": list(self.diagnostics),
            "targets": list(self.targets),
            "resource_changes": [c.to_json() for c in self.changes],
            "dbt_changes": [c.to_json() for c in self.dbt_changes],
        }

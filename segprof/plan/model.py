"""The plan as a value: per-address changes that every renderer and the executor read.

Owns: `Action` (a one-symbol enum printed as-is), `FieldChange`, `ResourceChange`, `Plan`. Must
never recompute anything: renderers and apply only read these values. Values at sensitive paths
are stored already redacted (`SENSITIVE`), so a plan can be printed or saved without leaking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from segprof.plan.resources import Kind

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

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "sensitive": self.sensitive,
            "forces_replace": self.forces_replace,
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
            "changes": [c.to_json() for c in self.changes],
            "drift": [c.to_json() for c in self.drift],
            "warnings": list(self.warnings),
        }


@dataclass
class Plan:
    changes: list[ResourceChange]
    config_fingerprint: str = ""
    live_fingerprint: str = ""
    diagnostics: list[str] = field(default_factory=list)  # warnings to show above the plan
    targets: list[str] = field(default_factory=list)  # --target addresses the plan was limited to

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
            "summary": {**self.counts(), "has_changes": self.has_changes, "text": self.summary_line()},
            "config_fingerprint": self.config_fingerprint,
            "live_fingerprint": self.live_fingerprint,
            "diagnostics": list(self.diagnostics),
            "targets": list(self.targets),
            "resource_changes": [c.to_json() for c in self.changes],
        }

"""What one sync run is given and what it reports: `SyncJob`, `RunSummary`, and the mapping's reach.

Owns `SyncJob` (everything a run needs, whoever builds it: the project config for self-hosted runs,
the workspace's stored objects for the embedded workspace), `RunSummary` (the outcome every
renderer and run record reads), the triggers a subscription names and the model columns its
settings read. Must never run anything: these are values and pure readings of settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from segprof.errors import SegprofError

_TRIGGER_EVENT = re.compile(r"""event\s*=\s*["'](new|updated|deleted)["']""")
_PROPERTY_PATH = re.compile(r"""^\$\.properties(?:\.([^.\[\]]+)|\[["']([^"']+)["']\])?""")
_TEMPLATE_REF = re.compile(r"\{\{\{?\s*properties(?:\.([^.\s}\[\]]+)|\[[\"']([^\"']+)[\"']\])?")


def triggers_of(trigger: str) -> frozenset[str]:
    """`event = "new" or event = "updated"` → {"new", "updated"} (Segment's Reverse ETL triggers)."""
    found = frozenset(_TRIGGER_EVENT.findall(trigger or ""))
    if not found:
        raise SegprofError(
            f"the mapping's trigger {trigger!r} names no record change (new, updated, deleted)"
        )
    return found


def referenced_columns(settings: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The model columns a mapping's settings read, and whether it reads the whole record.

    Paths `$.properties.X` (and `$.properties['X']`) and templates `{{properties.X}}` name column X;
    a bare `$.properties` or `{{properties}}` reads every column.
    """
    names: dict[str, None] = {}
    whole = False

    def visit(value: Any) -> None:
        nonlocal whole
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key in ("@path", "@arrayPath") and isinstance(item, str):
                    match = _PROPERTY_PATH.match(item.strip())
                    if match:
                        name = match.group(1) or match.group(2)
                        if name:
                            names[name] = None
                        else:
                            whole = True
                if key == "@arrayPath" and isinstance(item, list) and item and isinstance(item[0], str):
                    visit({"@path": item[0]})
                if key == "@template" and isinstance(item, str):
                    for m in _TEMPLATE_REF.finditer(item):
                        name = m.group(1) or m.group(2)
                        if name:
                            names[name] = None
                        else:
                            whole = True
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit({k: v for k, v in settings.items() if k != "engage_space"})
    return list(names), whole


@dataclass(frozen=True)
class SyncJob:
    """One mapping, resolved: what to read, how to build each message, where it counts."""

    mapping_id: str  # bookkeeping key: the live subscription id, else the mapping address
    action: str  # Segment's action key (sendIdentify, …) or ours (send_identify, …)
    settings: Mapping[str, Any] = field(repr=False)  # the subscription settings (engage_space dropped)
    triggers: frozenset[str]
    model_sql: str
    identifier: str
    address: str | None = None

    def without_secrets(self) -> dict[str, Any]:
        return {k: v for k, v in self.settings.items() if k != "engage_space"}


@dataclass
class RunSummary:
    """The outcome of one run of one mapping."""

    mapping_id: str
    address: str | None = None
    run_id: str | None = None
    status: str = "success"  # success, partial, failed, cancelled, refused, dry_run
    extracted: int = 0
    new: int = 0
    updated: int = 0
    deleted: int = 0
    delivered: int = 0
    failed: int = 0
    skipped: int = 0  # changes of kinds the mapping does not trigger on
    remaining: int = 0  # changes past the run's record limit, left for the next syncs
    duplicates: int = 0  # rows skipped for a duplicated identifier
    null_ids: int = 0
    dropped: int = 0  # failed records given up on after too many attempts
    # messages acknowledged but dropped by the workspace as duplicates of earlier ones (lost
    # changes; only segprof's emulator reports them)
    duplicate_messages: int = 0
    duration: float = 0.0
    errors: list[str] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)  # dry run: example messages

    @property
    def ok(self) -> bool:
        return self.status in ("success", "dry_run")

    def to_json(self) -> dict[str, Any]:
        return {
            "mapping": self.address,
            "mapping_id": self.mapping_id,
            "run_id": self.run_id,
            "status": self.status,
            "extracted": self.extracted,
            "new": self.new,
            "updated": self.updated,
            "deleted": self.deleted,
            "delivered": self.delivered,
            "failed": self.failed,
            "skipped": self.skipped,
            "remaining": self.remaining,
            "duplicates": self.duplicates,
            "null_ids": self.null_ids,
            "dropped": self.dropped,
            "duplicate_messages": self.duplicate_messages,
            "duration_seconds": round(self.duration, 3),
            "errors": list(self.errors),
            **({"samples": self.samples} if self.samples else {}),
        }

"""Saved plans (`segprof plan --out FILE`) and the staleness check that guards applying them.

Owns: the file format (the plan's JSON plus the fingerprints of the config and of the live
workspace it was computed from), reading it back as a `Plan` for `segprof show`, and refusing a
saved plan when either fingerprint has changed since.
Must never write a secret: the plan holds only redacted values and fingerprints; apply re-derives
the real values from the config, which must be unchanged. A `plan --preview` is kept for display
(sample records' mapped values, secrets scrubbed); apply and the staleness check never read it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from segprof import __version__
from segprof.errors import SegprofError
from segprof.files import write_atomically
from segprof.plan.model import (
    Action,
    DbtModelChange,
    FieldChange,
    MappingPreview,
    PayloadChange,
    Plan,
    RecordPreview,
    ResourceChange,
    SendCount,
)
from segprof.project.resources import Kind

PLANFILE_KIND = "segprof-plan"


def save_plan(plan: Plan, path: Path) -> None:
    data: dict[str, Any] = {"kind": PLANFILE_KIND, "segprof_version": __version__, **plan.to_json()}
    text = json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"
    write_atomically(path, text, what="the plan")


def load_plan_header(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SegprofError(f"{path}: no such plan file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SegprofError(f"{path}: not a readable segprof plan file ({err})") from None
    except RecursionError:
        raise SegprofError(f"{path}: not a segprof plan file (nested too deeply to read)") from None
    if not isinstance(data, dict) or data.get("kind") != PLANFILE_KIND:
        raise SegprofError(f"{path}: not a segprof plan file")
    return data


def check_not_stale(saved: dict[str, Any], current: Plan, path: Path) -> None:
    """Refuse a saved plan unless config and live workspace are exactly as when it was made."""
    if saved.get("environment") != current.environment:
        raise SegprofError(
            f"{path}: the saved plan was made for environment {_env(saved.get('environment'))}, "
            f"and this apply runs for {_env(current.environment)}",
            hint="apply it with the same --env (or SEGPROF_ENV) it was planned with",
        )
    if saved.get("config_fingerprint") != current.config_fingerprint:
        raise SegprofError(
            f"{path}: the saved plan is stale: the configuration changed since it was made",
            hint="run `segprof plan --out FILE` again and review the new plan",
        )
    if saved.get("live_fingerprint") != current.live_fingerprint:
        raise SegprofError(
            f"{path}: the saved plan is stale: the live workspace changed since it was made",
            hint="run `segprof plan --out FILE` again and review the new plan",
        )
    saved_changes = [(c.get("address"), c.get("action")) for c in saved.get("resource_changes", [])]
    now_changes = [(c.address, c.action.value) for c in current.changes]
    if saved_changes != now_changes:
        raise SegprofError(f"{path}: the saved plan no longer matches what apply would do; plan again")


def load_plan(path: Path) -> Plan:
    """A saved plan as the `Plan` it was saved from, for `segprof show PLANFILE` (display only)."""
    data = load_plan_header(path)
    try:
        return _plan_from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise SegprofError(
            f"{path}: not a readable segprof plan file ({type(err).__name__}: {err})"
        ) from None


def _field(data: dict[str, Any]) -> FieldChange:
    return FieldChange(
        path=data["path"],
        before=data.get("before"),
        after=data.get("after"),
        sensitive=bool(data.get("sensitive")),
        forces_replace=bool(data.get("forces_replace")),
        before_address=data.get("before_address"),
        after_address=data.get("after_address"),
    )


def _preview(data: dict[str, Any]) -> MappingPreview:
    records = [
        RecordPreview(
            id=r["id"],
            changes=[
                PayloadChange(c["path"], c["op"], c.get("before"), c.get("after"))
                for c in r.get("changes", [])
            ],
            before_error=r.get("before_error"),
            after_error=r.get("after_error"),
            omitted=int(r.get("omitted_changes") or 0),
        )
        for r in data.get("records", [])
    ]
    count = data.get("send_count")
    send_count = None
    if count:
        send_count = SendCount(
            basis=count["basis"],
            known=bool(count["known"]),
            new=int(count.get("new") or 0),
            updated=int(count.get("updated") or 0),
            deleted=int(count.get("deleted") or 0),
            note=count.get("note") or "",
        )
    return MappingPreview(
        sample_size=int(data.get("sample_size") or 0),
        available=bool(data.get("available", True)),
        reason=data.get("reason"),
        has_before=bool(data.get("has_before")),
        model_changed=bool(data.get("model_changed")),
        order_by=data.get("order_by") or "",
        event=data.get("event") or "new",
        records=records,
        send_count=send_count,
    )


def _plan_from_json(data: dict[str, Any]) -> Plan:
    changes = []
    for c in data["resource_changes"]:
        action = Action(c["action"])
        change = ResourceChange(
            address=c["address"],
            kind=Kind(c["kind"]),
            action=action,
            name=c.get("name") or c["address"],
            live_id=c.get("live_id"),
            before=c.get("before"),
            after=c.get("after"),
            changes=[_field(f) for f in c.get("changes", [])],
            drift=[_field(f) for f in c.get("drift", [])],
            reason=c.get("reason"),
            moved_from=c.get("moved_from"),
            warnings=list(c.get("warnings") or []),
            refs=dict(c.get("refs") or {}),
        )
        # an adopt that also updates is one whose field changes apply will make
        change.also_update = action is Action.adopt and bool(change.changes)
        if c.get("preview") is not None:
            change.preview = _preview(c["preview"])
        changes.append(change)
    return Plan(
        changes=changes,
        config_fingerprint=data.get("config_fingerprint", ""),
        live_fingerprint=data.get("live_fingerprint", ""),
        diagnostics=list(data.get("diagnostics") or []),
        targets=list(data.get("targets") or []),
        environment=data.get("environment"),
        dbt_changes=[
            DbtModelChange(
                model=d["model"],
                dbt_model=d["dbt_model"],
                file=d.get("file") or "",
                reasons=list(d.get("reasons") or []),
                mappings=list(d.get("mappings") or []),
            )
            for d in data.get("dbt_changes") or []
        ],
    )


def _env(name: object) -> str:
    return f"`{name}`" if name else "none (no --env)"

"""The plan as terminal text, in the manner of Terraform: symbols, per-field old → new, a summary.

Owns: formatting only. Reads a `Plan`; computes nothing; values at sensitive paths are already
`(sensitive)` in the plan.
"""

from __future__ import annotations

import json
from typing import Any

from segprof.plan.model import Action, FieldChange, Plan, ResourceChange

_STYLE = {
    Action.create: "green",
    Action.update: "yellow",
    Action.replace: "magenta",
    Action.delete: "red",
    Action.adopt: "cyan",
    Action.noop: "dim",
}

_VERB = {
    Action.create: "will be created",
    Action.update: "will be updated in place",
    Action.replace: "must be replaced",
    Action.delete: "will be destroyed",
    Action.adopt: "will be adopted",
    Action.noop: "is unchanged",
}


def format_value(value: Any, limit: int = 120) -> str:
    if isinstance(value, str):
        if "\n" in value:
            first = value.strip().splitlines()[0] if value.strip() else ""
            lines = value.count("\n") + 1
            return json.dumps(first[:limit] + (" …" if len(first) > limit else "")) + f" (+{lines - 1} lines)"
        text = json.dumps(value, ensure_ascii=False)
    elif value is None:
        text = "null"
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field_line(fc: FieldChange) -> str:
    tail = "  [red]# forces replacement[/]" if fc.forces_replace else ""
    if fc.before is None:
        return f"      [green]+[/] {fc.path} = {_escape(format_value(fc.after))}{tail}"
    if fc.after is None:
        return f"      [red]-[/] {fc.path} = {_escape(format_value(fc.before))}{tail}"
    return f"      [yellow]~[/] {fc.path}: {_escape(format_value(fc.before))} → {_escape(format_value(fc.after))}{tail}"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def resource_lines(change: ResourceChange) -> list[str]:
    style = _STYLE[change.action]
    verb = _VERB[change.action]
    if change.action is Action.adopt and change.also_update:
        verb = "will be adopted and updated in place"
    head = f"  [{style}]{change.action.symbol}[/] [bold]{change.address}[/] {verb}"
    if change.moved_from:
        head = f"  [cyan]→[/] [bold]{change.address}[/] has moved from {change.moved_from}"
        if change.action is not Action.noop:
            head += f" and {verb}"
    lines = [head]
    if change.live_id:
        lines.append(f"      [dim]id: {change.live_id}[/]")
    if change.reason:
        lines.append(f"      [dim]# {_escape(change.reason)}[/]")
    for drift in change.drift:
        lines.append(
            f"      [cyan]! changed outside segprof:[/] {drift.path}: "
            f"{_escape(format_value(drift.before))} → {_escape(format_value(drift.after))}"
        )
    if change.action is Action.create and change.after:
        for key, value in change.after.items():
            lines.append(f"      [green]+[/] {key} = {_escape(format_value(value))}")
    elif change.action in (Action.update, Action.replace, Action.adopt):
        lines.extend(_field_line(fc) for fc in change.changes)
    for warning in change.warnings:
        lines.append(f"      [yellow]warning:[/] {_escape(warning)}")
    return lines


def render_text(plan: Plan) -> str:
    """Rich markup text of the whole plan (the caller prints it to a console)."""
    out: list[str] = []
    for diagnostic in plan.diagnostics:
        out.append(f"[yellow]warning:[/] {_escape(diagnostic)}")
    if out:
        out.append("")
    changed = [c for c in plan.changes if c.is_change]
    drifted_only = [c for c in plan.changes if not c.is_change and c.drift]
    if changed:
        out.append("segprof will perform the following actions:")
        out.append("")
        for change in changed:
            out.extend(resource_lines(change))
            out.append("")
    for change in drifted_only:
        out.extend(resource_lines(change))
        out.append("")
    out.append(f"[bold]{plan.summary_line()}[/]")
    return "\n".join(out)

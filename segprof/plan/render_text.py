"""The plan as terminal text, in the manner of Terraform: symbols, per-field old → new, a summary.

Owns: formatting only. Reads a `Plan`; computes nothing; values at sensitive paths are already
`(sensitive)` in the plan.
Must never compute: it reads a `Plan` as it is.
"""

from __future__ import annotations

import json
from typing import Any

from segprof.plan.model import (
    Action,
    FieldChange,
    MappingPreview,
    PayloadChange,
    Plan,
    RecordPreview,
    ResourceChange,
    SendCount,
)
from segprof.plan.render_values import (
    DiffLine,
    is_text_change,
    line_diff,
    scalar_text,
    side_text,
    value_lines,
)

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


# text lines start 6 columns in; a value opens over several lines when it would pass the width
_INDENT = "      "
DEFAULT_WIDTH = 100


def field_lines(fc: FieldChange, width: int = DEFAULT_WIDTH, indent: str = _INDENT) -> list[str]:
    """One field change, never cut: a multi-line string as a line diff, a long value opened up."""
    tail = "  [red]# forces replacement[/]" if fc.forces_replace else ""
    path = _escape(fc.path)
    if is_text_change(fc):
        lines = [f"{indent}[yellow]~[/] {path}:{tail}"]
        for dl in line_diff(fc.before, fc.after):
            lines.append(indent + "    " + _diff_line_markup(dl))
        return lines
    if fc.before_address or fc.after_address:
        before = side_text(fc.before, fc.before_address)
        after = side_text(fc.after, fc.after_address)
        return [f"{indent}[yellow]~[/] {path}: {_escape(before)} → {_escape(after)}{tail}"]
    if fc.before is None:
        return _assign_lines("[green]+[/]", path, fc.after, width, indent, tail)
    if fc.after is None:
        return _assign_lines("[red]-[/]", path, fc.before, width, indent, tail)
    room = max(width - len(indent) - len(fc.path) - 8, 20)
    old, new = value_lines(fc.before, room), value_lines(fc.after, room)
    if len(old) == 1 and len(new) == 1 and len(old[0]) + len(new[0]) <= room:
        return [f"{indent}[yellow]~[/] {path}: {_escape(old[0])} → {_escape(new[0])}{tail}"]
    lines = [f"{indent}[yellow]~[/] {path}:{tail}"]
    inner = indent + "    "
    lines.extend(_sided(inner, "[red]-[/]", value_lines(fc.before, max(width - len(inner) - 2, 20))))
    lines.extend(_sided(inner, "[green]+[/]", value_lines(fc.after, max(width - len(inner) - 2, 20))))
    return lines


def _assign_lines(sign: str, path: str, value: object, width: int, indent: str, tail: str = "") -> list[str]:
    """`+ key = value`, the value's further lines (an opened object, a query) indented under it."""
    # the continuation lines start 4 columns in; the first line may run past by the key's length
    body = value_lines(value, max(width - len(indent) - 6, 20))
    lines = [f"{indent}{sign} {path} = {_escape(body[0])}{tail if len(body) == 1 else ''}"]
    lines.extend(f"{indent}    {_escape(line)}" for line in body[1:])
    if len(body) > 1 and tail:
        lines[-1] += tail
    return lines


def _sided(indent: str, sign: str, body: list[str]) -> list[str]:
    return [f"{indent}{sign} {_escape(line)}" for line in body]


def _diff_line_markup(dl: DiffLine) -> str:
    if dl.sign == "+":
        return f"[green]+ {_escape(dl.text)}[/]"
    if dl.sign == "-":
        return f"[red]- {_escape(dl.text)}[/]"
    if dl.sign == "@":
        return f"[cyan]{_escape(dl.text)}[/]"
    return f"  {_escape(dl.text)}"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def resource_lines(change: ResourceChange, width: int = DEFAULT_WIDTH) -> list[str]:
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
            f"      [cyan]! changed outside segprof:[/] {_escape(drift.path)}: "
            f"{_escape(scalar_text(drift.before))} → {_escape(scalar_text(drift.after))}"
        )
    if change.action is Action.create and change.after:
        for key, value in change.after.items():
            if key in change.refs:
                value_text = side_text(value, change.refs[key])
                lines.append(f"      [green]+[/] {key} = {_escape(value_text)}")
            else:
                lines.extend(_assign_lines("[green]+[/]", key, value, width, _INDENT))
    elif change.action in (Action.update, Action.replace, Action.adopt):
        for fc in change.changes:
            lines.extend(field_lines(fc, width))
    if change.preview is not None:
        lines.extend(preview_lines(change.preview))
    for warning in change.warnings:
        lines.append(f"      [yellow]warning:[/] {_escape(warning)}")
    return lines


def preview_lines(preview: MappingPreview) -> list[str]:
    """`plan --preview`: sample payloads old → new, and what the next sync sends."""
    if not preview.available:
        return [
            f"      [yellow]warning:[/] preview unavailable: {_escape(preview.reason or 'unknown reason')}"
        ]
    lines = [f"      [bold]preview[/] [dim]{_escape(preview_heading(preview))}[/]"]
    records = preview.records
    if preview.all_unchanged:
        lines.append(f"        payloads unchanged on all {len(records)} sample record(s)")
    else:
        for record in records:
            lines.extend(_record_lines(record, preview.has_before))
    if preview.send_count is not None:
        lines.append(f"      [bold]next sync:[/] {_escape(send_count_text(preview.send_count))}")
    return lines


def preview_heading(preview: MappingPreview) -> str:
    n = len(preview.records)
    if not n:
        return "(the model returned no records)"
    side = "old → new settings" if preview.has_before else "new settings"
    if preview.model_changed:
        side = "live → new model query"
    return f'({n} sample record(s) by {preview.order_by}, as "{preview.event}" events, {side})'


def _record_lines(record: RecordPreview, has_before: bool) -> list[str]:
    head = f"        record {_escape(format_value(record.id))}:"
    if record.after_error:
        return [f"{head} [red]rejected by the new settings:[/] {_escape(record.after_error)}"]
    if has_before and record.status == "unchanged" and not record.before_error:
        return [f"{head} [dim]payload unchanged[/]"]
    lines = [head]
    if record.before_error:
        lines.append(f"          [dim]# the old settings rejected it: {_escape(record.before_error)}[/]")
    lines.extend(f"          {payload_change_text(c, markup=True)}" for c in record.changes)
    if record.omitted:
        lines.append(f"          [dim]… {record.omitted} more change(s)[/]")
    return lines


def payload_change_text(change: PayloadChange, *, markup: bool = False, limit: int = 120) -> str:
    def v(value: object) -> str:
        text = format_value(value, limit)
        return _escape(text) if markup else text

    path = _escape(change.path) if markup else change.path
    if change.op == "added":
        sign = "[green]+[/]" if markup else "+"
        return f"{sign} {path} = {v(change.after)}"
    if change.op == "removed":
        sign = "[red]-[/]" if markup else "-"
        return f"{sign} {path} = {v(change.before)}"
    sign = "[yellow]~[/]" if markup else "~"
    return f"{sign} {path}: {v(change.before)} → {v(change.after)}"


def send_count_text(count: SendCount) -> str:
    if not count.known:
        return f"not known ({count.note})"
    parts = ", ".join(
        f"{getattr(count, k):,} {k}" for k in ("new", "updated", "deleted") if getattr(count, k)
    )
    text = f"{count.total:,} record(s) to send" + (f" ({parts})" if parts else "")
    return f"{text}; {count.note}" if count.note else text


def render_text(plan: Plan, width: int = DEFAULT_WIDTH) -> str:
    """Rich markup text of the whole plan (the caller prints it to a console `width` wide)."""
    out: list[str] = [f"Environment: [bold]{_escape(plan.environment)}[/]", ""] if plan.environment else []
    for diagnostic in plan.diagnostics:
        out.append(f"[yellow]warning:[/] {_escape(diagnostic)}")
    if plan.diagnostics:
        out.append("")
    changed = [c for c in plan.changes if c.is_change]
    drifted_only = [c for c in plan.changes if not c.is_change and c.drift]
    if changed:
        out.append("segprof will perform the following actions:")
        out.append("")
        for change in changed:
            out.extend(resource_lines(change, width))
            out.append("")
    for change in drifted_only:
        out.extend(resource_lines(change, width))
        out.append("")
    # mappings left as they are whose payloads change with their model's query (plan --preview)
    for change in plan.changes:
        if not change.is_change and not change.drift and change.preview is not None:
            out.extend(resource_lines(change, width))
            out.append("")
    out.extend(dbt_lines(plan))
    out.append(f"[bold]{plan.summary_line()}[/]")
    return "\n".join(out)


def dbt_lines(plan: Plan) -> list[str]:
    """The dbt models changed against production, and the mappings they feed."""
    if not plan.dbt_changes:
        return []
    out = ["dbt models changed against production:", ""]
    for change in plan.dbt_changes:
        out.append(
            f"  [bold]{_escape(change.model)}[/] ← dbt model {_escape(change.dbt_model)} ({_escape(change.file)})"
        )
        out.extend(f"      {_escape(reason)}" for reason in change.reasons)
        mappings = ", ".join(change.mappings) or "none"
        out.append(f"      mappings: {_escape(mappings)}")
        out.append("")
    return out

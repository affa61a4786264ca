"""The plan as Markdown for a pull-request comment: summary first, details folded, size-bounded.

Owns: formatting only (reads a `Plan`). GitHub rejects comments over 65,536 characters, so the
output stays under `MAX_CHARS`, cutting whole resource blocks and saying how many were left out.
Must never compute: it reads a `Plan` as it is.
"""

from __future__ import annotations

import re

from segprof.plan.model import Action, FieldChange, MappingPreview, Plan, ResourceChange
from segprof.plan.render_text import format_value, payload_change_text, preview_heading, send_count_text
from segprof.plan.render_values import is_text_change, line_diff, scalar_text, side_text, value_lines

MAX_CHARS = 60_000
_WIDTH = 100  # a long value opens one entry per line past this width (it is never cut)

_EMOJI_FREE_LABEL = {
    Action.create: "create",
    Action.update: "update",
    Action.replace: "replace",
    Action.delete: "destroy",
    Action.adopt: "adopt",
    Action.noop: "no-op",
}


def _code(text: str) -> str:
    return "`" + text.replace("`", "ˋ") + "`"


def _close_fence(lines: list[str], opened: int) -> None:
    """Close the code block opened at `lines[opened]` with a fence longer than any run of
    backticks inside it, so that a value holding ``` cannot end the block early."""
    longest = max((len(run) for line in lines[opened + 1 :] for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    lines[opened] = fence + lines[opened].lstrip("`")
    lines.append(fence)


def _block(change: ResourceChange) -> str:
    label = _EMOJI_FREE_LABEL[change.action]
    if change.moved_from:
        label = f"move from {change.moved_from}" + ("" if change.action is Action.noop else f", {label}")
    lines = [
        f"<details><summary><code>{change.action.symbol}</code> <b>{change.address}</b> ({label})</summary>",
        "",
    ]
    if change.reason:
        lines.append(f"_{change.reason}_")
        lines.append("")
    opened = len(lines)
    lines.append("```diff")
    if change.action is Action.create and change.after:
        for key, value in change.after.items():
            if key in change.refs:
                lines.append(f"+ {key} = {side_text(value, change.refs[key])}")
            else:
                lines.extend(_assign("+", key, value))
    for drift in change.drift:
        lines.append(
            f"! {drift.path}: {scalar_text(drift.before)} → {scalar_text(drift.after)} (changed outside segprof)"
        )
    for fc in change.changes:
        lines.extend(_field(fc))
    _close_fence(lines, opened)
    if change.preview is not None:
        lines.extend(_preview(change.preview))
    for warning in change.warnings:
        lines.append(f"> **Warning:** {warning}")
    lines.append("</details>")
    return "\n".join(lines)


def _assign(sign: str, path: str, value: object, suffix: str = "") -> list[str]:
    """`+ key = value` in a diff block; an opened value's further lines carry the same sign."""
    body = value_lines(value, _WIDTH)
    lines = [f"{sign} {path} = {body[0]}"] + [f"{sign}   {line}" for line in body[1:]]
    lines[-1] += suffix
    return lines


def _field(fc: FieldChange) -> list[str]:
    suffix = "  # forces replacement" if fc.forces_replace else ""
    if is_text_change(fc):
        lines = [f"~ {fc.path}:{suffix}"]
        for dl in line_diff(fc.before, fc.after):
            lines.append(dl.text if dl.sign == "@" else f"{dl.sign} {dl.text}")
        return lines
    lines = []
    if fc.before is not None:
        if fc.before_address or fc.after_address:
            lines.append(f"- {fc.path} = {side_text(fc.before, fc.before_address)}{suffix}")
        else:
            lines.extend(_assign("-", fc.path, fc.before, suffix))
    if fc.after is not None:
        if fc.before_address or fc.after_address:
            lines.append(f"+ {fc.path} = {side_text(fc.after, fc.after_address)}{suffix}")
        else:
            lines.extend(_assign("+", fc.path, fc.after, suffix))
    return lines


def _preview(preview: MappingPreview) -> list[str]:
    if not preview.available:
        return ["", f"> **Warning:** preview unavailable: {preview.reason or 'unknown reason'}"]
    lines = ["", f"**Preview** {preview_heading(preview)}", "", "```diff"]
    opened = len(lines) - 1
    records = preview.records
    if preview.all_unchanged:
        lines.append(f"# payloads unchanged on all {len(records)} sample record(s)")
        records = []
    for record in records:
        head = f"# record {format_value(record.id, 200)}"
        if record.after_error:
            lines.append(f"{head}: rejected by the new settings: {record.after_error}")
            continue
        if preview.has_before and record.status == "unchanged" and not record.before_error:
            lines.append(f"{head}: payload unchanged")
            continue
        lines.append(head)
        if record.before_error:
            lines.append(f"#   the old settings rejected it: {record.before_error}")
        for c in record.changes:
            # a diff block colours by the first character: a changed leaf shows as - old / + new
            if c.op == "changed":
                lines.append(f"- {c.path} = {format_value(c.before, 200)}")
                lines.append(f"+ {c.path} = {format_value(c.after, 200)}")
            else:
                lines.append(payload_change_text(c, limit=200))
        if record.omitted:
            lines.append(f"# … {record.omitted} more change(s)")
    _close_fence(lines, opened)
    if preview.send_count is not None:
        lines.extend(["", f"**Next sync:** {send_count_text(preview.send_count)}"])
    return lines


def render_markdown(plan: Plan, title: str = "segprof plan") -> str:
    counts = plan.counts()
    if plan.environment:
        title = f"{title} · environment `{plan.environment}`"
    head = [f"### {title}", "", f"**{plan.summary_line()}**", ""]
    if plan.has_changes:
        head.append("| add | change | destroy | adopt | move |")
        head.append("|---:|---:|---:|---:|---:|")
        head.append(
            f"| {counts['add']} | {counts['change']} | {counts['destroy']} | {counts['adopt']} | {counts['move']} |"
        )
        head.append("")
    for diagnostic in plan.diagnostics:
        head.append(f"> **Warning:** {diagnostic}")
    warnings = [w for c in plan.changes for w in c.warnings]
    if any("resets its sync state" in w for w in warnings):
        head.append("> **Warning:** this plan replaces a mapping; its next sync resends every record.")
    if plan.dbt_changes:
        head += ["", "**dbt models changed against production**", ""]
        for change in plan.dbt_changes:
            mappings = ", ".join(f"`{m}`" for m in change.mappings) or "none"
            head.append(
                f"- `{change.model}` ← dbt `{change.dbt_model}` (`{change.file}`): "
                + "; ".join(change.reasons)
                + f" — mappings: {mappings}"
            )
    text = "\n".join(head).rstrip() + "\n"
    blocks = [_block(c) for c in plan.changes if c.is_change or c.drift or c.preview is not None]
    omitted = 0
    for i, block in enumerate(blocks):
        notice_room = 200
        if len(text) + len(block) + 2 + notice_room > MAX_CHARS:
            omitted = len(blocks) - i
            break
        text += "\n" + block + "\n"
    if omitted:
        text += (
            f"\n_…{omitted} more resource change(s) not shown to keep this comment under "
            f"{MAX_CHARS:,} characters; run `segprof plan` for the full plan._\n"
        )
    return text

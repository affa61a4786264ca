"""The compiled forms of the language: subscription `settings`, `trigger` and `reverseETLSchedule`.

Owns turning a mapping's YAML fields into Segment's mapping JSON (`@path`, `@template`,
`@excludeWhenNull`, literals), exactly as docs/config-language.md's "Fields" table says, so that
plan shows and the sync engine resolves the same settings. Pure functions only: they must never
read files, the network or the warehouse. The settings hold the destination's write key
(`engage_space`); callers must redact it before printing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from segprof.config.fields import (
    OBJECT_FIELDS,
    TEMPLATE_REFERENCE,
    ColumnField,
    IdentifierField,
    TemplateField,
    ValueField,
)
from segprof.config.models import Destination, Mapping, Model
from segprof.config.schedule import compile_schedule
from segprof.sql.dialects import normalize_identifier

__all__ = ["compile_field", "compile_schedule", "compile_settings", "compile_trigger", "resolve_column"]

TRIGGER_ORDER = ("new", "updated", "deleted")


def compile_trigger(on: Iterable[str]) -> str:
    """`[new, updated]` → `event = "new" or event = "updated"` (order: new, updated, deleted)."""
    wanted = set(on)
    unknown = wanted - set(TRIGGER_ORDER)
    if unknown or not wanted:
        raise ValueError(f"not a record change: {sorted(unknown) or 'none given'}")
    return " or ".join(f'event = "{event}"' for event in TRIGGER_ORDER if event in wanted)


def resolve_column(name: str, columns: Sequence[str] | None, dialect: str | None = None) -> str:
    """The model output column a mapped name refers to: the exact name if present, else the one
    equal after folding for the dialect, else the name as written."""
    if not columns:
        return name
    if name in columns:
        return name
    if dialect:
        folded = normalize_identifier(name, dialect)
        for column in columns:
            if column == folded or normalize_identifier(column, dialect) == folded:
                return column
    lowered = [column for column in columns if column.lower() == name.lower()]
    return lowered[0] if len(lowered) == 1 else name


def _path(column: str) -> dict[str, str]:
    return {"@path": f"$.properties.{column}"}


def compile_field(
    field: Any,
    sync_nulls: bool,
    *,
    columns: Sequence[str] | None = None,
    dialect: str | None = None,
) -> Any:
    """One scalar field (a column name or {column}/{value}/{template}/{identifier}) in Segment's form."""
    if isinstance(field, str):
        compiled: Any = _path(resolve_column(field, columns, dialect))
        return compiled if sync_nulls else {"@excludeWhenNull": compiled}
    if isinstance(field, ColumnField):
        compiled = _path(resolve_column(field.column, columns, dialect))
        keep_nulls = sync_nulls if field.sync_nulls is None else field.sync_nulls
        return compiled if keep_nulls else {"@excludeWhenNull": compiled}
    if isinstance(field, ValueField):
        return field.value
    if isinstance(field, TemplateField):

        def qualify(match: Any) -> str:
            name = match.group(1)
            return "{{properties." + resolve_column(name, columns, dialect) + "}}" if name else match.group(0)

        return {"@template": TEMPLATE_REFERENCE.sub(qualify, field.template)}
    if isinstance(field, IdentifierField):
        return {"@path": "$.__segment_id"}
    raise TypeError(f"not a field: {type(field).__name__}")


def compile_settings(
    mapping: Mapping,
    destination: Destination,
    model: Model | None = None,
    *,
    columns: Sequence[str] | None = None,
    dialect: str | None = None,
) -> dict[str, Any]:
    """The subscription `settings` for a mapping: `engage_space` from the destination's write key,
    then every field the user wrote, then `raw_settings` verbatim (they win).

    Column names are written as the user wrote them unless `columns` (the model's output
    columns, e.g. from SQL analysis) are given; then each name resolves to the output column it
    matches under the `dialect`'s folding (e.g. `email` → `EMAIL` on Snowflake).
    """
    del model  # the settings depend on the model only through its columns
    settings: dict[str, Any] = {
        "engage_space": destination.write_key.get_secret_value() if destination.write_key else "",
    }
    for key, field in mapping.fields.given().items():
        if field is None:
            continue
        if key in OBJECT_FIELDS:
            if isinstance(field, str):
                settings[key] = _path(resolve_column(field, columns, dialect))
            else:
                settings[key] = {
                    name: compile_field(value, mapping.sync_nulls, columns=columns, dialect=dialect)
                    for name, value in field.items()
                }
        else:
            settings[key] = compile_field(field, mapping.sync_nulls, columns=columns, dialect=dialect)
    settings.update(mapping.raw_settings)
    return settings

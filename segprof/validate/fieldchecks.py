"""Checks of mapped fields that need neither the model's SQL nor the warehouse.

Owns two rules: a mapped column must be a plain path segment (Segment resolves
`$.properties.<column>` by splitting at dots and brackets, so `a.b`, `x[0]` or quoted names would
silently resolve to nothing), and a mapping triggered `on: deleted` must not take its identity from
columns (a deleted record has no column values left, so every delete would fail). Must never read
the model's SQL or reach a warehouse.
"""

from __future__ import annotations

import re
from typing import Any

from segprof.config.diagnostic import Diagnostic, error
from segprof.config.fields import ColumnField, IdentifierField, TemplateField, ValueField
from segprof.config.models import Mapping
from segprof.validate.sqlcheck import column_location, field_name, is_plain_column, mapped_columns

#: Identity fields per action: on a delete, at least one must come from the record's identifier.
_IDENTITY = {
    "send_identify": ("user_id", "anonymous_id"),
    "send_group": ("user_id", "anonymous_id"),
    "send_track": ("user_id", "anonymous_id"),
    "send_subscription": ("user_id", "anonymous_id"),
}


def check_fields(mapping: Mapping) -> list[Diagnostic]:
    return [*_column_paths(mapping), *_deletes(mapping)]


def _column_paths(mapping: Mapping) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for column, path in mapped_columns(mapping):
        if is_plain_column(column):
            continue
        safe = re.sub(r"[^0-9A-Za-z_]+", "_", column).strip("_") or "column"
        out.append(
            error(
                "field.column_path",
                f"column `{column}` (field {field_name(path)}) cannot be mapped: Segment reads dots, "
                "brackets and quotes in a column name as a path, so the field would always be empty",
                column_location(mapping, path, column),
                address=mapping.address,
                hint=f'rename it in the model\'s query, e.g. `"{column}" AS {safe}`, and map `{safe}`',
            )
        )
    return out


def _from_columns(field: Any) -> bool:
    """Whether a field's value comes from the record's columns (all null on a delete)."""
    if isinstance(field, str | ColumnField):
        return True
    if isinstance(field, TemplateField):
        return bool(field.columns())
    return False


def _deletes(mapping: Mapping) -> list[Diagnostic]:
    if "deleted" not in mapping.on:
        return []
    given = {k: v for k, v in mapping.fields.given().items() if v is not None}
    identity = [key for key in _IDENTITY[mapping.action] if key in given]
    if not identity or not all(_from_columns(given[key]) for key in identity):
        return []
    if any(isinstance(given[key], IdentifierField | ValueField) for key in identity):
        return []
    shown = " and ".join(f"`{key}`" for key in identity)
    return [
        error(
            "action.delete_without_identifier",
            f"`on` includes deleted, but {shown} {'comes' if len(identity) == 1 else 'come'} from columns, "
            "which are empty when a record is deleted: every delete would fail",
            mapping.field_location("on") or mapping.key_location,
            address=mapping.address,
            hint=f"map `{identity[0]}: {{identifier: true}}` (the record's identifier), or drop deleted from `on`",
        )
    ]

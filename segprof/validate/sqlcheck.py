"""Model SQL and column checks: each model's query through `segprof.sql` in its source's dialect,
then the identifier and every mapped column against the query's output columns.

Owns placing SQL problems at the line and column inside the YAML or .sql file, and the
`columns.*` diagnostics. Must never connect to a warehouse; sqlglot is imported only when a
project has SQL to check.
"""

from __future__ import annotations

import functools
import re
from typing import Any, NamedTuple

from segprof.config.diagnostic import Diagnostic, error, warning
from segprof.config.fields import OBJECT_FIELDS, ColumnField, TemplateField
from segprof.config.models import Mapping, Model, Project
from segprof.config.pydantic_errors import suggest
from segprof.config.yamltree import YScalar
from segprof.errors import Location
from segprof.sql.analyze import OutputColumn, analyze_query
from segprof.sql.dialects import dialect_for, normalize_identifier
from segprof.validate.snapshot import SchemaSnapshot


def _matcher(columns: list[str], dialect: str):  # type: ignore[no-untyped-def]

    names = set(columns)

    def has(name: str) -> bool:
        return name in names or normalize_identifier(name, dialect) in names

    return has


def _column_hint(name: str, columns: list[str]) -> str:
    best = suggest(name, columns) or suggest(name.lower(), [c.lower() for c in columns])
    if best:
        return f"did you mean `{best}`? the model outputs: " + ", ".join(columns[:20])
    return "the model outputs: " + ", ".join(columns[:20]) + (" …" if len(columns) > 20 else "")


def column_location(mapping: Mapping, path: tuple[Any, ...], column: str) -> Location | None:
    """Where a column is named; inside a one-line template, at the column's own characters."""
    where = mapping.field_location(*path)
    node = mapping.field_node(*path)
    if path[-1:] != ("template",) or where is None or not isinstance(node, YScalar):
        return where
    text = str(node.value)
    if node.style not in (None, "'", '"') or "\n" in text or (node.style == '"' and "\\" in text):
        return where
    match = re.search(r"\{\{\s*" + re.escape(column) + r"\s*\}\}", text)
    if match is None:
        return where
    start = match.start() + match.group(0).index(column)
    return Location(where.file, where.line, where.col + start + (1 if node.style else 0))


def field_name(path: tuple[Any, ...]) -> str:
    """`("fields", "traits", "plan", "column")` → `traits.plan`."""
    names = [str(p) for p in path[1:] if p not in ("column", "template")]
    return ".".join(names) or "?"


def _query_at(model: Any, outputs: list[OutputColumn]) -> str:
    """Where the query's output is listed (its final select list), so a removed column is easy to find."""
    sql = getattr(model, "sql", None)
    if sql is None:
        return ""
    # The outer select list; for `SELECT * FROM cte`, the list that defines the first column.
    first = next((c for c in outputs if c.line is not None), None)
    if first is not None:
        where = sql.location(first.line or 1, first.col or 1)
    else:
        first = next((c for c in outputs if c.defined_line is not None), None)
        if first is None:
            return f" (query at {sql.file}:{sql.line})"
        where = sql.location(first.defined_line or 1, first.defined_col or 1)
    return f" (select list at {where.file}:{where.line})"


class _Rename(NamedTuple):
    """A mapped column the model still reads but outputs under other names."""

    tail: str  # the end of the error message, naming the model line
    hint: str
    place: Location  # that model line


def _renamed(
    model: Model, column: str, outputs: list[OutputColumn], *, use: str = "map {names} instead"
) -> _Rename | None:
    """What renamed `column`, when the query still reads it but outputs it under other names.

    `first_name AS given_name` is the usual way a model edit breaks a mapping: say which line of
    the model did it, so the reviewer need not hunt for it.
    """
    wanted = column.lower()
    found = [c for c in outputs if c.defined_line is not None and wanted in (r.lower() for r in c.reads)]
    if not found or model.sql is None:
        return None
    first = found[0]
    where = model.sql.location(first.defined_line or 1, first.defined_col or 1)
    names = ", ".join(f"`{c.name}`" for c in found)
    did = f"renames it to {names}" if len(found) == 1 and first.bare else f"uses it only in {names}"
    return _Rename(
        f": {where.file}:{where.line} {did}",
        use.format(names=names, name=first.name) + f", or keep `{column}` in the model's select list",
        where,
    )


#: Characters Segment's path lookup reads as structure (`a.b`, `a[0]`, `a['k']`).
_PATH_SYNTAX = re.compile(r"""[.\[\]'"]""")


def is_plain_column(column: str) -> bool:
    """Whether `$.properties.<column>` reaches exactly this column in Segment's path lookup."""
    return bool(column) and column.strip() == column and not _PATH_SYNTAX.search(column)


def mapped_columns(mapping: Mapping) -> list[tuple[str, tuple[Any, ...]]]:
    """(column, YAML path of the value naming it) for every column a mapping reads."""
    found: list[tuple[str, tuple[Any, ...]]] = []

    def scalar(field: Any, path: tuple[Any, ...]) -> None:
        if isinstance(field, str):
            found.append((field, path))
        elif isinstance(field, ColumnField):
            found.append((field.column, (*path, "column")))
        elif isinstance(field, TemplateField):
            found.extend((column, (*path, "template")) for column in field.columns())

    for key, field in mapping.fields.given().items():
        if key in OBJECT_FIELDS and isinstance(field, dict):
            for name, value in field.items():
                scalar(value, ("fields", key, name))
        elif field is not None:
            scalar(field, ("fields", key))
    return found


def check_sql(
    project: Project,
    snapshot: SchemaSnapshot | None,
    skip_models: set[str],
    outputs: dict[str, tuple[str, list[str]]] | None = None,
) -> list[Diagnostic]:
    """SQL and column diagnostics for every model with loaded SQL, except those in `skip_models`.

    `outputs`, when given, receives model name → (dialect, output column names) for every model
    whose columns are known (so plan can compile settings without analysing the SQL again)."""
    out: list[Diagnostic] = []
    todo = [m for m in project.models.values() if m.sql is not None and m.resource_name not in skip_models]
    if not todo:
        return out

    mappings_by_model: dict[str, list[Mapping]] = {}
    for mapping in project.mappings.values():
        mappings_by_model.setdefault(mapping.model, []).append(mapping)
    warned_dialect = False
    for model in todo:
        source = project.sources.get(model.source_name or "")
        if source is None:
            continue  # reported by the reference checks (or the source itself is invalid)
        dialect = dialect_for(getattr(source, "type", "duckdb"))
        schema = None
        if snapshot is not None:
            if snapshot.dialect in (None, dialect, getattr(source, "type", None)):
                schema = snapshot.tables
            elif not warned_dialect:
                warned_dialect = True
                out.append(
                    warning(
                        "snapshot.dialect",
                        f"the schema snapshot is for {snapshot.dialect}; "
                        f"models on {dialect} are checked without it",
                        model.field_location("query") or model.key_location,
                        address=model.address,
                    )
                )
        problems, columns = _check_model(
            model, dialect, schema, mappings_by_model.get(model.resource_name, [])
        )
        out.extend(problems)
        if outputs is not None and columns is not None:
            outputs[model.resource_name] = (dialect, columns)
    return out


def _check_model(
    model: Model,
    dialect: str,
    schema: dict[str, dict[str, str]] | None,
    mappings: list[Mapping],
) -> tuple[list[Diagnostic], list[str] | None]:

    out: list[Diagnostic] = []
    sql = model.sql
    assert sql is not None
    analysis = analyze_query(sql.text, dialect, schema)
    for problem in analysis.problems:
        make = error if problem.severity == "error" else warning
        out.append(
            make(
                problem.code,
                problem.message,
                sql.location(problem.line, problem.col),
                address=model.address,
                hint=getattr(problem, "hint", None),
            )
        )
    if not analysis.columns or any(d.is_error for d in out) or not analysis.complete:
        return out, None  # without a trustworthy column list, column checks would only add noise
    columns = [column.name for column in analysis.columns]
    types = {column.name: column.type for column in analysis.columns if column.type}

    @functools.cache
    def origins() -> list[OutputColumn]:
        # Where each column is defined: only needed to explain a missing one, so analysed again then.
        return analyze_query(sql.text, dialect, schema, origins=True).columns

    has = _matcher(columns, dialect)
    if not has(model.identifier):
        renamed = _renamed(model, model.identifier, origins(), use="set `identifier: {name}`")
        out.append(
            error(
                "columns.unknown_identifier",
                f"identifier column `{model.identifier}` is not in the query's output"
                + (renamed.tail if renamed else ""),
                model.field_location("identifier"),
                address=model.address,
                hint=renamed.hint if renamed else _column_hint(model.identifier, columns),
                related=renamed.place if renamed else None,
            )
        )
    for mapping in mappings:
        for column, path in mapped_columns(mapping):
            if not is_plain_column(column):
                continue  # reported once, as field.column_path
            if not has(column):
                renamed = _renamed(model, column, origins())
                out.append(
                    error(
                        "columns.unknown",
                        f"column `{column}` (field {field_name(path)}) is not in the output of "
                        f"model `{model.resource_name}`"
                        + (renamed.tail if renamed else _query_at(model, origins())),
                        column_location(mapping, path, column),
                        address=mapping.address,
                        hint=renamed.hint if renamed else _column_hint(column, columns),
                        related=renamed.place if renamed else None,
                    )
                )
            else:
                problem = _type_problem(path, types.get(column) or types.get(column.lower()))
                if problem is not None:
                    out.append(
                        error(
                            "columns.type",
                            f"column `{column}` {problem}",
                            column_location(mapping, path, column),
                            address=mapping.address,
                        )
                    )
    return out, columns


_NESTED = re.compile(r"^\s*(STRUCT|ROW|ARRAY|LIST|MAP|UNION)\b|\[\]\s*$", re.IGNORECASE)
_OBJECT_LIKE = re.compile(r"^\s*(STRUCT|ROW|MAP|JSON|JSONB|VARIANT|OBJECT|SUPER)\b", re.IGNORECASE)
_UNTYPED = re.compile(r"^\s*(UNKNOWN|NULL|ANY|USER-?DEFINED)\b", re.IGNORECASE)


def _type_problem(path: tuple[Any, ...], kind: str | None) -> str | None:
    """Why a column of warehouse type `kind` cannot fill the field at `path`, or None.

    A nested value (struct, list, map) cannot fill a scalar field such as `user_id`; a field
    that takes a whole object (`traits: prefs`) needs a struct, map or JSON column. Keys inside
    an object field may hold anything, as in Segment."""
    if kind is None or _UNTYPED.match(kind) or len(path) < 2 or path[-1] == "template":
        return None
    key = path[1]
    whole = len(path) == 2 or (len(path) == 3 and path[2] == "column")
    if key in OBJECT_FIELDS:
        if whole and not _OBJECT_LIKE.match(kind):
            return f"is {kind}, but `{key}` takes an object (a struct, map or JSON column)"
        return None
    if key == "consent":
        return None
    if _NESTED.search(kind):
        return f"is {kind}, a nested value; `{key}` takes a single value"
    return None

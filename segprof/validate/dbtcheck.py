"""Column checks of models written `{dbt: name}`: the pull-request check of a dbt repository.

Owns, for every model that names a dbt model, the diagnostics that stop a dbt change from
breaking a mapping: a mapped column or the identifier that the dbt model no longer outputs
(removed, or renamed on a line this names), and an identifier the dbt project no longer proves
unique (its `unique`/`not_null` tests or primary key dropped). Each names the dbt file and line,
the mapping and the field. Must never read a warehouse or run dbt: it reads what the manifest
gave `segprof.config.dbt_models`.
"""

from __future__ import annotations

from segprof.config.dbt_models import DbtLink
from segprof.config.diagnostic import Diagnostic, error, warning
from segprof.config.models import Mapping, Model, Project
from segprof.dbt.places import rename_of, yml_column_line, yml_model_line
from segprof.errors import Location
from segprof.sql.dialects import dialect_for
from segprof.validate.sqlcheck import (
    _column_hint,
    _matcher,
    _type_problem,
    column_location,
    field_name,
    mapped_columns,
)


def check_dbt_models(
    project: Project, skip_models: set[str], outputs: dict[str, tuple[str, list[str]]] | None = None
) -> list[Diagnostic]:
    """Diagnostics for every `{dbt: …}` model that resolved; fills `outputs` like `check_sql`."""

    out: list[Diagnostic] = []
    by_model: dict[str, list[Mapping]] = {}
    for mapping in project.mappings.values():
        by_model.setdefault(mapping.model, []).append(mapping)
    for model in project.models.values():
        link = model.dbt_link
        if not isinstance(link, DbtLink) or model.resource_name in skip_models:
            continue
        source = project.sources.get(model.source_name or "")
        dialect = dialect_for(getattr(source, "type", "duckdb"))
        out.extend(_identifier(model, link, dialect))
        if link.columns is None:
            continue
        out.extend(_columns(model, link, dialect, by_model.get(model.resource_name, [])))
        if link.columns.certain and outputs is not None:
            outputs[model.resource_name] = (dialect, list(link.columns.names))
    return out


def _missing(link: DbtLink, column: str) -> tuple[str, Location, str | None]:
    """Why `column` is not in the dbt model's output: renamed on a line, or gone from its select."""
    renamed = rename_of(link.dbt.raw_code, column)
    if renamed is not None:
        line, new = renamed
        place = link.place(link.dbt.file, line)
        return f"{place} renames it to `{new}`", place, new
    place = link.model_file
    return f"it is not in the select list at {place}", place, None


def _identifier(model: Model, link: DbtLink, dialect: str) -> list[Diagnostic]:
    ident = model.identifier
    if ident is None:
        return []
    out: list[Diagnostic] = []
    columns = link.columns
    if columns is not None and columns.certain and not _matcher(columns.names, dialect)(ident):
        why, place, new = _missing(link, ident)
        out.append(
            error(
                "dbt.identifier_missing",
                f"identifier column `{ident}` is no longer an output of dbt model `{link.dbt.name}`: {why}",
                model.field_location("identifier")
                if not link.identifier_from_dbt
                else model.field_location("dbt"),
                address=model.address,
                hint=f"set `identifier: {new}`" if new else _column_hint(ident, columns.names),
                related=place,
            )
        )
        return out
    if link.identifier_from_dbt:
        return out
    unique = [c.lower() for c in link.dbt.unique_columns()]
    if ident.lower() not in unique:
        props = link.properties_path
        if props is not None:
            line = yml_column_line(props, link.dbt.name, ident)
            place = link.place(link.dbt.patch_file or link.dbt.file, line)
        else:
            place = link.model_file
        out.append(
            error(
                "dbt.identifier_untested",
                f"dbt model `{link.dbt.name}` does not prove identifier `{ident}` unique ({place}): "
                "Segment needs one record per identifier",
                model.field_location("identifier"),
                address=model.address,
                hint=f"test `{ident}` with unique and not_null (or give it a primary_key constraint) in dbt",
                related=place,
            )
        )
    return out


def _columns(model: Model, link: DbtLink, dialect: str, mappings: list[Mapping]) -> list[Diagnostic]:
    columns = link.columns
    assert columns is not None
    has = _matcher(columns.names, dialect)
    out: list[Diagnostic] = []
    for mapping in mappings:
        for column, path in mapped_columns(mapping):
            field = field_name(path)
            if has(column):
                kind = columns.types.get(column) or columns.types.get(column.lower())
                problem = _type_problem(path, kind)
                if problem is not None:
                    out.append(
                        error(
                            "columns.type",
                            f"column `{column}` {problem}",
                            column_location(mapping, path, column),
                            address=mapping.address,
                        )
                    )
                continue
            why, place, new = _missing(link, column)
            message = (
                f"column `{column}` (field {field} of {mapping.address}) is not an output of dbt "
                f"model `{link.dbt.name}`: {why}"
            )
            if not columns.certain:
                props = link.properties_path
                doc = (
                    link.place(link.dbt.patch_file, yml_model_line(props, link.dbt.name)) if props else place
                )
                out.append(
                    warning(
                        "dbt.column_undocumented",
                        f"column `{column}` (field {field}) is not documented in dbt model "
                        f"`{link.dbt.name}` ({doc}); run `dbt compile` or `dbt docs generate` so segprof "
                        "can check it",
                        column_location(mapping, path, column),
                        address=mapping.address,
                    )
                )
                continue
            out.append(
                error(
                    "dbt.column_missing",
                    message,
                    column_location(mapping, path, column),
                    address=mapping.address,
                    hint=f"map `{new}` instead, or keep `{column}` in the dbt model"
                    if new
                    else _column_hint(column, columns.names),
                    related=place,
                )
            )
    return out

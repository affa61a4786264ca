"""Turning a model written `{dbt: name}` into an ordinary segprof model.

Owns, for each such model: finding the dbt model in the manifest (and reporting one that does
not exist, is disabled, is ephemeral, or lives in another database than the model's source),
its output columns (catalog, else its compiled SQL, else its documentation), its identifier (a
primary key, or `unique` + `not_null` tests on one column) and the query segprof sends: a plain
select of those columns from the dbt relation, in the source's dialect. Must never import dbt,
run SQL or reach a warehouse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segprof.config.diagnostic import Diagnostic, error, warning
from segprof.config.models import DbtSettings, Model, Project
from segprof.config.pydantic_errors import suggest
from segprof.config.sqltext import SqlText
from segprof.dbt.columns import DbtColumns, model_columns
from segprof.dbt.manifest import DbtArtifactError, DbtModel, DbtProject, read_manifest
from segprof.dbt.places import select_line, yml_model_line
from segprof.dbt.state import changes_against
from segprof.errors import Location
from segprof.sql.dialects import dialect_for

DEFAULT_MANIFEST = "target/manifest.json"
DEFAULT_CATALOG = "target/catalog.json"


@dataclass(frozen=True)
class DbtLink:
    """What a segprof model knows of the dbt model it names (kept on the model for later checks)."""

    dbt: DbtModel
    project_dir: Path  # the dbt project folder, absolute
    root: Path  # the segprof project folder, absolute
    columns: DbtColumns | None
    identifier_from_dbt: bool
    # with production's manifest (`--dbt-state`): why this model differs from production's, the
    # query of production's relation, and the query of the relation this change built
    changes: tuple[str, ...] = ()
    production_query: str | None = None
    build_query: str | None = None

    def place(self, relative: str, line: int = 1) -> Location:
        """A file of the dbt project as the segprof project names it (e.g. `../models/x.sql:3`)."""
        path = os.path.relpath(self.project_dir / relative, self.root)
        return Location(Path(path).as_posix(), line)

    @property
    def model_file(self) -> Location:
        """The dbt model's SQL file, at its final select list."""
        return self.place(self.dbt.file, select_line(self.dbt.raw_code))

    @property
    def properties_path(self) -> Path | None:
        return self.project_dir / self.dbt.patch_file if self.dbt.patch_file else None


def _resolve(root: Path, raw: str) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else root / path


def _shown(root: Path, path: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def dbt_paths(root: Path, settings: DbtSettings | None) -> tuple[Path, Path, Path]:
    """(dbt project folder, manifest, catalog) for a segprof project folder."""
    project_dir = _resolve(root, settings.project_dir if settings else ".")
    manifest = (
        _resolve(root, settings.manifest)
        if settings and settings.manifest
        else project_dir / DEFAULT_MANIFEST
    )
    catalog = (
        _resolve(root, settings.catalog)
        if settings and settings.catalog
        else manifest.parent / "catalog.json"
    )
    return project_dir, manifest, catalog


def load_dbt_project(root: Path, settings: DbtSettings | None) -> DbtProject:
    """The dbt project the settings point at; raises DbtArtifactError."""
    _, manifest, catalog = dbt_paths(root, settings)
    return read_manifest(manifest, _shown(root, manifest), catalog, _shown(root, catalog))


def load_production(root: Path, state: Path) -> DbtProject:
    """Production's manifest: a manifest.json, the folder holding it (dbt's `--state`), or a dbt
    project folder with target/manifest.json."""
    path = state if state.is_absolute() else root / state
    manifest = path
    if path.is_dir():
        # the folder dbt's --state takes, or a dbt project whose target/ holds the manifest
        manifest = path / "manifest.json"
        if not manifest.is_file() and (path / DEFAULT_MANIFEST).is_file():
            manifest = path / DEFAULT_MANIFEST
    catalog = manifest.parent / "catalog.json"
    return read_manifest(manifest, _shown(root, manifest), catalog, _shown(root, catalog))


def source_database(source: Any) -> str | None:
    """The database (catalog, project) a source's connection reads, as dbt would name it."""
    kind = getattr(source, "type", None)
    if kind == "duckdb":
        path = str(getattr(source, "path", "") or "")
        return "memory" if path in ("", ":memory:") else Path(path).stem
    if kind == "bigquery":
        return getattr(source, "project", None)
    if kind == "databricks":
        return getattr(source, "catalog", None)
    return getattr(source, "database", None)


def select_query(relation: str, dialect: str, columns: DbtColumns | None, database: str | None) -> str:
    """`SELECT <columns> FROM <relation>` in the dialect; the database is left out when it is the
    source's own (it is then implied, and some warehouses refuse naming it)."""
    from sqlglot import exp

    table = exp.to_table(relation, dialect=dialect)
    catalog = table.args.get("catalog")
    if catalog is not None and database is not None and catalog.name.lower() == database.lower():
        table.set("catalog", None)
    if columns is not None and columns.certain:
        select = exp.select(*(exp.column(exp.to_identifier(name)) for name in columns.names))
    else:
        select = exp.select(exp.Star())
    return select.from_(table).sql(dialect=dialect, pretty=True)


def resolve_dbt_models(project: Project, state: Path | None = None) -> list[Diagnostic]:
    """Fill in the query, identifier and description of every `{dbt: …}` model (in place).

    With production's manifest (`state`, else `dbt.state` in segprof.yaml) a model selects from
    production's relation (what apply will point Segment at once the change is deployed) with
    the columns of this change, and its link records how it differs from production."""

    wanted = [m for m in project.models.values() if m.dbt is not None]
    if not wanted or project.root is None:
        return []
    root = project.root
    where = project.dbt_location() or wanted[0].field_location("dbt")
    try:
        dbt_project = load_dbt_project(root, project.dbt)
    except DbtArtifactError as err:
        return [
            error(
                "dbt.manifest",
                err.message,
                where,
                hint="run `dbt build` (or `dbt compile`) first; `dbt.manifest` in segprof.yaml names another file",
            )
        ]
    out: list[Diagnostic] = []
    if dbt_project.catalog_note:
        out.append(warning("dbt.catalog_stale", dbt_project.catalog_note, where))
    production: DbtProject | None = None
    if state is None and project.dbt is not None and project.dbt.state:
        state = Path(project.dbt.state)
    if state is not None:
        try:
            production = load_production(root, state)
        except DbtArtifactError as err:
            return [
                *out,
                error(
                    "dbt.state",
                    f"production's {err.message.removeprefix('dbt ')}",
                    project.dbt_location("state") or where,
                    hint="download production's manifest.json (e.g. from the deploy job's artifacts) first",
                ),
            ]
    project_dir = dbt_paths(root, project.dbt)[0].resolve()
    for model in wanted:
        out.extend(_resolve_one(model, project, dbt_project, project_dir, dialect_for, production))
    return out


def _resolve_one(
    model: Model,
    project: Project,
    dbt_project: DbtProject,
    project_dir: Path,
    dialect_for: Any,
    production: DbtProject | None = None,
) -> list[Diagnostic]:
    name = str(model.dbt)
    here = model.field_location("dbt")
    address = model.address
    found, disabled = dbt_project.find(name)
    if found is None:
        best = suggest(name, dbt_project.names())
        return [
            error(
                "dbt.unknown_model",
                f"dbt model `{name}` is not in {dbt_project.manifest_path}",
                here,
                address=address,
                hint=f"did you mean `{best}`?" if best else "run `dbt build` after adding it",
            )
        ]
    link_root = project.root
    assert link_root is not None
    located = DbtLink(found, project_dir, link_root, None, False)
    if disabled:
        return [
            error(
                "dbt.disabled_model",
                f"dbt model `{name}` is disabled ({located.place(found.file, 0)}), so it builds no relation",
                here,
                address=address,
                related=located.place(found.file, 1),
            )
        ]
    if found.materialized == "ephemeral" or not found.relation_name:
        return [
            error(
                "dbt.ephemeral_model",
                f"dbt model `{name}` is ephemeral ({located.place(found.file, 0)}): it builds no relation to select from",
                here,
                address=address,
                hint="materialize it as a view or table, or name a model built from it",
                related=located.place(found.file, 1),
            )
        ]
    source = project.sources.get(model.source_name or "")
    if source is None:
        return []  # the reference checks report it
    prod: DbtModel | None = None
    if production is not None:
        prod, prod_disabled = production.find(name)
        if prod_disabled or (prod is not None and not prod.relation_name):
            prod = None
    # the relation apply points Segment at: production's when there is one
    target = prod or found
    database = source_database(source)
    if database and target.database and target.database.lower() != database.lower():
        return [
            error(
                "dbt.other_database",
                f"dbt model `{name}` is built in database `{target.database}`, but source "
                f"`{model.source_name}` reads `{database}`",
                here,
                address=address,
                hint="point the source at the database dbt builds into, or set the model's database in dbt",
            )
        ]
    dialect = dialect_for(getattr(source, "type", "duckdb"))
    columns = model_columns(found, dialect)
    out: list[Diagnostic] = []
    from_dbt = False
    if model.identifier is None:
        unique = found.unique_columns()
        if len(unique) != 1:
            props = located.properties_path
            place = (
                located.place(found.patch_file or found.file, yml_model_line(props, found.name))
                if props is not None
                else located.model_file
            )
            several = f"; several are ({', '.join(unique)}), so name one" if unique else ""
            out.append(
                error(
                    "dbt.no_identifier",
                    f"dbt model `{name}` proves no single column unique ({place}){several}",
                    here,
                    address=address,
                    related=place,
                    hint="give the model `identifier:`, or test one column with unique and not_null "
                    "(or give it a primary_key constraint) in dbt",
                )
            )
        else:
            model.identifier = unique[0]
            from_dbt = True
    assert target.relation_name is not None and found.relation_name is not None
    query = select_query(target.relation_name, dialect, columns, database)
    link = DbtLink(found, project_dir, link_root, columns, from_dbt)
    if production is not None:
        from dataclasses import replace

        prod_columns = model_columns(prod, dialect) if prod is not None else None
        link = replace(
            link,
            changes=tuple(changes_against(dbt_project, found, columns, production, prod, prod_columns)),
            production_query=select_query(prod.relation_name, dialect, prod_columns, database)
            if prod is not None and prod.relation_name
            else None,
            build_query=select_query(found.relation_name, dialect, columns, database),
        )
    model._sql = SqlText.from_file(query, link.model_file.file)
    model._dbt = link
    if model.description is None and found.description:
        model.description = found.description
    return out

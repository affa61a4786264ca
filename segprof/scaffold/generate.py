"""`segprof generate`: a starter set of models and mappings from a warehouse schema.

Owns turning proposals (see `generate_rules`) into files: one commented YAML file of models,
mappings (and a Segment Profiles destination when the project has none) and one `.sql` file per
model with an explicit column list, written all at once through the scaffold's staging folder.
Must never overwrite an existing file without `force`, write outside the output folder, or
write a credential.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from segprof.config.models import Project, SourceBase
from segprof.errors import SegprofError
from segprof.scaffold.generate_rules import Proposal, Skipped, classify, entity_name, snake
from segprof.scaffold.project import StagedFolder, ensure_schema_copy
from segprof.scaffold.template import schema_comment_at
from segprof.sql.dialects import dialect_for
from segprof.warehouses import TableInfo

GENERATED_FILE = "generated.yaml"
MODELS_DIR = "models"

_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")
_RESERVED = {
    "all", "and", "as", "by", "case", "check", "column", "default", "desc", "end", "from", "group",
    "limit", "order", "select", "table", "to", "user", "where", "with", "timestamp", "date", "key",
    "type", "name", "event", "action", "offset", "window", "union", "when", "then", "on", "or", "not",
}  # fmt: skip


@dataclass
class GenerateResult:
    proposals: list[Proposal]
    skipped: list[Skipped]
    files: list[PurePosixPath] = field(default_factory=list)  # relative to the output folder
    replaced: list[PurePosixPath] = field(default_factory=list)
    destination: str = ""
    out_dir: Path = Path(".")


def _ident(name: str) -> str:
    if _PLAIN.match(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def _table_ref(table: TableInfo, dialect: str) -> str:
    if dialect == "bigquery":
        return "`" + (f"{table.schema}.{table.name}" if table.schema else table.name) + "`"
    return ".".join(_ident(p) for p in (table.schema, table.name) if p)


def model_sql(proposal: Proposal, dialect: str) -> str:
    table = proposal.table
    lines = [
        f"-- {proposal.model}: {table.kind} {table.schema}.{table.name}, one row per `{proposal.identifier}`"
    ]
    lines.append("SELECT")
    lines.extend(
        f"  {_ident(c)}{',' if i < len(proposal.columns) - 1 else ''}" for i, c in enumerate(proposal.columns)
    )
    lines.append(f"FROM {_table_ref(table, dialect)}")
    return "\n".join(lines) + "\n"


def _unique_names(tables: list[TableInfo], taken: set[str]) -> dict[tuple[str, str], str]:
    """A model name per table: its entity name, or schema/table-qualified when two would clash."""
    wanted: dict[tuple[str, str], str] = {}
    counts: dict[str, int] = {}
    for table in tables:
        name = entity_name(table.name)
        counts[name] = counts.get(name, 0) + 1
    used: set[str] = set(taken)
    for table in tables:
        name = entity_name(table.name)
        if counts[name] > 1 or name in used:
            name = snake(table.name)
            if name in used:
                name = re.sub(r"[^a-z0-9_]+", "_", f"{table.schema}_{table.name}".lower()).strip("_")
            base, n = name, 2
            while name in used:
                name, n = f"{base}_{n}", n + 1
        if not name[:1].isalpha():
            name = "t_" + name
        used.add(name[:63])
        wanted[(table.schema, table.name)] = name[:63]
    return wanted


def propose(
    tables: list[TableInfo],
    taken_models: set[str],
    taken_mappings: set[str] | None = None,
    hints: dict[str, dict[str, Any]] | None = None,
) -> tuple[list[Proposal], list[Skipped]]:
    """Classify every table; each proposal's mappings carry their final, unique names.

    `hints` (table name → keyword arguments of `classify`) carry what a dbt model's meta asks for."""
    ordered = sorted(tables, key=lambda t: (t.schema, t.name))
    names = _unique_names(ordered, taken_models)
    proposals: list[Proposal] = []
    skipped: list[Skipped] = []
    for table in ordered:
        outcome = classify(table, names[(table.schema, table.name)], **(hints or {}).get(table.name, {}))
        (proposals if isinstance(outcome, Proposal) else skipped).append(outcome)  # type: ignore[arg-type]
    used = set(taken_mappings or ())
    for proposal in proposals:
        named = []
        for prefix, action, fields in proposal.mappings:
            base = f"{prefix}_{proposal.model}"[:60]
            name, n = base, 2
            while name in used:
                name, n = f"{base}_{n}", n + 1
            used.add(name)
            named.append((name, action, fields))
        proposal.mappings = named
    return proposals, skipped


def _elsewhere(project: Project, kind: str, ours: Path) -> set[str]:
    """Names of `kind` declared outside the file we are about to (re)write."""
    root = project.root or Path(".")
    table: dict[str, Any] = getattr(project, kind)
    return {
        name
        for name, resource in table.items()
        if resource.key_location is None or (root / resource.key_location.file).resolve() != ours
    }


def _destination(project: Project, ours: Path) -> tuple[str, bool]:
    """(name, is_new): the project's Segment Profiles destination, or `profiles` to be created."""
    theirs = _elsewhere(project, "destinations", ours)
    if theirs:
        return sorted(theirs)[0], False
    return "profiles", True


def render_yaml(
    proposals: list[Proposal],
    skipped: list[Skipped],
    *,
    source: str,
    source_named: bool,
    destination: str,
    new_destination: bool,
    schemas: list[str],
    yaml_dir: PurePosixPath,
    dbt_models: dict[str, str] | None = None,
    origin: str | None = None,
) -> str:
    """The generated YAML; `dbt_models` (model → dbt model name) writes those models as
    `{dbt: name}`, their identifier and description left to the dbt project."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    doc = CommentedMap()
    header = [
        origin
        or (
            f"Generated by `segprof generate` from source `{source}`"
            + (f" (schemas: {', '.join(schemas)})." if schemas else ".")
        ),
        "Each model's comment says how its table was read and what was left out; review before apply.",
    ]
    if skipped:
        header.append("Tables not generated:")
        header.extend(f"  {s.table.schema}.{s.table.name}: {s.reason}" for s in skipped)
    doc.yaml_set_start_comment("\n".join(_wrap(header)))

    if new_destination:
        dest = CommentedMap()
        dest["type"] = "segment_profiles"
        dest["region"] = "north_america"
        dest["write_key"] = "${PROFILES_WRITE_KEY:-}"
        doc["destinations"] = CommentedMap({destination: dest})
        doc["destinations"].yaml_set_comment_before_after_key(
            destination, before="The Profile Space that the mappings below send to.", indent=2
        )

    models = CommentedMap()
    mappings = CommentedMap()
    for proposal in proposals:
        model = CommentedMap()
        if source_named:
            model["source"] = source
        if dbt_models and proposal.model in dbt_models:
            model["dbt"] = dbt_models[proposal.model]
        else:
            model["identifier"] = proposal.identifier
            model["query_file"] = str(PurePosixPath(MODELS_DIR) / f"{proposal.model}.sql")
            model["description"] = f"{proposal.table.schema}.{proposal.table.name} ({proposal.kind})"
        models[proposal.model] = model
        notes = [f"{proposal.table.schema}.{proposal.table.name}: " + " ".join(proposal.reasons)]
        if proposal.left_out:
            notes.append("Left out: " + "; ".join(f"{c} ({why})" for c, why in proposal.left_out) + ".")
        models.yaml_set_comment_before_after_key(proposal.model, before="\n".join(_wrap(notes)), indent=2)
        for name, action, fields in proposal.mappings:
            mapping = CommentedMap()
            mapping["model"] = proposal.model
            mapping["destination"] = destination
            mapping["action"] = action
            on = CommentedSeq(["new"] if action == "send_track" else ["new", "updated"])
            on.fa.set_flow_style()
            mapping["on"] = on
            mapping["schedule"] = "manual"
            mapping["fields"] = _fields(fields)
            mappings[name] = mapping
            if action == "send_track":
                mappings.yaml_set_comment_before_after_key(
                    name, before="Events do not change once written: only new rows are sent.", indent=2
                )
    if models:
        doc["models"] = models
    if mappings:
        doc["mappings"] = mappings
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    _ = yaml_dir
    return buffer.getvalue()


def _wrap(lines: list[str], width: int = 96) -> list[str]:
    import textwrap

    out: list[str] = []
    for line in lines:
        indent = line[: len(line) - len(line.lstrip())]
        out.extend(
            textwrap.wrap(line, width, subsequent_indent=indent + "  ", break_on_hyphens=False) or [""]
        )
    return out


def _fields(fields: dict[str, Any]) -> Any:
    from ruamel.yaml.comments import CommentedMap

    out = CommentedMap()
    for key, value in fields.items():
        if isinstance(value, dict) and key in ("traits", "properties", "subscription_groups"):
            out[key] = CommentedMap((k, v) for k, v in value.items())
        elif isinstance(value, dict):
            inner = CommentedMap(value)
            inner.fa.set_flow_style()
            out[key] = inner
        else:
            out[key] = value
    return out


def generate_project(
    project: Project,
    source: SourceBase,
    tables: list[TableInfo],
    *,
    out_dir: Path,
    force: bool = False,
    schemas: list[str] | None = None,
) -> GenerateResult:
    """Propose models and mappings for `tables` and write them under `out_dir`, all or nothing."""

    yaml_path = (out_dir / GENERATED_FILE).resolve()
    # names already declared elsewhere in the project stay theirs; ours from a previous run do not count
    proposals, skipped = propose(
        tables, _elsewhere(project, "models", yaml_path), _elsewhere(project, "mappings", yaml_path)
    )
    destination, new_destination = _destination(project, yaml_path)
    source_type = source.type  # type: ignore[attr-defined]

    dialect = dialect_for(source_type)
    files: dict[PurePosixPath, str] = {}
    for proposal in proposals:
        files[PurePosixPath(MODELS_DIR) / f"{proposal.model}.sql"] = model_sql(proposal, str(dialect))
    files[PurePosixPath(GENERATED_FILE)] = render_yaml(
        proposals,
        skipped,
        source=source.resource_name,
        source_named=len(project.sources) > 1,
        destination=destination,
        new_destination=new_destination,
        schemas=schemas or sorted({t.schema for t in tables}),
        yaml_dir=PurePosixPath("."),
    )
    if not proposals:
        raise SegprofError(
            f"no table in source `{source.resource_name}` could be read as users, accounts, events or subscriptions",
            hint="; ".join(f"{s.table.schema}.{s.table.name}: {s.reason}" for s in skipped[:5]) or None,
        )
    existing = sorted(p for p in files if (out_dir / p).exists())
    if existing and not force:
        shown = ", ".join(p.as_posix() for p in existing[:5])
        raise SegprofError(
            f"{len(existing)} file(s) would be overwritten: {shown}", hint="use --force to replace them"
        )
    root = project.root or out_dir
    yaml_rel = PurePosixPath(GENERATED_FILE)
    files[yaml_rel] = f"{schema_comment_at(root, out_dir / yaml_rel.parent)}\n{files[yaml_rel]}"
    with StagedFolder(out_dir) as staging:
        for rel, text in files.items():
            target = staging.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8", newline="\n")
        replaced = staging.commit(sorted(files))
    ensure_schema_copy(root)
    return GenerateResult(proposals, skipped, sorted(files), list(replaced), destination, out_dir)

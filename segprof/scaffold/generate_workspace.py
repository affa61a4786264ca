"""`segprof generate --from-workspace`: YAML and state for what a live workspace already has.

Owns reading the workspace once, decompiling Reverse ETL models, Segment Profiles destinations
and their subscriptions back into the configuration language (settings into fields, triggers
into `on:`, schedules into `schedule:`, anything else kept verbatim in `raw_settings:`), writing
the files all at once, and recording each address's live id in the state store so the first
plan has nothing to do. Must never write a secret (write keys and passwords become `${VAR}`
references) nor change the workspace.
"""

from __future__ import annotations

import asyncio
import io
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from segprof.config.compile import compile_field
from segprof.config.fields import (
    ACTION_FIELDS,
    OBJECT_FIELDS,
    TEMPLATE_REFERENCE,
    ColumnField,
    IdentifierField,
    TemplateField,
    ValueField,
)
from segprof.config.loader import load_project
from segprof.config.models import SOURCE_CLASSES
from segprof.errors import SegprofError
from segprof.operations.plan_apply import RunOptions, workspace_client
from segprof.project.desired import ACTION_SLUGS, SOURCE_METADATA_IDS
from segprof.scaffold.project import StagedFolder, ensure_schema_copy
from segprof.scaffold.template import schema_comment_at
from segprof.state import StateEntry, open_state_store
from segprof.workspace.live import read_workspace

WORKSPACE_FILE = "workspace.yaml"
MODELS_DIR = "models"

_TRIGGER_PART = re.compile(r'^\s*event\s*=\s*"(new|updated|deleted)"\s*$')
_DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_INTERVALS = {"15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d"}
_PATH = re.compile(r"^\$\.properties\.(.+)$")


@dataclass
class FromWorkspaceResult:
    files: list[PurePosixPath]
    replaced: list[PurePosixPath]
    addresses: dict[str, str]  # address → live id
    skipped: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)  # variables the YAML reads for secrets


def key_for(name: str | None, fallback: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", (name or "").lower()).strip("_") or fallback
    if not base[0].isalpha():
        base = f"{fallback}_{base}"
    base = base[:60]
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    taken.add(key)
    return key


def decompile_trigger(trigger: str | None) -> list[str] | None:
    if not trigger:
        return None
    found: list[str] = []
    for part in re.split(r"\s+or\s+", trigger.strip()):
        match = _TRIGGER_PART.match(part)
        if match is None:
            return None
        found.append(match.group(1))
    order = [e for e in ("new", "updated", "deleted") if e in found]
    return order or None


def decompile_schedule(schedule: dict[str, Any] | None) -> Any:
    """The `schedule:` value for a `reverseETLSchedule`, or raise ValueError when it has none."""
    if not schedule or str(schedule.get("strategy", "")).upper() == "MANUAL":
        return "manual"
    strategy = str(schedule.get("strategy")).upper()
    config = schedule.get("config") or {}
    if strategy == "PERIODIC" and config.get("interval") in _INTERVALS:
        return {"every": config["interval"]}
    if strategy == "SPECIFIC_DAYS":
        days = config.get("days") or []
        if all(isinstance(d, int) and 0 <= d <= 6 for d in days):
            out: dict[str, Any] = {"days": [_DAY_NAMES[d] for d in sorted(set(days))]}
            out["hours"] = sorted(set(config.get("hours") or []))
            out["timezone"] = config.get("timezone") or "UTC"
            return out
    if strategy == "CRON" and config.get("spec"):
        return {"cron": config["spec"], "timezone": config.get("timezone") or "UTC"}
    if strategy == "DBT_CLOUD" and config.get("jobId") and config.get("accountId"):
        return {"dbt_cloud": {"account_id": str(config["accountId"]), "job_id": str(config["jobId"])}}
    raise ValueError(f"the schedule {strategy} cannot be written in the configuration language")


def _field_candidate(value: Any) -> Any:
    """A YAML scalar field for one compiled setting, or raise ValueError."""
    if isinstance(value, dict):
        if set(value) == {"@path"} and isinstance(value["@path"], str):
            if value["@path"] == "$.__segment_id":
                return {"identifier": True}
            match = _PATH.match(value["@path"])
            if match and "." not in match.group(1):
                return match.group(1)
        if set(value) == {"@excludeWhenNull"}:
            inner = _field_candidate(value["@excludeWhenNull"])
            if isinstance(inner, str):
                return {"column": inner, "sync_nulls": False}
        if set(value) == {"@template"} and isinstance(value["@template"], str):
            text = value["@template"]
            refs = [m.group(1) for m in TEMPLATE_REFERENCE.finditer(text)]
            if refs and all(r.startswith("properties.") and "." not in r[11:] for r in refs):
                return {"template": TEMPLATE_REFERENCE.sub(lambda m: "{{" + m.group(1)[11:] + "}}", text)}
        raise ValueError("not expressible")
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    raise ValueError("not expressible")


def _as_field(candidate: Any) -> Any:
    if isinstance(candidate, str):
        return candidate
    if "identifier" in candidate:
        return IdentifierField(identifier=True)
    if "column" in candidate:
        return ColumnField(**candidate)
    if "template" in candidate:
        return TemplateField(**candidate)
    return ValueField(**candidate)


def decompile_field(value: Any) -> Any:
    """The YAML field that compiles back to exactly `value`, or raise ValueError."""

    candidate = _field_candidate(value)
    if compile_field(_as_field(candidate), True) != value:
        raise ValueError("does not round-trip")
    return candidate


def decompile_settings(
    settings: dict[str, Any], valid: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fields, raw_settings) for a subscription's settings; `engage_space` is left out."""
    fields: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for key in sorted(settings, key=lambda k: (valid.index(k) if k in valid else len(valid), k)):
        value = settings[key]
        if key == "engage_space":
            continue
        if key not in valid:
            raw[key] = value
            continue
        try:
            if key in OBJECT_FIELDS:
                whole = _field_candidate(value) if isinstance(value, dict) and "@path" in value else None
                if isinstance(whole, str):
                    fields[key] = whole
                elif isinstance(value, dict) and value and not any(k.startswith("@") for k in value):
                    fields[key] = {name: decompile_field(inner) for name, inner in value.items()}
                else:
                    raise ValueError("not expressible")
            else:
                fields[key] = decompile_field(value)
        except ValueError:
            raw[key] = value
    return fields, raw


def _yaml_value(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        out = CommentedMap((k, _yaml_value(v)) for k, v in value.items())
        if all(not isinstance(v, (dict, list)) for v in value.values()) and len(value) <= 3:
            out.fa.set_flow_style()
        return out
    if isinstance(value, list):
        seq = CommentedSeq(_yaml_value(v) for v in value)
        if all(not isinstance(v, (dict, list)) for v in value):
            seq.fa.set_flow_style()
        return seq
    return value


def generate_from_workspace(
    project_dir: Path, *, out_dir: Path | None = None, force: bool = False
) -> FromWorkspaceResult:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    loaded = load_project(project_dir)
    project = loaded.project
    if project is None:
        raise SegprofError(f"no segprof.yaml in {project_dir}", hint="create one with `segprof init`")
    root = project.root or project_dir
    out_dir = out_dir or root

    async def read():  # type: ignore[no-untyped-def]
        async with workspace_client(project, root, RunOptions()) as client:
            return await read_workspace(client)

    live = asyncio.run(read())
    slug_to_action = {v: k for k, v in ACTION_SLUGS.items()}
    action_by_id = {aid: slug for slug, aid in live.action_ids().items()}
    type_by_metadata = {v: k for k, v in SOURCE_METADATA_IDS.items()}

    taken: dict[str, set[str]] = {k: set() for k in ("sources", "models", "destinations", "mappings")}
    addresses: dict[str, str] = {}
    parents: dict[str, str | None] = {}
    skipped: list[str] = []
    env: list[str] = []
    files: dict[PurePosixPath, str] = {}

    used_sources = {m.source_id for m in live.models} | {d.source_id for d in live.destinations}
    sources = CommentedMap()
    source_keys: dict[str, str] = {}
    for source in sorted(live.sources, key=lambda s: (s.slug or s.id, s.id)):
        if source.id not in used_sources:
            continue
        kind = type_by_metadata.get(source.metadata_id or "")
        if kind is None:
            skipped.append(f"source {source.id}: not a warehouse type segprof knows")
            continue
        key = key_for(source.slug or source.name, "source", taken["sources"])
        body = CommentedMap()
        body["type"] = kind
        reverse = {"hostname": "host", "username": "user"}
        model_cls = SOURCE_CLASSES[kind]
        allowed = {f.alias or n for n, f in model_cls.model_fields.items()} - {"type", "segment_source_id"}
        for setting, value in sorted(source.settings.items()):
            name = reverse.get(setting, setting)
            if name not in allowed:
                skipped.append(f"source {key}: setting `{setting}` has no place in the configuration")
                continue
            if name in ("password", "token"):
                var = f"{key.upper()}_{name.upper()}"
                body[name] = f"${{{var}:-}}"
                env.append(var)
            elif value is not None:
                body[name] = value
        body["segment_source_id"] = source.id
        sources[key] = body
        source_keys[source.id] = key
        addresses[f"source.{key}"] = source.id
        parents[f"source.{key}"] = None

    models = CommentedMap()
    model_keys: dict[str, str] = {}
    for model in sorted(live.models, key=lambda m: (m.name or "", m.id)):
        if model.source_id not in source_keys:
            skipped.append(f"model {model.id}: its source is not a warehouse segprof can name")
            continue
        if not model.query_identifier_column:
            skipped.append(f"model {model.id}: it has no identifier column")
            continue
        key = key_for(model.name, "model", taken["models"])
        body = CommentedMap()
        body["source"] = source_keys[model.source_id]
        body["identifier"] = model.query_identifier_column
        body["query_file"] = f"{MODELS_DIR}/{key}.sql"
        if model.name != key:
            body["name"] = model.name
        if model.description:
            body["description"] = model.description
        if not model.enabled:
            body["enabled"] = False
        # verbatim, without adding a final newline: the query is compared exactly
        files[PurePosixPath(MODELS_DIR) / f"{key}.sql"] = model.query
        models[key] = body
        model_keys[model.id] = key
        addresses[f"model.{key}"] = model.id
        parents[f"model.{key}"] = None

    destinations = CommentedMap()
    mappings = CommentedMap()
    for destination in sorted(live.destinations, key=lambda d: (d.name or "", d.id)):
        if destination.source_id not in source_keys:
            skipped.append(f"destination {destination.id}: its source is not a warehouse segprof can name")
            continue
        key = key_for(destination.name, "profiles", taken["destinations"])
        var = f"{key.upper()}_WRITE_KEY"
        body = CommentedMap()
        body["type"] = "segment_profiles"
        body["source"] = source_keys[destination.source_id]
        body["write_key"] = f"${{{var}:-}}"
        env.append(var)
        if destination.name != key:
            body["name"] = destination.name
        body["enabled"] = destination.enabled
        destinations[key] = body
        addresses[f"destination.{key}"] = destination.id
        parents[f"destination.{key}"] = None
        for sub in sorted(live.subscriptions_of(destination.id), key=lambda s: (s.name or "", s.id)):
            where = f"mapping {sub.name or sub.id} ({sub.id})"
            slug = sub.action_slug or action_by_id.get(sub.action_id or "")
            action = slug_to_action.get(slug or "")
            on = decompile_trigger(sub.trigger)
            if sub.model_id not in model_keys or action is None or on is None:
                why = (
                    "its model is not generated" if sub.model_id not in model_keys
                    else "its action is not a Segment Profiles action" if action is None
                    else f"its trigger {sub.trigger!r} is not a set of record changes"
                )  # fmt: skip
                skipped.append(f"{where}: {why}")
                continue
            try:
                schedule = decompile_schedule(
                    sub.reverse_etl_schedule.to_api() if sub.reverse_etl_schedule else None
                )
            except ValueError as err:
                skipped.append(f"{where}: {err}")
                continue
            fields, raw = decompile_settings(sub.settings, tuple(ACTION_FIELDS[action]))
            mkey = key_for(sub.name, "mapping", taken["mappings"])
            mapping = CommentedMap()
            mapping["model"] = model_keys[sub.model_id]  # type: ignore[index]
            mapping["destination"] = key
            mapping["action"] = action
            mapping["on"] = _yaml_value(on)
            mapping["schedule"] = _yaml_value(schedule)
            mapping["enabled"] = sub.enabled
            if sub.name != mkey:
                mapping["name"] = sub.name
            mapping["fields"] = CommentedMap((k, _yaml_value(v)) for k, v in fields.items())
            if raw:
                mapping["raw_settings"] = _yaml_value(raw)
                mappings.yaml_set_comment_before_after_key(
                    mkey,
                    before="raw_settings: "
                    + ", ".join(sorted(raw))
                    + " cannot be written as fields; kept verbatim",
                    indent=2,
                )
            mappings[mkey] = mapping
            addresses[f"mapping.{mkey}"] = sub.id
            parents[f"mapping.{mkey}"] = destination.id

    if not addresses:
        raise SegprofError(
            "the workspace has no Reverse ETL models or Segment Profiles destinations segprof can write",
            hint="; ".join(skipped[:3]) or None,
        )
    doc = CommentedMap()
    header = ["Generated by `segprof generate --from-workspace` from the live workspace."]
    if env:
        header.append("Secrets are read from the environment: " + ", ".join(sorted(set(env))) + ".")
    if skipped:
        header.append("Not generated:")
        header.extend(f"  {line}" for line in skipped)
    doc.yaml_set_start_comment("\n".join(header))
    for name, table in (
        ("sources", sources),
        ("models", models),
        ("destinations", destinations),
        ("mappings", mappings),
    ):
        if table:
            doc[name] = table
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    files[PurePosixPath(WORKSPACE_FILE)] = f"{schema_comment_at(root, out_dir)}\n{buffer.getvalue()}"

    clash = [a for a in addresses if project.by_address(a) is not None]
    if clash and not force:
        raise SegprofError(
            f"the project already declares {', '.join(sorted(clash)[:5])}",
            hint="generate into a project without them, or use --force to replace workspace.yaml",
        )
    existing = sorted(p for p in files if (out_dir / p).exists())
    if existing and not force:
        shown = ", ".join(p.as_posix() for p in existing[:5])
        raise SegprofError(
            f"{len(existing)} file(s) would be overwritten: {shown}", hint="use --force to replace them"
        )

    store = open_state_store(root, project)
    with store.lock("generate", 0.0):
        state = store.read()
        claimed = {(e.kind, e.id): a for a, e in state.resources.items()}
        for address, live_id in addresses.items():
            kind = address.split(".", 1)[0]
            other = claimed.get((kind, live_id))
            if other is not None and other != address:
                raise SegprofError(f"{kind} {live_id} is already managed as {other}", address=address)
        with StagedFolder(out_dir) as staging:
            for rel, text in files.items():
                target = staging.path / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8", newline="\n")
            replaced = staging.commit(sorted(files))
        ensure_schema_copy(root)
        for address, live_id in addresses.items():
            state.resources[address] = StateEntry(
                kind=address.split(".", 1)[0], id=live_id, parent_id=parents[address]
            )
        store.write(state)
    return FromWorkspaceResult(sorted(files), list(replaced), addresses, skipped, sorted(set(env)))

"""Reference, naming and workspace checks across resources.

Owns: model → source, destination → source, mapping → model and destination (and that both sides
of a mapping read the same source), the per-destination mapping limit, `moved_from` names and the
workspace token rule, and which source holds the state (`state.source`). Must never look inside SQL or fields (other checks do that).
"""

from __future__ import annotations

import re

from segprof.config.diagnostic import Diagnostic, error, warning
from segprof.config.models import NAME_PATTERN, Destination, Model, Project
from segprof.config.pydantic_errors import suggest
from segprof.config.schedule import DbtCloudSchedule

MAX_MAPPINGS_PER_DESTINATION = 50
MAX_DBT_CLOUD_MAPPINGS_PER_MODEL = 5  # Segment's limit on mappings a dbt Cloud job triggers per model
_NAME = re.compile(NAME_PATTERN)


def _hint(name: str, choices: set[str], kind: str) -> str:
    best = suggest(name, sorted(choices))
    if best:
        return f"did you mean `{best}`?"
    if choices:
        return f"defined {kind}: " + ", ".join(sorted(choices))
    return f"no {kind} are defined"


def _source_of(resource: Model | Destination, project: Project, out: list[Diagnostic]) -> None:
    sources = project.declared("sources")
    if resource.source is not None:
        if resource.source not in sources:
            out.append(
                error(
                    "ref.unknown_source",
                    f"{resource.address} reads unknown source `{resource.source}`",
                    resource.field_location("source"),
                    address=resource.address,
                    hint=_hint(resource.source, sources, "sources"),
                )
            )
        return
    if len(sources) == 1:
        return
    if not sources:
        message, hint = "no source is defined", "add a source under `sources:`"
    else:
        message = "`source:` is required because the project has several sources"
        hint = "sources: " + ", ".join(sorted(sources))
    out.append(
        error("ref.missing_source", message, resource.key_location, address=resource.address, hint=hint)
    )


def check_references(project: Project) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for model in project.models.values():
        _source_of(model, project, out)
    for destination in project.destinations.values():
        _source_of(destination, project, out)

    models, destinations = project.declared("models"), project.declared("destinations")
    per_destination: dict[str, list[str]] = {}
    for mapping in project.mappings.values():
        if mapping.model not in models:
            out.append(
                error(
                    "ref.unknown_model",
                    f"{mapping.address} uses unknown model `{mapping.model}`",
                    mapping.field_location("model"),
                    address=mapping.address,
                    hint=_hint(mapping.model, models, "models"),
                )
            )
        if mapping.destination not in destinations:
            out.append(
                error(
                    "ref.unknown_destination",
                    f"{mapping.address} uses unknown destination `{mapping.destination}`",
                    mapping.field_location("destination"),
                    address=mapping.address,
                    hint=_hint(mapping.destination, destinations, "destinations"),
                )
            )
        else:
            per_destination.setdefault(mapping.destination, []).append(mapping.resource_name)
        model = project.models.get(mapping.model)
        destination = project.destinations.get(mapping.destination)
        if model is not None and destination is not None:
            a, b = model.source_name, destination.source_name
            if a and b and a != b and a in project.sources and b in project.sources:
                out.append(
                    error(
                        "ref.source_mismatch",
                        f"model `{model.resource_name}` reads source `{a}` but destination "
                        f"`{destination.resource_name}` is connected to source `{b}`",
                        mapping.field_location("destination"),
                        address=mapping.address,
                        hint="a mapping's model and destination must use the same source",
                    )
                )
    for name, mapped in per_destination.items():
        if len(mapped) > MAX_MAPPINGS_PER_DESTINATION:
            destination = project.destinations.get(name)
            extra = project.mappings[mapped[MAX_MAPPINGS_PER_DESTINATION]]
            out.append(
                error(
                    "destination.too_many_mappings",
                    f"destination `{name}` has {len(mapped)} mappings; Segment allows at most "
                    f"{MAX_MAPPINGS_PER_DESTINATION} per destination",
                    extra.field_location("destination")
                    or (destination.key_location if destination else None),
                    address=f"destination.{name}",
                    hint="split the mappings over several Segment Profiles destinations",
                )
            )
    out.extend(_dbt_cloud_limit(project))
    for resource in project.resources():
        moved = getattr(resource, "moved_from", None)
        if moved is not None and not _NAME.match(moved):
            out.append(
                error(
                    "name.invalid",
                    f"`moved_from` names `{moved}`, which is not a valid name",
                    resource.field_location("moved_from"),
                    address=resource.address,
                    hint="names start with a lowercase letter and use only a-z, 0-9 and _ (at most 63)",
                )
            )
    workspace = project.workspace
    # Every backend: the embedded workspace and self-hosted syncs send with the key too, so a
    # destination without one plans clean and fails only at its first sync.
    used = {m.destination for m in project.mappings.values()}
    if workspace.backend == "segment" or used:
        for destination in project.destinations.values():
            if workspace.backend != "segment" and destination.resource_name not in used:
                continue
            if destination.write_key is None or not destination.write_key.get_secret_value():
                out.append(
                    warning(
                        "destination.missing_write_key",
                        f"destination `{destination.resource_name}` has no `write_key`; every sync of its "
                        "mappings will fail: Segment sends with the Profile Space's write key (`engage_space`)",
                        destination.field_location("write_key") or destination.key_location,
                        address=destination.address,
                        hint="set `write_key: ${PROFILES_WRITE_KEY}` and the variable",
                    )
                )
    if workspace.backend == "segment" and (workspace.token is None or not workspace.token.get_secret_value()):
        out.append(
            error(
                "workspace.missing_token",
                "`backend: segment` needs a Public API `token`",
                project.workspace_location("backend") or project.workspace_location("workspace"),
                address="workspace",
                hint="add `token: ${SEGMENT_API_TOKEN}` under `workspace:` and set the variable",
            )
        )
    _state_source(project, out)
    return out


def _state_source(project: Project, out: list[Diagnostic]) -> None:
    """`state.backend: warehouse` needs exactly one source to keep the state in."""
    settings = project.state
    if settings.backend != "warehouse":
        return
    sources = project.declared("sources")
    if settings.source is not None:
        if settings.source not in sources:
            out.append(
                error(
                    "state.unknown_source",
                    f"`state.source` names unknown source `{settings.source}`",
                    project.state_location("source"),
                    address="state",
                    hint=_hint(settings.source, sources, "sources"),
                )
            )
        return
    if len(sources) == 1:
        return
    if not sources:
        message = "`backend: warehouse` keeps the state in a source, but none is defined"
        hint = "add a source under `sources:`, or use `backend: local`"
    else:
        message = "`state.source` is required because the project has several sources"
        hint = "sources: " + ", ".join(sorted(sources))
    out.append(
        error(
            "state.missing_source",
            message,
            project.state_location("backend") or project.state_location("state"),
            address="state",
            hint=hint,
        )
    )


def _dbt_cloud_limit(project: Project) -> list[Diagnostic]:

    per_model: dict[str, list[str]] = {}
    for mapping in project.mappings.values():
        if isinstance(mapping.schedule, DbtCloudSchedule):
            per_model.setdefault(mapping.model, []).append(mapping.resource_name)
    out: list[Diagnostic] = []
    for model, names in per_model.items():
        if len(names) > MAX_DBT_CLOUD_MAPPINGS_PER_MODEL:
            extra = project.mappings[names[MAX_DBT_CLOUD_MAPPINGS_PER_MODEL]]
            out.append(
                error(
                    "schedule.dbt_cloud_limit",
                    f"model `{model}` has {len(names)} mappings scheduled by dbt Cloud; Segment allows "
                    f"at most {MAX_DBT_CLOUD_MAPPINGS_PER_MODEL} per model",
                    extra.field_location("schedule"),
                    address=extra.address,
                    hint="schedule the others by interval, day and time, or cron",
                )
            )
    return out

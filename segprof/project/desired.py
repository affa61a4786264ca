"""The project's resources as the Public API bodies they should be (the desired state).

Owns translating config models into `DesiredResource` values: source settings in Segment's
keys, models, Segment Profiles destinations, and mappings with their compiled settings, trigger
and schedule. One compiler serves plan and sync (`segprof.config.compile`). Must never talk to
the network; secret values stay inside the attributes and are listed in `sensitive`.
"""

from __future__ import annotations

import re
from typing import Any

from segprof.config import compile_schedule, compile_settings, compile_trigger
from segprof.config.models import Destination, Mapping, Model, Project, SourceBase
from segprof.project.outputs import ModelOutputs, model_columns
from segprof.project.resources import DesiredResource, Kind, Ref
from segprof.workspace.resources import SEGMENT_PROFILES_METADATA_ID

# Reverse ETL warehouse source metadata ids (Segment's catalog). DuckDB exists only in the
# embedded workspace: segprof's emulator lists it under this id.
SOURCE_METADATA_IDS: dict[str, str] = {
    "snowflake": "BQp3zGUgjV",
    "bigquery": "78PbvP2yv8",
    "postgres": "WvlvcGEJsT",
    "redshift": "0yMe8VfuDc",
    "databricks": "aSPS4yE0CZ",
    "azure": "xNpohElkX2",
    "duckdb": "sgpDuckDB1",
}

ACTION_SLUGS: dict[str, str] = {
    "send_identify": "sendIdentify",
    "send_group": "sendGroup",
    "send_track": "sendTrack",
    "send_subscription": "sendSubscription",
}

# Our YAML keys → the settings keys Segment's warehouse sources use.
_SETTING_KEYS: dict[str, str] = {
    "host": "hostname",
    "user": "username",
    "db_schema": "schema",
}
_SECRET_KEYS = ("password", "token")
# How segprof's own connection runs, not what the workspace's source is: never sent to Segment.
_CONNECTION_ONLY = {"memory_limit", "temp_directory"}


def source_settings(source: SourceBase) -> dict[str, Any]:
    """Connection settings in Segment's keys, secrets included (callers redact via `sensitive`)."""
    settings: dict[str, Any] = {}
    data = source.model_dump(exclude={"type", "segment_source_id", "prevent_destroy"}, by_alias=False)
    for key, value in data.items():
        if value is None or key in _CONNECTION_ONLY:
            continue
        raw = getattr(source, key)
        if hasattr(raw, "get_secret_value"):
            value = raw.get_secret_value()
        settings[_SETTING_KEYS.get(key, key)] = value
    return settings


def _slug(text: str) -> str:
    """A source slug (unique in a workspace): lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _source(name: str, source: SourceBase, suffix: str = "") -> DesiredResource:
    settings = source_settings(source)
    return DesiredResource(
        address=source.address,
        kind=Kind.source,
        name=name,
        attributes={
            "name": name + suffix,
            "slug": _slug(name + suffix),
            "enabled": True,
            "metadataId": SOURCE_METADATA_IDS[source.type],  # type: ignore[attr-defined]
            "settings": settings,
        },
        sensitive=frozenset(f"settings.{k}" for k in _SECRET_KEYS if k in settings),
        location=source.key_location,
        prevent_destroy=source.prevent_destroy,
        fixed_id=source.segment_source_id,
    )


def _model(name: str, model: Model, suffix: str = "") -> DesiredResource:
    source_address = f"source.{model.source_name}"
    return DesiredResource(
        address=model.address,
        kind=Kind.model,
        name=name,
        attributes={
            "name": model.display_name + suffix,
            "description": model.description or "",
            "enabled": model.enabled,
            "query": model.sql.text if model.sql else (model.query or ""),
            "queryIdentifierColumn": model.identifier,
            "sourceId": Ref(source_address),
        },
        depends_on=(source_address,),
        location=model.key_location,
        moved_from=model.moved_from,
        prevent_destroy=model.prevent_destroy,
    )


def _destination(name: str, destination: Destination, suffix: str = "") -> DesiredResource:
    source_address = f"source.{destination.source_name}"
    return DesiredResource(
        address=destination.address,
        kind=Kind.destination,
        name=name,
        attributes={
            "name": destination.display_name + suffix,
            "enabled": destination.enabled,
            "sourceId": Ref(source_address),
            "metadataId": SEGMENT_PROFILES_METADATA_ID,
            "settings": {},
        },
        depends_on=(source_address,),
        location=destination.key_location,
        moved_from=destination.moved_from,
        prevent_destroy=destination.prevent_destroy,
    )


def _mapping(
    name: str, mapping: Mapping, project: Project, columns: dict[str, list[str]], dialects: dict[str, str]
) -> DesiredResource:
    destination = project.destinations[mapping.destination]
    model = project.models[mapping.model]
    settings = compile_settings(
        mapping,
        destination,
        model,
        columns=columns.get(mapping.model),
        dialect=dialects.get(mapping.model),
    )
    return DesiredResource(
        address=mapping.address,
        kind=Kind.mapping,
        name=name,
        attributes={
            "name": mapping.display_name + project.name_suffix,
            "actionSlug": ACTION_SLUGS[mapping.action],
            "destinationId": Ref(destination.address),
            "modelId": Ref(model.address),
            "enabled": mapping.enabled,
            "trigger": compile_trigger(mapping.on),
            "settings": settings,
            "reverseETLSchedule": compile_schedule(mapping.schedule),
        },
        depends_on=(destination.address, model.address),
        sensitive=frozenset({"settings.engage_space"}),
        location=mapping.key_location,
        moved_from=mapping.moved_from,
        prevent_destroy=mapping.prevent_destroy,
        self_hosted=mapping.self_hosted,
    )


def build_desired(project: Project, outputs: ModelOutputs | None = None) -> list[DesiredResource]:
    columns, dialects = model_columns(project, outputs)
    resources: list[DesiredResource] = []
    # in an environment, every workspace name carries its suffix: adoption by name then only
    # ever finds this environment's resources, never another's sharing the workspace
    suffix = project.name_suffix
    resources.extend(_source(n, s, suffix) for n, s in project.sources.items())
    resources.extend(_model(n, m, suffix) for n, m in project.models.items())
    resources.extend(_destination(n, d, suffix) for n, d in project.destinations.items())
    resources.extend(_mapping(n, m, project, columns, dialects) for n, m in project.mappings.items())
    return resources

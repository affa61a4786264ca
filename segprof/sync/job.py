"""Building a `SyncJob` and its delivery from what defines a mapping: the project, or the workspace.

Owns the two resolutions the engine needs: from the project config (self-hosted runs: compiled
settings, the destination's Tracking API and write key) and from the workspace's stored objects
(the embedded workspace: the subscription's settings and trigger, the model's query and
identifier, exactly as Segment would read them), plus the source's connection settings from the
project. Must never print or log settings (they hold the write key and warehouse secrets).
"""

from __future__ import annotations

from typing import Any

from segprof.config import compile_settings, compile_trigger
from segprof.config.models import Destination, Project
from segprof.errors import SegprofError
from segprof.project.outputs import model_columns
from segprof.sync.deliver.delivery_config import tracking_base_for_region
from segprof.sync.spec import SyncJob, triggers_of


def mapping_names(project: Project, wanted: list[str], all_: bool) -> list[str]:
    """The mappings named on the command line (`x` or `mapping.x`), or every one with `all_`."""
    if all_ or not wanted:
        if not all_ and not wanted:
            raise SegprofError("name the mappings to sync, or pass --all", hint="e.g. segprof sync --all")
        return list(project.mappings)
    names = []
    for item in wanted:
        name = item.removeprefix("mapping.")
        if name not in project.mappings:
            known = ", ".join(sorted(project.mappings)) or "none"
            raise SegprofError(
                f"no mapping {name!r} in the project (mappings: {known})", address=f"mapping.{name}"
            )
        names.append(name)
    return list(dict.fromkeys(names))


def job_from_project(project: Project, name: str, mapping_id: str) -> SyncJob:
    """The job for a mapping as the config defines it (self-hosted runs)."""

    mapping = project.mappings[name]
    model = project.models[mapping.model]
    destination = project.destinations[mapping.destination]
    columns, dialects = model_columns(project)
    settings = compile_settings(
        mapping, destination, model, columns=columns.get(mapping.model), dialect=dialects.get(mapping.model)
    )
    settings.pop("engage_space", None)
    sql = model.sql.text if model.sql else (model.query or "")
    return SyncJob(
        mapping_id=mapping_id,
        action=mapping.action,
        settings=settings,
        triggers=triggers_of(compile_trigger(mapping.on)),
        model_sql=sql,
        identifier=model.identifier,
        address=mapping.address,
    )


def job_from_workspace(
    subscription: dict[str, Any], model: dict[str, Any], address: str | None = None
) -> tuple[SyncJob, str]:
    """The job for a subscription as the workspace stores it, and its Profile Space write key."""
    settings = dict(subscription.get("settings") or {})
    write_key = settings.pop("engage_space", None)
    action = subscription.get("actionSlug") or subscription.get("actionId") or ""
    job = SyncJob(
        mapping_id=str(subscription["id"]),
        action=str(action),
        settings=settings,
        triggers=triggers_of(str(subscription.get("trigger") or "")),
        model_sql=str(model.get("query") or ""),
        identifier=str(model.get("queryIdentifierColumn") or ""),
        address=address,
    )
    return job, write_key if isinstance(write_key, str) else ""


def tracking_base(destination: Destination) -> str:

    if destination.tracking_url:
        return destination.tracking_url.rstrip("/")
    return tracking_base_for_region(destination.region)


def destination_write_key(destination: Destination) -> str:
    key = destination.write_key.get_secret_value() if destination.write_key else ""
    if not key:
        raise SegprofError(
            "the destination has no write_key: self-hosted syncs send with the Profile Space's write key",
            address=destination.address,
            hint="set write_key (e.g. ${PROFILES_WRITE_KEY}) on the destination",
        )
    return key

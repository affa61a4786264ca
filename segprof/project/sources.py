"""A project's sources as warehouse connections.

Owns turning a source's YAML settings (secrets revealed only here, on their way to the driver) into
an open connector. Must never print or log settings: they hold warehouse secrets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segprof.config.models import Project, SourceBase
from segprof.errors import SegprofError
from segprof.warehouses import Connector, connect


def connection_settings(source: SourceBase) -> dict[str, Any]:
    """A source's YAML settings with secrets revealed, as `warehouses.connect` takes them."""
    data = source.model_dump(exclude={"type", "segment_source_id", "prevent_destroy"}, by_alias=False)
    settings: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            continue
        raw = getattr(source, key)
        if hasattr(raw, "get_secret_value"):
            value = raw.get_secret_value()
        settings[key] = value
    if "db_schema" in settings:
        settings["schema"] = settings["db_schema"]
    return settings


def open_source(project: Project, project_dir: Path, source_name: str) -> Connector:
    """A warehouse connection for one of the project's sources."""
    source = project.sources.get(source_name)
    if source is None:
        raise SegprofError(f"the project has no source {source_name!r}", address=f"source.{source_name}")
    return connect(source.type, connection_settings(source), project_dir, address=f"source.{source_name}")

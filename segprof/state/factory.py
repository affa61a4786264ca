"""Choosing the state store a project configured (`state:` in segprof.yaml).

Owns `open_state_store`, the one place that knows the backends: every reader and writer of state
(plan, apply, import, sync, generate, the `state` commands) asks it for a `StateStore`. Must never
open a connection itself (the warehouse store opens one per operation) nor print connection
settings.
"""

from __future__ import annotations

from pathlib import Path

from segprof.config.models import Project
from segprof.errors import SegprofError
from segprof.project.sources import open_source
from segprof.state.store import LocalStateStore, StateStore
from segprof.state.warehouse import WarehouseStateStore


def state_folder(project_dir: Path) -> Path:
    """The project's own folder for local state (and the embedded workspace)."""
    return Path(project_dir) / ".segprof"


def state_source_name(project: Project) -> str:
    """The source whose warehouse holds the state: `state.source`, or the project's only source."""
    name = project.state.source
    if name is None:
        declared = sorted(project.sources)
        if len(declared) != 1:
            raise SegprofError(
                "`state.backend: warehouse` needs `state.source`: "
                + ("the project has no source" if not declared else "the project has several sources"),
                address="state",
                location=project.state_location("backend"),
                hint="name the source that keeps the state, e.g. `state: {backend: warehouse, source: ...}`",
            )
        name = declared[0]
    if name not in project.sources:
        raise SegprofError(
            f"`state.source` names unknown source `{name}`",
            address="state",
            location=project.state_location("source"),
        )
    return name


def local_state_store(project_dir: Path, project: Project) -> LocalStateStore:
    """The project's local state file: `.segprof/state.json`, or in an environment (`--env`)
    `.segprof/state.<key>.json`, so that each environment keeps its own."""
    key = project.state.key if project.environment else "default"
    return LocalStateStore(state_folder(project_dir), key=key)


def open_state_store(project_dir: Path, project: Project) -> StateStore:
    """The state store the project configured: its local file (default) or its warehouse."""
    local = local_state_store(project_dir, project)
    if project.state.backend != "warehouse":
        return local

    name = state_source_name(project)

    def connect():  # type: ignore[no-untyped-def]

        try:
            return open_source(project, Path(project_dir), name)
        except SegprofError as err:
            # the driver's message is already scrubbed of the password; say which setting led here
            raise SegprofError(
                f"cannot open the warehouse that holds the state (`state.source`: source `{name}`): "
                f"{err.message}",
                address="state",
                hint=err.hint or f"check the connection settings of source.{name}",
            ) from None

    return WarehouseStateStore(connect, key=project.state.key, source_name=name, local=local)

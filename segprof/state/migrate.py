"""Moving state between the project's file and its warehouse, and the `segprof state` operations.

Owns `push` (`.segprof/state.json` → the warehouse; the file is then renamed, not deleted),
`pull` (the warehouse → the file), `show` (address → id as the configured store holds it) and
`unlock` (breaking a warehouse lock a dead run left). Each holds the locks it needs. Must never
overwrite a state holding resources without `force`, and never print anything (the CLI does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segprof.config.models import Project
from segprof.errors import SegprofError
from segprof.state.factory import local_state_store, open_state_store
from segprof.state.store import State
from segprof.state.warehouse import WarehouseStateStore


@dataclass
class StateView:
    """What `segprof state show` prints."""

    where: str
    backend: str
    state: State
    lock: dict[str, Any] | None = None
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (address, kind, id)

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "where": self.where,
            "lineage": self.state.lineage,
            "serial": self.state.serial,
            "lock": self.lock,
            "resources": {address: {"kind": kind, "id": id_} for address, kind, id_ in self.rows},
        }


def _warehouse_store(project_dir: Path, project: Project, verb: str):  # type: ignore[no-untyped-def]

    store = open_state_store(project_dir, project)
    if not isinstance(store, WarehouseStateStore):
        raise SegprofError(
            f"`segprof state {verb}` works on warehouse state, and this project keeps its state in "
            f"{store.describe()}",
            address="state",
            hint="set `state: {backend: warehouse}` (and `source:` when there are several) in segprof.yaml",
        )
    return store


def show(project_dir: Path, project: Project) -> StateView:

    store = open_state_store(project_dir, project)
    state = store.read()
    lock = store.holder() if isinstance(store, WarehouseStateStore) else None
    rows = [(address, entry.kind, entry.id) for address, entry in sorted(state.resources.items())]
    return StateView(store.describe(), project.state.backend, state, lock, rows)


def push(project_dir: Path, project: Project, *, force: bool = False, lock_timeout: float = 0.0) -> int:
    """Move the local state file into the warehouse; returns how many resources moved."""
    warehouse = _warehouse_store(project_dir, project, "push")
    local = local_state_store(project_dir, project)
    if not local.path.exists():
        raise SegprofError(
            f"there is no {local.path} to push",
            address="state",
            hint="nothing to move: plan and apply as usual",
        )
    with local.lock("state push", lock_timeout), warehouse.lock("state push", lock_timeout):
        state = local.read()
        stored = warehouse.read_stored()
        if stored is not None and stored.resources and not force:
            raise SegprofError(
                f"{warehouse.describe()} already holds {len(stored.resources)} resource(s) "
                f"(serial {stored.serial})",
                address="state",
                hint="pass --force to replace them with the file's, or `segprof state pull` to keep them",
            )
        state.serial = stored.serial if stored is not None else 0  # compare-and-set against what is there
        warehouse.write(state)
        # keep the file, under a name no store reads, so that nothing is lost and nothing is read twice
        local.path.replace(local.path.with_name(f"state.json.pushed-{state.serial}"))
    return len(state.resources)


def pull(project_dir: Path, project: Project, *, force: bool = False, lock_timeout: float = 0.0) -> int:
    """Copy the warehouse state into the local state file; returns how many resources it holds."""
    warehouse = _warehouse_store(project_dir, project, "pull")
    local = local_state_store(project_dir, project)
    with local.lock("state pull", lock_timeout), warehouse.lock("state pull", lock_timeout):
        stored = warehouse.read_stored()
        if stored is None:
            raise SegprofError(f"{warehouse.describe()} holds no state to pull", address="state")
        if local.path.exists() and local.read().resources and not force:
            raise SegprofError(
                f"{local.path} already records resources",
                address="state",
                hint="pass --force to replace it with the warehouse's state",
            )
        local.write(stored, advance=False)
    return len(stored.resources)


def unlock(project_dir: Path, project: Project, lock_id: str) -> str:
    """Break the warehouse lock `lock_id`; returns the holder it named."""
    return _warehouse_store(project_dir, project, "unlock").unlock(lock_id)

"""`segprof state rm` and `segprof state mv`: editing which address a live id belongs to.

Owns forgetting addresses (the live resources stay in the workspace, no longer managed) and
renaming an address within its kind, each under the state's write lock, in one write. Must never
touch the workspace, never leave a half-edited state (every check runs before the one write), and
never print anything (the CLI does).
"""

from __future__ import annotations

from pathlib import Path

from segprof.config.models import Project
from segprof.errors import SegprofError
from segprof.state.factory import open_state_store
from segprof.state.store import StateEntry

# the resource kinds an address may name (the state sits below the planner, which defines them)
_KIND_NAMES = ("source", "model", "destination", "mapping")
_KINDS = ", ".join(_KIND_NAMES)


def _check_address(address: str) -> str:
    kind, dot, name = address.partition(".")
    if not dot or not name or kind not in _KIND_NAMES:
        raise SegprofError(
            f"{address!r} is not a resource address",
            hint=f"an address is KIND.NAME, KIND one of {_KINDS} (e.g. model.users); "
            "`segprof state list` prints them",
        )
    return kind


def remove(
    project_dir: Path, project: Project, addresses: list[str], *, lock_timeout: float = 0.0
) -> list[tuple[str, StateEntry]]:
    """Forget `addresses`; returns what was removed. Unknown addresses fail before any write."""
    for address in addresses:
        _check_address(address)
    store = open_state_store(project_dir, project)
    with store.lock("state rm", lock_timeout):
        state = store.read()
        missing = [a for a in addresses if a not in state.resources]
        if missing:
            raise SegprofError(
                f"the state has no {', '.join(missing)}; nothing was removed",
                hint="`segprof state list` prints the addresses the state records",
            )
        removed = [(a, state.resources.pop(a)) for a in dict.fromkeys(addresses)]
        store.write(state)
    return removed


def move(
    project_dir: Path, project: Project, source: str, destination: str, *, lock_timeout: float = 0.0
) -> StateEntry:
    """Tie the live id recorded at `source` to `destination` instead (same kind)."""
    kind_from, kind_to = _check_address(source), _check_address(destination)
    if kind_from != kind_to:
        raise SegprofError(
            f"cannot move a {kind_from} to a {kind_to} address ({source} → {destination})",
            hint="an address keeps its kind: move model.a to model.b",
        )
    store = open_state_store(project_dir, project)
    with store.lock("state mv", lock_timeout):
        state = store.read()
        if source not in state.resources:
            raise SegprofError(
                f"the state has no {source}; nothing was moved",
                hint="`segprof state list` prints the addresses the state records",
            )
        if destination in state.resources:
            raise SegprofError(
                f"{destination} is already tied to {state.resources[destination].id}; nothing was moved",
                hint=f"remove it first with `segprof state rm {destination}` if that is meant",
            )
        entry = state.resources.pop(source)
        state.resources[destination] = entry
        store.write(state)
    return entry

"""Carrying out a plan: dependency order, bounded concurrency, state recorded after each success.

Owns: the order (sources → models → destinations, created disabled → mappings → enabling the
destinations; deletions and the old halves of replacements last, in reverse), stopping at the first
failure with an exact account of what was and was not done, and writing state after every single
success so the next plan shows exactly the remainder. Must never decide *what* to change (that is
the plan) nor speak HTTP itself (that is the `Writer`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from segprof.errors import SegprofError
from segprof.plan.diff import removed_settings
from segprof.plan.model import Action, Plan, ResourceChange
from segprof.plan.secrets import redact_for_storage
from segprof.project.resources import KIND_ORDER, DesiredResource, Kind, LiveResource, Ref
from segprof.state.store import State, StateEntry, StateStore

EXTERNAL_FLAG = "__external__"
PREVENT_DESTROY_FLAG = "__prevent_destroy__"


class Writer(Protocol):
    """The workspace operations apply needs; implemented over the Public API client."""

    async def create(self, kind: Kind, attributes: dict[str, Any], *, address: str) -> LiveResource: ...

    async def update(
        self, kind: Kind, live_id: str, attributes: dict[str, Any], *, address: str, parent_id: str | None
    ) -> LiveResource: ...

    async def delete(self, kind: Kind, live_id: str, *, address: str, parent_id: str | None) -> None: ...


@dataclass
class Step:
    address: str
    kind: Kind
    verb: str  # create, update, adopt, move, enable, delete, delete-replaced
    change: ResourceChange


@dataclass
class ApplyOutcome:
    done: list[Step] = field(default_factory=list)
    failed: tuple[Step, str] | None = None
    not_started: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed is None


ProgressCallback = Callable[[str, Step], None]  # ("start" | "done" | "failed", step)


def check_destroy_allowed(plan: Plan, state: State, allow_destroy: bool) -> None:
    destroying = [c for c in plan.changes if c.action in (Action.delete, Action.replace)]
    protected = [
        c.address
        for c in destroying
        if (entry := state.resources.get(c.moved_from or c.address)) is not None
        and entry.attributes.get(PREVENT_DESTROY_FLAG)
    ]
    if protected:
        raise SegprofError(
            f"the plan would destroy {', '.join(protected)}, which had prevent_destroy: true when last applied",
            hint="set prevent_destroy: false on it and apply that first, if destroying it is really intended",
        )
    deletes = [c.address for c in plan.changes if c.action is Action.delete]
    if deletes and not allow_destroy:
        raise SegprofError(
            f"the plan destroys {len(deletes)} resource(s) ({', '.join(deletes)}); nothing was changed",
            hint="review the plan and pass --allow-destroy to allow deletions",
        )


def _phases(plan: Plan, desired: dict[str, DesiredResource]) -> list[list[Step]]:
    """Groups of steps; steps within a group are independent of each other."""
    phases: list[list[Step]] = []
    for kind in KIND_ORDER:
        group = []
        for c in plan.changes:
            if c.kind is not kind:
                continue
            if c.action in (Action.create, Action.replace):
                group.append(Step(c.address, kind, "create", c))
            elif c.action is Action.update:
                group.append(Step(c.address, kind, "update", c))
            elif c.action is Action.adopt:
                group.append(Step(c.address, kind, "adopt", c))
            elif c.action is Action.noop and c.moved_from:
                group.append(Step(c.address, kind, "move", c))
        if group:
            phases.append(group)
    enabling = [
        Step(c.address, Kind.destination, "enable", c)
        for c in plan.changes
        if c.kind is Kind.destination
        and c.action in (Action.create, Action.replace)
        and desired[c.address].attributes.get("enabled")
    ]
    if enabling:
        phases.append(enabling)
    for kind in reversed(KIND_ORDER):
        group = [
            Step(c.address, kind, "delete" if c.action is Action.delete else "delete-replaced", c)
            for c in plan.changes
            if c.kind is kind and c.action in (Action.delete, Action.replace) and c.live_id
        ]
        if group:
            phases.append(group)
    return phases


def _resolve(value: Any, state: State) -> Any:
    if isinstance(value, Ref):
        live_id = state.id_of(value.address)
        if live_id is None:
            raise SegprofError(f"{value.address} has no live id yet", hint="apply its dependency first")
        return live_id
    if isinstance(value, dict):
        return {k: _resolve(v, state) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, state) for v in value]
    return value


async def execute(
    plan: Plan,
    desired: list[DesiredResource],
    state: State,
    store: StateStore,
    writer: Writer,
    *,
    parallelism: int = 4,
    progress: ProgressCallback | None = None,
) -> ApplyOutcome:
    by_address = {d.address: d for d in desired}
    outcome = ApplyOutcome()
    phases = _phases(plan, by_address)
    semaphore = asyncio.Semaphore(max(1, parallelism))
    failed = asyncio.Event()

    def record(step: Step, live: LiveResource | None, attributes: dict[str, Any] | None) -> None:
        d = by_address.get(step.address)
        if step.verb in ("delete", "delete-replaced"):
            if step.verb == "delete":
                state.resources.pop(step.address, None)
        else:
            assert d is not None and live is not None
            if step.change.moved_from:
                state.resources.pop(step.change.moved_from, None)
            stored = redact_for_storage(attributes or {}, d.sensitive)
            if d.fixed_id:
                stored[EXTERNAL_FLAG] = True
            if d.prevent_destroy:
                stored[PREVENT_DESTROY_FLAG] = True
            state.resources[step.address] = StateEntry(
                kind=step.kind.value, id=live.id, parent_id=live.parent_id, attributes=stored
            )
        store.write(state)

    async def run(step: Step) -> None:
        async with semaphore:
            if failed.is_set():
                outcome.not_started.append(step)
                return
            if progress:
                progress("start", step)
            try:
                live, attributes = await _perform(step, by_address, state, writer)
            except SegprofError as err:
                failed.set()
                if outcome.failed is None:
                    outcome.failed = (step, str(err))
                if progress:
                    progress("failed", step)
                return
            record(step, live, attributes)
            outcome.done.append(step)
            if progress:
                progress("done", step)

    for index, phase in enumerate(phases):
        if failed.is_set():
            outcome.not_started.extend(step for later in phases[index:] for step in later)
            break
        await asyncio.gather(*(run(step) for step in phase))
    return outcome


async def _perform(
    step: Step, desired: dict[str, DesiredResource], state: State, writer: Writer
) -> tuple[LiveResource | None, dict[str, Any] | None]:
    change = step.change
    if step.verb in ("delete", "delete-replaced"):
        entry = state.resources.get(step.address)
        external = entry is not None and entry.attributes.get(EXTERNAL_FLAG)
        if not external and change.live_id:
            # The old half of a replace may hang under another parent than the new one.
            before = change.before or {}
            parent = before.get("destinationId") if step.verb == "delete-replaced" else None
            if parent is None and entry is not None:
                parent = entry.parent_id
            await writer.delete(step.kind, change.live_id, address=step.address, parent_id=parent)
        return None, None

    d = desired[step.address]
    attributes = _resolve(d.attributes, state)
    if step.verb == "enable":
        entry = state.resources[step.address]
        live = await writer.update(
            step.kind, entry.id, attributes, address=step.address, parent_id=entry.parent_id
        )
        return live, attributes
    if step.verb == "move" or (step.verb == "adopt" and not change.also_update):
        assert change.live_id is not None
        return LiveResource(step.kind, change.live_id, attributes, parent_id=_parent(attributes)), attributes
    if step.verb in ("update", "adopt"):
        assert change.live_id is not None
        sent = attributes
        removed = removed_settings(d, state.resources.get(step.address))
        if removed and isinstance(attributes.get("settings"), dict):
            # settings are merged by the API: a key segprof applied before is removed by sending null
            sent = {**attributes, "settings": {**attributes["settings"], **dict.fromkeys(removed)}}
        live = await writer.update(
            step.kind, change.live_id, sent, address=step.address, parent_id=_parent(attributes)
        )
        return live, attributes
    # create (also the new half of a replace); destinations start disabled until their mappings exist
    create_attributes = dict(attributes)
    if step.kind is Kind.destination and create_attributes.get("enabled"):
        create_attributes["enabled"] = False
    live = await writer.create(step.kind, create_attributes, address=step.address)
    recorded = create_attributes if step.kind is Kind.destination else attributes
    return live, recorded


def _parent(attributes: dict[str, Any]) -> str | None:
    parent = attributes.get("destinationId")
    return parent if isinstance(parent, str) else None

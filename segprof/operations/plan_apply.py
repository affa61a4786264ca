"""Plan and apply as whole operations: lock, read state, refresh the workspace, diff, execute.

Owns the sequence every `plan` and `apply` goes through. Apply (and import) run under the state's
write lock, so that a concurrent apply is refused and a saved plan is checked against exactly
what it would change; plan only reads, takes no lock and waits on no writer, so every pull
request can plan at once, and while an apply runs.
Must never render anything (the CLI does) nor decide field-level differences (the diff does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from segprof.apply.executor import ApplyOutcome, ProgressCallback, check_destroy_allowed, execute
from segprof.apply.writer import WorkspaceWriter
from segprof.config.models import Project
from segprof.errors import SegprofError
from segprof.operations.preview import PreviewOptions, attach_previews, project_secrets
from segprof.operations.workspaces import ClientOptions, open_async_workspace
from segprof.plan.diff import compute_plan
from segprof.plan.model import DbtModelChange, Plan
from segprof.plan.planfile import check_not_stale, load_plan_header
from segprof.plan.refresh import to_index
from segprof.project.desired import build_desired
from segprof.project.outputs import ModelOutputs
from segprof.project.resources import DesiredResource, address_kind
from segprof.state.factory import open_state_store
from segprof.state.store import State, StateEntry
from segprof.workspace.client import AsyncWorkspaceClient
from segprof.workspace.live import LiveWorkspace, read_workspace
from segprof.workspace.throttle import WaitCallback


@dataclass
class RunOptions:
    targets: list[str] = field(default_factory=list)
    lock_timeout: float = 0.0
    on_wait: WaitCallback | None = None
    client_options: ClientOptions | None = None
    # columns validation already found per model, so the SQL is not analysed a second time
    model_outputs: ModelOutputs | None = None
    # `plan --preview N`: N sample records per changed mapping through old and new settings
    preview: int | None = None


def workspace_client(project: Project, project_dir: Path, options: RunOptions) -> AsyncWorkspaceClient:
    """The async client of the workspace the project names (its backend, token and region)."""
    ws = project.workspace
    client_options = options.client_options or ClientOptions()
    if options.on_wait is not None:
        client_options.on_wait = options.on_wait
    return open_async_workspace(
        ws.backend,
        project_dir=project_dir,
        token=ws.token.get_secret_value() if ws.token else None,
        region=ws.region,
        api_url=ws.api_url,
        options=client_options,
    )


async def _refresh_and_plan(
    client: AsyncWorkspaceClient, desired: list[DesiredResource], state: State, targets: list[str]
) -> tuple[Plan, LiveWorkspace]:

    known_destinations = [e.id for e in state.resources.values() if e.kind == "destination"]
    live = await read_workspace(client, destination_ids=known_destinations)
    plan = compute_plan(desired, state, to_index(live), targets=targets or None)
    return plan, live


def plan_project(project_dir: Path, project: Project, options: RunOptions) -> Plan:
    desired = build_desired(project, options.model_outputs)
    store = open_state_store(project_dir, project)

    async def run():  # type: ignore[no-untyped-def]
        async with workspace_client(project, project_dir, options) as client:
            # No lock: a plan only reads. Every state write replaces the whole document at once,
            # so this is the state before or after a concurrent apply's step, never half of one;
            # a plan saved meanwhile is refused as stale when applied.
            state = store.read()
            return await _refresh_and_plan(client, desired, state, options.targets)

    plan, live = asyncio.run(run())
    plan.environment = project.environment
    plan.dbt_changes = dbt_model_changes(project)
    if options.preview is not None:
        preview_options = PreviewOptions(options.preview, secrets=project_secrets(project))
        attach_previews(
            plan, project, project_dir, desired, to_index(live), preview_options, dbt_queries(project, plan)
        )
    return plan


def dbt_model_changes(project: Project) -> list[DbtModelChange]:
    """The `{dbt: …}` models whose dbt model differs from production's, with their mappings."""
    found: list[DbtModelChange] = []
    for model in project.models.values():
        link = model.dbt_link
        if link is None or not link.changes:
            continue
        mappings = sorted(m.address for m in project.mappings.values() if m.model == model.resource_name)
        found.append(
            DbtModelChange(model.address, link.dbt.name, link.model_file.file, list(link.changes), mappings)
        )
    return found


def dbt_queries(project: Project, plan: Plan) -> dict[str, tuple[str, str, str]]:
    """model address → (production's query, identifier, this change's query) for every changed
    dbt model: its mappings are previewed on production's records against this change's."""
    out: dict[str, tuple[str, str, str]] = {}
    for change in plan.dbt_changes:
        model = project.models[change.model.removeprefix("model.")]
        link = model.dbt_link
        if link.production_query and link.build_query and model.identifier:
            out[change.model] = (link.production_query, model.identifier, link.build_query)
    return out


@dataclass
class ApplyRequest:
    plan_file: Path | None = None
    confirm: Callable[[Plan], bool] | None = None  # None: approved (auto-approve or saved plan)
    allow_destroy: bool = False
    parallelism: int = 4
    progress: ProgressCallback | None = None


@dataclass
class ApplyResult:
    plan: Plan
    outcome: ApplyOutcome | None  # None: nothing to do, or not approved
    approved: bool


def apply_project(
    project_dir: Path, project: Project, options: RunOptions, request: ApplyRequest
) -> ApplyResult:
    desired = build_desired(project, options.model_outputs)
    store = open_state_store(project_dir, project)
    saved = load_plan_header(request.plan_file) if request.plan_file else None

    async def run() -> ApplyResult:
        async with workspace_client(project, project_dir, options) as client:
            state = store.read()
            targets = options.targets
            if saved is not None:
                targets = list(saved.get("targets") or [])
            plan, live = await _refresh_and_plan(client, desired, state, targets)
            plan.environment = project.environment
            if saved is not None and request.plan_file is not None:
                check_not_stale(saved, plan, request.plan_file)
            if not plan.has_changes:
                return ApplyResult(plan, None, approved=True)
            check_destroy_allowed(plan, state, request.allow_destroy)
            if request.confirm is not None and not request.confirm(plan):
                return ApplyResult(plan, None, approved=False)

            writer = WorkspaceWriter(client, live.action_ids())
            outcome = await execute(
                plan,
                desired,
                state,
                store,
                writer,
                parallelism=request.parallelism,
                progress=request.progress,
            )
            return ApplyResult(plan, outcome, approved=True)

    with store.lock("apply", options.lock_timeout):
        return asyncio.run(run())


def import_resource(
    project_dir: Path, project: Project, address: str, live_id: str, options: RunOptions
) -> StateEntry:
    """Tie an address of the project to an existing live resource (`segprof import`)."""

    desired = {d.address: d for d in build_desired(project, options.model_outputs)}
    if address not in desired:
        raise SegprofError(
            f"{address} is not a resource of this project", hint="check the address in the config"
        )
    kind = address_kind(address)
    store = open_state_store(project_dir, project)

    async def run() -> StateEntry:

        async with workspace_client(project, project_dir, options) as client:
            live = to_index(await read_workspace(client))
        resource = live.get(kind, live_id)
        if resource is None:
            raise SegprofError(f"the workspace has no {kind.value} with id {live_id}", address=address)
        return StateEntry(kind=kind.value, id=live_id, parent_id=resource.parent_id, attributes={})

    with store.lock("import", options.lock_timeout):
        state = store.read()
        if address in state.resources:
            raise SegprofError(
                f"{address} is already tied to {state.resources[address].id}",
                hint=f"remove it from the state first with `segprof state rm {address}` to re-import it",
            )
        claimed = {(e.kind, e.id) for e in state.resources.values()}
        if (kind.value, live_id) in claimed:
            raise SegprofError(
                f"{kind.value} {live_id} is already managed under another address", address=address
            )
        entry = asyncio.run(run())
        state.resources[address] = entry
        store.write(state)
        return entry

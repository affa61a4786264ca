"""`segprof sync` as one operation: which mappings, where they run, and what came of each.

Owns the choice of path per mapping — the workspace runs it (`backend: local`: a manual sync of
the embedded workspace, executed by `EngineRunner`; `backend: segment`: Segment's manual sync,
followed through its status), or segprof runs it itself (`--self-hosted`, `--dry-run`,
`--full-resync`, `--rebaseline`: the engine straight from the project config) — and turning each
outcome into a `RunSummary`. Must never render anything (the CLI does) nor send anything in a dry
run.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segprof.config.models import Project
from segprof.errors import SegprofError
from segprof.project.sources import open_source
from segprof.state import State, open_state_store
from segprof.sync.deliver.delivery_config import DeliveryConfig
from segprof.sync.detect.runs import MassDeleteRefused
from segprof.sync.engine import SyncEngine, record_failed_run
from segprof.sync.job import destination_write_key, job_from_project, mapping_names, tracking_base
from segprof.sync.spec import RunSummary

Progress = Callable[[str, int, int, int], None]  # (mapping, delivered, failed, to send)

STATUS_FROM_SEGMENT = {
    "SUCCESS": "success",
    "PARTIAL_SUCCESS": "partial",
    "FAIL": "failed",
    "FAILED": "failed",
    "CANCELED": "cancelled",
    "CANCELLED": "cancelled",
    "IN_PROGRESS": "running",
}


@dataclass
class SyncOptions:
    mappings: list[str] = field(default_factory=list)
    all: bool = False
    self_hosted: bool = False
    dry_run: bool = False
    full_resync: bool = False
    rebaseline: bool = False
    allow_mass_delete: bool = False
    max_records: int | None = None  # the most changes one run extracts; None: Segment's limit
    samples: int = 3
    progress: Progress | None = None
    poll_interval: float | None = None  # None: 0.1 s for the embedded workspace, 5 s for Segment
    timeout: float | None = None
    deadline: float | None = None  # seconds each run segprof executes may take; None: no limit


DEADLINE_VARIABLE = "SEGPROF_SYNC_TIMEOUT"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_deadline(text: str | None, what: str = "--timeout") -> float | None:
    """`90`, `90s`, `30m`, `2h`, `1d` → seconds; empty → None (no deadline)."""
    if text is None or not text.strip():
        return None
    match = _DURATION.match(text.lower())
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"] if match else 0.0
    if not seconds > 0:
        raise SegprofError(
            f"{what} must be a positive duration, not {text!r}", hint="e.g. 900 (seconds), 30m, 2h"
        )
    return seconds


def deadline_from(flag: str | None, environ: dict[str, str] | None = None) -> float | None:
    """The run deadline: the `--timeout` flag, else SEGPROF_SYNC_TIMEOUT, else none."""
    if flag is not None:
        return parse_deadline(flag)
    env = os.environ if environ is None else environ
    return parse_deadline(env.get(DEADLINE_VARIABLE), DEADLINE_VARIABLE)


def recorded_state(project_dir: Path, project: Project) -> State:
    """The state as recorded (address → live id), read once."""
    return open_state_store(project_dir, project).read()


def mapping_id_for(project_dir: Path, project: Project, address: str) -> str:
    """Bookkeeping key of a mapping: its live subscription id when applied, else its address."""
    return recorded_state(project_dir, project).id_of(address) or address


def engine_for(  # type: ignore[no-untyped-def]
    project: Project,
    project_dir: Path,
    name: str,
    mapping_id: str | None = None,
    max_records: int | None = None,
    record_failure: bool = False,
):
    """(engine, connection) for one mapping as the project defines it; close the connection after.

    `record_failure`: a mapping whose engine cannot be set up (a model that cannot be described)
    is recorded as a failed run, whose id the raised error carries as `run_id`.
    """

    mapping = project.mappings[name]
    mid = mapping_id or mapping_id_for(project_dir, project, mapping.address)
    job = job_from_project(project, name, mid)
    model = project.models[mapping.model]
    con = open_source(project, project_dir, model.source_name or "")
    try:
        limit = {"max_records": max_records} if max_records is not None else {}
        return SyncEngine(con, job, tracker_options=limit), con
    except BaseException as err:
        if record_failure and isinstance(err, SegprofError):
            err.run_id = record_failed_run(con, job, err.message)  # type: ignore[attr-defined]
        con.close()
        raise


def run_syncs(project_dir: Path, project: Project, options: SyncOptions) -> list[RunSummary]:
    """Run (or dry-run, reset, rebaseline) the chosen mappings; one summary each, in order."""

    names = mapping_names(project, options.mappings, options.all)
    if not names:
        return []
    local_ops = options.dry_run or options.full_resync or options.rebaseline
    backend = project.workspace.backend
    if local_ops and backend == "segment" and not options.self_hosted:
        raise SegprofError(
            "--dry-run, --full-resync and --rebaseline work on segprof's own sync state: "
            "with backend segment, Segment keeps that state; add --self-hosted",
            address="workspace.backend",
        )
    if options.self_hosted or options.dry_run or options.rebaseline:
        if len(names) == 1:
            try:
                return [_self_hosted(project_dir, project, names[0], options)]
            except SegprofError as err:
                run_id = getattr(err, "run_id", None)
                if run_id:
                    recorded = f"the run is recorded as {run_id} (segprof syncs show {run_id})"
                    err.hint = f"{err.hint}; {recorded}" if err.hint else recorded
                raise
        return [_one_of_many(project_dir, project, n, options) for n in names]
    if options.full_resync:  # reset here; the workspace then runs the sync as usual
        for name in names:
            engine, con = engine_for(project, project_dir, name)
            try:
                engine.tracker.full_resync()
            finally:
                con.close()
    if not options.mappings:  # --all: the workspace does not run disabled mappings
        names = [n for n in names if project.mappings[n].enabled]
    return _through_workspace(project_dir, project, names, options)


def mappings_changed_by(project: Project, steps: list[Any]) -> list[str]:
    """Enabled mappings an apply created or changed, directly or through their model (`apply --sync`)."""
    touched = {s.address for s in steps if getattr(s, "verb", "") in ("create", "update", "move", "adopt")}
    return [
        name
        for name, mapping in project.mappings.items()
        if mapping.enabled and (mapping.address in touched or f"model.{mapping.model}" in touched)
    ]


# ---- segprof runs it ----------------------------------------------------------------------------


def _one_of_many(project_dir: Path, project: Project, name: str, options: SyncOptions) -> RunSummary:
    """One mapping of several: a mapping that cannot run is reported, the others still run."""

    try:
        return _self_hosted(project_dir, project, name, options)
    except SegprofError as err:
        address = project.mappings[name].address
        return RunSummary(
            mapping_id=mapping_id_for(project_dir, project, address),
            address=address,
            run_id=getattr(err, "run_id", None),
            status="refused" if isinstance(err, MassDeleteRefused) else "failed",
            errors=[str(err)],
        )


def _self_hosted(project_dir: Path, project: Project, name: str, options: SyncOptions) -> RunSummary:

    mapping = project.mappings[name]
    engine, con = engine_for(
        project, project_dir, name, max_records=options.max_records, record_failure=not options.dry_run
    )
    try:
        if options.full_resync:
            engine.tracker.full_resync()
        if options.rebaseline:
            recorded = engine.tracker.rebaseline()
            return RunSummary(
                mapping_id=engine.job.mapping_id,
                address=mapping.address,
                status="rebaselined",
                extracted=recorded,
            )
        if options.dry_run:
            return engine.dry_run(samples=options.samples)
        destination = project.destinations[mapping.destination]
        config = DeliveryConfig(
            write_key=destination_write_key(destination), tracking_base=tracking_base(destination)
        )

        def on_progress(delivered: int, failed: int, to_send: int) -> None:
            if options.progress is not None:
                options.progress(mapping.address, delivered, failed, to_send)

        return engine.run(
            config,
            allow_mass_delete=options.allow_mass_delete,
            on_progress=on_progress,
            deadline=options.deadline,
        )
    finally:
        con.close()


# ---- the workspace runs it ----------------------------------------------------------------------


def _ids(project_dir: Path, project: Project, name: str) -> dict[str, str]:
    state = recorded_state(project_dir, project)
    mapping = project.mappings[name]
    model = project.models[mapping.model]
    wanted = {
        "subscription": mapping.address,
        "model": model.address,
        "source": f"source.{model.source_name}",
    }
    ids = {}
    for key, address in wanted.items():
        live = state.id_of(address)
        if live is None:
            raise SegprofError(
                f"{address} is not in the workspace yet",
                address=mapping.address,
                hint="run `segprof apply` first (or sync it yourself with --self-hosted)",
            )
        ids[key] = live
    return ids


def _through_workspace(
    project_dir: Path, project: Project, names: list[str], options: SyncOptions
) -> list[RunSummary]:
    # start-up cost: the workspace client and the embedded workspace (the emulator app) load only
    # when a workspace runs the syncs; a self-hosted run never needs them
    from segprof.operations.embedded_syncs import EngineRunner
    from segprof.operations.workspaces import ClientOptions, open_async_workspace

    jobs = [(n, _ids(project_dir, project, n)) for n in names]
    runner = None
    client_options = ClientOptions()
    if project.workspace.backend == "local":
        runner = EngineRunner(
            project,
            project_dir,
            allow_mass_delete=options.allow_mass_delete,
            max_records=options.max_records,
            progress=options.progress,
            deadline=options.deadline,
        )
        client_options.local_app_options = {"sync_runner": runner}
    ws = project.workspace
    interval = options.poll_interval
    if interval is None:
        interval = 0.1 if ws.backend == "local" else 5.0

    async def run() -> list[RunSummary]:
        client = open_async_workspace(
            ws.backend,
            project_dir=project_dir,
            token=ws.token.get_secret_value() if ws.token else None,
            region=ws.region,
            api_url=ws.api_url,
            options=client_options,
        )
        async with client:
            # one after the other: mappings of one warehouse share its bookkeeping tables
            out = []
            for name, ids in jobs:
                address = project.mappings[name].address
                sync = await client.start_sync(
                    source_id=ids["source"],
                    model_id=ids["model"],
                    subscription_id=ids["subscription"],
                    address=address,
                )
                # Segment runs its syncs: a deadline bounds only how long segprof follows one
                timeout = options.timeout if runner is not None else options.timeout or options.deadline
                if runner is not None:
                    timeout = await _until_ended(runner, sync.sync_id, timeout)
                status = await client.wait_for_sync(
                    ids["model"], sync.sync_id, poll_interval=interval, timeout=timeout, address=address
                )
                out.append(_summary_of(project.mappings[name].address, ids["subscription"], status, runner))
            return out

    import asyncio  # here: a self-hosted run with nothing to send never starts an event loop

    try:
        return asyncio.run(run())
    except KeyboardInterrupt:
        if runner is not None:
            runner.cancel()
            runner.join()
        raise
    finally:
        if runner is not None:
            runner.join()


async def _until_ended(runner: Any, sync_id: str, timeout: float | None) -> float | None:
    """Wait for the embedded workspace's run of `sync_id`, on a thread of this process, to end: a
    look at the runner every few milliseconds costs nothing, where each status request every poll
    interval would cost a request and see the end up to an interval late. Returns what is left of
    `timeout` for following the sync's status."""
    import asyncio

    ends = None if timeout is None else time.monotonic() + timeout
    while not runner.ended(sync_id) and (ends is None or time.monotonic() < ends):
        await asyncio.sleep(0.005)
    return None if ends is None else max(0.0, ends - time.monotonic())


def _summary_of(address: str, subscription_id: str, status: Any, runner: Any) -> RunSummary:
    if runner is not None and status.sync_id in runner.summaries:
        # the engine's run id, the one `segprof syncs show` knows (None: no run could be recorded)
        summary: RunSummary = runner.summaries[status.sync_id]
        return summary
    extract = status.extract_phase
    load = status.load_phase
    summary = RunSummary(
        mapping_id=subscription_id,
        address=address,
        run_id=status.sync_id,
        status=STATUS_FROM_SEGMENT.get(status.sync_status or "", (status.sync_status or "unknown").lower()),
        new=(extract.added_count or 0) if extract else 0,
        updated=(extract.updated_count or 0) if extract else 0,
        deleted=(extract.deleted_count or 0) if extract else 0,
        extracted=(extract.extract_count or 0) if extract else 0,
        delivered=(load.deliver_success_count or 0) if load else 0,
        failed=(load.deliver_failure_count or 0) if load else 0,
    )
    summary.duration = _seconds(status.duration)
    if status.error:
        summary.errors.append(status.error)
    return summary


def _seconds(duration: str | None) -> float:
    if not duration:
        return 0.0
    try:
        return float(duration.rstrip("s"))
    except ValueError:
        return 0.0

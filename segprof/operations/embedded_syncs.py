"""The embedded workspace's sync runner: runs a manual sync the way Segment would.

Owns `EngineRunner`, the `SyncRunner` the emulator calls when a manual sync starts: it builds the
job from what the workspace stores (the subscription's settings and trigger, the model's query
and identifier), opens the warehouse with the project's own connection settings (the workspace
holds them masked), runs the engine, delivers to the emulator's Tracking API in-process with the
subscription's `engage_space` as write key, and reports counts through the sync status. Must never
raise into the emulator (a failed run is a FAIL status) nor put a secret in a status.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

from segprof.config.models import Project
from segprof.emulator import project_data_dir
from segprof.emulator.app import create_app
from segprof.emulator.syncs import SyncReporter, SyncRequest, SyncResult, now_iso
from segprof.errors import SegprofError
from segprof.project.sources import open_source
from segprof.state import open_state_store
from segprof.sync.deliver.delivery_config import DeliveryConfig
from segprof.sync.detect.runs import MassDeleteRefused
from segprof.sync.engine import SyncEngine, record_failed_run
from segprof.sync.job import job_from_workspace
from segprof.sync.spec import RunSummary
from segprof.workspace.inprocess import InProcessTransport

LOCAL_TRACKING_BASE = "http://tracking.segprof.local/v1"
STATUS_OF = {
    "success": "SUCCESS",
    "partial": "PARTIAL_SUCCESS",
    "failed": "FAIL",
    "refused": "FAIL",
    "cancelled": "CANCELED",
}


class EngineRunner:
    """Runs manual syncs of a project's embedded workspace with the sync engine."""

    def __init__(
        self,
        project: Project,
        project_dir: Path,
        *,
        allow_mass_delete: bool = False,
        max_records: int | None = None,
        tracking_app: Any = None,
        progress: Any = None,
        deadline: float | None = None,
    ) -> None:
        self.project = project
        self.project_dir = Path(project_dir)
        self.allow_mass_delete = allow_mass_delete
        self.max_records = max_records  # None: Segment's limit
        self.progress = progress  # callable(address, delivered, failed, to_send) or None
        self.deadline = deadline  # seconds each run may take; None: no limit
        self._tracking_app = tracking_app
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._threads: list[threading.Thread] = []
        self.background = True  # run each sync on a thread of its own, as Segment runs it apart
        self.summaries: dict[str, RunSummary] = {}  # sync id → summary, for the caller's report
        self.finished: set[str] = set()  # sync ids whose run has reported its end

    def tracking_app(self) -> Any:
        """The emulator app whose Tracking API receives the messages (where `profiles show` reads)."""
        with self._lock:
            if self._tracking_app is None:
                self._tracking_app = create_app(project_data_dir(self.project_dir), rate_limits=False)
            return self._tracking_app

    def _state_addresses(self) -> dict[str, str]:

        state = open_state_store(self.project_dir, self.project).read()
        return {entry.id: address for address, entry in state.resources.items()}

    def cancel(self) -> None:
        """Stop running syncs at their next batch: what was acknowledged stays committed."""
        self._cancel.set()

    def ended(self, sync_id: str) -> bool:
        """Whether the run of `sync_id` has reported its end, or is not running here at all (then
        only the workspace's sync status can tell)."""
        if sync_id in self.finished:
            return True
        name = f"segprof-sync-{sync_id}"
        return not any(t.name == name and t.is_alive() for t in self._threads)

    def join(self, timeout: float | None = None) -> None:
        for thread in list(self._threads):
            thread.join(timeout)

    def start(self, request: SyncRequest, reporter: SyncReporter) -> None:
        if not self.background:
            self._execute(request, reporter)
            return
        thread = threading.Thread(
            target=self._execute, args=(request, reporter), name=f"segprof-sync-{request.sync_id}"
        )
        self._threads.append(thread)
        thread.start()

    def _execute(self, request: SyncRequest, reporter: SyncReporter) -> None:
        try:
            self._execute_and_report(request, reporter)
        finally:
            self.finished.add(request.sync_id)

    def _execute_and_report(self, request: SyncRequest, reporter: SyncReporter) -> None:
        started = now_iso()
        try:
            summary = self._run(request, reporter)
        except SegprofError as err:
            subscription_id = str(request.subscription.get("id"))
            address = None
            with contextlib.suppress(Exception):
                address = self._state_addresses().get(subscription_id)
            # what the run reports: the run id its history holds, when it could be recorded
            self.summaries[request.sync_id] = RunSummary(
                mapping_id=subscription_id,
                address=address,
                run_id=getattr(err, "run_id", None),
                status="refused" if isinstance(err, MassDeleteRefused) else "failed",
                errors=[err.message],
            )
            reporter.finish(
                SyncResult(
                    status="FAIL", error=err.message, error_code="SYNC_FAILED", extract_started_at=started
                )
            )
            return
        except Exception as err:  # never into the emulator: the sync fails with a reason
            reporter.finish(
                SyncResult(
                    status="FAIL",
                    error=f"{type(err).__name__}: {err}",
                    error_code="SYNC_FAILED",
                    extract_started_at=started,
                )
            )
            return
        self.summaries[request.sync_id] = summary
        reporter.finish(
            SyncResult(
                status=STATUS_OF.get(summary.status, "FAIL"),
                added=summary.new,
                updated=summary.updated,
                deleted=summary.deleted,
                delivered=summary.delivered,
                failed=summary.failed,
                error="; ".join(summary.errors)[:2000] or None if summary.status != "success" else None,
                error_code=None if summary.status == "success" else "PARTIAL" if summary.failed else None,
                extract_started_at=started,
            )
        )

    def _run(self, request: SyncRequest, reporter: SyncReporter) -> RunSummary:

        addresses = self._state_addresses()
        source_address = addresses.get(str(request.source.get("id")))
        if source_address is None or not source_address.startswith("source."):
            raise SegprofError(
                f"the workspace source {request.source.get('id')} is not one of this project's sources",
                hint="run `segprof apply` so the state knows it",
            )
        address = addresses.get(str(request.subscription.get("id")))
        job, write_key = job_from_workspace(request.subscription, request.model, address)
        if not write_key:
            raise SegprofError(
                "the mapping's Profile Space write key (engage_space) is empty",
                address=address,
                hint="set write_key on the destination and apply",
            )
        if not request.subscription.get("enabled", True):
            raise SegprofError("the mapping is disabled in the workspace", address=address)
        con = open_source(self.project, self.project_dir, source_address.removeprefix("source."))
        try:
            limit = {"max_records": self.max_records} if self.max_records is not None else {}
            try:
                engine = SyncEngine(con, job, tracker_options=limit)
            except SegprofError as err:
                err.run_id = record_failed_run(con, job, err.message)  # type: ignore[attr-defined]
                raise

            def should_stop() -> bool:
                if self._cancel.is_set():
                    return True
                current = reporter.current() or {}
                return current.get("syncStatus") == "CANCELED"

            def on_progress(delivered: int, failed: int, to_send: int) -> None:
                if self.progress is not None:
                    self.progress(address or job.mapping_id, delivered, failed, to_send)

            # No gzip: the bodies never leave this process, and compressing each one only for the
            # app to inflate it again cost about 7 % of a 200k-record full sync.
            config = DeliveryConfig(
                write_key=write_key, tracking_base=LOCAL_TRACKING_BASE, max_rps=None, gzip=False
            )
            return engine.run(
                config,
                transport=InProcessTransport(self.tracking_app()),
                allow_mass_delete=self.allow_mass_delete,
                on_progress=on_progress,
                should_stop=should_stop,
                deadline=self.deadline,
            )
        finally:
            con.close()

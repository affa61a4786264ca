"""Manual Reverse ETL syncs of the emulated workspace and the hook that executes them.

Owns: the sync record (Segment's ReverseETLSyncStatus shape, counts as strings), `SyncRunner` (the
protocol the app calls when a manual sync starts) and `InstantRunner`, the default, which finishes
every sync at once as SUCCESS with zero counts. The sync engine plugs in its own runner and reports
through `SyncReporter`. Must never run warehouse queries or deliveries itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from segprof.emulator.store import Store

IN_PROGRESS = "IN_PROGRESS"
FINAL_STATUSES = ("SUCCESS", "FAIL", "PARTIAL_SUCCESS", "CANCELED")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class SyncRequest:
    """Everything a runner needs about the sync it executes (workspace objects as the API reads them)."""

    sync_id: str
    source: dict[str, Any]
    model: dict[str, Any]
    destination: dict[str, Any]
    subscription: dict[str, Any]


@dataclass(frozen=True)
class SyncResult:
    """The outcome of an extract + load, as counts; turned into Segment's status shape."""

    status: str = "SUCCESS"
    added: int = 0
    updated: int = 0
    deleted: int = 0
    delivered: int = 0
    failed: int = 0
    error: str | None = None
    error_code: str | None = None
    extract_started_at: str | None = None
    extract_finished_at: str | None = None
    load_started_at: str | None = None
    load_finished_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class SyncReporter:
    """Lets a runner (possibly on another thread) report progress and the final result."""

    def __init__(self, store: Store, sync_id: str) -> None:
        self._store = store
        self.sync_id = sync_id

    def current(self) -> dict[str, Any] | None:
        return self._store.get_sync(self.sync_id)

    def finish(self, result: SyncResult) -> dict[str, Any] | None:
        sync = self._store.get_sync(self.sync_id)
        if sync is None or sync.get("syncStatus") in FINAL_STATUSES:
            return sync
        return self._store.update_sync(self.sync_id, finished_fields(sync, result))


class SyncRunner(Protocol):
    """Called once per manual sync, right after it is recorded as IN_PROGRESS.

    It runs on a worker thread, so it may call this same emulator (e.g. deliver to its Tracking
    API through the in-process transport) before returning. It may finish synchronously (call
    `reporter.finish` before returning) or start background work and finish later; the API answers
    with whatever the record holds when `start` returns. Source settings in the request are masked:
    a runner takes warehouse credentials from the project, matching on `source["id"]`.
    """

    def start(self, request: SyncRequest, reporter: SyncReporter) -> None: ...


class InstantRunner:
    """Default runner: every manual sync succeeds at once with zero records."""

    def start(self, request: SyncRequest, reporter: SyncReporter) -> None:
        reporter.finish(SyncResult())


def new_sync(source_id: str, model_id: str, subscription_id: str) -> dict[str, Any]:
    started = now_iso()
    return {
        "syncId": "",
        "modelId": model_id,
        "sourceId": source_id,
        "subscriptionId": subscription_id,
        "syncStatus": IN_PROGRESS,
        "duration": "0s",
        "startedAt": started,
        "finishedAt": None,
        "extractPhase": {
            "addedCount": "0",
            "updatedCount": "0",
            "deletedCount": "0",
            "extractCount": "0",
            "errorCode": "",
            "startedAt": started,
            "finishedAt": None,
        },
        "loadPhase": {
            "deliverSuccessCount": "0",
            "deliverFailureCount": "0",
            "errorCode": "",
            "startedAt": None,
            "finishedAt": None,
        },
        "error": None,
        "errorCode": None,
    }


def _duration(started: str, finished: str) -> str:
    try:
        start = datetime.fromisoformat(started.replace("Z", "+00:00"))
        end = datetime.fromisoformat(finished.replace("Z", "+00:00"))
    except ValueError:
        return "0s"
    return f"{max((end - start).total_seconds(), 0):.3f}s"


def finished_fields(sync: dict[str, Any], result: SyncResult) -> dict[str, Any]:
    finished = now_iso()
    extract_started = result.extract_started_at or sync["startedAt"]
    extract_finished = result.extract_finished_at or finished
    load_started = result.load_started_at or extract_finished
    return {
        "syncStatus": result.status,
        "finishedAt": finished,
        "duration": _duration(sync["startedAt"], finished),
        "extractPhase": {
            "addedCount": str(result.added),
            "updatedCount": str(result.updated),
            "deletedCount": str(result.deleted),
            "extractCount": str(result.added + result.updated + result.deleted),
            "errorCode": "",
            "startedAt": extract_started,
            "finishedAt": extract_finished,
        },
        "loadPhase": {
            "deliverSuccessCount": str(result.delivered),
            "deliverFailureCount": str(result.failed),
            "errorCode": result.error_code or "",
            "startedAt": load_started,
            "finishedAt": result.load_finished_at or finished,
        },
        "error": result.error,
        "errorCode": result.error_code,
        **result.extra,
    }

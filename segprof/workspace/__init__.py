"""Segment Public API client and live-state reading.

Owns: talking to a workspace (the real API or the embedded emulator, chosen by transport) and
reading its live state for plan. Must never print or store the API token or other secrets.

Entry points: `WorkspaceClient` (blocking), `AsyncWorkspaceClient`, `read_workspace`; the transport
is chosen above, by `segprof.operations.workspaces`.
"""

from __future__ import annotations

from segprof.workspace.api_error import ApiErrorDetail, WorkspaceError
from segprof.workspace.client import AsyncWorkspaceClient
from segprof.workspace.facade import WorkspaceClient
from segprof.workspace.live import LiveWorkspace, read_workspace
from segprof.workspace.resources import (
    SEGMENT_PROFILES_METADATA_ID,
    CatalogAction,
    Destination,
    DestinationMetadata,
    ManualSync,
    ReverseEtlModel,
    Schedule,
    Source,
    SourceMetadata,
    Subscription,
    SyncStatus,
    is_censored,
)
from segprof.workspace.retry import Clock, RetryPolicy
from segprof.workspace.throttle import RateLimit, RateLimits, WaitEvent

__all__ = [
    "SEGMENT_PROFILES_METADATA_ID",
    "ApiErrorDetail",
    "AsyncWorkspaceClient",
    "CatalogAction",
    "Clock",
    "Destination",
    "DestinationMetadata",
    "LiveWorkspace",
    "ManualSync",
    "RateLimit",
    "RateLimits",
    "RetryPolicy",
    "ReverseEtlModel",
    "Schedule",
    "Source",
    "SourceMetadata",
    "Subscription",
    "SyncStatus",
    "WaitEvent",
    "WorkspaceClient",
    "WorkspaceError",
    "is_censored",
    "read_workspace",
]

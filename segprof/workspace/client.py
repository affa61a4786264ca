"""The asynchronous Segment Public API client: every call segprof makes to a workspace.

Owns: `AsyncWorkspaceClient`, the typed endpoints for subscriptions (mappings) and manual syncs
with the request bodies and response keys the reference gives for each; it extends
`ResourceEndpoints` (catalog, sources, Reverse ETL models, destinations, in
`resource_endpoints.py`). The request core (retries, throttling, pagination, errors, redaction)
is `ApiSession` in `session.py`. Must never send anything but what the reference documents for an
endpoint, and never pass a secret anywhere but the request body it belongs in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from segprof.workspace.api_error import WorkspaceError
from segprof.workspace.envelope import next_cursor, parse_items, require_any_object, require_object
from segprof.workspace.resource_endpoints import ResourceEndpoints, present, seg
from segprof.workspace.resources import (
    CancelResult,
    ManualSync,
    Schedule,
    Subscription,
    SyncStatus,
)
from segprof.workspace.session import DEFAULT_PAGE_SIZE

__all__ = ["DEFAULT_PAGE_SIZE", "SYNC_HISTORY_PAGE_SIZE", "AsyncWorkspaceClient"]

#: The sync-history listing takes plain `count`, at most 100.
SYNC_HISTORY_PAGE_SIZE = 100


class AsyncWorkspaceClient(ResourceEndpoints):
    """Speaks the Segment Public API over whichever httpx transport it is given."""

    # --- subscriptions (mappings) --------------------------------------------------------------

    async def list_subscriptions(
        self, destination_id: str, *, address: str | None = None
    ) -> list[Subscription]:
        subs = await self._list_all(
            f"/destinations/{seg(destination_id)}/subscriptions",
            "subscriptions",
            Subscription,
            address=address,
        )
        for sub in subs:
            if sub.destination_id is None:
                sub.destination_id = destination_id
        return subs

    async def get_subscription(
        self, destination_id: str, subscription_id: str, *, address: str | None = None
    ) -> Subscription | None:
        path = f"/destinations/{seg(destination_id)}/subscriptions/{seg(subscription_id)}"
        found = await self._get_optional(path, "subscription", Subscription, address)
        if found is not None and found.destination_id is None:
            found.destination_id = destination_id
        return found

    async def create_subscription(
        self,
        destination_id: str,
        *,
        name: str,
        action_id: str,
        trigger: str,
        enabled: bool,
        settings: dict[str, Any] | None = None,
        model_id: str | None = None,
        schedule: Schedule | None = None,
        address: str | None = None,
    ) -> Subscription:
        """Create a mapping: POST (no schedule accepted), then PATCH `{"input": …}` with model and schedule.

        Two subscription writes (of 5 per minute). If the PATCH fails, the error carries the
        created subscription as `.resource` so the caller can record its id.
        """
        path = f"/destinations/{seg(destination_id)}/subscriptions"
        self.redactor.add_from_settings(settings)
        body: dict[str, Any] = {"name": name, "actionId": action_id, "trigger": trigger, "enabled": enabled}
        if model_id is not None:
            body["modelId"] = model_id
        body["settings"] = settings if settings is not None else {}

        async def reconcile() -> Subscription | None:
            for sub in await self.list_subscriptions(destination_id, address=address):
                if sub.model_id == model_id and sub.action_id == action_id and sub.name == name:
                    return sub
            return None

        created = await self._call(
            "POST",
            path,
            body=body,
            address=address,
            reconcile=reconcile,
            parse=lambda d: _subscription(
                require_object(d, "destinationSubscription", f"POST {path}"), destination_id
            ),
        )
        if model_id is None and schedule is None:
            return created
        try:
            return await self.update_subscription(
                destination_id,
                created.id,
                name=name,
                trigger=trigger,
                enabled=enabled,
                settings=settings,
                model_id=model_id,
                schedule=schedule,
                address=address,
            )
        except WorkspaceError as err:
            err.message = (
                f"created subscription {created.id}, but setting its model and schedule failed: {err.message}"
            )
            err.args = (err.message,)
            err.resource = created
            raise

    async def update_subscription(
        self,
        destination_id: str,
        subscription_id: str,
        *,
        name: str | None = None,
        trigger: str | None = None,
        enabled: bool | None = None,
        settings: dict[str, Any] | None = None,
        model_id: str | None = None,
        schedule: Schedule | None = None,
        address: str | None = None,
    ) -> Subscription:
        """PATCH with the body wrapped in `input`; the model goes as `reverseETLModelId`."""
        self.redactor.add_from_settings(settings)
        inner = present(
            name=name,
            trigger=trigger,
            enabled=enabled,
            settings=settings,
            reverseETLModelId=model_id,
            reverseETLSchedule=schedule.to_api() if schedule is not None else None,
        )
        path = f"/destinations/{seg(destination_id)}/subscriptions/{seg(subscription_id)}"
        return await self._call(
            "PATCH",
            path,
            body={"input": inner},
            address=address,
            parse=lambda d: _subscription(require_object(d, "subscription", f"PATCH {path}"), destination_id),
        )

    async def delete_subscription(
        self,
        destination_id: str,
        subscription_id: str,
        *,
        address: str | None = None,
        missing_ok: bool = False,
    ) -> str:
        path = f"/destinations/{seg(destination_id)}/subscriptions/{seg(subscription_id)}"
        return await self._delete(path, address, missing_ok)

    # --- syncs -------------------------------------------------------------------------------

    async def start_sync(
        self, *, source_id: str, model_id: str, subscription_id: str, address: str | None = None
    ) -> ManualSync:
        """POST /reverse-etl-syncs; after an ambiguous failure, adopts a sync already running."""
        body = {"sourceId": source_id, "modelId": model_id, "subscriptionId": subscription_id}
        asked_at = self.clock.wall()

        async def reconcile() -> ManualSync | None:
            for status in await self.list_syncs(
                model_id, subscription_id, limit=SYNC_HISTORY_PAGE_SIZE, address=address
            ):
                started = _epoch(status.started_at)
                if status.sync_status == "IN_PROGRESS" or (started is not None and started >= asked_at - 5):
                    return ManualSync(sync_id=status.sync_id, started_at=status.started_at)
            return None

        return await self._call(
            "POST",
            "/reverse-etl-syncs",
            body=body,
            address=address,
            reconcile=reconcile,
            parse=lambda d: ManualSync.model_validate(
                require_any_object(d, ("reverseETLManualSync", "reverseETLSync"), "POST /reverse-etl-syncs")
            ),
        )

    async def get_sync(self, model_id: str, sync_id: str, *, address: str | None = None) -> SyncStatus:
        path = f"/reverse-etl-models/{seg(model_id)}/syncs/{seg(sync_id)}"
        return await self._call(
            "GET",
            path,
            address=address,
            parse=lambda d: SyncStatus.model_validate(
                require_any_object(d, ("reverseETLSyncStatus", "reverseETLSync"), f"GET {path}")
            ),
        )

    async def list_syncs(
        self, model_id: str, subscription_id: str, *, limit: int | None = None, address: str | None = None
    ) -> list[SyncStatus]:
        """Sync history of one mapping, newest first as the API orders it (plain `count`/`cursor` paging)."""
        path = f"/reverse-etl-models/{seg(model_id)}/subscriptionId/{seg(subscription_id)}/syncs"
        result: list[SyncStatus] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            count = (
                SYNC_HISTORY_PAGE_SIZE
                if limit is None
                else max(1, min(SYNC_HISTORY_PAGE_SIZE, limit - len(result)))
            )
            params: dict[str, Any] = {"count": count}
            if cursor is not None:
                params["cursor"] = cursor
            page, cursor = await self._call(
                "GET",
                path,
                params=params,
                address=address,
                parse=lambda data: (parse_items(data, ("syncStatuses",), SyncStatus), next_cursor(data)),
            )
            result.extend(page)
            if cursor is None or cursor in seen or (limit is not None and len(result) >= limit):
                return result if limit is None else result[:limit]
            seen.add(cursor)

    async def cancel_sync(
        self, model_id: str, sync_id: str, *, reason: int | None = None, address: str | None = None
    ) -> CancelResult:
        path = f"/reverse-etl-models/{seg(model_id)}/syncs/{seg(sync_id)}/cancel"
        body = {} if reason is None else {"reasonForCanceling": reason}
        # Cancelling twice is harmless, so this POST may be re-sent blindly.
        return await self._call(
            "POST", path, body=body, address=address, idempotent=True, parse=CancelResult.model_validate
        )

    async def wait_for_sync(
        self,
        model_id: str,
        sync_id: str,
        *,
        poll_interval: float = 5.0,
        timeout: float | None = None,
        on_status: Callable[[SyncStatus], None] | None = None,
        address: str | None = None,
    ) -> SyncStatus:
        """Poll a sync until it finishes (or `timeout` seconds pass: then the last status is returned)."""
        started = self.clock.monotonic()
        while True:
            status = await self.get_sync(model_id, sync_id, address=address)
            if on_status is not None:
                on_status(status)
            if status.finished:
                return status
            if timeout is not None and self.clock.monotonic() - started + poll_interval > timeout:
                return status
            await self.clock.sleep(poll_interval)


def _subscription(raw: dict[str, Any], destination_id: str) -> Subscription:
    sub = Subscription.model_validate(raw)
    if sub.destination_id is None:
        sub.destination_id = destination_id
    return sub


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None

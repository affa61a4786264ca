"""The emulated Public API's handlers for destination subscriptions (mappings) and manual syncs.

Owns creating, reading, updating and deleting subscriptions (with their Reverse ETL model,
trigger and schedule) and starting, reading, listing and canceling syncs through the sync
runner. Must never let a failing runner escape as anything but a failed sync.
"""

from __future__ import annotations

import copy
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from segprof.emulator import catalog, ids
from segprof.emulator import validation as v
from segprof.emulator.handler_base import (
    DESTINATION,
    MODEL,
    SOURCE,
    STATUS_SUCCESS,
    SUBSCRIPTION,
    StoreHandlers,
    ok,
    read_json,
)
from segprof.emulator.pagination import page_output, parse_plain_page
from segprof.emulator.problem import invalid, not_found
from segprof.emulator.syncs import (
    FINAL_STATUSES,
    SyncReporter,
    SyncRequest,
    SyncResult,
    new_sync,
)


class SubscriptionHandlers(StoreHandlers):
    """Handlers for destination subscriptions and Reverse ETL syncs."""

    # -- subscriptions -----------------------------------------------------------------------
    def _subscription(self, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
        destination = self._require(DESTINATION, request.path_params["destination_id"], "Destination")
        ident = request.path_params["subscription_id"]
        subscription = self.store.get(SUBSCRIPTION, ident)
        if subscription is None or subscription["destinationId"] != destination["id"]:
            raise not_found("Subscription", ident)
        return destination, subscription

    def _check_model(self, destination: dict[str, Any], model_id: str, field: str) -> None:
        model = self.store.get(MODEL, model_id)
        if model is None:
            raise not_found("Model", model_id)
        if model["sourceId"] != destination["sourceId"]:
            raise invalid(
                field, f'"{field.rsplit(".", 1)[-1]}" names a model of another source than the destination\'s'
            )

    async def list_subscriptions(self, request: Request) -> Response:
        destination = self._require(DESTINATION, request.path_params["destination_id"], "Destination")
        return await self._listing(request, SUBSCRIPTION, "subscriptions", parent=destination["id"])

    async def create_subscription(self, request: Request) -> Response:
        destination = self._require(DESTINATION, request.path_params["destination_id"], "Destination")
        body = await read_json(request)
        name = v.get(body, "name", str, required=True)
        action_id = v.get(body, "actionId", str, required=True)
        trigger = v.get(body, "trigger", str, required=True)
        enabled = v.get(body, "enabled", bool, required=True)
        settings = v.get(body, "settings", dict, required=False) or {}
        model_id = v.get(body, "modelId", str, required=False, nullable=True) or None
        v.non_empty(name, "name")
        v.non_empty(trigger, "trigger")
        metadata = catalog.destination(destination["metadataId"]) or {}
        action = catalog.action(metadata, action_id)
        if action is None:
            raise invalid("actionId", '"actionId" does not name an action of this destination')
        if model_id:
            self._check_model(destination, model_id, "modelId")
            v.check_retl_trigger(trigger, "trigger")
        subscription = {
            "id": ids.base58_id(),
            "name": name,
            "actionId": action_id,
            "actionSlug": action["slug"],
            "destinationId": destination["id"],
            "enabled": enabled,
            "trigger": trigger,
            "settings": settings,
            "modelId": model_id or "",
            # The schedule is set only through update; a new Reverse ETL mapping starts manual.
            "reverseETLSchedule": {"strategy": "MANUAL", "config": None} if model_id else None,
        }
        with self.store.write() as conn:
            self.store.put(conn, SUBSCRIPTION, subscription, parent=destination["id"])
        return ok({"destinationSubscription": subscription})

    async def get_subscription(self, request: Request) -> Response:
        _, subscription = self._subscription(request)
        return ok({"subscription": subscription})

    async def update_subscription(self, request: Request) -> Response:
        destination, subscription = self._subscription(request)
        body = await read_json(request)
        update = v.get(body, "input", dict, required=True)
        for key in ("actionId", "destinationId", "modelId", "id", "actionSlug"):
            v.not_allowed(update, key, "input")
        name = v.get(update, "name", str, required=False, prefix="input")
        trigger = v.get(update, "trigger", str, required=False, prefix="input")
        enabled = v.get(update, "enabled", bool, required=False, prefix="input")
        settings = v.get(update, "settings", dict, required=False, prefix="input")
        model_id = v.get(update, "reverseETLModelId", str, required=False, prefix="input")
        if name is not None:
            v.non_empty(name, "input.name")
            subscription["name"] = name
        if enabled is not None:
            subscription["enabled"] = enabled
        if settings is not None:
            # the whole mapping is replaced; a key sent as null is left out (removed)
            subscription["settings"] = {k: val for k, val in settings.items() if val is not None}
        if model_id:
            self._check_model(destination, model_id, "input.reverseETLModelId")
            subscription["modelId"] = model_id
        if trigger is not None:
            v.non_empty(trigger, "input.trigger")
            subscription["trigger"] = trigger
        if subscription["modelId"] and (trigger is not None or model_id):
            v.check_retl_trigger(subscription["trigger"], "input.trigger")
        if "reverseETLSchedule" in update:
            schedule = v.check_schedule(update["reverseETLSchedule"], "input.reverseETLSchedule")
            if schedule is not None and not subscription["modelId"]:
                raise invalid("input.reverseETLSchedule", '"reverseETLSchedule" needs a Reverse ETL model')
            subscription["reverseETLSchedule"] = schedule
        with self.store.write() as conn:
            self.store.put(conn, SUBSCRIPTION, subscription, parent=destination["id"])
        return ok({"subscription": subscription})

    async def delete_subscription(self, request: Request) -> Response:
        _, subscription = self._subscription(request)
        with self.store.write() as conn:
            self.store.delete(conn, SUBSCRIPTION, subscription["id"])
        return ok(STATUS_SUCCESS)

    # -- syncs -------------------------------------------------------------------------------
    async def create_sync(self, request: Request) -> Response:
        body = await read_json(request)
        source_id = v.get(body, "sourceId", str, required=True)
        model_id = v.get(body, "modelId", str, required=True)
        subscription_id = v.get(body, "subscriptionId", str, required=True)
        source = self._require(SOURCE, source_id, "Source")
        model = self._require(MODEL, model_id, "Model")
        subscription = self._require(SUBSCRIPTION, subscription_id, "Subscription")
        if model["sourceId"] != source_id:
            raise invalid("modelId", '"modelId" names a model of another source')
        if subscription.get("modelId") != model_id:
            raise invalid("subscriptionId", '"subscriptionId" names a mapping of another model')
        destination = self._require(DESTINATION, subscription["destinationId"], "Destination")
        with self.store.write() as conn:
            sync_id = self.store.insert_sync(
                conn, model_id, subscription_id, new_sync(source_id, model_id, subscription_id)
            )
        # Copies: the presented objects share the catalog's entries, which a runner must not touch.
        request_ = SyncRequest(
            sync_id=sync_id,
            source=copy.deepcopy(self._present(SOURCE, source)),
            model=model,
            destination=copy.deepcopy(self._present(DESTINATION, destination)),
            subscription=subscription,
        )
        reporter = SyncReporter(self.store, sync_id)
        try:
            # On a worker thread: a runner may deliver to this same app (Tracking API) before returning.
            await run_in_threadpool(self.runner.start, request_, reporter)
        except Exception as exc:  # a broken runner must fail the sync, not the API
            reporter.finish(SyncResult(status="FAIL", error=f"sync runner failed: {type(exc).__name__}"))
        sync = self.store.get_sync(sync_id) or {}
        return ok({"reverseETLSync": sync, "reverseETLManualSync": sync})

    async def get_sync(self, request: Request) -> Response:
        model_id = request.path_params["model_id"]
        self._require(MODEL, model_id, "Model")
        sync_id = request.path_params["sync_id"]
        sync = self.store.get_sync(sync_id)
        if sync is None or sync.get("modelId") != model_id:
            raise not_found("Sync", sync_id)
        return ok({"reverseETLSync": sync, "reverseETLSyncStatus": sync})

    async def list_syncs(self, request: Request) -> Response:
        model_id = request.path_params["model_id"]
        subscription_id = request.path_params["subscription_id"]
        self._require(MODEL, model_id, "Model")
        self._require(SUBSCRIPTION, subscription_id, "Subscription")
        page = parse_plain_page(self._params(request))
        items, total = self.store.list_syncs(model_id, subscription_id, page.offset, page.count)
        return ok({"syncStatuses": items, "pagination": page_output(page, total)})

    async def cancel_sync(self, request: Request) -> Response:
        model_id = request.path_params["model_id"]
        sync_id = request.path_params["sync_id"]
        self._require(MODEL, model_id, "Model")
        body = await read_json(request, required=False)
        reason = body.get("reasonForCanceling")
        if reason is not None and (isinstance(reason, bool) or reason not in (0, 1, 2, 3, 4)):
            raise invalid("reasonForCanceling", '"reasonForCanceling" must be one of [0, 1, 2, 3, 4]')
        sync = self.store.get_sync(sync_id)
        if sync is None or sync.get("modelId") != model_id:
            raise not_found("Sync", sync_id)
        result: dict[str, Any] = {"modelId": model_id, "syncId": sync_id}
        if sync["syncStatus"] == "CANCELED":
            result |= {"errorCode": "SyncAlreadyCanceled", "errorMessage": "The sync was already canceled"}
        elif sync["syncStatus"] in FINAL_STATUSES:
            result |= {
                "errorCode": "SyncFinishedCannotCancel",
                "errorMessage": "The sync has already finished",
            }
        else:
            self.store.update_sync(sync_id, {"syncStatus": "CANCELED", "error": "canceled by request"})
            result["status"] = "CANCELLING"
        return ok(result)

"""The emulated Segment Public API: catalog, sources, Reverse ETL models, destinations,
destination subscriptions and manual syncs.

Owns: the routes, request validation and response shapes (`{"data": …}` / `{"errors": […]}`), the
bearer-token check and the per-endpoint rate limits. Must never return a secret in clear (settings
are stored masked) and never let an exception escape as anything but Segment's error envelope.
"""

from __future__ import annotations

import copy
import hmac
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from segprof.emulator import catalog, ids
from segprof.emulator import validation as v
from segprof.emulator.jsonbody import decode as decode_json
from segprof.emulator.jsonbody import encode, json_response
from segprof.emulator.pagination import Page, page_output, parse_page, parse_plain_page, query_params
from segprof.emulator.problem import ApiError, bad_request, invalid, not_found, unauthorized
from segprof.emulator.ratelimit import RateLimiter
from segprof.emulator.store import Store
from segprof.emulator.syncs import (
    FINAL_STATUSES,
    SyncReporter,
    SyncRequest,
    SyncResult,
    SyncRunner,
    new_sync,
)

Handler = Callable[[Request], Awaitable[Response]]
SOURCE, MODEL, DESTINATION, SUBSCRIPTION = "source", "model", "destination", "subscription"
STATUS_SUCCESS = {"status": "SUCCESS"}


def ok(data: dict[str, Any], status: int = 200) -> Response:
    return json_response({"data": data}, status)


@cache
def _catalog_body(key: str, ident: str) -> bytes:
    """The encoded answer for an existing catalog entry: the catalog never changes, so once is enough."""
    lookup = {"destinationMetadata": catalog.destination, "warehouseMetadata": catalog.warehouse}
    found = lookup.get(key, catalog.source)(ident)
    return encode({"data": {key: found}})


async def read_json(request: Request, *, required: bool = True) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise bad_request("The request body must be a JSON object")
        return {}
    try:
        body = decode_json(raw)
    except ValueError:  # also UnicodeDecodeError, and NaN/Infinity, which are not JSON
        raise bad_request("The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object")
    return body


class PublicApi:
    """Handlers bound to one store; `routes()` gives the Starlette routes."""

    def __init__(self, store: Store, *, token: str | None, limiter: RateLimiter, runner: SyncRunner) -> None:
        self.store = store
        self.token = token
        self.limiter = limiter
        self.runner = runner

    # -- plumbing ----------------------------------------------------------------------------
    def _authorize(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        given = given.strip()
        if self.token is None:
            return given or None
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), self.token.encode()):
            raise unauthorized()
        return given

    def _wrap(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                token = self._authorize(request)
                limit_headers = self.limiter.check(request.method, request.url.path, token)
                response = await handler(request)
                if limit_headers:
                    response.headers.update(limit_headers)
                return response
            except ApiError as err:
                return err.response()

        return endpoint

    def routes(self) -> list[Route]:
        table: list[tuple[str, Handler, list[str]]] = [
            ("/", self.get_workspace, ["GET"]),
            ("/catalog/sources", self.list_source_metadata, ["GET"]),
            ("/catalog/sources/{metadata_id}", self.get_source_metadata, ["GET"]),
            ("/catalog/destinations", self.list_destination_metadata, ["GET"]),
            ("/catalog/destinations/{metadata_id}", self.get_destination_metadata, ["GET"]),
            ("/catalog/warehouses", self.list_warehouse_metadata, ["GET"]),
            ("/catalog/warehouses/{metadata_id}", self.get_warehouse_metadata, ["GET"]),
            ("/sources", self.list_sources, ["GET"]),
            ("/sources", self.create_source, ["POST"]),
            ("/sources/{source_id}", self.get_source, ["GET"]),
            ("/sources/{source_id}", self.update_source, ["PATCH"]),
            ("/sources/{source_id}", self.delete_source, ["DELETE"]),
            ("/sources/{source_id}/connected-destinations", self.connected_destinations, ["GET"]),
            ("/reverse-etl-models", self.list_models, ["GET"]),
            ("/reverse-etl-models", self.create_model, ["POST"]),
            ("/reverse-etl-models/{model_id}", self.get_model, ["GET"]),
            ("/reverse-etl-models/{model_id}", self.update_model, ["PATCH"]),
            ("/reverse-etl-models/{model_id}", self.delete_model, ["DELETE"]),
            ("/reverse-etl-models/{model_id}/syncs/{sync_id}", self.get_sync, ["GET"]),
            ("/reverse-etl-models/{model_id}/syncs/{sync_id}/cancel", self.cancel_sync, ["POST"]),
            (
                "/reverse-etl-models/{model_id}/subscriptionId/{subscription_id}/syncs",
                self.list_syncs,
                ["GET"],
            ),
            ("/reverse-etl-syncs", self.create_sync, ["POST"]),
            ("/destinations", self.list_destinations, ["GET"]),
            ("/destinations", self.create_destination, ["POST"]),
            ("/destinations/{destination_id}", self.get_destination, ["GET"]),
            ("/destinations/{destination_id}", self.update_destination, ["PATCH"]),
            ("/destinations/{destination_id}", self.delete_destination, ["DELETE"]),
            ("/destinations/{destination_id}/subscriptions", self.list_subscriptions, ["GET"]),
            ("/destinations/{destination_id}/subscriptions", self.create_subscription, ["POST"]),
            (
                "/destinations/{destination_id}/subscriptions/{subscription_id}",
                self.get_subscription,
                ["GET"],
            ),
            (
                "/destinations/{destination_id}/subscriptions/{subscription_id}",
                self.update_subscription,
                ["PATCH"],
            ),
            (
                "/destinations/{destination_id}/subscriptions/{subscription_id}",
                self.delete_subscription,
                ["DELETE"],
            ),
        ]
        # One Route per (path, method) would make Starlette answer 405 for the other methods
        # before our envelope applies; group methods per path instead.
        grouped: dict[str, dict[str, Handler]] = {}
        for path, handler, methods in table:
            for method in methods:
                grouped.setdefault(path, {})[method] = handler
        routes = []
        for path, by_method in grouped.items():
            routes.append(
                Route(
                    path,
                    self._wrap(self._dispatch(by_method)),
                    methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
                )
            )
        return routes

    @staticmethod
    def _dispatch(by_method: dict[str, Handler]) -> Handler:
        async def handler(request: Request) -> Response:
            chosen = by_method.get(request.method)
            if chosen is None:
                raise ApiError(405, "method-not-allowed", f"{request.method} is not allowed on this path")
            return await chosen(request)

        return handler

    def _params(self, request: Request) -> dict[str, str]:
        return query_params(request.scope.get("query_string", b""))

    def _require(self, kind: str, ident: str, what: str) -> dict[str, Any]:
        found = self.store.get(kind, ident)
        if found is None:
            raise not_found(what, ident)
        return found

    async def _page(self, request: Request) -> Page:
        """The `pagination` input, from the query string or (as the docs allow) a JSON body."""
        body = await read_json(request, required=False)
        return parse_page(self._params(request), body)

    async def _listing(self, request: Request, kind: str, key: str, parent: str | None = None) -> Response:
        page = await self._page(request)
        items, total = self.store.list(kind, parent=parent, offset=page.offset, limit=page.count)
        return ok({key: [self._present(kind, i) for i in items], "pagination": page_output(page, total)})

    def _present(self, kind: str, item: dict[str, Any]) -> dict[str, Any]:
        if kind == DESTINATION:
            metadata = catalog.destination(item["metadataId"]) or {"id": item["metadataId"]}
            shown = {k: val for k, val in item.items() if k != "metadataId"}
            shown["metadata"] = metadata
            return shown
        if kind == SOURCE:
            metadata = catalog.source(item["metadataId"]) or {"id": item["metadataId"]}
            shown = {k: val for k, val in item.items() if k != "metadataId"}
            shown["metadata"] = metadata
            return shown
        return item

    # -- workspace and catalog ---------------------------------------------------------------
    async def get_workspace(self, request: Request) -> Response:
        ws = self.store.workspace_id
        return ok({"workspace": {"id": ws, "name": "segprof emulator", "slug": "segprof-emulator"}})

    async def _catalog_list(self, request: Request, items: list[Any], key: str) -> Response:
        page = await self._page(request)
        window = items[page.offset : page.offset + page.count]
        return ok({key: window, "pagination": page_output(page, len(items))})

    @staticmethod
    def _catalog_item(request: Request, found: Any, label: str, key: str) -> Response:
        ident = request.path_params["metadata_id"]
        if found(ident) is None:
            raise not_found(label, ident)
        return json_response(_catalog_body(key, ident))

    async def list_source_metadata(self, request: Request) -> Response:
        return await self._catalog_list(request, catalog.sources(), "sourcesCatalog")

    async def get_source_metadata(self, request: Request) -> Response:
        return self._catalog_item(request, catalog.source, "Source metadata", "sourceMetadata")

    async def list_destination_metadata(self, request: Request) -> Response:
        return await self._catalog_list(request, catalog.destinations(), "destinationsCatalog")

    async def get_destination_metadata(self, request: Request) -> Response:
        return self._catalog_item(request, catalog.destination, "Destination metadata", "destinationMetadata")

    async def list_warehouse_metadata(self, request: Request) -> Response:
        return await self._catalog_list(request, catalog.warehouses(), "warehousesCatalog")

    async def get_warehouse_metadata(self, request: Request) -> Response:
        return self._catalog_item(request, catalog.warehouse, "Warehouse metadata", "warehouseMetadata")

    # -- sources -----------------------------------------------------------------------------
    async def list_sources(self, request: Request) -> Response:
        return await self._listing(request, SOURCE, "sources")

    async def create_source(self, request: Request) -> Response:
        body = await read_json(request)
        slug = v.get(body, "slug", str, required=True)
        v.non_empty(slug, "slug")
        v.check_slug(slug, "slug")
        enabled = v.get(body, "enabled", bool, required=True)
        metadata_id = v.get(body, "metadataId", str, required=True)
        settings = v.get(body, "settings", dict, required=False) or {}
        name = v.get(body, "name", str, required=False)
        v.get(body, "disconnectAllWarehouses", bool, required=False)
        metadata = catalog.source(metadata_id)
        if metadata is None:
            raise invalid("metadataId", '"metadataId" does not name a source in the catalog')
        if self.store.find(SOURCE, "slug", slug) is not None:
            raise ApiError(409, "conflict", f'A source with slug "{slug}" already exists', field="slug")
        source = {
            "id": ids.base58_id(),
            "slug": slug,
            "name": name,
            "workspaceId": self.store.workspace_id,
            "enabled": enabled,
            "writeKeys": [ids.write_key()],
            "metadataId": metadata_id,
            "settings": v.mask_settings(
                {k: val for k, val in settings.items() if val is not None},
                catalog.secret_option_names(metadata),
            ),
            "labels": [],
        }
        with self.store.write() as conn:
            self.store.put(conn, SOURCE, source)
        return ok({"source": self._present(SOURCE, source)}, 201)

    async def get_source(self, request: Request) -> Response:
        source = self._require(SOURCE, request.path_params["source_id"], "Source")
        return ok({"source": self._present(SOURCE, source), "trackingPlanId": None})

    async def update_source(self, request: Request) -> Response:
        source = self._require(SOURCE, request.path_params["source_id"], "Source")
        body = await read_json(request)
        v.immutable(body, "metadataId", source["metadataId"])
        name = v.get(body, "name", str, required=False)
        enabled = v.get(body, "enabled", bool, required=False)
        slug = v.get(body, "slug", str, required=False)
        settings = v.get(body, "settings", dict, required=False)
        if slug is not None and slug != source["slug"]:
            v.check_slug(slug, "slug")
            if self.store.find(SOURCE, "slug", slug) is not None:
                raise ApiError(409, "conflict", f'A source with slug "{slug}" already exists', field="slug")
            source["slug"] = slug
        if "name" in body:
            source["name"] = name
        if enabled is not None:
            source["enabled"] = enabled
        if settings is not None:
            metadata = catalog.source(source["metadataId"]) or {}
            secrets = catalog.secret_option_names(metadata)
            source["settings"] = v.mask_settings(
                v.merge_settings(source.get("settings") or {}, settings), secrets
            )
        with self.store.write() as conn:
            self.store.put(conn, SOURCE, source)
        return ok({"source": self._present(SOURCE, source)})

    async def delete_source(self, request: Request) -> Response:
        ident = request.path_params["source_id"]
        with self.store.write() as conn:
            if not self.store.delete(conn, SOURCE, ident):
                raise not_found("Source", ident)
        return ok(STATUS_SUCCESS)

    async def connected_destinations(self, request: Request) -> Response:
        source = self._require(SOURCE, request.path_params["source_id"], "Source")
        page = await self._page(request)
        everything, _ = self.store.list(DESTINATION)
        connected = [d for d in everything if d["sourceId"] == source["id"]]
        window = connected[page.offset : page.offset + page.count]
        return ok(
            {
                "destinations": [self._present(DESTINATION, d) for d in window],
                "pagination": page_output(page, len(connected)),
            }
        )

    # -- models ------------------------------------------------------------------------------
    async def list_models(self, request: Request) -> Response:
        page = await self._page(request)
        items, total = self.store.list(MODEL, offset=page.offset, limit=page.count)
        # `models` per the current API; `reverseEtlModels` for older SDKs that read that key.
        return ok({"models": items, "reverseEtlModels": items, "pagination": page_output(page, total)})

    async def create_model(self, request: Request) -> Response:
        body = await read_json(request)
        source_id = v.get(body, "sourceId", str, required=True)
        name = v.get(body, "name", str, required=True)
        description = v.get(body, "description", str, required=True)
        enabled = v.get(body, "enabled", bool, required=True)
        query = v.get(body, "query", str, required=True)
        column = v.get(body, "queryIdentifierColumn", str, required=True)
        v.non_empty(name, "name")
        v.check_query(query, "query")
        v.check_identifier(column, "queryIdentifierColumn")
        # Removed from the API in 55.2.0 but still sent by older SDKs: accepted and ignored.
        v.get(body, "scheduleStrategy", str, required=False)
        v.get(body, "scheduleConfig", dict, required=False)
        if self.store.get(SOURCE, source_id) is None:
            raise not_found("Source", source_id)
        model = {
            "id": ids.base58_id(),
            "sourceId": source_id,
            "name": name,
            "description": description,
            "enabled": enabled,
            "query": query,
            "queryIdentifierColumn": column,
        }
        with self.store.write() as conn:
            self.store.put(conn, MODEL, model)
        return ok({"reverseEtlModel": model}, 201)

    async def get_model(self, request: Request) -> Response:
        return ok({"reverseEtlModel": self._require(MODEL, request.path_params["model_id"], "Model")})

    async def update_model(self, request: Request) -> Response:
        model = self._require(MODEL, request.path_params["model_id"], "Model")
        body = await read_json(request)
        v.immutable(body, "sourceId", model["sourceId"])
        for key, kind in (("name", str), ("description", str), ("enabled", bool)):
            value = v.get(body, key, kind, required=False)
            if value is not None:
                model[key] = value
        query = v.get(body, "query", str, required=False)
        column = v.get(body, "queryIdentifierColumn", str, required=False)
        v.check_query(query, "query")
        v.check_identifier(column, "queryIdentifierColumn")
        v.get(body, "scheduleStrategy", str, required=False)
        v.get(body, "scheduleConfig", dict, required=False)
        if query is not None:
            model["query"] = query
        if column is not None:
            model["queryIdentifierColumn"] = column
        with self.store.write() as conn:
            self.store.put(conn, MODEL, model)
        return ok({"reverseEtlModel": model})

    async def delete_model(self, request: Request) -> Response:
        ident = request.path_params["model_id"]
        with self.store.write() as conn:
            if not self.store.delete(conn, MODEL, ident):
                raise not_found("Model", ident)
        return ok(STATUS_SUCCESS)

    # -- destinations ------------------------------------------------------------------------
    async def list_destinations(self, request: Request) -> Response:
        return await self._listing(request, DESTINATION, "destinations")

    async def create_destination(self, request: Request) -> Response:
        body = await read_json(request)
        source_id = v.get(body, "sourceId", str, required=True)
        metadata_id = v.get(body, "metadataId", str, required=True)
        settings = v.get(body, "settings", dict, required=True)
        enabled = v.get(body, "enabled", bool, required=False)
        name = v.get(body, "name", str, required=False)
        if catalog.destination(metadata_id) is None:
            raise invalid("metadataId", '"metadataId" does not name a destination in the catalog')
        if self.store.get(SOURCE, source_id) is None:
            raise not_found("Source", source_id)
        destination = {
            "id": ids.hex_id(),
            "name": name,
            "enabled": bool(enabled),
            "metadataId": metadata_id,
            "sourceId": source_id,
            "settings": v.mask_settings({k: val for k, val in settings.items() if val is not None}, set()),
        }
        with self.store.write() as conn:
            self.store.put(conn, DESTINATION, destination)
        return ok({"destination": self._present(DESTINATION, destination)})

    async def get_destination(self, request: Request) -> Response:
        destination = self._require(DESTINATION, request.path_params["destination_id"], "Destination")
        return ok({"destination": self._present(DESTINATION, destination)})

    async def update_destination(self, request: Request) -> Response:
        destination = self._require(DESTINATION, request.path_params["destination_id"], "Destination")
        body = await read_json(request)
        v.immutable(body, "sourceId", destination["sourceId"])
        v.immutable(body, "metadataId", destination["metadataId"])
        name = v.get(body, "name", str, required=False, nullable=True)
        enabled = v.get(body, "enabled", bool, required=False)
        settings = v.get(body, "settings", dict, required=False)
        if "name" in body:
            destination["name"] = name
        if enabled is not None:
            destination["enabled"] = enabled
        if settings is not None:
            destination["settings"] = v.mask_settings(
                v.merge_settings(destination.get("settings") or {}, settings), set()
            )
        with self.store.write() as conn:
            self.store.put(conn, DESTINATION, destination)
        return ok({"destination": self._present(DESTINATION, destination)})

    async def delete_destination(self, request: Request) -> Response:
        ident = request.path_params["destination_id"]
        with self.store.write() as conn:
            if not self.store.delete(conn, DESTINATION, ident):
                raise not_found("Destination", ident)
            self.store.delete_children(conn, SUBSCRIPTION, ident)
        return ok(STATUS_SUCCESS)

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

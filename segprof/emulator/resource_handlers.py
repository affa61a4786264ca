"""The emulated Public API's handlers for the workspace, the catalog, sources, Reverse ETL
models and destinations.

Owns creating, reading, updating and deleting those resources and listing the catalog, with
Segment's validation of each request and Segment's answers. Must never return a secret in
clear: settings are stored masked.
"""

from __future__ import annotations

from functools import cache
from typing import Any

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
from segprof.emulator.jsonbody import encode, json_response
from segprof.emulator.pagination import page_output
from segprof.emulator.problem import ApiError, invalid, not_found


@cache
def _catalog_body(key: str, ident: str) -> bytes:
    """The encoded answer for an existing catalog entry: the catalog never changes, so once is enough."""
    lookup = {"destinationMetadata": catalog.destination, "warehouseMetadata": catalog.warehouse}
    found = lookup.get(key, catalog.source)(ident)
    return encode({"data": {key: found}})


class ResourceHandlers(StoreHandlers):
    """Handlers for the workspace, the catalog, sources, models and destinations."""

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

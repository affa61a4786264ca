"""The Segment Public API's endpoints for the catalog, sources, Reverse ETL models and destinations.

Owns: `ResourceEndpoints`, the typed calls for those resources with the request bodies and
response keys the reference gives for each, and the shared endpoint helpers (`seg` for a path
segment, `present` for a body of the fields given, `_delete`). The request core is `ApiSession`
in `session.py`; subscriptions and syncs are in `client.py`. Must never send anything but what
the reference documents for an endpoint, and never pass a secret anywhere but the request body
it belongs in.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from segprof.workspace.envelope import require_object
from segprof.workspace.resources import (
    SEGMENT_PROFILES_METADATA_ID,
    Destination,
    DestinationMetadata,
    ReverseEtlModel,
    Source,
    SourceMetadata,
)
from segprof.workspace.session import ApiSession


def seg(value: str) -> str:
    return quote(str(value), safe="")


def present(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class ResourceEndpoints(ApiSession):
    """The catalog, source, model and destination calls of the workspace client."""

    # --- catalog -------------------------------------------------------------------------

    async def get_destination_metadata(
        self, metadata_id: str = SEGMENT_PROFILES_METADATA_ID, *, address: str | None = None
    ) -> DestinationMetadata:
        path = f"/catalog/destinations/{seg(metadata_id)}"
        return await self._call(
            "GET",
            path,
            address=address,
            parse=lambda d: DestinationMetadata.model_validate(
                require_object(d, "destinationMetadata", f"GET {path}")
            ),
        )

    async def get_source_metadata(self, metadata_id: str, *, address: str | None = None) -> SourceMetadata:
        path = f"/catalog/sources/{seg(metadata_id)}"
        return await self._call(
            "GET",
            path,
            address=address,
            parse=lambda d: SourceMetadata.model_validate(require_object(d, "sourceMetadata", f"GET {path}")),
        )

    async def list_source_catalog(self, *, address: str | None = None) -> list[SourceMetadata]:
        return await self._list_all("/catalog/sources", "sourcesCatalog", SourceMetadata, address=address)

    async def list_destination_catalog(self, *, address: str | None = None) -> list[DestinationMetadata]:
        return await self._list_all(
            "/catalog/destinations", "destinationsCatalog", DestinationMetadata, address=address
        )

    # --- sources -------------------------------------------------------------------------

    async def list_sources(self, *, address: str | None = None) -> list[Source]:
        return await self._list_all("/sources", "sources", Source, address=address)

    async def get_source(self, source_id: str, *, address: str | None = None) -> Source | None:
        """The source, or None when the workspace has no such source (404)."""
        return await self._get_optional(f"/sources/{seg(source_id)}", "source", Source, address)

    async def create_source(
        self,
        *,
        slug: str,
        metadata_id: str,
        enabled: bool = True,
        settings: dict[str, Any] | None = None,
        name: str | None = None,
        address: str | None = None,
    ) -> Source:
        """POST /sources (v1 has no `name`), then PATCH the name when one is given."""
        self.redactor.add_from_settings(settings)
        body: dict[str, Any] = {"slug": slug, "enabled": enabled, "metadataId": metadata_id}
        if settings is not None:
            body["settings"] = settings
        body["disconnectAllWarehouses"] = True

        async def reconcile() -> Source | None:
            return next((s for s in await self.list_sources(address=address) if s.slug == slug), None)

        source = await self._call(
            "POST",
            "/sources",
            body=body,
            address=address,
            reconcile=reconcile,
            parse=lambda d: Source.model_validate(require_object(d, "source", "POST /sources")),
        )
        if name is not None and source.name != name:
            source = await self.update_source(source.id, name=name, address=address)
        return source

    async def update_source(
        self,
        source_id: str,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        slug: str | None = None,
        settings: dict[str, Any] | None = None,
        address: str | None = None,
    ) -> Source:
        """PATCH the given fields only; settings are merged by the API (send a key as None to remove it)."""
        self.redactor.add_from_settings(settings)
        body = present(name=name, enabled=enabled, slug=slug, settings=settings)
        path = f"/sources/{seg(source_id)}"
        return await self._call(
            "PATCH",
            path,
            body=body,
            address=address,
            parse=lambda d: Source.model_validate(require_object(d, "source", f"PATCH {path}")),
        )

    async def delete_source(
        self, source_id: str, *, address: str | None = None, missing_ok: bool = False
    ) -> str:
        return await self._delete(f"/sources/{seg(source_id)}", address, missing_ok)

    # --- Reverse ETL models ----------------------------------------------------------------

    async def list_models(self, *, address: str | None = None) -> list[ReverseEtlModel]:
        # Older API versions (and Segment's TypeScript SDK) call the list `reverseEtlModels`.
        return await self._list_all(
            "/reverse-etl-models", ("models", "reverseEtlModels"), ReverseEtlModel, address=address
        )

    async def get_model(self, model_id: str, *, address: str | None = None) -> ReverseEtlModel | None:
        path = f"/reverse-etl-models/{seg(model_id)}"
        return await self._get_optional(path, "reverseEtlModel", ReverseEtlModel, address)

    async def create_model(
        self,
        *,
        source_id: str,
        name: str,
        query: str,
        query_identifier_column: str,
        description: str | None = None,
        enabled: bool = True,
        address: str | None = None,
    ) -> ReverseEtlModel:
        """POST /reverse-etl-models. The API requires a description; none is sent as `" "`, as the UI does."""
        body = {
            "sourceId": source_id,
            "name": name,
            "description": description if description and description.strip() else " ",
            "enabled": enabled,
            "query": query,
            "queryIdentifierColumn": query_identifier_column,
        }

        async def reconcile() -> ReverseEtlModel | None:
            models = await self.list_models(address=address)
            return next((m for m in models if m.source_id == source_id and m.name == name), None)

        return await self._call(
            "POST",
            "/reverse-etl-models",
            body=body,
            address=address,
            reconcile=reconcile,
            parse=lambda d: ReverseEtlModel.model_validate(
                require_object(d, "reverseEtlModel", "POST /reverse-etl-models")
            ),
        )

    async def update_model(
        self,
        model_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        query: str | None = None,
        query_identifier_column: str | None = None,
        address: str | None = None,
    ) -> ReverseEtlModel:
        body = present(
            name=name,
            description=description,
            enabled=enabled,
            query=query,
            queryIdentifierColumn=query_identifier_column,
        )
        path = f"/reverse-etl-models/{seg(model_id)}"
        return await self._call(
            "PATCH",
            path,
            body=body,
            address=address,
            parse=lambda d: ReverseEtlModel.model_validate(
                require_object(d, "reverseEtlModel", f"PATCH {path}")
            ),
        )

    async def delete_model(
        self, model_id: str, *, address: str | None = None, missing_ok: bool = False
    ) -> str:
        return await self._delete(f"/reverse-etl-models/{seg(model_id)}", address, missing_ok)

    # --- destinations ----------------------------------------------------------------------

    async def list_destinations(self, *, address: str | None = None) -> list[Destination]:
        return await self._list_all("/destinations", "destinations", Destination, address=address)

    async def get_destination(self, destination_id: str, *, address: str | None = None) -> Destination | None:
        path = f"/destinations/{seg(destination_id)}"
        return await self._get_optional(path, "destination", Destination, address)

    async def create_destination(
        self,
        *,
        source_id: str,
        name: str | None = None,
        enabled: bool = False,
        settings: dict[str, Any] | None = None,
        metadata_id: str = SEGMENT_PROFILES_METADATA_ID,
        address: str | None = None,
    ) -> Destination:
        self.redactor.add_from_settings(settings)
        body: dict[str, Any] = {
            "sourceId": source_id,
            "metadataId": metadata_id,
            "enabled": enabled,
            "settings": settings if settings is not None else {},
        }
        if name is not None:
            body["name"] = name

        async def reconcile() -> Destination | None:
            for dest in await self.list_destinations(address=address):
                if dest.source_id == source_id and dest.metadata_id == metadata_id and dest.name == name:
                    return dest
            return None

        return await self._call(
            "POST",
            "/destinations",
            body=body,
            address=address,
            reconcile=reconcile,
            parse=lambda d: Destination.model_validate(
                require_object(d, "destination", "POST /destinations")
            ),
        )

    async def update_destination(
        self,
        destination_id: str,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        settings: dict[str, Any] | None = None,
        address: str | None = None,
    ) -> Destination:
        self.redactor.add_from_settings(settings)
        body = present(name=name, enabled=enabled, settings=settings)
        path = f"/destinations/{seg(destination_id)}"
        return await self._call(
            "PATCH",
            path,
            body=body,
            address=address,
            parse=lambda d: Destination.model_validate(require_object(d, "destination", f"PATCH {path}")),
        )

    async def delete_destination(
        self, destination_id: str, *, address: str | None = None, missing_ok: bool = False
    ) -> str:
        return await self._delete(f"/destinations/{seg(destination_id)}", address, missing_ok)

    # --- helpers ------------------------------------------------------------------------------

    async def _delete(self, path: str, address: str | None, missing_ok: bool) -> str:
        data = await self.request("DELETE", path, address=address, missing_ok=missing_ok)
        status = data.get("status")
        return str(status) if status is not None else ("NOT_FOUND" if not data else "SUCCESS")

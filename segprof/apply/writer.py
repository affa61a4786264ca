"""The executor's `Writer` over the Public API client: one resource operation → the right calls.

Owns the per-kind call shapes (sources created then named; destinations with the Segment
Profiles metadata; mappings created with POST then PATCH for model and schedule, the action
resolved through the catalog). Must never decide what to change, and never print.
"""

from __future__ import annotations

from typing import Any

from segprof.errors import SegprofError
from segprof.project.resources import Kind, LiveResource
from segprof.workspace.client import AsyncWorkspaceClient
from segprof.workspace.resources import Schedule


class WorkspaceWriter:
    def __init__(self, client: AsyncWorkspaceClient, action_ids: dict[str, str]) -> None:
        self.client = client
        self.action_ids = action_ids  # action slug → catalog action id

    def _action_id(self, slug: str, address: str) -> str:
        try:
            return self.action_ids[slug]
        except KeyError:
            raise SegprofError(
                f"the workspace catalog has no Segment Profiles action {slug!r}", address=address
            ) from None

    async def create(self, kind: Kind, attributes: dict[str, Any], *, address: str) -> LiveResource:
        c = self.client
        if kind is Kind.source:
            source = await c.create_source(
                slug=attributes["slug"],
                metadata_id=attributes["metadataId"],
                enabled=attributes["enabled"],
                settings=attributes["settings"],
                name=attributes["name"],
                address=address,
            )
            return LiveResource(kind, source.id, attributes)
        if kind is Kind.model:
            model = await c.create_model(
                source_id=attributes["sourceId"],
                name=attributes["name"],
                query=attributes["query"],
                query_identifier_column=attributes["queryIdentifierColumn"],
                description=attributes["description"],
                enabled=attributes["enabled"],
                address=address,
            )
            return LiveResource(kind, model.id, attributes)
        if kind is Kind.destination:
            destination = await c.create_destination(
                source_id=attributes["sourceId"],
                name=attributes["name"],
                enabled=attributes["enabled"],
                settings=attributes["settings"],
                metadata_id=attributes["metadataId"],
                address=address,
            )
            return LiveResource(kind, destination.id, attributes)
        destination_id = attributes["destinationId"]
        subscription = await c.create_subscription(
            destination_id,
            name=attributes["name"],
            action_id=self._action_id(attributes["actionSlug"], address),
            trigger=attributes["trigger"],
            enabled=attributes["enabled"],
            settings=attributes["settings"],
            model_id=attributes["modelId"],
            schedule=Schedule.model_validate(attributes["reverseETLSchedule"]),
            address=address,
        )
        return LiveResource(kind, subscription.id, attributes, parent_id=destination_id)

    async def update(
        self, kind: Kind, live_id: str, attributes: dict[str, Any], *, address: str, parent_id: str | None
    ) -> LiveResource:
        c = self.client
        if kind is Kind.source:
            await c.update_source(
                live_id,
                name=attributes["name"],
                enabled=attributes["enabled"],
                settings=attributes["settings"],
                address=address,
            )
        elif kind is Kind.model:
            await c.update_model(
                live_id,
                name=attributes["name"],
                description=attributes["description"],
                enabled=attributes["enabled"],
                query=attributes["query"],
                query_identifier_column=attributes["queryIdentifierColumn"],
                address=address,
            )
        elif kind is Kind.destination:
            await c.update_destination(
                live_id,
                name=attributes["name"],
                enabled=attributes["enabled"],
                settings=attributes["settings"],
                address=address,
            )
        else:
            parent_id = attributes["destinationId"]
            await c.update_subscription(
                parent_id,
                live_id,
                name=attributes["name"],
                trigger=attributes["trigger"],
                enabled=attributes["enabled"],
                settings=attributes["settings"],
                model_id=attributes["modelId"],
                schedule=Schedule.model_validate(attributes["reverseETLSchedule"]),
                address=address,
            )
        return LiveResource(kind, live_id, attributes, parent_id=parent_id)

    async def delete(self, kind: Kind, live_id: str, *, address: str, parent_id: str | None) -> None:
        c = self.client
        if kind is Kind.source:
            await c.delete_source(live_id, address=address, missing_ok=True)
        elif kind is Kind.model:
            await c.delete_model(live_id, address=address, missing_ok=True)
        elif kind is Kind.destination:
            await c.delete_destination(live_id, address=address, missing_ok=True)
        else:
            if parent_id is None:
                raise SegprofError("cannot delete a mapping without its destination id", address=address)
            await c.delete_subscription(parent_id, live_id, address=address, missing_ok=True)

"""The live workspace as plan sees it, read with as few round trips as the API allows.

Owns: `LiveWorkspace` (sources, Reverse ETL models, Segment Profiles destinations, their
subscriptions, and the Segment Profiles catalog entry) and `read_workspace`, which reads it with
concurrent requests, each started as soon as what it depends on is known: sources, models,
destinations and the catalog together, and a destination's subscriptions once the destination
listing has answered. Must never write to the workspace or decide what is managed; plan does that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
from anyio.abc import TaskGroup
from pydantic import BaseModel, Field

from segprof.workspace.api_error import WorkspaceError
from segprof.workspace.client import AsyncWorkspaceClient
from segprof.workspace.resources import (
    SEGMENT_PROFILES_METADATA_ID,
    Destination,
    DestinationMetadata,
    ReverseEtlModel,
    Source,
    Subscription,
)


class LiveWorkspace(BaseModel):
    """Everything plan compares against, as read from the workspace in one go."""

    sources: list[Source] = Field(default_factory=list)
    models: list[ReverseEtlModel] = Field(default_factory=list)
    #: Destinations of the Segment Profiles type only.
    destinations: list[Destination] = Field(default_factory=list)
    #: Subscriptions by destination id.
    subscriptions: dict[str, list[Subscription]] = Field(default_factory=dict)
    #: The Segment Profiles catalog entry (actions by slug → actionId); None if not read.
    catalog: DestinationMetadata | None = None

    def source(self, source_id: str) -> Source | None:
        return next((s for s in self.sources if s.id == source_id), None)

    def model(self, model_id: str) -> ReverseEtlModel | None:
        return next((m for m in self.models if m.id == model_id), None)

    def destination(self, destination_id: str) -> Destination | None:
        return next((d for d in self.destinations if d.id == destination_id), None)

    def subscriptions_of(self, destination_id: str) -> list[Subscription]:
        return self.subscriptions.get(destination_id, [])

    def subscription(self, subscription_id: str) -> Subscription | None:
        return next((s for s in self.all_subscriptions() if s.id == subscription_id), None)

    def all_subscriptions(self) -> list[Subscription]:
        return [sub for subs in self.subscriptions.values() for sub in subs]

    def action_ids(self) -> dict[str, str]:
        return self.catalog.action_ids() if self.catalog else {}

    def fingerprint(self) -> str:
        """A digest of the resources as read, independent of listing order.

        Equal digests mean nothing plan compares has changed; a saved plan can carry it to be
        refused when the workspace moved on. The catalog is left out: it is not workspace state.
        """

        def by_id(items: list[Any]) -> list[dict[str, Any]]:
            return sorted((i.model_dump(mode="json") for i in items), key=lambda d: d["id"])

        state = {
            "sources": by_id(self.sources),
            "models": by_id(self.models),
            "destinations": by_id(self.destinations),
            "subscriptions": {k: by_id(v) for k, v in sorted(self.subscriptions.items())},
        }
        text = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


async def read_workspace(
    client: AsyncWorkspaceClient,
    *,
    with_catalog: bool = True,
    destination_ids: Iterable[str] = (),
) -> LiveWorkspace:
    """Read sources, models, Segment Profiles destinations and all their subscriptions.

    Every request starts as soon as what it depends on is known: the listings, the catalog and
    the subscriptions of `destination_ids` (destinations the caller already knows of, from state)
    at once; the subscriptions of other destinations as soon as the destination listing answers,
    without waiting for the rest of the first round trip. So a cold read costs two round trips
    (destinations, then their subscriptions) and a read whose destinations are all known costs
    one. Unknown destinations are still found and read; known ids that are gone or not Segment
    Profiles are dropped.
    """
    found: dict[str, Any] = {}
    subs: dict[str, list[Subscription] | None] = {}
    early = list(dict.fromkeys(destination_ids))

    async def subscriptions(dest_id: str) -> None:
        subs[dest_id] = await _subscriptions_or_none(client, dest_id)

    async def destinations_then_subscriptions(group: TaskGroup) -> None:
        found["destinations"] = [d for d in await client.list_destinations() if d.is_segment_profiles]
        for dest in found["destinations"]:
            if dest.id not in early:
                group.start_soon(subscriptions, dest.id)

    async def fetch(key: str, job: Callable[[], Awaitable[Any]]) -> None:
        found[key] = await job()

    try:
        async with anyio.create_task_group() as group:
            # Started first so that its request goes out first: the second round trip waits on it.
            group.start_soon(destinations_then_subscriptions, group)
            for dest_id in early:
                group.start_soon(subscriptions, dest_id)
            group.start_soon(fetch, "sources", client.list_sources)
            group.start_soon(fetch, "models", client.list_models)
            if with_catalog:
                group.start_soon(
                    fetch, "catalog", lambda: client.get_destination_metadata(SEGMENT_PROFILES_METADATA_ID)
                )
    except BaseExceptionGroup as failures:
        # Callers (and the CLI) expect the one error that stopped the read, not a group.
        raise _first_leaf(failures) from None

    destinations = found["destinations"]
    return LiveWorkspace(
        sources=found["sources"],
        models=found["models"],
        destinations=destinations,
        subscriptions={d.id: subs.get(d.id) or [] for d in destinations},
        catalog=found.get("catalog"),
    )


async def _subscriptions_or_none(
    client: AsyncWorkspaceClient, destination_id: str
) -> list[Subscription] | None:
    # A destination deleted between the two listings has no subscriptions to show.
    try:
        return await client.list_subscriptions(destination_id)
    except WorkspaceError as err:
        if err.status == 404:
            return None
        raise


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first

"""Live workspace (as the client reads it) → the planner's `LiveIndex` of comparable attributes.

Owns naming the live attributes exactly as the desired ones are named (Public API body keys), so
the diff compares like with like. Must never call the network itself: it converts what
`segprof.workspace.read_workspace` returned.
"""

from __future__ import annotations

from typing import Any

from segprof.project.resources import Kind, LiveIndex, LiveResource
from segprof.workspace.live import LiveWorkspace


def to_index(live: LiveWorkspace) -> LiveIndex:
    index = LiveIndex()
    for s in live.sources:
        index.add(
            LiveResource(
                Kind.source,
                s.id,
                {
                    "name": s.name,
                    "slug": s.slug,
                    "enabled": s.enabled,
                    "metadataId": s.metadata.id if s.metadata else None,
                    "settings": dict(s.settings),
                },
            )
        )
    for m in live.models:
        index.add(
            LiveResource(
                Kind.model,
                m.id,
                {
                    "name": m.name,
                    # The UI stores an empty description as " ".
                    "description": ((m.description or "").strip() and m.description) or "",
                    "enabled": m.enabled,
                    "query": m.query,
                    "queryIdentifierColumn": m.query_identifier_column,
                    "sourceId": m.source_id,
                },
            )
        )
    for d in live.destinations:
        index.add(
            LiveResource(
                Kind.destination,
                d.id,
                {
                    "name": d.name,
                    "enabled": d.enabled,
                    "sourceId": d.source_id,
                    "metadataId": d.metadata.id if d.metadata else None,
                    "settings": dict(d.settings),
                },
            )
        )
    slugs_by_id = {v: k for k, v in live.action_ids().items()}
    for destination_id, subscriptions in live.subscriptions.items():
        for sub in subscriptions:
            schedule: dict[str, Any] | None = None
            if sub.reverse_etl_schedule is not None:
                schedule = sub.reverse_etl_schedule.to_api()
            index.add(
                LiveResource(
                    Kind.mapping,
                    sub.id,
                    {
                        "name": sub.name,
                        "actionSlug": sub.action_slug or slugs_by_id.get(sub.action_id or ""),
                        "destinationId": destination_id,
                        "modelId": sub.model_id,
                        "enabled": sub.enabled,
                        "trigger": sub.trigger,
                        "settings": dict(sub.settings),
                        "reverseETLSchedule": schedule,
                    },
                    parent_id=destination_id,
                )
            )
    return index

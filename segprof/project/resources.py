"""Backend-neutral resource values that the planner compares.

Owns: `DesiredResource` (what the project asks for, as Public API attributes), `LiveResource`
(what the workspace has), `Ref` (a not-yet-known id of another resource) and the per-kind rules
(which attributes force a replace, in which order kinds are applied). Must never hold a secret in
anything it renders: sensitive attribute paths are listed so every output can hide them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from segprof.errors import Location


class Kind(StrEnum):
    source = "source"
    model = "model"
    destination = "destination"
    mapping = "mapping"


# Creation order; deletion runs in reverse.
KIND_ORDER: tuple[Kind, ...] = (Kind.source, Kind.model, Kind.destination, Kind.mapping)

# Attributes the Public API will not change in place (a change means delete + create).
IMMUTABLE: dict[Kind, frozenset[str]] = {
    Kind.source: frozenset({"metadataId"}),
    Kind.model: frozenset({"sourceId"}),
    Kind.destination: frozenset({"sourceId", "metadataId"}),
    Kind.mapping: frozenset({"actionSlug", "destinationId", "modelId"}),
}


@dataclass(frozen=True)
class Ref:
    """The live id of another resource, known once that resource exists."""

    address: str

    def __str__(self) -> str:
        return f"${{{self.address}.id}}"


@dataclass
class DesiredResource:
    address: str
    kind: Kind
    name: str
    attributes: dict[str, Any]
    depends_on: tuple[str, ...] = ()
    sensitive: frozenset[str] = frozenset()  # dotted attribute paths whose values are secret
    location: Location | None = None
    moved_from: str | None = None
    prevent_destroy: bool = False
    # An existing workspace resource this address must point at instead of creating one.
    fixed_id: str | None = None
    # A mapping synced by segprof itself: its workspace copy must not run too.
    self_hosted: bool = False

    @property
    def display_name(self) -> str:
        return str(self.attributes.get("name") or self.name)


@dataclass
class LiveResource:
    kind: Kind
    id: str
    attributes: dict[str, Any]
    parent_id: str | None = None  # a mapping's destination id

    @property
    def name(self) -> str | None:
        value = self.attributes.get("name")
        return value if isinstance(value, str) else None


@dataclass
class LiveIndex:
    """Everything read from the workspace in one refresh, indexed for lookups."""

    resources: dict[Kind, dict[str, LiveResource]] = field(
        default_factory=lambda: {kind: {} for kind in KIND_ORDER}
    )

    def add(self, resource: LiveResource) -> None:
        self.resources[resource.kind][resource.id] = resource

    def get(self, kind: Kind, resource_id: str) -> LiveResource | None:
        return self.resources[kind].get(resource_id)

    def by_name(self, kind: Kind, name: str, parent_id: str | None = None) -> list[LiveResource]:
        return [
            r
            for r in self.resources[kind].values()
            if r.name == name and (parent_id is None or r.parent_id == parent_id)
        ]


def address_kind(address: str) -> Kind:
    head, _, _ = address.partition(".")
    return Kind(head)


MASK_CHARACTER = "•"


def is_masked(value: Any) -> bool:
    """Segment reads secrets back censored with bullets: such a value is unknowable, not drift."""
    return isinstance(value, str) and MASK_CHARACTER in value

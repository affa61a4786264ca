"""The catalog of the emulated workspace: destination and source metadata.

Owns: loading the package data in `catalog_data/*.json` (the Segment Profiles destination with its four
actions, the Reverse ETL warehouse sources and the warehouses catalog), once per process, and lookups by id. Must never be
edited at run time: the objects returned are shared and read-only (the app encodes them as they
are; anything handed to code outside the emulator gets a deep copy from the caller).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

SEGMENT_PROFILES_METADATA_ID = "639c2dbb1309fdcad13951b6"
SECRET_OPTION_TYPE = "password"


@cache
def _load(name: str) -> dict[str, Any]:
    text = resources.files("segprof.emulator.catalog_data").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


def _first_by_id(items: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    # First entry wins, as a linear search would.
    by_id: dict[str, dict[str, Any]] = {}
    for item in items:
        by_id.setdefault(item["id"], item)
    return by_id


@cache
def _destinations_by_id() -> dict[str, dict[str, Any]]:
    return _first_by_id(_load("destinations.json")["destinations"])


@cache
def _sources(include_emulator_only: bool) -> tuple[dict[str, Any], ...]:
    data = _load("sources.json")
    found = list(data["sources"])
    if include_emulator_only:
        found += data.get("emulatorOnly", [])
    return tuple(found)


@cache
def _sources_by_id() -> dict[str, dict[str, Any]]:
    return _first_by_id(_sources(True))


@cache
def _warehouses_by_id() -> dict[str, dict[str, Any]]:
    return _first_by_id(_load("warehouses.json")["warehouses"])


def warehouses() -> list[dict[str, Any]]:
    """Every warehouse entry (shared: read only)."""
    return list(_load("warehouses.json")["warehouses"])


def warehouse(metadata_id: str) -> dict[str, Any] | None:
    """The warehouse entry with this id (shared: read only), or None."""
    return _warehouses_by_id().get(metadata_id)


def destinations() -> list[dict[str, Any]]:
    """Every destination entry (shared: read only)."""
    return list(_load("destinations.json")["destinations"])


def sources(*, include_emulator_only: bool = True) -> list[dict[str, Any]]:
    """Every source entry (shared: read only)."""
    return list(_sources(include_emulator_only))


def destination(metadata_id: str) -> dict[str, Any] | None:
    """The destination entry with this id (shared: read only), or None."""
    return _destinations_by_id().get(metadata_id)


def source(metadata_id: str) -> dict[str, Any] | None:
    """The source entry with this id (shared: read only), or None."""
    return _sources_by_id().get(metadata_id)


def action(metadata: dict[str, Any], action_id: str) -> dict[str, Any] | None:
    return next((a for a in metadata.get("actions", []) if a["id"] == action_id), None)


def secret_option_names(metadata: dict[str, Any]) -> set[str]:
    """Settings keys that are write-only for this source type (read back censored)."""
    return {o["name"] for o in metadata.get("options", []) if o.get("type") == SECRET_OPTION_TYPE}

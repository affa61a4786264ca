"""The catalog of the emulated workspace: destination and source metadata.

Owns: loading the package data in `catalog_data/*.json` (the Segment Profiles destination with its four
actions and the Reverse ETL warehouse sources) and lookups by id or slug. Must never be edited at
run time: callers get deep copies.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

SEGMENT_PROFILES_METADATA_ID = "639c2dbb1309fdcad13951b6"
SECRET_OPTION_TYPE = "password"


@cache
def _load(name: str) -> dict[str, Any]:
    text = resources.files("segprof.emulator.catalog_data").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


def destinations() -> list[dict[str, Any]]:
    return copy.deepcopy(_load("destinations.json")["destinations"])


def sources(*, include_emulator_only: bool = True) -> list[dict[str, Any]]:
    data = _load("sources.json")
    found = list(data["sources"])
    if include_emulator_only:
        found += data.get("emulatorOnly", [])
    return copy.deepcopy(found)


def destination(metadata_id: str) -> dict[str, Any] | None:
    return next((d for d in destinations() if d["id"] == metadata_id), None)


def source(metadata_id: str) -> dict[str, Any] | None:
    return next((s for s in sources() if s["id"] == metadata_id), None)


def action(metadata: dict[str, Any], action_id: str) -> dict[str, Any] | None:
    return next((a for a in metadata.get("actions", []) if a["id"] == action_id), None)


def secret_option_names(metadata: dict[str, Any]) -> set[str]:
    """Settings keys that are write-only for this source type (read back censored)."""
    return {o["name"] for o in metadata.get("options", []) if o.get("type") == SECRET_OPTION_TYPE}

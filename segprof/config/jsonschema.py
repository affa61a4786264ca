"""The JSON Schema of segprof's YAML, generated from the pydantic models.

Owns `project_json_schema()` (what `segprof schema` prints and `schemas/segprof.schema.json`
holds). Must never be edited by hand: the committed file is checked for freshness by a test.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_ID = "https://segprof.dev/schemas/segprof.schema.json"


def project_json_schema() -> dict[str, Any]:
    from segprof.config.models import Project

    schema = Project.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "segprof project",
        "description": "A segprof.yaml file, or any other YAML file of a segprof project "
        "(those may hold only sources, models, destinations and mappings).",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def schema_text() -> str:
    return json.dumps(project_json_schema(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"

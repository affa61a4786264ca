"""The JSON Schema of segprof's YAML, generated from the pydantic models.

Owns `project_json_schema()` (what `segprof schema` prints and `schemas/segprof.schema.json`
holds). Must never be edited by hand: the committed file is checked for freshness by a test.
"""

from __future__ import annotations

import json
from typing import Any

from segprof.config.models import Project

# An identifier only, never fetched: editors read the project's own copy by a relative path.
SCHEMA_ID = "urn:segprof:schema:project"


def project_json_schema() -> dict[str, Any]:

    schema = Project.model_json_schema(by_alias=True, mode="validation")
    # Every YAML file of a project is checked against this one schema, and only segprof.yaml
    # holds `version`: the loader, not the schema, requires it there (with a diagnostic).
    required = [key for key in schema.get("required", []) if key != "version"]
    if required:
        schema["required"] = required
    else:
        schema.pop("required", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "segprof project",
        "description": "Any YAML file of a segprof project: segprof.yaml (which must also hold "
        "`version: 1`) or another file (which may hold only sources, models, destinations and "
        "mappings).",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def schema_text() -> str:
    return json.dumps(project_json_schema(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"

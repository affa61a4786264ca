"""The JSON Schema: generated from the models, committed, fresh, and accepting real projects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from segprof.config.jsonschema import schema_text

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "schemas" / "segprof.schema.json"


def test_committed_schema_is_fresh() -> None:
    assert COMMITTED.read_text() == schema_text(), (
        "run `python -m segprof schema > schemas/segprof.schema.json`"
    )


def test_schema_command_prints_it() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "segprof", "schema"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == json.loads(COMMITTED.read_text())


def test_schema_accepts_a_project_and_rejects_unknown_keys() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(COMMITTED.read_text())
    good = {
        "version": 1,
        "sources": {"w": {"type": "postgres", "host": "h", "database": "d", "user": "u", "schema": "s"}},
        "models": {"m": {"identifier": "id", "query": "SELECT id FROM t"}},
        "destinations": {"p": {"type": "segment_profiles", "write_key": "x"}},
        "mappings": {
            "x": {
                "model": "m",
                "destination": "p",
                "action": "send_identify",
                "on": ["new"],
                "schedule": {"every": "1h"},
                "fields": {"user_id": "id", "traits": {"a": {"value": 1}, "b": {"template": "{{id}}"}}},
            }
        },
    }
    jsonschema.validate(good, schema)
    bad = json.loads(json.dumps(good))
    bad["models"]["m"]["identifer"] = "id"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    bad = json.loads(json.dumps(good))
    bad["mappings"]["x"]["schedule"] = {"every": "5m"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)

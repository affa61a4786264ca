"""`segprof generate` reads a schema the same whatever its naming convention: snake_case,
CamelCase, camelCase, upper case, or quoted names with spaces."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from ruamel.yaml import YAML


def snake(name: str) -> str:
    """The test's own normaliser (kept apart from segprof's): words of any convention, joined by _."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name) if not name.isupper() else name
    return "_".join(w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w)

# (table, [(column, type, primary key?)]) in snake_case; each convention below renames them.
SCHEMA = [
    ("user_profiles", [("user_id", "VARCHAR", True), ("email_address", "VARCHAR", False),
                       ("first_name", "VARCHAR", False), ("password_hash", "VARCHAR", False),
                       ("updated_at", "TIMESTAMP", False)]),
    ("company_accounts", [("account_id", "VARCHAR", True), ("account_name", "VARCHAR", False),
                          ("owner_user_id", "VARCHAR", False)]),
    ("page_events", [("event_id", "VARCHAR", True), ("user_id", "VARCHAR", False),
                     ("event_name", "VARCHAR", False), ("occurred_at", "TIMESTAMP", False)]),
    ("email_subscriptions", [("user_id", "VARCHAR", True), ("email", "VARCHAR", False),
                             ("email_opt_in", "BOOLEAN", False)]),
]  # fmt: skip

CONVENTIONS = {
    "snake": lambda n: n,
    "Pascal": lambda n: "".join(p.capitalize() for p in n.split("_")),
    "camel": lambda n: n.split("_")[0] + "".join(p.capitalize() for p in n.split("_")[1:]),
    "UPPER": str.upper,
    "quoted words": lambda n: " ".join(p.capitalize() for p in n.split("_")),
}


def _project(folder: Path, rename) -> Path:  # type: ignore[no-untyped-def]
    folder.mkdir()
    with duckdb.connect(str(folder / "wh.duckdb")) as con:
        for table, columns in SCHEMA:
            cols = ", ".join(
                f'"{rename(c)}" {t}' + (" PRIMARY KEY" if pk else "") for c, t, pk in columns
            )
            con.execute(f'CREATE TABLE "{rename(table)}" ({cols})')
            values = ", ".join("NULL" if not pk else "'k1'" for _c, _t, pk in columns)
            con.execute(f'INSERT INTO "{rename(table)}" VALUES ({values})')
    (folder / "segprof.yaml").write_text(
        "version: 1\nsources:\n  warehouse: {type: duckdb, path: wh.duckdb}\n"
        "destinations:\n  profiles: {type: segment_profiles, write_key: wk_generated_1234}\n"
    )
    return folder


def _shape(folder: Path) -> dict[str, object]:
    """What generate chose, with every column name in snake_case so conventions compare."""
    doc = YAML(typ="safe").load((folder / "generated.yaml").read_text())

    def norm(value: object) -> object:
        if isinstance(value, dict):
            return {snake(str(k)) if k not in ("value",) else k: norm(v) for k, v in value.items()}
        if isinstance(value, str):
            return re.sub(r"\{\{\s*([^}]+?)\s*\}\}", lambda m: "{{" + snake(m.group(1)) + "}}", snake(value))
        return value

    models = {name: snake(m["identifier"]) for name, m in doc["models"].items()}
    mappings = {name: (m["action"], norm(m["fields"])) for name, m in doc["mappings"].items()}
    return {"models": models, "mappings": mappings}


@pytest.mark.parametrize("convention", [c for c in CONVENTIONS if c != "snake"])
def test_generate_reads_every_naming_convention_as_snake_case(tmp_path: Path, cli, convention: str) -> None:
    base = _project(tmp_path / "snake", CONVENTIONS["snake"])
    other = _project(tmp_path / convention.replace(" ", "_"), CONVENTIONS[convention])
    for folder in (base, other):
        outcome = cli("generate", "-C", str(folder))
        assert outcome.code == 0, outcome.text
    expected = _shape(base)
    assert set(expected["models"]) == {"user_profiles", "company_accounts", "page_events", "email_subscriptions"}
    assert _shape(other) == expected
    # the secret-looking column stays out, whatever its spelling
    assert "password" not in (other / "generated.yaml").read_text().lower().split("left out")[0]
    # and the generated project is valid as written: quoted names where the convention needs them
    outcome = cli("validate", "-C", str(other))
    assert outcome.code == 0, outcome.text

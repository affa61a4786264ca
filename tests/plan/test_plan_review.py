"""Plans a reviewer can read: a query's line diff, values never cut, ids shown as addresses.

Through the CLI against the emulator served on loopback, as a pull-request check would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.plan.conftest import Served

REPO = Path(__file__).resolve().parents[2]


def segprof(*args: str, columns: int = 100) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "segprof", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def plan(project: Path, *extra: str, columns: int = 100) -> str:
    result = segprof("plan", "-C", str(project), *extra, columns=columns)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_one_line_sql_edit_shows_that_line_in_text_and_markdown(project: Path, emulator_server: Served) -> None:
    assert segprof("apply", "-C", str(project), "--auto-approve").returncode == 0
    sql = project / "models" / "users.sql"
    text = sql.read_text()
    assert "    country,\n" in text
    sql.write_text(text.replace("    country,\n", "    upper(country) AS country,\n", 1))

    shown = plan(project)
    assert "~ model.users will be updated in place" in shown
    assert "~ query:" in shown
    lines = [line.strip() for line in shown.splitlines()]
    assert "-     country," in lines
    assert "+     upper(country) AS country," in lines
    # the header line of the query, identical on both sides, is not what the diff shows as changed
    assert not any(line.startswith(("+ --", "- --")) for line in lines)

    markdown = plan(project, "--format", "markdown")
    block = markdown.split("```diff", 1)[1].split("```", 1)[0].splitlines()
    assert "~ query:" in block
    assert "-     country," in block
    assert "+     upper(country) AS country," in block


def test_a_created_mappings_settings_are_never_cut(project: Path) -> None:
    for columns in (60, 200):
        shown = plan(project, columns=columns)
        assert "…" not in shown
        # every trait of the identify mapping is shown whole
        for trait in ("lifetime_value", "orders_count", "created_at", "account_id"):
            assert f'"{trait}": ' in shown and f'"@path": "$.properties.{trait}"' in shown, (columns, trait)
            if columns == 200:
                assert f'"{trait}": {{"@path": "$.properties.{trait}"}}' in shown, trait
        assert '"@template": "https://{{properties.domain}}"' in shown
        if columns == 60:
            # settings open one key per line to fit; only a single unsplittable entry may pass
            widest = max(len(line) for line in shown.splitlines() if '"@path"' in line)
            assert widest <= 75
    markdown = plan(project, "--format", "markdown")
    assert "…" not in markdown
    assert '"lifetime_value": {"@path": "$.properties.lifetime_value"}' in markdown
    assert "<details>" in markdown


def test_a_replace_names_the_resources_an_id_points_at(project: Path) -> None:
    assert segprof("apply", "-C", str(project), "--auto-approve").returncode == 0
    config = project / "segprof.yaml"
    config.write_text(
        config.read_text().replace(
            "models:\n",
            "models:\n  users_v2:\n    source: warehouse\n    identifier: user_id\n"
            "    query_file: models/users.sql\n",
            1,
        )
    )
    mappings = project / "mappings.yaml"
    mappings.write_text(mappings.read_text().replace("    model: users\n", "    model: users_v2\n", 1))

    shown = plan(project)
    assert "-/+ mapping.identify_users must be replaced" in shown
    assert "~ modelId: model.users → model.users_v2 (known after apply)  # forces replacement" in shown
    assert "+ sourceId = source.warehouse\n" in shown  # the new model's source, by its address

    markdown = plan(project, "--format", "markdown")
    assert "- modelId = model.users  # forces replacement" in markdown
    assert "+ modelId = model.users_v2 (known after apply)  # forces replacement" in markdown

    document = json.loads(plan(project, "--format", "json"))
    (mapping,) = [c for c in document["resource_changes"] if c["address"] == "mapping.identify_users"]
    (model_id,) = [f for f in mapping["changes"] if f["path"] == "modelId"]
    assert (model_id["before_address"], model_id["after_address"]) == ("model.users", "model.users_v2")
    assert mapping["refs"] == {"destinationId": "destination.profiles", "modelId": "model.users_v2"}

"""A mapping scheduled after a dbt Cloud job: compiled to Segment's DBT_CLOUD strategy, stored by
the embedded workspace, and read back by `generate --from-workspace`."""

from __future__ import annotations

import shutil
from pathlib import Path

from ruamel.yaml import YAML

from segprof.config.schedule import DbtCloudJob, DbtCloudSchedule, compile_schedule
from segprof.operations.workspaces import open_workspace
from segprof.validate import validate_project

PROJECT = """\
version: 1
sources:
  warehouse:
    type: duckdb
    path: wh.duckdb
models:
  users:
    identifier: user_id
    query: SELECT 1 AS user_id, 'a@example.com' AS email
destinations:
  profiles:
    type: segment_profiles
    write_key: ${PROFILES_WRITE_KEY:-}
mappings:
"""

MAPPING = """\
  identify_{n}:
    model: users
    destination: profiles
    action: send_identify
    schedule: {{dbt_cloud: {{account_id: 70403, job_id: "{job}"}}}}
    fields:
      user_id: user_id
      traits: {{email: email}}
"""


def _project(tmp_path: Path, count: int = 1) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    body = PROJECT + "".join(MAPPING.format(n=n, job=1000 + n) for n in range(count))
    (folder / "segprof.yaml").write_text(body)
    return folder


def test_compiles_to_the_dbt_cloud_strategy() -> None:
    schedule = DbtCloudSchedule(dbt_cloud=DbtCloudJob(account_id=70403, job_id="1001"))
    assert compile_schedule(schedule) == {
        "strategy": "DBT_CLOUD",
        "config": {"jobId": "1001", "accountId": "70403"},
    }


def test_applied_stored_and_generated_back(tmp_path: Path, run_cli) -> None:
    project = _project(tmp_path)
    env = {"PROFILES_WRITE_KEY": "wk_dbt_cloud_test"}
    applied = run_cli("apply", "-C", str(project), "--auto-approve", env=env)
    assert applied.exit_code == 0, applied.output

    with open_workspace("local", project_dir=project) as ws:

        async def read(client):  # type: ignore[no-untyped-def]
            from segprof.workspace.live import read_workspace

            return await read_workspace(client)

        live = ws.run(read)
    (sub,) = [s for subs in live.subscriptions.values() for s in subs]
    assert sub.reverse_etl_schedule.to_api() == {
        "strategy": "DBT_CLOUD",
        "config": {"jobId": "1000", "accountId": "70403"},
    }

    # generate the config again from the workspace alone: the schedule is read back, not skipped
    again = tmp_path / "again"
    again.mkdir()
    (again / "segprof.yaml").write_text("version: 1\n")
    shutil.copytree(project / ".segprof" / "emulator", again / ".segprof" / "emulator")
    result = run_cli("generate", "-C", str(again), "--from-workspace", env=env)
    assert result.exit_code == 0, result.output
    assert "cannot be written" not in result.output
    doc = YAML(typ="safe").load((again / "workspace.yaml").read_text())
    (mapping,) = doc["mappings"].values()
    assert mapping["schedule"] == {"dbt_cloud": {"account_id": "70403", "job_id": "1000"}}


def test_at_most_five_mappings_per_model(tmp_path: Path) -> None:
    report = validate_project(_project(tmp_path, count=6))
    (problem,) = report.errors
    assert problem.code == "schedule.dbt_cloud_limit"
    assert problem.address == "mapping.identify_5"
    assert "has 6 mappings scheduled by dbt Cloud; Segment allows at most 5" in problem.message


def test_a_dbt_cloud_id_must_be_given(tmp_path: Path) -> None:
    project = _project(tmp_path)
    text = (project / "segprof.yaml").read_text().replace('job_id: "1000"', 'job_id: ""')
    (project / "segprof.yaml").write_text(text)
    report = validate_project(project)
    assert [d.code for d in report.errors] == ["schedule.dbt_cloud"]
    assert (report.errors[0].location.line, report.errors[0].location.col) == (19, 55)

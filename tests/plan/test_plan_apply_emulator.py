"""plan and apply end to end against the emulator served on a loopback port."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plan.conftest import TOKEN, WRITE_KEY, Served

REPO = Path(__file__).resolve().parents[2]


def segprof(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "segprof", *args], cwd=cwd or REPO, capture_output=True, text=True, timeout=120
    )


def plan_json(project: Path, *extra: str) -> dict:
    result = segprof("plan", "-C", str(project), "--format", "json", *extra)
    assert result.returncode in (0, 2), result.stderr
    return json.loads(result.stdout)


def changed(plan: dict) -> list[tuple[str, str]]:
    return [
        (c["address"], c["action"])
        for c in plan["resource_changes"]
        if c["action"] != "noop" or c["moved_from"]
    ]


def apply(project: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return segprof("apply", "-C", str(project), "--auto-approve", *extra)


def state_ids(project: Path) -> dict[str, str]:
    path = project / ".segprof" / "state.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {address: entry["id"] for address, entry in data["resources"].items()}


def test_empty_workspace_apply_then_no_changes(project: Path, emulator_server: Served) -> None:
    first = segprof("plan", "-C", str(project), "--detailed-exitcode")
    assert first.returncode == 2, first.stderr
    assert "Plan: 10 to add, 0 to change, 0 to destroy." in first.stdout
    done = apply(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Apply complete! 10 added" in done.stdout
    again = segprof("plan", "-C", str(project), "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes." in again.stdout
    # Every address is tied to the live resource it created.
    subs = emulator_server.api.get(
        f"/destinations/{state_ids(project)['destination.profiles']}/subscriptions",
        params={"pagination.count": 50},
    ).json()["data"]["subscriptions"]
    assert sorted(s["id"] for s in subs) == sorted(
        v for k, v in state_ids(project).items() if k.startswith("mapping.")
    )


def test_one_field_changed_is_exactly_one_update(project: Path) -> None:
    assert apply(project).returncode == 0
    mappings = project / "mappings.yaml"
    text = mappings.read_text()
    assert "        plan: plan\n" in text
    mappings.write_text(text.replace("        plan: plan\n", "        plan: {value: enterprise}\n", 1))
    plan = plan_json(project)
    assert changed(plan) == [("mapping.identify_users", "update")]
    (change,) = [c for c in plan["resource_changes"] if c["action"] == "update"]
    assert [(f["path"], f["before"], f["after"]) for f in change["changes"]] == [
        ("settings.traits.plan", {"@path": "$.properties.plan"}, "enterprise")
    ]
    assert apply(project).returncode == 0
    assert changed(plan_json(project)) == []


def test_rename_with_moved_from_does_not_destroy(project: Path) -> None:
    assert apply(project).returncode == 0
    before = state_ids(project)
    mappings = project / "mappings.yaml"
    text = mappings.read_text().replace(
        "  track_events:\n",
        "  track_product_events:\n    moved_from: track_events\n    name: track_events\n",
        1,
    )
    mappings.write_text(text)
    plan = plan_json(project)
    assert changed(plan) == [("mapping.track_product_events", "noop")]
    assert plan["resource_changes"][-1]["moved_from"] or any(
        c["moved_from"] for c in plan["resource_changes"]
    )
    assert apply(project).returncode == 0
    after = state_ids(project)
    assert after["mapping.track_product_events"] == before["mapping.track_events"]
    assert "mapping.track_events" not in after
    assert changed(plan_json(project)) == []


def test_removed_resource_is_deleted_only_with_allow_destroy(project: Path, emulator_server: Served) -> None:
    assert apply(project).returncode == 0
    sub_id = state_ids(project)["mapping.track_events"]
    mappings = project / "mappings.yaml"
    text = mappings.read_text()
    start = text.index("  track_events:\n")
    end = text.find("\n  sync_subscriptions:", start)
    end = len(text) if end < 0 else end + 1
    mappings.write_text(text[:start] + text[end:])
    assert changed(plan_json(project)) == [("mapping.track_events", "delete")]
    refused = apply(project)
    assert refused.returncode == 1
    assert "--allow-destroy" in refused.stderr and "mapping.track_events" in refused.stderr
    assert state_ids(project)["mapping.track_events"] == sub_id  # nothing was changed
    done = apply(project, "--allow-destroy")
    assert done.returncode == 0, done.stderr
    dest = state_ids(project)["destination.profiles"]
    response = emulator_server.api.get(f"/destinations/{dest}/subscriptions/{sub_id}")
    assert response.status_code == 404
    assert changed(plan_json(project)) == []


def test_drift_made_through_the_api_is_shown_and_corrected(project: Path, emulator_server: Served) -> None:
    assert apply(project).returncode == 0
    model_id = state_ids(project)["model.users"]
    patched = emulator_server.api.patch(f"/reverse-etl-models/{model_id}", json={"enabled": False})
    assert patched.status_code == 200, patched.text
    plan = plan_json(project)
    assert changed(plan) == [("model.users", "update")]
    (change,) = [c for c in plan["resource_changes"] if c["address"] == "model.users"]
    assert [(d["path"], d["before"], d["after"]) for d in change["drift"]] == [("enabled", True, False)]
    text = segprof("plan", "-C", str(project)).stdout
    assert "changed outside segprof" in text
    assert apply(project).returncode == 0
    live = emulator_server.api.get(f"/reverse-etl-models/{model_id}").json()["data"]["reverseEtlModel"]
    assert live["enabled"] is True
    assert changed(plan_json(project)) == []


def test_saved_plan_is_refused_after_a_live_change(
    project: Path, emulator_server: Served, tmp_path: Path
) -> None:
    assert apply(project).returncode == 0
    mappings = project / "mappings.yaml"
    mappings.write_text(mappings.read_text().replace("    on: [new]\n", "    on: [new, updated]\n", 1))
    plan_file = tmp_path / "saved.plan.json"
    made = segprof("plan", "-C", str(project), "--out", str(plan_file))
    assert made.returncode == 0 and plan_file.exists()
    model_id = state_ids(project)["model.events"]
    emulator_server.api.patch(f"/reverse-etl-models/{model_id}", json={"description": "edited in the app"})
    state_before = (project / ".segprof" / "state.json").read_text()
    writes_before = emulator_server.faults.writes
    refused = segprof("apply", "-C", str(project), str(plan_file))
    assert refused.returncode == 1
    assert "stale" in refused.stderr and "live workspace changed" in refused.stderr
    assert emulator_server.faults.writes == writes_before  # nothing written
    assert (project / ".segprof" / "state.json").read_text() == state_before


def test_saved_plan_applies_when_nothing_changed(project: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "saved.plan.json"
    assert segprof("plan", "-C", str(project), "--out", str(plan_file)).returncode == 0
    done = segprof("apply", "-C", str(project), str(plan_file))
    assert done.returncode == 0, done.stderr
    assert changed(plan_json(project)) == []


@pytest.mark.parametrize("k", range(1, 16))
def test_failure_at_the_kth_write_leaves_an_exact_remainder(
    project: Path, emulator_server: Served, k: int
) -> None:
    emulator_server.faults.fail_at = k
    failed = segprof("apply", "-C", str(project), "--auto-approve", "--parallelism", "1")
    total_writes = emulator_server.faults.writes
    if k > total_writes:
        assert failed.returncode == 0  # fewer writes than k: nothing was refused
        return
    assert failed.returncode == 1, failed.stdout
    assert "injected refusal" in failed.stderr and "Apply stopped at the first failure" in failed.stderr
    recorded = state_ids(project)
    remainder = plan_json(project)
    remaining = {address for address, _ in changed(remainder)}
    # What state records as done is not planned again (except the destination's enabling).
    assert not (remaining & (set(recorded) - {"destination.profiles"}))
    emulator_server.faults.fail_at = None
    converged = apply(project)
    assert converged.returncode == 0, converged.stdout + converged.stderr
    assert changed(plan_json(project)) == []
    # No duplicates were left behind: exactly the project's resources exist.
    models = emulator_server.api.get("/reverse-etl-models", params={"pagination.count": 100}).json()["data"][
        "models"
    ]
    assert sorted(m["name"] for m in models) == ["accounts", "events", "subscriptions", "users"]


def test_a_second_apply_is_refused_by_the_lock(project: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from segprof.state.store import LocalStateStore\n"
        f"with LocalStateStore(Path({str(project / '.segprof')!r})).lock('apply'):\n"
        "    print('locked', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        refused = apply(project)
        assert refused.returncode == 1
        assert "state is locked by `segprof apply`" in refused.stderr and "--lock-timeout" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert not (project / ".segprof" / "state.json").exists()
    finally:
        holder.kill()
        holder.wait()


def test_plan_takes_no_lock_and_runs_while_an_apply_holds_it(project: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from segprof.state.store import LocalStateStore\n"
        f"with LocalStateStore(Path({str(project / '.segprof')!r})).lock('apply'):\n"
        "    print('locked', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        planned = segprof("plan", "-C", str(project), "--detailed-exitcode")
        assert planned.returncode == 2, planned.stdout + planned.stderr
        assert "Plan: 10 to add" in planned.stdout
        # the option scripts still pass is accepted
        assert segprof("plan", "-C", str(project), "--lock-timeout", "5").returncode == 0
    finally:
        holder.kill()
        holder.wait()


def test_planted_secrets_appear_nowhere(project: Path, tmp_path: Path) -> None:
    outputs = []
    for fmt in ("text", "json", "markdown"):
        out = tmp_path / f"plan.{fmt}"
        result = segprof("plan", "-C", str(project), "--format", fmt, "--out", str(out))
        outputs += [result.stdout, result.stderr, out.read_text()]
    done = apply(project)
    outputs += [done.stdout, done.stderr]
    outputs += [segprof("plan", "-C", str(project)).stdout]
    outputs += [p.read_text(errors="replace") for p in (project / ".segprof").glob("*.json")]
    assert len(outputs) > 8
    for text in outputs:
        assert TOKEN not in text
        assert WRITE_KEY not in text


def test_model_edit_dropping_a_mapped_column_fails_the_plan(project: Path) -> None:
    assert apply(project).returncode == 0
    sql = project / "models" / "users.sql"
    text = sql.read_text()
    assert "    plan,\n" in text
    edited = text.replace("    plan,\n", "    plan AS tier,\n", 1)
    sql.write_text(edited)
    line = edited.split("\n").index("    plan AS tier,") + 1
    result = segprof("plan", "-C", str(project))
    assert result.returncode == 1
    assert "mapping.identify_users" in result.stderr
    # The mapping, the field, and the line of the model that renamed the column.
    assert (
        f"column `plan` (field traits.plan) is not in the output of model `users`: models/users.sql:{line} renames it to `tier`"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_self_hosted_mapping_enabled_in_the_workspace_is_warned_and_disabled(
    project: Path, emulator_server: Served
) -> None:
    mappings = project / "mappings.yaml"
    text = mappings.read_text()
    marked = text.replace(
        "    action: send_identify\n", "    action: send_identify\n    self_hosted: true\n", 1
    )
    mappings.write_text(marked)
    warned = segprof("plan", "-C", str(project))
    assert "self-hosted, but its workspace copy would be enabled" in warned.stdout
    # disabled in the config: apply keeps the workspace copy off, and the plan is quiet
    mappings.write_text(
        marked.replace("    self_hosted: true\n", "    self_hosted: true\n    enabled: false\n", 1)
    )
    assert apply(project).returncode == 0
    assert "self-hosted" not in segprof("plan", "-C", str(project)).stdout
    # someone enables the workspace copy in the app: the plan warns and apply disables it again
    ids = state_ids(project)
    path = f"/destinations/{ids['destination.profiles']}/subscriptions/{ids['mapping.identify_users']}"
    enabled = emulator_server.api.patch(path, json={"input": {"enabled": True}})
    assert enabled.status_code == 200, enabled.text
    plan = plan_json(project)
    assert changed(plan) == [("mapping.identify_users", "update")]
    (change,) = [c for c in plan["resource_changes"] if c["address"] == "mapping.identify_users"]
    assert any("enabled now" in w for w in change["warnings"])
    assert apply(project).returncode == 0
    live = emulator_server.api.get(path).json()["data"]["subscription"]
    assert live["enabled"] is False


def test_a_field_removed_from_a_mapping_is_removed_from_the_workspace(
    project: Path, emulator_server: Served
) -> None:
    assert apply(project).returncode == 0
    mappings = project / "mappings.yaml"
    text = mappings.read_text()
    block = text.index("  identify_users:")
    line = "      timestamp: updated_at\n"
    at = text.index(line, block)
    mappings.write_text(text[:at] + text[at + len(line) :])
    plan = plan_json(project)
    assert changed(plan) == [("mapping.identify_users", "update")]
    (change,) = [c for c in plan["resource_changes"] if c["address"] == "mapping.identify_users"]
    assert [(c["path"], c["before"], c["after"]) for c in change["changes"]] == [
        ("settings.timestamp", {"@path": "$.properties.updated_at"}, None)
    ]
    assert apply(project).returncode == 0
    ids = state_ids(project)
    path = f"/destinations/{ids['destination.profiles']}/subscriptions/{ids['mapping.identify_users']}"
    live = emulator_server.api.get(path).json()["data"]["subscription"]
    assert "timestamp" not in live["settings"] and "user_id" in live["settings"]
    assert changed(plan_json(project)) == []


def test_a_source_setting_removed_from_the_config_is_removed_from_the_workspace(
    project: Path, emulator_server: Served
) -> None:
    assert apply(project).returncode == 0
    source_id = state_ids(project)["source.warehouse"]
    # a setting segprof applied, then removed from the config (the state remembers it was applied)
    state_path = project / ".segprof" / "state.json"
    state = json.loads(state_path.read_text())
    state["resources"]["source.warehouse"]["attributes"]["settings"]["schema"] = "main"
    state_path.write_text(json.dumps(state))
    patched = emulator_server.api.patch(f"/sources/{source_id}", json={"settings": {"schema": "main"}})
    assert patched.status_code == 200, patched.text
    plan = plan_json(project)
    (change,) = [c for c in plan["resource_changes"] if c["address"] == "source.warehouse"]
    assert [(c["path"], c["before"], c["after"]) for c in change["changes"]] == [
        ("settings.schema", "main", None)
    ]
    assert apply(project).returncode == 0
    live = emulator_server.api.get(f"/sources/{source_id}").json()["data"]["source"]
    assert "schema" not in live["settings"]
    assert changed(plan_json(project)) == []

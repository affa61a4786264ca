"""`segprof state list|rm|mv` and `segprof show PLANFILE`, through the CLI and the served emulator."""

from __future__ import annotations

import json
from pathlib import Path

from tests.plan.conftest import Served
from tests.plan.test_plan_apply_emulator import apply, changed, plan_json, segprof, state_ids
from tests.plan.test_plan_review import segprof as segprof_at_width


def test_state_list_prints_every_recorded_address(project: Path) -> None:
    assert apply(project).returncode == 0
    listed = segprof("state", "list", "-C", str(project))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == sorted(state_ids(project))
    assert len(listed.stdout.splitlines()) == 10


def test_state_rm_forgets_an_address_and_leaves_the_workspace(project: Path, emulator_server: Served) -> None:
    assert apply(project).returncode == 0
    before = state_ids(project)
    sub_id = before["mapping.track_events"]

    refused = segprof("state", "rm", "mapping.track_events", "mapping.nope", "-C", str(project))
    assert refused.returncode == 1
    assert "mapping.nope" in refused.stderr and "nothing was removed" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert state_ids(project) == before  # all or nothing

    done = segprof("state", "rm", "mapping.track_events", "-C", str(project))
    assert done.returncode == 0, done.stderr
    assert f"Removed mapping.track_events ({sub_id})" in done.stdout
    assert "mapping.track_events" not in state_ids(project)
    # the subscription is still live; the next plan adopts it again by its name
    destination = before["destination.profiles"]
    live = emulator_server.api.get(f"/destinations/{destination}/subscriptions").json()["data"]["subscriptions"]
    assert sub_id in {s["id"] for s in live}
    assert changed(plan_json(project)) == [("mapping.track_events", "adopt")]


def test_state_mv_renames_without_replacing(project: Path) -> None:
    assert apply(project).returncode == 0
    sub_id = state_ids(project)["mapping.track_events"]
    mappings = project / "mappings.yaml"
    mappings.write_text(
        mappings.read_text().replace("  track_events:\n", "  track_product_events:\n    name: track_events\n", 1)
    )
    # without the move, the renamed address adopts the live mapping and the old address is deleted
    assert ("mapping.track_events", "delete") in changed(plan_json(project))

    wrong_kind = segprof("state", "mv", "mapping.track_events", "model.x", "-C", str(project))
    assert wrong_kind.returncode == 1 and "cannot move a mapping to a model address" in wrong_kind.stderr
    taken = segprof("state", "mv", "mapping.track_events", "mapping.identify_users", "-C", str(project))
    assert taken.returncode == 1 and "already tied to" in taken.stderr
    assert state_ids(project)["mapping.track_events"] == sub_id

    moved = segprof("state", "mv", "mapping.track_events", "mapping.track_product_events", "-C", str(project))
    assert moved.returncode == 0, moved.stderr
    assert state_ids(project)["mapping.track_product_events"] == sub_id
    assert changed(plan_json(project)) == []


def test_show_prints_a_saved_plan_as_plan_did(project: Path, tmp_path: Path) -> None:
    assert apply(project).returncode == 0
    sql = project / "models" / "users.sql"
    sql.write_text(sql.read_text().replace("    country,\n", "    lower(country) AS country,\n", 1))
    saved = tmp_path / "plan.json"
    for fmt in ("text", "json", "markdown"):
        planned = segprof_at_width("plan", "-C", str(project), "--format", fmt, "--out", str(saved))
        assert planned.returncode == 0, planned.stderr
        shown = segprof_at_width("show", str(saved), "--format", fmt)
        assert shown.returncode == 0, shown.stderr
        if fmt == "json":
            assert json.loads(shown.stdout) == json.loads(planned.stdout)
        elif fmt == "text":
            assert planned.stdout.startswith(shown.stdout.rstrip("\n"))  # plan adds the "Saved…" line
            assert "+     lower(country) AS country," in shown.stdout
        else:
            assert shown.stdout == planned.stdout

    missing = segprof("show", str(tmp_path / "none.json"))
    assert missing.returncode == 1 and "no such plan file" in missing.stderr
    (tmp_path / "other.json").write_text('{"kind": "segprof-plan", "resource_changes": [{}]}')
    broken = segprof("show", str(tmp_path / "other.json"))
    assert broken.returncode == 1 and "not a readable segprof plan file" in broken.stderr
    assert "Traceback" not in broken.stderr

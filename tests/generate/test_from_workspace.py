"""`segprof generate --from-workspace` against a workspace built by hand in the embedded emulator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ruamel.yaml import YAML

from segprof.operations.workspaces import open_workspace
from segprof.workspace.resources import Schedule

WRITE_KEY = "wk_live_3c9e1a7f"
DUCKDB_METADATA = "sgpDuckDB1"


def _build(project: Path) -> dict[str, str]:
    """Create sources, models, a Segment Profiles destination and one mapping of every action."""
    ids: dict[str, str] = {}
    with open_workspace("local", project_dir=project) as ws:

        async def build(client) -> None:  # type: ignore[no-untyped-def]
            from segprof.workspace.live import read_workspace

            actions = (await read_workspace(client)).action_ids()
            source = await client.create_source(
                slug="warehouse",
                name="warehouse",
                metadata_id=DUCKDB_METADATA,
                settings={"path": "wh.duckdb"},
            )
            ids["source"] = source.id
            users = await client.create_model(
                source_id=source.id, name="Active users", description="People who logged in",
                query="SELECT user_id, email, plan, updated_at FROM users", query_identifier_column="user_id",
            )  # fmt: skip
            accounts = await client.create_model(
                source_id=source.id, name="accounts", query="SELECT id, name, owner_id FROM accounts",
                query_identifier_column="id",
            )  # fmt: skip
            events = await client.create_model(
                source_id=source.id, name="events", enabled=False,
                query="SELECT event_id, user_id, event, ts, url FROM events", query_identifier_column="event_id",
            )  # fmt: skip
            dest = await client.create_destination(source_id=source.id, name="Profiles", enabled=True)
            ids["destination"] = dest.id
            path = lambda c: {"@path": f"$.properties.{c}"}  # noqa: E731
            subs = [
                ("identify users", "sendIdentify", users.id, 'event = "new" or event = "updated"',
                 {"user_id": path("user_id"), "timestamp": path("updated_at"),
                  "traits": {"email": {"@excludeWhenNull": path("email")}, "plan": path("plan"),
                             "source": "warehouse"}},
                 Schedule(strategy="PERIODIC", config={"interval": "1h"})),
                ("group accounts", "sendGroup", accounts.id, 'event = "new"',
                 {"group_id": {"@path": "$.__segment_id"}, "user_id": path("owner_id"),
                  "anonymous_id": {"@template": "acct-{{properties.id}}"}, "traits": path("name")},
                 Schedule(strategy="SPECIFIC_DAYS", config={"days": [1, 5], "hours": [6, 18], "timezone": "Europe/Paris"})),
                ("track events", "sendTrack", events.id, 'event = "new"',
                 {"user_id": path("user_id"), "event_name": path("event"), "timestamp": path("ts"),
                  "properties": {"url": path("url")},
                  "message_id": {"@if": {"exists": path("event_id"), "then": path("event_id"), "else": "x"}}},
                 Schedule(strategy="CRON", config={"spec": "0 */6 * * *", "timezone": "UTC"})),
                ("subscribe users", "sendSubscription", users.id, 'event = "new" or event = "updated" or event = "deleted"',
                 {"email": path("email"), "email_subscription_status": True},
                 Schedule(strategy="MANUAL")),
            ]  # fmt: skip
            for name, slug, model_id, trigger, settings, schedule in subs:
                await client.create_subscription(
                    dest.id, name=name, action_id=actions[slug], trigger=trigger, enabled=slug != "sendTrack",
                    settings={"engage_space": WRITE_KEY, **settings}, model_id=model_id, schedule=schedule,
                )  # fmt: skip

        ws.run(build)
    return ids


def _generated(project: Path) -> dict[str, bytes]:
    return {
        p.relative_to(project).as_posix(): p.read_bytes()
        for p in sorted(project.rglob("*"))
        if p.is_file() and ".segprof" not in p.parts and p.name != "segprof.yaml"
    }


def test_from_workspace_round_trip(tmp_path: Path, run_cli) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "segprof.yaml").write_text("version: 1\n")
    ids = _build(project)
    env = {"PROFILES_WRITE_KEY": WRITE_KEY, "COLUMNS": "200"}

    result = run_cli("generate", "-C", str(project), "--from-workspace", env=env)
    assert result.exit_code == 0, result.output
    assert WRITE_KEY not in (project / "workspace.yaml").read_text()
    first = (project / "workspace.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=segprof.schema.json"
    assert (project / "segprof.schema.json").is_file()
    doc = YAML(typ="safe").load((project / "workspace.yaml").read_text())
    assert doc["sources"]["warehouse"] == {
        "type": "duckdb",
        "path": "wh.duckdb",
        "segment_source_id": ids["source"],
    }
    assert set(doc["models"]) == {"active_users", "accounts", "events"}
    assert doc["models"]["active_users"]["name"] == "Active users"
    assert doc["models"]["events"]["enabled"] is False
    assert (project / "models" / "accounts.sql").read_text() == "SELECT id, name, owner_id FROM accounts"
    assert doc["destinations"]["profiles"]["write_key"] == "${PROFILES_WRITE_KEY:-}"
    m = doc["mappings"]
    assert m["identify_users"]["schedule"] == {"every": "1h"}
    assert m["identify_users"]["on"] == ["new", "updated"]
    assert m["identify_users"]["fields"]["traits"] == {
        "email": {"column": "email", "sync_nulls": False}, "plan": "plan", "source": {"value": "warehouse"},
    }  # fmt: skip
    group = m["group_accounts"]
    assert group["schedule"] == {"days": ["mon", "fri"], "hours": [6, 18], "timezone": "Europe/Paris"}
    assert group["fields"] == {
        "user_id": "owner_id", "anonymous_id": {"template": "acct-{{id}}"},
        "group_id": {"identifier": True}, "traits": "name",
    }  # fmt: skip
    track = m["track_events"]
    assert track["schedule"] == {"cron": "0 */6 * * *", "timezone": "UTC"}
    assert track["enabled"] is False
    assert "message_id" not in track["fields"] and track["raw_settings"]["message_id"]["@if"]
    assert m["subscribe_users"]["on"] == ["new", "updated", "deleted"]
    assert m["subscribe_users"]["fields"]["email_subscription_status"] == {"value": True}

    report = run_cli("validate", "-C", str(project), env=env)
    assert report.exit_code == 0, report.output
    plan = run_cli("plan", "-C", str(project), env=env)
    assert plan.exit_code == 0, plan.output
    assert "No changes" in plan.output, plan.output
    state = json.loads((project / ".segprof" / "state.json").read_text())["resources"]
    assert state["source.warehouse"]["id"] == ids["source"]
    assert state["destination.profiles"]["id"] == ids["destination"]
    assert len([a for a in state if a.startswith("mapping.")]) == 4

    first = _generated(project)
    (project / "workspace.yaml").unlink()
    shutil.rmtree(project / "models")
    (project / ".segprof" / "state.json").unlink()
    again = run_cli("generate", "-C", str(project), "--from-workspace", env=env)
    assert again.exit_code == 0, again.output
    assert _generated(project) == first
    refused = run_cli("generate", "-C", str(project), "--from-workspace", env=env)
    assert refused.exit_code == 1

"""Compiled forms: subscription settings (the Fields table), triggers and schedules."""

from __future__ import annotations

from pathlib import Path

import pytest

from segprof.config import compile_schedule, compile_settings, compile_trigger, load_project_or_raise
from segprof.config.schedule import CronSchedule, DaysSchedule, EverySchedule

PROJECT = """\
version: 1
sources:
  w: {type: snowflake, account: acme, user: retl}
models:
  accounts:
    identifier: account_id
    query: SELECT account_id, name, email, plan, profile FROM accounts
destinations:
  profiles:
    write_key: ${WK}
mappings:
  group_accounts:
    model: accounts
    destination: profiles
    action: send_group
    sync_nulls: false
    on: [updated, new]
    fields:
      user_id: email
      group_id: {identifier: true}
      timestamp: {column: name, sync_nulls: true}
      message_id: {template: "acct-{{account_id}}-{{ plan }}"}
      traits:
        name: name
        plan: {column: plan}
        tier: {value: 42}
        nothing: {value: null}
  whole_object:
    model: accounts
    destination: profiles
    action: send_identify
    fields:
      user_id: email
      traits: profile
    raw_settings:
      consent: {"@path": "$.context.consent"}
"""


@pytest.fixture()
def project(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "segprof.yaml").write_text(PROJECT)
    return load_project_or_raise(tmp_path, environ={"WK": "wk-123"})


def test_settings_follow_the_fields_table(project) -> None:  # type: ignore[no-untyped-def]
    mapping = project.mappings["group_accounts"]
    settings = compile_settings(mapping, project.destinations["profiles"], project.models["accounts"])
    assert settings == {
        "engage_space": "wk-123",
        "user_id": {"@excludeWhenNull": {"@path": "$.properties.email"}},
        "group_id": {"@path": "$.__segment_id"},
        "timestamp": {"@path": "$.properties.name"},
        "message_id": {"@template": "acct-{{properties.account_id}}-{{properties.plan}}"},
        "traits": {
            "name": {"@excludeWhenNull": {"@path": "$.properties.name"}},
            "plan": {"@excludeWhenNull": {"@path": "$.properties.plan"}},
            "tier": 42,
            "nothing": None,
        },
    }


def test_whole_object_column_and_raw_settings(project) -> None:  # type: ignore[no-untyped-def]
    mapping = project.mappings["whole_object"]
    settings = compile_settings(mapping, project.destinations["profiles"], project.models["accounts"])
    assert settings["traits"] == {"@path": "$.properties.profile"}
    assert settings["user_id"] == {"@path": "$.properties.email"}
    assert settings["consent"] == {"@path": "$.context.consent"}


def test_columns_resolve_to_the_warehouse_names_when_known(project) -> None:  # type: ignore[no-untyped-def]
    mapping = project.mappings["whole_object"]
    settings = compile_settings(
        mapping,
        project.destinations["profiles"],
        project.models["accounts"],
        columns=["ACCOUNT_ID", "EMAIL", "PROFILE"],
        dialect="snowflake",
    )
    assert settings["user_id"] == {"@path": "$.properties.EMAIL"}
    assert settings["traits"] == {"@path": "$.properties.PROFILE"}


def test_trigger_order_is_fixed(project) -> None:  # type: ignore[no-untyped-def]
    assert compile_trigger(project.mappings["group_accounts"].on) == 'event = "new" or event = "updated"'
    assert compile_trigger(["deleted", "new"]) == 'event = "new" or event = "deleted"'
    assert compile_trigger(["updated"]) == 'event = "updated"'
    with pytest.raises(ValueError):
        compile_trigger([])


def test_schedules() -> None:
    assert compile_schedule("manual") == {"strategy": "MANUAL"}
    assert compile_schedule(EverySchedule(every="15m")) == {
        "strategy": "PERIODIC",
        "config": {"interval": "15m"},
    }
    days = DaysSchedule(days=["fri", "Monday", "sun"], hours=[18, 6], timezone="Europe/Berlin")
    assert compile_schedule(days) == {
        "strategy": "SPECIFIC_DAYS",
        "config": {"days": [0, 1, 5], "hours": [6, 18], "timezone": "Europe/Berlin"},
    }
    assert compile_schedule(CronSchedule(cron="0  */6 * * *")) == {
        "strategy": "CRON",
        "config": {"spec": "0 */6 * * *", "timezone": "UTC"},
    }


@pytest.mark.parametrize(
    ("spec", "ok"),
    [
        ("*/15 * * * *", True),
        ("0,30 9-17 * * mon-fri", True),
        ("0 0 1 jan *", True),
        ("*/10 * * * *", False),
        ("0,5 * * * *", False),
        ("59 23 * * *", True),
        ("* 3 * * *", False),
        ("0 0 * *", False),
        ("61 * * * *", False),
    ],
)
def test_cron_rules(spec: str, ok: bool) -> None:
    from pydantic import ValidationError

    if ok:
        CronSchedule(cron=spec)
    else:
        with pytest.raises(ValidationError):
            CronSchedule(cron=spec)

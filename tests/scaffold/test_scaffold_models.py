"""The quickstart's YAML and models: every mapped column exists, identifiers hold, one mapping per action.

The YAML is read here with ruamel.yaml directly (not through segprof's loader), so these checks
hold independently of it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlglot
from ruamel.yaml import YAML
from sqlglot import exp

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
STATUSES = {"subscribed", "unsubscribed", "did_not_subscribe"}
FIELD_KEYS = {
    "send_identify": {"user_id", "anonymous_id", "group_id", "traits", "timestamp", "message_id", "consent"},
    "send_group": {"user_id", "anonymous_id", "group_id", "traits", "timestamp", "message_id", "consent"},
    "send_track": {
        "user_id", "anonymous_id", "timestamp", "event_name", "group_id", "properties", "message_id",
        "consent",
    },
    "send_subscription": {
        "user_id", "anonymous_id", "email", "email_subscription_status", "subscription_groups", "phone",
        "sms_subscription_status", "whatsapp_subscription_status", "android_push_token",
        "android_push_subscription_status", "ios_push_token", "ios_push_subscription_status", "traits",
        "timestamp", "message_id", "consent",
    },
}  # fmt: skip
OBJECT_FIELDS = {"traits", "properties", "subscription_groups"}


def _scalar_columns(field: Any) -> set[str]:
    """Model columns a scalar field reads (docs/config-language.md, Fields)."""
    if isinstance(field, str):
        return {field}
    assert isinstance(field, dict), field
    if "column" in field:
        return {field["column"]}
    if "template" in field:
        return set(re.findall(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*}}", field["template"]))
    assert set(field) <= {"value", "identifier", "sync_nulls"}, field
    return set()


def _field_columns(key: str, field: Any) -> set[str]:
    if (
        key in OBJECT_FIELDS
        and isinstance(field, dict)
        and not ({"column", "value", "template"} & set(field))
    ):
        return set().union(*(_scalar_columns(v) for v in field.values()))
    return _scalar_columns(field)


def _column_of(field: Any, model: dict[str, Any]) -> str:
    if isinstance(field, dict) and field.get("identifier"):
        return model["identifier"]
    (column,) = _scalar_columns(field)
    return column


def _query(model: dict[str, Any]) -> str:
    if "query" in model:
        return model["query"]
    return (model["__file__"].parent / model["query_file"]).read_text(encoding="utf-8")


def _columns(warehouse: Any, sql: str) -> list[str]:
    return [d[0] for d in warehouse.execute(f"SELECT * FROM ({sql}) AS m LIMIT 0").description]


def test_project_structure(quickstart, resources) -> None:
    main = YAML(typ="safe").load((quickstart.directory / "segprof.yaml").read_text(encoding="utf-8"))
    assert main["version"] == 1
    assert main["workspace"]["backend"] == "local"
    assert not (quickstart.directory / "mappings.yaml").read_text().count("version:")
    for kind, items in resources.items():
        for name in items:
            assert NAME.match(name), f"{kind}.{name}"
    (source,) = resources["sources"].values()
    assert source["type"] == "duckdb" and source["path"] == "warehouse.duckdb"
    (destination,) = resources["destinations"].values()
    assert destination["type"] == "segment_profiles"
    assert destination["write_key"] == "${PROFILES_WRITE_KEY:-demo-write-key}"
    # the mappings live in their own file, to show a project split over several files
    assert {m["__file__"].name for m in resources["mappings"].values()} == {"mappings.yaml"}


def test_one_mapping_per_action(resources) -> None:
    actions = sorted(m["action"] for m in resources["mappings"].values())
    assert actions == ["send_group", "send_identify", "send_subscription", "send_track"]


def test_schedules_show_each_form(resources) -> None:
    forms = set()
    for mapping in resources["mappings"].values():
        schedule = mapping["schedule"]
        forms.add(
            schedule
            if isinstance(schedule, str)
            else next(k for k in ("every", "days", "cron") if k in schedule)
        )
        if isinstance(schedule, dict) and "days" in schedule:
            assert all(0 <= h <= 23 for h in schedule["hours"])
    assert {"manual", "every", "days"} <= forms


def test_references_and_field_keys(resources) -> None:
    for name, mapping in resources["mappings"].items():
        assert mapping["model"] in resources["models"], name
        assert mapping["destination"] in resources["destinations"], name
        assert set(mapping["fields"]) <= FIELD_KEYS[mapping["action"]], name
        assert "engage_space" not in mapping["fields"]
        assert mapping["on"] and set(mapping["on"]) <= {"new", "updated", "deleted"}
    for model in resources["models"].values():
        assert model["source"] in resources["sources"]


@pytest.mark.parametrize("model_name", ["users", "accounts", "events", "subscriptions"])
def test_model_query_runs_with_a_unique_identifier(warehouse, resources, model_name: str) -> None:
    model = resources["models"][model_name]
    sql = _query(model)
    # explicit column lists, one statement (Segment wraps the query in a CTE)
    parsed = sqlglot.parse(sql, read="duckdb")
    assert len(parsed) == 1 and not sql.rstrip().endswith(";")
    assert not list(parsed[0].find_all(exp.Star)), "models list their columns"
    columns = _columns(warehouse, sql)
    assert len(columns) == len(set(columns))
    ident = model["identifier"]
    assert ident in columns
    total, distinct, nulls = warehouse.execute(
        f"SELECT count(*), count(DISTINCT {ident}), count(*) - count({ident}) FROM ({sql}) AS m"
    ).fetchall()[0]
    assert total > 0 and distinct == total and nulls == 0


def test_every_mapped_column_exists(warehouse, resources) -> None:
    for name, mapping in resources["mappings"].items():
        model = resources["models"][mapping["model"]]
        columns = set(_columns(warehouse, _query(model)))
        used = set().union(*(_field_columns(k, v) for k, v in mapping["fields"].items()))
        assert used, name
        assert used <= columns, f"{name}: {sorted(used - columns)} not in model {mapping['model']}"


def _rows(
    warehouse: Any, resources: dict[str, Any], action: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    (mapping,) = [m for m in resources["mappings"].values() if m["action"] == action]
    model = resources["models"][mapping["model"]]
    cursor = warehouse.execute(_query(model))
    names = [d[0] for d in cursor.description]
    fields = {k: v for k, v in mapping["fields"].items() if k not in OBJECT_FIELDS}
    resolved = [
        {key: dict(zip(names, row, strict=True))[_column_of(field, model)] for key, field in fields.items()}
        for row in cursor.fetchall()
    ]
    return mapping, resolved


@pytest.mark.parametrize("action", ["send_identify", "send_group", "send_track"])
def test_every_row_has_the_ids_segment_requires(warehouse, resources, action: str) -> None:
    mapping, rows = _rows(warehouse, resources, action)
    required = {"send_identify": ["user_id"], "send_group": ["user_id", "group_id"],
                "send_track": ["user_id", "event_name"]}[action]  # fmt: skip
    for key in required:
        assert key in mapping["fields"]
        assert all(row[key] not in (None, "") for row in rows), key


def test_subscription_rows_pass_segments_checks(warehouse, resources) -> None:
    mapping, rows = _rows(warehouse, resources, "send_subscription")
    assert {"email", "email_subscription_status", "phone", "sms_subscription_status"} <= set(
        mapping["fields"]
    )
    for row in rows:
        assert row["email"] and row["email_subscription_status"] in STATUSES
        # a status without its identifier is rejected by the action
        if row["sms_subscription_status"] is not None:
            assert row["phone"] and row["sms_subscription_status"] in STATUSES
        else:
            assert row["phone"] is None
    # a null group status would reach Segment as "null", an INVALID status
    model = resources["models"][mapping["model"]]
    group_columns = sorted(_field_columns("subscription_groups", mapping["fields"]["subscription_groups"]))
    assert group_columns
    values = warehouse.execute(
        f"SELECT DISTINCT unnest([{', '.join(group_columns)}]) FROM ({_query(model)}) AS m"
    ).fetchall()
    assert {v for (v,) in values} == STATUSES

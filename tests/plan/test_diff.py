"""The planner's decisions on synthetic desired / state / live values (no network involved)."""

from __future__ import annotations

import json

import pytest

from segprof.errors import SegprofError
from segprof.plan.diff import compute_plan
from segprof.plan.model import SENSITIVE, Action
from segprof.plan.render_markdown import MAX_CHARS, render_markdown
from segprof.plan.render_text import render_text
from segprof.plan.secrets import redact_for_storage
from segprof.project.resources import DesiredResource, Kind, LiveIndex, LiveResource, Ref
from segprof.state.store import State, StateEntry

WRITE_KEY = "wk_planted_secret_123"


def model(name: str = "users", query: str = "SELECT id FROM users", **extra) -> DesiredResource:
    return DesiredResource(
        address=f"model.{name}",
        kind=Kind.model,
        name=name,
        attributes={
            "name": name,
            "description": "",
            "enabled": True,
            "query": query,
            "queryIdentifierColumn": "id",
            "sourceId": Ref("source.wh"),
        },
        depends_on=("source.wh",),
        **extra,
    )


def source() -> DesiredResource:
    return DesiredResource(
        address="source.wh",
        kind=Kind.source,
        name="wh",
        attributes={
            "name": "wh",
            "enabled": True,
            "metadataId": "WvlvcGEJsT",
            "settings": {"password": "pw"},
        },
        sensitive=frozenset({"settings.password"}),
    )


def mapping(traits: dict | None = None) -> DesiredResource:
    return DesiredResource(
        address="mapping.identify",
        kind=Kind.mapping,
        name="identify",
        attributes={
            "name": "identify",
            "actionSlug": "sendIdentify",
            "destinationId": "dest1",
            "modelId": Ref("model.users"),
            "enabled": True,
            "trigger": 'event = "new"',
            "settings": {
                "engage_space": WRITE_KEY,
                "user_id": {"@path": "$.properties.id"},
                "traits": traits or {"email": {"@path": "$.properties.email"}},
            },
            "reverseETLSchedule": {"strategy": "MANUAL"},
        },
        depends_on=("model.users",),
        sensitive=frozenset({"settings.engage_space"}),
    )


def live_with(*resources: LiveResource) -> LiveIndex:
    live = LiveIndex()
    for r in resources:
        live.add(r)
    return live


def applied_state(*pairs: tuple[DesiredResource, str, dict]) -> State:
    state = State()
    for d, live_id, attrs in pairs:
        state.resources[d.address] = StateEntry(
            kind=d.kind.value, id=live_id, attributes=redact_for_storage(attrs, d.sensitive)
        )
    return state


def live_source() -> LiveResource:
    return LiveResource(
        Kind.source,
        "S1",
        {"name": "wh", "enabled": True, "metadataId": "WvlvcGEJsT", "settings": {"password": "••••"}},
    )


def live_model(query: str = "SELECT id FROM users") -> LiveResource:
    return LiveResource(
        Kind.model,
        "M1",
        {
            "name": "users",
            "description": "",
            "enabled": True,
            "query": query,
            "queryIdentifierColumn": "id",
            "sourceId": "S1",
        },
    )


def test_empty_workspace_creates_everything_in_dependency_order() -> None:
    plan = compute_plan([mapping(), model(), source()], State(), LiveIndex())
    assert [c.address for c in plan.changes] == ["source.wh", "model.users", "mapping.identify"]
    assert all(c.action is Action.create for c in plan.changes)
    assert plan.summary_line() == "Plan: 3 to add, 0 to change, 0 to destroy."
    # The model's source id is not known until the source exists.
    assert plan.changes[1].after["sourceId"] == "(known after apply)"


def test_matching_live_state_is_no_change_and_masked_secrets_are_not_drift() -> None:
    s, m = source(), model()
    state = applied_state((s, "S1", {**s.attributes}), (m, "M1", {**m.attributes, "sourceId": "S1"}))
    plan = compute_plan([s, m], state, live_with(live_source(), live_model()))
    assert not plan.has_changes
    assert plan.summary_line().startswith("No changes.")


def test_one_field_changed_is_one_update_with_that_field() -> None:
    s, m = source(), model(query="SELECT id, email FROM users")
    state = applied_state((s, "S1", s.attributes), (m, "M1", {**model().attributes, "sourceId": "S1"}))
    plan = compute_plan([s, m], state, live_with(live_source(), live_model()))
    changed = [c for c in plan.changes if c.is_change]
    assert len(changed) == 1 and changed[0].action is Action.update
    assert [(fc.path, fc.before, fc.after) for fc in changed[0].changes] == [
        ("query", "SELECT id FROM users", "SELECT id, email FROM users")
    ]
    assert plan.summary_line() == "Plan: 0 to add, 1 to change, 0 to destroy."


def test_drift_outside_segprof_is_reported_and_corrected() -> None:
    s, m = source(), model()
    state = applied_state((s, "S1", s.attributes), (m, "M1", {**m.attributes, "sourceId": "S1"}))
    plan = compute_plan([s, m], state, live_with(live_source(), live_model(query="SELECT 1 AS id")))
    change = next(c for c in plan.changes if c.address == "model.users")
    assert change.action is Action.update
    assert [(d.path, d.before, d.after) for d in change.drift] == [
        ("query", "SELECT id FROM users", "SELECT 1 AS id")
    ]
    assert "changed outside segprof" in render_text(plan)


def test_immutable_change_replaces_with_reason_and_mapping_warning() -> None:
    s, m, mp = source(), model(), mapping()
    live_mapping = LiveResource(
        Kind.mapping,
        "SUB1",
        {
            **mp.attributes,
            "modelId": "M1",
            "actionSlug": "sendGroup",
            "settings": {**mp.attributes["settings"]},
        },
        parent_id="dest1",
    )
    state = applied_state(
        (s, "S1", s.attributes), (m, "M1", {**m.attributes, "sourceId": "S1"}), (mp, "SUB1", {})
    )
    plan = compute_plan([s, m, mp], state, live_with(live_source(), live_model(), live_mapping))
    change = next(c for c in plan.changes if c.address == "mapping.identify")
    assert change.action is Action.replace
    assert "actionSlug" in change.reason
    assert any("resets its sync state" in w for w in change.warnings)
    assert plan.summary_line() == "Plan: 1 to add, 0 to change, 1 to destroy."


def test_replaced_dependency_forces_replacement_of_dependents() -> None:
    s = source()
    s.attributes["metadataId"] = "BQp3zGUgjV"  # postgres → snowflake: the source must be replaced
    m = model()
    state = applied_state((s, "S1", s.attributes), (m, "M1", {**m.attributes, "sourceId": "S1"}))
    plan = compute_plan([s, m], state, live_with(live_source(), live_model()))
    actions = {c.address: c.action for c in plan.changes}
    assert actions == {"source.wh": Action.replace, "model.users": Action.replace}


def test_removed_resource_is_deleted_and_renamed_one_is_moved() -> None:
    s = source()
    renamed = model(name="members")
    renamed.attributes["name"] = "users"
    renamed.moved_from = "users"
    state = applied_state((s, "S1", s.attributes), (model(), "M1", {**model().attributes, "sourceId": "S1"}))
    state.resources["model.old"] = StateEntry(kind="model", id="M9", attributes={})
    live = live_with(live_source(), live_model(), LiveResource(Kind.model, "M9", {"name": "old"}))
    plan = compute_plan([s, renamed], state, live)
    by_address = {c.address: c for c in plan.changes}
    assert by_address["model.members"].moved_from == "model.users"
    assert by_address["model.members"].action is Action.noop
    assert by_address["model.old"].action is Action.delete
    assert "model.users" not in by_address
    assert plan.summary_line() == "Plan: 0 to add, 0 to change, 1 to destroy, 1 to move."


def test_live_resource_with_same_name_is_adopted_not_duplicated() -> None:
    s, m = source(), model()
    plan = compute_plan([s, m], State(), live_with(live_source(), live_model(query="SELECT 2 AS id")))
    actions = {c.address: c for c in plan.changes}
    assert actions["source.wh"].action is Action.adopt
    assert actions["model.users"].action is Action.adopt and actions["model.users"].also_update
    assert actions["model.users"].live_id == "M1"
    assert plan.counts()["add"] == 0


def test_two_live_candidates_with_the_same_name_is_an_error() -> None:
    duplicate = live_model()
    duplicate.id = "M2"
    with pytest.raises(SegprofError, match="2 live models are named 'users'"):
        compute_plan([source(), model()], State(), live_with(live_source(), live_model(), duplicate))


def test_deleted_outside_segprof_is_recreated() -> None:
    s, m = source(), model()
    state = applied_state((s, "S1", s.attributes), (m, "M1", {**m.attributes, "sourceId": "S1"}))
    plan = compute_plan([s, m], state, live_with(live_source()))
    change = next(c for c in plan.changes if c.address == "model.users")
    assert change.action is Action.create and "deleted outside segprof" in change.reason


def test_target_selects_the_resource_and_what_it_depends_on() -> None:
    plan = compute_plan(
        [source(), model(), model(name="other")], State(), LiveIndex(), targets=["model.users"]
    )
    assert [c.address for c in plan.changes] == ["source.wh", "model.users"]
    with pytest.raises(SegprofError, match=r"model\.nope"):
        compute_plan([source()], State(), LiveIndex(), targets=["model.nope"])


def test_secrets_never_reach_any_rendering() -> None:
    mp = mapping()
    live_mapping = LiveResource(
        Kind.mapping,
        "SUB1",
        {
            **mp.attributes,
            "modelId": "M1",
            "settings": {**mp.attributes["settings"], "engage_space": "old_key_value"},
        },
        parent_id="dest1",
    )
    s, m = source(), model()
    state = applied_state(
        (s, "S1", s.attributes), (m, "M1", {**m.attributes, "sourceId": "S1"}), (mp, "SUB1", {})
    )
    plan = compute_plan([s, m, mp], state, live_with(live_source(), live_model(), live_mapping))
    change = next(c for c in plan.changes if c.address == "mapping.identify")
    assert change.action is Action.update
    assert [(fc.path, fc.before, fc.after) for fc in change.changes] == [
        ("settings.engage_space", SENSITIVE, SENSITIVE)
    ]
    outputs = [render_text(plan), render_markdown(plan), json.dumps(plan.to_json())]
    for out in outputs:
        assert WRITE_KEY not in out and "old_key_value" not in out and '"pw"' not in out


def test_nested_settings_show_field_level_paths() -> None:
    mp = mapping(traits={"email": {"@path": "$.properties.email"}, "plan": {"@path": "$.properties.plan"}})
    live_mapping = LiveResource(
        Kind.mapping, "SUB1", {**mapping().attributes, "modelId": "M1"}, parent_id="dest1"
    )
    s, m = source(), model()
    state = applied_state(
        (s, "S1", s.attributes), (m, "M1", {**m.attributes, "sourceId": "S1"}), (mp, "SUB1", {})
    )
    plan = compute_plan([s, m, mp], state, live_with(live_source(), live_model(), live_mapping))
    change = next(c for c in plan.changes if c.address == "mapping.identify")
    assert [(fc.path, fc.before, fc.after) for fc in change.changes] == [
        ("settings.traits.plan", None, {"@path": "$.properties.plan"})
    ]


def test_markdown_stays_under_the_comment_limit_with_a_notice() -> None:
    big = [model(name=f"m{i:04d}", query="SELECT id FROM t -- " + "x" * 300) for i in range(400)]
    plan = compute_plan([source(), *big], State(), LiveIndex())
    text = render_markdown(plan)
    assert len(text) < MAX_CHARS
    assert "more resource change(s) not shown" in text
    assert text.index("Plan: 401 to add") < text.index("<details>")


def test_saved_plan_is_refused_when_config_or_live_changed(tmp_path) -> None:
    from segprof.plan.planfile import check_not_stale, load_plan_header, save_plan

    s, m = source(), model()
    plan = compute_plan([s, m], State(), live_with(live_source()))
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    assert WRITE_KEY not in path.read_text() and '"pw"' not in path.read_text()
    saved = load_plan_header(path)
    check_not_stale(saved, compute_plan([s, m], State(), live_with(live_source())), path)
    with pytest.raises(SegprofError, match="live workspace changed"):
        check_not_stale(saved, compute_plan([s, m], State(), live_with(live_source(), live_model())), path)
    with pytest.raises(SegprofError, match="configuration changed"):
        check_not_stale(
            saved, compute_plan([s, model(query="SELECT 3 AS id")], State(), live_with(live_source())), path
        )
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SegprofError, match="not a readable segprof plan file"):
        load_plan_header(tmp_path / "bad.json")


def _self_hosted_plan(desired_enabled: bool, live_enabled: bool):  # type: ignore[no-untyped-def]
    s, m, mp = source(), model(), mapping()
    mp.self_hosted = True
    mp.attributes["enabled"] = desired_enabled
    live_mapping = LiveResource(
        Kind.mapping,
        "SUB1",
        {**mp.attributes, "modelId": "M1", "enabled": live_enabled},
        parent_id="dest1",
    )
    state = applied_state(
        (s, "S1", s.attributes),
        (m, "M1", {**m.attributes, "sourceId": "S1"}),
        (mp, "SUB1", {**mp.attributes, "modelId": "M1"}),
    )
    plan = compute_plan([s, m, mp], state, live_with(live_source(), live_model(), live_mapping))
    return next(c for c in plan.changes if c.address == "mapping.identify")


def test_self_hosted_mapping_left_enabled_in_the_workspace_is_warned() -> None:
    enabled_in_config = _self_hosted_plan(desired_enabled=True, live_enabled=True)
    assert enabled_in_config.action is Action.noop
    assert any("self-hosted" in w and "enabled: false" in w for w in enabled_in_config.warnings)

    enabled_live_only = _self_hosted_plan(desired_enabled=False, live_enabled=True)
    assert enabled_live_only.action is Action.update
    assert [(c.path, c.before, c.after) for c in enabled_live_only.changes] == [("enabled", True, False)]
    assert any("enabled now" in w for w in enabled_live_only.warnings)

    disabled_everywhere = _self_hosted_plan(desired_enabled=False, live_enabled=False)
    assert disabled_everywhere.warnings == []


def test_mapping_not_self_hosted_is_never_warned_about_being_enabled() -> None:
    s, m, mp = source(), model(), mapping()
    plan = compute_plan([s, m, mp], State(), LiveIndex())
    change = next(c for c in plan.changes if c.address == "mapping.identify")
    assert not any("self-hosted" in w for w in change.warnings)


def test_a_settings_key_removed_from_the_config_is_removed_not_ignored() -> None:
    s, m, mp = source(), model(), mapping()
    applied = {**mp.attributes, "modelId": "M1"}
    applied["settings"] = {**mp.attributes["settings"], "anonymous_id": {"@path": "$.properties.anon"}}
    live_settings = {**applied["settings"], "added_in_the_app": {"@path": "$.properties.x"}}
    live_mapping = LiveResource(
        Kind.mapping, "SUB1", {**applied, "settings": live_settings}, parent_id="dest1"
    )
    state = applied_state(
        (s, "S1", s.attributes), (m, "M1", {**m.attributes, "sourceId": "S1"}), (mp, "SUB1", applied)
    )
    plan = compute_plan([s, m, mp], state, live_with(live_source(), live_model(), live_mapping))
    change = next(c for c in plan.changes if c.address == "mapping.identify")
    assert change.action is Action.update
    # the key segprof applied is removed; the key someone added in the app is not segprof's to judge
    assert [(c.path, c.before, c.after) for c in change.changes] == [
        ("settings.anonymous_id", {"@path": "$.properties.anon"}, None)
    ]


def test_a_removed_settings_key_already_gone_live_is_no_change() -> None:
    s, m, mp = source(), model(), mapping()
    applied = {**mp.attributes, "modelId": "M1"}
    applied["settings"] = {**mp.attributes["settings"], "anonymous_id": {"@path": "$.properties.anon"}}
    live_mapping = LiveResource(Kind.mapping, "SUB1", {**mp.attributes, "modelId": "M1"}, parent_id="dest1")
    state = applied_state(
        (s, "S1", s.attributes), (m, "M1", {**m.attributes, "sourceId": "S1"}), (mp, "SUB1", applied)
    )
    plan = compute_plan([s, m, mp], state, live_with(live_source(), live_model(), live_mapping))
    assert not plan.has_changes


def test_markdown_code_blocks_survive_backticks_in_values() -> None:
    m = model(query="SELECT id FROM users -- see ```notes``` and ````more````")
    plan = compute_plan([source(), m], State(), LiveIndex())
    text = render_markdown(plan)
    block = text[text.index("model.users") :]
    opening = next(line for line in block.splitlines() if line.endswith("diff"))
    fence = opening[: -len("diff")]
    assert set(fence) == {"`"} and len(fence) == 5  # longer than the longest run inside
    inside = block[block.index(opening) + len(opening) : block.index("\n" + fence + "\n")]
    assert "````more````" in inside

"""Property-based tests of the config language and the payload builder: whatever the input, a
result or a clear error, and the payload carries exactly what the mapping says."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segprof.config.compile import compile_settings
from segprof.config.loader import load_project
from segprof.errors import SegprofError
from segprof.sync.messages.payloads import build_message

COLUMNS = ["user_id", "email", "plan", "score", "city", "signup_day"]
names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _project_yaml(traits: dict[str, str], on: list[str]) -> str:
    mapping = {
        "model": "users",
        "destination": "profiles",
        "action": "send_identify",
        "on": on,
        "fields": {"user_id": {"identifier": True}, "traits": traits},
    }
    return (
        "version: 1\n"
        "sources: {warehouse: {type: duckdb, path: w.duckdb}}\n"
        "models:\n  users:\n    identifier: user_id\n"
        f"    query: SELECT {', '.join(COLUMNS)} FROM users\n"
        "destinations: {profiles: {type: segment_profiles, write_key: wk_property_test_1}}\n"
        f"mappings:\n  m: {json.dumps(mapping)}\n"
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    traits=st.dictionaries(names, st.sampled_from(COLUMNS), min_size=1, max_size=6),
    on=st.lists(st.sampled_from(["new", "updated", "deleted"]), min_size=1, max_size=3, unique=True),
    row=st.fixed_dictionaries({c: json_scalars for c in COLUMNS}),
)
def test_a_compiled_mapping_sends_exactly_the_mapped_columns(traits, on, row) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "segprof.yaml").write_text(_project_yaml(traits, on))
        result = load_project(Path(tmp))
    assert result.project is not None and not [d for d in result.diagnostics if d.is_error], (
        result.diagnostics
    )
    project = result.project
    settings_ = compile_settings(
        project.mappings["m"], project.destinations["profiles"], project.models["users"]
    )
    event = {"event": "updated", "__segment_id": "id-1", "properties": row}
    try:
        message = build_message("send_identify", settings_, event, default_message_id="m-1")
    except SegprofError:
        return  # a record Segment would refuse is refused with a message, never a crash
    assert message["userId"] == "id-1"
    sent = message.get("traits", {})
    for key, column in traits.items():
        value = row[column]
        if value is None or value == "":
            continue  # Segment drops empty values from the payload
        assert sent.get(key) == value, (key, column, sent)
    assert set(sent) <= set(traits)
    assert "wk_property_test_1" not in json.dumps({k: v for k, v in message.items() if k != "context"})


@settings(max_examples=200, deadline=None)
@given(
    action=st.sampled_from(["send_identify", "send_group", "send_track", "send_subscription"]),
    props=st.dictionaries(st.text(max_size=12), json_values, max_size=8),
    paths=st.dictionaries(
        st.sampled_from(
            ["user_id", "anonymous_id", "group_id", "event_name", "email", "traits", "timestamp"]
        ),
        st.one_of(st.text(max_size=12), json_scalars),
        max_size=5,
    ),
)
def test_the_payload_builder_never_crashes(action, props, paths) -> None:
    settings_ = {
        k: ({"@path": f"$.properties.{v}"} if isinstance(v, str) and v else v) for k, v in paths.items()
    }
    event = {"event": "new", "__segment_id": "id-1", "properties": props}
    try:
        message = build_message(action, settings_, event, default_message_id="m-1")
    except SegprofError as err:
        assert str(err)
        return
    json.dumps(message)  # what is built can be sent


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=st.dictionaries(
        st.text(max_size=12),
        st.one_of(
            json_values,
            st.dictionaries(
                st.sampled_from(["column", "value", "template", "identifier"]), json_scalars, max_size=2
            ),
        ),
        max_size=6,
    )
)
def test_any_mapping_fields_load_to_a_project_or_located_diagnostics(fields) -> None:
    mapping = {"model": "users", "destination": "profiles", "action": "send_identify", "fields": fields}
    text = (
        _project_yaml({"e": "email"}, ["new"]).split("mappings:")[0]
        + f"mappings:\n  m: {json.dumps(mapping)}\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "segprof.yaml").write_text(text)
        from segprof.validate import validate_project

        report = validate_project(Path(tmp))
    for diagnostic in report.errors:
        assert diagnostic.location is not None and diagnostic.location.file == "segprof.yaml", diagnostic

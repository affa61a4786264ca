"""Nesting bounds: no reader of user input (YAML config, plan files, state, snapshots) can be driven
into Python's recursion limit; deep input ends in a located message, exit 1."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segprof.config.yamltree import MAX_DEPTH, parse_yaml
from tests.hostile.conftest import assert_clean_failure

DEEP = 3000  # far beyond Python's default recursion limit of 1000


def _flow(depth: int, opener: str = "[") -> str:
    closer = {"[": "]", "{a: ": "}"}[opener]
    return opener * depth + "1" + closer * depth


def _block(depth: int) -> str:
    # One-space indentation keeps a file thousands of levels deep small.
    return "\n".join(" " * (6 + i) + f"k{i}:" for i in range(depth)) + "\n" + " " * (6 + depth) + "v\n"


def test_deep_flow_value_is_a_located_error_in_validate_and_plan(project: Path, cli) -> None:
    config = project / "segprof.yaml"
    config.write_text(config.read_text().replace("plan: plan}", f"plan: plan, deep: {_flow(DEEP)}}}"))
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "deep:" in text)
    for command in ("validate", "plan"):
        outcome = cli(command, "-C", str(project))
        assert_clean_failure(outcome, f"segprof.yaml:{line}:", f"nested more than {MAX_DEPTH} levels deep")


def test_deep_block_keys_are_a_located_error(project: Path, cli) -> None:
    config = project / "segprof.yaml"
    config.write_text(config.read_text() + "      extra:\n" + _block(DEEP))
    outcome = cli("validate", "-C", str(project))
    assert_clean_failure(outcome, "segprof.yaml:", f"nested more than {MAX_DEPTH} levels deep")
    assert not (project / ".segprof").exists() or not any((project / ".segprof").rglob("state.json"))


def test_deeply_nested_query_is_a_located_sql_error(project: Path, cli) -> None:
    config = project / "segprof.yaml"
    deep_sql = "SELECT " + "(" * DEEP + "user_id" + ")" * DEEP + " AS user_id, email, plan FROM users"
    config.write_text(config.read_text().replace("SELECT user_id, email, plan FROM users", deep_sql))
    outcome = cli("validate", "-C", str(project))
    assert_clean_failure(outcome, "segprof.yaml:9:", "model.users")


def test_deep_plan_file_is_refused_cleanly(project: Path, cli, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text("[" * 100_000 + "]" * 100_000)
    outcome = cli("apply", str(plan_file), "-C", str(project))
    assert_clean_failure(outcome, str(plan_file), "nested too deeply")


def test_deep_state_file_is_refused_cleanly(project: Path, cli) -> None:
    assert cli("validate", "-C", str(project)).code == 0
    state = project / ".segprof" / "state.json"
    state.parent.mkdir(exist_ok=True)
    state.write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    outcome = cli("plan", "-C", str(project))
    assert_clean_failure(outcome, "state.json", "cannot read the state file")


def test_deep_schema_snapshot_is_refused_cleanly(project: Path, cli, tmp_path: Path) -> None:
    snapshot = tmp_path / "schema.json"
    snapshot.write_text(json.dumps({"tables": {}})[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    outcome = cli("validate", "-C", str(project), "--schema-snapshot", str(snapshot))
    assert_clean_failure(outcome, "nested too deeply")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    depth=st.integers(min_value=1, max_value=2 * MAX_DEPTH),
    openers=st.lists(st.sampled_from(["[", "{a: "]), min_size=1, max_size=4),
)
def test_yaml_depth_bound_is_exact(depth: int, openers: list[str]) -> None:
    """Any mix of flow sequences and mappings: an error exactly when deeper than the bound."""
    opener_seq = [openers[i % len(openers)] for i in range(depth)]
    closers = "".join({"[": "]", "{a: ": "}"}[o] for o in reversed(opener_seq))
    text = "x: " + "".join(opener_seq) + "1" + closers + "\n"
    root, diagnostics = parse_yaml(text, "f.yaml")
    too_deep = [d for d in diagnostics if d.code == "yaml.too_deep"]
    # the top-level mapping is one level: the value may nest MAX_DEPTH - 1 more
    assert bool(too_deep) == (depth + 1 > MAX_DEPTH)
    if too_deep:
        assert too_deep[0].location.file == "f.yaml" and too_deep[0].location.line == 1
    else:
        assert root is not None and not diagnostics


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("[]{}:,- \n\t'\"&*!|>#ab1")), max_size=400))
def test_yaml_loader_never_raises(text: str) -> None:
    """Arbitrary YAML-ish text: the loader returns a tree or located diagnostics, never an exception."""
    _root, diagnostics = parse_yaml(text, "f.yaml")
    for diagnostic in diagnostics:
        assert diagnostic.location.file == "f.yaml"

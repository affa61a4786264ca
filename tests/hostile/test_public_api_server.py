"""The Public API client against a misbehaving server on loopback: every exchange has a deadline
for the whole of it, and a run has its own; odd answers end in a clear message, exit 1."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.hostile.badserver import bad_server
from tests.hostile.conftest import assert_clean_failure
from tests.hostile.test_secrets_sweep import TOKEN, find_planted

FAST = {
    "SEGPROF_API_REQUEST_TIMEOUT": "1",
    "SEGPROF_API_CALL_DEADLINE": "3",
    "SEGPROF_API_RUN_DEADLINE": "4",
}


def _point_at(project: Path, url: str) -> None:
    config = project / "segprof.yaml"
    config.write_text(
        config.read_text().replace(
            "workspace: {backend: local}", f"workspace: {{backend: segment, token: {TOKEN}, api_url: '{url}'}}"
        )
    )


@pytest.mark.parametrize("mode", ["trickle", "stall"])
def test_a_server_that_never_finishes_cannot_hold_plan(project: Path, cli, mode: str) -> None:
    with bad_server(mode) as server:
        _point_at(project, server.url)
        started = time.monotonic()
        outcome = cli("plan", "-C", str(project), env=FAST)
        took = time.monotonic() - started
        assert server.requests, "the client never reached the server"
    assert_clean_failure(outcome, "gave up on GET")
    assert took < 4 + 3, f"plan took {took:.1f}s against a run deadline of 4s"
    assert not find_planted(outcome.text)


@pytest.mark.parametrize("mode", ["deep", "garbage"])
def test_a_body_that_is_not_json_is_a_clear_error(project: Path, cli, mode: str) -> None:
    with bad_server(mode) as server:
        _point_at(project, server.url)
        outcome = cli("plan", "-C", str(project), env=FAST)
    assert_clean_failure(outcome, "not a JSON object")


def test_an_echoed_bearer_token_is_scrubbed(project: Path, cli) -> None:
    with bad_server("echo") as server:
        _point_at(project, server.url)
        outcome = cli("plan", "-C", str(project), env=FAST)
        assert f"Bearer {TOKEN}" in server.requests[0].headers.get("Authorization", "")
    assert outcome.code == 1 and "Traceback" not in outcome.text
    assert not find_planted(outcome.text), outcome.text


@pytest.mark.parametrize("value", ["0", "-3", "soon", "nan", "inf"])
def test_a_bad_deadline_setting_is_named(project: Path, cli, value: str) -> None:
    _point_at(project, "http://127.0.0.1:9")
    outcome = cli("plan", "-C", str(project), env={"SEGPROF_API_RUN_DEADLINE": value})
    assert_clean_failure(outcome, "SEGPROF_API_RUN_DEADLINE must be a positive number of seconds")

"""PostgreSQL tests skip on a developer machine that cannot run the server, and fail under CI."""

from __future__ import annotations

import pytest

from tests.conftest import _cannot_run_postgres


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_ci_turns_a_missing_server_into_a_failure(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="initdb missing"):
        _cannot_run_postgres("initdb missing")


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_outside_ci_a_missing_server_skips(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match="initdb missing"):
        _cannot_run_postgres("initdb missing")


def test_ci_script_sets_ci():
    from tests.conftest import REPO_ROOT

    assert 'export CI="${CI:-true}"' in (REPO_ROOT / ".ci" / "run").read_text()

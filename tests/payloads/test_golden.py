"""build_message against the output of Segment's own Segment Profiles destination.

The fixtures under tests/fixtures/golden/ were written by tests/golden_tools/generate.js, which
runs the published @segment/action-destinations package over each (mapping, record) case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from segprof.sync.messages.actions import PayloadError
from segprof.sync.messages.compiled import compile_transform
from segprof.sync.messages.payloads import build_message
from segprof.sync.messages.resolve import MappingError, transform

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"


def _cases() -> list[Any]:
    params = []
    for path in sorted(GOLDEN.glob("send*.json")):
        doc = json.loads(path.read_text())
        for case in doc["cases"]:
            params.append(pytest.param(case, id=f"{case['action']}:{case['name']}"))
    return params


CASES = _cases()


def test_fixture_set_is_broad() -> None:
    actions = {p.values[0]["action"] for p in CASES}
    assert actions == {"sendIdentify", "sendGroup", "sendTrack", "sendSubscription"}
    assert len(CASES) >= 60
    assert sum("error" in p.values[0] for p in CASES) >= 15


@pytest.mark.parametrize("case", CASES)
def test_matches_segment(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(PayloadError) as info:
            build_message(case["action"], case["mapping"], case["event"], require_engage_space=True)
        assert info.value.message == case["error"]["message"]
        assert info.value.name == case["error"]["name"]
        if case["error"]["code"]:
            assert info.value.code == case["error"]["code"]
        return
    message = build_message(case["action"], case["mapping"], case["event"], require_engage_space=True)
    expected = case["output"]["batch"][0]
    assert message == expected
    # Key order too, at every level, as Segment's JSON has it.
    assert json.dumps(message) == json.dumps(expected)


@pytest.mark.parametrize("case", CASES)
def test_compiled_and_plain_resolution_agree(case: dict[str, Any]) -> None:
    try:
        plain: Any = transform(case["mapping"], case["event"])
    except MappingError as exc:
        plain = ("error", str(exc))
    try:
        compiled: Any = compile_transform(case["mapping"])(case["event"])
    except MappingError as exc:
        compiled = ("error", str(exc))
    assert json.dumps(compiled, default=repr) == json.dumps(plain, default=repr)

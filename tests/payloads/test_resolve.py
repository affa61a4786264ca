"""The mapping resolver: undefined vs null, path syntax, directive errors, no mutation."""

from __future__ import annotations

import copy

import pytest

from segprof.sync.messages.js_values import UNDEFINED, get_path, render_template
from segprof.sync.messages.resolve import MappingError, resolve, transform

EVENT = {
    "event": "updated",
    "__segment_id": "u_1",
    "properties": {
        "email": "jane@example.com",
        "nickname": None,
        "zero": 0,
        "tags": ["a", "b"],
        "odd key": "ok",
        "nested": {"deep": {"x": 1.5}},
        "emoji": "🎉x",
    },
}


def test_missing_is_undefined_and_null_is_null() -> None:
    assert resolve({"@path": "$.properties.missing"}, EVENT) is UNDEFINED
    assert resolve({"@path": "$.properties.nickname"}, EVENT) is None
    assert resolve({"@excludeWhenNull": {"@path": "$.properties.nickname"}}, EVENT) is UNDEFINED
    assert repr(UNDEFINED) == "UNDEFINED" and not UNDEFINED


def test_transform_drops_undefined_keeps_null() -> None:
    settings = {
        "user_id": {"@path": "$.__segment_id"},
        "gone": {"@path": "$.properties.missing"},
        "traits": {"nick": {"@path": "$.properties.nickname"}, "gone": {"@path": "$.nope"}, "lit": 3},
    }
    assert transform(settings, EVENT) == {"user_id": "u_1", "traits": {"nick": None, "lit": 3}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.properties.tags[1]", "b"),
        ("$.properties.tags.0", "a"),
        ("$.properties['odd key']", "ok"),
        ('$.properties["odd key"]', "ok"),
        ("properties.nested.deep.x", 1.5),
        ("$.properties.zero.anything", 0),  # JavaScript `prev && prev[key]` stops at a falsy value
        ("$.properties.nickname.anything", None),
        ("$.properties.tags.length", 2),
        ("$.properties.emoji.length", 3),  # UTF-16 code units, as in JavaScript
        ("$.properties.tags[5]", UNDEFINED),
        ("$.", EVENT),
    ],
)
def test_path_syntax(path: str, expected: object) -> None:
    result = resolve({"@path": path}, EVENT)
    assert result == expected if expected is not UNDEFINED else result is UNDEFINED


def test_template_renders_values_like_javascript() -> None:
    event = {
        "properties": {"n": 1.0, "f": 0.1 + 0.2, "b": False, "o": {"a": 1}, "l": [1, None, "x"], "z": None}
    }
    text = render_template("{{properties.n}}|{{properties.f}}|{{ properties.b }}|{{properties.o}}", event)
    assert text == "1|0.30000000000000004|false|[object Object]"
    assert render_template("{{properties.l}}/{{properties.z}}/{{properties.none}}", event) == "1,,x//"


@pytest.mark.parametrize("directive", ["@liquid", "@somethingNew"])
def test_unsupported_directive_is_named(directive: str) -> None:
    with pytest.raises(MappingError) as info:
        transform({"traits": {"x": {directive: "{{ properties.email }}"}}}, EVENT)
    assert directive in str(info.value)
    assert info.value.directive == directive


@pytest.mark.parametrize(
    ("mapping", "text"),
    [
        ({"@path": 5}, "@path: expected string, got number"),
        ({"@template": ["x"]}, "@template: expected string, got array"),
        ({"@if": {"then": 1}}, '@if requires an "exists" key or a "blank" key'),
        ({"@case": {"value": "x"}}, '@case requires a "operator" key'),
        ({"@replace": {"pattern": "abcdefghijk", "value": "x"}}, "less than 10 characters"),
        ({"@merge": {"direction": "right", "objects": {}}}, "@merge: expected opts.array, got object"),
        ({"@arrayPath": "$.x"}, "@arrayPath expected array, got string"),
    ],
)
def test_bad_directive_arguments(mapping: dict[str, object], text: str) -> None:
    with pytest.raises(MappingError) as info:
        resolve(mapping, EVENT)
    assert text in str(info.value)


def test_inputs_are_not_mutated() -> None:
    settings = {
        "traits": {
            "r": {"@replace": {"pattern": "a", "value": {"@path": "$.properties.email"}}},
            "m": {"@merge": {"direction": "left", "objects": [{"@path": "$.properties.nested"}, {"k": 1}]}},
            "e": {"@excludeWhenNull": {"@path": "$.properties"}},
        }
    }
    settings_before = copy.deepcopy(settings)
    event_before = copy.deepcopy(EVENT)
    result = transform(settings, EVENT)
    assert settings == settings_before
    assert event_before == EVENT
    assert "nickname" not in result["traits"]["e"]  # excludeWhenNull cleaned its copy only
    assert EVENT["properties"]["nickname"] is None


def test_get_path_on_non_containers() -> None:
    assert get_path(5, "a") is UNDEFINED
    assert get_path({"a": "xyz"}, "a.1") == "y"
    assert get_path({"a": 1}, None) is UNDEFINED


def test_compiled_exclude_when_null_equals_the_resolver() -> None:
    from decimal import Decimal

    from segprof.sync.messages.compiled import compile_transform

    event = copy.deepcopy(EVENT)
    event["properties"].update(
        {
            "empty": "",
            "false": False,
            "price": Decimal("12.50"),
            "obj": {"a": None, "b": {"c": None, "d": 2}, "e": [None, 1]},
            "list": [None, {"x": None}],
        }
    )
    keys = [*event["properties"], "missing"]
    mapping = {
        **{k: {"@excludeWhenNull": {"@path": f"$.properties.{k}"}} for k in keys},
        "literal": {"@excludeWhenNull": {"a": None, "b": {"@path": "$.properties.email"}}},
        "nested": {"inner": {"@excludeWhenNull": {"@path": "$.properties.nested"}}},
        "twice": {"@excludeWhenNull": {"@excludeWhenNull": {"@path": "$.properties.obj"}}},
        "with_metadata": {"@excludeWhenNull": {"@path": "$.properties.zero"}, "_metadata": {}},
    }
    compiled = compile_transform(mapping)(event)
    assert compiled == transform(mapping, event)
    assert "nickname" not in compiled and "missing" not in compiled
    assert compiled["obj"] == {"b": {"d": 2}, "e": [None, 1]}
    assert compiled["false"] is False and compiled["empty"] == "" and compiled["price"] == Decimal("12.50")

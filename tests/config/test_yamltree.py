"""The positioned YAML reader: YAML 1.2 scalars, refused constructs, and the same tree from
libyaml (the accelerator) and ruamel.yaml (the reference)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from segprof.config import yamltree
from segprof.config.yamltree import YMap, YScalar, YSeq, parse_yaml, to_python
from segprof.errors import Location

DOC = """\
a: "tab\\there é"
b: >-
  one
  two

  three
c: |+
  keep

d: plain
  continued
e: ~
f: 0x1F
g: 1e3
h: [yes, no, on, off, 010, 0o10]
i: !!str 5
on: {new: true}
"""


def dump(node: Any) -> Any:
    if isinstance(node, YScalar):
        return (node.value, node.loc, node.style, node.start, node.end)
    if isinstance(node, YSeq):
        return ("seq", node.loc, [dump(item) for item in node.items])
    if isinstance(node, YMap):
        return ("map", node.loc, {k: (dump(key), dump(v)) for k, (key, v) in node.entries.items()})
    return node


def test_yaml_12_core_schema_values() -> None:
    root, problems = parse_yaml(DOC, "f.yaml")
    assert problems == []
    data = to_python(root)
    assert data["a"] == "tab\there é"
    assert data["b"] == "one two\nthree"
    assert data["c"] == "keep\n\n"
    assert data["d"] == "plain continued"
    assert data["e"] is None and data["f"] == 31 and data["g"] == 1000.0
    # YAML 1.1 booleans and octals are plain strings / decimals in 1.2
    assert data["h"] == ["yes", "no", "on", "off", 10, 8]
    assert data["i"] == "5"
    assert data["on"] == {"new": True}
    assert isinstance(root, YMap) and root.key_loc("on") == Location("f.yaml", 17, 1)


def test_libyaml_and_ruamel_build_the_same_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("yaml")
    fast = parse_yaml(DOC, "f.yaml")
    monkeypatch.setenv("SEGPROF_YAML_PURE", "1")
    pure = parse_yaml(DOC, "f.yaml")
    assert dump(fast[0]) == dump(pure[0]) and fast[1] == pure[1]


@pytest.mark.parametrize(
    ("text", "code", "where"),
    [
        ("a: &x 1\nb: *x\n", "yaml.alias", (2, 4)),
        ("a: {x: 1}\nb:\n  <<: {y: 2}\n", "yaml.merge_key", (3, 3)),
        ("a: !include other.yaml\n", "yaml.tag", (1, 4)),
        ("a: 1\nb: 2\na: 3\n", "yaml.duplicate_key", (3, 1)),
        ("? [a, b]\n: 1\n", "yaml.complex_key", (1, 3)),
        ("a: 1\n---\nb: 2\n", "yaml.multiple_documents", (2, 1)),
        ("a:\n\tb: 1\n", "yaml.syntax", (2, 1)),
    ],
)
def test_refused_constructs(
    text: str, code: str, where: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    for pure in ("", "1"):
        monkeypatch.setenv("SEGPROF_YAML_PURE", pure)
        _, problems = parse_yaml(text, "f.yaml")
        assert [(p.code, (p.location.line, p.location.col)) for p in problems if p.location][:1] == [
            (code, where)
        ]


def test_alias_bomb_costs_nothing() -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefghi", "bcdefghij", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    started = time.perf_counter()
    root, problems = parse_yaml("\n".join(lines) + "\n", "bomb.yaml")
    assert time.perf_counter() - started < 1.0
    assert [p.code for p in problems] == ["yaml.alias"]
    assert "81 aliases" in problems[0].message
    assert to_python(root)["b"] == [None] * 9


def test_decode_reports_the_first_bad_byte() -> None:
    text, problems = yamltree.decode("a: 1\nb: caf\xe9\n".encode("latin-1"), "f.yaml")
    assert text is None and problems[0].location == Location("f.yaml", 2, 7)
    text, problems = yamltree.decode(b"\xef\xbb\xbfa: 1\n", "f.yaml")
    assert text == "a: 1\n" and problems == []

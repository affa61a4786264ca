"""A YAML document read into a small tree where every key and value knows its 1-based position.

Owns reading one YAML file's text into `YMap` / `YSeq` / `YScalar` nodes (YAML 1.2 core schema)
and reporting what is wrong with it as diagnostics. Must never raise on bad input and never
expand aliases: aliases, merge keys and custom tags are refused outright, so a "billion laughs"
document costs nothing and a config always reads as plainly as it is written.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from segprof.config.diagnostic import Diagnostic, error
from segprof.errors import Location

_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(inf|Inf|INF)$")
_NAN = re.compile(r"^\.(nan|NaN|NAN)$")
# Characters YAML allows in a stream; anything else means a binary or corrupted file.
#: Deepest nesting of mappings and sequences a config may use. Real configs stay under ten levels;
#: the bound keeps every reader of the tree (conversion, pydantic, the field compiler, validate)
#: far from Python's recursion limit, whatever a file holds.
MAX_DEPTH = 64
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass
class YScalar:
    value: Any
    loc: Location
    style: str | None = None
    start: int = 0  # character offsets of the token in the file text
    end: int = 0


@dataclass
class YSeq:
    items: list[YNode]
    loc: Location


@dataclass
class YMap:
    loc: Location
    # key → (key node, value node), in document order
    entries: dict[str, tuple[YScalar, YNode]] = field(default_factory=dict)

    def get(self, key: str) -> YNode | None:
        entry = self.entries.get(key)
        return entry[1] if entry else None

    def key_loc(self, key: str) -> Location | None:
        entry = self.entries.get(key)
        return entry[0].loc if entry else None


YNode = YScalar | YSeq | YMap


def to_python(node: YNode | None) -> Any:
    """Plain Python values of a tree (dicts, lists, scalars), for pydantic."""
    if node is None:
        return None
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [to_python(item) for item in node.items]
    return {key: to_python(value) for key, (_, value) in node.entries.items()}


def node_at(node: YNode | None, path: tuple[Any, ...]) -> tuple[YNode | None, Location | None]:
    """The node at `path` and the location of the last key on the way (items not in the tree are
    skipped, so pydantic's union tags in an error location do no harm)."""
    key_loc: Location | None = None
    for item in path:
        if isinstance(node, YMap) and isinstance(item, str) and item in node.entries:
            key_node, node = node.entries[item]
            key_loc = key_node.loc
        elif isinstance(node, YSeq) and isinstance(item, int) and 0 <= item < len(node.items):
            node = node.items[item]
        # anything else is a union tag or a path beyond the tree: skip it
    return node, key_loc


def resolve_plain(text: str) -> Any:
    """A plain (unquoted) scalar under the YAML 1.2 core schema."""
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT.match(text):
        return int(text)
    if _OCT.match(text):
        return int(text[2:], 8)
    if _HEX.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.match(text):
        return float("nan")
    return text


def position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


def decode(data: bytes, file: str) -> tuple[str | None, list[Diagnostic]]:
    """Strict UTF-8 text of a file, or a diagnostic at the first bad byte or binary character."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [
            error("yaml.encoding", "file is UTF-16; segprof reads UTF-8 only", Location(file, 1, 1))
        ]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        return None, [
            error(
                "yaml.encoding",
                f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                Location(file, line, col),
                hint="save the file as UTF-8",
            )
        ]
    bad = _NON_PRINTABLE.search(text)
    if bad:
        line, col = position(text, bad.start())
        return None, [
            error(
                "yaml.encoding",
                f"file contains the non-printable character U+{ord(bad.group()):04X}; is it a binary file?",
                Location(file, line, col),
            )
        ]
    return text, []


class _Builder:
    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.diagnostics: list[Diagnostic] = []

    def loc(self, mark: Any) -> Location:
        return Location(self.file, mark.line + 1, mark.column + 1)

    def build(self, events: Any) -> YNode | None:
        root: YNode | None = None
        documents = 0
        stack: list[YMap | YSeq] = []
        pending_key: list[YScalar | None] = []  # per open mapping: the key waiting for its value
        skip_depth = 0  # > 0 while skipping a complex (non-scalar) key
        aliases = 0
        first_alias: tuple[str, Location] | None = None
        too_deep = False

        def attach(node: YNode) -> None:
            nonlocal root
            if not stack:
                root = node
                return
            parent = stack[-1]
            if isinstance(parent, YSeq):
                parent.items.append(node)
                return
            key = pending_key[-1]
            if key is None:
                if not isinstance(node, YScalar):
                    self.diagnostics.append(
                        error("yaml.complex_key", "mapping keys must be plain names", node.loc)
                    )
                    pending_key[-1] = YScalar("\0invalid", node.loc)
                    return
                if node.value is None or node.value == "" or isinstance(node.value, (list, dict)):
                    self.diagnostics.append(error("yaml.complex_key", "empty mapping key", node.loc))
                    pending_key[-1] = YScalar("\0invalid", node.loc)
                    return
                if isinstance(node.value, bool):
                    node.value = "true" if node.value else "false"
                node.value = str(node.value)
                if node.value == "<<" and node.style is None:
                    self.diagnostics.append(
                        error(
                            "yaml.merge_key",
                            "YAML merge keys (<<) are not supported; write the keys out",
                            node.loc,
                        )
                    )
                    pending_key[-1] = YScalar("\0invalid", node.loc)
                    return
                pending_key[-1] = node
                return
            pending_key[-1] = None
            if key.value == "\0invalid":
                return
            first = parent.entries.get(key.value)
            if first is not None:
                self.diagnostics.append(
                    error(
                        "yaml.duplicate_key",
                        f"duplicate key `{key.value}` (first defined at {first[0].loc})",
                        key.loc,
                    )
                )
                return
            parent.entries[key.value] = (key, node)

        for event in events:
            kind = type(event).__name__
            if kind == "DocumentStartEvent":
                documents += 1
                if documents > 1:
                    self.diagnostics.append(
                        error(
                            "yaml.multiple_documents",
                            "only one YAML document per file is supported",
                            self.loc(event.start_mark),
                        )
                    )
                    break
                continue
            if skip_depth:
                if kind in ("MappingStartEvent", "SequenceStartEvent"):
                    skip_depth += 1
                elif kind in ("MappingEndEvent", "SequenceEndEvent"):
                    skip_depth -= 1
                continue
            if kind == "AliasEvent":
                aliases += 1
                if first_alias is None:
                    first_alias = (event.anchor, self.loc(event.start_mark))
                attach(YScalar(None, self.loc(event.start_mark)))
            elif kind == "ScalarEvent":
                attach(self.scalar(event))
            elif kind in ("MappingStartEvent", "SequenceStartEvent"):
                loc = self.loc(event.start_mark)
                if event.tag and not event.tag.endswith((":map", ":seq")):
                    self.diagnostics.append(error("yaml.tag", f"YAML tag {event.tag} is not supported", loc))
                if stack and isinstance(stack[-1], YMap) and pending_key[-1] is None:
                    self.diagnostics.append(
                        error("yaml.complex_key", "mapping keys must be plain names", loc)
                    )
                    pending_key[-1] = YScalar("\0invalid", loc)
                    skip_depth = 1
                    continue
                if len(stack) >= MAX_DEPTH:
                    # Skip the subtree: the file is in error either way, and nothing deeper is read.
                    if not too_deep:
                        too_deep = True
                        self.diagnostics.append(
                            error(
                                "yaml.too_deep",
                                f"nested more than {MAX_DEPTH} levels deep",
                                loc,
                                hint="a segprof config never needs this much nesting; flatten the value",
                            )
                        )
                    attach(YScalar(None, loc))
                    skip_depth = 1
                    continue
                node: YMap | YSeq = YMap(loc) if kind == "MappingStartEvent" else YSeq([], loc)
                attach(node)
                stack.append(node)
                pending_key.append(None)
            elif kind in ("MappingEndEvent", "SequenceEndEvent"):
                stack.pop()
                pending_key.pop()
        if first_alias is not None:
            more = f" ({aliases} aliases in this file)" if aliases > 1 else ""
            self.diagnostics.append(
                error(
                    "yaml.alias",
                    f"YAML aliases (*{first_alias[0]}) are not supported; write the value out{more}",
                    first_alias[1],
                    hint="segprof refuses anchors and aliases so a file always reads as written",
                )
            )
        return root

    def scalar(self, event: Any) -> YScalar:
        loc = self.loc(event.start_mark)
        start, end = event.start_mark.index, event.end_mark.index
        text = event.value
        tag = event.tag
        style = event.style or None  # PyYAML writes '' for plain scalars, ruamel None
        if tag and tag != "!":
            kind = tag.rsplit(":", 1)[-1] if tag.startswith(("tag:yaml.org,2002:", "!!")) else None
            if kind == "str":
                return YScalar(text, loc, style or "'", start, end)
            if kind in ("int", "float", "bool", "null"):
                value = resolve_plain(text)
                expected = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[kind]
                if isinstance(value, expected) and not (kind != "bool" and isinstance(value, bool)):
                    return YScalar(value, loc, style, start, end)
                self.diagnostics.append(error("yaml.tag", f"`{text}` is not a valid !!{kind}", loc))
                return YScalar(text, loc, style, start, end)
            self.diagnostics.append(error("yaml.tag", f"YAML tag {tag} is not supported", loc))
            return YScalar(text, loc, style, start, end)
        if style is None:
            return YScalar(resolve_plain(text), loc, None, start, end)
        return YScalar(text, loc, style, start, end)


def _fast_events(text: str) -> list[Any] | None:
    """The document's events from libyaml (through PyYAML's C parser) when it is installed and the
    text parses cleanly; None otherwise. It is an accelerator only (about 15x faster than the
    pure-Python parser on large projects): any problem is re-parsed and reported by ruamel.yaml,
    so diagnostics never depend on which parser is present."""
    if os.environ.get("SEGPROF_YAML_PURE"):
        return None
    try:
        import yaml
    except ImportError:
        return None
    if not getattr(yaml, "__with_libyaml__", False):
        return None
    try:
        return list(yaml.parse(text, Loader=yaml.CSafeLoader))
    except Exception:
        return None


def parse_yaml(text: str, file: str) -> tuple[YNode | None, list[Diagnostic]]:
    """Parse one file's text. Never raises; problems come back as diagnostics."""
    fast = _fast_events(text)
    if fast is not None:
        fast_builder = _Builder(text, file)
        try:
            return fast_builder.build(fast), fast_builder.diagnostics
        except Exception:  # never trust the accelerator over the reference parser
            pass
    # start-up cost: the reference parser loads only when the accelerator could not read the text
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    builder = _Builder(text, file)
    try:
        root = builder.build(YAML(typ="safe", pure=True).parse(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark is not None else Location(file)
        problem = exc.problem or exc.context or "invalid YAML"
        hint = None
        if "\\t" in problem or "\t" in problem or "tab" in problem.lower():
            hint = "YAML indentation must use spaces, not tabs"
        elif exc.context:
            hint = f"{exc.context}" + (
                f" (line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
                if exc.context_mark is not None
                else ""
            )
        return None, [*builder.diagnostics, error("yaml.syntax", f"invalid YAML: {problem}", loc, hint=hint)]
    except (YAMLError, RecursionError, ValueError, TypeError, IndexError, AttributeError) as exc:
        message = type(exc).__name__ if isinstance(exc, RecursionError) else str(exc).splitlines()[0][:200]
        return None, [*builder.diagnostics, error("yaml.syntax", f"invalid YAML: {message}", Location(file))]
    return root, builder.diagnostics

"""Translate pydantic validation errors into diagnostics placed in the user's YAML.

Owns the stable diagnostic codes for structural problems (`schema.unknown_key`, `schema.type`,
…), the did-you-mean suggestions, and finding which keys were allowed where a key was unknown.
Must never echo the rejected input of a secret field: messages use keys and allowed values only.
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError

from segprof.config.diagnostic import Diagnostic, error
from segprof.config.fields import ACTION_FIELDS, ALL_FIELD_KEYS
from segprof.config.yamltree import YMap, YNode, node_at
from segprof.errors import Location


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return match[0] if match else None


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    best = suggest(word, choices)
    if best:
        return f"did you mean `{best}`?"
    return "valid keys: " + ", ".join(choices)


def _tag_of(tp: Any) -> str | None:
    if get_origin(tp) is Annotated:
        for meta in get_args(tp)[1:]:
            if isinstance(meta, Tag):
                return meta.tag
    return None


def model_at(tp: Any, path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class found by following an error location from `tp`."""
    origin = get_origin(tp)
    if origin is Annotated:
        return model_at(get_args(tp)[0], path)
    if origin in (Union, types.UnionType):
        members = get_args(tp)
        if path:
            for member in members:
                if _tag_of(member) == path[0]:
                    return model_at(member, path[1:])
        for member in members:
            found = model_at(member, path)
            if found is not None:
                return found
        return None
    if not path:
        return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None
    head, rest = path[0], path[1:]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, info in tp.model_fields.items():
            if head in (name, info.alias):
                return model_at(info.annotation, rest)
        return None
    if origin is dict:
        return model_at(get_args(tp)[1], rest)
    if origin is list:
        return model_at(get_args(tp)[0], rest)
    return None


def clean_loc(tp: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """An error location without pydantic's union tags, i.e. only the keys the YAML has."""
    origin = get_origin(tp)
    if origin is Annotated:
        return clean_loc(get_args(tp)[0], loc)
    if origin in (Union, types.UnionType):
        members = get_args(tp)
        if loc:
            for member in members:
                if _tag_of(member) == loc[0]:
                    return clean_loc(member, loc[1:])
        for member in members:
            if member is type(None):
                continue
            return clean_loc(member, loc)
        return loc
    if not loc:
        return loc
    head, rest = loc[0], loc[1:]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, info in tp.model_fields.items():
            if head in (name, info.alias):
                return (head, *clean_loc(info.annotation, rest))
        return loc
    if origin is dict:
        return (head, *clean_loc(get_args(tp)[1], rest))
    if origin is list:
        return (head, *clean_loc(get_args(tp)[0], rest))
    return loc


def allowed_keys(cls: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in cls.model_fields.items()]


_TYPE_ERRORS = ("_type", "_parsing", "is_instance_of")


def _code(kind: str) -> str:
    if "." in kind:
        return kind
    if kind == "extra_forbidden":
        return "schema.unknown_key"
    if kind == "missing":
        return "schema.missing_key"
    if kind in ("literal_error", "enum"):
        return "schema.enum"
    if kind.endswith(_TYPE_ERRORS):
        return "schema.type"
    return "schema.invalid"


def _dotted(node: YNode | None, loc: tuple[Any, ...]) -> str:
    """The error location as the user wrote it (union tags that are not in the YAML dropped)."""
    parts: list[str] = []
    for item in loc:
        if isinstance(node, YMap) and isinstance(item, str) and item in node.entries:
            parts.append(item)
            node = node.entries[item][1]
        elif isinstance(item, int):
            parts.append(f"[{item}]")
            node = node.items[item] if hasattr(node, "items") and item < len(node.items) else None  # type: ignore[union-attr]
        elif item == loc[-1]:
            parts.append(str(item))
    text = ".".join(parts).replace(".[", "[")
    return text or "value"


def diagnostics_from(
    exc: ValidationError,
    cls: type[BaseModel],
    node: YNode | None,
    resource_loc: Location | None,
    address: str | None,
    *,
    action: str | None = None,
) -> list[Diagnostic]:
    """Diagnostics for every error pydantic found while validating `node` as `cls`."""
    out: list[Diagnostic] = []
    for err in exc.errors(include_url=False, include_input=True):
        raw_loc = tuple(err["loc"])
        loc = clean_loc(cls, raw_loc)
        kind = err["type"]
        code = _code(kind)
        found, key_loc = node_at(node, loc)
        where = (found.loc if found is not None and loc else None) or key_loc or resource_loc
        hint: str | None = None
        if kind == "extra_forbidden":
            key = str(loc[-1])
            where = key_loc or resource_loc
            if action is not None and loc[:1] == ("fields",) and len(loc) == 2:
                valid = ACTION_FIELDS.get(action, ALL_FIELD_KEYS)
                if key == "engage_space":
                    code = "action.engage_space"
                    message = "`engage_space` is never written: it comes from the destination's `write_key`"
                    hint = "remove it and set `write_key` on the destination"
                else:
                    code = "action.unknown_field"
                    message = f"`{key}` is not a field of {action}"
                    best = suggest(key, valid)
                    hint = (f"did you mean `{best}`? " if best else "") + "valid fields: " + ", ".join(valid)
            else:
                owner = model_at(cls, raw_loc[:-1])
                choices = allowed_keys(owner) if owner is not None else []
                message = f"unknown key `{key}`"
                hint = did_you_mean(key, choices) if choices else None
        elif kind == "missing":
            parent, parent_key = node_at(node, loc[:-1])
            where = (parent_key if loc[:-1] else None) or resource_loc
            if loc[:-1] and parent is not None and not isinstance(parent, YMap):
                where = parent.loc
            message = f"missing required key `{loc[-1]}`"
        elif kind == "literal_error":
            expected = str(err.get("ctx", {}).get("expected", ""))
            value = err.get("input")
            message = f"`{_dotted(node, loc)}` must be one of {expected}"
            if isinstance(value, str):
                message += f" (got `{value[:60]}`)"
                choices = [part.strip(" '") for part in expected.replace(" or ", ", ").split(",")]
                best = suggest(value, choices)
                hint = f"did you mean `{best}`?" if best else None
        elif kind == "field.invalid" and isinstance(err.get("input"), dict):
            keys = list(err["input"])
            message = f"`{_dotted(node, loc)}`: {err['msg']}"
            bad = next((k for k in keys if k not in ("column", "value", "template", "identifier")), None)
            if bad is not None:
                hint = did_you_mean(str(bad), ["column", "value", "template", "identifier", "sync_nulls"])
        elif "." in kind:
            message = str(err["msg"])
        else:
            message = f"`{_dotted(node, loc)}`: {err['msg']}"
        out.append(error(code, message, where, address=address, hint=hint))
    return out

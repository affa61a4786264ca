"""Environments: one project deployed to several workspaces (dev, staging, prod).

Owns which environment is selected (`--env NAME`, else the SEGPROF_ENV variable) and laying its
overrides (`environments.<NAME>` in segprof.yaml) over the parsed YAML before validation, so
every overridden value keeps the file and line it was written at. Must never read files or the
network, and never let an environment override what identifies a resource (a source's `type`,
any resource's address): the overrides are connection values, keys, names' suffix and the state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from segprof.config.diagnostic import Diagnostic, error
from segprof.config.models import Environment
from segprof.config.pydantic_errors import diagnostics_from
from segprof.config.yamltree import YMap, YNode, YScalar, to_python
from segprof.errors import Location

ENV_VARIABLE = "SEGPROF_ENV"
_selected: str | None = None  # `--env NAME` of this run (the CLI's root option sets it)


def select(name: str | None) -> None:
    """The environment named on the command line (None: read SEGPROF_ENV)."""
    global _selected
    _selected = name or None


@contextlib.contextmanager
def selected(name: str | None) -> Iterator[None]:
    """Select `name` for the block (tests, and callers loading another project's environment)."""
    previous = _selected
    select(name)
    try:
        yield
    finally:
        select(previous)


def selected_name(environ: MappingABC[str, str]) -> str | None:
    return _selected or (environ.get(ENV_VARIABLE) or "").strip() or None


@dataclass
class Applied:
    name: str | None = None
    suffix: str = ""


def _merge(base: YNode | None, override: YMap, loc: Location) -> YMap:
    """`override`'s keys over `base`'s (a missing or empty base counts as an empty mapping)."""
    entries = dict(base.entries) if isinstance(base, YMap) else {}
    entries.update(override.entries)
    return YMap(loc=base.loc if isinstance(base, YMap) else loc, entries=entries)


def apply_environment(
    root: YMap | None,
    entries: dict[str, dict[str, Any]],
    environ: MappingABC[str, str],
    diagnostics: list[Diagnostic],
) -> Applied:
    """Lay the selected environment over `root` (segprof.yaml) and the resources' `entries`.

    `entries` maps "sources"/"destinations" to name → an object with a `.node` (the resource's
    YAML mapping), replaced in place by the merged one.
    """
    name = selected_name(environ)
    block = root.get("environments") if root is not None else None
    declared = block.entries if isinstance(block, YMap) else {}
    if isinstance(block, YMap):
        _check_all(block, diagnostics)
    if name is None:
        return Applied()
    if name not in declared:
        known = ", ".join(sorted(declared)) or "none"
        diagnostics.append(
            error(
                "environment.unknown",
                f"environment `{name}` (from --env or {ENV_VARIABLE}) is not declared under "
                f"`environments:` in segprof.yaml (declared: {known})",
                (root.key_loc("environments") if root is not None else None)
                or Location("segprof.yaml", 1, 1),
                address=f"environments.{name}",
            )
        )
        return Applied(name=name, suffix=f" [{name}]")
    assert root is not None
    name_node, env = declared[name]
    if not isinstance(env, YMap):
        return Applied(name=name, suffix=f" [{name}]")
    for key in ("workspace", "state"):
        override = env.get(key)
        if isinstance(override, YMap):
            _override_root(root, key, override)
    # the state of each environment is its own: `key` defaults to the environment's name
    state_override = env.get("state")
    if not (isinstance(state_override, YMap) and "key" in state_override.entries):
        default_key = {"key": (YScalar("key", name_node.loc), YScalar(name, name_node.loc))}
        _override_root(root, "state", YMap(loc=name_node.loc, entries=default_key))
    for kind, forbidden in (("sources", {"type"}), ("destinations", set())):
        overrides = env.get(kind)
        if not isinstance(overrides, YMap):
            continue
        for resource, (resource_key, override) in overrides.entries.items():
            entry = entries[kind].get(resource)
            singular = kind[:-1]
            if entry is None:
                diagnostics.append(
                    error(
                        "environment.unknown_resource",
                        f"environment `{name}` overrides {singular} `{resource}`, which the project does not declare",
                        resource_key.loc,
                        address=f"{singular}.{resource}",
                    )
                )
                continue
            if not isinstance(override, YMap):
                continue
            for key in sorted(forbidden & set(override.entries)):
                diagnostics.append(
                    error(
                        "environment.forbidden_override",
                        f"an environment cannot change a {singular}'s `{key}`",
                        override.entries[key][0].loc,
                        address=f"{singular}.{resource}",
                    )
                )
            allowed = {k: v for k, v in override.entries.items() if k not in forbidden}
            entry.node = _merge(entry.node, YMap(loc=override.loc, entries=allowed), override.loc)
    suffix_node = env.get("name_suffix")
    suffix = f" [{name}]"
    if isinstance(suffix_node, YScalar) and isinstance(suffix_node.value, str):
        suffix = suffix_node.value
    return Applied(name=name, suffix=suffix)


def _override_root(root: YMap, key: str, override: YMap) -> None:
    """segprof.yaml's `key` (workspace, state) with `override`'s keys laid over it."""
    key_node, base = root.entries.get(key, (YScalar(key, override.loc), None))
    root.entries[key] = (key_node, _merge(base, override, override.loc))


def _check_all(block: YMap, diagnostics: list[Diagnostic]) -> None:
    """Every declared environment is well formed, and no two share a name suffix."""
    suffixes: dict[str, str] = {}
    for env_name, (key_node, body) in block.entries.items():
        address = f"environments.{env_name}"
        try:
            env = Environment.model_validate(to_python(body) or {})
        except ValidationError as exc:
            diagnostics.extend(diagnostics_from(exc, Environment, body, key_node.loc, address))
            continue
        suffix = env.name_suffix if env.name_suffix is not None else f" [{env_name}]"
        other = suffixes.get(suffix)
        if other is not None:
            diagnostics.append(
                error(
                    "environment.same_names",
                    f"environments `{other}` and `{env_name}` give resources the same names "
                    f"(name_suffix {suffix!r}): sharing a workspace, each would take over the other's",
                    key_node.loc,
                    address=address,
                    hint="give each environment its own name_suffix",
                )
            )
        suffixes[suffix] = env_name


def _last_line(node: YNode) -> int:
    lines = [node.loc.line or 0]
    if isinstance(node, YMap):
        lines += [_last_line(value) for _, value in node.entries.values()]
    elif not isinstance(node, YScalar):
        lines += [_last_line(item) for item in node.items]
    return max(lines)


def unselected_unset(
    root: YMap | None, selected_env: str | None, found: list[Diagnostic]
) -> list[Diagnostic]:
    """`found` without the unset-variable errors inside environments not selected: a variable
    only staging reads need not be set to plan prod."""
    block = root.get("environments") if root is not None else None
    if not isinstance(block, YMap):
        return found
    spans = [
        (key.loc.line or 0, _last_line(body))
        for env_name, (key, body) in block.entries.items()
        if env_name != selected_env
    ]

    def inside(d: Diagnostic) -> bool:
        line = d.location.line if d.location is not None else None
        return (
            d.code == "env.unset"
            and d.location is not None
            and d.location.file == "segprof.yaml"
            and line is not None
            and any(start <= line <= end for start, end in spans)
        )

    return [d for d in found if not inside(d)]

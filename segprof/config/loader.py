"""Loading a project folder: collect its resources from every YAML file and build the `Project`.

Owns `load_project` (project + diagnostics, never raising for bad input), name and duplicate
checks, `${VAR}` interpolation and environments applied in order, and assembling the `Project`
(files are read by `reading`, entries validated by `resources`). Must never execute SQL, touch
the network, or put a secret in a diagnostic.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segprof.config.dbt_models import resolve_dbt_models
from segprof.config.diagnostic import Diagnostic, error, warning
from segprof.config.env import Interpolator, read_dotenv
from segprof.config.environments import Applied, apply_environment, selected_name, unselected_unset
from segprof.config.models import NAME_PATTERN, Destination, Mapping, Model, Project
from segprof.config.paths import PathProblem, allowed_roots, resolve_inside
from segprof.config.pydantic_errors import did_you_mean
from segprof.config.reading import PROJECT_FILE, File, discover, read_file
from segprof.config.resources import KIND_SINGULAR, Entry, ResourceValidator
from segprof.config.yamltree import YMap, YNode, YScalar, parse_yaml
from segprof.errors import Location, SegprofError
from segprof.redaction import remember

KINDS = ("sources", "models", "destinations", "mappings")
ROOT_ONLY = ("version", "workspace", "state", "dbt", "environments")
_NAME = re.compile(NAME_PATTERN)


@dataclass
class LoadResult:
    """A loaded project (None when there is no segprof.yaml) and every problem found."""

    project: Project | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.project is not None and not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


class _Loader(ResourceValidator):
    def __init__(self, root: Path, environ: MappingABC[str, str], dbt_state: Path | None = None) -> None:
        self.root = root
        self.environ = environ
        self.dbt_state = dbt_state
        self.diagnostics: list[Diagnostic] = []
        self.entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self.files: list[File] = []
        self.roots = allowed_roots(root, environ)
        self.environment = Applied()

    def load(self) -> LoadResult:
        dotenv, problems = read_dotenv(self.root / ".env")
        self.diagnostics.extend(problems)
        interpolator = Interpolator(self.environ, dotenv)
        for path in discover(self.root):
            rel = self.rel(path)
            try:
                resolve_inside(path, self.roots)
            except PathProblem as problem:
                # A symlinked YAML file may not bring in text from outside the project either.
                self.diagnostics.append(
                    error("yaml.unreadable", f"cannot read file: {problem}", Location(rel))
                )
                self.files.append(File(rel, path, "", None, set()))
                continue
            read = read_file(path, rel, self.diagnostics)
            if read is None:
                self.files.append(File(rel, path, "", None, set()))
                continue
            text, defused = read
            node, problems = parse_yaml(text, rel)
            self.diagnostics.extend(problems)
            if node is None and not problems:
                if rel == PROJECT_FILE:
                    self.diagnostics.append(
                        error(
                            "yaml.empty",
                            "segprof.yaml is empty; it needs at least `version: 1`",
                            Location(rel, 1, 1),
                        )
                    )
                else:
                    self.diagnostics.append(warning("yaml.empty", "file is empty", Location(rel, 1, 1)))
            if node is not None and not isinstance(node, YMap):
                self.diagnostics.append(
                    error(
                        "schema.top_level",
                        "the top level of a segprof file must be a mapping of keys",
                        node.loc,
                    )
                )
                node = None
            if node is not None:
                self.diagnostics.extend(interpolator.apply(node, text))
            file = File(rel, path, text, node, defused)
            self.files.append(file)
            if node is not None:
                self.collect(file, node)
        root_file = next((f for f in self.files if f.rel == PROJECT_FILE), None)
        root_node = root_file.root if root_file else None
        self.diagnostics = unselected_unset(root_node, selected_name(self.environ), self.diagnostics)
        self.environment = apply_environment(root_node, self.entries, self.environ, self.diagnostics)
        project = self.build()
        if any(m.dbt is not None for m in project.models.values()):
            self.diagnostics.extend(resolve_dbt_models(project, self.dbt_state))
        return LoadResult(project, self.diagnostics)

    # --- collecting resources ---------------------------------------------------------------

    def collect(self, file: File, node: YMap) -> None:
        is_root = file.rel == PROJECT_FILE
        allowed = (*ROOT_ONLY, *KINDS) if is_root else KINDS
        for key, (key_node, value) in node.entries.items():
            if key in allowed:
                if key in KINDS:
                    self.collect_kind(file, key, key_node, value)
                continue
            if key in ROOT_ONLY:
                self.diagnostics.append(
                    error(
                        "project.misplaced_key",
                        f"`{key}` belongs in segprof.yaml only",
                        key_node.loc,
                        hint="other files may only add sources, models, destinations and mappings",
                    )
                )
                continue
            self.diagnostics.append(
                error(
                    "schema.unknown_key",
                    f"unknown top-level key `{key}`",
                    key_node.loc,
                    hint=did_you_mean(key, allowed),
                )
            )

    def collect_kind(self, file: File, kind: str, key_node: YScalar, value: YNode) -> None:
        if isinstance(value, YScalar) and value.value is None:
            return
        if not isinstance(value, YMap):
            self.diagnostics.append(
                error("schema.type", f"`{kind}` must be a mapping of name → {KIND_SINGULAR[kind]}", value.loc)
            )
            return
        singular = KIND_SINGULAR[kind]
        for name, (name_node, body) in value.entries.items():
            address = f"{singular}.{name}"
            if not _NAME.match(name):
                self.diagnostics.append(
                    error(
                        "name.invalid",
                        f"invalid {singular} name `{name}`",
                        name_node.loc,
                        address=address,
                        hint="names start with a lowercase letter and use only a-z, 0-9 and _ (at most 63)",
                    )
                )
            first = self.entries[kind].get(name)
            if first is not None:
                self.diagnostics.append(
                    error(
                        "name.duplicate",
                        f"{singular} `{name}` is defined twice: here and at {first.key.loc}",
                        name_node.loc,
                        address=address,
                    )
                )
                continue
            self.entries[kind][name] = Entry(kind, name, name_node, body, file)

    def build(self) -> Project:
        version, workspace, ws_node = self.workspace()
        state, state_node = self.state()
        dbt, dbt_node = self.dbt()
        sources = {n: s for n, e in self.entries["sources"].items() if (s := self.source(e)) is not None}
        models = {n: m for n, e in self.entries["models"].items() if (m := self.model(e)) is not None}
        destinations = {
            n: d
            for n, e in self.entries["destinations"].items()
            if isinstance(d := self.validate(e, Destination), Destination)
        }
        mappings: dict[str, Mapping] = {}
        for name, entry in self.entries["mappings"].items():
            action_node = entry.node.get("action") if isinstance(entry.node, YMap) else None
            action = action_node.value if isinstance(action_node, YScalar) else None
            mapping = self.validate(entry, Mapping, action=action if isinstance(action, str) else None)
            if isinstance(mapping, Mapping):
                mappings[name] = mapping
        # `source:` may be omitted when exactly one source is declared (valid or not)
        declared = list(self.entries["sources"])
        only = declared[0] if len(declared) == 1 else None
        for resource in (*models.values(), *destinations.values()):
            assert isinstance(resource, (Model, Destination))
            resource._source_name = resource.source or only
        project = Project.model_construct(
            version=version,
            workspace=workspace,
            state=state,
            dbt=dbt,
            sources=sources,
            models=models,
            destinations=destinations,
            mappings=mappings,
        )
        project._root = self.root
        project._files = [f.rel for f in self.files]
        project._workspace_node = ws_node
        project._state_node = state_node
        project._dbt_node = dbt_node
        project._environment = self.environment.name
        project._name_suffix = self.environment.suffix
        # every declared name, including ones that failed validation (so references to them
        # are not reported as unknown a second time)
        project._declared = {kind: set(self.entries[kind]) for kind in KINDS}
        _remember_secrets((workspace, *sources.values(), *destinations.values()))
        return project


def _remember_secrets(resources: tuple[Any, ...]) -> None:
    """Register every credential the project holds, so no output or written file can show it."""
    from pydantic import SecretStr

    for resource in resources:
        for value in vars(resource).values():
            if isinstance(value, SecretStr):
                remember(value.get_secret_value())


def load_project(
    path: Path, environ: MappingABC[str, str] | None = None, *, dbt_state: Path | None = None
) -> LoadResult:
    """Load the project in folder `path` (or the folder of `path` when it is segprof.yaml).

    `dbt_state` is production's dbt manifest (or its folder), overriding `dbt.state`.

    Never raises for bad input: every problem is a diagnostic. `project` is None only when there
    is no segprof.yaml; otherwise it holds every resource that validated, so callers must check
    `ok` before acting on it.
    """
    path = Path(path)
    root = path.parent if path.is_file() else path
    root = root.resolve()
    if not (root / PROJECT_FILE).is_file():
        return LoadResult(
            None,
            [
                error(
                    "project.missing",
                    f"no {PROJECT_FILE} in {path}",
                    Location(PROJECT_FILE),
                    hint="run segprof in the project folder or pass -C <folder>",
                )
            ],
        )
    return _Loader(root, os.environ if environ is None else environ, dbt_state).load()


def load_project_or_raise(path: Path, environ: MappingABC[str, str] | None = None) -> Project:
    """The project, or a SegprofError naming the first problem (for commands that need a valid project)."""
    result = load_project(path, environ)
    if result.ok and result.project is not None:
        return result.project
    first = result.errors[0]
    more = len(result.errors) - 1
    hint = first.hint
    if more:
        hint = (f"{hint}; " if hint else "") + f"{more} more problem(s): run `segprof validate`"
    raise SegprofError(first.message, address=first.address, location=first.location, hint=hint)

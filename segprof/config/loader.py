"""Loading a project folder: find its YAML files, read them safely, and build the `Project`.

Owns `load_project` (project + diagnostics, never raising for bad input), the file discovery
rules, name and duplicate checks, `${VAR}` interpolation and reading model SQL (inline or
`query_file`). Must never execute SQL, touch the network, or put a secret in a diagnostic.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from segprof.config.dbt_models import resolve_dbt_models
from segprof.config.diagnostic import Diagnostic, error, warning
from segprof.config.env import Interpolator, read_dotenv
from segprof.config.environments import Applied, apply_environment, selected_name, unselected_unset
from segprof.config.models import (
    NAME_PATTERN,
    SOURCE_CLASSES,
    SOURCE_TYPES,
    DbtSettings,
    Destination,
    Mapping,
    Model,
    Project,
    Resource,
    SourceBase,
    StateSettings,
    Workspace,
)
from segprof.config.paths import PathProblem, allowed_roots, resolve_inside
from segprof.config.pydantic_errors import diagnostics_from, did_you_mean, suggest
from segprof.config.sqltext import SqlText
from segprof.config.yamltree import YMap, YNode, YScalar, decode, parse_yaml, to_python
from segprof.errors import Location, SegprofError
from segprof.redaction import remember

PROJECT_FILE = "segprof.yaml"
MAX_QUERY_CHARS = 65_535
MAX_FILE_BYTES = 16 * 1024 * 1024
KINDS = ("sources", "models", "destinations", "mappings")
ROOT_ONLY = ("version", "workspace", "state", "dbt", "environments")
_NAME = re.compile(NAME_PATTERN)
_KIND_SINGULAR = {
    "sources": "source",
    "models": "model",
    "destinations": "destination",
    "mappings": "mapping",
}
_LONG_KEY = re.compile(r"^( *)(?:- +)?([A-Za-z_][\w-]*) *: *(.*)$")


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


@dataclass
class _File:
    rel: str
    path: Path
    text: str
    root: YMap | None
    defused: set[int]  # lines whose over-long value was blanked before parsing


@dataclass
class _Entry:
    kind: str
    name: str
    key: YScalar
    node: YNode
    file: _File


def discover(root: Path) -> list[Path]:
    """segprof.yaml, then every other *.yaml / *.yml below the folder (hidden folders skipped)."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or not name.endswith((".yaml", ".yml")):
                continue
            path = Path(folder) / name
            if path == root / PROJECT_FILE:
                continue
            found.append(path)
    return [root / PROJECT_FILE, *found]


def _defuse_long_values(text: str, rel: str) -> tuple[str, set[int], list[Diagnostic]]:
    """Blank out values longer than Segment's query limit before parsing, so a multi-megabyte
    query costs milliseconds instead of seconds; the length is reported at its key."""
    if len(text) <= MAX_QUERY_CHARS:
        return text, set(), []
    lines = text.split("\n")
    defused: set[int] = set()
    diagnostics: list[Diagnostic] = []
    index = 0
    while index < len(lines):
        match = _LONG_KEY.match(lines[index])
        if not match:
            index += 1
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3)
        length = len(rest)
        end = index + 1
        if rest[:1] in ("|", ">") or (rest == "" and key == "query"):
            while end < len(lines) and (
                not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip(" ")) > indent
            ):
                length += len(lines[end]) + 1
                end += 1
        if length > MAX_QUERY_CHARS:
            col = lines[index].index(key) + 1
            code = "sql.too_long" if key == "query" else "yaml.value_too_long"
            diagnostics.append(
                error(
                    code,
                    f"`{key}` is about {length:,} characters long; "
                    f"Segment accepts at most {MAX_QUERY_CHARS:,}",
                    Location(rel, index + 1, col),
                    hint="move logic into a view in the warehouse and select from it",
                )
            )
            prefix = lines[index][: len(lines[index]) - len(rest)]
            lines[index] = prefix + '""'
            for blank in range(index + 1, end):
                lines[blank] = ""
            defused.add(index + 1)
        index = max(end, index + 1)
    return "\n".join(lines), defused, diagnostics


def _read(path: Path, rel: str, diagnostics: list[Diagnostic]) -> tuple[str, set[int]] | None:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            diagnostics.append(
                error(
                    "yaml.file_too_large",
                    f"file is {size:,} bytes; segprof reads at most 16 MiB",
                    Location(rel),
                )
            )
            return None
        data = path.read_bytes()
    except OSError as exc:
        diagnostics.append(error("yaml.unreadable", f"cannot read file: {exc.strerror}", Location(rel)))
        return None
    text, problems = decode(data, rel)
    diagnostics.extend(problems)
    if text is None:
        return None
    text, defused, problems = _defuse_long_values(text, rel)
    diagnostics.extend(problems)
    return text, defused


class _Loader:
    def __init__(self, root: Path, environ: MappingABC[str, str], dbt_state: Path | None = None) -> None:
        self.root = root
        self.environ = environ
        self.dbt_state = dbt_state
        self.diagnostics: list[Diagnostic] = []
        self.entries: dict[str, dict[str, _Entry]] = {kind: {} for kind in KINDS}
        self.files: list[_File] = []
        self.roots = allowed_roots(root, environ)
        self.environment = Applied()

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

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
                self.diagnostics.append(error("yaml.unreadable", f"cannot read file: {problem}", Location(rel)))
                self.files.append(_File(rel, path, "", None, set()))
                continue
            read = _read(path, rel, self.diagnostics)
            if read is None:
                self.files.append(_File(rel, path, "", None, set()))
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
            file = _File(rel, path, text, node, defused)
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

    def collect(self, file: _File, node: YMap) -> None:
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

    def collect_kind(self, file: _File, kind: str, key_node: YScalar, value: YNode) -> None:
        if isinstance(value, YScalar) and value.value is None:
            return
        if not isinstance(value, YMap):
            self.diagnostics.append(
                error(
                    "schema.type", f"`{kind}` must be a mapping of name → {_KIND_SINGULAR[kind]}", value.loc
                )
            )
            return
        singular = _KIND_SINGULAR[kind]
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
            self.entries[kind][name] = _Entry(kind, name, name_node, body, file)

    # --- validating resources -------------------------------------------------------------------

    def validate(self, entry: _Entry, cls: type[BaseModel], **extra: Any) -> Resource | None:
        address = f"{_KIND_SINGULAR[entry.kind]}.{entry.name}"
        if not isinstance(entry.node, YMap):
            self.diagnostics.append(
                error("schema.type", f"{address} must be a mapping of keys", entry.node.loc, address=address)
            )
            return None
        try:
            resource = cls.model_validate(to_python(entry.node))
        except ValidationError as exc:
            self.diagnostics.extend(diagnostics_from(exc, cls, entry.node, entry.key.loc, address, **extra))
            return None
        assert isinstance(resource, Resource)
        resource.attach(entry.name, entry.key.loc, entry.node)
        return resource

    def source(self, entry: _Entry) -> SourceBase | None:
        address = f"source.{entry.name}"
        node = entry.node
        if isinstance(node, YMap):
            type_node = node.get("type")
            if type_node is None:
                self.diagnostics.append(
                    error(
                        "schema.missing_key",
                        "missing required key `type`",
                        entry.key.loc,
                        address=address,
                        hint="one of: " + ", ".join(SOURCE_TYPES),
                    )
                )
                return None
            value = type_node.value if isinstance(type_node, YScalar) else None
            if value not in SOURCE_CLASSES:
                best = suggest(str(value), SOURCE_TYPES) if isinstance(value, str) else None
                self.diagnostics.append(
                    error(
                        "schema.enum",
                        f"unknown source type `{value}`; expected one of: " + ", ".join(SOURCE_TYPES),
                        type_node.loc,
                        address=address,
                        hint=f"did you mean `{best}`?" if best else None,
                    )
                )
                return None
            cls = SOURCE_CLASSES[value]
        else:
            cls = SOURCE_CLASSES["duckdb"]
        resource = self.validate(entry, cls)
        return resource if isinstance(resource, SourceBase) else None

    def model(self, entry: _Entry) -> Model | None:
        resource = self.validate(entry, Model)
        if not isinstance(resource, Model):
            return None
        assert isinstance(entry.node, YMap)
        query_node = entry.node.get("query")
        file_node = entry.node.get("query_file")
        address = resource.address
        has_query = resource.query is not None
        has_file = resource.query_file is not None
        if resource.dbt is not None:
            if has_query or has_file:
                key = "query" if has_query else "query_file"
                self.diagnostics.append(
                    error(
                        "model.query_conflict",
                        f"give either `dbt` (a dbt model) or `{key}`, not both",
                        entry.node.key_loc(key),
                        address=address,
                    )
                )
            return resource  # its query comes from the dbt manifest, once every model is read
        if resource.identifier is None:
            self.diagnostics.append(
                error(
                    "schema.missing_key",
                    "missing required key `identifier`",
                    entry.key.loc,
                    address=address,
                    hint="the column that identifies each record uniquely",
                )
            )
        if has_query and has_file:
            self.diagnostics.append(
                error(
                    "model.query_conflict",
                    "give either `query` or `query_file`, not both",
                    entry.node.key_loc("query_file"),
                    address=address,
                )
            )
            return resource
        if not has_query and not has_file:
            self.diagnostics.append(
                error(
                    "model.query_missing",
                    "a model needs `query` (inline SQL) or `query_file` (a .sql file)",
                    entry.key.loc,
                    address=address,
                )
            )
            return resource
        if has_query and isinstance(query_node, YScalar):
            key_loc = entry.node.key_loc("query")
            if key_loc is not None and key_loc.line in entry.file.defused:
                return resource  # already reported as too long
            sql = SqlText.from_scalar(query_node, entry.file.text)
            if len(sql.text) > MAX_QUERY_CHARS:
                self.diagnostics.append(self._too_long(len(sql.text), key_loc, address))
                return resource
            resource._sql = sql
        elif has_file and isinstance(file_node, YScalar):
            resource._sql = self.read_sql(str(resource.query_file), entry.file, file_node.loc, address)
        return resource

    def _too_long(self, length: int, where: Location | None, address: str) -> Diagnostic:
        return error(
            "sql.too_long",
            f"the query is {length:,} characters long; Segment accepts at most {MAX_QUERY_CHARS:,}",
            where,
            address=address,
            hint="move logic into a view in the warehouse and select from it",
        )

    def read_sql(self, name: str, file: _File, where: Location, address: str) -> SqlText | None:
        try:
            path = resolve_inside(file.path.parent / name, self.roots)
        except PathProblem as problem:
            self.diagnostics.append(
                error(
                    "model.query_file_outside" if "outside" in str(problem) else "model.query_file_unreadable",
                    f"query file `{name}`: {problem}",
                    where,
                    address=address,
                )
            )
            return None
        if not path.is_file():
            self.diagnostics.append(
                error(
                    "model.query_file_missing",
                    f"query file `{name}` not found",
                    where,
                    address=address,
                    hint="the path is relative to the YAML file that declares the model",
                )
            )
            return None
        try:
            if path.stat().st_size > MAX_QUERY_CHARS * 4:
                # more bytes than any 65,535-character UTF-8 text can take: refuse without reading
                self.diagnostics.append(self._too_long(path.stat().st_size, where, address))
                return None
            data = path.read_bytes()
        except OSError as exc:
            self.diagnostics.append(
                error(
                    "model.query_file_unreadable",
                    f"cannot read `{name}`: {exc.strerror}",
                    where,
                    address=address,
                )
            )
            return None
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        rel = self.rel(path)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            before = data[: exc.start]
            line = before.count(b"\n") + 1
            col = len(before) - (before.rfind(b"\n") + 1) + 1
            self.diagnostics.append(
                error(
                    "sql.encoding", "query file is not valid UTF-8", Location(rel, line, col), address=address
                )
            )
            return None
        if "\x00" in text:
            self.diagnostics.append(
                error(
                    "sql.encoding",
                    "query file contains NUL bytes; is it a binary file?",
                    Location(rel, 1, 1),
                    address=address,
                )
            )
            return None
        if len(text) > MAX_QUERY_CHARS:
            self.diagnostics.append(self._too_long(len(text), Location(rel, 1, 1), address))
            return None
        return SqlText.from_file(text, rel)

    def workspace(self) -> tuple[int, Workspace, Any]:
        root_file = next((f for f in self.files if f.rel == PROJECT_FILE), None)
        node = root_file.root if root_file else None
        if node is None:
            return 1, Workspace(), None
        version_node = node.get("version")
        if version_node is None:
            self.diagnostics.append(
                error(
                    "schema.missing_key",
                    "missing required key `version` (write `version: 1`)",
                    Location(PROJECT_FILE, 1, 1),
                )
            )
        elif not (
            isinstance(version_node, YScalar)
            and version_node.value == 1
            and not isinstance(version_node.value, bool)
        ):
            self.diagnostics.append(
                error(
                    "schema.enum",
                    "`version` must be 1",
                    version_node.loc,
                    hint="this segprof reads version 1 projects",
                )
            )
        ws_node = node.get("workspace")
        if ws_node is None or (isinstance(ws_node, YScalar) and ws_node.value is None):
            return 1, Workspace(), None
        try:
            return 1, Workspace.model_validate(to_python(ws_node)), ws_node
        except ValidationError as exc:
            self.diagnostics.extend(
                diagnostics_from(exc, Workspace, ws_node, node.key_loc("workspace"), "workspace")
            )
            return 1, Workspace(), ws_node

    def state(self) -> tuple[StateSettings, Any]:
        root_file = next((f for f in self.files if f.rel == PROJECT_FILE), None)
        node = root_file.root if root_file else None
        state_node = node.get("state") if node is not None else None
        if state_node is None or (isinstance(state_node, YScalar) and state_node.value is None):
            return StateSettings(), None
        assert node is not None
        try:
            return StateSettings.model_validate(to_python(state_node)), state_node
        except ValidationError as exc:
            self.diagnostics.extend(
                diagnostics_from(exc, StateSettings, state_node, node.key_loc("state"), "state")
            )
            return StateSettings(), state_node

    def dbt(self) -> tuple[DbtSettings | None, Any]:
        root_file = next((f for f in self.files if f.rel == PROJECT_FILE), None)
        node = root_file.root if root_file else None
        dbt_node = node.get("dbt") if node is not None else None
        if dbt_node is None or (isinstance(dbt_node, YScalar) and dbt_node.value is None):
            return None, None
        assert node is not None
        try:
            return DbtSettings.model_validate(to_python(dbt_node)), dbt_node
        except ValidationError as exc:
            self.diagnostics.extend(diagnostics_from(exc, DbtSettings, dbt_node, node.key_loc("dbt"), "dbt"))
            return None, dbt_node

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

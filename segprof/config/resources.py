"""Validating a project's collected entries into typed resources and root settings.

Owns `ResourceValidator`: checking each entry against its pydantic class (sources by `type`),
a model's SQL (inline `query` or a `query_file` read from inside the project, with Segment's
length limit), and the root settings `version`, `workspace`, `state` and `dbt`. Must never
execute SQL, touch the network, or put a secret in a diagnostic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from segprof.config.diagnostic import Diagnostic, error
from segprof.config.models import (
    SOURCE_CLASSES,
    SOURCE_TYPES,
    DbtSettings,
    Model,
    Resource,
    SourceBase,
    StateSettings,
    Workspace,
)
from segprof.config.paths import PathProblem, resolve_inside
from segprof.config.pydantic_errors import diagnostics_from, suggest
from segprof.config.reading import MAX_QUERY_CHARS, PROJECT_FILE, File
from segprof.config.sqltext import SqlText
from segprof.config.yamltree import YMap, YNode, YScalar, to_python
from segprof.errors import Location

KIND_SINGULAR = {
    "sources": "source",
    "models": "model",
    "destinations": "destination",
    "mappings": "mapping",
}


@dataclass
class Entry:
    kind: str
    name: str
    key: YScalar
    node: YNode
    file: File


class ResourceValidator:
    """Turns collected entries into resources; problems go to `diagnostics`, never raised."""

    root: Path
    roots: list[Path]
    files: list[File]
    diagnostics: list[Diagnostic]

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def validate(self, entry: Entry, cls: type[BaseModel], **extra: Any) -> Resource | None:
        address = f"{KIND_SINGULAR[entry.kind]}.{entry.name}"
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

    def source(self, entry: Entry) -> SourceBase | None:
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

    def model(self, entry: Entry) -> Model | None:
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

    def read_sql(self, name: str, file: File, where: Location, address: str) -> SqlText | None:
        try:
            path = resolve_inside(file.path.parent / name, self.roots)
        except PathProblem as problem:
            self.diagnostics.append(
                error(
                    "model.query_file_outside"
                    if "outside" in str(problem)
                    else "model.query_file_unreadable",
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

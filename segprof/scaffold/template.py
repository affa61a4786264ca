"""The quickstart template shipped inside the package.

Owns: where the template lives, which files it holds, the name each file takes in a project
(package data cannot carry dotfiles, so `gitignore.txt` becomes `.gitignore`), and the
`yaml-language-server` `$schema` comment at the top of every YAML file segprof writes, pointing
at the project's own copy of the schema by a relative path (it resolves offline; editors read a
relative `$schema` from the file's folder). Must never write files or build the warehouse;
callers decide where and how the files land.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from segprof.config.jsonschema import schema_text

#: The project's copy of the JSON Schema (`segprof init` writes it; `segprof schema` refreshes it).
SCHEMA_FILE = PurePosixPath("segprof.schema.json")
#: The `$schema` value of a root-level file of a project made by `segprof init`.
SCHEMA_URL = SCHEMA_FILE.as_posix()
#: The `$schema` value in the committed `examples/quickstart`, pointing at `schemas/` in this repo.
EXAMPLE_SCHEMA_REF = "../../schemas/segprof.schema.json"

SCHEMA_COMMENT = "# yaml-language-server: $schema="
PROJECT_FILE = PurePosixPath("segprof.yaml")
BUILD_SQL = PurePosixPath("warehouse/build.sql")
WAREHOUSE_FILE = PurePosixPath("warehouse.duckdb")
GITIGNORE = PurePosixPath(".gitignore")
README = PurePosixPath("README.md")

# Template name → project name, for files packaging would drop under their real names.
RENAMES = {
    PurePosixPath("gitignore.txt"): GITIGNORE,
    PurePosixPath("env.example.txt"): PurePosixPath(".env.example"),
}


@dataclass(frozen=True)
class TemplateFile:
    """One file of a project made from the template: its path inside the project and its bytes."""

    path: PurePosixPath
    content: bytes


def template_root() -> Traversable:
    """The packaged quickstart template."""
    return resources.files("segprof.scaffold") / "quickstart"


def template_files(
    schema_ref: str = SCHEMA_URL, root: Traversable | Path | None = None
) -> list[TemplateFile]:
    """Every file of the quickstart project, sorted by path, each YAML file's `$schema` comment
    pointing at `schema_ref` (a path from the project root, made relative to the file's folder).

    `root` replaces the packaged template (a folder laid out the same way).
    """
    files: list[TemplateFile] = []
    for rel, node in _walk(root if root is not None else template_root(), PurePosixPath()):
        path = RENAMES.get(rel, rel)
        content = node.read_bytes()
        if path.suffix in (".yaml", ".yml"):
            content = with_schema_ref(content, schema_ref_from(path.parent, schema_ref))
        files.append(TemplateFile(path, content))
    return sorted(files, key=lambda f: f.path.as_posix())


def schema_ref_from(folder: PurePosixPath, schema_ref: str = SCHEMA_URL) -> str:
    """`schema_ref` (relative to the project root) as seen from `folder` (relative to the root)."""
    if "://" in schema_ref:
        return schema_ref
    depth = len([part for part in folder.parts if part not in ("", ".")])
    return "../" * depth + schema_ref


def schema_comment(folder: PurePosixPath) -> str:
    """The first line of a YAML file segprof writes in `folder` (relative to the project root)."""
    return f"{SCHEMA_COMMENT}{schema_ref_from(folder)}"


def schema_comment_at(project_root: Path, yaml_dir: Path) -> str:
    """The `$schema` comment for a YAML file written in `yaml_dir`, pointing at the root's copy."""
    target = os.path.relpath(Path(project_root).resolve() / SCHEMA_FILE, Path(yaml_dir).resolve())
    return f"{SCHEMA_COMMENT}{PurePosixPath(*Path(target).parts).as_posix()}"


def schema_copy() -> TemplateFile:
    """The project's copy of the JSON Schema, as `segprof schema` prints it."""

    return TemplateFile(SCHEMA_FILE, schema_text().encode("utf-8"))


def with_schema_ref(content: bytes, schema_ref: str) -> bytes:
    """A YAML file with its first-line `$schema` comment set to `schema_ref` (added if missing)."""
    text = content.decode("utf-8")
    first, sep, rest = text.partition("\n")
    line = f"{SCHEMA_COMMENT}{schema_ref}"
    if first.startswith(SCHEMA_COMMENT):
        return f"{line}{sep}{rest}".encode()
    return f"{line}\n{text}".encode()


def _walk(node: Traversable | Path, rel: PurePosixPath) -> list[tuple[PurePosixPath, Traversable | Path]]:
    found: list[tuple[PurePosixPath, Traversable | Path]] = []
    for child in node.iterdir():
        if child.name == "__pycache__" or child.name.startswith("."):
            continue
        child_rel = rel / child.name
        if child.is_dir():
            found.extend(_walk(child, child_rel))
        else:
            found.append((child_rel, child))
    return found

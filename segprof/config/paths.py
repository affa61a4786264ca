"""Where the files a project names may live.

Owns the rule that files a configuration points at (`query_file`, YAML files found in the folder)
stay inside the project folder, unless the runner of segprof allows more folders through the
environment variable `SEGPROF_ALLOWED_DIRS` (folders separated by the OS path separator, `:` on
Linux). Must never read a file: it only decides whether a path may be read.

Why the environment and not the YAML: the YAML comes from pull requests, and a pull request must not
be able to make CI read `/etc/…` or a runner's credentials file and send it to Segment as a query.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ALLOWED_DIRS_VARIABLE = "SEGPROF_ALLOWED_DIRS"


class PathProblem(Exception):
    """Why a named path cannot be used; the message is safe to show."""


def allowed_roots(root: Path, environ: Mapping[str, str]) -> list[Path]:
    """The project folder, then every folder the runner allows (resolved)."""
    roots = [root.resolve()]
    for entry in environ.get(ALLOWED_DIRS_VARIABLE, "").split(os.pathsep):
        if entry.strip():
            roots.append(Path(entry.strip()).expanduser().resolve())
    return roots


def resolve_inside(path: Path, roots: list[Path]) -> Path:
    """`path` with every symlink followed, if it lies inside one of `roots`; else `PathProblem`."""
    try:
        real = path.resolve(strict=False)
    except (RuntimeError, OSError) as err:  # a symlink loop (RuntimeError before Python 3.13)
        raise PathProblem(f"cannot follow `{path.name}`: a symbolic link loop") from err
    if not any(real == r or real.is_relative_to(r) for r in roots):
        raise PathProblem(
            "the path leads outside the project folder; "
            f"allow its folder with {ALLOWED_DIRS_VARIABLE} in the environment that runs segprof"
        )
    return real

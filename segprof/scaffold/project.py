"""`segprof init`: a new project from the quickstart template, written all at once or not at all.

Owns: deciding whether a folder may receive the template (refusing an existing project or
clashing files unless forced), staging the files and the demo warehouse in a hidden folder on
the same file system, and moving them into place with a rollback if a move fails. Must never
leave a half-written project, replace a user's file without `force` (except adding lines to a
`.gitignore`), or write anywhere but the target folder and a hidden staging folder (inside the
target, or inside its nearest existing parent while the target does not exist yet).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from segprof.errors import SegprofError
from segprof.scaffold.template import (
    BUILD_SQL,
    GITIGNORE,
    PROJECT_FILE,
    README,
    SCHEMA_URL,
    WAREHOUSE_FILE,
    TemplateFile,
    schema_copy,
    template_files,
)
from segprof.scaffold.warehouse import WarehouseSummary, build_warehouse

STAGING_PREFIX = ".segprof-init-"


@dataclass(frozen=True)
class InitResult:
    """What `init_project` wrote: the files (project-relative), those it replaced, the warehouse."""

    directory: Path
    files: list[PurePosixPath]
    replaced: list[PurePosixPath] = field(default_factory=list)
    warehouse: WarehouseSummary | None = None
    kept: list[PurePosixPath] = field(default_factory=list)  # the folder's own, left as they were
    merged: list[PurePosixPath] = field(default_factory=list)  # the folder's own, with our lines added


def init_project(
    directory: Path,
    *,
    force: bool = False,
    with_warehouse: bool = True,
    schema_ref: str = SCHEMA_URL,
    template: Path | None = None,
) -> InitResult:
    """Create the quickstart project in `directory` (created if missing) and build its warehouse.

    Refuses a folder that already holds `segprof.yaml`, or any file the template would replace,
    unless `force`; other files in the folder are left alone. A folder's own `.gitignore` gains
    the template's missing lines and its own `README.md` is kept (replaced only with `force`), so
    that a fresh Git repository can take the quickstart. `template` replaces the packaged
    template (a folder laid out the same way).
    """
    template_set = template_files(schema_ref=schema_ref, root=template)
    if schema_ref == SCHEMA_URL:  # the files point at the project's own copy: write it
        template_set.append(schema_copy())
    files, kept, merged = _fit_to_folder(directory, template_set, force=force)
    targets = [f.path for f in files] + ([WAREHOUSE_FILE] if with_warehouse else [])
    _check_target(directory, targets, force=force, mergeable=merged)
    with StagedFolder(directory) as stage:
        for item in files:
            dest = stage.path / item.path
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(item.content)
            except OSError as err:
                raise SegprofError(f"cannot write in {directory}: {err.strerror or err}") from None
        summary = None
        if with_warehouse:
            summary = build_warehouse(
                _text(files, BUILD_SQL), stage.path / WAREHOUSE_FILE, sql_file=str(BUILD_SQL)
            )
        replaced = stage.commit(targets)
    return InitResult(
        directory=directory,
        files=targets,
        replaced=[rel for rel in replaced if rel not in merged],
        warehouse=summary,
        kept=kept,
        merged=merged,
    )


def _fit_to_folder(
    directory: Path, files: list[TemplateFile], *, force: bool
) -> tuple[list[TemplateFile], list[PurePosixPath], list[PurePosixPath]]:
    """Adapt the template to files the folder already has: merge `.gitignore`, keep `README.md`."""
    fitted: list[TemplateFile] = []
    kept: list[PurePosixPath] = []
    merged: list[PurePosixPath] = []
    for item in files:
        existing = directory / item.path
        if not existing.is_file():
            fitted.append(item)
        elif item.path == GITIGNORE:
            try:
                theirs = existing.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                fitted.append(item)  # unreadable: an ordinary clash
                continue
            content = _merge_ignore_lines(theirs, item.content.decode("utf-8"))
            if content == theirs:
                kept.append(item.path)
            else:
                fitted.append(TemplateFile(item.path, content.encode("utf-8")))
                merged.append(item.path)
        elif item.path == README and not force:
            kept.append(item.path)
        else:
            fitted.append(item)
    return fitted, kept, merged


def _merge_ignore_lines(theirs: str, ours: str) -> str:
    have = {line.strip() for line in theirs.splitlines()}
    missing = [line for line in ours.splitlines() if line.strip() and not line.startswith("#")]
    missing = [line for line in missing if line.strip() not in have]
    if not missing:
        return theirs
    head = theirs if theirs.endswith("\n") or not theirs else theirs + "\n"
    return head + "\n# segprof\n" + "\n".join(missing) + "\n"


def rebuild_warehouse(directory: Path, *, force: bool = False) -> WarehouseSummary:
    """Build `directory/warehouse.duckdb` from `directory/warehouse/build.sql` (for a cloned project).

    An existing warehouse file is replaced only with `force`, since that also drops the sync
    history kept inside it.
    """
    if not directory.is_dir():
        raise SegprofError(f"{directory} is not a folder")
    build_sql = directory / BUILD_SQL
    if not build_sql.is_file():
        raise SegprofError(
            f"{build_sql} not found; --warehouse-only rebuilds the demo warehouse of a project made "
            "by `segprof init`",
        )
    _check_target(directory, [WAREHOUSE_FILE], force=force, project_ok=True)
    try:
        sql = build_sql.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SegprofError(f"cannot read {build_sql}: {err}") from None
    with StagedFolder(directory) as stage:
        summary = build_warehouse(
            sql,
            stage.path / WAREHOUSE_FILE,
            sql_file=str(build_sql),
            hint=f"fix the SQL, then run `segprof init --warehouse-only --force {directory}` again",
        )
        stage.commit([WAREHOUSE_FILE])
    return summary


def _text(files: list[TemplateFile], path: PurePosixPath) -> str:
    for item in files:
        if item.path == path:
            return item.content.decode("utf-8")
    raise SegprofError(f"the template has no {path}")


def _check_target(
    directory: Path,
    targets: list[PurePosixPath],
    *,
    force: bool,
    project_ok: bool = False,
    mergeable: list[PurePosixPath] | None = None,
) -> None:
    """Refuse before anything is written: a file in the way of the folder, an existing project, clashes."""
    if directory.exists() and not directory.is_dir():
        raise SegprofError(f"{directory} is a file, not a folder")
    for parent in directory.parents:
        if parent.exists():
            if not parent.is_dir():
                raise SegprofError(f"{parent} is a file, not a folder")
            break
    if not directory.exists():
        return
    if not project_ok and (directory / PROJECT_FILE).exists() and not force:
        raise SegprofError(
            f"{directory} already holds a segprof project ({PROJECT_FILE})",
            hint="choose a new or empty folder, or add --force to overwrite the quickstart files there",
        )
    for rel in targets:
        dest = directory / rel
        if dest.is_dir() and not dest.is_symlink():
            raise SegprofError(f"{dest} is a folder; the quickstart needs a file there")
        for parent in list(rel.parents)[:-1]:
            blocker = directory / parent
            if blocker.exists() and not blocker.is_dir():
                raise SegprofError(f"{blocker} is a file; the quickstart needs a folder there")
    clashes = [
        rel
        for rel in targets
        if ((directory / rel).exists() or (directory / rel).is_symlink()) and rel not in (mergeable or [])
    ]
    if clashes and not force:
        shown = ", ".join(rel.as_posix() for rel in clashes[:5])
        more = f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
        raise SegprofError(
            f"{directory} already has {shown}{more}",
            hint="add --force to overwrite them (other files are left alone), or choose another folder",
        )


class StagedFolder:
    """A hidden folder on the target's file system; `commit` moves its files into the target.

    If the target folder does not exist, the staging folder is created in its nearest existing
    parent and renamed into place whole. Otherwise files move one by one; replaced files are kept
    aside until every move succeeded, and put back if one fails.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.root: Path | None = None
        self.path = Path()

    def __enter__(self) -> StagedFolder:
        anchor = self.directory
        while not anchor.exists():
            anchor = anchor.parent
        try:
            self.root = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=anchor))
        except OSError as err:
            raise SegprofError(f"cannot write in {anchor}: {err.strerror or err}") from None
        self.path = self.root / "project"
        self.path.mkdir()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def commit(self, targets: list[PurePosixPath]) -> list[PurePosixPath]:
        """Move `targets` from staging into the folder; return those that replaced existing files."""
        if not self.directory.exists():
            return self._commit_whole()
        return commit_files(self.path, self.directory, targets, backup_dir=self._backup_dir())

    def _backup_dir(self) -> Path:
        assert self.root is not None
        return self.root / "replaced"

    def _commit_whole(self) -> list[PurePosixPath]:
        created: list[Path] = []
        missing = [p for p in self.directory.parents if not p.exists()]
        try:
            for parent in reversed(missing):
                parent.mkdir()
                created.append(parent)
            os.rename(self.path, self.directory)
        except OSError as err:
            for parent in reversed(created):
                _quiet_rmdir(parent)
            raise SegprofError(f"cannot create {self.directory}: {err.strerror or err}") from None
        return []


def commit_files(
    source: Path, directory: Path, targets: list[PurePosixPath], *, backup_dir: Path
) -> list[PurePosixPath]:
    """Move each of `targets` from `source` into `directory`, all or nothing.

    A file already at a target is first moved into `backup_dir` (same file system). If any move
    fails, every placed file is removed, every replaced file put back, and every folder this call
    created removed; then a SegprofError is raised. Returns the targets that replaced a file.
    """
    placed: list[tuple[Path, Path | None]] = []
    created: list[Path] = []
    replaced: list[PurePosixPath] = []
    dest = directory
    try:
        for rel in targets:
            dest = directory / rel
            for parent in reversed(list(rel.parents)[:-1]):
                folder = directory / parent
                if not folder.exists():
                    folder.mkdir()
                    created.append(folder)
            backup = None
            if dest.exists() or dest.is_symlink():
                backup = backup_dir / rel
                backup.parent.mkdir(parents=True, exist_ok=True)
                os.replace(dest, backup)
                replaced.append(rel)
            placed.append((dest, backup))
            os.replace(source / rel, dest)
    except OSError as err:
        for done, backup in reversed(placed):
            if backup is not None and (backup.exists() or backup.is_symlink()):
                os.replace(backup, done)
            elif backup is None:
                done.unlink(missing_ok=True)
        for folder in reversed(created):
            _quiet_rmdir(folder)
        raise SegprofError(f"could not write {dest}: {err.strerror or err}; nothing was changed") from None
    return replaced


def _quiet_rmdir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def ensure_schema_copy(project_root: Path) -> PurePosixPath | None:
    """Write the project's copy of the JSON Schema if it has none; returns it when written."""
    copy = schema_copy()
    target = Path(project_root) / copy.path
    if target.exists():
        return None
    try:
        target.write_bytes(copy.content)
    except OSError as err:
        raise SegprofError(f"cannot write {target}: {err.strerror or err}") from None
    return copy.path

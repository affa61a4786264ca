"""`segprof init`: a working project in a new or empty folder, refusals, and nothing half-written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import duckdb
import pytest

from segprof.errors import SegprofError
from segprof.scaffold.project import STAGING_PREFIX, commit_files, init_project
from segprof.scaffold.template import RENAMES, SCHEMA_URL, template_files, template_root

REPO = Path(__file__).resolve().parents[2]


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path below `folder` with its bytes (None for folders)."""
    return {
        p.relative_to(folder).as_posix(): (None if p.is_dir() else p.read_bytes()) for p in folder.rglob("*")
    }


def _leftovers(*folders: Path) -> list[Path]:
    return [
        p
        for folder in folders
        if folder.exists()
        for p in folder.iterdir()
        if p.name.startswith(STAGING_PREFIX)
    ]


def test_init_into_an_empty_folder(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "demo"
    target.mkdir()
    result = run_cli("init", str(target))
    assert result.exit_code == 0, result.output
    written = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    expected = {f.path.as_posix() for f in template_files()} | {"warehouse.duckdb", "segprof.schema.json"}
    assert written == expected
    assert {".gitignore", ".env.example", "segprof.yaml", "mappings.yaml", "warehouse/build.sql"} <= written
    for item in template_files():
        assert (target / item.path).read_bytes() == item.content
    assert (target / "segprof.yaml").read_text().splitlines()[
        0
    ] == f"# yaml-language-server: $schema={SCHEMA_URL}"
    con = duckdb.connect(str(target / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM users").fetchall()[0][0] >= 10_000
    finally:
        con.close()
    assert f"segprof validate -C {target}" in result.stdout
    assert "users 12,000" in result.stdout
    assert not _leftovers(tmp_path, target)


def test_init_creates_missing_parents_and_defaults_to_the_current_folder(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b" / "c"
    done = init_project(nested, with_warehouse=False)
    assert (nested / "segprof.yaml").is_file() and done.warehouse is None
    assert not _leftovers(tmp_path, tmp_path / "a", tmp_path / "a" / "b")

    here = tmp_path / "here"
    here.mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "segprof", "init"],
        cwd=here,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert (here / "segprof.yaml").is_file() and (here / "warehouse.duckdb").is_file()
    assert "segprof validate  " in run.stdout and " -C " not in run.stdout


def test_refuses_an_existing_project_without_force(run_cli, tmp_path: Path) -> None:
    (tmp_path / "segprof.yaml").write_text("version: 1\n# mine\n")
    (tmp_path / "notes.txt").write_text("keep me")
    before = _snapshot(tmp_path)
    result = run_cli("init", str(tmp_path))
    assert result.exit_code == 1
    assert "already holds a segprof project" in result.stderr and "--force" in result.stderr
    assert "Traceback" not in result.output
    assert _snapshot(tmp_path) == before


def test_refuses_clashing_files_without_force(run_cli, tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "users.sql").write_text("SELECT 1")
    (tmp_path / "mappings.yaml").write_text("mappings: {}\n")
    before = _snapshot(tmp_path)
    result = run_cli("init", str(tmp_path))
    assert result.exit_code == 1
    assert "mappings.yaml" in result.stderr and "models/users.sql" in result.stderr
    assert _snapshot(tmp_path) == before


def test_a_fresh_git_repository_keeps_its_readme_and_gitignore_rules(run_cli, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# our data project\n")
    (tmp_path / ".gitignore").write_text("node_modules/\n.env")
    result = run_cli("init", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "README.md").read_text() == "# our data project\n"
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["node_modules/", ".env"]
    assert {".segprof/", "*.duckdb"} <= set(lines) and lines.count(".env") == 1
    assert "README.md  (yours, kept)" in result.stdout and ".gitignore  (yours" in result.stdout
    # --force replaces the README, and the .gitignore already has every line it needs
    result = run_cli("init", "--force", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "README.md").read_text().startswith("# segprof quickstart")
    assert (tmp_path / ".gitignore").read_text().splitlines() == lines


def test_force_replaces_template_files_and_keeps_the_rest(run_cli, tmp_path: Path) -> None:
    (tmp_path / "segprof.yaml").write_text("version: 1\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "mine.sql").write_text("SELECT 1")
    result = run_cli("init", "--force", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "segprof.yaml  (replaced)" in result.stdout
    assert (tmp_path / "models" / "mine.sql").read_text() == "SELECT 1"
    assert (tmp_path / "segprof.yaml").read_bytes() == next(
        f.content for f in template_files() if f.path.as_posix() == "segprof.yaml"
    )
    assert (tmp_path / "warehouse.duckdb").is_file()
    assert not _leftovers(tmp_path)


def test_a_failing_build_leaves_nothing_behind(tmp_path: Path) -> None:
    broken = tmp_path / "template"
    shutil.copytree(str(template_root()), broken)
    (broken / "warehouse" / "build.sql").write_text("CREATE TABLE users AS SELECT * FROM missing_table;\n")

    fresh = tmp_path / "fresh"
    with pytest.raises(SegprofError, match="missing_table"):
        init_project(fresh, template=broken)
    assert not fresh.exists()

    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("keep")
    (existing / "segprof.yaml").write_text("version: 1\n")
    before = _snapshot(existing)
    with pytest.raises(SegprofError):
        init_project(existing, template=broken, force=True)
    assert _snapshot(existing) == before
    assert not _leftovers(tmp_path, existing)


def test_a_folder_in_the_way_is_refused_before_writing(run_cli, tmp_path: Path) -> None:
    (tmp_path / "README.md").mkdir()
    (tmp_path / "README.md" / "inside.txt").write_text("x")
    before = _snapshot(tmp_path)
    result = run_cli("init", "--force", str(tmp_path))
    assert result.exit_code == 1
    assert "is a folder" in result.stderr
    assert _snapshot(tmp_path) == before

    target_file = tmp_path / "file"
    target_file.write_text("x")
    result = run_cli("init", str(target_file))
    assert result.exit_code == 1 and "is a file, not a folder" in result.stderr
    result = run_cli("init", str(target_file / "below"))
    assert result.exit_code == 1 and "is a file, not a folder" in result.stderr


def test_commit_rolls_back_when_a_move_fails(tmp_path: Path) -> None:
    source, target, backups = tmp_path / "stage", tmp_path / "target", tmp_path / "backups"
    (source / "models").mkdir(parents=True)
    (source / "a.txt").write_text("new a")
    (source / "models" / "b.sql").write_text("new b")
    target.mkdir()
    (target / "a.txt").write_text("old a")
    (target / "other.txt").write_text("other")
    before = _snapshot(target)
    targets = [PurePosixPath("a.txt"), PurePosixPath("models/b.sql"), PurePosixPath("missing.txt")]
    with pytest.raises(SegprofError, match=r"missing\.txt.*nothing was changed"):
        commit_files(source, target, targets, backup_dir=backups)
    assert _snapshot(target) == before

    (source / "a.txt").write_text("new a")  # a failed commit consumes the staged files
    (source / "models" / "b.sql").write_text("new b")
    replaced = commit_files(source, target, targets[:2], backup_dir=backups)
    assert replaced == [PurePosixPath("a.txt")]
    assert (target / "a.txt").read_text() == "new a" and (target / "models" / "b.sql").read_text() == "new b"


def test_warehouse_only(run_cli, tmp_path: Path) -> None:
    init_project(tmp_path, with_warehouse=False)
    result = run_cli("init", "--warehouse-only", str(tmp_path))
    assert result.exit_code == 0, result.output
    db = tmp_path / "warehouse.duckdb"
    assert db.is_file() and "users 12,000" in result.stdout

    con = duckdb.connect(str(db))
    con.execute("DELETE FROM events")
    con.close()
    result = run_cli("init", "--warehouse-only", str(tmp_path))
    assert result.exit_code == 1 and "--force" in result.stderr

    result = run_cli("init", "--warehouse-only", "--force", str(tmp_path))
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM events").fetchall()[0][0] > 0
    finally:
        con.close()
    assert not _leftovers(tmp_path)

    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("init", "--warehouse-only", str(empty))
    assert result.exit_code == 1 and "build.sql not found" in result.stderr


def test_no_secret_ships_with_the_template() -> None:
    env_example = next(f for f in template_files() if f.path.as_posix() == ".env.example").content.decode()
    for line in env_example.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert value == "", name
    gitignore = next(f for f in template_files() if f.path.as_posix() == ".gitignore").content.decode()
    assert {".segprof/", "*.duckdb", ".env"} <= set(gitignore.splitlines())


def test_template_files_are_package_data() -> None:
    """pyproject's package-data globs must carry every template file into a wheel."""
    import fnmatch
    import tomllib

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "segprof"
    ]
    package = REPO / "segprof"
    for path in (package / "scaffold" / "quickstart").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(package).as_posix()
            assert not path.name.startswith("."), f"{rel}: dotfiles are not packaged; add it to RENAMES"
            assert any(fnmatch.fnmatch(rel, p) for p in patterns), f"{rel} matches no package-data glob"
    assert all(not new.name.startswith(".") or old.suffix == ".txt" for old, new in RENAMES.items())


def test_warehouse_only_with_broken_sql_keeps_the_old_warehouse(run_cli, tmp_path: Path) -> None:
    init_project(tmp_path, with_warehouse=False)
    db = tmp_path / "warehouse.duckdb"
    db.write_bytes(b"the previous warehouse")
    before = db.read_bytes()
    (tmp_path / "warehouse" / "build.sql").write_text("CREATE TABLE users AS SELECT nope FROM nowhere;\n")
    result = run_cli("init", "--warehouse-only", "--force", str(tmp_path))
    assert result.exit_code == 1
    assert "build.sql" in result.stderr and "nowhere" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.output
    assert db.read_bytes() == before
    assert not _leftovers(tmp_path)


def test_project_dir_option_names_the_folder_too(run_cli, tmp_path: Path) -> None:
    result = run_cli("init", str(tmp_path / "a"), "-C", str(tmp_path / "b"))
    assert result.exit_code == 1 and "two folders" in result.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    result = run_cli("init", "-C", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b" / "segprof.yaml").is_file()

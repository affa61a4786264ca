"""Shared fixtures: a throwaway PostgreSQL server on loopback, project folders, the CLI runner."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Query analyses are cached on disk: the tests (and the commands they start) keep theirs apart
# from the user's, in a folder of this session.
os.environ.setdefault("SEGPROF_CACHE_DIR", tempfile.mkdtemp(prefix="segprof-test-cache-"))


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root, so hand the server to the postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _cannot_run_postgres(reason: str) -> None:
    """Skip on a developer machine; fail in CI, where a green run must mean these tests ran."""
    if os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}:
        pytest.fail(f"PostgreSQL tests cannot run: {reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(f"PostgreSQL tests cannot run: {reason}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[dict[str, object]]:
    """A PostgreSQL server of our own on 127.0.0.1, trust auth, removed at the end of the run."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        _cannot_run_postgres("initdb or pg_ctl is not installed; .ci/run installs them")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _cannot_run_postgres("psycopg is not installed (pip install -e '.[dev]')")
    base = Path(tempfile.mkdtemp(prefix="segprof-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    steps = (
        [initdb, "-D", str(data), "-A", "trust", "-U", "segprof", "-E", "UTF8", "--no-sync"],
        [pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
    )
    for step in steps:
        done = subprocess.run(_as_server_user(step), capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(base, ignore_errors=True)
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            _cannot_run_postgres(f"{Path(step[0]).name} failed: {detail[0]}")
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                _cannot_run_postgres(f"the server did not accept connections on port {port} within 20 s")
            time.sleep(0.1)
        yield {"host": "127.0.0.1", "port": port, "user": "segprof", "dbname": "postgres"}
    finally:
        subprocess.run(
            _as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture()
def postgres_dsn(postgres_server: dict[str, object]) -> Iterator[str]:
    """A fresh, empty database on the session server for one test."""
    import psycopg

    name = f"t_{os.getpid()}_{time.monotonic_ns()}"
    admin = (
        f"host={postgres_server['host']} port={postgres_server['port']} "
        f"user={postgres_server['user']} dbname=postgres"
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield (
        f"host={postgres_server['host']} port={postgres_server['port']} "
        f"user={postgres_server['user']} dbname={name}"
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def run_cli():
    """Run the segprof CLI in-process; returns (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from segprof.cli.main import build_app

    def _run(*args: str, input: str | None = None, env: dict[str, str] | None = None):
        runner = CliRunner()
        result = runner.invoke(build_app(), list(args), input=input, env=env, catch_exceptions=True)
        return result

    return _run

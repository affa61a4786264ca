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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[dict[str, object]]:
    """A PostgreSQL server of our own on 127.0.0.1, trust auth, removed at the end of the run."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL (initdb, pg_ctl) is not installed; .ci/run installs it")
        pytest.skip("PostgreSQL is not installed (initdb not found)")
    base = Path(tempfile.mkdtemp(prefix="segprof-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    subprocess.run(
        _as_server_user([initdb, "-D", str(data), "-A", "trust", "-U", "segprof", "-E", "UTF8", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_server_user([pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
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

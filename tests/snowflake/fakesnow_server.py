"""fakesnow's HTTP server in a virtual environment of its own, started on loopback for the tests.

fakesnow pins a sqlglot release other than segprof's, so it cannot share segprof's environment: the
environment is built once per version under a cache folder (`SEGPROF_TEST_CACHE`, default
~/.cache/segprof-tests) and reused by later runs. segprof itself reaches the server only through
`snowflake-connector-python`, installed in the main environment, as it would reach Snowflake.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from pathlib import Path

FAKESNOW = "fakesnow[server]==0.12.1"
# fakesnow 0.12 imports modules that snowflake-connector-python 5 (a rewrite) no longer has
CONNECTOR = "snowflake-connector-python==4.8.1"


def cache_dir() -> Path:
    return Path(os.environ.get("SEGPROF_TEST_CACHE") or Path.home() / ".cache" / "segprof-tests")


def ensure_env() -> Path:
    """The python of a virtual environment holding fakesnow (built on first use, under a file lock)."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    env = root / "fakesnow-0.12.1"
    python = env / "bin" / "python"
    ready = env / ".segprof-ready"
    with (root / "fakesnow.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            venv.EnvBuilder(with_pip=True, clear=True).create(env)
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    FAKESNOW,
                    CONNECTOR,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            ready.write_text(f"{FAKESNOW}\n{CONNECTOR}\n")
    return python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(log: Path) -> Iterator[dict[str, object]]:
    """Run `fakesnow -s` on a free loopback port; yields the connection settings of a source."""
    python = ensure_env()
    port = _free_port()
    with log.open("w") as out:
        child = subprocess.Popen(
            [str(python), "-m", "fakesnow", "-s", "--host", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the fakesnow server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield {"host": "127.0.0.1", "port": port, "protocol": "http", "account": "segproftest"}
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


if __name__ == "__main__":  # build the environment ahead of the tests (CI)
    print(ensure_env(), file=sys.stderr)

"""The data, the processes and the three contenders of the sync benchmark (`sync_vs_drt.py`).

Owns: the deterministic DuckDB table of N users (8 columns) and its change set (1 % updated with
the cursor bumped, 0.5 % new, 0.5 % deleted); running one tool as a timed child process with its
peak RSS (from `wait4`: the largest resident set in its process tree) under a timeout; the loopback
sink process; and the contenders — drt-core, `segprof sync --self-hosted`, and the embedded
workspace (`segprof apply --auto-approve` then `segprof sync --all`), each in its own folder with
its own copy of the warehouse. Must never send anything but to 127.0.0.1 and never kill a process
it did not start.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import drt_peer  # noqa: E402 - a sibling module of this script

CACHE = Path.home() / ".cache" / "segprof-bench"
MAPPED = ["email", "name", "plan", "updated_at", "ltv", "logins", "is_active"]
MODEL = "SELECT user_id, " + ", ".join(MAPPED) + " FROM users"
CHANGED_AT = "TIMESTAMP '2026-06-01 00:00:00'"  # later than every base row: drt's cursor sees it


# ---------------------------------------------------------------- data


def base_table(rows: int) -> Path:
    """The cached base DuckDB file of `rows` users (generated once per size, deterministic)."""
    import duckdb

    data = CACHE / "data"
    data.mkdir(parents=True, exist_ok=True)
    path = data / f"users_{rows}.duckdb"
    if path.exists():
        return path
    print(f"-- generating {rows:,} rows into {path}", flush=True)
    part = path.with_suffix(".partial")
    part.unlink(missing_ok=True)
    con = duckdb.connect(str(part))
    con.execute(
        f"""CREATE TABLE users AS
        SELECT 'u' || lpad(i::VARCHAR, 9, '0') AS user_id,
               'user' || i::VARCHAR || '@example.com' AS email,
               'Name ' || (i % 100000)::VARCHAR AS name,
               (['free', 'pro', 'team', 'enterprise'])[1 + i % 4] AS plan,
               TIMESTAMP '2026-01-01' + to_seconds(i % 1000000) AS updated_at,
               (i % 100000) / 7.0 AS ltv,
               (i % 1000)::INTEGER AS logins,
               i % 3 = 0 AS is_active
        FROM range({rows}) AS r(i)"""
    )
    con.close()
    part.rename(path)
    return path


def change_statements(rows: int) -> list[str]:
    """1 % updated (cursor bumped), 0.5 % deleted, 0.5 % new — the same on every copy."""
    num = "CAST(substr(user_id, 2) AS BIGINT)"
    return [
        f"UPDATE users SET plan = 'changed', logins = logins + 1, updated_at = {CHANGED_AT} "
        f"WHERE {num} % 100 = 1",
        f"DELETE FROM users WHERE {num} % 200 = 3",
        f"INSERT INTO users SELECT 'n' || lpad(i::VARCHAR, 9, '0'), 'new' || i::VARCHAR || '@example.com', "
        f"'New', 'free', {CHANGED_AT}, 1.5, 1, TRUE FROM range({rows // 200}) AS r(i)",
    ]


def apply_changes(db: Path, rows: int) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    for statement in change_statements(rows):
        con.execute(statement)
    con.execute("CHECKPOINT")
    con.close()


def expected_changes(rows: int) -> dict[str, int]:
    return {"updated": rows // 100, "deleted": rows // 200, "new": rows // 200}


# ---------------------------------------------------------------- processes


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    rc: int
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    sink: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out


def measure(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Measured:
    """Run `cmd` in its own session through `peak_rss.py`: wall time, the tree's peak RSS, output.

    The launcher (a bare interpreter, a few MB) spawns the command and reads its `wait4` usage:
    spawned from this process instead, the command would report this process's own peak.
    """
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "rss.json"
        launcher = [sys.executable, "-I", "-S", str(HERE / "peak_rss.py"), str(result)]
        launcher += ["--timeout", str(timeout), "--"]
        with open(Path(tmp) / "out", "w+b") as out, open(Path(tmp) / "err", "w+b") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [*launcher, *cmd], cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True
            )
            try:  # the launcher kills the command at `timeout`; this is the backstop
                proc.wait(timeout=timeout + 60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # only the session this run started
                proc.wait()
            seconds = time.perf_counter() - started
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        usage = json.loads(result.read_text()) if result.exists() else {"maxrss_kb": 0, "timed_out": True}
    return Measured(seconds, usage["maxrss_kb"] / 1024, proc.returncode, stdout, stderr, usage["timed_out"])


def python_env() -> dict[str, str]:
    """segprof's environment: this checkout's code first, no proxy for loopback."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


class Sink:
    """The loopback sink, a separate process started (and stopped) by this script."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "batch_sink.py")], stdout=subprocess.PIPE, text=True, env=python_env()
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline().strip())

    def _call(self, method: str, path: str) -> dict[str, int]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method, data=None)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=60) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        self._call("POST", "/reset")

    def stats(self) -> dict[str, int]:
        return self._call("GET", "/stats")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------- the three contenders


def segprof_project(root: Path, tracking_url: str | None) -> None:
    """A segprof project: one send_identify mapping, the 7 other columns as traits."""
    import yaml

    destination: dict[str, object] = {"type": "segment_profiles", "write_key": "bench-write-key"}
    mapping: dict[str, object] = {
        "model": "users",
        "destination": "profiles",
        "action": "send_identify",
        "on": ["new", "updated", "deleted"],
        "fields": {"user_id": {"identifier": True}, "traits": {c: c for c in MAPPED}},
    }
    if tracking_url:  # self-hosted: the workspace's copy stays off, so no change is sent twice
        destination["tracking_url"] = tracking_url
        mapping.update({"self_hosted": True, "enabled": False})
    doc = {
        "version": 1,
        "workspace": {"backend": "local"},
        "sources": {"warehouse": {"type": "duckdb", "path": "wh.duckdb"}},
        "models": {"users": {"source": "warehouse", "identifier": "user_id", "query": MODEL}},
        "destinations": {"profiles": destination},
        "mappings": {"identify_users": mapping},
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "segprof.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


SEGPROF_VENV = CACHE / "segprof-venv"


def install_segprof(venv: Path = SEGPROF_VENV, timeout: float = 1200) -> Path:
    """A virtual environment of its own holding this checkout as a user installs it (`pip install`,
    not editable), as drt-core has its own: neither tool starts up with the other's packages, nor
    with whatever else this interpreter happens to hold. The checkout is reinstalled on each call,
    its dependencies only when missing. Returns the environment's interpreter."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"-- creating {venv} for segprof (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=timeout)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, str(ROOT)], check=True, timeout=timeout)  # dependencies, when missing
    subprocess.run([*pip, "--no-deps", "--force-reinstall", str(ROOT)], check=True, timeout=timeout)
    return python


SEGPROF_PYTHON: list[Path] = []  # set by the benchmark's main: the interpreter segprof runs on


def segprof_cli(*args: str) -> list[str]:
    python = str(SEGPROF_PYTHON[0]) if SEGPROF_PYTHON else sys.executable
    return [python, "-m", "segprof.cli.main", *args]


def segprof_env() -> dict[str, str]:
    """segprof's environment when it runs from its own virtual environment: no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "PYTHONPATH"}
    env.pop("VIRTUAL_ENV", None)
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env if SEGPROF_PYTHON else python_env()


class Contender:
    """One tool set up in its own folder with its own copy of the warehouse."""

    name = ""

    def __init__(self, root: Path, base: Path, sink: Sink, timeout: float, drt: Path | None = None):
        self.root, self.sink, self.timeout, self.drt = root, sink, timeout, drt
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        self.warehouse = root / "wh.duckdb"
        shutil.copyfile(base, self.warehouse)
        self.setup_notes: dict[str, float] = {}
        self.setup()

    def setup(self) -> None: ...

    def sync(self) -> Measured:
        self.sink.reset()
        result = measure(self.command(), self.root, self.env(), self.timeout)
        result.sink = self.sink.stats()
        return result

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return segprof_env()


class Drt(Contender):
    name = "drt-core"

    def setup(self) -> None:
        drt_peer.write_project(self.root, self.warehouse, self.sink.port)

    def command(self) -> list[str]:
        assert self.drt is not None
        return drt_peer.command(self.drt)

    def env(self) -> dict[str, str]:
        return drt_peer.environment(self.root)


class SelfHosted(Contender):
    name = "segprof self-hosted"

    def setup(self) -> None:
        segprof_project(self.root, f"http://127.0.0.1:{self.sink.port}/v1")

    def command(self) -> list[str]:
        return segprof_cli(
            "sync", "identify_users", "--self-hosted", "-C", str(self.root), "--format", "json"
        )


class Embedded(Contender):
    name = "segprof embedded"

    def setup(self) -> None:
        segprof_project(self.root, None)
        applied = measure(
            segprof_cli("apply", "--auto-approve", "-C", str(self.root)), self.root, self.env(), 600
        )
        if not applied.ok:
            raise RuntimeError(f"segprof apply failed:\n{applied.stdout[-2000:]}\n{applied.stderr[-2000:]}")
        self.setup_notes["apply_s"] = applied.seconds

    def command(self) -> list[str]:
        return segprof_cli("sync", "--all", "-C", str(self.root), "--format", "json")

    def sync(self) -> Measured:
        result = super().sync()
        result.sink = delivered_by_cli(result.stdout)  # the embedded Tracking API keeps them under .segprof/
        return result


def delivered_by_cli(stdout: str) -> dict[str, int]:
    """Messages delivered, from segprof's `--format json` run summary (the embedded workspace's count)."""
    try:
        runs = json.loads(stdout)["runs"]
    except (ValueError, KeyError, TypeError):
        return {}
    return {"events": sum(int(r.get("delivered") or 0) for r in runs)}

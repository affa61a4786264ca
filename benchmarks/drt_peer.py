"""The peer of the sync benchmark: drt-core, in its own virtual environment, posting to the sink.

Owns: creating (once) a virtual environment with the pinned drt-core release and its DuckDB extra,
and writing a drt project that reads the benchmark's DuckDB table and posts Segment-shaped
`{"batch": [...]}` identify bodies, 1,000 rows a request, to a loopback URL, in drt's incremental
mode on the `updated_at` cursor. Must never install into the running interpreter's environment,
never point drt anywhere but 127.0.0.1, and never let drt read or write the user's own `~/.drt`
(every run gets a HOME of its own, and telemetry is switched off).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DRT_VERSION = "1.2.1"
DEFAULT_VENV = Path.home() / ".cache" / "segprof-bench" / "drt-venv"

# The seven mapped columns, as traits of an identify keyed on user_id: the same message content
# segprof's mapping sends. drt has no message id of its own, so the template derives one per change.
_BATCH_TEMPLATE = """{"batch": [{% for r in rows %}{"type": "identify", "userId": {{ r.user_id|tojson_safe }},
 "messageId": "drt-{{ r.user_id }}-{{ r.updated_at }}", "timestamp": {{ r.updated_at|tojson_safe }},
 "traits": {"email": {{ r.email|tojson_safe }}, "name": {{ r.name|tojson_safe }},
 "plan": {{ r.plan|tojson_safe }}, "updated_at": {{ r.updated_at|tojson_safe }},
 "ltv": {{ r.ltv|tojson_safe }}, "logins": {{ r.logins|tojson_safe }},
 "is_active": {{ r.is_active|tojson_safe }}}}{% if not loop.last %},{% endif %}{% endfor %}]}"""


def ensure_venv(venv: Path, timeout: float = 900) -> Path:
    """The `drt` executable of a venv holding drt-core DRT_VERSION, created and filled if missing."""
    drt = venv / "bin" / "drt"
    if drt.exists() and _installed_version(venv) == DRT_VERSION:
        return drt
    print(f"-- installing drt-core {DRT_VERSION} into {venv} (once)", flush=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=timeout)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"drt-core[duckdb]=={DRT_VERSION}"], check=True, timeout=timeout)
    if _installed_version(venv) != DRT_VERSION:
        raise RuntimeError(f"drt-core {DRT_VERSION} did not install into {venv}")
    return drt


def _installed_version(venv: Path) -> str | None:
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    done = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('drt-core'))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def write_project(root: Path, warehouse: Path, sink_port: int) -> None:
    """A drt project under `root` (with its own HOME holding the DuckDB profile)."""
    (root / "syncs").mkdir(parents=True, exist_ok=True)
    home = root / "home" / ".drt"
    home.mkdir(parents=True, exist_ok=True)
    (home / "profiles.yml").write_text(f"bench:\n  type: duckdb\n  database: {_quote(str(warehouse))}\n")
    (root / "drt_project.yml").write_text("name: segprof_bench\nprofile: bench\n")
    template = "\n".join("      " + line for line in _BATCH_TEMPLATE.splitlines())
    (root / "syncs" / "identify_users.yml").write_text(
        f"""name: identify_users
description: identify every user as a Segment-shaped batch
model: ref('users')
destination:
  type: rest_api
  url: "http://127.0.0.1:{sink_port}/v1/batch"
  method: POST
  headers:
    Content-Type: "application/json"
  body_mode: batch
  max_records_per_request: 1000
  batch_template: |
{template}
sync:
  mode: incremental
  cursor_field: updated_at
  batch_size: 1000
  rate_limit:
    requests_per_second: 1000
  on_error: fail
"""
    )


def command(drt: Path) -> list[str]:
    return [str(drt), "run", "--select", "identify_users"]


def environment(root: Path) -> dict[str, str]:
    """drt's environment: its own HOME, no telemetry, no proxy, nothing of the running venv."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k not in ("PYTHONPATH",)}
    env.pop("VIRTUAL_ENV", None)
    env.update({"HOME": str(root / "home"), "DO_NOT_TRACK": "1", "NO_PROXY": "127.0.0.1,localhost"})
    return env


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

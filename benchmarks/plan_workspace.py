"""Plan of 50 mappings against the emulator with injected latency, vs the sequential sum of its requests.

    python benchmarks/plan_workspace.py [--latency-ms 50] [--runs 5]

Builds a project of 1 source, 20 models, 5 destinations and 50 mappings, applies it to the
emulator served on loopback, then times `plan` (refresh + diff; the workspace answers every
request after `--latency-ms`) and counts the requests the server received. Prints
elapsed / (requests × latency): the share of a one-request-at-a-time refresh that plan costs.
Target: ≤ 0.25.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from segprof.config import load_project_or_raise
from segprof.emulator.app import create_app
from segprof.emulator.faults import FaultConfig
from segprof.operations.plan_apply import ApplyRequest, RunOptions, apply_project, plan_project

TOKEN = "bench-token"
ACTIONS = [
    ("send_identify", "user_id: id\n      traits: {email: email, plan: plan}"),
    ("send_group", "user_id: id\n      group_id: account_id\n      traits: {plan: plan}"),
    ("send_track", "user_id: id\n      event_name: {value: Synced}\n      properties: {plan: plan}"),
]


class Counter:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.count = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/emulator"):
            self.count += 1
        await self.app(scope, receive, send)


def write_project(root: Path, url: str) -> None:
    lines = [
        "version: 1",
        f"workspace: {{backend: local, api_url: '{url}', token: {TOKEN}}}",
        "sources:\n  wh: {type: duckdb, path: wh.duckdb}",
        "models:",
    ]
    for m in range(20):
        lines.append(
            f"  m{m:02d}:\n    identifier: id\n    query: |\n"
            f"      WITH base AS (SELECT id, email, plan, account_id, updated_at FROM users_{m})\n"
            f"      SELECT id, email, plan, account_id, updated_at FROM base WHERE plan IS NOT NULL"
        )
    lines.append("destinations:")
    for d in range(5):
        lines.append(f"  d{d}: {{write_key: key-{d}}}")
    lines.append("mappings:")
    for i in range(50):
        action, fields = ACTIONS[i % len(ACTIONS)]
        lines.append(
            f"  map{i:02d}:\n    model: m{i % 20:02d}\n    destination: d{i % 5}\n    action: {action}\n"
            f"    schedule: {{every: 1h}}\n    fields:\n      {fields}"
        )
    (root / "segprof.yaml").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        app = create_app(root / "ws", token=TOKEN, rate_limits=False)
        counter = Counter(app)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(counter, host="127.0.0.1", port=port, log_level="critical"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        project_dir = root / "project"
        project_dir.mkdir()
        write_project(project_dir, url)
        project = load_project_or_raise(project_dir)
        result = apply_project(project_dir, project, RunOptions(), ApplyRequest(parallelism=8))
        assert result.outcome is not None and result.outcome.ok, result.outcome
        assert not plan_project(project_dir, project, RunOptions()).has_changes

        faults = FaultConfig(latency_ms=args.latency_ms, apis=("public",))
        import httpx

        body = {"latency_ms": faults.latency_ms, "apis": list(faults.apis)}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        httpx.post(f"{url}/emulator/v1/faults", json=body, headers=headers).raise_for_status()
        ratios = []
        for _ in range(args.runs):
            counter.count = 0
            started = time.perf_counter()
            plan = plan_project(project_dir, project, RunOptions())
            elapsed = time.perf_counter() - started
            assert not plan.has_changes
            sequential = counter.count * args.latency_ms / 1000
            ratios.append(elapsed / sequential)
            print(
                f"plan: {elapsed * 1000:.0f} ms, {counter.count} requests, "
                f"sequential sum {sequential * 1000:.0f} ms, ratio {elapsed / sequential:.3f}"
            )
        server.should_exit = True
        print(f"median ratio {statistics.median(ratios):.3f} (target ≤ 0.25; best {min(ratios):.3f})")


if __name__ == "__main__":
    main()

"""A small test project: a `users` table and an identify mapping, on any warehouse, written as YAML."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml

from segprof.emulator.app import create_app
from segprof.emulator.faults import FaultConfig
from segprof.operations.workspaces import embedded_transport
from segprof.warehouses import connect

WRITE_KEY = "test-space-key"


def source_block(engine: str, request: Any) -> dict[str, Any]:
    """The source block (YAML keys) of a test project on `engine` ("duckdb" or "postgres")."""
    if engine == "duckdb":
        return {"type": "duckdb", "path": "wh.duckdb"}
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(request.getfixturevalue("postgres_dsn"))
    return {
        "type": "postgres",
        "host": parts["host"],
        "port": int(parts["port"]),
        "database": parts["dbname"],
        "user": parts["user"],
    }


def run_sql(source: dict[str, Any], root: Path, *statements: str) -> None:
    """Run statements in the warehouse a source block names (paths relative to `root`)."""
    settings = {k: v for k, v in source.items() if k != "type"}
    con = connect(source["type"], settings, root, create=True)
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


class Project:
    def __init__(self, root: Path, source: dict[str, Any], tracking: str | None, backend: str = "local"):
        self.root = root
        self.source = source
        root.mkdir(parents=True, exist_ok=True)
        self.tracking = tracking
        self.backend = backend
        self.traits = {"email": "email", "plan": "plan"}
        self.on = ["new", "updated", "deleted"]
        self.query = "SELECT * FROM users"
        self.user_id: Any = {"identifier": True}
        self.mapping_extra: dict[str, Any] = {}  # more keys of the mapping, e.g. self_hosted
        self.write()

    def write(self) -> None:
        destination: dict[str, Any] = {"type": "segment_profiles", "write_key": WRITE_KEY}
        if self.tracking:
            destination["tracking_url"] = self.tracking
        doc = {
            "version": 1,
            "workspace": {"backend": self.backend},
            "sources": {"warehouse": self.source},
            "models": {"users": {"source": "warehouse", "identifier": "user_id", "query": self.query}},
            "destinations": {"profiles": destination},
            "mappings": {
                "identify_users": {
                    "model": "users",
                    "destination": "profiles",
                    "action": "send_identify",
                    "on": self.on,
                    "fields": {"user_id": self.user_id, "traits": self.traits},
                    **self.mapping_extra,
                }
            },
        }
        (self.root / "segprof.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))

    def sql(self, *statements: str) -> None:
        run_sql(self.source, self.root, *statements)

    def seed(self, n: int) -> None:
        rows = ", ".join(f"({i}, 'u{i}@example.com', 'free')" for i in range(1, n + 1))
        self.sql(
            "CREATE TABLE users (user_id INTEGER, email VARCHAR(200), plan VARCHAR(50))",
            f"INSERT INTO users VALUES {rows}",
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Emulator:
    url: str
    app: Any
    token: str | None = None

    def _client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=self.url, trust_env=False, timeout=30, headers=headers)

    @property
    def tracking(self) -> str:
        return f"{self.url}/v1"

    def messages(self) -> list[dict[str, Any]]:
        """Every message the Tracking API received, in arrival order (with outcome and reason)."""
        out: list[dict[str, Any]] = []
        after = 0
        with self._client() as client:
            while True:
                data = client.get("/emulator/v1/messages", params={"after": after, "limit": 1000}).json()[
                    "data"
                ]
                out.extend(data["messages"])
                if not data["pagination"]["next"]:
                    return out
                after = data["after"]

    def count(self) -> int:
        """How many messages the Tracking API received so far (every outcome)."""
        with self._client() as client:
            data = client.get("/emulator/v1/messages", params={"limit": 1}).json()["data"]
        return int(data["pagination"]["totalEntries"])

    def set_faults(self, **faults: Any) -> None:
        self.app.state.faults.configure(FaultConfig(**faults) if faults else None)


def serve(data_dir: Path, **kwargs: Any) -> tuple[Emulator, Callable[[], None]]:
    app = create_app(data_dir, rate_limits=False, **kwargs)
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", lifespan="off", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the emulator server did not start")
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return Emulator(url=f"http://127.0.0.1:{port}", app=app, token=kwargs.get("token")), stop


class SyncPath:
    """One way of running syncs: the embedded workspace or self-hosted to a served emulator."""

    def __init__(self, kind: str, root: Path, warehouse: dict[str, Any], run_cli: Any) -> None:
        self.kind = kind
        self.run_cli = run_cli
        self.emulator: Emulator | None = None
        self._stop = None
        if kind == "served":
            self.emulator, self._stop = serve(root / "emulator-data")
        tracking = self.emulator.tracking if self.emulator else None
        self.project = Project(root / "p", warehouse, tracking)
        if kind == "embedded":
            applied = run_cli("apply", "-C", str(self.project.root), "--auto-approve")
            assert applied.exit_code == 0, applied.stdout + applied.stderr

    def close(self) -> None:
        if self._stop is not None:
            self._stop()

    def sync(self, *extra: str) -> dict[str, Any]:
        args = ["sync", "identify_users", "-C", str(self.project.root), "--format", "json", *extra]
        if self.kind == "served":
            args.append("--self-hosted")
        result = self.run_cli(*args)
        assert result.exit_code == 0, result.stdout + result.stderr
        return json.loads(result.stdout)["runs"][0]

    def messages(self) -> list[dict[str, Any]]:
        """What the Tracking API received, in order, with its dedup outcome."""
        if self.emulator is not None:
            return self.emulator.messages()
        transport = embedded_transport(self.project.root)
        try:
            with httpx.Client(transport=transport, base_url="http://emulator.local") as client:
                out, after = [], 0
                while True:
                    data = client.get("/emulator/v1/messages", params={"after": after, "limit": 1000})
                    page = data.json()["data"]
                    out.extend(page["messages"])
                    if not page["pagination"]["next"]:
                        return out
                    after = page["after"]
        finally:
            transport.close()

    def plan_of(self, user_id: str) -> Any:
        args = ["profiles", "show", user_id, "--format", "json"]
        args += ["--url", self.emulator.url] if self.emulator else ["-C", str(self.project.root)]
        shown = self.run_cli(*args)
        assert shown.exit_code == 0, shown.stdout + shown.stderr
        return json.loads(shown.stdout)["traits"].get("plan")

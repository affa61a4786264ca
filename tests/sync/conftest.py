"""Fixtures for sync engine tests: a project on DuckDB or PostgreSQL, and the emulator on a real port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from segprof.emulator.app import create_app
from segprof.emulator.faults import FaultConfig


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


@pytest.fixture()
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    emu, stop = serve(tmp_path / "emulator-data")
    try:
        yield emu
    finally:
        stop()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The source block of a test project (YAML keys) for each engine."""
    if request.param == "duckdb":
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

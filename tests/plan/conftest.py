"""Fixtures for plan/apply: the quickstart project pointed at the emulator served on loopback."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from segprof.emulator.app import create_app

TOKEN = "tok_planted_7f3a9c2e5b1d"
WRITE_KEY = "wk_planted_4b8e1f6a9d2c"
TEMPLATE = Path(__file__).resolve().parents[2] / "segprof" / "scaffold" / "quickstart"


class WriteFaults:
    """ASGI wrapper: answers chosen Public API writes with a 422, as a refusing workspace would."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.fail_at: int | None = None  # 1-based index of the write to refuse
        self.writes = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("POST", "PATCH", "DELETE")
            and not scope["path"].startswith(("/emulator", "/v1/"))
        ):
            self.writes += 1
            if self.fail_at is not None and self.writes == self.fail_at:
                body = b'{"errors":[{"type":"input-validation","message":"injected refusal"}]}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 422,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


@dataclass
class Served:
    url: str
    faults: WriteFaults
    data_dir: Path
    api: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.api = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def emulator_server(tmp_path: Path) -> Iterator[Served]:
    data_dir = tmp_path / "workspace-data"
    faults = WriteFaults(create_app(data_dir, token=TOKEN, rate_limits=False))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(faults, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the emulator did not start"
        time.sleep(0.02)
    served = Served(url=f"http://127.0.0.1:{port}", faults=faults, data_dir=data_dir)
    try:
        yield served
    finally:
        served.api.close()
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture()
def project(tmp_path: Path, emulator_server: Served) -> Path:
    """The quickstart project (no warehouse needed to plan) using the served emulator."""
    root = tmp_path / "project"
    shutil.copytree(TEMPLATE, root, ignore=shutil.ignore_patterns("warehouse", "*.duckdb"))
    text = (root / "segprof.yaml").read_text()
    start = text.index("workspace:")
    end = text.index("\n", re.search(r"^  backend:", text, re.M).start())
    text = (
        text[:start]
        + f"workspace:\n  backend: local\n  api_url: {emulator_server.url}\n  token: ${{TEST_SEGMENT_TOKEN}}"
        + text[end:]
    )
    (root / "segprof.yaml").write_text(text)
    (root / ".env").write_text(f"TEST_SEGMENT_TOKEN={TOKEN}\nPROFILES_WRITE_KEY={WRITE_KEY}\n")
    return root

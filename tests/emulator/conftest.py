"""Fixtures for the emulator tests: an in-process client, a workspace builder, a real server."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

with warnings.catch_warnings():
    # starlette's TestClient warns about its httpx backend at import; irrelevant here.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from segprof.emulator.app import create_app

PROFILES_METADATA_ID = "639c2dbb1309fdcad13951b6"
POSTGRES_METADATA_ID = "WvlvcGEJsT"
SEND_IDENTIFY = "vm2tNA5U1zxUusQkdC4D7Z"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # starlette's TestClient warns about its httpx backend; irrelevant to what we test.
    for item in items:
        if "emulator" in str(item.path):
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning"))


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "emulator"


@pytest.fixture()
def client(data_dir: Path) -> Iterator[TestClient]:
    """In-process client without rate limits (the rate-limit tests build their own)."""
    with TestClient(create_app(data_dir, rate_limits=False)) as test_client:
        yield test_client


@dataclass
class Workspace:
    """Ids of a minimal Reverse ETL setup: source → model → destination → subscription."""

    source_id: str
    model_id: str
    destination_id: str
    subscription_id: str


def build_workspace(client: TestClient, *, slug: str = "warehouse") -> Workspace:
    source = client.post(
        "/sources",
        json={
            "slug": slug,
            "enabled": True,
            "metadataId": POSTGRES_METADATA_ID,
            "settings": {"hostname": "db"},
        },
    )
    assert source.status_code == 201, source.text
    source_id = source.json()["data"]["source"]["id"]
    model = client.post(
        "/reverse-etl-models",
        json={
            "sourceId": source_id,
            "name": "users",
            "description": "Users",
            "enabled": True,
            "query": "SELECT user_id, email FROM users",
            "queryIdentifierColumn": "user_id",
        },
    )
    assert model.status_code == 201, model.text
    model_id = model.json()["data"]["reverseEtlModel"]["id"]
    destination = client.post(
        "/destinations",
        json={"sourceId": source_id, "metadataId": PROFILES_METADATA_ID, "name": "Profiles", "settings": {}},
    )
    assert destination.status_code == 200, destination.text
    destination_id = destination.json()["data"]["destination"]["id"]
    subscription = client.post(
        f"/destinations/{destination_id}/subscriptions",
        json={
            "name": "Identify users",
            "actionId": SEND_IDENTIFY,
            "trigger": 'event = "new" or event = "updated"',
            "enabled": True,
            "modelId": model_id,
            "settings": {"engage_space": "space-key", "user_id": {"@path": "$.properties.user_id"}},
        },
    )
    assert subscription.status_code == 200, subscription.text
    subscription_id = subscription.json()["data"]["destinationSubscription"]["id"]
    return Workspace(source_id, model_id, destination_id, subscription_id)


@pytest.fixture()
def workspace(client: TestClient) -> Workspace:
    return build_workspace(client)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    app: Any


@pytest.fixture()
def live_server(data_dir: Path, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """The emulator on a real loopback port (uvicorn in a thread); kwargs via indirect param."""
    kwargs: dict[str, Any] = getattr(request, "param", {}) or {}
    app = create_app(data_dir, **kwargs)
    port = free_port()
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
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture()
def make_workspace():
    """The builder itself, for tests that need several workspaces or their own client."""
    return build_workspace

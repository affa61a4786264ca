"""Fault injection: seeded determinism, scoping, the admin endpoint, and what a client sees."""

from __future__ import annotations

import time

import httpx
import pytest
from starlette.testclient import TestClient

from segprof.emulator.app import create_app
from segprof.emulator.faults import FaultConfig


def outcomes(client, path, n, method="get", **kw):
    return [getattr(client, method)(path, **kw).status_code for _ in range(n)]


def test_same_seed_same_sequence_different_seed_differs(tmp_path):
    config = FaultConfig(error_rate=0.3, rate_429=0.2, seed=42)
    runs = []
    for i in range(2):
        with TestClient(create_app(tmp_path / f"a{i}", faults=config)) as client:
            runs.append(outcomes(client, "/sources", 40))
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 429, 503}
    with TestClient(
        create_app(tmp_path / "b", faults=FaultConfig(error_rate=0.3, rate_429=0.2, seed=7))
    ) as client:
        assert outcomes(client, "/sources", 40) != runs[0]


def test_fault_bodies_match_each_api(tmp_path):
    with TestClient(create_app(tmp_path, faults=FaultConfig(rate_429=1.0))) as client:
        public = client.get("/sources")
        assert public.status_code == 429
        assert public.json()["errors"][0]["data"]["msBeforeNext"] > 0
        assert "X-RateLimit-Reset" in public.headers
        tracking = client.post("/v1/track", json={"userId": "u", "event": "E"})
        assert tracking.status_code == 429 and tracking.headers["Retry-After"] == "1"
        assert tracking.json()["success"] is False
        # Inspection is never faulted, and the refused message was not stored.
        assert client.get("/emulator/v1/messages").json()["data"]["messages"] == []


def test_scoping_by_api_and_prefix(tmp_path):
    config = FaultConfig(error_rate=1.0, apis=("tracking",))
    with TestClient(create_app(tmp_path / "a", faults=config)) as client:
        assert client.get("/sources").status_code == 200
        assert client.post("/v1/track", json={"userId": "u", "event": "E"}).status_code == 503
    config = FaultConfig(error_rate=1.0, path_prefixes=("/reverse-etl",))
    with TestClient(create_app(tmp_path / "b", faults=config)) as client:
        assert client.get("/sources").status_code == 200
        assert client.get("/reverse-etl-models").status_code == 503


def test_admin_endpoint_sets_reads_and_clears(client):
    assert client.get("/emulator/v1/faults").json()["data"]["faults"]["error_rate"] == 0
    set_ = client.post(
        "/emulator/v1/faults", json={"error_rate": 1.0, "error_status": 500, "apis": ["public"]}
    )
    assert set_.status_code == 200 and set_.json()["data"]["faults"]["error_status"] == 500
    assert client.get("/sources").status_code == 500
    assert client.post("/v1/track", json={"userId": "u", "event": "E"}).status_code == 200
    assert client.delete("/emulator/v1/faults").status_code == 200
    assert client.get("/sources").status_code == 200
    for bad in ({"error_rate": 2}, {"nope": 1}, {"error_rate": 0.6, "rate_429": 0.6}, {"apis": ["other"]}):
        response = client.post("/emulator/v1/faults", json=bad)
        assert response.status_code == 422 and "errors" in response.json()


def test_latency_is_added(tmp_path):
    with TestClient(create_app(tmp_path, faults=FaultConfig(latency_ms=150))) as client:
        start = time.monotonic()
        assert client.get("/sources").status_code == 200
        assert time.monotonic() - start >= 0.15


@pytest.mark.parametrize(
    "live_server", [{"faults": FaultConfig(timeout_rate=1.0, hang_seconds=1.5)}], indirect=True
)
def test_hang_past_the_client_timeout(live_server):
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{live_server.url}/sources", timeout=0.3)


@pytest.mark.parametrize(
    "live_server", [{"faults": FaultConfig(drop_rate=1.0, apis=("tracking",))}], indirect=True
)
def test_dropped_connection_is_a_transport_error_and_stores_nothing(live_server):
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{live_server.url}/v1/track", json={"userId": "u", "event": "E"}, timeout=5)
    stored = httpx.get(f"{live_server.url}/emulator/v1/messages").json()["data"]["messages"]
    assert stored == []


def test_dropped_connection_in_process_raises(tmp_path):
    app = create_app(tmp_path, faults=FaultConfig(drop_rate=1.0))
    with TestClient(app) as client, pytest.raises(Exception, match="dropped"):
        client.get("/sources")

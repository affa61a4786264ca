"""The synchronous in-process transport used by the embedded workspace."""

from __future__ import annotations

import threading

import httpx
import pytest

from segprof.emulator import project_data_dir
from segprof.emulator.faults import FaultConfig
from segprof.operations.workspaces import embedded_transport


def test_sync_client_reaches_both_apis_in_process(tmp_path):
    transport = embedded_transport(tmp_path, token="t")
    with httpx.Client(transport=transport, base_url="http://segprof.local") as client:
        assert client.get("/sources").status_code == 401
        created = client.post(
            "/sources",
            json={"slug": "w", "enabled": True, "metadataId": "WvlvcGEJsT"},
            headers={"Authorization": "Bearer t"},
        )
        assert created.status_code == 201 and created.json()["data"]["source"]["slug"] == "w"
        assert client.post("/v1/identify", json={"userId": "u", "traits": {"a": 1}}).json() == {
            "success": True
        }
    assert (project_data_dir(tmp_path) / "emulator.sqlite3").exists()


def test_concurrent_callers_share_one_transport(tmp_path):
    transport = embedded_transport(tmp_path)
    client = httpx.Client(transport=transport, base_url="http://segprof.local")
    errors: list[BaseException] = []

    def send(n: int) -> None:
        try:
            batch = [
                {"type": "track", "userId": f"u{n}", "event": "E", "messageId": f"{n}-{i}"} for i in range(20)
            ]
            assert client.post("/v1/batch", json={"batch": batch}).status_code == 200
        except BaseException as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    total = client.get("/emulator/v1/messages?limit=1").json()["data"]["pagination"]["totalEntries"]
    assert total == 160
    client.close()


def test_faults_look_like_a_network_to_the_client(tmp_path):
    dropped = embedded_transport(tmp_path / "a", faults=FaultConfig(drop_rate=1.0))
    with (
        httpx.Client(transport=dropped, base_url="http://x") as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.get("/sources")
    hanging = embedded_transport(tmp_path / "b", faults=FaultConfig(timeout_rate=1.0, hang_seconds=2))
    with (
        httpx.Client(transport=hanging, base_url="http://x", timeout=0.2) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.get("/sources")


def test_a_sync_runner_can_deliver_to_the_same_embedded_app(tmp_path, make_workspace):
    from segprof.emulator.syncs import SyncResult

    holder: dict[str, httpx.Client] = {}

    class Delivering:
        def start(self, request, reporter):
            batch = [
                {"type": "identify", "userId": f"r{i}", "traits": {"sync": request.sync_id}} for i in range(3)
            ]
            response = holder["client"].post("/v1/batch", json={"batch": batch})
            reporter.finish(SyncResult(added=3, delivered=3 if response.status_code == 200 else 0))

    transport = embedded_transport(tmp_path, sync_runner=Delivering())
    with httpx.Client(transport=transport, base_url="http://segprof.local", timeout=10) as client:
        holder["client"] = client
        ws = make_workspace(client)
        body = {"sourceId": ws.source_id, "modelId": ws.model_id, "subscriptionId": ws.subscription_id}
        sync = client.post("/reverse-etl-syncs", json=body).json()["data"]["reverseETLSync"]
        assert sync["syncStatus"] == "SUCCESS" and sync["loadPhase"]["deliverSuccessCount"] == "3"
        profile = client.get("/emulator/v1/profiles/r2").json()["data"]["profile"]
        assert profile["traits"] == {"sync": sync["syncId"]}

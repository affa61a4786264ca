"""Several processes sharing one data folder: no lost writes, dedup holds across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from starlette.testclient import TestClient

from segprof.emulator.app import create_app

REPO = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys, warnings
    from pathlib import Path
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient
    from segprof.emulator.app import create_app

    data, tag = Path(sys.argv[1]), sys.argv[2]
    with TestClient(create_app(data, rate_limits=False)) as client:
        for i in range(15):
            batch = [{"type": "identify", "userId": f"{tag}-{i}-{j}", "messageId": f"{tag}-{i}-{j}",
                      "traits": {"n": j}} for j in range(40)]
            # The same shared ids from both processes: only one copy may be applied.
            batch += [{"type": "track", "userId": "shared", "event": "E", "messageId": f"shared-{i}"}]
            assert client.post("/v1/batch", json={"batch": batch}).status_code == 200
            body = {"slug": f"{tag}-{i}", "enabled": True, "metadataId": "WvlvcGEJsT"}
            r = client.post("/sources", json=body)
            assert r.status_code == 201, r.text
    """
)


def test_two_processes_write_the_same_folder(tmp_path):
    data = tmp_path / "shared"
    create_app(data)  # schema first, as a served emulator would
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(data), tag], cwd=REPO, stderr=subprocess.PIPE)
        for tag in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    with TestClient(create_app(data)) as client:
        stats = client.get("/emulator/v1/messages?limit=1").json()["data"]["pagination"]
        assert stats["totalEntries"] == 2 * 15 * 41
        sources = client.get("/sources?pagination.count=100").json()["data"]
        assert sources["pagination"]["totalEntries"] == 30
        shared = client.get("/emulator/v1/profiles/shared").json()["data"]["profile"]
        assert sorted(e["messageId"] for e in shared["events"]) == sorted(f"shared-{i}" for i in range(15))
        assert client.get("/emulator/v1/profiles/b-14-39").json()["data"]["profile"]["traits"] == {"n": 39}

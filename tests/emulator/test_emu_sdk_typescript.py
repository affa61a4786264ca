"""Segment's own Node packages, unchanged, against the served emulator: the TypeScript Public API
SDK and the analytics-node tracking client.

Skipped when node/npm are absent or the package cannot be installed (offline). The package is
installed once into a cache folder outside the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent / "sdk_typescript"
CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "segprof-tests" / "segment-node-clients"
)
TOKEN = "sdk-test-token"


def sdk_folder() -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are needed for the TypeScript SDK check")
    wanted = ("public-api-sdk-typescript", "analytics-node")
    if not all((CACHE / "node_modules" / "@segment" / name / "package.json").exists() for name in wanted):
        CACHE.mkdir(parents=True, exist_ok=True)
        shutil.copy(HERE / "package.json", CACHE / "package.json")
        try:
            subprocess.run(
                [
                    "npm",
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--fetch-retries=1",
                    "--fetch-timeout=20000",
                ],
                cwd=CACHE,
                check=True,
                capture_output=True,
                timeout=120,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            pytest.skip(f"could not install the TypeScript SDK: {type(err).__name__}")
    for script in ("run.js", "track.js"):
        shutil.copy(HERE / script, CACHE / script)
    return CACHE


@pytest.mark.slow
@pytest.mark.parametrize("live_server", [{"token": TOKEN}], indirect=True)
def test_typescript_sdk_round_trip(live_server):
    folder = sdk_folder()
    done = subprocess.run(
        ["node", "run.js", live_server.url, TOKEN], cwd=folder, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert dict(out["actions"])["sendTrack"] == "ujsJxBdpg7XkYwKSKREnQt"
    assert out["listedSourceIds"] == out["sourceIds"] and out["sourcePages"] == 2
    assert "pw-should-be-masked" not in done.stdout and "•" in out["sourceSettings"]["password"]
    assert out["sourceName"] == "Warehouse"
    assert out["modelEnabled"] is False and out["models"] == [out["modelId"]]
    assert out["destinationSlug"] == "actions-segment-profiles" and out["destinationEnabled"] is True
    assert out["subscriptionSlug"] == "sendIdentify" and out["subscriptionName"] == "Identify users"
    assert out["subscriptionFetched"] == 'event = "new" or event = "updated"'
    assert out["syncStatus"] == "SUCCESS" and out["syncExtractCount"] == "0"
    assert out["missing"] == "not-found"
    assert out["invalid"] == ["input-validation", "metadataId"]
    for key in ("deleteSubscription", "deleteDestination", "deleteModel", "deleteSource"):
        assert out[key] == "SUCCESS"


WRITE_KEY = "node-write-key"


@pytest.mark.slow
@pytest.mark.parametrize("live_server", [{"write_key": WRITE_KEY}], indirect=True)
def test_analytics_node_delivers_to_the_tracking_api(live_server):
    folder = sdk_folder()
    done = subprocess.run(
        ["node", "track.js", live_server.url, WRITE_KEY],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"errors": []}
    profile = httpx.get(f"{live_server.url}/emulator/v1/profiles/node-user").json()["data"]["profile"]
    assert profile["traits"] == {"plan": "pro", "email": "node@example.com"}
    assert profile["groups"] == ["node-acct"]
    assert [(e["event"], e["properties"]) for e in profile["events"]] == [("Node Event", {"amount": 3})]
    refused = subprocess.run(
        ["node", "track.js", live_server.url, "wrong-key"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(refused.stdout)["errors"], "a wrong write key must be reported to the client"

"""Segment's own TypeScript Public API SDK, unchanged, against the served emulator.

Skipped when node/npm are absent or the package cannot be installed (offline). The package is
installed once into a cache folder outside the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "sdk_typescript"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "segprof-tests" / "papi-sdk-ts-47"
TOKEN = "sdk-test-token"


def sdk_folder() -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are needed for the TypeScript SDK check")
    marker = CACHE / "node_modules" / "@segment" / "public-api-sdk-typescript" / "package.json"
    if not marker.exists():
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
    shutil.copy(HERE / "run.js", CACHE / "run.js")
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

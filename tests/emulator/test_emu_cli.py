"""`segprof emulator serve` and `segprof profiles show`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from starlette.testclient import TestClient

from segprof.emulator import project_data_dir
from segprof.emulator.app import create_app

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_and_keeps_secrets_out_of_output(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "SEGPROF_EMULATOR_TOKEN": "env-token-xyz",
        "SEGPROF_EMULATOR_WRITE_KEY": "wk-secret-abc",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "segprof",
            "emulator",
            "serve",
            "--port",
            str(port),
            "--data",
            str(tmp_path / "d"),
            "--no-rate-limits",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        assert httpx.get(base + "/sources").status_code == 401
        ok = httpx.get(base + "/sources", headers={"Authorization": "Bearer env-token-xyz"})
        assert ok.status_code == 200
        refused = httpx.post(base + "/v1/track", json={"userId": "u", "event": "E"}, auth=("nope", ""))
        assert refused.status_code == 401
        accepted = httpx.post(
            base + "/v1/track", json={"userId": "u", "event": "E"}, auth=("wk-secret-abc", "")
        )
        assert accepted.status_code == 200
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    text = (out + err).decode()
    assert "env-token-xyz" not in text and "wk-secret-abc" not in text
    assert f"127.0.0.1:{port}" in text


def test_serve_rejects_bad_fault_settings(run_cli, tmp_path):
    result = run_cli("emulator", "serve", "--data", str(tmp_path), "--error-rate", "1.5")
    assert result.exit_code == 1
    assert "error_rate" in result.output and "Traceback" not in result.output


def seed_profile(project: Path) -> None:
    with TestClient(create_app(project_data_dir(project))) as client:
        client.post(
            "/v1/batch",
            json={
                "batch": [
                    {
                        "type": "identify",
                        "userId": "jane",
                        "traits": {"email": "jane@example.com", "plan": "pro"},
                    },
                    {"type": "track", "userId": "jane", "event": "Renewed", "properties": {"amount": 49}},
                ]
            },
        )


def test_profiles_show_reads_the_embedded_workspace(run_cli, tmp_path):
    seed_profile(tmp_path)
    result = run_cli("profiles", "show", "jane", "-C", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "jane@example.com" in result.output and "Renewed" in result.output
    as_json = run_cli("profiles", "show", "jane", "-C", str(tmp_path), "--format", "json")
    profile = json.loads(as_json.stdout)
    assert profile["traits"] == {"email": "jane@example.com", "plan": "pro"}


def test_profiles_show_unknown_and_missing_workspace(run_cli, tmp_path):
    missing = run_cli("profiles", "show", "jane", "-C", str(tmp_path))
    assert missing.exit_code == 1 and "no embedded workspace" in missing.output
    assert not (tmp_path / ".segprof").exists()
    seed_profile(tmp_path)
    unknown = run_cli("profiles", "show", "nobody", "-C", str(tmp_path))
    assert unknown.exit_code == 1 and "nobody" in unknown.output and "Traceback" not in unknown.output


def test_profiles_show_over_url(run_cli, live_server):
    httpx.post(f"{live_server.url}/v1/identify", json={"userId": "remote", "traits": {"k": "v"}})
    result = run_cli("profiles", "show", "remote", "--url", live_server.url, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["traits"] == {"k": "v"}
    down = run_cli("profiles", "show", "remote", "--url", "http://127.0.0.1:9")
    assert down.exit_code == 1 and "cannot reach" in down.output

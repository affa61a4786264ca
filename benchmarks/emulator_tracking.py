"""Tracking API throughput: the emulator vs a bare sink, both served by uvicorn on loopback.

Run: `python benchmarks/emulator_tracking.py [--messages 200000] [--batch 100] [--threads 4]`.
The bare sink parses the JSON body and answers `{"success":true}`; the ratio printed is
emulator throughput / sink throughput, measured in the same run with the same client.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

SINK = """
import json, sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

async def batch(request):
    json.loads(await request.body())
    return Response(b'{"success":true}', media_type="application/json")

uvicorn.run(Starlette(routes=[Route("/v1/batch", batch, methods=["POST"])]),
            host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def bodies(total: int, size: int, tag: str) -> list[bytes]:
    out = []
    for start in range(0, total, size):
        batch = [
            {
                "type": "identify",
                "userId": f"user-{i}",
                "messageId": f"{tag}-{i}",
                "traits": {"email": f"user-{i}@example.com", "plan": "pro", "score": i % 100},
                "timestamp": "2026-01-01T00:00:00.000Z",
                "integrations": {"All": False},
                "context": {"consent": {}},
            }
            for i in range(start, min(start + size, total))
        ]
        out.append(json.dumps({"batch": batch}).encode())
    return out


def drive(url: str, payloads: list[bytes], threads: int) -> float:
    headers = {"Content-Type": "application/json", "Authorization": "Basic a2V5Og=="}
    with httpx.Client(timeout=60) as client:

        def send(body: bytes) -> None:
            response = client.post(url + "/v1/batch", content=body, headers=headers)
            response.raise_for_status()

        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(send, payloads))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    sink_port, emu_port = free_port(), free_port()
    data = tempfile.mkdtemp(prefix="segprof-bench-")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", SINK, str(sink_port)], env=env),
        subprocess.Popen(
            [sys.executable, "-m", "segprof", "emulator", "serve", "--port", str(emu_port), "--data", data,
             "--no-rate-limits"],
            env=env, cwd=ROOT, stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        sink, emu = f"http://127.0.0.1:{sink_port}", f"http://127.0.0.1:{emu_port}"
        wait_up(sink)
        wait_up(emu)
        sink_s = drive(sink, bodies(args.messages, args.batch, "s"), args.threads)
        emu_s = drive(emu, bodies(args.messages, args.batch, "e"), args.threads)
        n = args.messages
        print(f"messages={n} batch={args.batch} threads={args.threads}")
        print(f"bare sink : {n / sink_s:10.0f} msg/s ({sink_s:.2f} s)")
        print(f"emulator  : {n / emu_s:10.0f} msg/s ({emu_s:.2f} s)")
        print(f"ratio emulator/sink throughput: {sink_s / emu_s:.2f}")
        stored = httpx.get(emu + "/emulator/v1/messages?limit=1").json()["data"]["pagination"]["totalEntries"]
        assert stored == n, f"emulator stored {stored} of {n} messages"
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()

"""Benchmark: delivering N identify events to a loopback Tracking API sink.

Compares Segment's official `segment-analytics-python` (its default batching: 100 events or
0.5 s per request, one consumer thread) with segprof's delivery engine, sending the same events
to the same sink. The sink runs in a subprocess pinned to the other core; it gunzips, counts
events and checks that every messageId arrives exactly once. A run is timed from the first
event handed to the client until the sink has counted all of them.

    python benchmarks/delivery.py --events 200000

Prints events/s for each client and the ratio segprof / analytics-python. segprof's defaults
send uncompressed to a loopback endpoint (gzip is on by default for remote ones); the run with
gzip forced shows its cost here. `--rtt-ms` and `--link-mbps` make the sink answer as a real
network would, to see where gzip pays, e.g.:

    python benchmarks/delivery.py --events 50000 --skip-theirs --rtt-ms 40 --link-mbps 100
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WRITE_KEY = "bench_write_key"
TIMESTAMP = "2026-01-02T03:04:05.678+00:00"
LIBRARY = {"name": "analytics-python", "version": "2.4.0"}
# Parts every message shares; a payload builder shares such constant objects between messages.
CONTEXT = {"library": LIBRARY}
INTEGRATIONS: dict[str, Any] = {}

# ---- the sink (runs in its own process) ---------------------------------------------------------


def serve_sink(port: int, rtt: float = 0.0, link_bps: float = 0.0) -> None:
    """A small HTTP/1.1 keep-alive server on asyncio: POST /v1/batch counts, GET /stats, POST /reset.

    Written on raw asyncio (not a full ASGI stack) so that the sink is never what limits a run.
    With `rtt` (seconds) and `link_bps` (bits/s of one shared uplink) it answers each request
    as late as a real network would: after the body's transfer time on the link plus one RTT.
    """
    import asyncio

    # Events are counted by their messageId (each message has exactly one, and the benchmark's
    # traits never contain that key): a regex over the body costs a tenth of a full JSON parse,
    # which keeps the sink far from being what limits a run. The first body of every run is
    # also parsed in full to check that the regex count matches the batch.
    message_ids = re.compile(rb'"messageId"\s*:\s*"([^"]*)"')

    link = {"free_at": 0.0}

    async def network_delay(wire_bytes: int) -> None:
        if not rtt and not link_bps:
            return
        loop = asyncio.get_running_loop()
        start = max(loop.time(), link["free_at"])
        link["free_at"] = start + (wire_bytes * 8 / link_bps if link_bps else 0.0)
        await asyncio.sleep(link["free_at"] + rtt - loop.time())

    state: dict[str, Any] = {"events": 0, "requests": 0, "bytes": 0, "ids": set(), "dupes": 0, "sample": None}

    def handle(method: bytes, path: bytes, headers: dict[bytes, bytes], body: bytes) -> bytes:
        if path == b"/stats":
            stats = {k: state[k] for k in ("events", "requests", "bytes", "dupes", "sample")}
            stats["unique"] = len(state["ids"])
            return json.dumps(stats).encode()
        if path == b"/reset":
            state.update(events=0, requests=0, bytes=0, ids=set(), dupes=0, sample=None)
            return b"{}"
        state["bytes"] += len(body)
        if headers.get(b"content-encoding") == b"gzip":
            body = gzip.decompress(body)
        found = message_ids.findall(body)
        if state["sample"] is None:
            batch = json.loads(body)["batch"]
            if [m["messageId"].encode() for m in batch] != found:
                raise SystemExit("sink: the messageId scan disagrees with the JSON body")
            state["sample"] = batch[0]
        ids = state["ids"]
        before = len(ids)
        ids.update(found)
        state["dupes"] += len(found) - (len(ids) - before)
        state["events"] += len(found)
        state["requests"] += 1
        return b'{"success":true}'

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                method, path, _ = lines[0].split(b" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(b":")
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get(b"content-length", b"0"))
                body = await reader.readexactly(length) if length else b""
                if path == b"/v1/batch":
                    await network_delay(len(head) + length)
                answer = handle(method, path, headers, body)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(answer)).encode()
                    + b"\r\n\r\n"
                    + answer
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", port, limit=1 << 20)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# ---- the clients ---------------------------------------------------------------------------------


Row = tuple[str, dict[str, Any], str]


def rows(events: int) -> list[Row]:
    """The warehouse rows both clients start from: (user id, traits, deterministic messageId).

    Built before timing, since reading them is the same cost for either client.
    """
    rng = random.Random(20261123)  # varied values, so gzip meets realistic (not repetitive) data
    out = []
    for i in range(events):
        traits = {
            "external_id": f"{rng.getrandbits(128):032x}",
            "email": f"user{i}@example.com",
            "name": f"User Number {i}",
            "plan": ("free", "pro", "enterprise")[i % 3],
            "ltv": round(i * 1.37, 2),
            "logins": i % 97,
            "created_at": "2025-06-01T12:00:00Z",
        }
        out.append((f"user-{i}", traits, f"bench-{i:010d}-4f1c2a"))
    return out


def run_analytics_python(base: str, data: list[Row]) -> float:
    import segment.analytics as analytics

    client = analytics.Client(WRITE_KEY, host=base, max_queue_size=len(data) + 1)
    started = time.perf_counter()
    for user_id, traits, message_id in data:
        client.identify(user_id, traits, message_id=message_id)
    client.flush()
    wait_for(base, len(data))
    elapsed = time.perf_counter() - started
    client.shutdown()
    return elapsed


def segprof_messages(data: list[Row]) -> Iterator[tuple[int, dict[str, Any]]]:
    # The message analytics-python sends for client.identify(user_id, traits, message_id=...),
    # built per row inside the timed run as a sync builds it.
    for i, (user_id, traits, message_id) in enumerate(data):
        yield (
            i,
            {
                "integrations": INTEGRATIONS,
                "anonymousId": None,
                "timestamp": TIMESTAMP,
                "context": CONTEXT,
                "type": "identify",
                "userId": user_id,
                "traits": traits,
                "messageId": message_id,
            },
        )


def run_segprof(base: str, data: list[Row], *, gzip_on: bool | None, concurrency: int) -> float:
    from segprof.sync.deliver.blocking import deliver
    from segprof.sync.deliver.delivery_config import DeliveryConfig

    config = DeliveryConfig(write_key=WRITE_KEY, tracking_base=base, gzip=gzip_on, concurrency=concurrency)
    started = time.perf_counter()
    summary = deliver(segprof_messages(data), config)
    wait_for(base, len(data))
    elapsed = time.perf_counter() - started
    if summary.failed:
        raise SystemExit(f"segprof reported {summary.failed} failures: {summary.failures_by_reason}")
    return elapsed


# ---- helpers -------------------------------------------------------------------------------------


def stats(base: str) -> dict[str, Any]:
    import httpx

    return httpx.get(f"{base}/stats", timeout=10).json()


def wait_for(base: str, events: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while stats(base)["events"] < events:
        if time.monotonic() > deadline:
            raise SystemExit("the sink did not receive every event in time")
        time.sleep(0.02)


def check(base: str, events: int, name: str) -> dict[str, Any]:
    got = stats(base)
    if got["events"] != events or got["unique"] != events or got["dupes"]:
        raise SystemExit(
            f"{name}: sink counted {got['events']} events, {got['unique']} unique, {got['dupes']} dupes"
        )
    return got


def reset(base: str) -> None:
    import httpx

    httpx.post(f"{base}/reset", timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_self() -> float:
    """CPU seconds of this process, all threads (analytics-python sends from a thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {cpu})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, default=6, help="segprof's connections")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each client (the best is reported)")
    parser.add_argument("--skip-theirs", action="store_true", help="do not run analytics-python")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="simulated round trip per request")
    parser.add_argument("--link-mbps", type=float, default=0.0, help="simulated shared uplink, Mbit/s")
    parser.add_argument("--serve-sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sink:
        pin(1)
        serve_sink(args.serve_sink, args.rtt_ms / 1000, args.link_mbps * 1e6)
        return

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sink = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve-sink",
            str(port),
            f"--rtt-ms={args.rtt_ms}",
            f"--link-mbps={args.link_mbps}",
        ]
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                stats(base)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        pin(0)
        import segment.analytics  # noqa: F401  (imports are not part of either timed run)

        import segprof.sync.deliver.blocking  # noqa: F401

        n = args.events
        data = rows(n)
        # Warm both clients up (imports, first connection, TLS setup) outside the timed runs.
        run_analytics_python(base, data[:10])
        run_segprof(base, data[:10], gzip_on=True, concurrency=1)
        network = "loopback"
        if args.rtt_ms or args.link_mbps:
            network = (
                f"simulated network: RTT {args.rtt_ms:g} ms, uplink {args.link_mbps or 'unlimited'} Mbit/s"
            )
        print(f"{n:,} identify events to a sink on 127.0.0.1 ({network}; client on cpu 0, sink on cpu 1)")

        runs: list[tuple[str, Any]] = []
        if not args.skip_theirs:
            runs.append(("analytics-python (defaults)", lambda: run_analytics_python(base, data)))
        segprof_runs = (("segprof (defaults)", None), ("segprof (gzip forced)", True))
        for label, gzip_on in segprof_runs:
            runs.append(
                (label, lambda g=gzip_on: run_segprof(base, data, gzip_on=g, concurrency=args.concurrency))
            )
        results: dict[str, float] = {}
        for label, run in runs:
            best: tuple[float, float, float] | None = None
            for _ in range(args.repeat):
                reset(base)
                client0, sink0 = cpu_self(), cpu_of(sink.pid)
                elapsed = run()
                measured = (elapsed, cpu_self() - client0, cpu_of(sink.pid) - sink0)
                got = check(base, n, label)
                if best is None or measured[0] < best[0]:
                    best = measured
            assert best is not None
            elapsed, client_cpu, sink_cpu = best
            results[label] = n / elapsed
            print(
                f"  {label:<28} {n / elapsed:>9,.0f} events/s  {elapsed:6.2f} s  "
                f"{got['requests']:>5} requests  {got['bytes'] / n:5.1f} B/event sent  "
                f"CPU per event: client {client_cpu / n * 1e6:5.1f} us, sink {sink_cpu / n * 1e6:4.1f} us"
            )
        theirs = results.get("analytics-python (defaults)")
        if theirs:
            for label, _ in segprof_runs:
                print(f"  ratio {label} / analytics-python: {results[label] / theirs:.1f}x")
    finally:
        sink.terminate()
        sink.wait(timeout=10)


if __name__ == "__main__":
    main()

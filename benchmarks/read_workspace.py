"""Benchmark: how close reading a workspace comes to one round trip per dependency level.

Builds a workspace of 5 Segment Profiles destinations × 10 mappings + 20 models, serves it on
127.0.0.1 with 50 ms of latency added to every request, reads it with `read_workspace()`, and
prints elapsed / (requests × 50 ms): the cost relative to sending the same requests one after
another. Target ≤ 0.25 (two dependency levels make 100 ms of 450 ms, so the floor is 0.22).

Two reads are measured: the one `segprof plan` makes (the destination ids are in state, so every
request goes out at once: one round trip) and a cold read (nothing known: destinations first,
then their subscriptions). Bounds measured in the same run are printed next to them, so a loaded
machine shows on both sides: one real round trip through the same client (the level bound), and
the same read one request at a time (the peer: a sequential client).

The cold read cannot beat two round trips; on a machine where one round trip with 50 ms of added
latency takes 54 ms, two already make 0.24 of the sequential sum, so its verdict is its distance
from that measured two-level bound. Exit status 0 when the plan read is <= 0.25 and the cold read
is within 1.25x of two measured round trips.

    python benchmarks/read_workspace.py [--server emulator|stub] [--latency-ms 50] [--runs 5]

`--server emulator` (the default when `segprof.emulator` is importable) serves segprof's own
emulator, filled through the client itself; `--server stub` serves a minimal reference-shaped
API of this file's own.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TOKEN = "bench-token-0000"
PROFILES = "639c2dbb1309fdcad13951b6"
DESTINATIONS, MAPPINGS_PER_DESTINATION, MODELS = 5, 10, 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Counter:
    """ASGI middleware for the stub: counts requests and adds a fixed latency to each."""

    def __init__(self, app: Any, latency: float) -> None:
        self.app = app
        self.latency = latency
        self.count = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.count += 1
            await asyncio.sleep(self.latency)
        await self.app(scope, receive, send)


def stub_app() -> Any:
    """A minimal read-only API answering the reference's list/catalog shapes."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    page = {"current": "MA==", "next": None}
    source = {
        "id": "src0000000000000000000",
        "slug": "warehouse",
        "name": "warehouse",
        "enabled": True,
        "metadata": {"id": "WvlvcGEJsT", "slug": "postgres"},
        "settings": {},
        "writeKeys": [],
    }
    models = [
        {
            "id": f"model{i:017d}",
            "sourceId": source["id"],
            "name": f"model_{i}",
            "description": " ",
            "enabled": True,
            "query": f"SELECT * FROM t{i}",
            "queryIdentifierColumn": "id",
        }
        for i in range(MODELS)
    ]
    actions = [
        {"id": "vm2tNA5U1zxUusQkdC4D7Z", "slug": "sendIdentify", "name": "Send Identify", "fields": []}
    ]
    metadata = {
        "id": PROFILES,
        "slug": "actions-segment-profiles",
        "name": "Segment Profiles",
        "actions": actions,
    }
    dests = [
        {
            "id": f"{i:024x}",
            "name": f"profiles_{i}",
            "enabled": True,
            "sourceId": source["id"],
            "settings": {},
            "metadata": metadata,
        }
        for i in range(DESTINATIONS)
    ]
    subs = {
        d["id"]: [
            {
                "id": f"sub{i}{j:018d}",
                "name": f"m_{i}_{j}",
                "actionId": actions[0]["id"],
                "actionSlug": "sendIdentify",
                "destinationId": d["id"],
                "modelId": models[(i * MAPPINGS_PER_DESTINATION + j) % MODELS]["id"],
                "enabled": True,
                "trigger": 'event = "new"',
                "settings": {},
                "reverseETLSchedule": {"strategy": "PERIODIC", "config": {"interval": "1h"}},
            }
            for j in range(MAPPINGS_PER_DESTINATION)
        ]
        for i, d in enumerate(dests)
    }

    def data(value: Any) -> JSONResponse:
        return JSONResponse({"data": value})

    async def sources(request: Any) -> JSONResponse:
        return data({"sources": [source], "pagination": page})

    async def list_models(request: Any) -> JSONResponse:
        return data({"models": models, "pagination": page})

    async def destinations(request: Any) -> JSONResponse:
        return data({"destinations": dests, "pagination": page})

    async def subscriptions(request: Any) -> JSONResponse:
        return data({"subscriptions": subs[request.path_params["dest"]], "pagination": page})

    async def catalog(request: Any) -> JSONResponse:
        return data({"destinationMetadata": metadata})

    return Starlette(
        routes=[
            Route("/sources", sources),
            Route("/reverse-etl-models", list_models),
            Route("/destinations", destinations),
            Route("/destinations/{dest}/subscriptions", subscriptions),
            Route("/catalog/destinations/{mid}", catalog),
        ]
    )


def fill_emulator(data_dir: Path) -> None:
    """segprof's emulator, filled with the benchmark workspace through the client itself."""
    from segprof.emulator.app import create_app
    from segprof.operations.workspaces import ClientOptions, open_workspace
    from segprof.workspace import RateLimits, Schedule
    from segprof.workspace.inprocess import InProcessTransport

    # Filled without rate limits (100 subscription writes would take 20 minutes otherwise).
    app = create_app(data_dir, token=TOKEN, rate_limits=False)
    options = ClientOptions(transport=InProcessTransport(app), limits=RateLimits.off())
    with open_workspace("segment", token=TOKEN, options=options) as ws:
        metadata = ws.get_destination_metadata(PROFILES)
        identify = metadata.action_ids()["sendIdentify"]
        src = ws.create_source(slug="bench_warehouse", metadata_id="WvlvcGEJsT", settings={})
        models = [
            ws.create_model(
                source_id=src.id,
                name=f"model_{i}",
                query=f"SELECT id FROM t{i}",
                query_identifier_column="id",
            )
            for i in range(MODELS)
        ]
        for i in range(DESTINATIONS):
            dest = ws.create_destination(source_id=src.id, name=f"profiles_{i}", enabled=True)
            for j in range(MAPPINGS_PER_DESTINATION):
                ws.create_subscription(
                    dest.id,
                    name=f"m_{i}_{j}",
                    action_id=identify,
                    trigger='event = "new"',
                    enabled=True,
                    settings={"engage_space": "bench", "user_id": {"@path": "$.properties.id"}},
                    model_id=models[(i * MAPPINGS_PER_DESTINATION + j) % MODELS].id,
                    schedule=Schedule(strategy="PERIODIC", config={"interval": "1h"}),
                )


def serve_in_subprocess(kind: str, data_dir: Path, port: int, latency: float) -> subprocess.Popen:
    """Serve the app from its own process, as a remote API would be: no shared interpreter lock."""
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            kind,
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--latency-ms",
            str(latency * 1000),
        ],
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        if proc.poll() is not None:
            raise SystemExit("the benchmark server failed to start")
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the benchmark server did not start in time")


def run_server(kind: str, data_dir: Path, port: int, latency: float) -> None:
    import uvicorn

    if kind == "emulator":
        from segprof.emulator.app import create_app
        from segprof.emulator.faults import FaultConfig

        # The emulator's own latency injection.
        app = create_app(data_dir, token=TOKEN, faults=FaultConfig(latency_ms=round(latency * 1000)))
    else:
        app = Counter(stub_app(), latency)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def measure(ws: Any, runs: int, latency: float, known: Any) -> tuple[int, float, float]:
    """Median elapsed and ratio over `runs` reads; requests counted by the client."""
    elapsed_all, ratios = [], []
    requests = 0
    for _ in range(runs):
        before = ws.requests_sent
        start = time.perf_counter()
        ws.read_workspace(destination_ids=known)
        elapsed = time.perf_counter() - start
        requests = ws.requests_sent - before
        elapsed_all.append(elapsed)
        ratios.append(elapsed / (requests * latency))
    return requests, statistics.median(elapsed_all), statistics.median(ratios)


def round_trip(ws: Any, runs: int) -> float:
    """Median time of one small GET through the same client: the cost of one dependency level."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        ws.request("GET", "/sources", params={"pagination.count": 200})
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    try:
        import segprof.emulator.app  # noqa: F401

        default_server = "emulator"
    except ImportError:
        default_server = "stub"
    parser.add_argument("--server", choices=["emulator", "stub"], default=default_server)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--serve", choices=["emulator", "stub"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    if args.serve:
        run_server(args.serve, args.data_dir, args.port, latency)
        return 0

    from segprof.operations.workspaces import ClientOptions, open_workspace
    from segprof.workspace import RateLimits

    with tempfile.TemporaryDirectory() as tmp:
        if args.server == "emulator":
            fill_emulator(Path(tmp))
        port = free_port()
        proc = serve_in_subprocess(args.server, Path(tmp), port, latency)
        try:
            options = ClientOptions(limits=RateLimits.off())
            url = f"http://127.0.0.1:{port}"
            with open_workspace("segment", token=TOKEN, api_url=url, options=options) as ws:
                live = ws.read_workspace()  # warms the connection pool
                known = [d.id for d in live.destinations]
                cold = measure(ws, args.runs, latency, ())
                warm = measure(ws, args.runs, latency, known)
                # Bounds measured in the same run, so machine load shows up on both sides: one
                # real round trip (latency + server + client work) ...
                rtt = round_trip(ws, args.runs)
            # ... and the same read, one request at a time (the peer: a sequential client).
            one_at_a_time = ClientOptions(limits=RateLimits.off(), max_concurrency=1)
            with open_workspace("segment", token=TOKEN, api_url=url, options=one_at_a_time) as seq_ws:
                seq_ws.read_workspace()
                sequential = measure(seq_ws, args.runs, latency, ())
            subs = len(live.all_subscriptions())
            assert len(live.destinations) == DESTINATIONS and subs == DESTINATIONS * MAPPINGS_PER_DESTINATION
            print(
                f"server: {args.server} (own process on 127.0.0.1, "
                f"{args.latency_ms:.0f} ms added per request)"
            )
            print(
                f"workspace: {len(live.destinations)} destinations, {subs} mappings, "
                f"{len(live.models)} models"
            )
            for label, (requests, elapsed, ratio) in (
                ("plan read (destination ids from state: 1 dependency level)", warm),
                ("cold read (nothing known: 2 dependency levels)", cold),
            ):
                print(
                    f"{label}: {requests} requests, sequential cost {requests * latency * 1000:.0f} ms, "
                    f"elapsed median {elapsed * 1000:.0f} ms, elapsed / (requests x latency) = {ratio:.3f}"
                )
            print(f"one measured round trip (median): {rtt * 1000:.0f} ms")
            cold_bound = 2 * rtt / (cold[0] * latency)
            print(
                f"two measured round trips / (requests x latency) = {cold_bound:.3f} "
                "(the floor of any cold read on this machine)"
            )
            print(
                f"plan read / (1 x round trip) = {warm[1] / rtt:.2f}; "
                f"cold read / (2 x round trip) = {cold[1] / (2 * rtt):.2f}  (1.00 = the level bound)"
            )
            print(
                f"sequential read (max_concurrency=1): {sequential[1] * 1000:.0f} ms; "
                f"cold concurrent / sequential = {cold[1] / sequential[1]:.3f}"
            )
            plan_ok = warm[2] <= 0.25
            cold_ok = cold[1] <= 1.25 * 2 * rtt
            print(
                f"verdict: plan read {warm[2]:.3f} {'<=' if plan_ok else '>'} 0.25; "
                f"cold read {cold[1] / (2 * rtt):.2f}x {'<=' if cold_ok else '>'} 1.25x its level bound"
            )
            return 0 if plan_ok and cold_ok else 1
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())

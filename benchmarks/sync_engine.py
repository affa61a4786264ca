"""Sync engine throughput against its own bound, measured in the same run.

A DuckDB model of N users is synced by `SyncEngine.run` to a Tracking API that answers 200 at once
(an in-process transport, so the network is out of the picture). The bound is the part no engine
can avoid: building the same N messages with `MessageBuilder` alone. The ratio says what the
diff, Arrow streaming, delivery batching and per-batch acknowledgement cost on top.

    python benchmarks/sync_engine.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import httpx

from segprof.sync.deliver.delivery_config import DeliveryConfig
from segprof.sync.detect.ids import message_id
from segprof.sync.engine import SyncEngine
from segprof.sync.messages.arrow_events import events_from_batch
from segprof.sync.messages.payloads import MessageBuilder
from segprof.sync.spec import SyncJob, triggers_of
from segprof.warehouses import connect

SETTINGS = {
    "user_id": {"@path": "$.__segment_id"},
    "timestamp": {"@path": "$.properties.updated_at"},
    "traits": {k: {"@path": f"$.properties.{k}"} for k in ("email", "plan", "ltv")},
}


async def _ok(request: httpx.Request) -> httpx.Response:
    await request.aread()
    return httpx.Response(200, json={"success": True})


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        con = connect("duckdb", {"path": "wh.duckdb"}, Path(tmp), create=True)
        con.execute(
            f"CREATE TABLE users AS SELECT i AS user_id, 'u' || i || '@x.com' AS email, "
            f"CASE WHEN i % 3 = 0 THEN 'pro' ELSE 'free' END AS plan, i * 1.5 AS ltv, "
            f"TIMESTAMP '2026-01-01' AS updated_at FROM range({n}) t(i)"
        )
        # bound: build every message once, from the same Arrow batches
        builder = MessageBuilder("send_identify", SETTINGS)
        started = time.perf_counter()
        for batch in con.stream_arrow("SELECT * FROM users", 5_000):
            for event in events_from_batch(batch, identifier="user_id", kind="new"):
                builder.build(event, message_id("sub", event["__segment_id"], "c", "new"))
        bound = time.perf_counter() - started

        job = SyncJob(
            "sub", "send_identify", SETTINGS, triggers_of('event = "new"'), "SELECT * FROM users", "user_id"
        )
        config = DeliveryConfig(write_key="k", tracking_base="http://127.0.0.1:1/v1", max_rps=None)
        started = time.perf_counter()
        summary = SyncEngine(con, job).run(config, transport=httpx.MockTransport(_ok))
        engine = time.perf_counter() - started
        con.close()
    assert summary.delivered == n, summary
    print(f"records            {n:,}")
    print(f"build only (bound) {bound:.2f}s  {n / bound:,.0f} rows/s")
    print(f"engine run         {engine:.2f}s  {n / engine:,.0f} rows/s")
    print(f"ratio engine/bound {engine / bound:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)

"""Throughput of the Arrow → event fast path and of build_message.

Run: python benchmarks/payload_encoding.py [rows]

Prints rows/s for:
  - pyarrow `Table.to_pylist()` (the bound: plain Python dicts, no JSON rules applied),
  - `events_from_batch` (our fast path: column-at-a-time encoding),
  - `encode_row` over DuckDB `fetchall()` tuples (the per-value path),
  - `build_message` + `dumps` for an identify mapping over the events,
and the ratios of the fast path to the bound and to the per-value path, measured in this run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb

from segprof.sync.messages.arrow_events import events_from_batch
from segprof.sync.messages.encode import dumps, encode_row
from segprof.sync.messages.payloads import MessageBuilder, build_message

SQL = """
SELECT 'u_' || i AS user_id, 'user' || i || '@example.com' AS email, 'Name ' || i AS name,
       CASE i % 3 WHEN 0 THEN 'free' WHEN 1 THEN 'pro' ELSE 'team' END AS plan,
       TIMESTAMP '2024-01-01' + INTERVAL (i) SECOND AS updated_at, (i % 10000) / 100.0::DECIMAL(12,2) AS mrr,
       i AS seats, i % 2 = 0 AS active, i * 7 AS score, md5(i::VARCHAR) AS token
FROM range({rows}) t(i)
"""


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    con = duckdb.connect()
    con.execute("SET threads = 1")
    table = con.sql(SQL.format(rows=rows)).to_arrow_table()
    tuples = con.cursor().execute(SQL.format(rows=rows)).fetchall()
    names = table.schema.names

    t_bound = best_of(lambda: table.to_pylist())
    t_fast = best_of(lambda: events_from_batch(table, identifier="user_id", kind="new"))
    t_slow = best_of(lambda: [encode_row(dict(zip(names, r, strict=True))) for r in tuples])

    events = events_from_batch(table, identifier="user_id", kind="new")
    settings = {
        "engage_space": "wk",
        "user_id": {"@path": "$.__segment_id"},
        "timestamp": {"@path": "$.properties.updated_at"},
        "traits": {
            c: {"@path": f"$.properties.{c}"} for c in ("email", "name", "plan", "mrr", "seats", "active")
        },
    }
    t_build = best_of(lambda: [dumps(build_message("send_identify", settings, e, "mid")) for e in events], 1)
    builder = MessageBuilder("send_identify", settings)
    t_builder = best_of(lambda: [dumps(builder.build(e, "mid")) for e in events], 1)

    def rate(t: float) -> str:
        return f"{rows / t:>12,.0f} rows/s"

    print(f"rows: {rows:,} x {len(names)} columns (DuckDB {duckdb.__version__}, 1 thread)")
    print(f"pyarrow to_pylist (bound)        {rate(t_bound)}")
    print(f"events_from_batch (fast path)    {rate(t_fast)}   {t_bound / t_fast:.2f}x of bound")
    print(f"encode_row over fetchall         {rate(t_slow)}   fast path is {t_slow / t_fast:.2f}x faster")
    print(f"build_message + dumps (identify) {rate(t_build)}")
    print(f"MessageBuilder.build + dumps     {rate(t_builder)}   {t_build / t_builder:.2f}x build_message")


if __name__ == "__main__":
    main()

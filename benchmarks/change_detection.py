"""Benchmark: change detection on DuckDB against the bare diff query, with peak memory.

Generates (and caches under benchmarks/.cache/) a DuckDB table of N rows × 10 columns, records a
baseline snapshot, applies 1 % updates, 0.5 % inserts and 0.5 % deletes, then measures, each in a
fresh child process (so peak RSS is per operation):

  bare   the diff query alone: model ⟗ snapshot on the id with the canonical checksum, into a table
  ours   ChangeTracker.begin() (identifier checks, diff into the run's changes table, counts,
         bookkeeping) plus streaming every changed row out as Arrow batches

and prints ours/bare (target ≤ 1.5×), peak RSS (target ≤ 1 GB), and the RSS ratio between N rows
and N/10 rows (target ≤ 2×).

    python benchmarks/change_detection.py            # 10 M rows (first run generates ~1 GB of cache)
    python benchmarks/change_detection.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"
sys.path.insert(0, str(ROOT))

MODEL = "SELECT * FROM users"
MAPPED = ["email", "name", "plan", "created_at", "ltv", "logins", "is_active", "score", "token"]


def settings(db: Path, threads: int, memory_limit: str) -> dict[str, object]:
    tmp = CACHE / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {"path": str(db), "threads": threads, "memory_limit": memory_limit, "temp_directory": str(tmp)}


def generate(rows: int) -> Path:
    """The cached base table (generated once per size)."""
    import duckdb

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"users_{rows}.duckdb"
    if path.exists():
        return path
    part = path.with_suffix(".partial")
    part.unlink(missing_ok=True)
    con = duckdb.connect(str(part))
    con.execute("SET threads = 2")
    con.execute(
        f"""
        CREATE TABLE users AS
        SELECT 'u' || i::VARCHAR AS user_id,
               'user' || i::VARCHAR || '@example.com' AS email,
               'Name ' || (i % 100000)::VARCHAR AS name,
               (['free', 'pro', 'team', 'enterprise'])[1 + i % 4] AS plan,
               TIMESTAMP '2020-01-01' + to_seconds(i % 100000000) AS created_at,
               (i % 100000)::DECIMAL(12, 2) / 7 AS ltv,
               (i % 1000)::INTEGER AS logins,
               i % 3 = 0 AS is_active,
               (i * 7 % 1013)::INTEGER AS score,
               md5(i::VARCHAR) AS token
        FROM range({rows}) AS r(i)
        """
    )
    con.close()
    part.rename(path)
    return path


def prepare(rows: int, threads: int, memory_limit: str) -> tuple[Path, float]:
    """A working copy: baseline snapshot recorded, then 1 % updated, 0.5 % new, 0.5 % deleted."""
    from segprof.sync.detect.changes import ChangeTracker
    from segprof.sync.detect.runs import MappingSpec
    from segprof.warehouses import connect

    base = generate(rows)
    work = CACHE / f"work_{rows}.duckdb"
    work.unlink(missing_ok=True)
    shutil.copyfile(base, work)
    con = connect("duckdb", settings(work, threads, memory_limit), ROOT)
    tracker = ChangeTracker(con, MappingSpec("bench", MODEL, "user_id", MAPPED))
    t0 = time.perf_counter()
    tracker.rebaseline()
    baseline_s = time.perf_counter() - t0
    new = rows // 200
    con.execute("UPDATE users SET plan = 'changed' WHERE hash(user_id) % 100 = 1")
    con.execute("DELETE FROM users WHERE hash(user_id) % 200 = 2")
    con.execute(
        f"INSERT INTO users SELECT 'n' || i::VARCHAR, 'new@example.com', 'New', 'free', "
        f"TIMESTAMP '2024-01-01', 1.00, 1, TRUE, 1, md5(i::VARCHAR) FROM range({new}) AS r(i)"
    )
    con.execute("CHECKPOINT")
    con.close()
    return work, baseline_s


def child(op: str, db: Path, threads: int, memory_limit: str) -> dict[str, float]:
    from segprof.sync.detect.changes import ChangeTracker
    from segprof.sync.detect.checksum import checksum_sql
    from segprof.sync.detect.runs import MappingSpec
    from segprof.warehouses import connect

    con = connect("duckdb", settings(db, threads, memory_limit), ROOT)
    tracker = ChangeTracker(con, MappingSpec("bench", MODEL, "user_id", MAPPED))
    out: dict[str, float] = {}
    _cols, _ident, pairs = tracker._resolve_columns()  # outside the bare timing: only the query counts
    t0 = time.perf_counter()
    if op == "bare":
        snap = tracker.tables.snapshot
        con.execute("DROP TABLE IF EXISTS bare_changes")
        con.execute(
            "CREATE TEMP TABLE bare_changes AS SELECT coalesce(m.id, s.id) AS id, "
            "CASE WHEN s.id IS NULL THEN 'new' WHEN m.id IS NULL THEN 'deleted' ELSE 'updated' END AS kind "
            f"FROM (SELECT CAST(q.user_id AS VARCHAR) AS id, {checksum_sql(pairs, 'q')} AS checksum "
            f"FROM ({MODEL}) AS q) AS m FULL OUTER JOIN {snap} AS s ON m.id = s.id "
            "WHERE s.id IS NULL OR m.id IS NULL OR m.checksum <> s.checksum"
        )
        out["changes"] = con.query_rows("SELECT count(*) FROM bare_changes")[0][0]
    else:
        run = tracker.begin()
        t1 = time.perf_counter()
        streamed = 0
        for batch in tracker.stream(run, batch_rows=10_000):
            streamed += batch.num_rows
        out["begin_s"] = t1 - t0
        out["stream_s"] = time.perf_counter() - t1
        out["changes"] = streamed
        out["new"], out["updated"], out["deleted"] = run.counts.new, run.counts.updated, run.counts.deleted
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    con.close()
    return out


def measure(op: str, db: Path, threads: int, memory_limit: str) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", op, "--db", str(db), "--threads", str(threads)]
    cmd += ["--memory-limit", memory_limit]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench(rows: int, threads: int, memory_limit: str, repeat: int) -> dict[str, object]:
    print(f"-- {rows:,} rows: preparing", flush=True)
    db, baseline_s = prepare(rows, threads, memory_limit)
    bare, ours = [], []
    for _ in range(repeat):  # alternate, so drift in the machine's load hits both alike
        bare.append(measure("bare", db, threads, memory_limit))
        ours.append(measure("ours", db, threads, memory_limit))
    b = min(bare, key=lambda r: r["seconds"])
    o = min(ours, key=lambda r: r["seconds"])
    assert o["changes"] == b["changes"], (o, b)
    db.unlink(missing_ok=True)
    result = {
        "rows": rows,
        "baseline_s": baseline_s,
        "bare_s": b["seconds"],
        "ours_s": o["seconds"],
        "begin_s": o["begin_s"],
        "stream_s": o["stream_s"],
        "ratio": o["seconds"] / b["seconds"],
        "changes": int(o["changes"]),
        "bare_rss_mb": max(r["peak_rss_mb"] for r in bare),
        "ours_rss_mb": max(r["peak_rss_mb"] for r in ours),
    }
    print(
        f"   baseline (rebaseline) {baseline_s:6.2f} s | bare diff {b['seconds']:6.2f} s | "
        f"ours {o['seconds']:6.2f} s (begin {o['begin_s']:.2f} + stream {o['stream_s']:.2f}) | "
        f"ratio {result['ratio']:.2f}x | changes {result['changes']:,} | "
        f"peak RSS bare {result['bare_rss_mb']:.0f} MB, ours {result['ours_rss_mb']:.0f} MB",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="600MB")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", choices=["bare", "ours"])
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.db, args.threads, args.memory_limit)))
        return
    big = bench(args.rows, args.threads, args.memory_limit, args.repeat)
    small = bench(max(args.rows // 10, 1000), args.threads, args.memory_limit, args.repeat)
    rss_ratio = big["ours_rss_mb"] / small["ours_rss_mb"]
    print()
    print(f"change detection vs bare diff at {big['rows']:,} rows: {big['ratio']:.2f}x (target <= 1.5x)")
    print(f"peak RSS at {big['rows']:,} rows: {big['ours_rss_mb']:.0f} MB (target <= 1024 MB)")
    print(
        f"peak RSS {big['rows']:,} vs {small['rows']:,} rows: {big['ours_rss_mb']:.0f} / "
        f"{small['ours_rss_mb']:.0f} MB = {rss_ratio:.2f}x (target <= 2x)"
    )


if __name__ == "__main__":
    main()

"""segprof's sync on Spark through Spark Connect: the work stays in Spark, segprof's process stays small.

Owns: one local Spark Connect server (Spark in local mode, as in tests/spark), a table of `--rows`
generated inside Spark (`range`), one full sync and one incremental sync (1 % of the records
updated, the table rewritten in Spark) of a self-hosted Send Identify mapping to the loopback sink,
and a report per sync: wall time, rows/s, the peak RSS of the segprof process and of the Spark JVM,
and their ratio. Must never pull the table into this process (it is made and changed by SQL in
Spark) and never time the set-up.

    python benchmarks/spark_sync.py [--rows 10000000] [--spark-memory 6g] [--timeout 1200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from sync_contenders import Measured, Sink, measure, python_env, segprof_cli  # noqa: E402

SCHEMA = "bench"
TRAITS = ["email", "name", "plan", "ltv", "logins", "is_active", "updated_at"]


def spark_sql(url: str, *statements: str) -> None:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(url).create()
    spark.client.disable_reattachable_execute()
    try:
        for statement in statements:
            spark.sql(statement).collect()
    finally:
        spark.stop()


def users_select(source: str, updated: bool) -> str:
    """The users table as SQL over `range` (or over itself, with 1 % of the plans changed)."""
    if updated:
        return (
            f"SELECT user_id, email, name, CASE WHEN user_id % 100 = 0 THEN 'pro' ELSE plan END AS plan, "
            f"ltv, logins, is_active, updated_at FROM {source}"
        )
    return (
        "SELECT id AS user_id, concat('u', id, '@example.com') AS email, concat('User ', id) AS name, "
        "CASE WHEN id % 3 = 0 THEN 'team' ELSE 'free' END AS plan, CAST(id % 1000 AS DECIMAL(12,2)) AS ltv, "
        "CAST(id % 97 AS INT) AS logins, id % 2 = 0 AS is_active, "
        f"TIMESTAMP '2024-01-01 00:00:00' + make_interval(0, 0, 0, 0, 0, 0, id % 86400) AS updated_at "
        f"FROM {source}"
    )


def write_project(root: Path, url: str, sink_port: int) -> None:
    import yaml

    doc = {
        "version": 1,
        "workspace": {"backend": "local"},
        "sources": {"lake": {"type": "databricks", "connect_url": url, "schema": SCHEMA}},
        "models": {"users": {"source": "lake", "identifier": "user_id", "query": "SELECT * FROM users"}},
        "destinations": {
            "profiles": {
                "type": "segment_profiles",
                "write_key": "bench-write-key",
                "tracking_url": f"http://127.0.0.1:{sink_port}/v1",
            }
        },
        "mappings": {
            "identify_users": {
                "model": "users",
                "destination": "profiles",
                "action": "send_identify",
                "on": ["new", "updated", "deleted"],
                "fields": {"user_id": {"identifier": True}, "traits": {c: c for c in TRAITS}},
                "self_hosted": True,
                "enabled": False,
            }
        },
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "segprof.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def jvm_pid(port: int) -> int:
    """The Spark Connect server's JVM: the process whose command line binds the server's port."""
    mark = f"spark.connect.grpc.binding.port={port}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if mark in cmdline and b"java" in cmdline.split(b"\0")[0]:
                return int(entry.name)
    raise RuntimeError("the Spark Connect server's JVM was not found")


def jvm_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_jvm_peak(pid: int) -> bool:
    """Start the JVM's peak RSS afresh (Linux: `5` to clear_refs); False where it is not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def sync_once(label: str, root: Path, sink: Sink, pid: int, rows: int, timeout: float) -> dict:
    sink.reset()
    fresh = reset_jvm_peak(pid)
    cmd = segprof_cli("sync", "identify_users", "--self-hosted", "-C", str(root), "--format", "json")
    m: Measured = measure(cmd, root, python_env(), timeout)
    got = sink.stats()
    jvm = jvm_peak_mb(pid)
    if not m.ok:
        print(m.stdout[-2000:], m.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{label}: the sync failed (exit {m.rc}{', timed out' if m.timed_out else ''})")
    run = json.loads(m.stdout)["runs"][0]
    return {
        "sync": label,
        "changes": run["new"] + run["updated"] + run["deleted"],
        "delivered": run["delivered"],
        "sink_events": got.get("events"),
        "wall_s": round(m.seconds, 2),
        "rows_per_s": round(rows / m.seconds),
        "changes_per_s": round(run["delivered"] / m.seconds),
        "segprof_peak_rss_mb": round(m.peak_rss_mb),
        "spark_jvm_peak_rss_mb": round(jvm),
        "jvm_peak_since": "this sync" if fresh else "server start",
        "segprof_over_jvm": round(m.peak_rss_mb / jvm, 3) if jvm else None,
    }


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument(
        "--spark-memory", default="6g", help="the Spark driver's heap (local mode: all of Spark)"
    )
    parser.add_argument("--timeout", type=float, default=1200, help="seconds allowed per sync")
    args = parser.parse_args()

    os.environ["SEGPROF_SPARK_MEMORY"] = args.spark_memory
    # the changed rows reach segprof through the driver, which refuses results over 1g by default
    os.environ.setdefault("SEGPROF_SPARK_MAX_RESULT_SIZE", "0")  # 0: no limit
    from tests.spark.spark_server import serve

    with tempfile.TemporaryDirectory() as tmp, serve(_mkdir(Path(tmp) / "spark")) as url:
        sink = Sink()
        try:
            pid = jvm_pid(int(url.rsplit(":", 1)[1]))
            spark_sql(
                url,
                f"CREATE SCHEMA {SCHEMA}",
                f"CREATE TABLE {SCHEMA}.users USING parquet AS {users_select(f'range({args.rows})', False)}",
            )
            root = Path(tmp) / "project"
            write_project(root, url, sink.port)
            results = [sync_once("full", root, sink, pid, args.rows, args.timeout)]
            spark_sql(
                url,
                f"CREATE TABLE {SCHEMA}.users_next USING parquet AS {users_select(f'{SCHEMA}.users', True)}",
                f"DROP TABLE {SCHEMA}.users",
                f"ALTER TABLE {SCHEMA}.users_next RENAME TO {SCHEMA}.users",
            )
            results.append(sync_once("incremental (1% updated)", root, sink, pid, args.rows, args.timeout))
        finally:
            sink.stop()
    print(f"rows: {args.rows:,}; Spark local[2], driver memory {args.spark_memory}")
    for r in results:
        print(json.dumps(r))


if __name__ == "__main__":
    main()

"""Figure 5 of the sync benchmark: segprof's change detection against the minimal diff, in DuckDB.

Owns: preparing one DuckDB file with both snapshots taken from the same base table — segprof's
(`ChangeTracker.rebaseline()`) and the reference's (`id`, md5 of the mapped columns) — then the
1 % / 0.5 % / 0.5 % change set; and the two child operations, each run in a fresh process on a
fresh copy of that file so neither inherits the other's caches or leftovers:

  ref      the least work that answers "which ids are new, updated, deleted": md5 over the mapped
           columns, full outer join on the id against the reference snapshot, into a temp table
  segprof  `ChangeTracker(...).begin()` alone (identifier checks, diff into the run's changes
           table, counts, guards)

Must never time anything but the operation itself (imports and connecting are outside), and never
let the reference do more than the question needs.

    python benchmarks/change_bound.py --child ref|segprof --db FILE   # used by sync_vs_drt.py
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

MAPPED = ["email", "name", "plan", "updated_at", "ltv", "logins", "is_active"]
MODEL = "SELECT user_id, " + ", ".join(MAPPED) + " FROM users"
MAPPING_ID = "bench"
REF_SNAPSHOT = "bench_ref_snapshot"


def _ref_digest(alias: str = "") -> str:
    cols = ", ".join(f"{alias}{c}" for c in MAPPED)
    return f"md5_number(concat_ws('|', {cols}))"


def prepare(base: Path, target: Path, change_statements: list[str]) -> float:
    """Copy `base` to `target`, take both snapshots, apply the changes; returns rebaseline seconds."""
    sys.path.insert(0, str(ROOT))
    from segprof.sync.detect.changes import ChangeTracker
    from segprof.sync.detect.runs import MappingSpec
    from segprof.warehouses import connect

    target.unlink(missing_ok=True)
    shutil.copyfile(base, target)
    con = connect("duckdb", {"path": str(target)}, target.parent)
    try:
        started = time.perf_counter()
        ChangeTracker(con, MappingSpec(MAPPING_ID, MODEL, "user_id", MAPPED)).rebaseline()
        rebaseline_s = time.perf_counter() - started
        con.execute(f"CREATE TABLE {REF_SNAPSHOT} AS SELECT user_id AS id, {_ref_digest()} AS h FROM users")
        for statement in change_statements:
            con.execute(statement)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return rebaseline_s


def child(op: str, db: Path) -> dict[str, float]:
    if op == "ref":
        import duckdb

        con = duckdb.connect(str(db))
        started = time.perf_counter()
        con.execute(
            "CREATE TEMP TABLE ref_changes AS SELECT coalesce(m.id, s.id) AS id, "
            "CASE WHEN s.id IS NULL THEN 'new' WHEN m.id IS NULL THEN 'deleted' ELSE 'updated' END AS kind "
            f"FROM (SELECT user_id AS id, {_ref_digest()} AS h FROM users) AS m "
            f"FULL OUTER JOIN {REF_SNAPSHOT} AS s ON m.id = s.id "
            "WHERE s.id IS NULL OR m.id IS NULL OR m.h <> s.h"
        )
        seconds = time.perf_counter() - started
        counts = dict(con.execute("SELECT kind, count(*) FROM ref_changes GROUP BY kind").fetchall())
        con.close()
    else:
        sys.path.insert(0, str(ROOT))
        from segprof.sync.detect.changes import ChangeTracker
        from segprof.sync.detect.runs import MappingSpec
        from segprof.warehouses import connect

        con = connect("duckdb", {"path": str(db)}, db.parent)
        tracker = ChangeTracker(con, MappingSpec(MAPPING_ID, MODEL, "user_id", MAPPED))
        started = time.perf_counter()
        run = tracker.begin()
        seconds = time.perf_counter() - started
        counts = {"new": run.counts.new, "updated": run.counts.updated, "deleted": run.counts.deleted}
        con.close()
    return {
        "seconds": seconds,
        "own_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **{k: int(counts.get(k, 0)) for k in ("new", "updated", "deleted")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", choices=["ref", "segprof"], required=True)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    print(json.dumps(child(args.child, args.db)))


if __name__ == "__main__":
    main()

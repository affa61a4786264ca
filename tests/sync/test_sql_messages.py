"""Messages built in the warehouse agree with the Python builder, row by row and value by value.

The Python builder is the judge (it matches Segment's own destination on the golden cases); the
SQL path may only ever agree with it, or leave a row to it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from segprof.sync.deliver.batching import encode_message
from segprof.sync.engine import SyncEngine
from segprof.sync.messages.sql_messages import MESSAGE_COLUMN, MESSAGE_ID_COLUMN, compile_message_sql
from segprof.sync.spec import SyncJob, triggers_of
from segprof.warehouses import connect

TABLE = """
CREATE TABLE t (
  id VARCHAR, n BIGINT, small INTEGER, flag BOOLEAN, txt VARCHAR, dbl DOUBLE, flt FLOAT,
  amount DECIMAL(12,4), big DECIMAL(38,20), ts TIMESTAMP, tstz TIMESTAMPTZ, day DATE
)
"""
ROWS = [
    "('a1', 1, 7, TRUE, 'plain', 1.5, 0.1, 12.5000, 0.1, TIMESTAMP '2024-01-02 03:04:05', "
    "TIMESTAMPTZ '2024-01-02 03:04:05.123+02:00', DATE '2024-02-29')",
    "('a2', -9007199254740993, -3, FALSE, '', -0.0, 1e30, -0.0001, 12345678901234567.89012345678901234567, "
    "TIMESTAMP '2024-01-02 03:04:05.123456', TIMESTAMPTZ '1999-12-31 23:59:59.999999-08:00', DATE '1000-01-01')",
    "('a3', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "('a4', 0, 0, TRUE, 'Zoë \"q\" \\ 👩‍👩‍👧 / \t\n' || chr(1) || chr(127), 'NaN'::DOUBLE, 'inf'::FLOAT, "
    "0, -5, TIMESTAMP '0500-01-01 00:00:00', TIMESTAMPTZ '2024-06-30 12:00:00+00', DATE '9999-12-31')",
    "('a5', 9007199254740993, 2147483647, FALSE, 'null', 1e21, -2.5, 99999999.9999, 1e-20, "
    "TIMESTAMP '1970-01-01 00:00:00.001', NULL, DATE '0999-12-31')",
    "('', 5, 5, TRUE, '5', 123456789.123, 3.0, 1.0000, 7, TIMESTAMP '2030-05-05 05:05:05.000100', NULL, NULL)",
]
COLUMNS = ["n", "small", "flag", "txt", "dbl", "flt", "amount", "big", "ts", "tstz", "day"]


def _col(name: str) -> dict[str, str]:
    return {"@path": f"$.properties.{name}"}


MAPPINGS = {
    "identify_everything": (
        "send_identify",
        {
            "user_id": {"@path": "$.__segment_id"},
            "traits": {name: _col(name) for name in COLUMNS},
            "timestamp": _col("ts"),
        },
    ),
    "identify_excluding_nulls": (
        "send_identify",
        {
            "user_id": _col("txt"),
            "anonymous_id": _col("n"),
            "group_id": {"@excludeWhenNull": _col("small")},
            "traits": {
                **{name: {"@excludeWhenNull": _col(name)} for name in COLUMNS},
                "10": "literal",
                "2": 2.5,
                "flagged": True,
                "nothing": None,
                "who": {"@path": "$.__segment_id"},
            },
            "timestamp": _col("tstz"),
        },
    ),
    "identify_timestamps_from_dates_and_numbers": (
        "send_identify",
        {"user_id": _col("flag"), "traits": {"day": _col("day")}, "timestamp": _col("day")},
    ),
    "identify_timestamp_number": ("send_identify", {"user_id": _col("id"), "timestamp": _col("amount")}),
    "group": (
        "send_group",
        {"user_id": {"@path": "$.__segment_id"}, "group_id": _col("txt"), "traits": {"n": _col("n")}},
    ),
    "track": (
        "send_track",
        {
            "anonymous_id": {"@path": "$.__segment_id"},
            "event_name": "Plan Changed",
            "timestamp": _col("dbl"),
            "properties": {name: _col(name) for name in COLUMNS},
        },
    ),
    "track_event_from_a_column": (
        "send_track",
        {"user_id": _col("txt"), "event_name": _col("txt"), "properties": {}},
    ),
}


def _same(a: Any, b: Any) -> bool:
    """JSON equality as a JavaScript reader sees it (numbers by value, -0 equal to 0)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b) or (math.isnan(float(a)) and math.isnan(float(b)))
    return a == b


@pytest.mark.parametrize("name", sorted(MAPPINGS))
def test_sql_messages_agree_with_the_python_builder(name: str, tmp_path: Path):
    action, settings = MAPPINGS[name]
    con = connect("duckdb", {"path": "wh.duckdb"}, tmp_path, create=True)
    con.execute("SET TimeZone = 'America/New_York'")
    con.execute(TABLE)
    con.execute("INSERT INTO t VALUES " + ", ".join(ROWS))
    job = SyncJob("sub_sql", action, settings, triggers_of('event = "new"'), "SELECT * FROM t", "id")
    engine = SyncEngine(con, job)
    run = engine.tracker.begin()
    compiled = compile_message_sql(action, settings, run.model_columns, job.mapping_id, "duckdb")
    assert compiled is not None, "the mapping should compile to SQL"
    extra = [
        f"{compiled.message_id} AS {MESSAGE_ID_COLUMN}",
        f"{compiled.message(compiled.message_id)} AS {MESSAGE_COLUMN}",
    ]
    in_sql = fallback = 0
    for batch in engine.tracker.stream(run, 100, extra):
        texts = batch.column(MESSAGE_COLUMN).to_pylist()
        for text, (rid, _kind, mid, message, reason) in zip(
            texts, engine.messages(batch, run.identifier_column), strict=True
        ):
            if text is None:
                fallback += 1
                continue
            in_sql += 1
            assert reason is None, f"{rid}: SQL built a message Python rejects: {reason}"
            # what travels: the Python message as the deliverer encodes it, read back
            wire = json.loads(encode_message(message))
            got = json.loads(text)
            assert got["messageId"] == mid
            assert _same(got, wire), f"{rid}:\n sql    {got}\n python {wire}"
    engine.tracker.finish(run)
    con.close()
    assert in_sql >= 3  # most rows are built where the data is
    assert in_sql + fallback == len(ROWS)


def test_rows_sql_cannot_vouch_for_are_left_to_python(tmp_path: Path):
    con = connect("duckdb", {"path": "wh.duckdb"}, tmp_path, create=True)
    con.execute(TABLE)
    con.execute("INSERT INTO t VALUES " + ", ".join(ROWS))
    action, settings = MAPPINGS["identify_everything"]
    job = SyncJob("sub_sql", action, settings, triggers_of('event = "new"'), "SELECT * FROM t", "id")
    engine = SyncEngine(con, job)
    run = engine.tracker.begin()
    compiled = compile_message_sql(action, settings, run.model_columns, job.mapping_id, "duckdb")
    assert compiled is not None
    extra = [f"{compiled.message(compiled.message_id)} AS {MESSAGE_COLUMN}"]
    left = {
        r["__segprof_id"] for b in engine.tracker.stream(run, 100, extra) for r in b.to_pylist() if r[MESSAGE_COLUMN] is None
    }
    engine.tracker.finish(run)
    # a4: a timestamp in year 500, a5: a date in year 999 (outside what SQL writes as Python does);
    # '': an empty user id, which Segment rejects
    assert left == {"a4", "a5", ""}


@pytest.mark.parametrize(
    "action,settings",
    [
        ("send_identify", {"user_id": {"@template": "u-{{properties.txt}}"}}),
        ("send_identify", {"user_id": _col("id"), "consent": {"categoryPreferences": {"a": True}}}),
        ("send_identify", {"user_id": _col("id"), "message_id": _col("txt")}),
        ("send_identify", {"user_id": _col("id"), "timestamp": _col("txt")}),
        ("send_identify", {"user_id": _col("dbl")}),
        ("send_identify", {"user_id": _col("id"), "traits": {"@path": "$.properties"}}),
        ("send_identify", {"user_id": _col("id"), "traits": {"nested": {"a": _col("txt")}}}),
        ("send_identify", {"user_id": _col("missing")}),
        ("send_subscription", {"user_id": _col("id")}),
    ],
)
def test_shapes_it_cannot_express_stay_in_python(action: str, settings: dict, tmp_path: Path):
    con = connect("duckdb", {"path": "wh.duckdb"}, tmp_path, create=True)
    con.execute(TABLE)
    columns = con.describe("SELECT * FROM t")
    con.close()
    assert compile_message_sql(action, settings, columns, "m", "duckdb") is None
    assert compile_message_sql("send_identify", {"user_id": _col("id")}, columns, "m", "postgres") is None

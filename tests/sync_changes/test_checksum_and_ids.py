"""The canonical checksum (golden values, engine agreement) and deterministic message ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from segprof.sync.detect.changes import ChangeTracker
from segprof.sync.detect.checksum import canonical_string, checksum_of
from segprof.sync.detect.ids import message_id
from segprof.sync.detect.runs import MappingSpec
from segprof.warehouses import connect
from segprof.warehouses.managed_schema import CHECKSUM_COLUMN, ID_COLUMN


def test_golden_checksum_of_a_fixed_row():
    texts = {"plan": None, "email": "a@x.io"}
    assert canonical_string(texts) == "5:emailV6:a@x.io4:planN"
    assert checksum_of(texts) == "30ad3eaf3c4cd96f6e9b862f65e54b64"


def test_null_empty_and_the_word_null_differ_and_boundaries_cannot_be_faked():
    values = {checksum_of({"a": v}) for v in (None, "", "null", "N", "V0:")}
    assert len(values) == 5
    assert checksum_of({"a": "x", "b": "y"}) != checksum_of({"a": "xV1:y", "b": None})
    assert checksum_of({"a": "1", "b": "2"}) != checksum_of({"a": "2", "b": "1"})


def test_message_id_is_deterministic_and_short():
    mid = message_id("sub_1", "42", "abc", "new")
    assert mid == message_id("sub_1", "42", "abc", "new")
    assert len(mid) <= 100 and mid.startswith("segprof-")
    others = {
        message_id("sub_2", "42", "abc", "new"),
        message_id("sub_1", "43", "abc", "new"),
        message_id("sub_1", "42", "abd", "new"),
        message_id("sub_1", "42", "abc", "updated"),
        message_id("sub_1", "4", "2abc", "new"),
    }
    assert mid not in others and len(others) == 5


ROWS_SQL = [
    "(1, 'plain', 7, TRUE, 12.50, DATE '2024-02-29', TIMESTAMP '2024-01-02 03:04:05.5', "
    "TIMESTAMPTZ '2024-01-02 03:04:05.123456+02:00', 1.5)",
    "(2, '', -3, FALSE, 0.00, DATE '1999-12-31', TIMESTAMP '2024-01-02 03:04:05', "
    "TIMESTAMPTZ '2024-06-30 23:59:59+00:00', 0.1)",
    "(3, 'null', 0, NULL, -1.05, NULL, NULL, NULL, NULL)",
    "(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "(5, 'Zoë ''quoted'' 👩‍👩‍👧 ; : V1:', 9007199254740993, TRUE, 99999999.99, DATE '2024-01-01', "
    "TIMESTAMP '1970-01-01 00:00:00.000001', TIMESTAMPTZ '2024-01-01 00:00:00-08:00', 1e20)",
]
COLUMNS = ["txt", "num", "flag", "amount", "day", "ts", "tstz", "dbl"]


def _checksums(con) -> dict[str, str]:
    con.execute(
        "CREATE TABLE t (id INTEGER, txt VARCHAR(100), num BIGINT, flag BOOLEAN, amount NUMERIC(10,2), "
        "day DATE, ts TIMESTAMP, tstz TIMESTAMP WITH TIME ZONE, dbl DOUBLE PRECISION)"
    )
    con.execute("INSERT INTO t VALUES " + ", ".join(ROWS_SQL))
    spec = MappingSpec("m1", "SELECT * FROM t", "id", COLUMNS)
    tracker = ChangeTracker(con, spec)
    run = tracker.begin()
    out = {r[ID_COLUMN]: r[CHECKSUM_COLUMN] for b in tracker.stream(run) for r in b.to_pylist()}
    tracker.finish(run)
    return out


@pytest.mark.postgres
def test_duckdb_and_postgres_agree_on_checksums(tmp_path: Path, postgres_dsn: str):
    duck = connect("duckdb", {"path": ":memory:"}, tmp_path)
    duck.execute("SET TimeZone = 'America/New_York'")
    pg = connect("postgres", {"dsn": postgres_dsn}, tmp_path)
    pg.execute("SET TIME ZONE 'Asia/Tokyo'")
    try:
        a, b = _checksums(duck), _checksums(pg)
    finally:
        duck.close()
        pg.close()
    assert len(a) == 5 and a == b
    expected_4 = checksum_of(dict.fromkeys(COLUMNS))
    assert a["4"] == expected_4
    expected_1 = checksum_of(
        {
            "txt": "plain",
            "num": "7",
            "flag": "true",
            "amount": "12.50",
            "day": "2024-02-29",
            "ts": "2024-01-02 03:04:05.500000",
            "tstz": "2024-01-02 01:04:05.123456Z",
            "dbl": "1.5",
        }
    )
    assert a["1"] == expected_1


def test_message_id_with_an_origin_differs_per_origin_and_keeps_fields_apart():
    base = message_id("sub_1", "42", "abc", "new", "run-a")
    assert base == message_id("sub_1", "42", "abc", "new", "run-a")
    others = {
        message_id("sub_1", "42", "abc", "new", "run-b"),  # the same value, found by another run
        message_id("sub_1", "42", "abc", "new"),  # a change recorded before origins were kept
        message_id("sub_1", "42\x1fnew", "abc", "", "run-a"),
        message_id("sub_1", "42", "abc", "updated", "run-a"),
    }
    assert base not in others and len(others) == 4
    assert len(base) <= 100


def test_the_two_step_checksum_equals_the_one_expression_form(tmp_path: Path):
    """The diff computes each canonical text once (`checksummed_sql`); every value type, NULLs and
    odd text must give the same checksum as the single expression and the Python reference."""
    from segprof.sync.detect.checksum import checksum_sql, checksummed_sql

    duck = connect("duckdb", {"path": ":memory:"}, tmp_path)
    try:
        duck.execute(
            "CREATE TABLE t (id INTEGER, txt VARCHAR(100), num BIGINT, flag BOOLEAN, amount NUMERIC(10,2), "
            "day DATE, ts TIMESTAMP, tstz TIMESTAMP WITH TIME ZONE, dbl DOUBLE PRECISION)"
        )
        duck.execute("INSERT INTO t VALUES " + ", ".join(ROWS_SQL))
        pairs = [(c.name, c.type) for c in duck.describe("SELECT * FROM t") if c.name in COLUMNS]
        one = dict(duck.query_rows(f"SELECT CAST(q.id AS VARCHAR), {checksum_sql(pairs)} FROM t AS q"))
        two = dict(duck.query_rows(checksummed_sql(pairs, "CAST(q.id AS VARCHAR)", "t", "q.id > 0")))
    finally:
        duck.close()
    assert len(one) == 5 and one == two
    assert two["4"] == checksum_of(dict.fromkeys(COLUMNS))
    assert two["3"] == checksum_of({**dict.fromkeys(COLUMNS), "txt": "null", "num": "0", "amount": "-1.05"})

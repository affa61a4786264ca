"""Warehouse values → JSON: real DuckDB and PostgreSQL values, the Arrow fast path, the JSON text."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid

import duckdb
import pyarrow as pa
import pytest

from segprof.sync.messages.arrow_events import batch_columns, events_from_batch
from segprof.sync.messages.encode import (
    dumps,
    dumps_text,
    encode_row,
    encode_value,
    iso_duration,
    js_ordered,
    record_event,
)
from segprof.sync.messages.js_numbers import ExactNumber, js_number_str
from segprof.sync.messages.js_values import UNDEFINED

# String(x) as node prints it for these doubles (the JavaScript rule Segment's code applies).
JS_NUMBER_TEXT = [
    (0.1 + 0.2, "0.30000000000000004"),
    (1e21, "1e+21"),
    (1e-7, "1e-7"),
    (1e16, "10000000000000000"),
    (1.5e-6, "0.0000015"),
    (1e-6, "0.000001"),
    (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (-0.000001234, "-0.000001234"),
    (100.0, "100"),
    (-0.0, "0"),
    (1.2345e-5, "0.000012345"),
    (123456789012345680000.0, "123456789012345680000"),
]


@pytest.mark.parametrize(("value", "text"), JS_NUMBER_TEXT)
def test_js_number_text(value: float, text: str) -> None:
    assert js_number_str(value) == text


def test_dumps_writes_what_javascript_writes() -> None:
    message = {"b": 1.0, "2": "two", "a": [1.5, None, UNDEFINED], "1": {"x": UNDEFINED, "y": "é🎉"}}
    assert dumps_text(js_ordered(message), undefined=UNDEFINED) == (
        '{"1":{"y":"é🎉"},"2":"two","b":1,"a":[1.5,null,null]}'
    )
    assert (
        dumps({"d": decimal.Decimal("123456789012345678.123456789")}) == b'{"d":123456789012345678.123456789}'
    )
    assert dumps({"n": float("nan"), "i": 2**64 + 1}) == b'{"n":null,"i":18446744073709551617}'
    half = "🎉".encode("utf-16-le")[:2].decode("utf-16-le", errors="surrogatepass")
    assert dumps({"s": half + "x\u2028"}) == '{"s":"\\ud83cx\u2028"}'.encode()


def test_scalar_encoding_decisions() -> None:
    naive = dt.datetime(2024, 5, 1, 10, 0, 0, 123000)
    aware = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert encode_value(naive) == "2024-05-01T10:00:00.123Z"  # naive is taken as UTC
    assert encode_value(aware) == "2024-05-01T10:00:00.000Z"
    assert encode_value(dt.datetime(2024, 5, 1, 10, 0, 0, 123456)) == "2024-05-01T10:00:00.123456Z"
    assert encode_value(dt.date(2024, 5, 1)) == "2024-05-01"
    assert (
        encode_value(decimal.Decimal("12.30")) == 12.3 and type(encode_value(decimal.Decimal("1.5"))) is float
    )
    exact = encode_value(decimal.Decimal("0.10000000000000000000001"))
    assert isinstance(exact, ExactNumber) and exact.text == "0.10000000000000000000001"
    assert json.dumps(exact) == "0.1"  # plain json still works (nearest double); dumps keeps the digits
    assert dumps([exact]) == b"[0.10000000000000000000001]"
    assert encode_value(decimal.Decimal("1E+2")) == 100
    assert isinstance(encode_value(decimal.Decimal("5.00")), int)
    assert encode_value(decimal.Decimal("NaN")) is None
    assert encode_value(2**63 + 5) == 2**63 + 5
    assert encode_value(float("inf")) is None
    assert encode_value(b"\x00\xffab") == base64.b64encode(b"\x00\xffab").decode()
    u = uuid.uuid4()
    assert encode_value(u) == str(u)
    assert encode_value({1: dt.date(2020, 1, 2), "l": (1, float("nan"))}) == {
        "1": "2020-01-02",
        "l": [1, None],
    }
    assert iso_duration(dt.timedelta(days=1, hours=2, seconds=4, microseconds=500000)) == "P1DT2H4.5S"
    assert iso_duration(dt.timedelta(0)) == "PT0S"


def test_record_event_shape() -> None:
    event = record_event("updated", 42, {"id": 42, "price": decimal.Decimal("9.90")})
    assert event == {
        "event": "updated",
        "__segment_id": "42",
        "properties": {"id": 42, "price": 9.9},
    }


DUCK_SQL = """
SELECT * FROM (VALUES
  (1, 9007199254740993::BIGINT, 170141183460469231731687303715884105727::HUGEINT, 12.30::DECIMAL(10,2),
   123456789012345678.123456789::DECIMAL(38,9), 'Zoë', TIMESTAMP '2024-05-01 10:00:00.123',
   TIMESTAMPTZ '2024-05-01 12:00:00+02', TIMESTAMP_NS '2024-05-01 10:00:00.123456789', DATE '2024-05-01',
   {'a': 1, 'b': [1, 2]}, MAP {'k': 1}, [1, 2, 3], '{"a": [1, null]}'::JSON,
   '3f2504e0-4f89-11d3-9a0c-0305e82c3301'::UUID, 'abc'::BLOB, 'nan'::DOUBLE, 'inf'::FLOAT, true,
   'b'::ENUM('a', 'b')),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
) AS t(id, big, huge, d, dd, s, ts, tstz, tsns, dt, st, mp, li, js, u, b, fnan, finf, bo, en)
"""

EXPECTED_ROW_1 = {
    "id": 1,
    "big": 9007199254740993,
    "huge": 170141183460469231731687303715884105727,
    "d": 12.3,
    "dd": ExactNumber("123456789012345678.123456789"),
    "s": "Zoë",
    "ts": "2024-05-01T10:00:00.123Z",
    "tstz": "2024-05-01T10:00:00.000Z",
    "tsns": "2024-05-01T10:00:00.123456789Z",
    "dt": "2024-05-01",
    "st": {"a": 1, "b": [1, 2]},
    "mp": {"k": 1},
    "li": [1, 2, 3],
    "js": {"a": [1, None]},
    "u": "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "b": base64.b64encode(b"abc").decode(),
    "fnan": None,
    "finf": None,
    "bo": True,
    "en": "b",
}


@pytest.mark.parametrize("lossless", [True, False])
def test_duckdb_arrow_batch_to_events(lossless: bool) -> None:
    con = duckdb.connect()
    con.execute(f"SET arrow_lossless_conversion = {str(lossless).lower()}")
    table = con.sql(DUCK_SQL).to_arrow_table()
    # Without lossless conversion DuckDB hands JSON over as text: the caller names those columns.
    events = events_from_batch(table, identifier="id", kind="new", json_columns=() if lossless else ["js"])
    assert len(events) == 2
    assert events[0] == {"event": "new", "__segment_id": "1", "properties": EXPECTED_ROW_1}
    assert events[1]["properties"] == {k: (2 if k == "id" else None) for k in EXPECTED_ROW_1}
    # The exact decimal and big-integer digits survive into the JSON text.
    text = dumps(events[0]).decode()
    assert '"dd":123456789012345678.123456789' in text
    assert '"big":9007199254740993' in text
    assert json.loads(text)["properties"]["tsns"] == "2024-05-01T10:00:00.123456789Z"


def test_arrow_kind_column_and_exclusions() -> None:
    batch = pa.RecordBatch.from_pydict(
        {
            "user_id": pa.array([7, 8], pa.int64()),
            "email": ["a@x", None],
            "__kind": ["new", "deleted"],
            "__checksum": ["c1", "c2"],
            "seen": pa.array([0, 1_700_000_000_000_000], pa.timestamp("us", tz="America/New_York")),
        }
    )
    events = events_from_batch(batch, identifier="user_id", kind_column="__kind", exclude=["__checksum"])
    assert events == [
        {
            "event": "new",
            "__segment_id": "7",
            "properties": {"user_id": 7, "email": "a@x", "seen": "1970-01-01T00:00:00.000Z"},
        },
        {
            "event": "deleted",
            "__segment_id": "8",
            "properties": {"user_id": 8, "email": None, "seen": "2023-11-14T22:13:20.000Z"},
        },
    ]
    with pytest.raises(ValueError):
        events_from_batch(batch, identifier="user_id")


def test_arrow_and_python_paths_agree_on_duckdb_values() -> None:
    con = duckdb.connect()
    sql = (
        "SELECT 1 AS id, 12.30::DECIMAL(10,2) AS d, TIMESTAMP '2024-05-01 10:00:00' AS ts,"
        " DATE '2024-05-01' AS dt,"
        " {'a': [1, 2]} AS st, [1.5, 2.0] AS li, 'abc'::BLOB AS b, 9007199254740993::BIGINT AS big"
    )
    cursor = con.cursor().execute(sql)
    names = [c[0] for c in cursor.description]
    python_row = encode_row(dict(zip(names, cursor.fetchall()[0], strict=True)))
    arrow_row = {k: v[0] for k, v in batch_columns(con.sql(sql).to_arrow_table()).items()}
    assert python_row == arrow_row
    assert dumps(python_row) == dumps(arrow_row)


@pytest.mark.postgres
def test_postgres_values(postgres_dsn: str) -> None:
    import psycopg

    with psycopg.connect(postgres_dsn) as conn:
        row = conn.execute(
            """
            SELECT 42::bigint AS id, 9223372036854775807::bigint AS big, 12.50::numeric(10,2) AS price,
                   123456789012345678901234567890.000001::numeric AS huge,
                   '2024-05-01 12:00:00+02'::timestamptz AS ts, '2024-05-01 10:00:00'::timestamp AS naive,
                   '2024-05-01'::date AS d, '{"a": [1, null], "b": {"c": true}}'::jsonb AS jb,
                   '[1, "x"]'::json AS js, ARRAY[1, 2]::int[] AS arr, '\\x00ff'::bytea AS raw,
                   '3f2504e0-4f89-11d3-9a0c-0305e82c3301'::uuid AS u, 'NaN'::float8 AS nan,
                   NULL::text AS nothing
            """
        ).fetchone()
        assert row is not None
        names = [
            "id",
            "big",
            "price",
            "huge",
            "ts",
            "naive",
            "d",
            "jb",
            "js",
            "arr",
            "raw",
            "u",
            "nan",
            "nothing",
        ]
    event = record_event("new", row[0], dict(zip(names, row, strict=True)))
    assert event["__segment_id"] == "42"
    assert event["properties"] == {
        "id": 42,
        "big": 9223372036854775807,
        "price": 12.5,
        "huge": ExactNumber("123456789012345678901234567890.000001"),
        "ts": "2024-05-01T10:00:00.000Z",
        "naive": "2024-05-01T10:00:00.000Z",
        "d": "2024-05-01",
        "jb": {"a": [1, None], "b": {"c": True}},
        "js": [1, "x"],
        "arr": [1, 2],
        "raw": "AP8=",
        "u": "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "nan": None,
        "nothing": None,
    }
    assert b'"huge":123456789012345678901234567890.000001' in dumps(event)

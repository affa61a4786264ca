"""Messages built in SQL against the output of Segment's own Segment Profiles destination.

Each golden case whose mapping the SQL path can express is run through DuckDB as a one-row model;
the message must be Segment's (the messageId aside: the engine's own), or NULL where Segment
rejects the record (the Python path then gives the error).
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pytest

from segprof.sync.messages.sql_messages import compile_message_sql
from segprof.warehouses.base import ColumnInfo
from tests.payloads.test_golden import CASES

_TYPES = {str: "VARCHAR", bool: "BOOLEAN", int: "BIGINT", float: "DOUBLE", type(None): "VARCHAR"}


def _columns(properties: dict[str, Any]) -> list[ColumnInfo] | None:
    if any(type(v) not in _TYPES for v in properties.values()):
        return None
    if any(type(v) is int and abs(v) >= 2**63 for v in properties.values()):
        return None
    return [ColumnInfo(name, _TYPES[type(value)]) for name, value in properties.items()]


def _literal(value: Any, sql_type: str) -> str:
    if value is None:
        return f"CAST(NULL AS {sql_type})"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"CAST({value} AS BIGINT)"
    if isinstance(value, float):
        return f"CAST('{value!r}' AS DOUBLE)"
    return "'" + value.replace("'", "''") + "'"


def _run(case: dict[str, Any]) -> tuple[bool, Any]:
    event = case["event"]
    columns = _columns(event["properties"])
    if columns is None:
        return False, None
    settings = {k: v for k, v in case["mapping"].items() if k != "engage_space"}
    compiled = compile_message_sql(case["action"], settings, columns, "golden", "duckdb")
    if compiled is None:
        return False, None
    model = ", ".join(
        f'{_literal(event["properties"][c.name], c.type)} AS "{c.name}"' for c in columns
    ) or "1 AS __none"
    change = (
        f"SELECT 'run' AS __segprof_origin, '{event['__segment_id']}' AS __segprof_id, "
        f"'{event['event']}' AS __segprof_kind, 'sum' AS __segprof_checksum"
    )
    sql = f"SELECT {compiled.message(compiled.message_id)} FROM ({change}) AS c, (SELECT {model}) AS m"
    ((text,),) = duckdb.sql(sql).fetchall()
    return True, None if text is None else json.loads(text)


@pytest.mark.parametrize("case", CASES)
def test_sql_messages_match_segment(case: dict[str, Any]) -> None:
    expressed, message = _run(case)
    if not expressed:
        pytest.skip("a mapping or value the SQL path leaves to the Python builder")
    if "engage_space" in case.get("error", {}).get("message", ""):
        pytest.skip("the engine sends with the write key; settings never carry it")
    if "error" in case:
        assert message is None, f"SQL built a message Segment rejects: {case['error']['message']}"
        return
    expected = case["output"]["batch"][0]
    assert message is not None
    assert message.pop("messageId").startswith("segprof-")
    assert message == expected
    assert list(message) == list(expected)


def test_the_sql_path_covers_a_share_of_the_golden_cases() -> None:
    expressed = [case for case in (p.values[0] for p in CASES) if _run(case)[0]]
    assert len(expressed) >= 10

"""The on-disk cache of query analyses: a repeated analysis is read back, not parsed again."""

from __future__ import annotations

from pathlib import Path

import pytest

from segprof.sql import cache, engine
from segprof.sql.analyze import analyze_query

SQL = "SELECT id, email AS mail, lower(name) AS name FROM users WHERE id > 0"
SCHEMA = {"users": {"id": "INT", "email": "VARCHAR", "name": "VARCHAR"}}


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEGPROF_CACHE_DIR", str(tmp_path / "c"))
    return tmp_path / "c" / "sql"


def no_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("parsed again")

    monkeypatch.setattr(engine, "run", refuse)


def test_a_repeated_analysis_is_read_back_whole(cache_dir: Path, monkeypatch: pytest.MonkeyPatch):
    first = analyze_query(SQL, "duckdb", SCHEMA, origins=True)
    assert len(list(cache_dir.glob("*.json"))) == 1
    no_parse(monkeypatch)
    again = analyze_query(SQL, "duckdb", SCHEMA, origins=True)
    assert again == first
    # the fields left out of equality come back too
    assert [(c.line, c.col, c.defined_line, c.defined_col, c.reads, c.bare) for c in again.columns] == [
        (c.line, c.col, c.defined_line, c.defined_col, c.reads, c.bare) for c in first.columns
    ]
    assert [c.name for c in again.columns] == ["id", "mail", "name"]


def test_problems_are_cached_with_their_places(cache_dir: Path, monkeypatch: pytest.MonkeyPatch):
    bad = "SELECT id,\n  nope FROM users"
    first = analyze_query(bad, "duckdb", SCHEMA)
    assert first.problems and not first.ok
    no_parse(monkeypatch)
    assert analyze_query(bad, "duckdb", SCHEMA).problems == first.problems


def test_any_other_input_or_analyser_is_a_miss(cache_dir: Path, monkeypatch: pytest.MonkeyPatch):
    analyze_query(SQL, "duckdb", SCHEMA)
    no_parse(monkeypatch)
    # a miss parses: the refusing engine becomes the "could not be analysed" warning
    for changed in [
        (SQL + " ", "duckdb", SCHEMA, False),
        (SQL, "postgres", SCHEMA, False),
        (SQL, "duckdb", None, False),
        (SQL, "duckdb", {"users": {"id": "INT"}}, False),
        (SQL, "duckdb", SCHEMA, True),
    ]:
        sql, dialect, schema, origins = changed
        codes = [p.code for p in analyze_query(sql, dialect, schema, origins=origins).problems]
        assert codes == ["sql.unchecked"], changed
    monkeypatch.setattr(cache, "_analyser_version", lambda: "another analyser")
    assert [p.code for p in analyze_query(SQL, "duckdb", SCHEMA).problems] == ["sql.unchecked"]
    # an analysis that failed inside the analyser is never kept
    assert len(list(cache_dir.glob("*.json"))) == 1


def test_a_damaged_entry_is_analysed_again(cache_dir: Path):
    first = analyze_query(SQL, "duckdb", SCHEMA)
    (entry,) = cache_dir.glob("*.json")
    entry.write_text('{"columns": [["id"]]')
    assert analyze_query(SQL, "duckdb", SCHEMA) == first
    assert cache.load(entry.stem) == first  # written again, whole


def test_an_empty_cache_dir_turns_the_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SEGPROF_CACHE_DIR", "")
    monkeypatch.chdir(tmp_path)
    first = analyze_query(SQL, "duckdb", SCHEMA)
    assert list(tmp_path.rglob("*")) == []
    no_parse(monkeypatch)
    assert analyze_query(SQL, "duckdb", SCHEMA) != first

"""The DuckDB connector against a real database file."""

from __future__ import annotations

from pathlib import Path

import pytest

from segprof.warehouses import WarehouseError, connect
from segprof.warehouses.duckdb_connector import DuckDBConnector


def test_relative_path_is_resolved_against_the_project(tmp_path: Path):
    (tmp_path / "data").mkdir()
    con = connect("duckdb", {"path": "data/wh.duckdb"}, tmp_path, create=True)
    con.execute("CREATE TABLE t (a INTEGER)")
    con.close()
    assert (tmp_path / "data" / "wh.duckdb").exists()


def test_introspection_reports_tables_views_columns_and_keys(tmp_path: Path):
    con = connect("duckdb", {"path": ":memory:"}, tmp_path)
    con.execute("CREATE SCHEMA crm")
    con.execute("CREATE TABLE crm.users (id INTEGER PRIMARY KEY, email VARCHAR UNIQUE, score DOUBLE)")
    con.execute("CREATE VIEW crm.active AS SELECT id, email FROM crm.users")
    con.execute("CREATE TABLE other (x INTEGER)")
    tables = {t.name: t for t in con.introspect(["crm"])}
    assert set(tables) == {"users", "active"}
    users = tables["users"]
    assert users.kind == "table" and tables["active"].kind == "view"
    assert [(c.name, c.type, c.nullable) for c in users.columns] == [
        ("id", "INTEGER", False),
        ("email", "VARCHAR", True),
        ("score", "DOUBLE", True),
    ]
    assert users.primary_key == ("id",)
    assert users.unique_keys == (("email",),)
    everything = {t.name for t in con.introspect()}
    assert {"users", "active", "other"} <= everything


def test_stream_arrow_yields_bounded_batches(tmp_path: Path):
    con = connect("duckdb", {"path": ":memory:"}, tmp_path)
    batches = list(con.stream_arrow("SELECT i, 'x' || i AS s FROM range(25000) r(i)", batch_rows=10_000))
    assert sum(b.num_rows for b in batches) == 25000
    assert all(b.num_rows <= 10_000 for b in batches) and len(batches) >= 3
    assert batches[0].schema.names == ["i", "s"]


def test_statements_between_batches_do_not_end_a_stream(tmp_path: Path):
    con = connect("duckdb", {"path": "w.duckdb"}, tmp_path, create=True)
    con.execute("CREATE TABLE src AS SELECT i FROM range(5000) r(i)")
    con.execute("CREATE TABLE log (n INTEGER)")
    total = 0
    for batch in con.stream_arrow("SELECT i FROM src", batch_rows=1000):
        con.execute("INSERT INTO log VALUES (?)", [batch.num_rows])
        total += batch.num_rows
    assert total == 5000
    assert con.query_rows("SELECT sum(n) FROM log") == [(5000,)]


def test_transaction_rolls_back_on_error(tmp_path: Path):
    con = connect("duckdb", {"path": ":memory:"}, tmp_path)
    con.execute("CREATE TABLE t (a INTEGER)")
    with pytest.raises(WarehouseError), con.transaction():
        con.execute("INSERT INTO t VALUES (1)")
        con.execute("INSERT INTO missing VALUES (1)")
    assert con.query_rows("SELECT count(*) FROM t") == [(0,)]


def test_bad_sql_is_a_clear_error_naming_the_source(tmp_path: Path):
    con = connect("duckdb", {"path": ":memory:"}, tmp_path, address="source.warehouse")
    with pytest.raises(WarehouseError) as info:
        con.query_rows("SELECT nope FROM nowhere")
    assert info.value.address == "source.warehouse"
    assert "nowhere" in info.value.message and "\n" not in info.value.message
    assert info.value.__suppress_context__


def test_unopenable_file_is_a_clear_error(tmp_path: Path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(WarehouseError, match="cannot open DuckDB database"):
        connect("duckdb", {"path": "file/inside/a/file.duckdb"}, tmp_path, address="source.w", create=True)


def test_describe_reports_query_columns(tmp_path: Path):
    con = connect("duckdb", {"path": ":memory:"}, tmp_path)
    cols = con.describe("SELECT 1 AS a, 'x' AS b, now() AS c")
    assert [(c.name, c.type) for c in cols] == [
        ("a", "INTEGER"),
        ("b", "VARCHAR"),
        ("c", "TIMESTAMP WITH TIME ZONE"),
    ]


def test_unknown_source_type(tmp_path: Path):
    from segprof.errors import SegprofError

    with pytest.raises(SegprofError, match="unknown source type 'oracle'"):
        connect("oracle", {}, tmp_path)


def test_memory_budget_default_configured_and_refused(tmp_path: Path) -> None:
    """segprof's connection runs within a memory budget (512MB unless the source sets one): a diff
    of millions of rows spills instead of taking most of the machine."""
    from segprof.config.loader import load_project_or_raise
    from segprof.errors import SegprofError
    from segprof.project.desired import source_settings
    from segprof.project.sources import open_source

    def budget(con: DuckDBConnector) -> str:
        return con.query_rows("SELECT current_setting('memory_limit')")[0][0]

    default = DuckDBConnector({"path": ":memory:"}, tmp_path)
    assert budget(default) == "488.2 MiB"  # 512 MB, as DuckDB shows it
    default.close()

    (tmp_path / "segprof.yaml").write_text(
        "version: 1\nsources:\n  wh:\n    type: duckdb\n    path: ':memory:'\n"
        "    memory_limit: 2GB\n    temp_directory: spill\n"
    )
    project = load_project_or_raise(tmp_path)
    con = open_source(project, tmp_path, "wh")
    try:
        assert budget(con) == "1.8 GiB"
        # relative to the project folder, as `path` is
        assert con.query_rows("SELECT current_setting('temp_directory')")[0][0] == str(tmp_path / "spill")
    finally:
        con.close()
    # how segprof's connection runs is not a setting of the workspace's source
    assert "memory_limit" not in source_settings(project.sources["wh"])
    assert "temp_directory" not in source_settings(project.sources["wh"])

    with pytest.raises(SegprofError) as refused:
        DuckDBConnector({"path": ":memory:", "memory_limit": "lots"}, tmp_path, "source.wh")
    assert "source.wh" in str(refused.value) and "memory_limit" in str(refused.value)
    assert refused.value.hint == "memory_limit takes a size such as 512MB or 2GB"

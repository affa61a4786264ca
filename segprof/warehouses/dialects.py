"""What differs between warehouses, stated once per source type (the sqlglot way).

Owns: the table of source types → sqlglot dialect, identifier folding, the optional driver
package and its extra, and `to_dialect()`, which turns segprof's own SQL (written once, in
DuckDB's dialect) into the target warehouse's SQL. Must never hold per-warehouse copies of the
sync engine's SQL: the engine writes it once and asks this module to translate it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from segprof.errors import SegprofError


@dataclass(frozen=True)
class WarehouseDialect:
    source_type: str
    sqlglot: str  # sqlglot dialect name
    fold: str  # how unquoted identifiers fold: "lower" | "upper" | "none"
    driver: str | None  # import name of the driver module (None: always installed)
    extra: str | None  # the segprof extra that installs it
    text_type: str = "VARCHAR"


DIALECTS: dict[str, WarehouseDialect] = {
    "duckdb": WarehouseDialect("duckdb", "duckdb", "lower", None, None),
    "postgres": WarehouseDialect("postgres", "postgres", "lower", "psycopg", "postgres"),
    "redshift": WarehouseDialect("redshift", "redshift", "lower", "redshift_connector", "redshift"),
    "snowflake": WarehouseDialect("snowflake", "snowflake", "upper", "snowflake.connector", "snowflake"),
    "bigquery": WarehouseDialect("bigquery", "bigquery", "none", "google.cloud.bigquery", "bigquery"),
    "databricks": WarehouseDialect("databricks", "databricks", "lower", "databricks.sql", "databricks"),
    "azure": WarehouseDialect("azure", "tsql", "none", "pyodbc", "azure"),
}


def dialect_for(source_type: str) -> WarehouseDialect:

    try:
        return DIALECTS[source_type]
    except KeyError:
        raise SegprofError(
            f"unknown source type {source_type!r}",
            hint=f"use one of: {', '.join(DIALECTS)}",
        ) from None


@lru_cache(maxsize=512)
def to_dialect(sql: str, target: str) -> str:
    """Translate one statement from segprof's neutral SQL (DuckDB dialect) to `target` (sqlglot name)."""
    if target == "duckdb":
        return sql
    import sqlglot

    tree = sqlglot.parse_one(sql, read="duckdb")
    if target == "tsql":
        tree = tree.transform(_tsql_hex_md5)
    return tree.sql(dialect=target)


def _tsql_hex_md5(node):  # type: ignore[no-untyped-def]
    """SQL Server's HASHBYTES returns binary; checksums are compared and stored as lowercase hex."""
    from sqlglot import exp

    if isinstance(node, exp.MD5):
        inner = node.this.sql(dialect="tsql")
        return exp.maybe_parse(f"LOWER(CONVERT(VARCHAR(32), HASHBYTES('MD5', {inner}), 2))", dialect="tsql")
    return node

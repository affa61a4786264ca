"""information_schema queries for tables and columns, written once and translated per dialect.

Owns: the SQL text used to list tables/views and their columns. Must never run it (connectors do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from segprof.warehouses.dialects import to_dialect

_HIDDEN = "('information_schema', 'pg_catalog', '__segprof', 'INFORMATION_SCHEMA', '__SEGPROF')"


@dataclass(frozen=True)
class IntrospectionSQL:
    tables: str
    columns: str


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def introspection_sql(dialect: str, schemas: Sequence[str] | None = None) -> IntrospectionSQL:
    if schemas:
        where = f"table_schema IN ({', '.join(_lit(s) for s in schemas)})"
    else:
        where = f"table_schema NOT IN {_HIDDEN}"
    tables = (
        "SELECT table_schema, table_name, table_type FROM information_schema.tables "
        f"WHERE {where} ORDER BY table_schema, table_name"
    )
    columns = (
        "SELECT table_schema, table_name, column_name, data_type, is_nullable "
        f"FROM information_schema.columns WHERE {where} "
        "ORDER BY table_schema, table_name, ordinal_position"
    )
    return IntrospectionSQL(to_dialect(tables, dialect), to_dialect(columns, dialect))

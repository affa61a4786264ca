"""Warehouse connectors: one small protocol, one factory.

Owns: `connect(source_type, settings, project_dir)`, which picks the connector for a source type.
DuckDB and PostgreSQL are built in; the cloud warehouses load their drivers lazily. Must never
import a driver at package import time (CLI start-up stays fast) or log connection settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from segprof.warehouses.base import ColumnInfo, Connector, TableInfo
from segprof.warehouses.dbapi_connector import DbApiConnector
from segprof.warehouses.dialects import DIALECTS, WarehouseDialect, dialect_for, to_dialect
from segprof.warehouses.duckdb_connector import DuckDBConnector
from segprof.warehouses.errors import WarehouseError
from segprof.warehouses.postgres_connector import PostgresConnector
from segprof.warehouses.snowflake_connector import SnowflakeConnector
from segprof.warehouses.spark_connector import SparkConnectConnector

__all__ = [
    "DIALECTS",
    "ColumnInfo",
    "Connector",
    "TableInfo",
    "WarehouseDialect",
    "WarehouseError",
    "connect",
    "dialect_for",
    "to_dialect",
]


def connect(
    source_type: str,
    settings: Mapping[str, Any],
    project_dir: Path,
    address: str | None = None,
    *,
    create: bool = False,
) -> Connector:
    """Open a connection for a source; `settings` are its YAML keys with secrets already resolved.

    An embedded database file that does not exist is an error unless `create` is set; a
    `read_only` setting makes every session refuse writes (reading commands set it)."""
    dialect_for(source_type)  # unknown type → clear error
    addr = address or "source"
    if source_type == "duckdb":
        return DuckDBConnector(settings, Path(project_dir), addr, create=create)
    if source_type == "postgres":
        return PostgresConnector(settings, Path(project_dir), addr)
    if source_type == "snowflake":
        return SnowflakeConnector(settings, Path(project_dir), addr)
    if source_type == "databricks" and (settings.get("connect_url") or settings.get("cluster_id")):
        return SparkConnectConnector(settings, Path(project_dir), addr)

    return DbApiConnector(source_type, settings, Path(project_dir), addr)

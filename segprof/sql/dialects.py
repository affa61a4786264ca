"""Warehouse dialects: which sqlglot dialect reads a source's SQL and how it folds identifiers.

Owns the mapping from a source `type` to a sqlglot dialect name and the identifier folding
rules (taken from sqlglot's own normalization strategies). Must never parse whole queries;
sqlglot is imported only when a folding rule is actually needed.
"""

from __future__ import annotations

from functools import cache

from segprof.errors import SegprofError

_DIALECTS: dict[str, str] = {
    "duckdb": "duckdb",
    "postgres": "postgres",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "redshift": "redshift",
    "databricks": "databricks",
    "azure": "tsql",
}

# Dialects whose result sets keep an unquoted identifier's case as written (they compare names
# case-insensitively but do not rewrite them). Postgres and Redshift lowercase, Snowflake uppercases.
CASE_PRESERVING: frozenset[str] = frozenset({"duckdb", "bigquery", "databricks", "tsql"})


def dialect_for(source_type: str) -> str:
    """The sqlglot dialect name for a source `type` (`azure` → `tsql`, the others keep their name)."""
    try:
        return _DIALECTS[source_type]
    except KeyError:
        known = ", ".join(sorted(_DIALECTS))
        raise SegprofError(f"unknown source type {source_type!r}; expected one of: {known}") from None


def check_dialect(dialect: str) -> None:
    if dialect not in _DIALECTS.values():
        known = ", ".join(sorted(set(_DIALECTS.values())))
        raise SegprofError(f"unknown SQL dialect {dialect!r}; expected one of: {known}")


@cache
def _strategy(dialect: str) -> str:
    from sqlglot.dialects.dialect import Dialect

    return str(Dialect.get_or_raise(dialect).NORMALIZATION_STRATEGY.name)


def normalize_identifier(name: str, dialect: str) -> str:
    """Fold an *unquoted* identifier as the warehouse compares it.

    Snowflake folds to upper case; Postgres, Redshift and DuckDB to lower case; BigQuery,
    Databricks and T-SQL compare case-insensitively, and their canonical form is lower case
    (sqlglot's rule). Use it on both sides before comparing column names.
    """
    check_dialect(dialect)
    strategy = _strategy(dialect)
    if strategy == "UPPERCASE":
        return name.upper()
    if strategy in ("LOWERCASE", "CASE_INSENSITIVE"):
        return name.lower()
    # CASE_SENSITIVE (and any strategy sqlglot may add): leave the name alone.
    return name


def result_name(name: str, dialect: str, *, quoted: bool) -> str:
    """The name a warehouse gives a result column written as `name` (quoted names are kept)."""
    if quoted or dialect in CASE_PRESERVING:
        return name
    return normalize_identifier(name, dialect)


def comparison_key(name: str, dialect: str) -> str:
    """A key under which two result column names collide in the warehouse."""
    if dialect in CASE_PRESERVING:
        return name.lower()
    return name

"""The record checksum: a stable md5 over a mapping's mapped columns, computed inside the warehouse.

Owns the canonical encoding (below), its SQL form (`checksum_sql`, written once in DuckDB's dialect
and translated per warehouse), and a Python reference (`checksum_of`) that is the executable
specification. Must never use an engine's `hash()` (it changes between engine versions, which
would resend every record) and never depend on the order columns are listed in the YAML.

Canonical encoding (version `CHECKSUM_VERSION`):

1. Take the mapped column names, remove duplicates, sort them by Unicode code point.
2. For each column append `<len(name)>:<name>` and then either `N` when the value is NULL, or
   `V<len(text)>:<text>` where `text` is the value's canonical text (lengths count Unicode code
   points, written in decimal). The length prefixes make the string unambiguous: a NULL, an empty
   string and the text `null` all differ, and no value can imitate a column boundary.
3. checksum = lowercase hex md5 of the UTF-8 bytes of the whole string.

Canonical text by type: TIMESTAMP → `YYYY-MM-DD HH:MM:SS.ffffff`; TIMESTAMP WITH TIME ZONE → the
same in UTC followed by `Z`; everything else → the warehouse's own cast to text. Text, integers,
booleans (`true`/`false`), dates, decimals of the same scale and timestamps give identical
checksums on DuckDB and PostgreSQL; floats agree for values both print in shortest form; JSON,
arrays and structs print differently per engine and are only stable within one engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

CHECKSUM_VERSION = "md5-lp-v1"


def canonical_columns(columns: Iterable[str]) -> list[str]:
    """Mapped column names in canonical order (deduplicated, sorted by code point)."""
    return sorted(set(columns))


def canonical_string(texts: Mapping[str, str | None]) -> str:
    """The string that is hashed, from each column's canonical text (None = NULL)."""
    parts: list[str] = []
    for name in canonical_columns(texts):
        value = texts[name]
        parts.append(f"{len(name)}:{name}")
        parts.append("N" if value is None else f"V{len(value)}:{value}")
    return "".join(parts)


def checksum_of(texts: Mapping[str, str | None]) -> str:
    """Reference checksum of one record, given each mapped column's canonical text."""
    return hashlib.md5(canonical_string(texts).encode("utf-8")).hexdigest()


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def canonical_text_sql(column_sql: str, type_name: str) -> str:
    """SQL (DuckDB dialect) for one value's canonical text, chosen by its declared type."""
    t = type_name.strip().lower()
    if t.startswith("timestamp") or t in ("datetime", "timestamptz"):
        with_tz = "with time zone" in t or t in ("timestamptz", "timestamp_tz", "timestamp_ltz")
        if with_tz:
            return f"strftime({column_sql} AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f') || 'Z'"
        return f"strftime(CAST({column_sql} AS TIMESTAMP), '%Y-%m-%d %H:%M:%S.%f')"
    return f"CAST({column_sql} AS VARCHAR)"


def _md5_of(columns: Sequence[tuple[str, str, str]]) -> str:
    """md5 of the canonical string, from (name, SQL of the value, SQL of its canonical text)."""
    pieces: list[str] = []
    for name, value, text in columns:
        pieces.append(_sql_literal(f"{len(name)}:{name}"))
        # One flat concat (no NULL argument ever reaches it) is markedly faster than a || chain.
        pieces.append(f"CASE WHEN {value} IS NULL THEN 'N' ELSE 'V' END")
        pieces.append(
            f"CASE WHEN {value} IS NULL THEN '' ELSE concat(CAST(length({text}) AS VARCHAR), ':') END"
        )
        pieces.append(f"coalesce({text}, '')")
    if not pieces:
        return "md5('')"
    return "md5(concat(" + ", ".join(pieces) + "))"


def checksum_sql(columns: Sequence[tuple[str, str]], alias: str = "q") -> str:
    """The checksum expression (DuckDB dialect) over `(column name, type name)` pairs of a relation."""
    types = dict(columns)
    refs = [(name, f"{alias}.{quote(name)}") for name in canonical_columns(types)]
    return _md5_of([(name, ref, canonical_text_sql(ref, types[name])) for name, ref in refs])


def checksummed_sql(
    columns: Sequence[tuple[str, str]], id_sql: str, source: str, where: str, alias: str = "q"
) -> str:
    """`SELECT id, checksum` over `source AS alias` (DuckDB dialect), in two steps so that each
    value's canonical text is computed once, not twice (a timestamp's strftime is a third of the
    checksum's cost); the checksums equal `checksum_sql`'s.

    `id_sql` and `where` are expressions over `alias`; the result's columns are `id`, `checksum`.
    """
    types = dict(columns)
    inner = [f"{id_sql} AS id"]
    steps: list[tuple[str, str, str]] = []
    for i, name in enumerate(canonical_columns(types)):
        ref = f"{alias}.{quote(name)}"
        inner.append(f"{ref} AS __segprof_v{i}")
        inner.append(f"{canonical_text_sql(ref, types[name])} AS __segprof_t{i}")
        steps.append((name, f"t.__segprof_v{i}", f"t.__segprof_t{i}"))
    return (
        f"SELECT t.id AS id, {_md5_of(steps)} AS checksum "
        f"FROM (SELECT {', '.join(inner)} FROM {source} AS {alias} WHERE {where}) AS t"
    )

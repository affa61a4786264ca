"""Schema-aware checks of a parsed query: unknown tables, unknown columns, `*` expansion, types.

Owns matching the query's tables against a schema snapshot, running sqlglot's qualification
and type annotation, and reporting what they find as positioned problems. Must never raise for
a query sqlglot cannot follow: on dialects and constructs where sqlglot is known to be
unreliable its complaints become warnings.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema

from segprof.sql.analyze import ERROR, WARNING, OutputColumn
from segprof.sql.dialects import CASE_PRESERVING, comparison_key, normalize_identifier
from segprof.sql.engine import node_start, real_tables, table_text, type_name

if TYPE_CHECKING:
    from segprof.sql.analyze import Context
    from segprof.sql.engine import Col

_PART = re.compile(r'"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|[^.]+')
_SYNTHETIC = "segprof_t{}"


@dataclass
class _Table:
    """One schema table: its name parts as the warehouse compares them and its columns."""

    key: str
    parts: tuple[str, ...]
    # folded column name → (name as given in the snapshot, SQL type usable by sqlglot)
    columns: dict[str, tuple[str, str]]


@dataclass
class _Prepared:
    tables: list[_Table]
    by_name: dict[str, list[int]]


# Preparing a large snapshot costs time; models of one project share it (keyed by identity).
_CACHE: OrderedDict[tuple[int, str], tuple[object, _Prepared]] = OrderedDict()


def _fold(part: str, dialect: str) -> str:
    if len(part) >= 2 and part[0] in '"`[' and part[-1] in '"`]':
        return part[1:-1].replace('""', '"')
    return normalize_identifier(part, dialect)


def _valid_type(type_sql: str, dialect: str) -> str:
    try:
        exp.DataType.build(type_sql, dialect=dialect)
    except Exception:  # an unreadable type only loses inference, never the check
        return "UNKNOWN"
    return type_sql


def _prepare(schema: dict[str, dict[str, str]], dialect: str) -> _Prepared:
    key = (id(schema), dialect)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is schema:
        _CACHE.move_to_end(key)
        return hit[1]
    tables: list[_Table] = []
    by_name: dict[str, list[int]] = {}
    for table_key, columns in schema.items():
        parts = tuple(_fold(p, dialect) for p in _PART.findall(str(table_key)))
        if not parts:
            continue
        cols = {
            _fold(str(name), dialect): (str(name).strip('"`[]'), _valid_type(str(typ), dialect))
            for name, typ in (columns or {}).items()
        }
        by_name.setdefault(parts[-1], []).append(len(tables))
        tables.append(_Table(str(table_key), parts, cols))
    prepared = _Prepared(tables, by_name)
    _CACHE[key] = (schema, prepared)
    while len(_CACHE) > 8:
        _CACHE.popitem(last=False)
    return prepared


def _match(prepared: _Prepared, table: exp.Table, dialect: str) -> int | None:
    parts = tuple(p.name if p.quoted else normalize_identifier(p.name, dialect) for p in table.parts)
    best: int | None = None
    for i in prepared.by_name.get(parts[-1], []):
        known = prepared.tables[i].parts
        n = min(len(known), len(parts))
        if known[-n:] == parts[-n:]:
            if len(known) == len(parts):
                return i
            if best is None:
                best = i
    return best


def _unreliable(stmt: exp.Expr, dialect: str) -> str | None:
    """Why sqlglot's column resolution may be wrong for this query (known issues), if it may."""
    if dialect == "bigquery":
        if stmt.find(exp.Unnest):
            return "BigQuery UNNEST"
        for table in stmt.find_all(exp.Table):
            if any(p.quoted for p in table.parts):
                return "BigQuery backtick-quoted paths"
        if stmt.find(exp.Lateral):
            return "LATERAL"
    if dialect == "snowflake":
        if stmt.find(exp.Lateral) or stmt.find(exp.Flatten) or stmt.find(exp.Explode):
            return "Snowflake LATERAL FLATTEN"
        for ident in stmt.find_all(exp.Identifier):
            if ident.quoted and ident.name != ident.name.upper():
                return "Snowflake quoted lower-case identifiers"
        if stmt.find(exp.JSONExtract):
            return "Snowflake semi-structured paths"
    return None


def check(
    ctx: Context, stmt: exp.Expr, cols: list[Col], schema: dict[str, dict[str, str]]
) -> list[OutputColumn] | None:
    """Problems go to `ctx`; returns the typed output columns, or None to keep `cols`."""
    dialect = ctx.dialect
    prepared = _prepare(schema, dialect)
    matches: list[tuple[exp.Table, int]] = []
    unknown = False
    for table in real_tables(stmt):
        found = _match(prepared, table, dialect)
        if found is None:
            unknown = True
            start = node_start(table.this) if table.this is not None else None
            for part in table.parts:
                s = node_start(part)
                if s is not None:
                    start = s if start is None else min(start, s)
                    break
            ctx.add(
                "sql.unknown_table",
                ERROR,
                f"table {table_text(table, dialect, ctx.sql)} is not in the schema snapshot",
                start if start is not None else 0,
                "check the table name, or refresh the schema snapshot",
            )
        else:
            matches.append((table, found))
    if unknown:
        return None

    reason = _unreliable(stmt, dialect)
    severity = WARNING if reason else ERROR
    hint = (
        f"sqlglot cannot always follow {reason} offline; confirm with a dry run in the warehouse"
        if reason
        else None
    )

    # Give every table a synthetic one-part name so snapshots of any nesting depth fit one
    # MappingSchema; the original name stays as the alias so column references still resolve.
    mapping: dict[str, dict[str, str]] = {}
    originals: dict[str, str] = {}
    for table, index in matches:
        synthetic = _SYNTHETIC.format(index)
        info = prepared.tables[index]
        mapping[synthetic] = {name: typ for name, (_, typ) in info.columns.items()}
        originals[synthetic] = table_text(table, dialect, ctx.sql)
        if not table.alias:
            table.set("alias", exp.TableAlias(this=table.this.copy()))
        table.set("this", exp.to_identifier(synthetic, quoted=True))
        table.set("db", None)
        table.set("catalog", None)

    try:
        ms = MappingSchema(mapping, dialect=dialect, normalize=False)
        qualified = qualify(stmt, dialect=dialect, schema=ms, validate_qualify_columns=False)
    except OptimizeError as err:
        _optimize_error(ctx, stmt, err, severity, hint)
        return None
    except Exception as err:  # sqlglot bug: say we could not check, never crash
        ctx.add(
            "sql.unchecked",
            WARNING,
            f"columns could not be checked offline ({type(err).__name__}: {err})",
            node_start(stmt) or 0,
        )
        return None

    if _unresolved(ctx, qualified, ms, originals, severity, hint):
        return None
    try:
        annotated = annotate_types(qualified, schema=ms, dialect=dialect)
    except Exception:  # types are a bonus
        annotated = qualified
    return _typed_columns(ctx, annotated, cols, prepared, matches)


def _optimize_error(
    ctx: Context, stmt: exp.Expr, err: OptimizeError, severity: str, hint: str | None
) -> None:
    text = str(err).split("\n", 1)[0]
    match = re.match(r"Unknown column: (.+)$", text)
    offset = node_start(stmt) or 0
    if match:
        name = match.group(1)
        for column in stmt.find_all(exp.Column):
            if column.table and column.name == name:
                start = column.this.meta.get("start") if column.this._meta else None
                if isinstance(start, int):
                    offset = start
                    text = f"column {column.this.name} is not a column of {column.table}"
                    break
        else:
            text = f"unknown column {name}"
    ctx.add("sql.unknown_column", severity, text, offset, hint)


def _source_columns(source: object, ms: MappingSchema) -> set[str]:
    if isinstance(source, exp.Table):
        return set(ms.column_names(source))
    if isinstance(source, Scope):
        return set(source.expression.named_selects) if isinstance(source.expression, exp.Query) else set()
    return set()


def _unresolved(
    ctx: Context,
    qualified: exp.Expr,
    ms: MappingSchema,
    originals: dict[str, str],
    severity: str,
    hint: str | None,
) -> bool:
    """Report columns no table provides (or several do); True when any was reported."""
    found = False
    seen: set[int] = set()
    for scope in traverse_scope(qualified):
        if not isinstance(scope.expression, exp.Select):
            continue
        candidates: list[exp.Column] = []
        if not scope.is_correlated_subquery and not scope.pivots:
            candidates.extend(scope.external_columns)
        candidates.extend(scope.unqualified_columns)
        for column in candidates:
            if id(column) in seen:
                continue
            seen.add(id(column))
            found = True
            start = column.this.meta.get("start") if column.this._meta else None
            name = column.name
            if column.table and column.table not in scope.sources:
                message = f"column {column.table}.{name}: no table or alias named {column.table} here"
            else:
                having = [
                    alias for alias, source in scope.sources.items() if name in _source_columns(source, ms)
                ]
                if len(having) > 1:
                    message = f"column {name} is ambiguous: {', '.join(having)} all have it"
                else:
                    where = [
                        originals.get(s.name, alias) if isinstance(s, exp.Table) else alias
                        for alias, s in scope.sources.items()
                    ]
                    where_text = ", ".join(where) if where else "no table"
                    message = f"column {name} is not in {where_text}"
            ctx.add(
                "sql.unknown_column",
                severity,
                message,
                start if isinstance(start, int) else node_start(column) or 0,
                hint,
            )
    return found


def _typed_columns(
    ctx: Context,
    annotated: exp.Expr,
    cols: list[Col],
    prepared: _Prepared,
    matches: list[tuple[exp.Table, int]],
) -> list[OutputColumn] | None:
    from segprof.sql.engine import _top_select

    dialect = ctx.dialect
    top = _top_select(annotated)
    if not isinstance(top, exp.Select):
        return None
    exprs = list(top.expressions)
    stars = [c for c in cols if c.star]
    if not stars:
        if len(exprs) != len(cols):
            return None
        for col, expr in zip(cols, exprs, strict=True):
            col.type = type_name(expr.type, dialect)
        return [OutputColumn(c.name, c.type) for c in cols]

    # Spellings from the snapshot, for warehouses that return names as stored.
    spelled: dict[str, str] = {}
    for _, index in matches:
        for folded, (given, _) in prepared.tables[index].columns.items():
            spelled.setdefault(folded, given)

    def expanded_name(expr: exp.Expr) -> str:
        name = expr.alias_or_name
        if dialect in CASE_PRESERVING:
            return spelled.get(name, name)
        return name

    result: list[tuple[str, str | None, int, bool]] = []
    if len(stars) == 1:
        extra = len(exprs) - (len(cols) - 1)
        if extra < 0:
            return None
        i = 0
        for col in cols:
            if col.star:
                for expr in exprs[i : i + extra]:
                    result.append((expanded_name(expr), type_name(expr.type, dialect), col.offset, True))
                i += extra
            else:
                result.append((col.name, type_name(exprs[i].type, dialect), col.offset, False))
                i += 1
    else:
        # Several stars: an expanded column belongs to the `t.*` naming its table, else to `*`.
        by_table = {c.expr.table.lower(): c.offset for c in stars if isinstance(c.expr, exp.Column)}
        bare = next((c.offset for c in stars if not isinstance(c.expr, exp.Column)), stars[0].offset)
        for expr in exprs:
            inner = expr.unalias()
            table = inner.table.lower() if isinstance(inner, exp.Column) else ""
            offset = by_table.get(table, bare)
            result.append((expanded_name(expr), type_name(expr.type, dialect), offset, True))

    first: dict[str, tuple[int, bool]] = {}
    for name, _, offset, from_star in result:
        key = comparison_key(name, dialect)
        if key in first:
            if from_star or first[key][1]:
                line, column = ctx.index.position(first[key][0])
                ctx.add(
                    "sql.duplicate_column",
                    ERROR,
                    f"the output column '{name}' appears twice once '*' is expanded "
                    f"(first at line {line}, column {column})",
                    offset,
                    "list the columns instead of '*', or alias one of them",
                )
        else:
            first[key] = (offset, from_star)
    return [OutputColumn(name, typ) for name, typ, _, _ in result]

"""Schema-aware checks of a parsed query: unknown tables, unknown columns, `*` expansion, types.

Owns matching the query's tables against a schema snapshot, running sqlglot's qualification
and type annotation, and reporting what they find as positioned problems. Must never raise for
a query sqlglot cannot follow: on dialects and constructs where sqlglot is known to be
unreliable its complaints become warnings.
"""

from __future__ import annotations

import contextlib
import re
from collections import OrderedDict
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema

from segprof.sql.dialects import CASE_PRESERVING, comparison_key, normalize_identifier
from segprof.sql.outputs import Col, is_star, top_select, type_name
from segprof.sql.problems import ERROR, WARNING, Context, OutputColumn
from segprof.sql.statement import Facts, node_start, table_text

_PART = re.compile(r'"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|[^.]+')
_SYNTHETIC = "segprof_t{}"


@dataclass
class _Table:
    """One schema table: its name parts as the warehouse compares them and its columns."""

    key: str
    parts: tuple[str, ...]
    raw: dict[str, str]
    dialect: str
    _columns: dict[str, tuple[str, exp.DataType]] | None = None

    @property
    def columns(self) -> dict[str, tuple[str, exp.DataType]]:
        """Folded column name → (name as given in the snapshot, type usable by sqlglot).

        Built on first use: a snapshot may hold thousands of tables a project never reads.
        """
        if self._columns is None:
            self._columns = {
                _fold(str(name), self.dialect): (str(name).strip('"`[]'), _data_type(str(typ), self.dialect))
                for name, typ in (self.raw or {}).items()
            }
        return self._columns


@dataclass
class _Prepared:
    tables: list[_Table]
    by_name: dict[str, list[int]]


# Preparing a large snapshot costs time; models of one project share it (keyed by identity).
_CACHE: OrderedDict[tuple[int, str], tuple[object, _Prepared]] = OrderedDict()


def _fold(part: str, dialect: str) -> str:
    if len(part) >= 2 and part[0] in '"`[' and part[-1] in '"`]':
        name = part[1:-1].replace('""', '"')
        # Case-insensitive warehouses ignore quotes for case; sqlglot folds such names too.
        return name.lower() if dialect in CASE_PRESERVING else name
    return normalize_identifier(part, dialect)


def _data_type(type_sql: str, dialect: str) -> exp.DataType:
    """The snapshot's type, built once (MappingSchema would rebuild it for every query)."""
    try:
        udt = Dialect.get_or_raise(dialect).SUPPORTS_USER_DEFINED_TYPES
        return exp.DataType.build(type_sql, dialect=dialect, udt=udt)
    except Exception:  # an unreadable type only loses inference, never the check
        return exp.DataType.build("unknown")


def _prepare(schema: dict[str, dict[str, str]], dialect: str) -> _Prepared:
    """Index the snapshot by folded table name (cached per snapshot object and dialect)."""
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
        by_name.setdefault(parts[-1], []).append(len(tables))
        tables.append(_Table(str(table_key), parts, columns or {}, dialect))
    prepared = _Prepared(tables, by_name)
    _CACHE[key] = (schema, prepared)
    while len(_CACHE) > 8:
        _CACHE.popitem(last=False)
    return prepared


def _match(prepared: _Prepared, table: exp.Table, dialect: str) -> int | None:
    """The snapshot table a query table names: same parts, compared from the right."""
    parts = tuple(_fold(p.sql(dialect) if p.quoted else p.name, dialect) for p in table.parts)
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


def _unreliable(facts: Facts, dialect: str) -> str | None:
    """Why sqlglot's column resolution may be wrong for this query (known issues), if it may."""
    if dialect == "bigquery":
        if facts.has(exp.Unnest):
            return "BigQuery UNNEST"
        if facts.quoted_table_part:
            return "BigQuery backtick-quoted paths"
        if facts.has(exp.Lateral):
            return "LATERAL"
    if dialect == "snowflake":
        if facts.has(exp.Lateral, exp.Flatten, exp.Explode):
            return "Snowflake LATERAL FLATTEN"
        if facts.quoted_lower:
            return "Snowflake quoted lower-case identifiers"
        if facts.has(exp.JSONExtract, exp.JSONExtractScalar):
            return "Snowflake semi-structured paths"
    return None


_MAX_CHAIN = 250


def _longest_operator_chain(stmt: exp.Expr) -> int:
    """The longest left-nested run of binary operators (`a OR b OR c …` parses left-deep)."""
    longest = 0
    for node in stmt.find_all(exp.Binary):
        if isinstance(node.parent, exp.Binary):
            continue
        length, inner = 0, node
        while isinstance(inner, exp.Binary):
            length += 1
            inner = inner.this
        longest = max(longest, length)
    return longest


def check(
    ctx: Context, stmt: exp.Expr, facts: Facts, cols: list[Col], schema: dict[str, dict[str, str]]
) -> list[OutputColumn] | None:
    """Problems go to `ctx`; returns the typed output columns, or None to keep `cols`."""
    dialect = ctx.dialect
    prepared = _prepare(schema, dialect)
    matches: list[tuple[exp.Table, int]] = []
    unknown = False
    for table in facts.tables:
        found = _match(prepared, table, dialect)
        if found is None:
            unknown = True
            starts = [s for s in (node_start(part) for part in table.parts) if s is not None]
            start = min(starts) if starts else None
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

    chain = _longest_operator_chain(stmt)
    if chain > _MAX_CHAIN:
        # sqlglot's qualification takes time quadratic in such chains (seconds for a few thousand).
        ctx.add(
            "sql.unchecked",
            WARNING,
            f"an expression chains {chain} operators; columns were not checked offline",
            node_start(stmt) or 0,
            "long OR / + chains are often clearer as IN (…) lists or a joined table",
        )
        return None

    reason = _unreliable(facts, dialect)
    severity = WARNING if reason else ERROR
    hint = (
        f"sqlglot cannot always follow {reason} offline; confirm with a dry run in the warehouse"
        if reason
        else None
    )

    # Case-preserving warehouses return aliases as written; qualification is about to fold them.
    aliases = facts.aliases

    # Give every table a synthetic one-part name so snapshots of any nesting depth fit one
    # MappingSchema; the original name stays as the alias so column references still resolve.
    mapping: dict[str, dict[str, exp.DataType]] = {}
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
        qualified = qualify(
            stmt, dialect=dialect, schema=ms, validate_qualify_columns=False, quote_identifiers=False
        )
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
    return _typed_columns(ctx, annotated, cols, prepared, matches, aliases)


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
                    table = _written(ctx, column.args.get("table"), column.table)
                    text = f"column {_written(ctx, column.this, name)} is not a column of {table}"
                    break
        else:
            text = f"unknown column {name}"
        ctx.add("sql.unknown_column", severity, text, offset, hint)
        return
    match = re.match(r"Alias already used: (.+)$", text)
    if match:
        name = match.group(1)
        starts = sorted(
            start
            for alias in stmt.find_all(exp.TableAlias)
            if alias.name == name and (start := node_start(alias)) is not None
        )
        if len(starts) > 1:
            offset = starts[1]
        ctx.add("sql.duplicate_alias", ERROR, f"the alias {name} names two sources", offset)
        return
    # Anything else is sqlglot not following the query, not a finding about it.
    ctx.add("sql.unchecked", WARNING, f"columns could not be checked offline ({text})", offset, hint)


def _written(ctx: Context, node: exp.Expr | None, fallback: str) -> str:
    """An identifier as the user wrote it (qualification has folded and quoted it by now)."""
    meta = node._meta if node is not None else None
    if meta and isinstance(meta.get("start"), int) and isinstance(meta.get("end"), int):
        return ctx.sql[meta["start"] : meta["end"] + 1]
    return fallback


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
            shown = _written(ctx, column.this, name)
            if column.table and column.table not in scope.sources:
                table = _written(ctx, column.args.get("table"), column.table)
                message = f"column {table}.{shown}: no table or alias named {table} here"
            else:
                having = [
                    alias for alias, source in scope.sources.items() if name in _source_columns(source, ms)
                ]
                if len(having) > 1:
                    message = f"column {shown} is ambiguous: {', '.join(having)} all have it"
                else:
                    where = [
                        originals.get(s.name, alias) if isinstance(s, exp.Table) else alias
                        for alias, s in scope.sources.items()
                    ]
                    where_text = ", ".join(where) if where else "no table"
                    message = f"column {shown} is not in {where_text}"
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
    aliases: dict[str, str],
) -> list[OutputColumn] | None:
    # Spellings from the snapshot, for warehouses that return names as stored; aliases win.
    spelled: dict[str, str] = {}
    for _, index in matches:
        for folded, (given, _) in prepared.tables[index].columns.items():
            spelled.setdefault(folded, given)
    spelled.update(aliases)
    return typed_columns(ctx, annotated, cols, spelled)


def typed_columns(
    ctx: Context, annotated: exp.Expr, cols: list[Col], spelled: dict[str, str]
) -> list[OutputColumn] | None:
    """Output columns of a qualified, annotated tree, named as `cols` (stars expanded).

    `spelled` maps a folded name to the spelling a case-preserving warehouse returns.
    Reports duplicates that only star expansion reveals. None when the trees do not line up.
    """
    dialect = ctx.dialect
    top = top_select(annotated)
    if not isinstance(top, exp.Select):
        return None
    exprs = list(top.expressions)
    stars = [c for c in cols if c.star]
    if any(is_star(e) for e in exprs):
        # A star over a source the snapshot cannot describe (a table function, a file).
        for col in stars:
            ctx.add(
                "sql.star",
                WARNING,
                f"'{col.text}' selects columns that are unknown offline",
                col.offset,
                "list the columns",
            )
        return None

    def plain_name(col: Col) -> str:
        # DuckDB names a bare column reference as the table stores it, whatever the query's case.
        if dialect == "duckdb" and isinstance(col.expr, exp.Column):
            return spelled.get(col.name.lower(), col.name)
        return col.name

    if not stars:
        if len(exprs) != len(cols):
            return None
        return [
            OutputColumn(plain_name(col), type_name(expr.type, dialect))
            for col, expr in zip(cols, exprs, strict=True)
        ]

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
                result.append((plain_name(col), type_name(exprs[i].type, dialect), col.offset, False))
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


def expand_stars_offline(
    ctx: Context, stmt: exp.Expr, cols: list[Col], aliases: dict[str, str]
) -> list[OutputColumn] | None:
    """Expand `*` without a schema when every source it covers is a CTE or subquery of the query.

    `with final as (…) select * from final` is common, and its columns are known offline.
    None when a star reads a warehouse table (then its columns really are unknown).
    """
    dialect = ctx.dialect
    spelled: dict[str, str] = {}
    if dialect in CASE_PRESERVING:
        # Qualification folds names; these warehouses return them as written.
        for ident in stmt.find_all(exp.Identifier):
            spelled.setdefault(ident.name.lower(), ident.name)
        spelled.update(aliases)
    try:
        qualified = qualify(
            stmt,
            dialect=dialect,
            schema=MappingSchema(dialect=dialect),
            validate_qualify_columns=False,
            quote_identifiers=False,
        )
    except Exception:  # sqlglot could not follow the query: the star stays unknown
        return None
    top = top_select(qualified)
    if not isinstance(top, exp.Select) or any(is_star(e) for e in top.expressions):
        return None
    with contextlib.suppress(Exception):  # types are a bonus
        annotate_types(qualified, dialect=dialect)
    return typed_columns(ctx, qualified, cols, spelled)

"""The outermost select list: output column names, warnings about them, and their types.

Owns naming each result column as the warehouse will (folding, quoted names, invented names
for unaliased expressions), duplicates, stars, and types known without a schema. Must never
check tables or columns against a schema (schema_check does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.tokens import TokenType

from segprof.sql.dialects import comparison_key, result_name
from segprof.sql.parsing import CLOSERS, ITEM_END, OPENERS, first_statement_token, skip_brackets, skip_with
from segprof.sql.problems import ERROR, WARNING, Context
from segprof.sql.statement import node_start

if TYPE_CHECKING:
    from collections.abc import Iterable


_WAREHOUSE = {
    "duckdb": "DuckDB",
    "postgres": "PostgreSQL",
    "snowflake": "Snowflake",
    "bigquery": "BigQuery",
    "redshift": "Redshift",
    "databricks": "Databricks",
    "tsql": "SQL Server",
}


_ITEM_STOP = frozenset({TokenType.COMMA, TokenType.SELECT, TokenType.DISTINCT, TokenType.ALL})


def item_start(ctx: Context, expr: exp.Expr) -> int | None:
    """Offset where a select-list item begins.

    sqlglot positions leaves only, so `case when a …` or `cast(x as int)` would point at `a` or `x`;
    walk back from that leaf to the separator that precedes the item.
    """
    leaf = node_start(expr)
    if leaf is None:
        return None
    if ctx.token_index is None:
        ctx.token_index = {tok.start: i for i, tok in enumerate(ctx.tokens)}
    i = ctx.token_index.get(leaf)
    if i is None:
        return leaf
    tokens = ctx.tokens
    while i > 0:
        prev = tokens[i - 1].token_type
        if prev in _ITEM_STOP:
            break
        if prev == TokenType.NUMBER and i > 1 and tokens[i - 2].token_type == TokenType.TOP:
            break
        i -= 1
    return tokens[i].start


class Col:
    """An output column while it is being worked out (positions and star-ness kept)."""

    __slots__ = ("expr", "name", "offset", "quoted", "star", "text", "type", "unnamed")

    def __init__(
        self,
        expr: exp.Expr,
        name: str,
        offset: int,
        *,
        quoted: bool = False,
        star: bool = False,
        unnamed: bool = False,
        text: str = "",
    ) -> None:
        self.expr = expr
        self.name = name
        self.offset = offset
        self.quoted = quoted
        self.star = star
        self.unnamed = unnamed
        self.text = text
        self.type: str | None = None


def top_select(stmt: exp.Expr) -> exp.Expr:
    """The SELECT (or VALUES) whose list names the result: through brackets and set operations."""
    node = stmt
    while True:
        if isinstance(node, exp.Subquery):
            node = node.this
        elif isinstance(node, exp.SetOperation):
            node = node.this  # the first branch names the columns
        else:
            return node


def is_star(expr: exp.Expr) -> bool:
    """`*` or `t.*` (with or without EXCEPT / EXCLUDE / REPLACE)."""
    return isinstance(expr, exp.Star) or (isinstance(expr, exp.Column) and isinstance(expr.this, exp.Star))


def output_columns(ctx: Context, top: exp.Expr) -> list[Col]:
    """The select list as result columns; unnamed expressions and duplicates are reported."""
    dialect = ctx.dialect
    cols: list[Col] = []
    if isinstance(top, exp.Values):
        return _values_columns(ctx, top)
    if not isinstance(top, exp.Select):
        return cols
    anonymous = 0
    starts = _select_list_starts(ctx, len(top.expressions))
    for index, expr in enumerate(top.expressions):
        offset = starts[index] if starts else item_start(ctx, expr)
        if offset is None:
            offset = first_statement_token(ctx)
        if is_star(expr):
            cols.append(Col(expr, "*", offset, star=True, text=expr.sql(dialect)))
            continue
        ident = None
        if isinstance(expr, exp.Alias):
            ident = expr.args.get("alias")
        elif isinstance(expr, exp.Column):
            ident = expr.this
        if isinstance(ident, exp.Identifier):
            quoted = bool(ident.quoted)
            name = result_name(ident.name, dialect, quoted=quoted)
            ident_offset = ident.meta.get("start") if ident._meta else None
            cols.append(
                Col(expr, name, ident_offset if isinstance(ident_offset, int) else offset, quoted=quoted)
            )
            continue
        text = _source_text(ctx, expr, offset)
        name = invented_name(expr, dialect, anonymous, text)
        anonymous += 1
        col = Col(expr, name, offset, unnamed=True, text=text)
        cols.append(col)
        if dialect == "tsql":
            said = "SQL Server returns it without a column name"
        else:
            said = f"{_WAREHOUSE[dialect]} will name the column '{name}'"
        ctx.add(
            "sql.unnamed_column",
            WARNING,
            f"the expression '{_shorten(text)}' has no alias; {said}",
            offset,
            "add AS <name> so mappings can refer to it",
        )
    _check_duplicates(ctx, cols)
    return cols


def _select_list_starts(ctx: Context, expected: int) -> list[int] | None:
    """Where each item of the outermost select list starts, read from the tokens.

    Items without any positioned leaf (`current_date`) are found this way; None when the token
    reading disagrees with the parsed tree, and positions then come from the tree's leaves.
    """
    tokens = ctx.tokens
    # The outermost SELECT is the first one after any CTE bodies (with a UNION, the first branch
    # names the columns even when it is bracketed).
    i = skip_with(tokens, 0)
    select_at = next((j for j in range(i, len(tokens)) if tokens[j].token_type == TokenType.SELECT), None)
    if select_at is None:
        return None
    i = select_at + 1
    n = len(tokens)
    # Skip DISTINCT [ON (…)], ALL, TOP n / TOP (n).
    while i < n:
        kind = tokens[i].token_type
        if kind in (TokenType.DISTINCT, TokenType.ALL):
            i += 1
            if i < n and tokens[i].token_type == TokenType.ON:
                i += 1
                i = skip_brackets(tokens, i)
        elif kind == TokenType.TOP:
            i += 1
            i = skip_brackets(tokens, i) if i < n and tokens[i].token_type in OPENERS else i + 1
        else:
            break
    starts: list[int] = []
    depth = 0
    expecting = True
    while i < n:
        tok = tokens[i]
        kind = tok.token_type
        if depth == 0 and kind in ITEM_END and kind != TokenType.COMMA:
            break
        if expecting:
            starts.append(tok.start)
            expecting = False
        if kind in OPENERS:
            depth += 1
        elif kind in CLOSERS:
            depth -= 1
            if depth < 0:
                break
        elif kind == TokenType.COMMA and depth == 0:
            expecting = True
        i += 1
    return starts if len(starts) == expected else None


def _values_columns(ctx: Context, values: exp.Values) -> list[Col]:
    first = values.expressions[0] if values.expressions else None
    width = len(first.expressions) if isinstance(first, exp.Tuple) else (1 if first is not None else 0)
    offset = first_statement_token(ctx)
    names = {
        "duckdb": "col{i}",
        "snowflake": "COLUMN{n}",
        "postgres": "column{n}",
        "redshift": "column{n}",
        "databricks": "col{n}",
    }
    pattern = names.get(ctx.dialect, "column{n}")
    return [Col(values, pattern.format(i=i, n=i + 1), offset) for i in range(width)]


def _shorten(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _source_text(ctx: Context, expr: exp.Expr, start: int) -> str:
    """An unaliased select item as written: from its first token to the next item separator."""
    if ctx.token_index is None:
        ctx.token_index = {tok.start: i for i, tok in enumerate(ctx.tokens)}
    i = ctx.token_index.get(start)
    if i is None:
        return expr.sql(ctx.dialect)
    tokens = ctx.tokens
    depth = 0
    j = i
    while j < len(tokens):
        kind = tokens[j].token_type
        if kind in OPENERS:
            depth += 1
        elif kind in CLOSERS:
            depth -= 1
            if depth < 0:
                break
        elif depth == 0 and kind in ITEM_END and j > i:
            break
        j += 1
    end = tokens[max(j - 1, i)].end
    return ctx.sql[start : end + 1]


def _function_name(expr: exp.Expr, dialect: str) -> str:
    if isinstance(expr, exp.Anonymous):
        return str(expr.name).lower()
    sql = expr.sql(dialect)
    return sql.split("(", 1)[0].strip().lower()


_PG_TYPE_NAMES = {
    "int": "int4",
    "integer": "int4",
    "bigint": "int8",
    "smallint": "int2",
    "boolean": "bool",
    "real": "float4",
    "double precision": "float8",
    "float": "float8",
    "decimal": "numeric",
    "character varying": "varchar",
    "char": "bpchar",
    "character": "bpchar",
    "timestamptz": "timestamptz",
    "timestamp with time zone": "timestamptz",
    "time with time zone": "timetz",
}


def _postgres_name(expr: exp.Expr) -> str | None:
    """PostgreSQL's FigureColname: a column's name, a function's name, `case`, else nothing."""
    if isinstance(expr, exp.Column):
        return expr.name.lower() if not expr.this.quoted else expr.name
    if isinstance(expr, (exp.Cast, exp.TryCast)):
        # A cast takes its operand's name, else the type's internal name (`'x'::int` → int4).
        inner = _postgres_name(expr.this)
        if inner:
            return inner
        written = expr.to.sql("postgres").lower().split("(", 1)[0].strip()
        return _PG_TYPE_NAMES.get(written, written.rsplit(".", 1)[-1]) or None
    if isinstance(expr, (exp.Paren, exp.Window)):
        return _postgres_name(expr.this)
    if isinstance(expr, exp.Case):
        return "case"
    if isinstance(expr, exp.Exists):
        return "exists"
    if isinstance(expr, exp.Array):
        return "array"
    if isinstance(expr, exp.Subquery):
        inner = expr.unnest()
        if isinstance(inner, exp.Select) and inner.expressions:
            first = inner.expressions[0]
            if isinstance(first, exp.Alias):
                return first.alias
            return _postgres_name(first)
        return None
    if isinstance(expr, exp.Func):
        return _function_name(expr, "postgres") or None
    return None


def invented_name(expr: exp.Expr, dialect: str, anonymous: int, text: str) -> str:
    """The name a warehouse gives an expression selected without an alias."""
    if dialect in ("postgres", "redshift"):
        return _postgres_name(expr) or "?column?"
    if dialect == "bigquery":
        return f"f{anonymous}_"
    if dialect == "snowflake":
        return " ".join(text.split()).upper()
    if dialect == "tsql":
        return ""
    return " ".join(text.split())


def _check_duplicates(ctx: Context, cols: Iterable[Col]) -> None:
    seen: dict[str, Col] = {}
    for col in cols:
        if col.star or col.unnamed:
            continue
        key = comparison_key(col.name, ctx.dialect)
        if key in seen:
            line, column = ctx.index.position(seen[key].offset)
            ctx.add(
                "sql.duplicate_column",
                ERROR,
                f"the output column '{col.name}' appears twice (first at line {line}, column {column})",
                col.offset,
                "give one of them a different alias",
            )
        else:
            seen[key] = col


_TYPE_SQL: dict[tuple[object, str], str] = {}


def _type_key(dtype: exp.DataType) -> tuple[object, ...] | None:
    """A cache key for types whose only parameters are literals (`DECIMAL(12, 2)`)."""
    if any(dtype.args.get(arg) for arg in dtype.args if arg not in ("this", "expressions")):
        return None
    params: list[object] = [dtype.this]
    for param in dtype.expressions:
        inner = param.this if isinstance(param, exp.DataTypeParam) else None
        if not isinstance(inner, exp.Literal) or param.args.get("expression") is not None:
            return None
        params.append(inner.this)
    return tuple(params)


def type_name(dtype: exp.DataType | None, dialect: str) -> str | None:
    """A type as the dialect writes it, or None when sqlglot does not know it."""
    if dtype is None or dtype.this in (exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL):
        return None
    # Generating a type's SQL copies it; types repeat a lot, so remember the few there are.
    key = _type_key(dtype)
    if key is None:
        return dtype.sql(dialect)
    found = _TYPE_SQL.get((key, dialect))
    if found is None:
        if len(_TYPE_SQL) > 4096:
            _TYPE_SQL.clear()
        found = _TYPE_SQL[(key, dialect)] = dtype.sql(dialect)
    return found


def annotate_literals(ctx: Context, stmt: exp.Expr, cols: list[Col]) -> None:
    """Types known without a schema: literals, casts and functions of them.

    Each output expression is annotated on its own: without a schema the rest of the tree
    cannot add anything, and annotating it all would cost as much as parsing.
    """
    from sqlglot.optimizer.annotate_types import annotate_types

    for col in cols:
        if col.star or isinstance(col.expr, exp.Values):
            continue
        expr = col.expr.unalias() if isinstance(col.expr, exp.Alias) else col.expr
        if isinstance(expr, exp.Column):
            continue
        try:
            col.type = type_name(annotate_types(expr, dialect=ctx.dialect).type, ctx.dialect)
        except Exception:  # typing is a bonus; a sqlglot failure here must not hide the analysis
            col.type = None

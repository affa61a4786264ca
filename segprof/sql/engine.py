"""The sqlglot side of `analyze_query`: tokenize, parse, read-only check, output columns.

Owns turning sqlglot's tokens, trees and exceptions into positioned `SqlProblem`s and
`OutputColumn`s. Must never let a sqlglot exception escape (bad SQL is a problem, and a
sqlglot failure on valid SQL is a warning), and never print (sqlglot's own log is muted).
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from segprof.sql.analyze import ERROR, WARNING, Context, OutputColumn
from segprof.sql.dialects import comparison_key, result_name

if TYPE_CHECKING:
    from collections.abc import Iterable

# sqlglot logs "falling back to parsing as a Command" and similar to stderr; problems are ours to report.
logging.getLogger("sqlglot").setLevel(logging.CRITICAL)

_WAREHOUSE = {
    "duckdb": "DuckDB",
    "postgres": "PostgreSQL",
    "snowflake": "Snowflake",
    "bigquery": "BigQuery",
    "redshift": "Redshift",
    "databricks": "Databricks",
    "tsql": "SQL Server",
}

_DML_KEYWORDS = {
    exp.Insert: TokenType.INSERT,
    exp.Update: TokenType.UPDATE,
    exp.Delete: TokenType.DELETE,
    exp.Merge: TokenType.MERGE,
}


@cache
def _dialect(name: str) -> Dialect:
    return Dialect.get_or_raise(name)


def run(ctx: Context, schema: dict[str, dict[str, str]] | None) -> tuple[list[OutputColumn], bool, list[str]]:
    """Analyse `ctx.sql`; problems go to `ctx`, the result is (columns, has_star, tables)."""
    stmt = _parse(ctx)
    if stmt is None:
        return [], False, []
    if not _check_read_only(ctx, stmt):
        return [], False, []
    tables = tables_read(stmt, ctx.dialect, ctx.sql)
    top = _top_select(stmt)
    columns = _output_columns(ctx, top)
    has_star = any(c.star for c in columns)
    if schema is not None:
        from segprof.sql import schema_check

        typed = schema_check.check(ctx, stmt, columns, schema)
        if typed is not None:
            return typed, has_star, tables
    else:
        for col in columns:
            if col.star:
                ctx.add(
                    "sql.star",
                    WARNING,
                    f"'{col.text}' selects columns that are unknown offline",
                    col.offset,
                    "list the columns, or give a schema snapshot so they can be expanded",
                )
        _annotate_literals(ctx, stmt, columns)
    return [OutputColumn(c.name, c.type) for c in columns if not c.star], has_star, tables


# --- parsing -----------------------------------------------------------------------------------


def _parse(ctx: Context) -> exp.Expr | None:
    dialect = _dialect(ctx.dialect)
    tokenizer = dialect.tokenizer()
    try:
        tokens = tokenizer.tokenize(ctx.sql)
    except TokenError as err:
        _token_error(ctx, tokenizer, err)
        return None
    ctx.tokens = tokens
    if all(t.token_type == TokenType.SEMICOLON for t in tokens):
        offset = tokens[0].start if tokens else len(ctx.sql) - len(ctx.sql.lstrip())
        ctx.add("sql.empty", ERROR, "the query is empty", offset, "write one SELECT statement")
        return None
    _check_statements(ctx, tokens)
    # A context as long as the text makes `start_context` the whole text before the token, so its
    # length is the token's exact offset (sqlglot's own `col` is the token's last character).
    parser = dialect.parser(
        error_level=ErrorLevel.RAISE, error_message_context=len(ctx.sql) + 1, max_errors=5
    )
    try:
        statements = parser.parse(tokens, ctx.sql)
    except ParseError as err:
        _parse_errors(ctx, err)
        return None
    except Exception as err:  # sqlglot bug on odd input: still a positioned problem, no traceback
        ctx.add("sql.parse", ERROR, f"cannot parse the query: {type(err).__name__}: {err}", tokens[0].start)
        return None
    return next((s for s in statements if s is not None), None)


_REQUIRED = re.compile(r"Required keyword: '(\w+)' missing for <class '[\w.]*?(\w+)'>")
_TOKEN_REPR = re.compile(r"<Token token_type: TokenType\.(\w+), text: (.*?), line: \d+, col: \d+.*?>")
_CLAUSES = {"Where", "Group", "Having", "Order", "From", "Join", "Limit", "Offset", "Qualify", "With"}


def _token_repr(match: re.Match[str]) -> str:
    if match.group(1) == "SENTINEL":
        return "the end of the query"
    return f"'{match.group(2)}'"


def _describe(description: str) -> str:
    """sqlglot's description in plain words (no class names, no token reprs)."""
    match = _REQUIRED.search(description)
    if match:
        node = match.group(2)
        if node in _CLAUSES:
            return f"{node.upper()} has nothing after it"
        return "incomplete expression"
    if description.startswith("Invalid expression / Unexpected token"):
        return "unexpected token"
    description = _TOKEN_REPR.sub(_token_repr, description)
    return description[:1].lower() + description[1:]


def _parse_errors(ctx: Context, err: ParseError) -> None:
    found: dict[int, tuple[list[str], str]] = {}
    for info in err.errors or [{}]:
        start_context = info.get("start_context")
        if isinstance(start_context, str):
            offset = len(start_context)
        else:
            # No structured offset: fall back to sqlglot's line/col (the token's last character).
            line, col = int(info.get("line") or 1), int(info.get("col") or 1)
            offset = ctx.index.offset(line, col)
        highlight = str(info.get("highlight") or "")
        what = _describe(str(info.get("description") or "syntax error"))
        near = f" at '{highlight}'" if highlight.strip() else " at the end of the query"
        whats, _ = found.setdefault(offset, ([], near))
        if what not in whats:
            whats.append(what)
    for offset, (whats, near) in found.items():
        ctx.add("sql.parse", ERROR, f"syntax error: {'; '.join(whats)}{near}", offset)


def _token_error(ctx: Context, tokenizer: object, err: TokenError) -> None:
    core = getattr(tokenizer, "_core", tokenizer)
    start = getattr(core, "_start", None)
    if not isinstance(start, int) or not 0 <= start <= len(ctx.sql):
        # sqlglot only gives the window quoted in its message; its middle is where scanning stopped.
        start = min(len(ctx.sql), ((err.start or 0) + (err.end or 0) + 1) // 2)
    inner = str(err.__context__ or err)
    rest = ctx.sql[start:]
    identifiers = getattr(_dialect(ctx.dialect).tokenizer_class, "IDENTIFIERS", ())
    if rest.startswith("/*"):
        what = "unterminated comment"
    elif rest[:1] and any(rest.startswith(str(q)) for q in identifiers):
        what = f"unterminated quoted identifier (no closing match for {rest[:1]})"
    elif inner.startswith("Missing "):
        delim = inner.split()[1]
        what = f"unterminated string (no closing {delim})"
    else:
        what = re.sub(r" from \d+:\d+$", "", inner) or "cannot read the SQL"
    ctx.add("sql.parse", ERROR, f"syntax error: {what}", start)


def _check_statements(ctx: Context, tokens: list[Token]) -> None:
    starts: list[int] = []
    semicolons: list[int] = []
    after_semicolon = True
    for i, tok in enumerate(tokens):
        if tok.token_type == TokenType.SEMICOLON:
            semicolons.append(i)
            after_semicolon = True
        elif after_semicolon:
            starts.append(i)
            after_semicolon = False
    if len(starts) > 1:
        ctx.add(
            "sql.multiple_statements",
            ERROR,
            f"the query holds {len(starts)} statements; a model is exactly one SELECT",
            tokens[starts[1]].start,
            "keep one statement; Segment runs the model as a single query",
        )
    elif semicolons:
        ctx.add(
            "sql.trailing_semicolon",
            ERROR,
            "the query contains ';'",
            tokens[semicolons[0]].start,
            "remove the ';': Segment wraps the query in a CTE, where a ';' is a syntax error",
        )


# --- read-only check ---------------------------------------------------------------------------


def _statement_kind(stmt: exp.Expr) -> str:
    if isinstance(stmt, exp.Command):
        return str(stmt.this).upper()
    return re.sub(r"(?<!^)(?=[A-Z])", " ", type(stmt).__name__).upper()


def _check_read_only(ctx: Context, stmt: exp.Expr) -> bool:
    first = _first_statement_token(ctx)
    node = stmt.unnest() if isinstance(stmt, exp.Subquery) else stmt
    if not isinstance(node, (exp.Query, exp.Values)):
        ctx.add(
            "sql.not_select",
            ERROR,
            f"a model must be a read-only query (SELECT …); this statement is {_statement_kind(stmt)}",
            first,
            "write a SELECT (or WITH … SELECT) that returns the records to sync",
        )
        return False
    ok = True
    for kind, keyword in _DML_KEYWORDS.items():
        for dml in stmt.find_all(kind):
            ctx.add(
                "sql.not_select",
                ERROR,
                f"a model must be read-only; this query runs {kind.__name__.upper()}",
                _keyword_before(ctx, dml, {keyword}, first),
            )
            ok = False
    for select in stmt.find_all(exp.Select):
        into = select.args.get("into")
        if into is not None:
            ctx.add(
                "sql.not_select",
                ERROR,
                "SELECT … INTO creates a table; a model must be read-only",
                _keyword_before(ctx, into, {TokenType.INTO}, first),
                "remove the INTO clause",
            )
            ok = False
    return ok


def _first_statement_token(ctx: Context) -> int:
    for tok in ctx.tokens:
        if tok.token_type != TokenType.SEMICOLON:
            return tok.start
    return 0


def node_start(node: exp.Expr) -> int | None:
    """Offset of the first positioned token inside `node` (sqlglot positions leaves, not all nodes)."""
    best: int | None = None
    for sub in node.walk():
        meta = sub._meta
        if meta:
            start = meta.get("start")
            if isinstance(start, int) and (best is None or start < best):
                best = start
    return best


def _keyword_before(ctx: Context, node: exp.Expr, keywords: set[TokenType], default: int) -> int:
    """The keyword token that opens `node` (DML nodes carry no position; their first leaf does)."""
    inner = node_start(node)
    if inner is None:
        return default
    found = default
    for tok in ctx.tokens:
        if tok.start > inner:
            break
        if tok.token_type in keywords:
            found = tok.start
    return found


# --- output columns ----------------------------------------------------------------------------


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


def _top_select(stmt: exp.Expr) -> exp.Expr:
    node = stmt
    while True:
        if isinstance(node, exp.Subquery):
            node = node.this
        elif isinstance(node, exp.SetOperation):
            node = node.this  # the first branch names the columns
        else:
            return node


def _is_star(expr: exp.Expr) -> bool:
    return isinstance(expr, exp.Star) or (isinstance(expr, exp.Column) and isinstance(expr.this, exp.Star))


def _output_columns(ctx: Context, top: exp.Expr) -> list[Col]:
    dialect = ctx.dialect
    cols: list[Col] = []
    if isinstance(top, exp.Values):
        return _values_columns(ctx, top)
    if not isinstance(top, exp.Select):
        return cols
    anonymous = 0
    for expr in top.expressions:
        offset = node_start(expr)
        if offset is None:
            offset = _first_statement_token(ctx)
        if _is_star(expr):
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


def _values_columns(ctx: Context, values: exp.Values) -> list[Col]:
    first = values.expressions[0] if values.expressions else None
    width = len(first.expressions) if isinstance(first, exp.Tuple) else (1 if first is not None else 0)
    offset = _first_statement_token(ctx)
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
    """The expression as written (leaves carry positions; closing brackets are found by counting)."""
    end = -1
    for sub in expr.walk():
        meta = sub._meta
        if meta:
            e = meta.get("end")
            if isinstance(e, int) and e > end:
                end = e
    if end < start:
        return expr.sql(ctx.dialect)
    text = ctx.sql[start : end + 1]
    depth = text.count("(") - text.count(")")
    if depth == 0 and "(" not in text and isinstance(expr, exp.Func):
        # A call without arguments (`getdate()`): its brackets carry no position.
        following = next((t for t in ctx.tokens if t.start > end), None)
        if following is not None and following.token_type == TokenType.L_PAREN:
            end = following.end
            depth = 1
    if depth > 0:
        for tok in ctx.tokens:
            if tok.start <= end:
                continue
            if tok.token_type == TokenType.R_PAREN:
                depth -= 1
                end = tok.end
                if depth == 0:
                    break
            elif tok.token_type == TokenType.L_PAREN:
                depth += 1
        text = ctx.sql[start : end + 1]
    return text


def _function_name(expr: exp.Expr, dialect: str) -> str:
    if isinstance(expr, exp.Anonymous):
        return str(expr.name).lower()
    sql = expr.sql(dialect)
    return sql.split("(", 1)[0].strip().lower()


def _postgres_name(expr: exp.Expr) -> str | None:
    """PostgreSQL's FigureColname: a column's name, a function's name, `case`, else nothing."""
    if isinstance(expr, exp.Column):
        return expr.name.lower() if not expr.this.quoted else expr.name
    if isinstance(expr, (exp.Cast, exp.TryCast)):
        return _postgres_name(expr.this)
    if isinstance(expr, exp.Paren):
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
            return first.alias_or_name or None
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


def check_duplicates(ctx: Context, cols: Iterable[Col]) -> None:
    _check_duplicates(ctx, cols)


# --- tables and types --------------------------------------------------------------------------


def cte_names(stmt: exp.Expr) -> set[str]:
    return {cte.alias_or_name.lower() for cte in stmt.find_all(exp.CTE)}


def real_tables(stmt: exp.Expr) -> list[exp.Table]:
    """Tables read from the warehouse: not CTE references, not table functions."""
    ctes = cte_names(stmt)
    found = []
    for table in stmt.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue
        if not table.args.get("db") and table.name.lower() in ctes:
            continue
        found.append(table)
    return found


def table_text(table: exp.Table, dialect: str, sql: str | None = None) -> str:
    """The table's name as written (quotes kept, alias dropped)."""
    if sql is not None:
        starts, ends = [], []
        for part in table.parts:
            meta = part._meta
            if meta and isinstance(meta.get("start"), int) and isinstance(meta.get("end"), int):
                starts.append(meta["start"])
                ends.append(meta["end"])
        if starts and len(starts) == len(table.parts):
            text = sql[min(starts) : max(ends) + 1]
            if text.strip() and "\n" not in text:
                return text
    return ".".join(part.sql(dialect) for part in table.parts)


def tables_read(stmt: exp.Expr, dialect: str, sql: str | None = None) -> list[str]:
    seen: dict[str, None] = {}
    for table in real_tables(stmt):
        seen.setdefault(table_text(table, dialect, sql), None)
    return list(seen)


def type_name(dtype: exp.DataType | None, dialect: str) -> str | None:
    if dtype is None or dtype.this in (exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL):
        return None
    return dtype.sql(dialect)


def _annotate_literals(ctx: Context, stmt: exp.Expr, cols: list[Col]) -> None:
    """Types known without a schema: literals, casts and functions of them."""
    if not cols or isinstance(_top_select(stmt), exp.Values):
        return
    try:
        from sqlglot.optimizer.annotate_types import annotate_types

        annotated = annotate_types(stmt, dialect=ctx.dialect)
    except Exception:  # typing is a bonus; a sqlglot failure here must not hide the analysis
        return
    selects = _top_select(annotated)
    if not isinstance(selects, exp.Select):
        return
    exprs = [e for e in selects.expressions]
    if len(exprs) != len(cols):
        return
    for col, expr in zip(cols, exprs, strict=True):
        if not col.star:
            col.type = type_name(expr.type, ctx.dialect)

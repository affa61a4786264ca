"""The sqlglot side of `analyze_query`: tokenize, parse, read-only check, output columns.

Owns turning sqlglot's tokens, trees and exceptions into positioned `SqlProblem`s and
`OutputColumn`s. Must never let a sqlglot exception escape (bad SQL is a problem, and a
sqlglot failure on valid SQL is a warning), and never print (sqlglot's own log is muted).
"""

from __future__ import annotations

import contextlib
import logging
import re
from functools import cache
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from segprof.sql.analyze import ERROR, WARNING, Context, OutputColumn
from segprof.sql.dialects import CASE_PRESERVING, comparison_key, result_name

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
    facts = Facts(stmt, ctx.dialect)
    if isinstance(stmt, exp.Pivot) and ctx.dialect == "duckdb":
        # DuckDB's statement-level PIVOT is a query whose columns come from the data itself.
        ctx.add(
            "sql.star",
            WARNING,
            "PIVOT makes one column per distinct value; its columns are unknown offline",
            _first_statement_token(ctx),
            "list the pivoted values (PIVOT … ON col IN (…)) or select from the pivot with named columns",
        )
        return [], True, tables_read(facts, ctx.dialect, ctx.sql)
    if not _check_read_only(ctx, stmt, facts):
        return [], False, []
    tables = tables_read(facts, ctx.dialect, ctx.sql)
    top = _top_select(stmt)
    columns = _output_columns(ctx, top)
    has_star = any(c.star for c in columns)
    if schema is not None:
        from segprof.sql import schema_check

        typed = schema_check.check(ctx, stmt, facts, columns, schema)
        if typed is not None:
            return typed, has_star, tables
    else:
        if has_star:
            expanded = _expand_stars_offline(ctx, stmt, columns)
            if expanded is not None:
                return expanded, has_star, tables
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


def _check_read_only(ctx: Context, stmt: exp.Expr, facts: Facts) -> bool:
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
    for dml in facts.dml:
        ctx.add(
            "sql.not_select",
            ERROR,
            f"a model must be read-only; this query runs {type(dml).__name__.upper()}",
            _keyword_before(ctx, dml, {_DML_KEYWORDS[type(dml)]}, first),
        )
    for into in facts.into:
        ctx.add(
            "sql.not_select",
            ERROR,
            "SELECT … INTO creates a table; a model must be read-only",
            _keyword_before(ctx, into, {TokenType.INTO}, first),
            "remove the INTO clause",
        )
    return not facts.dml and not facts.into


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
    starts = _select_list_starts(ctx, len(top.expressions))
    for index, expr in enumerate(top.expressions):
        offset = starts[index] if starts else item_start(ctx, expr)
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


def _select_list_starts(ctx: Context, expected: int) -> list[int] | None:
    """Where each item of the outermost select list starts, read from the tokens.

    Items without any positioned leaf (`current_date`) are found this way; None when the token
    reading disagrees with the parsed tree, and positions then come from the tree's leaves.
    """
    tokens = ctx.tokens
    # The outermost SELECT is the first one after any CTE bodies (with a UNION, the first branch
    # names the columns even when it is bracketed).
    i = _skip_with(tokens, 0)
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
                i = _skip_brackets(tokens, i)
        elif kind == TokenType.TOP:
            i += 1
            i = _skip_brackets(tokens, i) if i < n and tokens[i].token_type in _OPENERS else i + 1
        else:
            break
    starts: list[int] = []
    depth = 0
    expecting = True
    while i < n:
        tok = tokens[i]
        kind = tok.token_type
        if depth == 0 and kind in _ITEM_END and kind != TokenType.COMMA:
            break
        if expecting:
            starts.append(tok.start)
            expecting = False
        if kind in _OPENERS:
            depth += 1
        elif kind in _CLOSERS:
            depth -= 1
            if depth < 0:
                break
        elif kind == TokenType.COMMA and depth == 0:
            expecting = True
        i += 1
    return starts if len(starts) == expected else None


def _skip_with(tokens: list[Token], i: int) -> int:
    """Index of the first token after a leading `WITH name AS (…), …` clause."""
    n = len(tokens)
    while i < n and tokens[i].token_type == TokenType.L_PAREN:
        i += 1
    if i >= n or tokens[i].token_type != TokenType.WITH:
        return i
    i += 1
    while i < n:
        # name [(columns)] AS [NOT] [MATERIALIZED] (body) — skip to the body and past it.
        while i < n and tokens[i].token_type not in _OPENERS:
            i += 1
        i = _skip_brackets(tokens, i)
        if i < n and tokens[i].token_type == TokenType.ALIAS:
            continue  # that bracket was the column list; the body follows
        if i < n and tokens[i].token_type == TokenType.COMMA:
            i += 1
            continue
        return i
    return i


def _skip_brackets(tokens: list[Token], i: int) -> int:
    """Index after the bracketed group that starts at `i` (or `i` if none starts there)."""
    if i >= len(tokens) or tokens[i].token_type not in _OPENERS:
        return i
    depth = 0
    while i < len(tokens):
        kind = tokens[i].token_type
        if kind in _OPENERS:
            depth += 1
        elif kind in _CLOSERS:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


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


_ITEM_END = frozenset(
    {
        TokenType.COMMA,
        TokenType.FROM,
        TokenType.INTO,
        TokenType.WHERE,
        TokenType.GROUP_BY,
        TokenType.ORDER_BY,
        TokenType.HAVING,
        TokenType.QUALIFY,
        TokenType.WINDOW,
        TokenType.LIMIT,
        TokenType.OFFSET,
        TokenType.FETCH,
        TokenType.UNION,
        TokenType.EXCEPT,
        TokenType.INTERSECT,
        TokenType.SEMICOLON,
    }
)
_OPENERS = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})
_CLOSERS = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})


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
        if kind in _OPENERS:
            depth += 1
        elif kind in _CLOSERS:
            depth -= 1
            if depth < 0:
                break
        elif depth == 0 and kind in _ITEM_END and j > i:
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


def check_duplicates(ctx: Context, cols: Iterable[Col]) -> None:
    _check_duplicates(ctx, cols)


# --- tables and types --------------------------------------------------------------------------


_FACT_KINDS: tuple[type, ...] = (
    exp.Table,
    exp.CTE,
    exp.Select,
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Unnest,
    exp.Lateral,
    exp.Flatten,
    exp.Explode,
    exp.JSONExtract,
    exp.JSONExtractScalar,
)


class Facts:
    """What one walk over the tree finds: tables, CTE names, writes, and constructs of note."""

    __slots__ = ("ctes", "dml", "into", "kinds", "quoted_lower", "quoted_table_part", "tables")

    def __init__(self, stmt: exp.Expr, dialect: str) -> None:
        self.ctes: set[str] = set()
        self.dml: list[exp.Expr] = []
        self.into: list[exp.Expr] = []
        self.kinds: set[type] = set()
        self.quoted_lower = False
        self.quoted_table_part = False
        candidates: list[exp.Table] = []
        # find_all filters in compiled code; only column references need a Python-level look,
        # and only where quoting changes how sqlglot resolves them.
        wanted = (*_FACT_KINDS, exp.Column) if dialect == "snowflake" else _FACT_KINDS
        for node in stmt.find_all(*wanted):
            kind = type(node)
            self.kinds.add(kind)
            if kind is exp.Table:
                if isinstance(node.this, exp.Identifier):
                    candidates.append(node)
                    if any(p.quoted for p in node.parts):
                        self.quoted_table_part = True
                        if any(p.name != p.name.upper() for p in node.parts if p.quoted):
                            self.quoted_lower = True
            elif kind is exp.Column:
                # Only references matter here: a quoted lower-case alias is resolved fine.
                for part in node.parts:
                    if isinstance(part, exp.Identifier) and part.quoted and part.name != part.name.upper():
                        self.quoted_lower = True
            elif kind is exp.CTE:
                self.ctes.add(node.alias_or_name.lower())
            elif kind in _DML_KEYWORDS:
                self.dml.append(node)
            elif kind is exp.Select and node.args.get("into") is not None:
                self.into.append(node.args["into"])
        # Tables read from the warehouse: not CTE references (table functions were skipped above).
        self.tables = [t for t in candidates if t.args.get("db") or t.name.lower() not in self.ctes]

    def has(self, *kinds: type) -> bool:
        return any(k in self.kinds for k in kinds)


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


def tables_read(facts: Facts, dialect: str, sql: str | None = None) -> list[str]:
    """Tables read, in the order they appear in the text, each once."""
    found = sorted(facts.tables, key=lambda t: node_start(t) or 0)
    seen: dict[str, None] = {}
    for table in found:
        seen.setdefault(table_text(table, dialect, sql), None)
    return list(seen)


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


def alias_spellings(stmt: exp.Expr) -> dict[str, str]:
    """Folded → written names of every alias in the query (aliases name result columns)."""
    found: dict[str, str] = {}
    for alias in stmt.find_all(exp.Alias):
        ident = alias.args.get("alias")
        if isinstance(ident, exp.Identifier):
            found.setdefault(ident.name.lower(), ident.name)
    return found


def _expand_stars_offline(ctx: Context, stmt: exp.Expr, cols: list[Col]) -> list[OutputColumn] | None:
    """Expand `*` without a schema when every source it covers is a CTE or subquery of the query.

    `with final as (…) select * from final` is common, and its columns are known offline.
    None when a star reads a warehouse table (then its columns really are unknown).
    """
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.schema import MappingSchema

    from segprof.sql.schema_check import typed_columns

    dialect = ctx.dialect
    spelled: dict[str, str] = {}
    if dialect in CASE_PRESERVING:
        # Qualification folds names; these warehouses return them as written.
        for ident in stmt.find_all(exp.Identifier):
            spelled.setdefault(ident.name.lower(), ident.name)
        spelled.update(alias_spellings(stmt))
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
    top = _top_select(qualified)
    if not isinstance(top, exp.Select) or any(_is_star(e) for e in top.expressions):
        return None
    with contextlib.suppress(Exception):  # types are a bonus
        annotate_types(qualified, dialect=dialect)
    return typed_columns(ctx, qualified, cols, spelled)


def _annotate_literals(ctx: Context, stmt: exp.Expr, cols: list[Col]) -> None:
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

"""Tokenizing and parsing one model query with sqlglot, and the statement-level checks.

Owns turning sqlglot's tokenizer and parser failures into positioned `sql.parse` problems
(offsets from the structured `ParseError.errors`, never from the ANSI-highlighted message),
and the empty / several statements / stray `;` checks. Must never let a sqlglot exception
escape and never print: sqlglot's own log is muted here.
"""

from __future__ import annotations

import logging
import re
from functools import cache

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from segprof.sql.problems import ERROR, Context

# sqlglot logs "falling back to parsing as a Command" and similar to stderr; problems are ours to report.
logging.getLogger("sqlglot").setLevel(logging.CRITICAL)


@cache
def dialect_object(name: str) -> Dialect:
    """sqlglot's dialect instance for a name (built once; `get_or_raise` makes a new one each call)."""
    return Dialect.get_or_raise(name)


def parse(ctx: Context) -> exp.Expr | None:
    """The first statement of `ctx.sql`, or None after reporting why there is none to analyse."""
    dialect = dialect_object(ctx.dialect)
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
    if _check_list_commas(ctx, tokens):
        return None
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
    except RecursionError:
        ctx.add("sql.parse", ERROR, "the query nests too deeply to be parsed", tokens[0].start)
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
        highlight = " ".join(str(info.get("highlight") or "").split())
        if len(highlight) > 40:
            highlight = highlight[:39] + "…"
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
    identifiers = getattr(dialect_object(ctx.dialect).tokenizer_class, "IDENTIFIERS", ())
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
    """Exactly one statement and no `;` (Segment wraps the query in a CTE)."""
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


#: Dialects whose warehouses accept a trailing comma at the end of a select list (`SELECT a, b, FROM t`).
_TRAILING_COMMA_OK = frozenset({"duckdb", "bigquery", "snowflake"})
_OPENERS = frozenset({TokenType.L_PAREN, TokenType.SELECT, TokenType.DISTINCT, TokenType.COMMA})
_CLOSERS = frozenset({TokenType.R_PAREN, TokenType.FROM})


def _trailing_comma_ok(dialect: str, closer: TokenType) -> bool:
    # DuckDB's friendlier SQL accepts a trailing comma in any list.
    return dialect == "duckdb" or (closer == TokenType.FROM and dialect in _TRAILING_COMMA_OK)


def _check_list_commas(ctx: Context, tokens: list[Token]) -> bool:
    """Empty list items sqlglot skips silently but warehouses refuse (`SELECT a,, b`, `f(, x)`,
    `SELECT , a`; a trailing `a, FROM` where the dialect does not allow it). True if any."""
    found = False
    for i, tok in enumerate(tokens):
        if tok.token_type != TokenType.COMMA:
            continue
        before = tokens[i - 1].token_type if i > 0 else None
        after = tokens[i + 1].token_type if i + 1 < len(tokens) else None
        if before in _OPENERS or before is None:
            problem = "an empty item before this ','"
        elif (
            after is None
            or after == TokenType.SEMICOLON
            or (after in _CLOSERS and not _trailing_comma_ok(ctx.dialect, after))
        ):
            problem = "a ',' with nothing after it"
        else:
            continue
        ctx.add("sql.parse", ERROR, f"syntax error: {problem}", tok.start, "remove the extra ','")
        found = True
    return found


def first_statement_token(ctx: Context) -> int:
    """Offset of the statement's first token (where statement-level problems point)."""
    for tok in ctx.tokens:
        if tok.token_type != TokenType.SEMICOLON:
            return tok.start
    return 0


ITEM_END = frozenset(
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


OPENERS = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})


CLOSERS = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})


def skip_with(tokens: list[Token], i: int) -> int:
    """Index of the first token after a leading `WITH name AS (…), …` clause."""
    n = len(tokens)
    while i < n and tokens[i].token_type == TokenType.L_PAREN:
        i += 1
    if i >= n or tokens[i].token_type != TokenType.WITH:
        return i
    i += 1
    while i < n:
        # name [(columns)] AS [NOT] [MATERIALIZED] (body) — skip to the body and past it.
        while i < n and tokens[i].token_type not in OPENERS:
            i += 1
        i = skip_brackets(tokens, i)
        if i < n and tokens[i].token_type == TokenType.ALIAS:
            continue  # that bracket was the column list; the body follows
        if i < n and tokens[i].token_type == TokenType.COMMA:
            i += 1
            continue
        return i
    return i


def skip_brackets(tokens: list[Token], i: int) -> int:
    """Index after the bracketed group that starts at `i` (or `i` if none starts there)."""
    if i >= len(tokens) or tokens[i].token_type not in OPENERS:
        return i
    depth = 0
    while i < len(tokens):
        kind = tokens[i].token_type
        if kind in OPENERS:
            depth += 1
        elif kind in CLOSERS:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i

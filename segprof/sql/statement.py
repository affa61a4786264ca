"""What a parsed statement is: read-only or not, which tables it reads, constructs of note.

Owns the read-only rule (queries only; no DML, DDL, commands, data-modifying CTEs or
SELECT … INTO) and the one walk over the tree that collects tables and CTE names. Must never
look at output columns or at a schema.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.tokens import TokenType

from segprof.sql.dialects import CASE_PRESERVING
from segprof.sql.parsing import first_statement_token
from segprof.sql.problems import ERROR, Context

DML_KEYWORDS = {
    exp.Insert: TokenType.INSERT,
    exp.Update: TokenType.UPDATE,
    exp.Delete: TokenType.DELETE,
    exp.Merge: TokenType.MERGE,
}


def _statement_kind(stmt: exp.Expr) -> str:
    if isinstance(stmt, exp.Command):
        return str(stmt.this).upper()
    return re.sub(r"(?<!^)(?=[A-Z])", " ", type(stmt).__name__).upper()


def check_read_only(ctx: Context, stmt: exp.Expr, facts: Facts) -> bool:
    """Report what makes the statement not a read-only query; True when it is one."""
    first = first_statement_token(ctx)
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
            _keyword_before(ctx, dml, {DML_KEYWORDS[type(dml)]}, first),
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

    __slots__ = ("aliases", "ctes", "dml", "into", "kinds", "quoted_lower", "quoted_table_part", "tables")

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
        # Case-preserving warehouses return aliases as written; qualification will fold them.
        self.aliases: dict[str, str] = {}
        if dialect in CASE_PRESERVING:
            wanted = (*wanted, exp.Alias)
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
            elif kind is exp.Alias:
                ident = node.args.get("alias")
                if isinstance(ident, exp.Identifier):
                    self.aliases.setdefault(ident.name.lower(), ident.name)
            elif kind is exp.CTE:
                self.ctes.add(node.alias_or_name.lower())
            elif kind in DML_KEYWORDS:
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

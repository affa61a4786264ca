"""Offline analysis of one model query: parse, read-only check, output columns, schema checks.

Owns `analyze_query` and the values it returns (`QueryAnalysis`, `OutputColumn`, `SqlProblem`).
Every problem carries a 1-based (line, col) inside the SQL text; columns count characters, not
bytes (a tab or a multi-byte UTF-8 character is one column), and point at the first character
of the offending token. Must never raise for bad SQL (every failure becomes a problem), never
connect to a warehouse, and never import sqlglot before a query is analysed.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from segprof.sql.dialects import resolve_dialect
from segprof.sql.positions import LineIndex, position_of

if TYPE_CHECKING:
    from sqlglot.tokens import Token

# Segment's limit on a Reverse ETL model's query text.
MAX_QUERY_CHARS = 65_535

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class SqlProblem:
    """One finding about a query, positioned inside the SQL text."""

    code: str
    severity: str
    message: str
    line: int
    col: int
    hint: str | None = None


@dataclass(frozen=True)
class OutputColumn:
    """One column of the query's result set.

    Filled only by `analyze_query(..., origins=True)`, positions 1-based inside the SQL text:
    `line`/`col` where the outer select list names the column (None when it comes from a `*`),
    `defined_line`/`defined_col` the select item that gives it its value, followed through `*` and
    pass-through columns into CTEs and subqueries. `reads`
    are the column names that item reads (`first_name AS given_name` reads `first_name`) and `bare`
    says whether it is just a column: what a diagnostic needs to say where a mapped column went.
    None of these take part in equality.
    """

    name: str
    type: str | None
    line: int | None = field(default=None, compare=False)
    col: int | None = field(default=None, compare=False)
    defined_line: int | None = field(default=None, compare=False)
    defined_col: int | None = field(default=None, compare=False)
    reads: tuple[str, ...] = field(default=(), compare=False)
    bare: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class QueryAnalysis:
    """What offline analysis learnt about a query.

    `has_star`: the query selects `*` somewhere in its output; `complete`: every output column is
    known all the same (the star was expanded from CTEs, subqueries or a schema snapshot).
    """

    columns: list[OutputColumn]
    has_star: bool
    problems: list[SqlProblem]
    tables: list[str]
    complete: bool = True

    @property
    def ok(self) -> bool:
        """True when no problem is an error."""
        return not any(p.severity == ERROR for p in self.problems)


@dataclass
class Context:
    """Per-call state: the text, its line index, tokens and the problems found so far."""

    sql: str
    dialect: str
    index: LineIndex
    tokens: list[Token] = field(default_factory=list)
    problems: list[SqlProblem] = field(default_factory=list)
    token_index: dict[int, int] | None = None

    def add(self, code: str, severity: str, message: str, offset: int, hint: str | None = None) -> None:
        line, col = self.index.position(offset)
        self.problems.append(SqlProblem(code, severity, message, line, col, hint))


def analyze_query(
    sql: str, dialect: str, schema: dict[str, dict[str, str]] | None = None, *, origins: bool = False
) -> QueryAnalysis:
    """Analyse one model query written in `dialect` (a name from `dialect_for`; a source type works too).

    With `schema` (table → column → type; table names may be qualified, e.g. `analytics.users`;
    names are read as SQL identifiers, so unquoted names fold per dialect and `"Name"` keeps its
    case) tables and columns are checked, `*` is expanded and output types are inferred. With
    `origins`, each output column also says where it is named and defined (see `OutputColumn`):
    that makes validating a project about a sixth slower, so only diagnostics that explain a
    missing column ask for it.
    """
    dialect = resolve_dialect(dialect)
    if len(sql) > MAX_QUERY_CHARS:
        # Checked before any parsing so a huge text is refused in constant-ish time.
        line, col = position_of(sql, MAX_QUERY_CHARS)
        problem = SqlProblem(
            "sql.too_long",
            ERROR,
            f"the query is {len(sql):,} characters long; Segment accepts at most {MAX_QUERY_CHARS:,}",
            line,
            col,
            "move logic into a view in the warehouse and select from it",
        )
        return QueryAnalysis([], False, [problem], [])

    from segprof.sql import engine

    ctx = Context(sql, dialect, LineIndex(sql))
    # sqlglot trees are full of reference cycles (parent links); letting the collector run while
    # one is alive promotes it to older generations and costs ~20 % of the analysis. Collect
    # after the call instead, when the tree is garbage.
    collecting = gc.isenabled()
    gc.disable()
    try:
        columns, has_star, tables, complete = engine.run(ctx, schema, origins=origins)
    except Exception as err:  # a defect on odd input must not become a traceback for the user
        columns, has_star, tables, complete = [], False, [], False
        ctx.problems.append(
            SqlProblem(
                "sql.unchecked",
                WARNING,
                f"the query could not be analysed offline ({type(err).__name__}: {err})",
                1,
                1,
                "the warehouse will still check it when the model runs",
            )
        )
    finally:
        if collecting:
            gc.enable()
    problems = sorted(ctx.problems, key=lambda p: (p.line, p.col))
    return QueryAnalysis(columns, has_star, problems, tables, complete)

"""The values of query analysis: problems found, output columns, and the per-call context.

Owns `SqlProblem`, `OutputColumn`, `QueryAnalysis` and `Context`, which every step of the analysis
reads or fills. Must never import sqlglot at runtime nor any other module of `segprof.sql` but
`positions`: it is the leaf the steps share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from segprof.sql.positions import LineIndex

if TYPE_CHECKING:
    from sqlglot.tokens import Token

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

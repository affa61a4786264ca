"""Offline analysis of one model query: parse, read-only check, output columns, schema checks.

Owns `analyze_query`, the entry point of `segprof.sql` (its values live in `problems`).
Every problem carries a 1-based (line, col) inside the SQL text; columns count characters, not
bytes (a tab or a multi-byte UTF-8 character is one column), and point at the first character
of the offending token. Must never raise for bad SQL (every failure becomes a problem), never
connect to a warehouse, and never import sqlglot before a query is analysed.
"""

from __future__ import annotations

import gc

from segprof.sql import cache
from segprof.sql.dialects import resolve_dialect
from segprof.sql.positions import LineIndex, position_of
from segprof.sql.problems import ERROR, WARNING, Context, OutputColumn, QueryAnalysis, SqlProblem

__all__ = ["ERROR", "WARNING", "OutputColumn", "QueryAnalysis", "SqlProblem", "analyze_query"]

# Segment's limit on a Reverse ETL model's query text.
MAX_QUERY_CHARS = 65_535


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

    key = cache.cache_key(sql, dialect, schema, origins)
    cached = cache.load(key)
    if cached is not None:  # the same query, inputs and analyser: the same answer, without a parse
        return cached
    # Imported here, not above: the engine imports sqlglot, which commands that analyse no SQL
    # should not pay for at startup.
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
    analysis = QueryAnalysis(columns, has_star, problems, tables, complete)
    if not any(p.code == "sql.unchecked" for p in problems):  # a defect may be fixed by the next run
        cache.store(key, analysis)
    return analysis

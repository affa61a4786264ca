"""The sqlglot side of `analyze_query`: runs parsing, statement checks, outputs and schema checks.

Owns the order of the steps and what each one's failure stops. Must never let a sqlglot
exception escape (bad SQL is a problem; a sqlglot failure on valid SQL is a warning).
"""

from __future__ import annotations

from sqlglot import exp

from segprof.sql import schema_check
from segprof.sql.origins import with_origins
from segprof.sql.outputs import Col, annotate_literals, output_columns, top_select
from segprof.sql.parsing import first_statement_token, parse
from segprof.sql.problems import WARNING, Context, OutputColumn
from segprof.sql.schema_check import expand_stars_offline
from segprof.sql.statement import Facts, check_read_only, tables_read


def run(
    ctx: Context, schema: dict[str, dict[str, str]] | None, *, origins: bool = False
) -> tuple[list[OutputColumn], bool, list[str], bool]:
    """Analyse `ctx.sql`; problems go to `ctx`, the result is (columns, has_star, tables, complete).

    `complete` is False while a `*` remains whose columns are unknown offline."""
    stmt = parse(ctx)
    if stmt is None:
        return [], False, [], True
    facts = Facts(stmt, ctx.dialect)
    if isinstance(stmt, exp.Pivot) and ctx.dialect == "duckdb":
        # DuckDB's statement-level PIVOT is a query whose columns come from the data itself.
        ctx.add(
            "sql.star",
            WARNING,
            "PIVOT makes one column per distinct value; its columns are unknown offline",
            first_statement_token(ctx),
            "list the pivoted values (PIVOT … ON col IN (…)) or select from the pivot with named columns",
        )
        return [], True, tables_read(facts, ctx.dialect, ctx.sql), False
    if not check_read_only(ctx, stmt, facts):
        return [], False, [], True
    tables = tables_read(facts, ctx.dialect, ctx.sql)
    top = top_select(stmt)
    columns = output_columns(ctx, top)
    has_star = any(c.star for c in columns)
    if schema is not None:
        typed = schema_check.check(ctx, stmt, facts, columns, schema)
        if typed is not None:
            return _origins(ctx, typed, columns, stmt, origins), has_star, tables, True
    else:
        if has_star:
            expanded = expand_stars_offline(ctx, stmt, columns, facts.aliases)
            if expanded is not None:
                return _origins(ctx, expanded, columns, stmt, origins), has_star, tables, True
        for col in columns:
            if col.star:
                ctx.add(
                    "sql.star",
                    WARNING,
                    f"'{col.text}' selects columns that are unknown offline",
                    col.offset,
                    "list the columns, or give a schema snapshot so they can be expanded",
                )
        annotate_literals(ctx, stmt, columns)
    named = [OutputColumn(c.name, c.type) for c in columns if not c.star]
    return _origins(ctx, named, columns, stmt, origins), has_star, tables, not has_star


def _origins(
    ctx: Context, outputs: list[OutputColumn], columns: list[Col], stmt: exp.Expr, wanted: bool
) -> list[OutputColumn]:
    if not wanted:
        return outputs

    return with_origins(ctx, outputs, columns, stmt)

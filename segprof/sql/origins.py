"""Where each output column's value is defined: through `*` and pass-through columns, into CTEs
and subqueries of the same statement.

Owns `with_origins`, which adds to each `OutputColumn` the position of the select item that
defines it (`first_name AS given_name` inside a CTE, for `SELECT * FROM renamed`) and the columns
that item reads. Diagnostics use it to say which line of a model renamed a column. Must never
raise on SQL it does not follow: a column it cannot trace keeps what the outer select says.
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from segprof.sql.dialects import comparison_key
from segprof.sql.outputs import Col, is_star, item_start, top_select
from segprof.sql.problems import Context, OutputColumn

_MAX_DEPTH = 16  # nesting deeper than this is not followed (and CTEs cannot loop back here)


def with_origins(
    ctx: Context, outputs: list[OutputColumn], columns: list[Col], stmt: exp.Expr
) -> list[OutputColumn]:
    """`outputs` with where the outer select names each column and where its value is defined."""
    named = {comparison_key(c.name, ctx.dialect): c for c in columns if not c.star}
    ctes = _ctes(stmt)
    top = top_select(stmt)
    result = []
    for out in outputs:
        item = named.get(comparison_key(out.name, ctx.dialect))
        changes: dict[str, object] = {}
        if item is not None:
            changes["line"], changes["col"] = ctx.index.position(item.offset)
        try:
            defining = _define(top, out.name, ctes, 0)
        except Exception:  # an unusual tree: keep what the outer select says
            defining = None
        if defining is None and item is not None:
            defining = item.expr
        if defining is not None:
            start = item_start(ctx, defining)
            if start is not None:
                changes["defined_line"], changes["defined_col"] = ctx.index.position(start)
            changes["reads"] = tuple(dict.fromkeys(c.name for c in defining.find_all(exp.Column) if c.name))
            changes["bare"] = isinstance(defining.unalias(), exp.Column)
        result.append(dataclasses.replace(out, **changes) if changes else out)
    return result


def _ctes(stmt: exp.Expr) -> dict[str, exp.Expr]:
    found: dict[str, exp.Expr] = {}
    with_ = stmt.args.get("with_") if isinstance(stmt, exp.Expr) else None
    if isinstance(with_, exp.With):
        for cte in with_.expressions:
            if isinstance(cte, exp.CTE) and cte.alias:
                found[cte.alias.lower()] = cte.this
    return found


def _sources(select: exp.Select, ctes: dict[str, exp.Expr]) -> dict[str, exp.Expr]:
    """Alias → query, for each FROM/JOIN source that is a CTE or a subquery of this statement."""
    found: dict[str, exp.Expr] = {}
    from_ = select.args.get("from_")
    joined = [j.this for j in select.args.get("joins") or [] if isinstance(j, exp.Join)]
    for source in ([from_.this] if isinstance(from_, exp.From) else []) + joined:
        if isinstance(source, exp.Subquery):
            found[source.alias_or_name.lower()] = source.this
        elif isinstance(source, exp.Table) and not source.args.get("db") and source.name.lower() in ctes:
            found[(source.alias_or_name or source.name).lower()] = ctes[source.name.lower()]
    return found


def _define(query: exp.Expr, name: str, ctes: dict[str, exp.Expr], depth: int) -> exp.Expr | None:
    """The select item that gives output column `name` of `query` its value, or None."""
    select = top_select(query)
    if depth > _MAX_DEPTH or not isinstance(select, exp.Select):
        return None
    sources = _sources(select, ctes)
    wanted = name.lower()
    stars = []
    for item in select.expressions:
        if is_star(item):
            stars.append(item)
            continue
        if item.alias_or_name.lower() != wanted:
            continue
        inner = item.unalias()
        if isinstance(inner, exp.Column) and inner.name.lower() == wanted:
            # A pass-through (`r.given_name`): the value is defined where its source defines it.
            source = _source_of(inner.table, sources)
            deeper = _define(source, name, ctes, depth + 1) if source is not None else None
            return deeper or item
        return item
    for star in stars:
        table = star.table.lower() if isinstance(star, exp.Column) else ""
        candidates = [sources[table]] if table in sources else ([] if table else list(sources.values()))
        for source in candidates:
            found = _define(source, name, ctes, depth + 1)
            if found is not None:
                return found
    return None


def _source_of(table: str, sources: dict[str, exp.Expr]) -> exp.Expr | None:
    if table:
        return sources.get(table.lower())
    return next(iter(sources.values())) if len(sources) == 1 else None

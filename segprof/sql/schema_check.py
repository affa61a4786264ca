"""Schema-aware checks of a parsed query: unknown tables, unknown columns, `*` expansion, types.

Owns matching the query's tables against a schema snapshot, running sqlglot's qualification
and type annotation, and reporting what they find as positioned problems. Must never raise for
a query sqlglot cannot follow: on dialects and constructs where sqlglot is known to be
unreliable its complaints become warnings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp

    from segprof.sql.analyze import Context, OutputColumn
    from segprof.sql.engine import Col


def check(
    ctx: Context, stmt: exp.Expr, cols: list[Col], schema: dict[str, dict[str, str]]
) -> list[OutputColumn] | None:
    """Problems go to `ctx`; returns the typed output columns, or None to keep `cols`."""
    return None

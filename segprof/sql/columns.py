"""Finding a mapped column among a query's output columns.

Owns the rule for matching a name used in a mapping (which becomes `$.properties.<name>`, a
case-sensitive key) against the result set's column names. Must never import sqlglot.
"""

from __future__ import annotations

from dataclasses import dataclass

from segprof.sql.problems import OutputColumn


@dataclass(frozen=True)
class ColumnMatch:
    """The output column a name refers to, and whether the spelling is exactly the result's."""

    column: OutputColumn | None
    exact: bool

    @property
    def hint(self) -> str | None:
        """A suggestion when the name only matches by case (None when exact or absent)."""
        if self.column is None or self.exact:
            return None
        return f"the result set names this column '{self.column.name}'; use that spelling"


def find_column(columns: list[OutputColumn], name: str) -> ColumnMatch:
    """Find `name` among `columns`: exact first, else the one column equal ignoring case.

    Segment keys each record's properties by the result set's column names, so only an exact
    match is usable in a mapping; a match by case alone is returned (exact=False) so the caller
    can say which spelling to use (typical on Snowflake, which returns unquoted names upper-case).
    """
    for column in columns:
        if column.name == name:
            return ColumnMatch(column, True)
    folded = [c for c in columns if c.name.lower() == name.lower()]
    if len(folded) == 1:
        return ColumnMatch(folded[0], False)
    return ColumnMatch(None, False)

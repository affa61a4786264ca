"""A dbt model's output columns: from dbt's catalog, else its compiled SQL, else its documentation.

Owns `DbtColumns` and how they are found. Must never import dbt, run SQL or reach a warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from segprof.dbt.manifest import DbtModel
from segprof.sql.analyze import analyze_query


@dataclass(frozen=True)
class DbtColumns:
    """A dbt model's output columns, their types where known, and where that knowledge came from."""

    names: list[str]
    types: dict[str, str] = field(default_factory=dict)
    origin: str = "catalog"  # catalog | compiled SQL | documentation

    @property
    def certain(self) -> bool:
        """Documentation may leave columns out: only the catalog and compiled SQL are the output."""
        return self.origin != "documentation"


def model_columns(model: DbtModel, dialect: str) -> DbtColumns | None:
    """The columns the dbt relation has: catalog, else the compiled SQL's output, else its docs."""
    documented = {c.name: c.data_type for c in model.columns.values() if c.data_type}
    if model.catalog_columns:
        return DbtColumns(list(model.catalog_columns), dict(model.catalog_columns), "catalog")
    if model.compiled_code:
        analysis = analyze_query(model.compiled_code, dialect)
        if analysis.complete and analysis.columns and not analysis.problems:
            types = {c.name: c.type for c in analysis.columns if c.type}
            types.update({k: v for k, v in documented.items() if k in types or k.lower() in types})
            return DbtColumns([c.name for c in analysis.columns], types, "compiled SQL")  # type: ignore[arg-type]
    if model.columns:
        return DbtColumns(list(model.columns), {k: v for k, v in documented.items() if v}, "documentation")
    return None

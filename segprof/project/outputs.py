"""Each model's output columns and dialect, as plan, apply and sync fold mapped column names.

Owns `model_columns`: validation's findings when it ran, else an offline analysis of each model's
SQL (answered by the analysis cache when the query is unchanged). Must never reach a warehouse.
"""

from __future__ import annotations

from segprof.config.models import Project
from segprof.sql.analyze import analyze_query
from segprof.sql.dialects import dialect_for

ModelOutputs = dict[str, tuple[str, list[str]]]  # model name → (dialect, output columns)


def model_columns(
    project: Project, outputs: ModelOutputs | None = None
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each model's output columns and dialect, for column-name folding.

    `outputs` are the columns validation already found (`ValidationReport.model_outputs`); without
    them each model's SQL is analysed here, offline.
    """

    columns: dict[str, list[str]] = {}
    dialects: dict[str, str] = {}
    for name, model in project.models.items():
        source = project.sources.get(model.source_name or "")
        if source is None or model.sql is None:
            continue
        dialect = dialect_for(source.type)  # type: ignore[attr-defined]
        dialects[name] = dialect
        if outputs is not None:
            if name in outputs:
                columns[name] = list(outputs[name][1])
            continue
        analysis = analyze_query(model.sql.text, dialect)
        if analysis.complete:
            columns[name] = [c.name for c in analysis.columns]
    return columns, dialects

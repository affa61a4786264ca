"""`validate --describe`: ask each model's warehouse to describe the query without running it.

Owns opening each source read-only, once, and turning a warehouse's refusal of a model query (what
sqlglot accepted but the warehouse would not) into a `sql.warehouse` diagnostic at the query, and
an unreachable source into `source.unreachable`. Must never run a model's query for its rows
(`describe` wraps it in `LIMIT 0` / `WHERE 1 = 0`) nor write to the warehouse.
"""

from __future__ import annotations

from typing import Any

from segprof.config.diagnostic import Diagnostic, error
from segprof.config.models import Project
from segprof.errors import SegprofError
from segprof.warehouses import connect


def _settings(source: Any) -> dict[str, Any]:
    data = source.model_dump(by_alias=True, exclude_none=True)
    for key, value in list(data.items()):
        if hasattr(value, "get_secret_value"):
            data[key] = value.get_secret_value()
    return {**data, "read_only": True}


def describe_models(project: Project, skip_models: set[str]) -> list[Diagnostic]:
    """A diagnostic for each model query its warehouse refuses; models in `skip_models` are left out."""

    out: list[Diagnostic] = []
    opened: dict[str, Any] = {}
    unreachable: set[str] = set()
    try:
        for name, model in project.models.items():
            source_name = model.source_name
            source = project.sources.get(source_name or "")
            if name in skip_models or model.sql is None or source is None or source_name in unreachable:
                continue
            if source_name not in opened:
                try:
                    opened[source_name] = connect(
                        source.type,
                        _settings(source),
                        project.root,
                        address=source.address,  # type: ignore[attr-defined]
                    )
                except SegprofError as err:
                    unreachable.add(source_name)
                    out.append(
                        error(
                            "source.unreachable",
                            f"cannot reach the warehouse to describe queries: {err.message}",
                            source.key_location,
                            address=source.address,
                            hint=err.hint,
                        )
                    )
                    continue
            try:
                opened[source_name].describe(model.sql.text)
            except SegprofError as err:
                out.append(
                    error(
                        "sql.warehouse",
                        f"the warehouse refuses the query: {err.message}",
                        model.sql.location(1, 1),
                        address=model.address,
                        hint="the query parses offline but not in the warehouse; run it there to see why",
                    )
                )
    finally:
        for con in opened.values():
            con.close()
    return out

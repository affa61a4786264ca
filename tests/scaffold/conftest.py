"""Fixtures for the starter-project tests: a project made by `init_project`, its demo warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from segprof.scaffold.project import InitResult, init_project


@pytest.fixture(scope="session")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> InitResult:
    """A quickstart project with its warehouse, built once for the session. Do not modify it."""
    return init_project(tmp_path_factory.mktemp("qs") / "project")


@pytest.fixture(scope="session")
def warehouse(quickstart: InitResult) -> Iterator[Any]:
    """A read-only DuckDB connection to the quickstart's demo warehouse."""
    import duckdb

    con = duckdb.connect(str(quickstart.directory / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="session")
def resources(quickstart: InitResult) -> dict[str, dict[str, Any]]:
    """The quickstart's resources by kind (sources, models, destinations, mappings), read from its YAML."""
    return project_resources(quickstart.directory)


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def project_resources(directory: Path) -> dict[str, dict[str, Any]]:
    """Every resource of a project, by kind, merged from segprof.yaml and every other *.yaml file."""
    merged: dict[str, dict[str, Any]] = {"sources": {}, "models": {}, "destinations": {}, "mappings": {}}
    for path in sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")]):
        rel = path.relative_to(directory)
        if any(part.startswith(".") for part in rel.parts):
            continue
        doc = load_yaml(path) or {}
        for kind, items in merged.items():
            for name, body in (doc.get(kind) or {}).items():
                assert name not in items, f"{kind}.{name} defined twice"
                items[name] = {**body, "__file__": path}
    return merged

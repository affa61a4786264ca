"""The configuration language: loading YAML projects into typed models, and their compiled forms.

Owns everything a project *says* (docs/config-language.md). Must never talk to a workspace,
a warehouse or the Tracking API.
"""

from __future__ import annotations

from segprof.config.compile import compile_field, compile_settings, compile_trigger, resolve_column
from segprof.config.diagnostic import Diagnostic
from segprof.config.loader import LoadResult, load_project, load_project_or_raise
from segprof.config.models import (
    Destination,
    Mapping,
    Model,
    Project,
    Resource,
    SourceBase,
    Workspace,
)
from segprof.config.schedule import compile_schedule
from segprof.config.sqltext import SqlText

__all__ = [
    "Destination",
    "Diagnostic",
    "LoadResult",
    "Mapping",
    "Model",
    "Project",
    "Resource",
    "SourceBase",
    "SqlText",
    "Workspace",
    "compile_field",
    "compile_schedule",
    "compile_settings",
    "compile_trigger",
    "load_project",
    "load_project_or_raise",
    "resolve_column",
]

"""Local Segment: the emulated Public API and Tracking API over a SQLite data folder.

Owns where a project keeps its embedded workspace (`project_data_dir`); `segprof.emulator.app.create_app`
is the entry point. Must never import the
CLI.
"""

from pathlib import Path


def project_data_dir(project_dir: Path) -> Path:
    """Where a project's embedded workspace (`backend: local`) keeps its data.

    Kept here, apart from the app, so that naming the folder does not load the web framework."""
    return Path(project_dir) / ".segprof" / "emulator"

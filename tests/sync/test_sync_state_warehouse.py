"""`segprof sync` finds the live ids through warehouse state (`state: {backend: warehouse}`).

The state lives in the same warehouse the models read — on DuckDB that is one file the sync engine
opens too, so the store must not keep its connection.
"""

from __future__ import annotations

import json
from pathlib import Path

from sync_project import Project

from segprof.config.loader import load_project_or_raise
from segprof.state import open_state_store
from segprof.state.warehouse import WarehouseStateStore


def test_sync_reads_subscription_ids_from_the_warehouse_state(tmp_path: Path, warehouse, run_cli):
    project = Project(tmp_path / "p", warehouse, tracking=None)
    project.seed(3)
    config = project.root / "segprof.yaml"
    config.write_text(config.read_text() + "state:\n  backend: warehouse\n")
    root = str(project.root)

    applied = run_cli("apply", "-C", root, "--auto-approve")
    assert applied.exit_code == 0, applied.stderr
    assert not (project.root / ".segprof" / "state.json").exists()
    store = open_state_store(project.root, load_project_or_raise(project.root))
    assert isinstance(store, WarehouseStateStore)
    subscription_id = store.read().id_of("mapping.identify_users")
    assert subscription_id

    result = run_cli("sync", "--all", "-C", root, "--format", "json")
    assert result.exit_code == 0, result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    assert run["mapping_id"] == subscription_id
    assert (run["new"], run["delivered"], run["status"]) == (3, 3, "success")

    # history resolves the same id back to the mapping's address
    history = json.loads(run_cli("syncs", "-C", root, "--format", "json").stdout)["runs"]
    assert [(r["mapping"], r["mapping_id"]) for r in history] == [("mapping.identify_users", subscription_id)]

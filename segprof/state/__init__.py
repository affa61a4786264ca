"""State: which live id belongs to which address. Never a secret.

`open_state_store(project_dir, project)` is the one way in: it returns the store the project
configured (a file under `.segprof/`, or a table in a source's warehouse).
"""

from segprof.state.factory import open_state_store, state_folder
from segprof.state.store import LocalStateStore, State, StateEntry, StateStore

__all__ = ["LocalStateStore", "State", "StateEntry", "StateStore", "open_state_store", "state_folder"]

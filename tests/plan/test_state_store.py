"""The local state store: atomic writes, round trip, and a lock that names its holder."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from segprof.errors import SegprofError
from segprof.state.store import LocalStateStore, State, StateEntry


def test_round_trip_and_serial(tmp_path) -> None:
    store = LocalStateStore(tmp_path / ".segprof")
    assert store.read().resources == {}
    state = State()
    state.resources["model.users"] = StateEntry(kind="model", id="M1", attributes={"query": "SELECT 1"})
    store.write(state)
    store.write(state)
    again = store.read()
    assert again.serial == 2 and again.id_of("model.users") == "M1" and again.lineage == state.lineage
    assert json.loads(store.path.read_text())["resources"]["model.users"]["id"] == "M1"


def test_corrupt_state_is_a_clear_error(tmp_path) -> None:
    store = LocalStateStore(tmp_path)
    store.path.write_text("{]")
    with pytest.raises(SegprofError, match="cannot read the state file"):
        store.read()
    store.path.write_text('{"version": 99}')
    with pytest.raises(SegprofError, match="format version"):
        store.read()


def test_second_holder_is_refused_with_the_holders_description(tmp_path) -> None:
    folder = tmp_path / ".segprof"
    code = (
        "import sys, time; from pathlib import Path; from segprof.state.store import LocalStateStore\n"
        f"with LocalStateStore(Path({str(folder)!r})).lock('apply'):\n"
        "    print('locked', flush=True); time.sleep(30)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        store = LocalStateStore(folder)
        started = time.monotonic()
        with (
            pytest.raises(SegprofError, match=r"locked by `segprof apply` \(pid \d+") as err,
            store.lock("plan", timeout=0.5),
        ):
            pass
        assert time.monotonic() - started >= 0.5
        assert "--lock-timeout" in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    # A killed holder releases the lock at once.
    with LocalStateStore(folder).lock("plan", timeout=2):
        pass

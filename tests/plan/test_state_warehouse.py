"""State kept in the warehouse (`state: {backend: warehouse}`): shared by checkouts, locked, never stale.

Real PostgreSQL (the session server of tests/conftest.py) and real DuckDB; plan and apply run as
child processes against the emulator served on loopback, as CI would run them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from segprof.config.loader import load_project_or_raise
from segprof.errors import SegprofError
from segprof.state import open_state_store
from segprof.state.store import State, StateEntry
from segprof.state.warehouse import WarehouseStateStore
from segprof.warehouses import connect
from tests.plan.conftest import TOKEN, WRITE_KEY
from tests.plan.test_plan_apply_emulator import REPO, apply, segprof

PG_PASSWORD = "pw_planted_93c1e0a7d5"


def use_warehouse_state(project: Path, dsn: str, *, port: int | None = None) -> None:
    """Add a PostgreSQL source holding the state (its password comes from .env, like a CI secret)."""
    parts = conninfo_to_dict(dsn)
    text = (project / "segprof.yaml").read_text()
    text = text.replace(
        "\nsources:\n",
        "\nstate:\n  backend: warehouse\n  source: ci_state\n  key: production\n\nsources:\n"
        f"  ci_state:\n    type: postgres\n    host: {parts['host']}\n    port: {port or parts['port']}\n"
        f"    database: {parts['dbname']}\n    user: {parts['user']}\n    password: ${{CI_STATE_PASSWORD}}\n",
        1,
    )
    (project / "segprof.yaml").write_text(text)
    with (project / ".env").open("a") as env:
        env.write(f"CI_STATE_PASSWORD={PG_PASSWORD}\n")


def checkout(project: Path, name: str) -> Path:
    """A second CI checkout of the same repository: the same files, no .segprof/ folder."""
    other = project.parent / name
    shutil.copytree(project, other, ignore=shutil.ignore_patterns(".segprof"))
    return other


def store_of(project: Path) -> WarehouseStateStore:
    store = open_state_store(project, load_project_or_raise(project))
    assert isinstance(store, WarehouseStateStore)
    return store


def hold_lock(project: Path, operation: str = "apply") -> subprocess.Popen[str]:
    """A child process that takes the state lock, says so, and holds it until told (or killed)."""
    code = (
        "import sys; from pathlib import Path\n"
        "from segprof.config.loader import load_project_or_raise\n"
        "from segprof.state import open_state_store\n"
        f"project = Path({str(project)!r})\n"
        "store = open_state_store(project, load_project_or_raise(project))\n"
        f"with store.lock({operation!r}):\n"
        "    print('locked', flush=True)\n"
        "    sys.stdin.readline()\n"
        "print('released', flush=True)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "locked"
    return child


def release(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write("\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "released"
    child.wait(timeout=30)


@pytest.mark.postgres
def test_two_checkouts_share_the_warehouse_state(project: Path, postgres_dsn: str) -> None:
    use_warehouse_state(project, postgres_dsn)
    second = checkout(project, "second-checkout")
    done = apply(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Apply complete! 11 added" in done.stdout
    assert not (project / ".segprof" / "state.json").exists()

    again = segprof("plan", "-C", str(second), "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes." in again.stdout
    # the second checkout sees exactly the ids the first recorded
    shown = segprof("state", "show", "-C", str(second), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    resources = json.loads(shown.stdout)["resources"]
    assert len(resources) == 11 and resources["model.users"]["id"] == store_of(project).read().id_of(
        "model.users"
    )
    # a change made through the second checkout is what the first one then plans from
    mappings = second / "mappings.yaml"
    mappings.write_text(
        mappings.read_text().replace("        plan: plan\n", "        plan: {value: pro}\n", 1)
    )
    assert apply(second).returncode == 0
    (project / "mappings.yaml").write_text(mappings.read_text())
    assert "No changes." in segprof("plan", "-C", str(project)).stdout


@pytest.mark.postgres
def test_nothing_secret_in_the_state_tables(project: Path, postgres_dsn: str) -> None:
    use_warehouse_state(project, postgres_dsn)
    done = apply(project)
    assert done.returncode == 0, done.stdout + done.stderr
    holder = hold_lock(project)  # so that the lock table has a row to scan as well
    try:
        values: list[str] = []
        with psycopg.connect(postgres_dsn) as con:
            for name in ("state_documents", "state_locks"):
                rows = con.execute(f'SELECT * FROM "__segprof"."{name}"').fetchall()
                assert rows, name
                values += [str(v) for row in rows for v in row]
        text = "\n".join(values)
        assert "model.users" in text  # the scan reads the real document
        for secret in (TOKEN, WRITE_KEY, PG_PASSWORD):
            assert secret not in text
    finally:
        release(holder)


@pytest.mark.postgres
def test_concurrent_apply_is_refused_naming_the_holder_and_unlock_breaks_a_dead_lock(
    project: Path, postgres_dsn: str
) -> None:
    use_warehouse_state(project, postgres_dsn)
    other = checkout(project, "other-checkout")
    holder = hold_lock(other)
    refused = apply(project)
    assert refused.returncode == 1
    assert f"state is locked by `segprof apply` (pid {holder.pid} on " in refused.stderr
    assert "--lock-timeout" in refused.stderr and "segprof state unlock" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert store_of(project).read_stored() is None  # nothing was applied or written

    # the holder dies without releasing: its row stays, and names itself in every refusal
    holder.kill()
    holder.wait()
    still = apply(project)
    assert still.returncode == 1 and f"(pid {holder.pid} on " in still.stderr
    lock_id = still.stderr.split("lock id ", 1)[1].split()[0]
    wrong = segprof("state", "unlock", "0" * 32, "-C", str(project))
    assert wrong.returncode == 1 and lock_id in wrong.stderr
    broken = segprof("state", "unlock", lock_id, "-C", str(project))
    assert broken.returncode == 0, broken.stderr
    assert f"pid {holder.pid}" in broken.stdout
    done = apply(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert store_of(project).holder() is None  # apply released its own lock


@pytest.mark.postgres
def test_lock_timeout_waits_for_the_holder(project: Path, postgres_dsn: str) -> None:
    use_warehouse_state(project, postgres_dsn)
    holder = hold_lock(project, "apply")
    try:
        waiting = subprocess.Popen(
            [sys.executable, "-m", "segprof", "apply", "-C", str(project), "--auto-approve", "--lock-timeout", "120"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # while the lock is held, an apply without a timeout is refused …
        refused = apply(project)
        assert refused.returncode == 1 and "locked by `segprof apply`" in refused.stderr
        assert waiting.poll() is None  # … and the one with a timeout is still waiting
    finally:
        release(holder)
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert "Apply complete! 11 added" in out


RACE = """
import sys
from pathlib import Path
from segprof.config.loader import load_project_or_raise
from segprof.errors import SegprofError
from segprof.state import open_state_store
project = Path(sys.argv[1])
store = open_state_store(project, load_project_or_raise(project))
store.read()  # connect once before the start line, so that the racers start together
print("ready", flush=True)
sys.stdin.readline()
try:
    with store.lock("apply"):
        print("got", flush=True)
        sys.stdin.readline()
except SegprofError as err:
    print("refused " + err.message, flush=True)
"""


@pytest.mark.postgres
def test_racing_processes_get_the_lock_exactly_once(project: Path, postgres_dsn: str) -> None:
    use_warehouse_state(project, postgres_dsn)
    for _ in range(3):
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", RACE, str(project)],
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        for racer in racers:
            assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        said = {racer.pid: racer.stdout.readline().strip() for racer in racers if racer.stdout}
        winners = [pid for pid, line in said.items() if line == "got"]
        assert len(winners) == 1, said
        for pid, line in said.items():
            if pid != winners[0]:
                assert line.startswith("refused the state is locked by `segprof apply`"), line
                assert f"(pid {winners[0]} on " in line
        for racer in racers:
            racer.communicate("\n", timeout=30)
        assert store_of(project).holder() is None


def _stores(kind: str, tmp_path: Path, dsn: str | None) -> tuple[WarehouseStateStore, WarehouseStateStore]:
    if kind == "duckdb":
        settings: dict[str, object] = {"path": "wh.duckdb"}
    else:
        assert dsn is not None
        settings = {"dsn": dsn}

    def opener():  # type: ignore[no-untyped-def]
        return connect(kind, settings, tmp_path, address="source.wh", create=True)

    return (
        WarehouseStateStore(opener, key="k", source_name="wh"),
        WarehouseStateStore(opener, key="k", source_name="wh"),
    )


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_stale_serial_write_is_refused_and_overwrites_nothing(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dsn = request.getfixturevalue("postgres_dsn") if kind == "postgres" else None
    first, second = _stores(kind, tmp_path, dsn)
    assert first.read().resources == {} and first.holder() is None  # no table yet: empty state
    seed = State()
    seed.resources["model.users"] = StateEntry(kind="model", id="M1")
    first.write(seed)
    assert seed.serial == 1

    mine, theirs = first.read(), second.read()
    theirs.resources["model.accounts"] = StateEntry(kind="model", id="M2")
    second.write(theirs)
    mine.resources["model.events"] = StateEntry(kind="model", id="M3")
    with pytest.raises(
        SegprofError, match=r"changed since it was read: serial 1 was read, serial 2 was written by "
    ):
        first.write(mine)
    stored = first.read()
    assert stored.serial == 2 and sorted(stored.resources) == ["model.accounts", "model.users"]

    # two first writes of a fresh key: only one lands
    other_key = WarehouseStateStore(first._connect, key="fresh", source_name="wh")
    a, b = other_key.read(), other_key.read()
    a.resources["model.a"] = StateEntry(kind="model", id="A")
    other_key.write(a)
    with pytest.raises(SegprofError, match="nothing was overwritten"):
        other_key.write(b)
    assert other_key.read().id_of("model.a") == "A"
    # keys are independent
    assert first.read().id_of("model.a") is None


def test_duckdb_lock_names_holder_and_is_released(tmp_path: Path) -> None:
    first, second = _stores("duckdb", tmp_path, None)
    with first.lock("apply"):
        with (
            pytest.raises(SegprofError, match=r"locked by `segprof apply` \(pid \d+ on .*lock id \w+") as err,
            second.lock("plan", timeout=0.3),
        ):
            pass
        assert "segprof state unlock" in (err.value.hint or "")
    with second.lock("plan"):
        assert second.holder() is not None and second.holder()["operation"] == "plan"  # type: ignore[index]
    assert first.holder() is None


@pytest.mark.postgres
def test_switching_to_warehouse_refuses_to_hide_local_state_until_pushed(
    project: Path, postgres_dsn: str
) -> None:
    assert apply(project).returncode == 0
    local_ids = json.loads((project / ".segprof" / "state.json").read_text())["resources"]
    use_warehouse_state(project, postgres_dsn)
    refused = segprof("plan", "-C", str(project))
    assert refused.returncode == 1
    assert "segprof state push" in refused.stderr and "holds no state" in refused.stderr

    pushed = segprof("state", "push", "-C", str(project))
    assert pushed.returncode == 0, pushed.stderr
    assert not (project / ".segprof" / "state.json").exists()
    assert list((project / ".segprof").glob("state.json.pushed-*"))
    plan = segprof("plan", "-C", str(project), "--detailed-exitcode")
    assert plan.returncode == 2, plan.stderr  # only the new state source is to add
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in plan.stdout
    stored = store_of(project).read()
    assert {a: e.id for a, e in stored.resources.items()} == {a: e["id"] for a, e in local_ids.items()}
    again = segprof("state", "push", "-C", str(project))
    assert again.returncode == 1  # nothing left to push

    pulled = segprof("state", "pull", "-C", str(project))
    assert pulled.returncode == 0, pulled.stderr
    copy = json.loads((project / ".segprof" / "state.json").read_text())
    assert {a: e["id"] for a, e in copy["resources"].items()} == {a: e["id"] for a, e in local_ids.items()}
    assert copy["serial"] == stored.serial
    assert segprof("state", "pull", "-C", str(project)).returncode == 1  # no silent overwrite


@pytest.mark.postgres
def test_unreachable_state_warehouse_is_a_clear_error(project: Path, postgres_dsn: str) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    use_warehouse_state(project, postgres_dsn, port=closed_port)
    result = segprof("plan", "-C", str(project))
    assert result.returncode == 1
    assert "state.source" in result.stderr and "source `ci_state`" in result.stderr
    assert PG_PASSWORD not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_state_commands_need_warehouse_state(project: Path) -> None:
    result = segprof("state", "unlock", "abc", "-C", str(project))
    assert result.returncode == 1 and "state: {backend: warehouse}" in result.stderr
    shown = segprof("state", "show", "-C", str(project))
    assert shown.returncode == 0 and "serial 0, 0 resource(s)" in shown.stdout


def test_state_tables_translate_to_every_warehouse() -> None:
    from segprof.warehouses.dialects import DIALECTS, to_dialect
    from segprof.warehouses.managed_schema import state_ddl

    for dialect in DIALECTS.values():
        enforced = dialect.sqlglot in ("duckdb", "postgres", "tsql")
        statements = [to_dialect(s, dialect.sqlglot) for s in state_ddl(enforced)]
        assert len(statements) == 3 and "state_documents" in statements[1] and "state_locks" in statements[2]
        # a primary key only where the warehouse enforces it (elsewhere the read-back decides)
        assert ("PRIMARY KEY" in statements[1]) is enforced, dialect.source_type


@pytest.mark.postgres
def test_plans_run_while_an_apply_holds_the_warehouse_lock(project: Path, postgres_dsn: str) -> None:
    use_warehouse_state(project, postgres_dsn)
    assert apply(project).returncode == 0
    mappings = project / "mappings.yaml"
    mappings.write_text(mappings.read_text().replace("        plan: plan\n", "        plan: {value: pro}\n", 1))
    others = [checkout(project, f"pull-request-{n}") for n in (1, 2)]
    holder = hold_lock(project)  # an apply on main
    try:
        planners = [
            subprocess.Popen(
                [sys.executable, "-m", "segprof", "plan", "-C", str(p), "--detailed-exitcode"],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for p in others
        ]
        for planner in planners:
            out, err = planner.communicate(timeout=120)
            assert planner.returncode == 2, out + err
            assert "~ mapping.identify_users will be updated in place" in out
        refused = apply(others[0])
        assert refused.returncode == 1 and "state is locked by `segprof apply`" in refused.stderr
    finally:
        release(holder)

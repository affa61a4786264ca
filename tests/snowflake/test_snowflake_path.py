"""The whole path on Snowflake, through snowflake-connector-python against fakesnow's server.

Where fakesnow differs from Snowflake (it runs Snowflake SQL on DuckDB), the test says so and keeps
the SQL that Snowflake itself needs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from segprof.sync.detect.checksum import checksum_of
from tests.sync.sync_project import WRITE_KEY, Project

PASSWORD = "sf_planted_5c2d8e1a7b"


def snowflake_project(root: Path, source: dict) -> Project:
    root.mkdir(parents=True)
    (root / ".env").write_text(f"SNOWFLAKE_PASSWORD={PASSWORD}\n")
    project = Project(root, source, tracking=None)
    # Snowflake folds unquoted names to upper case: the model's columns are USER_ID, EMAIL, …
    project.traits = {"email": "EMAIL", "plan": "PLAN", "since": "UPDATED_AT"}
    project.write()
    project.sql(
        "CREATE TABLE users (user_id NUMBER(38,0), email VARCHAR(200), plan VARCHAR(50), "
        "updated_at TIMESTAMP_TZ)",
        # fakesnow reads only `+hh:mm` offsets (Snowflake reads `+hh:mm` and `+hhmm`). Every row has
        # an UPDATED_AT: fakesnow hands a NULL TIMESTAMP_TZ back as 1970-01-01 00:00 UTC (SQL still
        # sees it as NULL, so checksums are right; the delivered value would not be)
        "INSERT INTO users VALUES "
        "(1, 'ann@example.com', 'free', '2024-01-02 03:04:05.123456+02:00'), "
        "(2, 'bob@example.com', 'pro', '2024-02-03 10:00:00+00:00'), "
        "(3, 'cyd@example.com', 'free', '2024-03-04 23:30:00-05:00')",
    )
    return project


def snowflake_rows(source: dict, sql: str) -> list[tuple]:
    """Rows read with the connector itself (what a user would see in a Snowflake worksheet)."""
    import snowflake.connector

    keys = ("host", "port", "protocol", "account", "database", "schema")
    con = snowflake.connector.connect(user="reader", password="unused", **{k: source[k] for k in keys})
    try:
        return [tuple(r) for r in con.cursor().execute(sql).fetchall()]
    finally:
        con.close()


def profile(run_cli, root: str, user_id: str) -> dict:
    shown = run_cli("profiles", "show", user_id, "-C", root, "--format", "json")
    assert shown.exit_code == 0, shown.stdout + shown.stderr
    return json.loads(shown.stdout)


def sync(run_cli, root: str) -> dict:
    result = run_cli("sync", "--all", "-C", root, "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    assert run["status"] == "success", run
    return run


def test_introspect_generate_validate(tmp_path: Path, snowflake_source, run_cli):
    project = snowflake_project(tmp_path / "p", snowflake_source)
    project.sql("CREATE TABLE accounts (account_id VARCHAR NOT NULL, name VARCHAR, seats INTEGER)")
    root = str(project.root)
    (project.root / "segprof.yaml").write_text(
        (project.root / "segprof.yaml").read_text().split("\nmodels:")[0] + "\n"
    )  # sources only: generate proposes the rest

    introspected = run_cli("introspect", "-C", root)
    assert introspected.exit_code == 0, introspected.stderr
    snapshot = json.loads((project.root / "schema.json").read_text())
    assert snapshot["dialect"] == "snowflake"
    # information_schema's own type names, as Snowflake reports them
    assert snapshot["tables"]["PUBLIC.USERS"]["columns"] == {
        "USER_ID": "NUMBER",
        "EMAIL": "TEXT",
        "PLAN": "TEXT",
        "UPDATED_AT": "TIMESTAMP_TZ",
    }
    assert snapshot["tables"]["PUBLIC.ACCOUNTS"]["not_null"] == ["ACCOUNT_ID"]

    generated = run_cli("generate", "-C", root)
    assert generated.exit_code == 0, generated.stdout + generated.stderr
    text = (project.root / "generated.yaml").read_text()
    assert "identifier: USER_ID" in text and "email: EMAIL" in text and "group_id: ACCOUNT_ID" in text
    assert (project.root / "models" / "users.sql").read_text().strip()

    # validate reads the generated models against the warehouse's own columns
    valid = run_cli("validate", "-C", root)
    assert valid.exit_code == 0, valid.stdout + valid.stderr
    assert "2 model(s)" in valid.stdout and "2 mapping(s)" in valid.stdout
    assert PASSWORD not in introspected.stdout + generated.stdout + valid.stdout + text

    # a mapped column the model does not return names its file and line
    users_sql = project.root / "models" / "users.sql"
    users_sql.write_text(users_sql.read_text().replace('"EMAIL"', '"EMAIL" AS CONTACT', 1))
    broken = run_cli("validate", "-C", root)
    assert broken.exit_code == 1
    assert (
        "generated.yaml:" in broken.stdout and "EMAIL" in broken.stdout and "Traceback" not in broken.stderr
    )


def test_plan_apply_and_incremental_syncs(tmp_path: Path, snowflake_source, run_cli):
    project = snowflake_project(tmp_path / "p", snowflake_source)
    root = str(project.root)
    assert run_cli("validate", "-C", root).exit_code == 0
    planned = run_cli("plan", "-C", root, "--detailed-exitcode")
    assert planned.exit_code == 2, planned.stdout + planned.stderr
    assert "Plan: 4 to add" in planned.stdout and PASSWORD not in planned.stdout
    applied = run_cli("apply", "-C", root, "--auto-approve")
    assert applied.exit_code == 0, applied.stdout + applied.stderr

    first = sync(run_cli, root)
    assert (first["extracted"], first["new"], first["delivered"]) == (3, 3, 3)
    ann = profile(run_cli, root, "1")
    assert ann["traits"]["email"] == "ann@example.com" and ann["traits"]["plan"] == "free"
    assert ann["traits"]["since"] == "2024-01-02T01:04:05.123456Z"  # TIMESTAMP_TZ, in UTC

    # the snapshot in __segprof holds one row per record, with the canonical checksum
    table = next(
        name
        for (name,) in snowflake_rows(
            snowflake_source,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = '__segprof'",
        )
        if name.startswith("snapshot_")
    )
    snapshot = dict(snowflake_rows(snowflake_source, f'SELECT id, checksum FROM "__segprof"."{table}"'))
    assert sorted(snapshot) == ["1", "2", "3"]
    assert snapshot["2"] == checksum_of(
        {"EMAIL": "bob@example.com", "PLAN": "pro", "UPDATED_AT": "2024-02-03 10:00:00.000000Z"}
    )

    nothing = sync(run_cli, root)
    assert (nothing["new"], nothing["updated"], nothing["deleted"], nothing["delivered"]) == (0, 0, 0, 0)

    project.sql(
        "UPDATE users SET plan = 'pro' WHERE user_id = 1",
        "INSERT INTO users VALUES (4, 'dee@example.com', 'free', '2024-04-05 06:07:08+00:00')",
        "DELETE FROM users WHERE user_id = 3",
    )
    preview = run_cli("preview", "identify_users", "-C", root)
    assert preview.exit_code == 0, preview.stdout + preview.stderr
    assert "dee@example.com" in preview.stdout and '"pro"' in preview.stdout

    second = sync(run_cli, root)
    assert (second["new"], second["updated"], second["deleted"], second["delivered"]) == (1, 1, 1, 3)
    assert profile(run_cli, root, "1")["traits"]["plan"] == "pro"
    assert profile(run_cli, root, "4")["traits"]["email"] == "dee@example.com"
    snapshot = dict(snowflake_rows(snowflake_source, f'SELECT id, checksum FROM "__segprof"."{table}"'))
    assert sorted(snapshot) == ["1", "2", "4"]
    runs = snowflake_rows(
        snowflake_source,
        'SELECT status, new_count, updated_count, deleted_count, delivered FROM "__segprof"."runs" '
        "ORDER BY started_at",
    )
    assert runs == [("success", 3, 0, 0, 3), ("success", 0, 0, 0, 0), ("success", 1, 1, 1, 3)]

    every = json.dumps(
        [
            snowflake_rows(snowflake_source, f'SELECT * FROM "__segprof"."{t}"')
            for t in ("runs", "checkpoints")
        ],
        default=str,
    )
    assert PASSWORD not in every and WRITE_KEY not in every


REPO = Path(__file__).resolve().parents[2]


def hold_lock(root: Path) -> subprocess.Popen[str]:
    """Another run, in a process of its own, that takes the state lock and holds it until told."""
    code = (
        "import sys; from pathlib import Path\n"
        "from segprof.config.loader import load_project_or_raise\n"
        "from segprof.state import open_state_store\n"
        f"root = Path({str(root)!r})\n"
        "store = open_state_store(root, load_project_or_raise(root))\n"
        "with store.lock('apply'):\n"
        "    print('locked', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "locked"
    return child


def test_state_in_snowflake_push_pull_and_lock(tmp_path: Path, snowflake_source, run_cli):
    project = snowflake_project(tmp_path / "p", snowflake_source)
    root = str(project.root)
    assert run_cli("apply", "-C", root, "--auto-approve").exit_code == 0
    local = json.loads((project.root / ".segprof" / "state.json").read_text())["resources"]
    config = project.root / "segprof.yaml"
    config.write_text(config.read_text() + "state:\n  backend: warehouse\n  key: production\n")

    hidden = run_cli("plan", "-C", root)
    assert hidden.exit_code == 1 and "segprof state push" in hidden.stderr

    pushed = run_cli("state", "push", "-C", root)
    assert pushed.exit_code == 0, pushed.stdout + pushed.stderr
    assert not (project.root / ".segprof" / "state.json").exists()
    same = run_cli("plan", "-C", root, "--detailed-exitcode")
    assert same.exit_code == 0 and "No changes." in same.stdout, same.stdout + same.stderr
    documents = snowflake_rows(
        snowflake_source, 'SELECT state_key, serial, document FROM "__segprof"."state_documents"'
    )
    assert [(key, serial) for key, serial, _ in documents] == [("production", 1)]
    stored = json.loads(documents[0][2])["resources"]
    assert {a: e["id"] for a, e in stored.items()} == {a: e["id"] for a, e in local.items()}

    # a run that holds the lock keeps others out, named; when it dies, `state unlock` breaks it
    holder = hold_lock(project.root)
    try:
        refused = run_cli("apply", "-C", root, "--auto-approve")
        assert refused.exit_code == 1
        assert f"(pid {holder.pid} on " in refused.stderr and "Traceback" not in refused.stderr
        locks = snowflake_rows(snowflake_source, 'SELECT lock_id, pid FROM "__segprof"."state_locks"')
        assert [pid for _, pid in locks] == [holder.pid]
    finally:
        holder.kill()
        holder.wait()
    lock_id = refused.stderr.split("lock id ", 1)[1].split()[0]
    assert lock_id == locks[0][0]
    broken = run_cli("state", "unlock", lock_id, "-C", root)
    assert broken.exit_code == 0, broken.stdout + broken.stderr
    assert snowflake_rows(snowflake_source, 'SELECT count(*) FROM "__segprof"."state_locks"') == [(0,)]

    # a change applied with the warehouse state advances its serial
    project.traits = {"email": "EMAIL"}
    project.write()
    config.write_text(config.read_text() + "state:\n  backend: warehouse\n  key: production\n")
    changed = run_cli("apply", "-C", root, "--auto-approve")
    assert changed.exit_code == 0, changed.stdout + changed.stderr
    assert snowflake_rows(snowflake_source, 'SELECT serial FROM "__segprof"."state_documents"') == [(2,)]

    pulled = run_cli("state", "pull", "-C", root)
    assert pulled.exit_code == 0, pulled.stdout + pulled.stderr
    copy = json.loads((project.root / ".segprof" / "state.json").read_text())
    assert copy["serial"] == 2 and set(copy["resources"]) == set(local)

    every = json.dumps(
        [snowflake_rows(snowflake_source, f'SELECT * FROM "__segprof"."{t}"') for t in ("state_documents",)],
        default=str,
    )
    assert "model.users" in every and PASSWORD not in every and WRITE_KEY not in every

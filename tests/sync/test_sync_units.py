"""Which columns a mapping reads, trigger parsing, notifications, and --all past a refused mapping."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from sync_project import Project

from segprof.errors import SegprofError
from segprof.operations.notify import notification_text
from segprof.sync.spec import RunSummary, referenced_columns, triggers_of


def test_referenced_columns_from_paths_templates_and_objects():
    settings = {
        "engage_space": "secret",
        "user_id": {"@path": "$.__segment_id"},
        "traits": {
            "email": {"@excludeWhenNull": {"@path": "$.properties.email"}},
            "site": {"@template": "https://{{properties.domain}}/{{ properties.slug }}"},
            "odd": {"@path": "$.properties['Mixed Case']"},
            "nested": {"@path": "$.properties.address.city"},
        },
        "event_name": "Signed Up",
    }
    names, whole = referenced_columns(settings)
    assert sorted(names) == ["Mixed Case", "address", "domain", "email", "slug"]
    assert not whole
    assert referenced_columns({"traits": {"@path": "$.properties"}}) == ([], True)
    assert referenced_columns({"x": {"@template": "{{properties}}"}}) == ([], True)
    # a literal that looks like a template is not read
    assert referenced_columns({"event_name": "{{properties.nope}}"}) == ([], False)


def test_triggers_of_segment_trigger_text():
    assert triggers_of('event = "new" or event = "updated"') == {"new", "updated"}
    assert triggers_of("event = 'deleted'") == {"deleted"}
    with pytest.raises(SegprofError):
        triggers_of("type = 'identify'")


def test_notification_only_for_runs_needing_attention():
    ok = RunSummary(mapping_id="a", address="mapping.a", status="success")
    bad = RunSummary(
        mapping_id="b",
        address="mapping.b",
        status="partial",
        run_id="r1",
        delivered=3,
        failed=1,
        errors=["PAYLOAD_VALIDATION_FAILED: Either `Anonymous ID` or `User ID` must be defined."],
    )
    assert notification_text([ok]) is None
    text = notification_text([ok, bad])
    assert text is not None and "1 of 2" in text and "mapping.b: partial" in text and "User ID" in text
    assert "mapping.a" not in text


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


def test_all_continues_past_a_refused_mapping_and_notifies(tmp_path: Path, emulator, run_cli):
    project = Project(tmp_path / "p", {"type": "duckdb", "path": "wh.duckdb"}, emulator.tracking)
    project.seed(4)
    text = (project.root / "segprof.yaml").read_text()
    # a second mapping, of a model that keeps its rows
    text = text.replace(
        "models:\n",
        "models:\n  first_user:\n    source: warehouse\n    identifier: user_id\n"
        "    query: SELECT * FROM users WHERE user_id = 1\n",
    )
    text += (
        "  plans:\n    model: first_user\n    destination: profiles\n    action: send_identify\n"
        "    on: [new, updated]\n    fields:\n      user_id: {identifier: true}\n      traits: {plan: plan}\n"
    )
    (project.root / "segprof.yaml").write_text(text)
    assert run_cli("sync", "--all", "--self-hosted", "-C", str(project.root)).exit_code == 0
    project.sql("DELETE FROM users WHERE user_id > 1", "UPDATE users SET plan = 'pro'")

    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        result = run_cli(
            "sync", "--all", "--self-hosted", "-C", str(project.root), "--format", "json", "--notify", url
        )
    finally:
        server.shutdown()
    assert result.exit_code == 1
    runs = {r["mapping"]: r for r in json.loads(result.stdout)["runs"]}
    assert runs["mapping.identify_users"]["status"] == "refused"
    assert "refusing to sync" in runs["mapping.identify_users"]["errors"][0]
    # the other mapping ran: user 1 became pro
    assert runs["mapping.plans"]["status"] == "success" and runs["mapping.plans"]["updated"] == 1
    assert len(_Hook.received) == 1 and "mapping.identify_users: refused" in _Hook.received[0]["text"]
    assert "test-space-key" not in json.dumps(_Hook.received)


def test_in_flight_settles_warehouse_built_records_once_and_in_any_order() -> None:
    import pyarrow as pa

    from segprof.sync.inflight import Acks, InFlight
    from segprof.sync.messages.sql_messages import MESSAGE_COLUMN, MESSAGE_ID_COLUMN
    from segprof.warehouses.managed_schema import CHECKSUM_COLUMN, ID_COLUMN, KIND_COLUMN

    keys = [f"u{i}" for i in range(6)]
    rows = pa.record_batch(
        {
            ID_COLUMN: keys,
            KIND_COLUMN: ["new", "updated", "new", "deleted", "new", "new"],
            CHECKSUM_COLUMN: [f"c{i}" for i in range(6)],
            MESSAGE_ID_COLUMN: [f"m{i}" for i in range(6)],
            MESSAGE_COLUMN: [f'{{"messageId":"m{i}","userId":"u{i}"}}' for i in range(6)],
        }
    )
    held = InFlight()
    held.add_built(keys, rows)
    held.add("p1", ("new", "mp1", "cp1", {"messageId": "mp1"}))
    acks = Acks()
    held.delivered(["u4", "u1", "p1", "nobody", "u1"], acks)  # u1 twice: settled once
    held.delivered(["u2", "u3"], acks)
    assert len(acks) == 5
    written = [tuple(r.values()) for t in acks.arrow() for r in t.to_pylist()]
    assert sorted(written + acks.rows) == [
        ("p1", "cp1", "new"),
        ("u1", "c1", "updated"),
        ("u2", "c2", "new"),
        ("u3", "c3", "deleted"),
        ("u4", "c4", "new"),
    ]
    # a failure reads what was sent, the message decoded; a settled record is gone
    assert held.get("u5") == ("new", "m5", "c5", {"messageId": "m5", "userId": "u5"})
    assert held.get("u1") is None
    held.drop(["u0", "u5"])
    assert held.get("u0") is None and held.get("u5") is None

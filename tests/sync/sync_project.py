"""A small test project: a `users` table and an identify mapping, on any warehouse, written as YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from segprof.warehouses import connect

WRITE_KEY = "test-space-key"


class Project:
    def __init__(self, root: Path, source: dict[str, Any], tracking: str | None, backend: str = "local"):
        self.root = root
        self.source = source
        root.mkdir(parents=True, exist_ok=True)
        self.tracking = tracking
        self.backend = backend
        self.traits = {"email": "email", "plan": "plan"}
        self.on = ["new", "updated", "deleted"]
        self.query = "SELECT * FROM users"
        self.user_id: Any = {"identifier": True}
        self.write()

    def write(self) -> None:
        destination: dict[str, Any] = {"type": "segment_profiles", "write_key": WRITE_KEY}
        if self.tracking:
            destination["tracking_url"] = self.tracking
        doc = {
            "version": 1,
            "workspace": {"backend": self.backend},
            "sources": {"warehouse": self.source},
            "models": {"users": {"source": "warehouse", "identifier": "user_id", "query": self.query}},
            "destinations": {"profiles": destination},
            "mappings": {
                "identify_users": {
                    "model": "users",
                    "destination": "profiles",
                    "action": "send_identify",
                    "on": self.on,
                    "fields": {"user_id": self.user_id, "traits": self.traits},
                }
            },
        }
        (self.root / "segprof.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))

    def sql(self, *statements: str) -> None:
        settings = {k: v for k, v in self.source.items() if k != "type"}
        con = connect(self.source["type"], settings, self.root)
        try:
            for statement in statements:
                con.execute(statement)
        finally:
            con.close()

    def seed(self, n: int) -> None:
        rows = ", ".join(f"({i}, 'u{i}@example.com', 'free')" for i in range(1, n + 1))
        self.sql(
            "CREATE TABLE users (user_id INTEGER, email VARCHAR(200), plan VARCHAR(50))",
            f"INSERT INTO users VALUES {rows}",
        )

"""Deterministic message ids for sync deliveries.

Owns `message_id()`: the same change (mapping, record, checksum, kind) always gets the same id,
so a re-send after a crash is deduplicated by Segment. Must never include randomness or time.
"""

from __future__ import annotations

import hashlib
import json

PREFIX = "segprof-"


def message_id(mapping_id: str, identifier: str, checksum: str | None, kind: str) -> str:
    """`segprof-` + sha256 hex of the four parts (72 characters; Segment allows up to 100)."""
    canonical = json.dumps([str(mapping_id), str(identifier), checksum or "", str(kind)], ensure_ascii=False)
    return PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()

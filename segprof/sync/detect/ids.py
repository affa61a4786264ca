"""Message ids for sync deliveries: one id per change, fixed when the change is first recorded.

Owns `message_id()`. A change is one record's move to a new state (kind and checksum) as one run
of change detection first records it; that run's id is the change's *origin*, kept with the change
in the warehouse (the run's changes table, then the pending table while it is unacknowledged), so
every retry of the change — a failed batch, a cancelled run, a kill -9 between sending and
acknowledging, the next runs' retries of a failed record — derives the same id from the same
(mapping, origin, record, kind, checksum). A later change of the same record, even back to an
earlier value, a full resync, a rebaseline followed by changes, or a record deleted and created
again, is recorded by another run and so gets an id never used before: Segment drops a repeated
messageId for about a day (warehouse destinations behind it for good), so a reused id is a lost
change.

Must never include randomness or time of its own (the origin carries the run's uniqueness).
"""

from __future__ import annotations

import hashlib
import json

PREFIX = "segprof-"
_SEPARATOR = "\x1f"  # the identifier is the only free text, and only the parts after it are fixed


def message_id(
    mapping_id: str, identifier: str, checksum: str | None, kind: str, origin: str | None = None
) -> str:
    """`segprof-` + sha256 hex (72 characters; Segment allows up to 100).

    `origin` is the run that first recorded the change. Without one (a change recorded before
    origins were kept) the id is the one such a change was first sent under, so its retries still
    agree with it.
    """
    if origin is None:
        canonical = json.dumps(
            [str(mapping_id), str(identifier), checksum or "", str(kind)], ensure_ascii=False
        )
    else:
        canonical = _SEPARATOR.join(
            (str(mapping_id), str(origin), str(identifier), str(kind), checksum or "")
        )
    return PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()

"""The records a run has sent and not yet settled, and the acknowledgements waiting to be written.

Owns `InFlight`: for each record handed to the delivery, its kind, messageId, checksum and
message until the Tracking API acknowledges or fails it; and `Acks`, the delivered changes not
yet written to the warehouse. Records whose message Python built are held one by one; records
whose message the warehouse built are held as the Arrow rows they arrived in, so settling a
million of them costs a dictionary look-up per record and no Python object but its key.

Must never: settle a record twice (a record is taken out when it is settled), or hand out an
acknowledgement for a record that was not sent.
"""

from __future__ import annotations

import json
import threading
from array import array
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from segprof.sync.messages.sql_messages import MESSAGE_COLUMN, MESSAGE_ID_COLUMN
from segprof.warehouses.managed_schema import CHECKSUM_COLUMN, ID_COLUMN, KIND_COLUMN

if TYPE_CHECKING:
    import pyarrow as pa

# (kind, messageId, checksum, message as sent, or None when none was built)
Sent = tuple[str, str, str, "dict[str, Any] | None"]
_HELD = [ID_COLUMN, KIND_COLUMN, CHECKSUM_COLUMN, MESSAGE_ID_COLUMN, MESSAGE_COLUMN]


class _Rows:
    """Warehouse-built records of one Arrow batch: their rows, and where each key sits."""

    __slots__ = ("index", "rows")

    def __init__(self, keys: list[str], rows: pa.RecordBatch) -> None:
        self.rows = rows
        self.index = {key: i for i, key in enumerate(keys)}

    def sent(self, key: str) -> Sent:
        row = self.rows.slice(self.index[key], 1).to_pylist()[0]
        text = row[MESSAGE_COLUMN]
        message = json.loads(text) if text is not None else None
        return row[KIND_COLUMN], row[MESSAGE_ID_COLUMN], row[CHECKSUM_COLUMN], message


class Acks:
    """Delivered changes not yet written: (record id, checksum, kind), as rows or as Arrow tables."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []
        self.tables: list[pa.RecordBatch] = []
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def clear(self) -> None:
        self.rows, self.tables, self.count = [], [], 0

    def arrow(self) -> list[pa.Table]:
        """The Arrow-held acknowledgements as one table (one insert, not one per batch)."""
        if not self.tables:
            return []
        import pyarrow as pa

        return [pa.Table.from_batches(self.tables)]


class InFlight:
    """What was handed to the delivery, per record key, until a report settles it."""

    def __init__(self) -> None:
        self._one: dict[str, Sent] = {}
        self._built: dict[str, _Rows] = {}
        self._lock = threading.Lock()

    def add(self, key: str, sent: Sent) -> None:
        with self._lock:
            self._one[key] = sent

    def add_built(self, keys: list[str], rows: pa.RecordBatch) -> None:
        """Warehouse-built records: `rows` holds their id, kind, checksum, messageId and message."""
        held = _Rows(keys, rows.select(_HELD))
        with self._lock:
            self._built.update(dict.fromkeys(keys, held))

    def delivered(self, keys: Iterable[Any], acks: Acks) -> None:
        """Take these records out and add their changes to `acks` (keys not held are ignored)."""
        picked: dict[_Rows, list[int]] = {}
        rows: list[tuple[str, str, str]] = []
        with self._lock:
            one, built = self._one, self._built
            for key in keys:
                key = str(key)
                sent = one.pop(key, None)
                if sent is not None:
                    rows.append((key, sent[2], sent[0]))
                    continue
                held = built.pop(key, None)
                if held is not None:
                    picked.setdefault(held, []).append(held.index[key])
        acks.rows += rows
        acks.count += len(rows)
        for held, indices in picked.items():
            taken = held.rows.select([ID_COLUMN, CHECKSUM_COLUMN, KIND_COLUMN])
            if len(indices) != taken.num_rows:
                taken = _rows_at(taken, indices)
            acks.tables.append(_compact(taken))
            acks.count += len(indices)

    def get(self, key: str) -> Sent | None:
        """What was sent for this record, if it is still held."""
        with self._lock:
            sent = self._one.get(key)
            held = self._built.get(key) if sent is None else None
        return held.sent(key) if held is not None else sent

    def drop(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._one.pop(key, None)
                self._built.pop(key, None)


def _rows_at(rows: pa.RecordBatch, indices: list[int]) -> pa.RecordBatch:
    """The rows at these positions (a report acknowledges a batch's records in order, so usually a
    slice). The index array is laid out directly: Arrow's conversion of a Python list imports pandas."""
    first = indices[0]
    if indices[-1] - first + 1 == len(indices) and indices == list(range(first, first + len(indices))):
        return rows.slice(first, len(indices))
    import pyarrow as pa

    positions = pa.Array.from_buffers(pa.int64(), len(indices), [None, pa.py_buffer(array("q", indices))])
    return rows.take(positions)


def _compact(rows: pa.RecordBatch) -> pa.RecordBatch:
    """The acknowledged changes as `id, checksum, kind`, copied out of the warehouse's batch: a
    slice would keep the whole batch (messages and model columns) alive until the acknowledgements
    are written, some 50 MB per 100,000 records."""
    import pyarrow as pa

    columns = [pa.concat_arrays([column]) for column in rows.columns]  # concatenation copies
    return pa.RecordBatch.from_arrays(columns, names=["id", "checksum", "kind"])

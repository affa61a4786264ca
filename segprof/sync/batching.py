"""Packing messages into Tracking API `/v1/batch` bodies.

Owns: the HTTP API's size and count limits (32 KB per message; 475,000 bytes per request body,
envelope and `sentAt` included, which is Segment's own safety margin under 500 KB; 2,500 messages
per batch), the JSON encoding of messages, the per-message rejection reasons, and the exact bytes
of a body. Every message that goes in comes out either in exactly one `Batch` or as one
`Rejection`; nothing is dropped silently.

Must never: do I/O, see the write key, or reorder messages within a stream (reports follow input
order per batch, which keeps a caller's bookkeeping simple).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

try:  # orjson encodes a message about 2.5x faster than the stdlib; both give the same JSON.
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the installation
    _orjson = None

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 475_000
MAX_BATCH_COUNT = 2_500
MAX_MESSAGE_ID_CHARS = 100

_HEAD = b'{"batch":['
_SENT_AT = b'],"sentAt":"'
_TAIL = b'"}'
# A `sentAt` is always "YYYY-MM-DDTHH:MM:SS.mmmZ": 24 characters.
ENVELOPE_BYTES = len(_HEAD) + len(_SENT_AT) + 24 + len(_TAIL)


class Outgoing(NamedTuple):
    """One message to deliver and the caller's opaque key for the record it came from.

    `message` is a JSON object as a mapping, or already-encoded JSON bytes (e.g. built in SQL).
    """

    key: Any
    message: Mapping[str, Any] | bytes


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """Limits a body must respect; the defaults are Segment's."""

    max_batch_bytes: int = MAX_BATCH_BYTES
    max_batch_count: int = MAX_BATCH_COUNT
    max_message_bytes: int = MAX_MESSAGE_BYTES

    def __post_init__(self) -> None:
        if self.max_batch_count < 1:
            raise ValueError("max_batch_count must be at least 1")
        if self.max_batch_bytes < ENVELOPE_BYTES + self.max_message_bytes:
            raise ValueError("max_batch_bytes must hold the envelope plus one message of the largest size")


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message that cannot be sent at all, with the reason in words."""

    key: Any
    message_id: str | None
    reason: str


@dataclass(slots=True)
class Batch:
    """Encoded messages that fit in one request, in input order."""

    keys: list[Any] = field(default_factory=list)
    message_ids: list[str | None] = field(default_factory=list)
    parts: list[bytes] = field(default_factory=list)
    payload_bytes: int = 0  # encoded messages plus the commas between them

    def __len__(self) -> int:
        return len(self.parts)

    @property
    def body_bytes(self) -> int:
        return ENVELOPE_BYTES + self.payload_bytes

    def append(self, key: Any, message_id: str | None, part: bytes) -> None:
        if self.parts:
            self.payload_bytes += 1
        self.payload_bytes += len(part)
        self.keys.append(key)
        self.message_ids.append(message_id)
        self.parts.append(part)

    def body(self, sent_at: str) -> bytes:
        """The request body `{"batch":[...],"sentAt":"..."}` with this `sentAt`."""
        return b"".join((_HEAD, b",".join(self.parts), _SENT_AT, sent_at.encode("ascii"), _TAIL))

    def split(self) -> tuple[Batch, Batch]:
        """Two halves (the first one larger by at most one message), to isolate a bad message."""
        middle = (len(self.parts) + 1) // 2
        return self._slice(0, middle), self._slice(middle, len(self.parts))

    def _slice(self, start: int, stop: int) -> Batch:
        parts = self.parts[start:stop]
        return Batch(
            keys=self.keys[start:stop],
            message_ids=self.message_ids[start:stop],
            parts=parts,
            payload_bytes=sum(map(len, parts)) + max(len(parts) - 1, 0),
        )


def sent_at(now: dt.datetime | None = None) -> str:
    """`sentAt` as Segment's libraries write it: UTC, milliseconds, `Z`."""
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _default(value: Any) -> Any:
    # The same conversions Segment's Python library applies before sending.
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    raise TypeError(f"a value of type {type(value).__name__} cannot be sent as JSON")


if _orjson is not None:
    _dumps = _orjson.dumps
    _ORJSON_OPTIONS = _orjson.OPT_NON_STR_KEYS

    def encode_message(message: Mapping[str, Any]) -> bytes:
        """Compact JSON bytes of one message."""
        try:
            return _dumps(message)
        except TypeError:
            # Rare values (Decimal, sets, non-string keys): the slower path with conversions.
            return _dumps(message, default=_default, option=_ORJSON_OPTIONS)

else:  # pragma: no cover - depends on the installation
    _encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default)

    def encode_message(message: Mapping[str, Any]) -> bytes:
        """Compact JSON bytes of one message."""
        return _encoder.encode(message).encode("utf-8")


def _check(message: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(messageId, reason it cannot be sent or None) for a message given as a mapping."""
    message_id = message.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        return None, "message has no messageId (a stable messageId is required so resends are deduplicated)"
    if len(message_id) > MAX_MESSAGE_ID_CHARS:
        return message_id, (
            f"messageId is {len(message_id)} characters; Segment drops messages whose messageId is "
            f"over {MAX_MESSAGE_ID_CHARS}"
        )
    if not isinstance(message.get("type"), str):
        return message_id, "message has no type (every item of a /v1/batch request needs one)"
    return message_id, None


def encode(
    key: Any, message: Mapping[str, Any] | bytes, limits: BatchLimits
) -> tuple[str | None, bytes] | Rejection:
    """Encode one message, or say why it cannot be sent."""
    if isinstance(message, bytes | bytearray | memoryview):
        message_id, part = None, bytes(message)
    else:
        message_id, problem = _check(message)
        if problem is not None:
            return Rejection(key, message_id, problem)
        try:
            part = encode_message(message)
        except (TypeError, ValueError) as exc:
            return Rejection(key, message_id, f"message cannot be encoded as JSON: {exc}")
    if len(part) > limits.max_message_bytes:
        return Rejection(
            key,
            message_id,
            f"message is {len(part):,} bytes as JSON, over the Tracking API's limit of "
            f"{limits.max_message_bytes:,} bytes per message",
        )
    return message_id, part


def pack(
    items: Iterable[Outgoing | tuple[Any, Any]], limits: BatchLimits | None = None
) -> Iterator[Batch | Rejection]:
    """Turn (key, message) pairs into full batches and rejections, lazily and in input order.

    A batch is yielded as soon as the next message would not fit, so memory stays at one batch.
    This loop is the hot path of a sync (a few microseconds per message), hence written flat.
    """
    limits = limits or BatchLimits()
    budget = limits.max_batch_bytes - ENVELOPE_BYTES
    max_count = limits.max_batch_count
    max_message = limits.max_message_bytes
    dumps = encode_message
    keys: list[Any] = []
    ids: list[str | None] = []
    parts: list[bytes] = []
    size = -1  # bytes of the parts plus the commas between them, minus one comma
    try:
        for key, message in items:
            if type(message) is dict:
                message_id = message.get("messageId")
                if (
                    type(message_id) is not str
                    or not 0 < len(message_id) <= MAX_MESSAGE_ID_CHARS
                    or type(message.get("type")) is not str
                ):
                    encoded = encode(key, message, limits)  # says which rule it breaks
                    if type(encoded) is Rejection:
                        yield encoded
                        continue
                    message_id, part = encoded  # type: ignore[misc]
                else:
                    try:
                        part = dumps(message)
                    except (TypeError, ValueError) as exc:
                        yield Rejection(key, message_id, f"message cannot be encoded as JSON: {exc}")
                        continue
                    if len(part) > max_message:
                        yield encode(key, message, limits)  # type: ignore[misc]
                        continue
            else:
                encoded = encode(key, message, limits)
                if type(encoded) is Rejection:
                    yield encoded
                    continue
                message_id, part = encoded  # type: ignore[misc]
            grown = size + 1 + len(part)
            if grown > budget or len(parts) >= max_count:
                yield Batch(keys, ids, parts, size)
                keys, ids, parts = [], [], []
                grown = len(part)
            keys.append(key)
            ids.append(message_id)
            parts.append(part)
            size = grown
    except Exception:
        # The input failed part-way: what was read still goes out, then the error surfaces.
        if parts:
            yield Batch(keys, ids, parts, size)
        raise
    if parts:
        yield Batch(keys, ids, parts, size)

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
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, NamedTuple

try:  # orjson encodes messages 2.5-5x faster than the stdlib, with the same compact JSON.
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


class Encoded(NamedTuple):
    """Many messages already encoded as JSON bytes (e.g. built in SQL), with their records' keys.

    Packed in bulk: only each message's size is checked, so a run of finished messages costs
    the packer a few operations per message, not an encoding.
    """

    keys: list[Any]
    parts: list[bytes]


Item = Outgoing | Encoded | tuple[Any, Any]


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
    """Encoded messages that fit in one request, in input order.

    `parts` are comma-free JSON fragments: one message each, or several consecutive messages
    encoded together (a faster path); `counts` says how many messages each part holds. The
    original message objects are not kept, so they are freed as soon as they are encoded.
    """

    keys: list[Any] = field(default_factory=list)
    message_ids: list[str | None] = field(default_factory=list)
    parts: list[bytes] = field(default_factory=list)
    payload_bytes: int = 0  # encoded messages plus the commas between them
    counts: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def body_bytes(self) -> int:
        return ENVELOPE_BYTES + self.payload_bytes

    def body(self, sent_at: str) -> bytes:
        """The request body `{"batch":[...],"sentAt":"..."}` with this `sentAt`."""
        return b"".join((_HEAD, b",".join(self.parts), _SENT_AT, sent_at.encode("ascii"), _TAIL))

    def split(self) -> tuple[Batch, Batch]:
        """Two halves (the first one larger by at most one message), to isolate a bad message."""
        if len(self.parts) != len(self.keys):
            # Grouped parts back to one part per message (rare: only for a refused batch). Our
            # encoder's output reads back to the same values and so encodes to the same bytes.
            parts: list[bytes] = []
            for part, count in zip(self.parts, self.counts, strict=True):
                if count == 1:
                    parts.append(part)
                else:
                    parts.extend(map(encode_message, _loads(b"[" + part + b"]")))
            self.parts, self.counts = parts, [1] * len(parts)
        middle = (len(self.keys) + 1) // 2
        return self._slice(0, middle), self._slice(middle, len(self.keys))

    def _slice(self, start: int, stop: int) -> Batch:
        parts = self.parts[start:stop]
        return Batch(
            keys=self.keys[start:stop],
            message_ids=self.message_ids[start:stop],
            parts=parts,
            payload_bytes=sum(map(len, parts)) + max(len(parts) - 1, 0),
            counts=[1] * len(parts),
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


# Stdlib fallback: integers beyond 64 bits and float subclasses, which orjson refuses.
_stdlib = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default)

if _orjson is not None:
    _dumps = _orjson.dumps
    _loads = _orjson.loads
    _ORJSON_OPTIONS = _orjson.OPT_NON_STR_KEYS

    def encode_message(message: Mapping[str, Any]) -> bytes:
        """Compact JSON bytes of one message."""
        try:
            return _dumps(message)
        except TypeError:
            pass
        try:
            # Rare values (Decimal, sets, non-string keys): the slower path with conversions.
            return _dumps(message, default=_default, option=_ORJSON_OPTIONS)
        except TypeError:
            return _stdlib.encode(message).encode("utf-8")

    def encode_messages(messages: list[Mapping[str, Any]]) -> bytes:
        """Compact JSON array of messages (a few times faster than one call per message)."""
        return _dumps(messages)

else:  # pragma: no cover - depends on the installation
    _loads = json.loads

    def encode_message(message: Mapping[str, Any]) -> bytes:
        """Compact JSON bytes of one message."""
        return _stdlib.encode(message).encode("utf-8")

    def encode_messages(messages: list[Mapping[str, Any]]) -> bytes:
        """Compact JSON array of messages."""
        return _stdlib.encode(messages).encode("utf-8")


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


Encoder = Callable[[Mapping[str, Any]], bytes]


def encode(
    key: Any, message: Mapping[str, Any] | bytes, limits: BatchLimits, encoder: Encoder | None = None
) -> tuple[str | None, bytes] | Rejection:
    """Encode one message (with `encoder`, default `encode_message`), or say why it cannot be sent."""
    if isinstance(message, bytes | bytearray | memoryview):
        message_id, part = None, bytes(message)
    else:
        message_id, problem = _check(message)
        if problem is not None:
            return Rejection(key, message_id, problem)
        try:
            part = (encoder or encode_message)(message)
        except (TypeError, ValueError, OverflowError) as exc:
            return Rejection(key, message_id, f"message cannot be encoded as JSON: {exc}")
    if len(part) > limits.max_message_bytes:
        return Rejection(
            key,
            message_id,
            f"message is {len(part):,} bytes as JSON, over the Tracking API's limit of "
            f"{limits.max_message_bytes:,} bytes per message",
        )
    return message_id, part


_GROUP_BYTES = 16_384  # aim of one grouped encoding: half the per-message limit
_GROUP_MAX = 64


def _group_ids(messages: list[Any]) -> list[str] | None:
    """The messageIds if every message is a dict with a valid messageId and a type, else None.

    Written with map() so the checks run in C; any odd message sends the group down the
    per-message path, which says what is wrong with it.
    """
    if set(map(type, messages)) != {dict}:
        return None
    ids = list(map(dict.get, messages, repeat("messageId")))
    if set(map(type, ids)) != {str}:
        return None
    lengths = list(map(len, ids))
    if min(lengths) < 1 or max(lengths) > MAX_MESSAGE_ID_CHARS:
        return None
    if set(map(type, map(dict.get, messages, repeat("type")))) != {str}:
        return None
    return ids


class _Packer:
    """Fills one batch at a time; `add` returns the batch that was full, if any."""

    def __init__(self, limits: BatchLimits) -> None:
        self.budget = limits.max_batch_bytes - ENVELOPE_BYTES
        self.max_count = limits.max_batch_count
        self.batch = Batch()
        self.size = -1  # bytes of the parts plus the commas between them, minus one comma

    def add(self, keys: list[Any], ids: list[Any], part: bytes) -> Batch | None:
        batch = self.batch
        full = None
        grown = self.size + 1 + len(part)
        if batch.keys and (grown > self.budget or len(batch.keys) + len(keys) > self.max_count):
            batch.payload_bytes = self.size
            full = batch
            batch = self.batch = Batch()
            grown = len(part)
        batch.keys += keys
        batch.message_ids += ids
        batch.parts.append(part)
        batch.counts.append(len(keys))
        self.size = grown
        return full

    def add_encoded(
        self, keys: list[Any], parts: list[bytes], limits: BatchLimits
    ) -> Iterator[Batch | Rejection]:
        """Add finished messages in order: the batches they fill, and a rejection for each one over
        the per-message limit."""
        batch, size, count = self.batch, self.size, len(self.batch.keys)
        start = 0  # the first of `parts` not yet in `batch`
        for i, part in enumerate(parts):
            n = len(part)
            if n > limits.max_message_bytes:
                self._take(keys, parts, start, i, size)
                start = i + 1
                yield encode(keys[i], part, limits)  # the rejection, in its words
                continue
            if count and (size + 1 + n > self.budget or count >= self.max_count):
                self._take(keys, parts, start, i, size)
                batch.payload_bytes = size
                yield batch
                batch = self.batch = Batch()
                start, size, count = i, n, 1
            else:
                size, count = size + 1 + n, count + 1
        self._take(keys, parts, start, len(parts), size)

    def _take(self, keys: list[Any], parts: list[bytes], start: int, stop: int, size: int) -> None:
        """Put `parts[start:stop]` (whose size is already counted in `size`) into the batch."""
        self.size = size
        if stop > start:
            batch, n = self.batch, stop - start
            batch.keys += keys[start:stop]
            batch.message_ids += [None] * n
            batch.parts += parts[start:stop]
            batch.counts += [1] * n

    def room(self, average: int) -> int:
        """How many messages of about `average` bytes still fit in the current batch (at least 1)."""
        count = self.max_count - len(self.batch.keys)
        space = (self.budget - self.size - 1) // (average + 1)
        return max(1, min(count, space)) if count > 0 else self.max_count

    def rest(self) -> Batch | None:
        if not self.batch.keys:
            return None
        self.batch.payload_bytes = self.size
        return self.batch


def pack(
    items: Iterable[Item],
    limits: BatchLimits | None = None,
    encoder: Encoder | None = None,
) -> Iterator[Batch | Rejection]:
    """Turn (key, message) pairs and `Encoded` runs into full batches and rejections, lazily and
    in input order.

    A batch is yielded as soon as the next messages would not fit, so memory stays at one batch.
    This is the hot path of a sync: consecutive well-formed dict messages are encoded together
    in one call (each group stays under half the per-message limit, so no message in it can be
    over the limit); messages already encoded are only measured; anything else goes message by
    message. A caller's `encoder` (e.g. one that writes numbers exactly as JavaScript does) is
    used for every message instead.
    """
    limits = limits or BatchLimits()
    group_size = min(8, limits.max_batch_count)
    packer = _Packer(limits)
    source = iter(items)
    failure: Exception | None = None
    while failure is None:
        group: list[Any] = []
        try:  # what was read stays in `group` if the input fails part-way through it
            for entry in source:
                group.append(entry)
                # an `Encoded` run is a group of its own: reading past it would hold many in memory
                if len(group) >= group_size or type(entry) is Encoded:
                    break
        except Exception as exc:
            failure = exc
        if not group:
            break
        plain: list[Any] = []
        for entry in group:
            if type(entry) is Encoded:
                if plain:
                    group_size = yield from _pack_pairs(plain, packer, limits, encoder, group_size)
                    plain = []
                yield from packer.add_encoded(entry.keys, entry.parts, limits)
                group_size = min(_GROUP_MAX, packer.max_count)
            else:
                plain.append(entry)
        if plain:
            group_size = yield from _pack_pairs(plain, packer, limits, encoder, group_size)
    rest = packer.rest()
    if rest is not None:
        yield rest
    if failure is not None:
        # The input failed part-way: what was read went out above; now the error surfaces.
        raise failure


def _pack_pairs(
    group: list[Any], packer: _Packer, limits: BatchLimits, encoder: Encoder | None, group_size: int
) -> Generator[Batch | Rejection, None, int]:
    """Pack consecutive (key, message) pairs; returns the size of the next group to read."""
    messages = [m for _, m in group]
    if all(type(m) is bytes for m in messages):  # built elsewhere (in SQL): only measured
        yield from packer.add_encoded([k for k, _ in group], messages, limits)
        return min(_GROUP_MAX, packer.max_count)
    ids = _group_ids(messages) if encoder is None else None
    if ids is not None:
        try:
            encoded = encode_messages(messages)
        except (TypeError, ValueError):
            encoded = None
        if encoded is not None and len(encoded) - 2 <= limits.max_message_bytes:
            full = packer.add([k for k, _ in group], ids, encoded[1:-1])
            if full is not None:
                yield full
            average = max(len(encoded) // len(group), 1)
            # Next group: as large as pays, but no larger than what still fits, so
            # batches fill up to the count and (nearly) the byte limit.
            return min(_GROUP_MAX, max(1, _GROUP_BYTES // average), packer.room(average))
    for key, message in group:
        result = encode(key, message, limits, encoder)
        if type(result) is Rejection:
            yield result
            continue
        message_id, part = result  # type: ignore[misc]
        full = packer.add([key], [message_id], part)
        if full is not None:
            yield full
    return max(1, group_size // 2)

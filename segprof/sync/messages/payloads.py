"""Segment Profiles messages: one changed record + one mapping → the message Segment would send.

Owns: the composition of the steps Segment runs for one record (resolve the mapping → remove
empty values → schema validation → the action's `perform`), per mapping (`MessageBuilder`) and
per record (`build_message`), the hidden defaults below, and the per-message size check. The
steps live in `resolve` (mapping language), `payload_schema` (actions-core's framework steps),
`perform` (each action) and `actions` (fields and `PayloadError`).

The record is seen as the event `{"event": "new"|"updated"|"deleted", "__segment_id": <id text>,
"properties": {<every model column>}}`. Reverse ETL records carry no `timestamp`, `messageId`
or `context`: mappings that keep the hidden defaults (`$.timestamp`, `$.messageId`,
`$.context.consent`) resolve to nothing, so the Tracking API stamps its own time, the caller's
deterministic `default_message_id` is used, and `context.consent` is `{}`.

Must never: send anything, read a warehouse, or put `engage_space` (a write key) in a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from segprof.sync.messages.actions import ACTION_FIELDS, Field, PayloadError, action_id
from segprof.sync.messages.compiled import compile_transform
from segprof.sync.messages.encode import dumps, js_key_order
from segprof.sync.messages.js_values import UNDEFINED
from segprof.sync.messages.payload_schema import remove_empty_values, validate_schema
from segprof.sync.messages.perform import perform_group, perform_identify, perform_subscription, perform_track

MAX_MESSAGE_BYTES = 32 * 1024  # Tracking API limit per event (and analytics-python's MAX_MSG_SIZE)


def _drop_undefined(value: Any) -> Any:
    # What JSON.stringify does to the returned object: undefined entries vanish.
    if isinstance(value, dict):
        return {k: _drop_undefined(value[k]) for k in js_key_order(value) if value[k] is not UNDEFINED}
    if isinstance(value, list):
        return [None if v is UNDEFINED else _drop_undefined(v) for v in value]
    return value


class MessageBuilder:
    """One mapping's settings compiled once; `build(event)` gives that record's message.

    The same result as `build_message(action, settings, event, …)`, without re-reading the
    settings for every record (what the sync engine should use per mapping).
    """

    def __init__(self, action: str, settings: Mapping[str, Any], *, require_engage_space: bool = False):
        self.action = action_id(action)
        fields = ACTION_FIELDS[self.action]
        if "engage_space" not in settings and not require_engage_space:
            # The Profile Space write key is the delivery credential, not part of the record;
            # callers may leave it out of the settings (it never enters the message).
            fields = (
                *(f for f in fields if f.key != "engage_space"),
                Field("engage_space", "Profile Space", "string"),
            )
        self.fields = fields
        self._transform = compile_transform(settings)
        if self.action == "sendTrack":
            self._perform = perform_track
        elif self.action == "sendSubscription":
            self._perform = perform_subscription
        elif self.action == "sendGroup":
            self._perform = perform_group
        else:
            self._perform = perform_identify

    def payload(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The validated action payload (field key → value) Segment's `perform` would receive."""
        payload = remove_empty_values(self._transform(event), self.fields)
        return validate_schema(payload, self.fields)

    def build(self, event: Mapping[str, Any], default_message_id: str | None = None) -> dict[str, Any]:
        """The message for one record; `default_message_id` fills `messageId` when none is mapped."""
        message = self._perform(self.payload(event))
        if message.get("messageId", UNDEFINED) is UNDEFINED and default_message_id is not None:
            message["messageId"] = default_message_id
        return _drop_undefined(message)


def build_payload(
    action: str,
    settings: Mapping[str, Any],
    event: Mapping[str, Any],
    *,
    require_engage_space: bool = False,
) -> dict[str, Any]:
    """The validated action payload (field key → value) Segment's `perform` would receive."""
    return MessageBuilder(action, settings, require_engage_space=require_engage_space).payload(event)


def build_message(
    action: str,
    settings: Mapping[str, Any],
    event: Mapping[str, Any],
    default_message_id: str | None = None,
    *,
    require_engage_space: bool = False,
) -> dict[str, Any]:
    """The message Segment's Segment Profiles destination returns in `{batch: [message]}`.

    `action` is Segment's key (`sendIdentify`, …) or ours (`send_identify`, …); `settings` the
    subscription settings in Segment's mapping language; `event` the record's event (module doc).
    `default_message_id` fills `messageId` when the mapping maps none. Raises `PayloadError` for a
    record Segment would reject and `MappingError` for settings it cannot resolve.
    Segment requires `engage_space` in the settings; pass `require_engage_space=True` to check
    that too (by default settings without it are accepted: it is the write key used to send).
    For many records of one mapping, build a `MessageBuilder` once instead.
    """
    builder = MessageBuilder(action, settings, require_engage_space=require_engage_space)
    return builder.build(event, default_message_id)


def message_size(message: Mapping[str, Any]) -> int:
    """Bytes of the message as compact UTF-8 JSON, as it travels inside a batch."""
    return len(dumps(message))


def check_message_size(
    message: Mapping[str, Any], limit: int = MAX_MESSAGE_BYTES, *, record_id: str | None = None
) -> int:
    """The message's size, or `PayloadError('MESSAGE_TOO_LARGE', …)` when over the 32 KB limit.

    `record_id` (the record's identifier) is named in the error so the user can find the row.
    """
    size = message_size(message)
    if size > limit:
        who = f"record {record_id!r}: " if record_id is not None else ""
        raise PayloadError(
            "MESSAGE_TOO_LARGE",
            f"{who}message is {size} bytes as JSON, over the Tracking API limit of {limit} bytes per event",
            name="MessageTooLarge",
        )
    return size


__all__ = [
    "MAX_MESSAGE_BYTES",
    "MessageBuilder",
    "build_message",
    "build_payload",
    "check_message_size",
    "message_size",
]

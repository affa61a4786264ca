"""The Segment Profiles actions' fields, as Segment declares them, and the error they raise.

Owns: the four actions' field schemas (keys, labels, types, required, allowNull, in Segment's
order), Segment's action keys for the names our YAML uses (`send_identify` → `sendIdentify`),
and `PayloadError`, the error every step of building a message raises for a record Segment's
destination would reject (with Segment's texts).

Must never: resolve a mapping, build or send a message, or read a warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from segprof.errors import SegprofError

FieldType = Literal["string", "datetime", "object"]


@dataclass(frozen=True)
class Field:
    """One action field as Segment declares it."""

    key: str
    label: str
    type: FieldType
    required: bool = False
    allow_null: bool = False

    @property
    def json_types(self) -> tuple[str, ...]:
        base: tuple[str, ...] = ("string", "number") if self.type == "datetime" else (self.type,)
        return (*base, "null") if self.allow_null else base


class PayloadError(SegprofError):
    """A record that Segment's destination would reject; never retried.

    `code` is `PAYLOAD_VALIDATION_FAILED` for the action's own checks (Segment's
    `PayloadValidationError`) and `SCHEMA_VALIDATION_FAILED` for field type and required-field
    errors (Segment's `AggregateAjvError`); `name` is Segment's error class; `status` the HTTP
    status Segment reports (400). `MESSAGE_TOO_LARGE` comes from `check_message_size`.
    """

    def __init__(self, code: str, message: str, *, name: str = "PayloadValidationError", status: int = 400):
        super().__init__(message)
        self.code = code
        self.name = name
        self.status = status

    def __repr__(self) -> str:
        return f"PayloadError({self.code!r}, {self.message!r})"


_ENGAGE_SPACE = Field("engage_space", "Profile Space", "string", required=True)
_USER_ID = Field("user_id", "User ID", "string")
_ANONYMOUS_ID = Field("anonymous_id", "Anonymous ID", "string")
_GROUP_ID = Field("group_id", "Group ID", "string")
_TRAITS = Field("traits", "Traits", "object")
_TIMESTAMP = Field("timestamp", "Timestamp", "datetime")
_MESSAGE_ID = Field("message_id", "MessageId", "string")
_EVENT_NAME = Field("event_name", "Event Name", "string", required=True)
_PROPERTIES = Field("properties", "Properties", "object")
_CONSENT = Field("consent", "Consent", "object")


def _status(key: str, label: str) -> Field:
    return Field(key, label, "string", allow_null=True)


ACTION_FIELDS: dict[str, tuple[Field, ...]] = {
    "sendIdentify": (
        _ENGAGE_SPACE, _USER_ID, _ANONYMOUS_ID, _GROUP_ID, _TRAITS, _TIMESTAMP, _MESSAGE_ID, _CONSENT,
    ),
    "sendGroup": (
        _ENGAGE_SPACE, _USER_ID, _ANONYMOUS_ID, Field("group_id", "Group ID", "string", required=True),
        _TRAITS, _TIMESTAMP, _MESSAGE_ID, _CONSENT,
    ),
    "sendTrack": (
        _ENGAGE_SPACE, _USER_ID, _ANONYMOUS_ID, _TIMESTAMP, _EVENT_NAME, _GROUP_ID, _PROPERTIES, _MESSAGE_ID,
        _CONSENT,
    ),
    "sendSubscription": (
        _ENGAGE_SPACE, _USER_ID, _ANONYMOUS_ID,
        Field("email", "Email", "string"),
        _status("email_subscription_status", "Email Subscription Status"),
        Field("subscription_groups", "Email Subscription Groups", "object"),
        Field("phone", "Phone", "string"),
        _status("sms_subscription_status", "SMS Subscription Status"),
        _status("whatsapp_subscription_status", "WhatsApp Subscription Status"),
        Field("android_push_token", "Android Push Token", "string"),
        _status("android_push_subscription_status", "Android Push Subscription Status"),
        Field("ios_push_token", "Ios Push Token", "string"),
        _status("ios_push_subscription_status", "Ios Push Subscription Status"),
        _TRAITS, _TIMESTAMP, _MESSAGE_ID, _CONSENT,
    ),
}  # fmt: skip

ACTION_ALIASES = {
    "send_identify": "sendIdentify",
    "send_group": "sendGroup",
    "send_track": "sendTrack",
    "send_subscription": "sendSubscription",
}


def action_id(action: str) -> str:
    """Segment's action key for our YAML name or Segment's own (`send_track` → `sendTrack`)."""
    key = ACTION_ALIASES.get(action, action)
    if key not in ACTION_FIELDS:
        known = ", ".join([*ACTION_ALIASES, *ACTION_FIELDS])
        raise SegprofError(f"unknown Segment Profiles action {action!r} (known: {known})")
    return key


__all__ = [
    "ACTION_ALIASES",
    "ACTION_FIELDS",
    "Field",
    "FieldType",
    "PayloadError",
    "action_id",
]

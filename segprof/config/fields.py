"""Mapping fields: the forms a field may take in YAML and the field keys each action accepts.

Owns the Segment Profiles action field catalogue (keys per action, object fields, subscription
status words) and the pydantic forms of a field. Must never resolve a field against data: that is
the sync engine's job, through the compiled settings.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    field_validator,
)
from pydantic import Field as PydField
from pydantic_core import PydanticCustomError

ACTIONS = ("send_identify", "send_group", "send_track", "send_subscription")
ACTION_SLUGS = {
    "send_identify": "sendIdentify",
    "send_group": "sendGroup",
    "send_track": "sendTrack",
    "send_subscription": "sendSubscription",
}
_IDENTIFY_KEYS = ("user_id", "anonymous_id", "group_id", "traits", "timestamp", "message_id", "consent")
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "send_identify": _IDENTIFY_KEYS,
    "send_group": _IDENTIFY_KEYS,
    "send_track": (
        "user_id",
        "anonymous_id",
        "timestamp",
        "event_name",
        "group_id",
        "properties",
        "message_id",
        "consent",
    ),
    "send_subscription": (
        "user_id",
        "anonymous_id",
        "email",
        "email_subscription_status",
        "subscription_groups",
        "phone",
        "sms_subscription_status",
        "whatsapp_subscription_status",
        "android_push_token",
        "android_push_subscription_status",
        "ios_push_token",
        "ios_push_subscription_status",
        "traits",
        "timestamp",
        "message_id",
        "consent",
    ),
}
OBJECT_FIELDS = ("traits", "properties", "subscription_groups")
# channel status field → the identifier field it needs (Segment's validateSubscriptions)
STATUS_IDENTIFIER = {
    "email_subscription_status": "email",
    "sms_subscription_status": "phone",
    "whatsapp_subscription_status": "phone",
    "android_push_subscription_status": "android_push_token",
    "ios_push_subscription_status": "ios_push_token",
}
SUBSCRIPTION_IDENTIFIERS = ("email", "phone", "android_push_token", "ios_push_token")
# Segment's getStatus: trimmed and lower-cased; anything else becomes INVALID
STATUS_WORDS = {
    "true": "SUBSCRIBED",
    "subscribed": "SUBSCRIBED",
    "false": "UNSUBSCRIBED",
    "unsubscribed": "UNSUBSCRIBED",
    "did_not_subscribe": "DID_NOT_SUBSCRIBE",
    "did-not-subscribe": "DID_NOT_SUBSCRIBE",
}
TEMPLATE_REFERENCE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def normalize_status(value: Any) -> str | None:
    """Segment's status for a literal: None when empty/null (no entry), INVALID when unknown."""
    if value is None:
        return None
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    text = text.strip().lower()
    if not text:
        return None
    return STATUS_WORDS.get(text, "INVALID")


class _Field(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class ColumnField(_Field):
    """`{column: email}` (optionally with a per-field `sync_nulls`)."""

    column: StrictStr
    sync_nulls: StrictBool | None = None


class ValueField(_Field):
    """`{value: 42}`: a literal string, number, boolean or null."""

    value: StrictBool | StrictInt | StrictFloat | StrictStr | None


class TemplateField(_Field):
    """`{template: "acct-{{account_id}}"}`: a template over model columns."""

    template: StrictStr

    def columns(self) -> list[str]:
        return [name for name in TEMPLATE_REFERENCE.findall(self.template) if name]


class IdentifierField(_Field):
    """`{identifier: true}`: the record's unique identifier (`$.__segment_id`)."""

    identifier: bool = PydField(json_schema_extra={"const": True})

    @field_validator("identifier", mode="before")
    @classmethod
    def _only_true(cls, value: Any) -> bool:
        if value is not True:
            raise PydanticCustomError("field.invalid", "`identifier` can only be true")
        return True


def _scalar_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "name"
    if isinstance(value, BaseModel):
        return {ColumnField: "column", ValueField: "value", TemplateField: "template"}.get(
            type(value), "identifier"
        )
    if isinstance(value, dict):
        for key in ("column", "value", "template", "identifier"):
            if key in value:
                return key
    return None


_SCALAR_ERROR = "a field is a column name, {column: …}, {value: …}, {template: …} or {identifier: true}"

ScalarField = Annotated[
    Annotated[StrictStr, Tag("name")]
    | Annotated[ColumnField, Tag("column")]
    | Annotated[ValueField, Tag("value")]
    | Annotated[TemplateField, Tag("template")]
    | Annotated[IdentifierField, Tag("identifier")],
    Discriminator(_scalar_tag, custom_error_type="field.invalid", custom_error_message=_SCALAR_ERROR),
]


def _object_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "column"
    if isinstance(value, dict):
        return "map"
    return None


ObjectField = Annotated[
    Annotated[StrictStr, Tag("column")] | Annotated[dict[str, ScalarField], Tag("map")],
    Discriminator(
        _object_tag,
        custom_error_type="field.invalid",
        custom_error_message="an object field is a column holding an object, or a map of key → field",
    ),
]


class Fields(BaseModel):
    """Action field key → field. Which keys an action accepts is checked against `ACTION_FIELDS`."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    user_id: ScalarField | None = None
    anonymous_id: ScalarField | None = None
    group_id: ScalarField | None = None
    event_name: ScalarField | None = None
    email: ScalarField | None = None
    email_subscription_status: ScalarField | None = None
    subscription_groups: ObjectField | None = None
    phone: ScalarField | None = None
    sms_subscription_status: ScalarField | None = None
    whatsapp_subscription_status: ScalarField | None = None
    android_push_token: ScalarField | None = None
    android_push_subscription_status: ScalarField | None = None
    ios_push_token: ScalarField | None = None
    ios_push_subscription_status: ScalarField | None = None
    traits: ObjectField | None = None
    properties: ObjectField | None = None
    timestamp: ScalarField | None = None
    message_id: ScalarField | None = None
    consent: ScalarField | None = None

    def given(self) -> dict[str, Any]:
        """The fields the user wrote, in the order the action lists them, as field objects."""
        return {
            name: getattr(self, name) for name in type(self).model_fields if name in self.model_fields_set
        }


ALL_FIELD_KEYS = tuple(Fields.model_fields)


def field_columns(field: Any) -> list[str]:
    """Model columns a field reads (a column name, `{column}`, or the columns of a template)."""
    if isinstance(field, str):
        return [field]
    if isinstance(field, ColumnField):
        return [field.column]
    if isinstance(field, TemplateField):
        return field.columns()
    return []

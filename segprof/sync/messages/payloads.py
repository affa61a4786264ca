"""Segment Profiles messages: one changed record + one mapping → the message Segment would send.

Owns: the four actions' field schemas (keys, labels, types, required, allowNull, in Segment's
order), the framework steps Segment's actions-core runs before an action (resolve the mapping →
remove empty values → schema validation with coercion and removal of undeclared fields) and each
action's `perform` (`sendIdentify`, `sendGroup`, `sendTrack`, `sendSubscription`), the errors
they raise (`PayloadError`, with Segment's texts), and the per-message size check.

The record is seen as the event `{"event": "new"|"updated"|"deleted", "__segment_id": <id text>,
"properties": {<every model column>}}`. Reverse ETL records carry no `timestamp`, `messageId`
or `context`: mappings that keep the hidden defaults (`$.timestamp`, `$.messageId`,
`$.context.consent`) resolve to nothing, so the Tracking API stamps its own time, the caller's
deterministic `default_message_id` is used, and `context.consent` is `{}`.

Must never: send anything, read a warehouse, or put `engage_space` (a write key) in a message.
"""

from __future__ import annotations

import decimal
import email.utils
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from segprof.errors import SegprofError
from segprof.sync.messages.encode import dumps, js_key_order
from segprof.sync.messages.js_numbers import js_number_str
from segprof.sync.messages.resolve import UNDEFINED, compile_transform, js_string, js_trim, js_truthy

MAX_MESSAGE_BYTES = 32 * 1024  # Tracking API limit per event (and analytics-python's MAX_MSG_SIZE)

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


def _payload_error(message: str) -> PayloadError:
    return PayloadError("PAYLOAD_VALIDATION_FAILED", message)


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


# --- framework steps ---------------------------------------------------------------------------


def remove_empty_values(payload: dict[str, Any], fields: tuple[Field, ...]) -> dict[str, Any]:
    """actions-core `removeEmptyValues` at the root: null (unless allowed) and '' are dropped.

    Objects and arrays are returned untouched (none of these fields declares inner properties).
    """
    by_key = {f.key: f for f in fields}
    out: dict[str, Any] = {}
    for key, value in payload.items():
        field = by_key.get(key)
        if field is not None:
            if value is None and not field.allow_null:
                continue
            if value == "" and isinstance(value, str):
                continue
        out[key] = value
    return out


def _human_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float | decimal.Decimal):
        return "a number"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return "undefined"


def _humanize_types(types: tuple[str, ...]) -> str:
    if len(types) == 1:
        return types[0]
    if len(types) == 2:
        return f"{types[0]} or {types[1]}"
    return f"{', '.join(types[:-1])}, or {types[-1]}"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool)


def _matches(value: Any, types: tuple[str, ...]) -> bool:
    for t in types:
        if (
            (t == "string" and isinstance(value, str))
            or (t == "number" and _is_number(value))
            or (t == "null" and value is None)
            or (t == "object" and isinstance(value, Mapping))
        ):
            return True
    return False


_UNCOERCED = object()


def _coerce(value: Any, types: tuple[str, ...]) -> Any:
    """AJV `coerceTypes: 'array'` for a value whose type does not match; `_UNCOERCED` if it can't."""
    for t in types:
        if t == "string":
            if isinstance(value, bool) or _is_number(value):
                return js_string(value)
            if value is None:
                return ""
        elif t == "number":
            if isinstance(value, bool):
                return int(value)
            if value is None:
                return 0
            if isinstance(value, str) and value and _js_number_text(value) is not None:
                return _js_number_text(value)
        elif t == "null" and (value == "" or (value == 0 and not isinstance(value, bool)) or value is False):
            return None
    return _UNCOERCED


def _js_number_text(text: str) -> float | int | None:
    # JavaScript `+text` for a string that equals its own numeric value loosely (`text == +text`).
    stripped = js_trim(text)
    try:
        number = float(stripped) if stripped else 0.0
    except ValueError:
        return None
    if math.isnan(number):
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


@dataclass
class _AjvError:
    message: str


def _type_error(field: Field, data: Any) -> _AjvError:
    expected = _humanize_types(field.json_types)
    return _AjvError(f"{field.label} must be {_article(expected)} {expected} but it was {_human_type(data)}.")


def validate_schema(payload: dict[str, Any], fields: tuple[Field, ...]) -> dict[str, Any]:
    """AJV as actions-core configures it: coerce, drop undeclared keys, check required and formats.

    Raises `PayloadError` (`SCHEMA_VALIDATION_FAILED`) with every error joined, as Segment does.
    """
    errors: list[_AjvError] = []
    for field in fields:
        if field.required and field.key not in payload:
            errors.append(_AjvError(f"The root value is missing the required field '{field.key}'."))
    out: dict[str, Any] = {}
    declared = {f.key for f in fields}
    for field in fields:
        if field.key not in payload:
            continue
        value = payload[field.key]
        types = field.json_types
        if not _matches(value, types):
            coerced: Any = _UNCOERCED
            if isinstance(value, list | tuple) and len(value) == 1 and field.type != "object":
                value = value[0]
                # AJV's generated check for a lone element only works for single-type fields; for
                # union types (datetime, allowNull) the element goes on to plain coercion.
                if len(types) == 1 and _matches(value, types):
                    coerced = value
            if coerced is _UNCOERCED and field.type != "object":
                coerced = _coerce(value, types)
            if coerced is _UNCOERCED:
                errors.append(_type_error(field, value))
                continue
            value = coerced
        if field.type == "datetime" and isinstance(value, str) and not is_date_like(value):
            errors.append(_AjvError(f"{field.label} must be a valid date-like string but it was not."))
            continue
        out[field.key] = value
    if errors:
        raise PayloadError(
            "SCHEMA_VALIDATION_FAILED", " ".join(e.message for e in errors), name="AggregateAjvError"
        )
    # Keep the payload's own key order for the declared keys (removeAdditional drops the rest).
    return {k: out[k] for k in payload if k in declared and k in out}


# --- date-like format --------------------------------------------------------------------------

_DAYJS_PARSE = re.compile(
    r"^(\d{4})[-/]?(\d{1,2})?[-/]?(\d{0,2})[Tt\s]*(\d{1,2})?:?(\d{1,2})?:?(\d{1,2})?[.:]?(\d+)?$"
)
_ISO = re.compile(
    r"^([+-]\d{6}|\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2}|UTC|GMT|[ECMP][SD]T)?$",
    re.IGNORECASE,
)
_MAX_EPOCH_MS = 8.64e15
_LEGACY_WORDS = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    "sun", "mon", "tue", "wed", "thu", "fri", "sat", "am", "pm", "utc", "gmt", "ut", "z", "t",
    "est", "edt", "cst", "cdt", "mst", "mdt", "pst", "pdt",
}  # fmt: skip
_TOKEN = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")


def is_date_like(text: str) -> bool:
    """actions-core's `date-like` format: dayjs-parseable, or a numeric string read as unix seconds.

    dayjs falls back to JavaScript's `Date` parser for text it does not recognise itself; that
    parser's legacy forms are approximated (ISO-8601, RFC 2822, month-name dates).
    """
    number = _canonical_js_number(text)
    if number is not None:
        return math.isfinite(number) and abs(number * 1000) <= _MAX_EPOCH_MS
    if not text.upper().endswith("Z") and _DAYJS_PARSE.match(text):
        return True
    return _js_date_parses(text)


def _canonical_js_number(text: str) -> float | None:
    # `String(Number(text)) === text`
    stripped = js_trim(text)
    try:
        number = float(stripped) if stripped else 0.0
    except ValueError:
        return None
    if stripped.lower() in {"inf", "+inf", "-inf", "infinity", "+infinity", "nan"} and stripped not in {
        "Infinity",
        "-Infinity",
    }:
        return None
    if js_number_str(number) != text:
        return None
    return number


def _js_date_parses(text: str) -> bool:
    text = js_trim(text)
    iso = _ISO.match(text)
    if iso:
        if iso.group(7) and _T_SEPARATOR.search(text) and text[iso.start(7) - 1].isspace():
            return False  # `2024-05-01T10:00:00 +00:00`: neither the ISO nor the legacy parser takes it
        month = int(iso.group(2) or 1)
        day = int(iso.group(3) or 1)
        hour = int(iso.group(4) or 0)
        minute = int(iso.group(5) or 0)
        second = int(iso.group(6) or 0)
        return 1 <= month <= 12 and 1 <= day <= 31 and hour <= 24 and minute < 60 and second < 60
    if email.utils.parsedate_tz(text) is not None:
        return True
    if _SIGNED_DIGITS.match(text):
        return True  # the legacy parser reads a short bare number as a month or a year
    numeric = _NUMERIC_DATE.match(text)
    if numeric:
        first, second = int(numeric.group(1)), int(numeric.group(2))
        if len(numeric.group(1)) == 4:
            return 1 <= second <= 12
        return 1 <= first <= 12 and 1 <= second <= 31
    return _legacy_words_parse(text)


def _legacy_words_parse(text: str) -> bool:
    # JavaScript's legacy Date parser: unknown words before the first number are skipped; after
    # it, only month/day names, AM/PM and zone names may appear; a word glued to digits fails.
    seen_number = False
    numbers = 0
    month_word = False
    for chunk in _CHUNK.findall(text):
        if chunk.isdigit():
            seen_number = True
            numbers += 1
        elif chunk.isalpha():
            word = chunk.lower()
            is_month = len(word) >= 3 and any(m.startswith(word) for m in _MONTHS)
            month_word = month_word or is_month
            if (
                not (is_month or word in _LEGACY_WORDS or any(d.startswith(word) for d in _DAYS))
                and seen_number
            ):
                return False
        else:
            return False
    if ":" in text and numbers <= 2 and not month_word:
        return False  # a time without a date
    if not month_word and ("." in text or (":" not in text and _AM_PM.search(text))):
        return False
    return seen_number


_T_SEPARATOR = re.compile(r"\d[Tt]\d")
_SIGNED_DIGITS = re.compile(r"^[+-]?\d{1,6}$")
_NUMERIC_DATE = re.compile(r"^(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})(?:[ ]+\d{1,2}:\d{2}(?::\d{2})?)?$")
_CHUNK = re.compile(r"[A-Za-z0-9]+")
_AM_PM = re.compile(r"\b[ap]m\b", re.IGNORECASE)
_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
)  # fmt: skip
_MONTH_PREFIXES = {m[:3] for m in _MONTHS}


# --- perform -----------------------------------------------------------------------------------

_MISSING_IDS = "Either `Anonymous ID` or `User ID` must be defined."


def _consent(payload: Mapping[str, Any]) -> dict[str, Any]:
    consent = payload.get("consent")
    if consent is None:
        return {}
    prefs = consent.get("categoryPreferences", UNDEFINED) if isinstance(consent, Mapping) else UNDEFINED
    if isinstance(prefs, Mapping):
        values = list(prefs.values())
    elif isinstance(prefs, list | tuple):
        values = list(prefs)
    else:
        return {}
    if all(isinstance(v, bool) for v in values):
        return dict(consent)
    return {}


def _require_user(payload: Mapping[str, Any]) -> None:
    if not js_truthy(payload.get("anonymous_id", UNDEFINED)) and not js_truthy(
        payload.get("user_id", UNDEFINED)
    ):
        raise _payload_error(_MISSING_IDS)


def _perform_identify_or_group(payload: Mapping[str, Any], kind: str) -> dict[str, Any]:
    _require_user(payload)
    return {
        "userId": payload.get("user_id", UNDEFINED),
        "anonymousId": payload.get("anonymous_id", UNDEFINED),
        "groupId": payload.get("group_id", UNDEFINED),
        "messageId": payload.get("message_id", UNDEFINED),
        "traits": dict(payload.get("traits") or {}),
        "timestamp": payload.get("timestamp", UNDEFINED),
        "integrations": {"All": False},
        "type": kind,
        "context": {"consent": _consent(payload)},
    }


def _perform_track(payload: Mapping[str, Any]) -> dict[str, Any]:
    _require_user(payload)
    return {
        "userId": payload.get("user_id", UNDEFINED),
        "anonymousId": payload.get("anonymous_id", UNDEFINED),
        "timestamp": payload.get("timestamp", UNDEFINED),
        "event": payload.get("event_name", UNDEFINED),
        "messageId": payload.get("message_id", UNDEFINED),
        "integrations": {"All": False},
        "properties": dict(payload.get("properties") or {}),
        "context": {"consent": _consent(payload)},
        "type": "track",
    }


_STATUS_WORDS = {
    "true": "SUBSCRIBED",
    "subscribed": "SUBSCRIBED",
    "false": "UNSUBSCRIBED",
    "unsubscribed": "UNSUBSCRIBED",
    "did-not-subscribe": "DID_NOT_SUBSCRIBE",
    "did_not_subscribe": "DID_NOT_SUBSCRIBE",
}
INVALID_STATUS = "INVALID"

# (identifier field, externalIds type, status fields, channel types, carries groups)
_CHANNELS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], bool], ...] = (
    ("email", "email", ("email_subscription_status",), ("EMAIL",), True),
    (
        "phone",
        "phone",
        ("sms_subscription_status", "whatsapp_subscription_status"),
        ("SMS", "WHATSAPP"),
        False,
    ),
    (
        "android_push_token",
        "android.push_token",
        ("android_push_subscription_status",),
        ("ANDROID_PUSH",),
        False,
    ),
    ("ios_push_token", "ios.push_token", ("ios_push_subscription_status",), ("IOS_PUSH",), False),
)
_STATUS_FIELDS = (
    "email_subscription_status",
    "sms_subscription_status",
    "whatsapp_subscription_status",
    "ios_push_subscription_status",
    "android_push_subscription_status",
)


def subscription_status(value: Any) -> str | None:
    """Segment's `getStatus`: trimmed, case-insensitive; unknown words → `INVALID`; empty → None."""
    if value is None or value is UNDEFINED:
        return None
    word = js_trim(value).lower()
    if not word:
        return None
    return _STATUS_WORDS.get(word, INVALID_STATUS)


def _validate_subscriptions(p: Mapping[str, Any]) -> None:
    def t(key: str) -> bool:
        return js_truthy(p.get(key, UNDEFINED))

    if not (t("email") or t("phone") or t("android_push_token") or t("ios_push_token")):
        raise _payload_error(
            "Either `Email` or `Phone` or `Android_Push_Token` or `Ios_Push_Token` must be defined."
        )
    if not any(t(k) for k in _STATUS_FIELDS):
        raise _payload_error(
            "If any of `Email`, `Phone`, `Android_Push_Token` or `Ios_Push_Token` is present, "
            "`Email_Subscription` or `Sms_Subscription` or `Whatsapp_Subscription` or "
            "`Ios_Push_Subscription` or `Android_Push_Subscription` must be defined."
        )
    if not t("email") and t("email_subscription_status"):
        raise _payload_error("A valid `Email` must be defined for `Email_Subscription`.")
    groups = p.get("subscription_groups", UNDEFINED)
    if js_truthy(groups) and not t("email_subscription_status") and len(groups) > 0:
        raise _payload_error("`Email_Subscription` must be defined if Subscription Groups are present.")
    if not t("phone") and (t("sms_subscription_status") or t("whatsapp_subscription_status")):
        raise _payload_error(
            "A valid `Phone` must be defined for `Sms_Subscription` or `Whatsapp_Subscription`."
        )
    if not t("android_push_token") and t("android_push_subscription_status"):
        raise _payload_error("A valid `Android_Push_Token` must be defined for `Android_Push_Subscription`.")
    if not t("ios_push_token") and t("ios_push_subscription_status"):
        raise _payload_error("A valid `Ios_Push_Token` must be defined for `Ios_Push_Subscription`.")
    if all(t(k) and subscription_status(p[k]) == INVALID_STATUS for k in _STATUS_FIELDS):
        raise _payload_error(
            "Invalid Subscription Status in `Email_Subscription` or `Sms_Subscription` or "
            "`Whatsapp_Subscription` or `Android_Push_Subscription` or `Ios_Push_Subscription`."
        )


def _perform_subscription(p: Mapping[str, Any]) -> dict[str, Any]:
    _validate_subscriptions(p)
    external_ids: list[dict[str, Any]] = []
    for field, id_type, _statuses, _types, _groups in _CHANNELS:
        ident = p.get(field, UNDEFINED)
        if ident is not UNDEFINED and ident is not None:
            external_ids.append({"id": ident, "type": id_type, "collection": "users", "encoding": "none"})
    subscriptions: list[dict[str, Any]] = []
    for field, _id_type, status_fields, channel_types, carries_groups in _CHANNELS:
        ident = p.get(field, UNDEFINED)
        for status_field, channel_type in zip(status_fields, channel_types, strict=True):
            status = subscription_status(p.get(status_field, UNDEFINED))
            if status is None:
                continue
            entry: dict[str, Any] = {"key": ident, "type": channel_type, "status": status}
            groups = p.get("subscription_groups", UNDEFINED)
            if carries_groups and isinstance(groups, Mapping) and len(groups) > 0:
                entry["groups"] = [
                    {"name": str(name), "status": _or_undefined(subscription_status(js_string(groups[name])))}
                    for name in js_key_order(groups)
                    if groups[name] is not UNDEFINED
                ]
            subscriptions.append(entry)
    return {
        "userId": p.get("user_id", UNDEFINED),
        "anonymousId": p.get("anonymous_id", UNDEFINED),
        "traits": dict(p.get("traits") or {}),
        "context": {
            "messaging_subscriptions": subscriptions,
            "externalIds": external_ids,
            "messaging_subscriptions_retl": True,
            "consent": _consent(p),
        },
        "timestamp": p.get("timestamp", UNDEFINED),
        "integrations": {"All": False},
        "messageId": p.get("message_id", UNDEFINED),
        "type": "identify",
    }


def _or_undefined(value: Any) -> Any:
    return UNDEFINED if value is None else value


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
            self._perform = _perform_track
        elif self.action == "sendSubscription":
            self._perform = _perform_subscription
        elif self.action == "sendGroup":
            self._perform = _perform_group
        else:
            self._perform = _perform_identify

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


def _perform_identify(payload: Mapping[str, Any]) -> dict[str, Any]:
    return _perform_identify_or_group(payload, "identify")


def _perform_group(payload: Mapping[str, Any]) -> dict[str, Any]:
    return _perform_identify_or_group(payload, "group")


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
    "ACTION_FIELDS",
    "MAX_MESSAGE_BYTES",
    "Field",
    "MessageBuilder",
    "PayloadError",
    "action_id",
    "build_message",
    "build_payload",
    "check_message_size",
    "is_date_like",
    "message_size",
    "subscription_status",
]

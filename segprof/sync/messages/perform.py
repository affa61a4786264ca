"""Each Segment Profiles action's `perform`: a validated payload → the message Segment sends.

Owns: `sendIdentify`, `sendGroup`, `sendTrack` and `sendSubscription` as Segment's destination
implements them (the checks each action makes, with Segment's texts; consent; the subscription
channels, statuses and external ids), and `subscription_status`, Segment's `getStatus`.

Must never: resolve a mapping, validate field types (the framework steps did), send anything, or
put `engage_space` (a write key) in a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from segprof.sync.messages.actions import PayloadError
from segprof.sync.messages.encode import js_key_order
from segprof.sync.messages.js_values import UNDEFINED, js_string, js_trim, js_truthy


def _payload_error(message: str) -> PayloadError:
    return PayloadError("PAYLOAD_VALIDATION_FAILED", message)


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


def perform_track(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`sendTrack`'s perform: the track message for a validated payload."""
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


def perform_subscription(p: Mapping[str, Any]) -> dict[str, Any]:
    """`sendSubscription`'s perform: an identify carrying the record's messaging subscriptions."""
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


def perform_identify(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`sendIdentify`'s perform: the identify message for a validated payload."""
    return _perform_identify_or_group(payload, "identify")


def perform_group(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`sendGroup`'s perform: the group message for a validated payload."""
    return _perform_identify_or_group(payload, "group")


__all__ = [
    "INVALID_STATUS",
    "perform_group",
    "perform_identify",
    "perform_subscription",
    "perform_track",
    "subscription_status",
]

"""Segment Profiles action rules for each mapping, as Segment's destination applies them.

Owns the per-action requirements (user or anonymous id; group id; event name; the Send
Subscriptions identifier/status rules and status words) and template syntax. Must never look at
the model's SQL: whether mapped columns exist is checked elsewhere.
"""

from __future__ import annotations

from typing import Any

from segprof.config.diagnostic import Diagnostic, error
from segprof.config.fields import (
    ACTION_FIELDS,
    STATUS_IDENTIFIER,
    SUBSCRIPTION_IDENTIFIERS,
    TemplateField,
    ValueField,
    normalize_status,
)
from segprof.config.models import Mapping
from segprof.config.pydantic_errors import suggest

_STATUS_HINT = "use subscribed, unsubscribed or did_not_subscribe (true/false also work)"


def _present(field: Any) -> bool:
    """A field that can produce a value (a literal null or empty string never does)."""
    if field is None:
        return False
    if isinstance(field, ValueField):
        return field.value is not None and field.value != ""
    if isinstance(field, dict):
        return bool(field)
    return True


def check_mapping(mapping: Mapping) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    given = {key: value for key, value in mapping.fields.given().items() if _present(value)}
    where_fields = mapping.field_location("fields", key=True) or mapping.key_location
    address = mapping.address

    def need(code: str, message: str, hint: str) -> None:
        out.append(error(code, message, where_fields, address=address, hint=hint))

    valid = ACTION_FIELDS[mapping.action]
    for key in mapping.fields.given():
        if key not in valid:
            best = suggest(key, valid)
            out.append(
                error(
                    "action.unknown_field",
                    f"`{key}` is not a field of {mapping.action}",
                    mapping.field_location("fields", key, key=True),
                    address=address,
                    hint=(f"did you mean `{best}`? " if best else "") + "valid fields: " + ", ".join(valid),
                )
            )
    needs_id = mapping.action in ("send_identify", "send_group", "send_track")
    if needs_id and "user_id" not in given and "anonymous_id" not in given:
        need(
            "action.missing_user_or_anonymous_id",
            f"{mapping.action} needs `user_id` or `anonymous_id`",
            "map `user_id` (or `anonymous_id`) to a column, e.g. `user_id: user_id`",
        )
    if mapping.action == "send_group" and "group_id" not in given:
        need("action.missing_group_id", "send_group needs `group_id`", "e.g. `group_id: {identifier: true}`")
    if mapping.action == "send_track" and "event_name" not in given:
        need(
            "action.missing_event_name",
            "send_track needs `event_name`",
            'e.g. `event_name: {value: "Subscription Renewed"}` or a column',
        )
    if mapping.action == "send_subscription":
        out.extend(_subscription(mapping, given))
    for key, field in mapping.fields.given().items():
        items = field.items() if isinstance(field, dict) else [(None, field)]
        for name, value in items:
            if isinstance(value, TemplateField):
                path = ("fields", key) if name is None else ("fields", key, name)
                problem = _template_problem(value.template)
                if problem:
                    out.append(
                        error(
                            "action.template_syntax",
                            problem,
                            mapping.field_location(*path, "template"),
                            address=address,
                            hint="write {{column}} for each column the template reads",
                        )
                    )
    return out


def _template_problem(template: str) -> str | None:
    depth = 0
    index = 0
    while index < len(template):
        pair = template[index : index + 2]
        if pair == "{{":
            if depth:
                return "template has `{{` inside `{{ … }}`"
            depth = 1
            index += 2
            start = index
            continue
        if pair == "}}" and depth:
            if not template[start:index].strip():
                return "template has an empty `{{ }}`"
            depth = 0
            index += 2
            continue
        index += 1
    if depth:
        return "template has an unclosed `{{`"
    return None


def _subscription(mapping: Mapping, given: dict[str, Any]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    address = mapping.address
    where_fields = mapping.field_location("fields", key=True) or mapping.key_location
    statuses = [key for key in STATUS_IDENTIFIER if key in given]
    identifiers = [key for key in SUBSCRIPTION_IDENTIFIERS if key in given]
    if not identifiers:
        out.append(
            error(
                "action.subscription_missing_identifier",
                "send_subscription needs `email`, `phone`, `android_push_token` or `ios_push_token`",
                where_fields,
                address=address,
            )
        )
    if not statuses:
        out.append(
            error(
                "action.subscription_missing_status",
                "send_subscription needs at least one subscription status "
                "(email, sms, whatsapp, android_push or ios_push)",
                where_fields,
                address=address,
                hint="e.g. `email_subscription_status: email_status`",
            )
        )
    for status in statuses:
        identifier = STATUS_IDENTIFIER[status]
        if identifier not in given:
            out.append(
                error(
                    "action.subscription_status_without_identifier",
                    f"`{status}` needs `{identifier}`",
                    mapping.field_location("fields", status, key=True),
                    address=address,
                    hint=f"map `{identifier}` to the column holding it",
                )
            )
        value = given[status]
        if isinstance(value, ValueField) and normalize_status(value.value) == "INVALID":
            out.append(
                error(
                    "action.invalid_subscription_status",
                    f"`{value.value}` is not a subscription status",
                    mapping.field_location("fields", status, "value"),
                    address=address,
                    hint=_STATUS_HINT,
                )
            )
    for identifier in identifiers:
        channel_statuses = [s for s, i in STATUS_IDENTIFIER.items() if i == identifier]
        if statuses and not any(s in given for s in channel_statuses):
            out.append(
                error(
                    "action.subscription_channel_without_status",
                    f"`{identifier}` is mapped but none of {', '.join(channel_statuses)} is: "
                    "each channel given needs its subscription status",
                    mapping.field_location("fields", identifier, key=True),
                    address=address,
                    hint=f"map `{channel_statuses[0]}` too, or leave `{identifier}` out "
                    "(to send it only as an identity, use Send Identify)",
                )
            )
    groups = given.get("subscription_groups")
    if groups is not None:
        if "email_subscription_status" not in given:
            out.append(
                error(
                    "action.subscription_groups_without_email_status",
                    "`subscription_groups` needs `email_subscription_status`",
                    mapping.field_location("fields", "subscription_groups", key=True),
                    address=address,
                    hint="groups belong to the email channel",
                )
            )
        if isinstance(groups, dict):
            for name, value in groups.items():
                if isinstance(value, ValueField) and normalize_status(value.value) == "INVALID":
                    out.append(
                        error(
                            "action.invalid_subscription_status",
                            f"`{value.value}` is not a subscription status (group `{name}`)",
                            mapping.field_location("fields", "subscription_groups", name, "value"),
                            address=address,
                            hint=_STATUS_HINT,
                        )
                    )
    return out

"""Profiles as Segment Profiles would hold them, folded from accepted Tracking API messages.

Owns: merging identify traits per user (userId, or anonymousId when no userId), group traits per
groupId, track events per user, group membership, and messaging subscriptions per channel and key
(from Send Subscriptions' `context.messaging_subscriptions`). Folding on read keeps ingestion to one
insert per message. Must never read duplicates or rejected messages (the store filters them).
"""

from __future__ import annotations

from typing import Any

from segprof.emulator.store import Store


def user_profile(store: Store, ident: str) -> dict[str, Any] | None:
    messages = store.accepted_messages(profile_id=ident)
    if not messages:
        return None
    profile: dict[str, Any] = {
        "kind": "user",
        "id": ident,
        "userId": None,
        "anonymousIds": [],
        "traits": {},
        "groups": [],
        "subscriptions": [],
        "externalIds": [],
        "events": [],
        "firstSeenAt": messages[0].get("receivedAt"),
        "lastSeenAt": messages[-1].get("receivedAt"),
    }
    subscriptions: dict[tuple[str, str], dict[str, Any]] = {}
    for message in messages:
        kind = message.get("type")
        if message.get("userId") is not None:
            profile["userId"] = str(message["userId"])
        anonymous = message.get("anonymousId")
        if anonymous is not None and str(anonymous) not in profile["anonymousIds"]:
            profile["anonymousIds"].append(str(anonymous))
        group_id = message.get("groupId")
        if kind in ("identify", "group") and group_id and str(group_id) not in profile["groups"]:
            profile["groups"].append(str(group_id))
        if kind == "identify":
            if isinstance(message.get("traits"), dict):
                profile["traits"].update(message["traits"])
            _apply_context(profile, subscriptions, message.get("context"))
        elif kind == "track":
            profile["events"].append(
                {
                    "event": message.get("event"),
                    "properties": message.get("properties") or {},
                    "timestamp": message.get("timestamp"),
                    "messageId": message.get("messageId"),
                }
            )
    profile["subscriptions"] = list(subscriptions.values())
    return profile


def group_profile(store: Store, group_id: str) -> dict[str, Any] | None:
    messages = store.accepted_messages(group_id=group_id)
    if not messages:
        return None
    profile: dict[str, Any] = {
        "kind": "group",
        "id": group_id,
        "groupId": group_id,
        "traits": {},
        "members": [],
        "firstSeenAt": messages[0].get("receivedAt"),
        "lastSeenAt": messages[-1].get("receivedAt"),
    }
    for message in messages:
        if isinstance(message.get("traits"), dict):
            profile["traits"].update(message["traits"])
        member = message.get("userId") or message.get("anonymousId")
        if member is not None and str(member) not in profile["members"]:
            profile["members"].append(str(member))
    return profile


def _apply_context(
    profile: dict[str, Any], subscriptions: dict[tuple[str, str], dict[str, Any]], context: Any
) -> None:
    if not isinstance(context, dict):
        return
    for sub in context.get("messaging_subscriptions") or []:
        if not isinstance(sub, dict) or "type" not in sub or "key" not in sub:
            continue
        slot = (str(sub["type"]), str(sub["key"]))
        entry = {"key": sub["key"], "type": sub["type"], "status": sub.get("status")}
        # Email groups accumulate: a later message without a group leaves earlier group states.
        groups = {g["name"]: g for g in subscriptions.get(slot, {}).get("groups", [])}
        for group in sub.get("groups") or []:
            if isinstance(group, dict) and "name" in group:
                groups[group["name"]] = {"name": group["name"], "status": group.get("status")}
        if groups:
            entry["groups"] = list(groups.values())
        subscriptions[slot] = entry
    known = {(e.get("type"), e.get("id")) for e in profile["externalIds"]}
    for item in context.get("externalIds") or []:
        if isinstance(item, dict) and (item.get("type"), item.get("id")) not in known:
            profile["externalIds"].append(item)
            known.add((item.get("type"), item.get("id")))

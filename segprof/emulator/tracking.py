"""The emulated Segment Tracking API (`/v1/identify`, `/v1/group`, `/v1/track`, `/v1/batch`, …).

Owns: write-key authentication (HTTP Basic `base64(key:)` or `writeKey` in the body), gzip bodies,
Segment's size and count limits, dedup by `messageId`, and materialising profiles (traits per
userId / groupId, messaging subscriptions per channel). Every request is stored in one write
transaction. Must never store the write key (it is stripped from stored messages) and never
apply a message twice.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hmac
import json
import uuid
import zlib
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from segprof.emulator.store import Store

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_ITEMS = 2500
MAX_MESSAGE_ID_CHARS = 100
# Decompressed bodies beyond this are refused outright (protects against gzip bombs).
MAX_INFLATED_BYTES = 8 * MAX_BATCH_BYTES
SINGLE_TYPES = ("identify", "group", "track", "page", "screen", "alias")
USER_KIND, GROUP_KIND = "user", "group"

ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"


class TrackingError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"success": False, "code": self.code, "message": self.message}, status_code=self.status
        )


SUCCESS = b'{"success":true}'


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _basic_key(header: str) -> str | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    # "key:" is the documented form; a bare "key" is accepted for backward compatibility.
    return decoded.split(":", 1)[0]


def _rejection(message: dict[str, Any], kind: str) -> str | None:
    """Why Segment would silently drop this message (it still answers 200), or None."""
    if kind not in SINGLE_TYPES:
        return "unknown or missing type"
    if kind != "alias" and not message.get("userId") and not message.get("anonymousId"):
        return "no_user_anon_id"
    if kind == "track" and not message.get("event"):
        return "track without event"
    if kind == "group" and not message.get("groupId"):
        return "group without groupId"
    message_id = message.get("messageId")
    if message_id is not None and len(str(message_id)) > MAX_MESSAGE_ID_CHARS:
        return "messageId longer than 100 characters"
    return None


class TrackingApi:
    """Handlers bound to one store and an optional expected write key."""

    def __init__(self, store: Store, *, write_key: str | None) -> None:
        self.store = store
        self.write_key = write_key

    def routes(self) -> list[Route]:
        routes = [Route("/v1/batch", self._endpoint(None), methods=["POST"])]
        routes += [Route(f"/v1/{kind}", self._endpoint(kind), methods=["POST"]) for kind in SINGLE_TYPES]
        return routes

    def _endpoint(self, kind: str | None):
        async def endpoint(request: Request) -> Response:
            try:
                return await self.handle(request, kind)
            except TrackingError as err:
                return err.response()

        return endpoint

    async def _body(self, request: Request, limit: int) -> dict[str, Any]:
        raw = await request.body()
        encoding = request.headers.get("content-encoding", "").lower().strip()
        if encoding == "gzip":
            try:
                inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                raw = inflater.decompress(raw, MAX_INFLATED_BYTES + 1)
            except (zlib.error, gzip.BadGzipFile, EOFError):
                raise TrackingError(
                    400, "invalid_request", "The gzip body could not be decompressed"
                ) from None
            if len(raw) > MAX_INFLATED_BYTES:
                raise TrackingError(400, "too_large", "Request body too large")
        elif encoding not in ("", "identity"):
            raise TrackingError(400, "invalid_request", f"Unsupported Content-Encoding {encoding!r}")
        if len(raw) > limit:
            raise TrackingError(400, "too_large", f"Request body is larger than {limit // 1024} KB")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise TrackingError(400, "invalid_json", "Invalid JSON") from None
        if not isinstance(body, dict):
            raise TrackingError(400, "invalid_request", "The body must be a JSON object")
        return body

    def _authorize(self, request: Request, body: dict[str, Any]) -> None:
        if self.write_key is None:
            return
        given = _basic_key(request.headers.get("authorization", ""))
        if given is None:
            key = body.get("writeKey")
            given = key if isinstance(key, str) else None
        if not given or not hmac.compare_digest(given.encode(), self.write_key.encode()):
            raise TrackingError(401, "unauthorized", "Invalid or missing write key")

    async def handle(self, request: Request, kind: str | None) -> Response:
        body = await self._body(request, MAX_BATCH_BYTES if kind is None else MAX_MESSAGE_BYTES)
        self._authorize(request, body)
        received_at = _now()
        if kind is None:
            items = body.get("batch")
            if not isinstance(items, list):
                raise TrackingError(400, "invalid_request", 'The batch body must hold a "batch" array')
            shared_context = body.get("context") if isinstance(body.get("context"), dict) else None
            shared_integrations = (
                body.get("integrations") if isinstance(body.get("integrations"), dict) else None
            )
            messages: list[dict[str, Any]] = []
            for item in items:
                if not isinstance(item, dict):
                    messages.append({"__invalid__": item})
                    continue
                if len(_compact(item).encode()) > MAX_MESSAGE_BYTES:
                    raise TrackingError(400, "too_large", "A message in the batch is larger than 32 KB")
                message = dict(item)
                if shared_context is not None:
                    message["context"] = {**shared_context, **(item.get("context") or {})}
                if shared_integrations is not None:
                    message["integrations"] = {**shared_integrations, **(item.get("integrations") or {})}
                if "sentAt" not in message and "sentAt" in body:
                    message["sentAt"] = body["sentAt"]
                messages.append(message)
            over_limit = len(messages) > MAX_BATCH_ITEMS
        else:
            message = {k: val for k, val in body.items()}
            message["type"] = kind
            messages, over_limit = [message], False
        self.ingest(messages, received_at, over_limit=over_limit)
        return Response(SUCCESS, media_type="application/json")

    # -- storage and materialisation ---------------------------------------------------------
    def ingest(
        self, messages: list[dict[str, Any]], received_at: str, *, over_limit: bool = False
    ) -> list[str]:
        """Store messages in arrival order, dedup by messageId, apply accepted ones; returns outcomes."""
        rows: list[tuple[Any, ...]] = []
        outcomes: list[str] = []
        prepared: list[dict[str, Any]] = []
        for raw in messages:
            if "__invalid__" in raw:
                message = {"type": None, "messageId": f"api-{uuid.uuid4()}", "invalid": raw["__invalid__"]}
            else:
                message = {k: val for k, val in raw.items() if k != "writeKey"}
                if not message.get("messageId"):
                    message["messageId"] = f"api-{uuid.uuid4()}"
                else:
                    message["messageId"] = str(message["messageId"])
                message["receivedAt"] = received_at
                message.setdefault("timestamp", message.get("originalTimestamp") or received_at)
            prepared.append(message)
        with self.store.write() as conn:
            seen = self.store.seen_ids(conn, [m["messageId"] for m in prepared])
            accepted: list[dict[str, Any]] = []
            new_ids: list[tuple[str]] = []
            for message in prepared:
                kind = message.get("type")
                reason = "more than 2500 messages in one batch" if over_limit else None
                if reason is None:
                    reason = _rejection(message, kind) if "invalid" not in message else "not a JSON object"
                if reason is not None:
                    outcome = REJECTED
                elif message["messageId"] in seen:
                    outcome = DUPLICATE
                else:
                    outcome = ACCEPTED
                    seen.add(message["messageId"])
                    new_ids.append((message["messageId"],))
                    accepted.append(message)
                profile_id = message.get("userId") or message.get("anonymousId")
                stored = message if reason is None else {**message, "rejectedBecause": reason}
                rows.append(
                    (
                        message["messageId"],
                        kind,
                        None if profile_id is None else str(profile_id),
                        None if message.get("groupId") is None else str(message.get("groupId")),
                        received_at,
                        outcome,
                        _compact(stored),
                    )
                )
                outcomes.append(outcome)
            conn.executemany(
                "INSERT INTO messages (message_id, type, profile_id, group_id, received_at, outcome, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.executemany("INSERT OR IGNORE INTO seen_messages (message_id) VALUES (?)", new_ids)
            self._materialise(conn, accepted)
        return outcomes

    def _materialise(self, conn: Any, accepted: list[dict[str, Any]]) -> None:
        relevant = [m for m in accepted if m.get("type") in ("identify", "group", "track")]
        if not relevant:
            return
        user_keys = {str(m.get("userId") or m.get("anonymousId")) for m in relevant}
        group_keys = {str(m["groupId"]) for m in relevant if m.get("type") == "group" and m.get("groupId")}
        users = self.store.load_profiles(conn, USER_KIND, user_keys)
        groups = self.store.load_profiles(conn, GROUP_KIND, group_keys)
        touched_users: set[str] = set()
        touched_groups: set[str] = set()
        for message in relevant:
            kind = message["type"]
            key = str(message.get("userId") or message.get("anonymousId"))
            user = users.get(key)
            if user is None:
                user = users[key] = _new_user(key, message)
            user["lastSeenAt"] = message["receivedAt"]
            anonymous = message.get("anonymousId")
            if anonymous is not None and str(anonymous) not in user["anonymousIds"]:
                user["anonymousIds"].append(str(anonymous))
            touched_users.add(key)
            if kind == "identify":
                traits = message.get("traits")
                if isinstance(traits, dict):
                    user["traits"].update(traits)
                if message.get("groupId") and str(message["groupId"]) not in user["groups"]:
                    user["groups"].append(str(message["groupId"]))
                _apply_subscriptions(user, message.get("context"))
            elif kind == "group":
                group_id = str(message["groupId"])
                group = groups.get(group_id)
                if group is None:
                    group = groups[group_id] = {
                        "kind": GROUP_KIND,
                        "id": group_id,
                        "groupId": group_id,
                        "traits": {},
                        "members": [],
                        "firstSeenAt": message["receivedAt"],
                    }
                group["lastSeenAt"] = message["receivedAt"]
                traits = message.get("traits")
                if isinstance(traits, dict):
                    group["traits"].update(traits)
                if key not in group["members"]:
                    group["members"].append(key)
                if group_id not in user["groups"]:
                    user["groups"].append(group_id)
                touched_groups.add(group_id)
            else:
                user["eventCount"] = user.get("eventCount", 0) + 1
        self.store.save_profiles(conn, USER_KIND, {k: users[k] for k in touched_users})
        if touched_groups:
            self.store.save_profiles(conn, GROUP_KIND, {k: groups[k] for k in touched_groups})


def _new_user(key: str, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": USER_KIND,
        "id": key,
        "userId": None if message.get("userId") is None else str(message["userId"]),
        "anonymousIds": [],
        "traits": {},
        "groups": [],
        "subscriptions": [],
        "externalIds": [],
        "eventCount": 0,
        "firstSeenAt": message["receivedAt"],
    }


def _apply_subscriptions(user: dict[str, Any], context: Any) -> None:
    """Messaging subscriptions per (channel type, key), as Send Subscriptions delivers them."""
    if not isinstance(context, dict):
        return
    subs = context.get("messaging_subscriptions")
    if isinstance(subs, list):
        current = {(s["type"], s["key"]): s for s in user["subscriptions"]}
        for sub in subs:
            if not isinstance(sub, dict) or "type" not in sub or "key" not in sub:
                continue
            entry = {"key": sub["key"], "type": sub["type"], "status": sub.get("status")}
            previous = current.get((sub["type"], sub["key"]))
            groups = {g["name"]: g for g in (previous or {}).get("groups", [])}
            for group in sub.get("groups") or []:
                if isinstance(group, dict) and "name" in group:
                    groups[group["name"]] = {"name": group["name"], "status": group.get("status")}
            if groups:
                entry["groups"] = list(groups.values())
            current[(sub["type"], sub["key"])] = entry
        user["subscriptions"] = list(current.values())
    external = context.get("externalIds")
    if isinstance(external, list):
        known = {(e.get("type"), e.get("id")) for e in user["externalIds"]}
        for item in external:
            if isinstance(item, dict) and (item.get("type"), item.get("id")) not in known:
                user["externalIds"].append(item)
                known.add((item.get("type"), item.get("id")))

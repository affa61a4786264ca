"""The emulated Segment Tracking API (`/v1/identify`, `/v1/group`, `/v1/track`, `/v1/batch`, …).

Owns: write-key authentication (HTTP Basic `base64(key:)` or `writeKey` in the body), gzip bodies,
Segment's size and count limits, and dedup by `messageId`. Every request is stored in one write
transaction; profiles are folded from stored messages on read (`profiles.py`). Must never store
the write key (it is stripped from stored messages) and never apply a message twice.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hmac
import json
import uuid
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from segprof.emulator.store import Store

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_ITEMS = 2500
MAX_MESSAGE_ID_CHARS = 100
# Bytes that ingestion itself may add to a message (receivedAt, timestamp, messageId).
ADDED_FIELDS_SLACK = 256


def _encode(value: Any) -> bytes:
    """Compact JSON as UTF-8 bytes, whose length is the message's size on the wire."""
    return orjson.dumps(value)


def _encode_as_read(value: Any) -> bytes:
    """For bodies only the standard library could read (NaN, integers past 64 bits): written back
    the same way, so a stored message keeps what was sent."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _decode(raw: bytes) -> tuple[Any, Callable[[Any], bytes]]:
    """The body's JSON, and the encoder that stores it. orjson reads a batch several times faster;
    what it refuses, the standard library reads as it always has (and refuses the rest)."""
    try:
        return orjson.loads(raw), _encode
    except orjson.JSONDecodeError:
        return json.loads(raw), _encode_as_read


# Decompressed bodies beyond this are refused outright (protects against gzip bombs).
MAX_INFLATED_BYTES = 8 * MAX_BATCH_BYTES
SINGLE_TYPES = ("identify", "group", "track", "page", "screen", "alias")

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
DUPLICATES_HEADER = (
    "X-Segprof-Duplicates"  # the emulator's own: messages of the request dropped as duplicates
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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

    async def _body(self, request: Request, limit: int) -> tuple[dict[str, Any], int, Callable[[Any], bytes]]:
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
            body, encoder = _decode(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise TrackingError(400, "invalid_json", "Invalid JSON") from None
        if not isinstance(body, dict):
            raise TrackingError(400, "invalid_request", "The body must be a JSON object")
        return body, len(raw), encoder

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
        body, size, encoder = await self._body(
            request, MAX_BATCH_BYTES if kind is None else MAX_MESSAGE_BYTES
        )
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
            messages: list[Any] = []
            for item in items:
                if isinstance(item, dict):
                    if shared_context is not None:
                        own = item.get("context")
                        item["context"] = (
                            {**shared_context, **own} if isinstance(own, dict) else shared_context
                        )
                    if shared_integrations is not None:
                        own = item.get("integrations")
                        merged = (
                            {**shared_integrations, **own} if isinstance(own, dict) else shared_integrations
                        )
                        item["integrations"] = merged
                    if "sentAt" not in item and "sentAt" in body:
                        item["sentAt"] = body["sentAt"]
                messages.append(item)
            over_limit = len(messages) > MAX_BATCH_ITEMS
        else:
            message = body
            message["type"] = kind
            messages, over_limit = [message], False
        outcomes = self.ingest(
            messages,
            received_at,
            over_limit=over_limit,
            check_sizes=size > MAX_MESSAGE_BYTES,
            encoder=encoder,
        )
        # Segment answers the same body whatever it drops; the emulator also says how many messages
        # it dropped as duplicates, so a run can tell its user that changes were lost.
        duplicates = outcomes.count(DUPLICATE)
        headers = {DUPLICATES_HEADER: str(duplicates)} if duplicates else None
        return Response(SUCCESS, media_type="application/json", headers=headers)

    # -- storage ------------------------------------------------------------------------------
    def ingest(
        self,
        messages: list[Any],
        received_at: str,
        *,
        over_limit: bool = False,
        check_sizes: bool = True,
        encoder: Callable[[Any], bytes] = _encode,
    ) -> list[str]:
        """Store messages in arrival order in one transaction, deciding each one's dedup outcome.

        Raises TrackingError (nothing stored) when a message is over 32 KB; callers may skip that
        check (`check_sizes=False`) when the whole request body is smaller than one message's limit.
        """
        prepared: list[tuple[dict[str, Any], str | None]] = []
        for raw in messages:
            if not isinstance(raw, dict):
                invalid = {"type": None, "messageId": f"api-{uuid.uuid4()}", "invalid": raw}
                prepared.append((invalid, "not a JSON object"))
                continue
            message = raw
            message.pop("writeKey", None)
            message_id = message.get("messageId")
            message["messageId"] = f"api-{uuid.uuid4()}" if not message_id else str(message_id)
            message["receivedAt"] = received_at
            if "timestamp" not in message:
                message["timestamp"] = message.get("originalTimestamp") or received_at
            reason = (
                "more than 2500 messages in one batch"
                if over_limit
                else _rejection(message, message.get("type"))
            )
            prepared.append((message, reason))
        if check_sizes:
            # Encode each message once: its size is checked and the pieces form the stored array.
            parts = [encoder(message) for message, _ in prepared]
            if any(len(part) > MAX_MESSAGE_BYTES + ADDED_FIELDS_SLACK for part in parts):
                raise TrackingError(400, "too_large", "A message is larger than 32 KB")
        rows: list[tuple[Any, ...]] = []
        outcomes: list[str] = []
        with self.store.write() as conn:
            candidates = [message["messageId"] for message, reason in prepared if reason is None]
            fresh = iter(self.store.seen.claim(conn, candidates))
            for idx, (message, reason) in enumerate(prepared):
                outcome = REJECTED if reason is not None else (ACCEPTED if next(fresh) else DUPLICATE)
                profile_id = message.get("userId") or message.get("anonymousId")
                group_id = message.get("groupId")
                rows.append(
                    (
                        idx,
                        message["messageId"],
                        message.get("type"),
                        None if profile_id is None else str(profile_id),
                        None if group_id is None else str(group_id),
                        outcome,
                        reason,
                    )
                )
                outcomes.append(outcome)
            stored = b"[" + b",".join(parts) + b"]" if check_sizes else encoder([m for m, _ in prepared])
            request_id = self.store.insert_request(conn, received_at, stored.decode())
            conn.executemany(
                "INSERT INTO messages "
                "(request_id, idx, message_id, type, profile_id, group_id, outcome, note) "
                f"VALUES ({request_id}, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self.store.seen.appended(conn)
        return outcomes

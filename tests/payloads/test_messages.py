"""build_message beyond the golden set: message ids, names, secrets, sizes."""

from __future__ import annotations

import json

import pytest

from segprof.errors import SegprofError
from segprof.sync.messages.actions import PayloadError
from segprof.sync.messages.date_like import is_date_like
from segprof.sync.messages.encode import dumps, record_event
from segprof.sync.messages.payloads import MAX_MESSAGE_BYTES, build_message, check_message_size, message_size
from segprof.sync.messages.perform import subscription_status

WRITE_KEY = "wk_live_secret_value"
EVENT = {"event": "new", "__segment_id": "u_1", "properties": {"id": "u_1", "email": "a@x", "n": 3}}


def col(name: str) -> dict[str, str]:
    return {"@path": f"$.properties.{name}"}


@pytest.mark.parametrize(
    ("action", "settings", "before", "after"),
    [
        ("send_identify", {"user_id": col("id")}, "groupId", "traits"),
        ("send_group", {"user_id": col("id"), "group_id": col("n")}, "groupId", "traits"),
        ("send_track", {"user_id": col("id"), "event_name": "E"}, "event", "integrations"),
        (
            "send_subscription",
            {"email": col("email"), "email_subscription_status": "true"},
            "integrations",
            "type",
        ),
    ],
)
def test_default_message_id_takes_segments_slot(action: str, settings: dict, before: str, after: str) -> None:
    message = build_message(action, {"engage_space": WRITE_KEY, **settings}, EVENT, default_message_id="m-1")
    keys = [k for k in message if k in {before, "messageId", after}]
    if before in message:
        assert keys == [before, "messageId", after]
    else:
        assert keys.index("messageId") < keys.index(after)
    assert message["messageId"] == "m-1"


def test_mapped_message_id_wins_over_default() -> None:
    settings = {"user_id": col("id"), "message_id": {"@template": "own-{{__segment_id}}"}}
    message = build_message("sendIdentify", settings, EVENT, default_message_id="m-1")
    assert message["messageId"] == "own-u_1"
    # A mapped message_id that resolves to nothing falls back to the default.
    message = build_message("sendIdentify", {"user_id": col("id"), "message_id": col("nope")}, EVENT, "m-2")
    assert message["messageId"] == "m-2"


def test_no_message_id_key_without_default() -> None:
    assert "messageId" not in build_message("sendIdentify", {"user_id": col("id")}, EVENT)


def test_engage_space_never_in_message() -> None:
    for action, extra in [
        ("send_identify", {}),
        ("send_group", {"group_id": col("n")}),
        ("send_track", {"event_name": "E"}),
        ("send_subscription", {"email": col("email"), "email_subscription_status": "true"}),
    ]:
        settings = {"engage_space": WRITE_KEY, "user_id": col("id"), **extra}
        assert WRITE_KEY not in dumps(build_message(action, settings, EVENT)).decode()


def test_engage_space_check_only_on_request() -> None:
    assert build_message("send_identify", {"user_id": col("id")}, EVENT)["userId"] == "u_1"
    with pytest.raises(PayloadError) as info:
        build_message("send_identify", {"user_id": col("id")}, EVENT, require_engage_space=True)
    assert info.value.message == "The root value is missing the required field 'engage_space'."
    assert info.value.code == "SCHEMA_VALIDATION_FAILED"


def test_unknown_action() -> None:
    with pytest.raises(SegprofError) as info:
        build_message("send_page", {}, EVENT)
    assert "send_page" in str(info.value)


def test_payload_error_codes() -> None:
    with pytest.raises(PayloadError) as info:
        build_message("send_track", {"event_name": "E"}, EVENT)
    assert (info.value.code, info.value.status) == ("PAYLOAD_VALIDATION_FAILED", 400)
    assert info.value.message == "Either `Anonymous ID` or `User ID` must be defined."


def test_warehouse_record_end_to_end() -> None:
    import datetime as dt
    import decimal

    row = {
        "id": 7,
        "plan": "pro",
        "mrr": decimal.Decimal("49.90"),
        "seen": dt.datetime(2024, 5, 1, 10),
        "x": None,
    }
    event = record_event("updated", row["id"], row)
    settings = {
        "engage_space": WRITE_KEY,
        "user_id": {"@path": "$.__segment_id"},
        "timestamp": col("seen"),
        "traits": {"plan": col("plan"), "mrr": col("mrr"), "x": {"@excludeWhenNull": col("x")}},
    }
    message = build_message("send_identify", settings, event, default_message_id="mid")
    assert dumps(message) == (
        b'{"userId":"7","messageId":"mid","traits":{"plan":"pro","mrr":49.9},'
        b'"timestamp":"2024-05-01T10:00:00.000Z","integrations":{"All":false},"type":"identify",'
        b'"context":{"consent":{}}}'
    )


def test_size_check() -> None:
    small = build_message("send_identify", {"user_id": col("id")}, EVENT)
    assert check_message_size(small) == message_size(small) == len(json.dumps(small, separators=(",", ":")))
    big_event = {**EVENT, "properties": {"id": "u_1", "blob": "é" * 20000}}  # 40,000 bytes of UTF-8
    big = build_message("send_identify", {"user_id": col("id"), "traits": {"b": col("blob")}}, big_event)
    with pytest.raises(PayloadError) as info:
        check_message_size(big)
    assert info.value.code == "MESSAGE_TOO_LARGE"
    assert str(MAX_MESSAGE_BYTES) in info.value.message and str(message_size(big)) in info.value.message
    with pytest.raises(PayloadError, match="record 'u_1'"):
        check_message_size(big, record_id="u_1")
    assert check_message_size(big, limit=10**6) == message_size(big)


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("TRUE", "SUBSCRIBED"),
        (" unsubscribed\n", "UNSUBSCRIBED"),
        ("Did-Not-Subscribe", "DID_NOT_SUBSCRIBE"),
        ("yes", "INVALID"),
        ("  ", None),
        (None, None),
    ],
)
def test_subscription_status(value: str | None, status: str | None) -> None:
    assert subscription_status(value) == status


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2024-05-01T10:00:00Z", True),
        ("2024-05-01T10:00:00.123+05:30", True),
        ("1714557600", True),
        ("Wed, 01 May 2024 10:00:00 GMT", True),
        ("not a date", False),
        ("true", False),
        ("2024-05-01T25:00:00Z", False),
    ],
)
def test_date_like(text: str, ok: bool) -> None:
    assert is_date_like(text) is ok


def _date_like_cases() -> list[tuple[str, bool]]:
    from pathlib import Path

    doc = json.loads(
        (Path(__file__).resolve().parent.parent / "fixtures" / "golden" / "date_like.json").read_text()
    )
    return [(c["text"], c["valid"]) for c in doc["cases"]]


@pytest.mark.parametrize(("text", "valid"), _date_like_cases())
def test_date_like_matches_dayjs(text: str, valid: bool) -> None:
    assert is_date_like(text) is valid

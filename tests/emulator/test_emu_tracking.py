"""Tracking API: auth, limits, gzip, dedup, profiles and the inspection endpoints."""

from __future__ import annotations

import base64
import gzip
import json

import httpx
import pytest
from starlette.testclient import TestClient

from segprof.emulator.app import create_app

KEY = "wk_test_0123456789"


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@pytest.fixture()
def tracking(tmp_path):
    with TestClient(create_app(tmp_path, write_key=KEY)) as client:
        yield client


def messages(client, **params):
    return client.get("/emulator/v1/messages", params=params).json()["data"]


def test_write_key_by_basic_auth_or_body(tracking):
    one = tracking.post("/v1/identify", json={"userId": "u1", "traits": {"a": 1}}, headers=basic(KEY))
    assert one.status_code == 200 and one.json() == {"success": True}
    two = tracking.post("/v1/track", json={"userId": "u1", "event": "E", "writeKey": KEY})
    assert two.status_code == 200
    bare = tracking.post(
        "/v1/track",
        json={"userId": "u1", "event": "E"},
        headers={"Authorization": "Basic " + base64.b64encode(KEY.encode()).decode()},
    )
    assert bare.status_code == 200
    for headers, body in (
        ({}, {"userId": "u"}),
        (basic("wrong"), {"userId": "u"}),
        ({}, {"userId": "u", "writeKey": "x"}),
    ):
        refused = tracking.post("/v1/identify", json=body, headers=headers)
        assert refused.status_code == 401 and refused.json()["success"] is False
    assert messages(tracking)["pagination"]["totalEntries"] == 3


def test_write_key_is_never_stored(tracking, tmp_path):
    tracking.post("/v1/batch", json={"batch": [{"type": "identify", "userId": "u"}], "writeKey": KEY})
    tracking.post("/v1/track", json={"userId": "u", "event": "E", "writeKey": KEY})
    assert KEY not in json.dumps(messages(tracking))
    tracking.app.state.store.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert KEY.encode() not in blob


def test_size_limits_and_bad_json(client):
    big_trait = "x" * (33 * 1024)
    single = client.post("/v1/identify", json={"userId": "u", "traits": {"big": big_trait}})
    assert single.status_code == 400 and single.json()["success"] is False
    item_too_big = client.post(
        "/v1/batch", json={"batch": [{"type": "identify", "userId": "u", "traits": {"b": big_trait}}]}
    )
    assert item_too_big.status_code == 400
    items = [
        {"type": "track", "userId": f"u{i}", "event": "E", "properties": {"p": "y" * 20_000}}
        for i in range(30)
    ]
    too_big = client.post("/v1/batch", json={"batch": items})
    assert too_big.status_code == 400
    bad = client.post("/v1/batch", content=b'{"batch": [', headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_json"
    assert messages(client)["pagination"]["totalEntries"] == 0


def test_more_than_2500_messages_is_200_but_rejected(client):
    batch = [{"type": "track", "userId": "u", "event": "E"} for _ in range(2501)]
    response = client.post("/v1/batch", json={"batch": batch})
    assert response.status_code == 200
    data = messages(client, limit=5)
    assert data["pagination"]["totalEntries"] == 2501
    assert {m["outcome"] for m in data["messages"]} == {"rejected"}
    assert client.get("/emulator/v1/profiles/u").status_code == 404


def test_gzip_body(client):
    payload = json.dumps({"batch": [{"type": "identify", "userId": "gz", "traits": {"z": 1}}]}).encode()
    response = client.post(
        "/v1/batch",
        content=gzip.compress(payload),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert client.get("/emulator/v1/profiles/gz").json()["data"]["profile"]["traits"] == {"z": 1}
    broken = client.post("/v1/batch", content=b"not gzip", headers={"Content-Encoding": "gzip"})
    assert broken.status_code == 400


def test_dedup_by_message_id_within_and_across_requests(client):
    first = {"type": "identify", "userId": "u", "messageId": "m-1", "traits": {"plan": "free"}}
    again = {"type": "identify", "userId": "u", "messageId": "m-1", "traits": {"plan": "pro"}}
    client.post("/v1/batch", json={"batch": [first, again]})
    client.post("/v1/identify", json={**again})
    data = messages(client)
    assert [m["outcome"] for m in data["messages"]] == ["accepted", "duplicate", "duplicate"]
    assert client.get("/emulator/v1/profiles/u").json()["data"]["profile"]["traits"] == {"plan": "free"}


def test_messages_get_ids_timestamps_and_batch_context(client):
    client.post(
        "/v1/batch",
        json={
            "batch": [{"type": "track", "userId": "u", "event": "E", "context": {"a": 1}}],
            "context": {"a": 0, "b": 2},
            "integrations": {"All": False},
        },
    )
    message = messages(client)["messages"][0]["message"]
    assert message["messageId"] and message["receivedAt"] and message["timestamp"]
    assert message["context"] == {"a": 1, "b": 2} and message["integrations"] == {"All": False}


def test_silently_dropped_messages(client):
    batch = [
        {"type": "identify", "traits": {"x": 1}},
        {"type": "track", "userId": "u"},
        {"userId": "u"},
        {"type": "group", "userId": "u"},
        {"type": "identify", "userId": "u", "messageId": "m" * 101},
        {"type": "identify", "userId": "ok"},
    ]
    assert client.post("/v1/batch", json={"batch": batch}).status_code == 200
    outcomes = [m["outcome"] for m in messages(client)["messages"]]
    assert outcomes == ["rejected"] * 5 + ["accepted"]


def test_profiles_materialise_identify_group_track_and_subscriptions(client):
    batch = [
        {"type": "identify", "userId": "u1", "traits": {"email": "a@x.io", "plan": "free"}, "messageId": "1"},
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"plan": "pro"},
            "anonymousId": "anon-1",
            "messageId": "2",
        },
        {"type": "group", "userId": "u1", "groupId": "acct", "traits": {"name": "Initech"}, "messageId": "3"},
        {"type": "group", "userId": "u1", "groupId": "acct", "traits": {"employees": 42}, "messageId": "4"},
        {"type": "track", "userId": "u1", "event": "Renewed", "properties": {"amount": 49}, "messageId": "5"},
        {
            "type": "identify",
            "userId": "u1",
            "messageId": "6",
            "context": {
                "messaging_subscriptions": [
                    {
                        "key": "a@x.io",
                        "type": "EMAIL",
                        "status": "SUBSCRIBED",
                        "groups": [{"name": "news", "status": "UNSUBSCRIBED"}],
                    },
                    {"key": "+1555", "type": "SMS", "status": "UNSUBSCRIBED"},
                ],
                "externalIds": [{"id": "a@x.io", "type": "email", "collection": "users", "encoding": "none"}],
                "messaging_subscriptions_retl": True,
            },
        },
        {
            "type": "identify",
            "userId": "u1",
            "messageId": "7",
            "context": {
                "messaging_subscriptions": [{"key": "a@x.io", "type": "EMAIL", "status": "UNSUBSCRIBED"}]
            },
        },
    ]
    client.post("/v1/batch", json={"batch": batch})
    user = client.get("/emulator/v1/profiles/u1").json()["data"]["profile"]
    assert user["traits"] == {"email": "a@x.io", "plan": "pro"}
    assert user["anonymousIds"] == ["anon-1"] and user["groups"] == ["acct"]
    assert [(e["event"], e["properties"]) for e in user["events"]] == [("Renewed", {"amount": 49})]
    subs = {(s["type"], s["key"]): s for s in user["subscriptions"]}
    assert subs[("EMAIL", "a@x.io")]["status"] == "UNSUBSCRIBED"
    assert subs[("EMAIL", "a@x.io")]["groups"] == [{"name": "news", "status": "UNSUBSCRIBED"}]
    assert subs[("SMS", "+1555")]["status"] == "UNSUBSCRIBED"
    assert user["externalIds"][0]["type"] == "email"
    group = client.get("/emulator/v1/profiles/acct").json()["data"]["profile"]
    assert group["kind"] == "group" and group["traits"] == {"name": "Initech", "employees": 42}
    assert group["members"] == ["u1"]
    assert client.get("/emulator/v1/profiles/acct?kind=user").status_code == 404


def test_messages_cursor_after_and_pagination(client):
    client.post(
        "/v1/batch", json={"batch": [{"type": "track", "userId": "u", "event": f"E{i}"} for i in range(5)]}
    )
    first = messages(client, limit=2)
    assert [m["message"]["event"] for m in first["messages"]] == ["E0", "E1"]
    rest = messages(client, after=first["after"], limit=10)
    assert [m["message"]["event"] for m in rest["messages"]] == ["E2", "E3", "E4"]
    assert rest["pagination"]["next"] is None
    via_cursor = client.get(
        f"/emulator/v1/messages?pagination%5Bcount%5D=2&pagination%5Bcursor%5D={first['pagination']['next']}"
    ).json()["data"]
    assert [m["message"]["event"] for m in via_cursor["messages"]] == ["E2", "E3"]


def test_segment_python_client_delivers_with_gzip(live_server):
    from segment.analytics import Client

    errors = []
    client = Client(
        "any-key",
        host=live_server.url,
        gzip=True,
        sync_mode=True,
        max_retries=0,
        on_error=lambda exc, batch: errors.append(exc),
    )
    client.identify("py-user", {"email": "py@x.io"})
    client.track("py-user", "Signed Up", {"plan": "pro"})
    client.group("py-user", "py-acct", {"name": "Py Corp"})
    client.flush()
    assert not errors

    profile = httpx.get(f"{live_server.url}/emulator/v1/profiles/py-user").json()["data"]["profile"]
    assert profile["traits"] == {"email": "py@x.io"} and profile["groups"] == ["py-acct"]
    assert [e["event"] for e in profile["events"]] == ["Signed Up"]
    stored = httpx.get(f"{live_server.url}/emulator/v1/messages").json()["data"]["messages"]
    assert stored[0]["message"]["context"]["library"]["name"] == "analytics-python"


def test_an_after_cursor_still_sees_messages_that_arrive_after_a_clear(client):
    track = [{"type": "track", "userId": "u", "event": f"E{i}"} for i in range(3)]
    client.post("/v1/batch", json={"batch": track})
    seen = messages(client)
    client.delete("/emulator/v1/messages")
    client.post("/v1/track", json={"userId": "u", "event": "later"})
    later = messages(client, after=seen["after"])
    assert [m["message"]["event"] for m in later["messages"]] == ["later"]
    assert later["messages"][0]["seq"] > max(m["seq"] for m in seen["messages"])


def test_clearing_messages_forgets_dedup_memory(client):
    client.post("/v1/identify", json={"userId": "u", "messageId": "same", "traits": {"v": 1}})
    cleared = client.delete("/emulator/v1/messages")
    assert cleared.json()["data"]["deleted"] == 1
    assert client.get("/emulator/v1/profiles/u").status_code == 404
    client.post("/v1/identify", json={"userId": "u", "messageId": "same", "traits": {"v": 2}})
    assert [m["outcome"] for m in messages(client)["messages"]] == ["accepted"]


def test_odd_shapes_never_crash(client):
    odd = {
        "batch": [
            {"type": "track", "userId": 7, "event": "E", "context": ["not", "an", "object"], "messageId": 99},
            "not an object",
            {"type": 5, "userId": "u"},
        ],
        "context": {"ip": "0.0.0.0"},
        "integrations": {"All": False},
    }
    assert client.post("/v1/batch", json=odd).status_code == 200
    stored = messages(client)["messages"]
    assert [m["outcome"] for m in stored] == ["accepted", "rejected", "rejected"]
    assert stored[0]["message"]["messageId"] == "99" and stored[0]["message"]["context"] == {"ip": "0.0.0.0"}
    assert client.get("/emulator/v1/profiles/7").json()["data"]["profile"]["events"][0]["event"] == "E"
    assert client.post("/v1/batch", json={"batch": "nope"}).status_code == 400
    assert client.post("/v1/track", json=["x"]).status_code == 400


def test_stored_messages_keep_every_value_sent(client):
    """Bodies are read with the fast parser, and what it refuses (integers past 64 bits) with the
    standard one: either way a stored message holds exactly what was sent."""
    values = {"text": "Zoë \u2028 ✓", "float": 0.1, "int": -(2**63), "nested": [{"a": None}]}
    big = {"huge": 2**70, "text": "é"}
    pad = "x" * 20_000  # the body is over one message's size: every message is encoded and measured
    batch = [
        {"type": "track", "userId": "u", "event": "E", "messageId": "m-1", "properties": values},
        {"type": "track", "userId": "u", "event": "F", "messageId": "m-2", "properties": {"pad": pad}},
        {"type": "track", "userId": "u", "event": "F", "messageId": "m-4", "properties": {"pad": pad}},
    ]
    client.post("/v1/batch", content=json.dumps({"batch": batch}).encode())
    client.post(
        "/v1/batch",
        content=json.dumps(
            {
                "batch": [
                    {
                        "type": "track",
                        "userId": "u",
                        "event": "G",
                        "messageId": "m-3",
                        "properties": big,
                    }
                ]
            }
        ).encode(),
    )
    stored = {m["message"]["messageId"]: m for m in messages(client)["messages"]}
    assert [stored[k]["outcome"] for k in ("m-1", "m-2", "m-3")] == ["accepted"] * 3
    assert stored["m-1"]["message"]["properties"] == values
    assert stored["m-2"]["message"]["properties"] == {"pad": pad}
    third = stored["m-3"]["message"]["properties"]
    assert third == big

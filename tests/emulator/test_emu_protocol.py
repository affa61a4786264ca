"""Cross-cutting protocol: pagination notations, auth, error envelopes, rate limits."""

from __future__ import annotations

import base64
import json
from email.utils import parsedate_to_datetime

import pytest
from starlette.testclient import TestClient

from segprof.emulator.app import create_app
from segprof.emulator.ratelimit import RateLimiter

POSTGRES = "WvlvcGEJsT"


def make_sources(client, n):
    ids = []
    for i in range(n):
        r = client.post("/sources", json={"slug": f"s{i}", "enabled": True, "metadataId": POSTGRES})
        ids.append(r.json()["data"]["source"]["id"])
    return ids


@pytest.mark.parametrize(
    ("count_key", "cursor_key"),
    [
        ("pagination.count", "pagination.cursor"),
        ("pagination[count]", "pagination[cursor]"),
        ("pagination%5Bcount%5D", "pagination%5Bcursor%5D"),
        ("pagination%2Ecount", "pagination%2Ecursor"),
    ],
)
def test_pagination_walks_every_page_in_each_notation(client, count_key, cursor_key):
    created = make_sources(client, 7)
    seen, cursor, pages = [], None, 0
    while True:
        query = f"{count_key}=3" if cursor is None else f"{cursor_key}={cursor}&{count_key}=3"
        data = client.get(f"/sources?{query}").json()["data"]
        pages += 1
        seen += [s["id"] for s in data["sources"]]
        assert data["pagination"]["totalEntries"] == 7
        cursor = data["pagination"]["next"]
        if cursor is None:
            break
        cursor = cursor.replace("=", "%3D")
    assert seen == created and pages == 3


def test_first_cursor_is_base64_zero_and_previous_links(client):
    make_sources(client, 4)
    first = client.get("/sources?pagination.count=2").json()["data"]["pagination"]
    assert first["current"] == "MA==" and first["previous"] is None
    second = client.get(f"/sources?pagination.count=2&pagination.cursor={first['next']}").json()["data"]
    assert second["pagination"]["previous"] == "MA==" and second["pagination"]["next"] is None


def test_a_page_past_the_end_is_empty_and_still_counts(client):
    make_sources(client, 3)
    cursor = base64.b64encode(b"5").decode()
    data = client.get(f"/sources?pagination.count=2&pagination.cursor={cursor}").json()["data"]
    assert data["sources"] == []
    assert data["pagination"]["totalEntries"] == 3 and data["pagination"]["next"] is None


def test_pagination_in_body_and_default_count(client):
    make_sources(client, 3)
    data = client.request("GET", "/sources", json={"pagination": {"count": 2}}).json()["data"]
    assert len(data["sources"]) == 2
    assert len(client.get("/sources").json()["data"]["sources"]) == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("pagination.count=0", "pagination.count"),
        ("pagination.count=1001", "pagination.count"),
        ("pagination.count=ten", "pagination.count"),
        ("pagination.count=5&pagination.cursor=%%%", "pagination.cursor"),
    ],
)
def test_pagination_errors_are_422(client, query, field):
    response = client.get(f"/sources?{query}")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_subscriptions_and_destinations_paginate(client, make_workspace):
    ws = [make_workspace(client, slug=f"w{i}") for i in range(3)]
    page = client.get("/destinations?pagination[count]=2").json()["data"]
    assert [d["id"] for d in page["destinations"]] == [w.destination_id for w in ws[:2]]
    nxt = client.get(f"/destinations?pagination[count]=2&pagination[cursor]={page['pagination']['next']}")
    assert [d["id"] for d in nxt.json()["data"]["destinations"]] == [ws[2].destination_id]
    subs = client.get(f"/destinations/{ws[0].destination_id}/subscriptions?pagination.count=1").json()["data"]
    assert [s["id"] for s in subs["subscriptions"]] == [ws[0].subscription_id]


def test_token_required_when_set(tmp_path):
    with TestClient(create_app(tmp_path, token="tok-123")) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dG9rLTEyMzo="}):
            response = client.get("/sources", headers=headers)
            assert response.status_code == 401
            body = response.json()
            assert list(body) == ["errors"] and body["errors"][0]["type"] == "unauthorized"
            assert "tok-123" not in response.text
        ok = client.get("/sources", headers={"Authorization": "Bearer tok-123"})
        assert ok.status_code == 200
        assert client.get("/emulator/v1/messages").status_code == 401


def test_any_token_when_unset(client):
    assert client.get("/sources", headers={"Authorization": "Bearer anything"}).status_code == 200
    assert client.get("/sources").status_code == 200


def test_error_envelopes(client):
    bad_json = client.post("/sources", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()["errors"][0]["type"] == "bad-request"
    array = client.post("/sources", json=[1, 2])
    assert array.status_code == 400
    unknown_path = client.get("/no/such/endpoint")
    assert unknown_path.status_code == 404 and "errors" in unknown_path.json()
    wrong_method = client.put("/sources")
    assert wrong_method.status_code == 405 and "errors" in wrong_method.json()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(client, workspace, constant):
    # As for Segment (JSON.parse): a 400, and nothing stored that no response could carry.
    path = f"/destinations/{workspace.destination_id}"
    response = client.patch(path, content=f'{{"settings": {{"n": {constant}}}}}'.encode())
    assert response.status_code == 400 and response.json()["errors"][0]["type"] == "bad-request"
    read = client.get(path)
    assert read.status_code == 200 and "n" not in read.json()["data"]["destination"]["settings"]


def test_values_round_trip_exactly(client, workspace):
    settings = {"big": 123456789012345678901234567890, "float": 1e16, "text": "é\u2028\x00", "neg": -(2**63)}
    path = f"/destinations/{workspace.destination_id}"
    assert client.patch(path, json={"settings": settings}).status_code == 200
    for response in (client.get(path), client.get("/destinations")):
        assert response.headers["content-type"] == "application/json"
        body = json.loads(response.content)
        found = body["data"].get("destination") or body["data"]["destinations"][0]
        assert found["settings"] == settings


def test_accepts_segment_media_types(client):
    headers = {
        "Content-Type": "application/vnd.segment.v1alpha+json",
        "Accept": "application/vnd.segment.v1alpha+json, application/json",
    }
    response = client.post(
        "/sources", content=b'{"slug":"a","enabled":true,"metadataId":"WvlvcGEJsT"}', headers=headers
    )
    assert response.status_code == 201


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def limited_client(tmp_path, clock):
    app = create_app(tmp_path)
    app.state.limiter.clock = clock
    return TestClient(app)


def test_subscription_writes_limited_to_five_per_minute(tmp_path, make_workspace):
    clock = Clock()
    with limited_client(tmp_path, clock) as client:
        ws = make_workspace(client)  # one subscription create
        path = f"/destinations/{ws.destination_id}/subscriptions/{ws.subscription_id}"
        remaining = []
        for _ in range(4):
            response = client.patch(path, json={"input": {"enabled": False}})
            assert response.status_code == 200
            remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert remaining == [4, 3, 2, 1]  # creates and updates have separate budgets
        client.patch(path, json={"input": {"enabled": False}})
        clock.now += 20
        limited = client.patch(path, json={"input": {"enabled": True}})
        assert limited.status_code == 429
        error = limited.json()["errors"][0]
        assert error["type"] == "RequestError" and error["message"] == "Too many requests"
        assert error["data"]["remainingPoints"] == 0 and error["data"]["msBeforeNext"] == 40_000
        reset = parsedate_to_datetime(limited.headers["X-RateLimit-Reset"])
        assert reset.timestamp() == pytest.approx(clock.now + 40, abs=1)
        # The refused write did not apply.
        assert client.get(path).json()["data"]["subscription"]["enabled"] is False
        clock.now += 41
        assert client.patch(path, json={"input": {"enabled": True}}).status_code == 200


def test_manual_syncs_limited_to_twenty_per_minute(tmp_path, make_workspace):
    with limited_client(tmp_path, Clock()) as client:
        ws = make_workspace(client)
        body = {"sourceId": ws.source_id, "modelId": ws.model_id, "subscriptionId": ws.subscription_id}
        codes = [client.post("/reverse-etl-syncs", json=body).status_code for _ in range(21)]
        assert codes == [200] * 20 + [429]
        # Other endpoints are not limited by that budget.
        assert client.get("/sources").status_code == 200


def test_rate_limits_switch_off(client, workspace):
    path = f"/destinations/{workspace.destination_id}/subscriptions/{workspace.subscription_id}"
    codes = {client.patch(path, json={"input": {"enabled": True}}).status_code for _ in range(8)}
    assert codes == {200}


def test_limits_are_per_token(tmp_path):
    limiter = RateLimiter(clock=Clock())
    for _ in range(5):
        limiter.check("POST", "/destinations/d/subscriptions", "a")
    limiter.check("POST", "/destinations/d/subscriptions", "b")
    with pytest.raises(Exception) as raised:
        limiter.check("POST", "/destinations/d/subscriptions", "a")
    assert raised.value.status == 429

"""Broken input never yields a 500 or a non-Segment body from the Public API."""

from __future__ import annotations

import itertools

import pytest

ODD_VALUES = [None, 1, -1.5, True, "", "x" * 300, [], [1], {}, {"a": {"b": None}}, "null"]


def endpoints(ws):
    d, s, m, sub = ws.destination_id, ws.source_id, ws.model_id, ws.subscription_id
    return [
        ("POST", "/sources", ["slug", "enabled", "metadataId", "settings", "name"]),
        ("PATCH", f"/sources/{s}", ["slug", "enabled", "name", "settings", "metadataId"]),
        (
            "POST",
            "/reverse-etl-models",
            ["sourceId", "name", "description", "enabled", "query", "queryIdentifierColumn"],
        ),
        (
            "PATCH",
            f"/reverse-etl-models/{m}",
            ["name", "enabled", "query", "queryIdentifierColumn", "sourceId"],
        ),
        ("POST", "/destinations", ["sourceId", "metadataId", "settings", "enabled", "name"]),
        ("PATCH", f"/destinations/{d}", ["name", "enabled", "settings", "sourceId"]),
        (
            "POST",
            f"/destinations/{d}/subscriptions",
            ["name", "actionId", "trigger", "enabled", "settings", "modelId"],
        ),
        ("POST", "/reverse-etl-syncs", ["sourceId", "modelId", "subscriptionId"]),
        ("POST", f"/reverse-etl-models/{m}/syncs/1/cancel", ["reasonForCanceling"]),
        ("PATCH", f"/destinations/{d}/subscriptions/{sub}", ["input"]),
    ]


def test_odd_field_values_are_4xx_with_segment_errors(client, workspace):
    for method, path, keys in endpoints(workspace):
        for key, value in itertools.product(keys, ODD_VALUES):
            response = client.request(method, path, json={key: value})
            assert response.status_code < 500, (method, path, key, value, response.text)
            body = response.json()
            assert ("data" in body) != ("errors" in body), body


@pytest.mark.parametrize("value", ODD_VALUES)
def test_odd_subscription_update_inputs(client, workspace, value):
    path = f"/destinations/{workspace.destination_id}/subscriptions/{workspace.subscription_id}"
    for key in ("name", "trigger", "enabled", "settings", "reverseETLModelId", "reverseETLSchedule"):
        response = client.patch(path, json={"input": {key: value}})
        assert response.status_code < 500, (key, value, response.text)
    for schedule in (
        {"strategy": value},
        {"strategy": "PERIODIC", "config": value},
        {"strategy": "SPECIFIC_DAYS", "config": {"days": value, "hours": value, "timezone": value}},
        {"strategy": "CRON", "config": {"spec": value, "timezone": value}},
    ):
        response = client.patch(path, json={"input": {"reverseETLSchedule": schedule}})
        assert response.status_code < 500, (schedule, response.text)


def test_odd_query_strings(client, workspace):
    for query in (
        "pagination",
        "pagination=1",
        "pagination[count]=",
        "pagination.count=1e3",
        "%ZZ=1",
        "pagination.cursor=MA%3D%3D",
        "pagination.cursor=LTE=",
        "count=5",
    ):
        for path in (
            "/sources",
            "/destinations",
            "/reverse-etl-models",
            "/catalog/sources",
            "/catalog/warehouses",
            f"/reverse-etl-models/{workspace.model_id}/subscriptionId/{workspace.subscription_id}/syncs",
            "/emulator/v1/messages",
        ):
            response = client.get(f"{path}?{query}")
            assert response.status_code < 500, (path, query, response.text)

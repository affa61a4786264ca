"""Destination subscriptions (mappings) and manual syncs."""

from __future__ import annotations

import re

import pytest

from segprof.emulator.syncs import SyncResult

BASE58 = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{22}$")
SEND_TRACK = "ujsJxBdpg7XkYwKSKREnQt"


def sub_path(ws, sub_id=None):
    base = f"/destinations/{ws.destination_id}/subscriptions"
    return f"{base}/{sub_id or ws.subscription_id}"


def test_create_answers_destination_subscription_and_get_answers_subscription(client, workspace):
    got = client.get(sub_path(workspace))
    assert got.status_code == 200
    sub = got.json()["data"]["subscription"]
    assert BASE58.match(sub["id"])
    assert sub["actionSlug"] == "sendIdentify" and sub["modelId"] == workspace.model_id
    assert sub["destinationId"] == workspace.destination_id
    assert sub["reverseETLSchedule"] == {"strategy": "MANUAL", "config": None}


def test_update_is_wrapped_in_input_and_sets_schedule(client, workspace):
    unwrapped = client.patch(sub_path(workspace), json={"name": "x"})
    assert unwrapped.status_code == 422 and unwrapped.json()["errors"][0]["field"] == "input"
    response = client.patch(
        sub_path(workspace),
        json={
            "input": {
                "name": "Renamed",
                "enabled": False,
                "trigger": 'event = "deleted"',
                "reverseETLModelId": workspace.model_id,
                "reverseETLSchedule": {"strategy": "periodic", "config": {"interval": "1h"}},
            }
        },
    )
    assert response.status_code == 200
    sub = response.json()["data"]["subscription"]
    assert sub["name"] == "Renamed" and sub["enabled"] is False and sub["trigger"] == 'event = "deleted"'
    assert sub["reverseETLSchedule"] == {"strategy": "PERIODIC", "config": {"interval": "1h"}}
    assert client.get(sub_path(workspace)).json()["data"]["subscription"] == sub


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"strategy": "HOURLY"}, "input.reverseETLSchedule.strategy"),
        ({"strategy": "PERIODIC", "config": {"interval": "5m"}}, "input.reverseETLSchedule.config.interval"),
        (
            {"strategy": "PERIODIC", "config": {"interval": "soon"}},
            "input.reverseETLSchedule.config.interval",
        ),
        ({"strategy": "MANUAL", "config": {"interval": "1h"}}, "input.reverseETLSchedule.config"),
        (
            {"strategy": "SPECIFIC_DAYS", "config": {"days": [7], "hours": [6], "timezone": "UTC"}},
            "input.reverseETLSchedule.config.days",
        ),
        (
            {"strategy": "SPECIFIC_DAYS", "config": {"days": [1], "hours": [6], "timezone": "Mars/Base"}},
            "input.reverseETLSchedule.config.timezone",
        ),
        (
            {"strategy": "CRON", "config": {"spec": "* * *", "timezone": "UTC"}},
            "input.reverseETLSchedule.config.spec",
        ),
        ({"strategy": "DBT_CLOUD", "config": {"jobId": "1"}}, "input.reverseETLSchedule.config.accountId"),
    ],
)
def test_bad_schedules_are_422_naming_the_field(client, workspace, schedule, field):
    response = client.patch(sub_path(workspace), json={"input": {"reverseETLSchedule": schedule}})
    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "type": "input-validation",
        "message": response.json()["errors"][0]["message"],
        "field": field,
    }


@pytest.mark.parametrize(
    "schedule",
    [
        {"strategy": "MANUAL"},
        {
            "strategy": "SPECIFIC_DAYS",
            "config": {"days": [1, 2, 3, 4, 5], "hours": [6, 18], "timezone": "Europe/Berlin"},
        },
        {"strategy": "CRON", "config": {"spec": "0 */6 * * *", "timezone": "UTC"}},
        {"strategy": "DBT_CLOUD", "config": {"jobId": "123", "accountId": "456"}},
        {"strategy": "PERIODIC", "config": {"interval": "1d"}},
    ],
)
def test_good_schedules_read_back(client, workspace, schedule):
    response = client.patch(sub_path(workspace), json={"input": {"reverseETLSchedule": schedule}})
    assert response.status_code == 200, response.text
    read = response.json()["data"]["subscription"]["reverseETLSchedule"]
    assert read["strategy"] == schedule["strategy"]
    assert read["config"] == schedule.get("config")


def test_immutables_rejected_on_update(client, workspace):
    for key in ("actionId", "modelId", "destinationId"):
        response = client.patch(sub_path(workspace), json={"input": {key: SEND_TRACK}})
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == f"input.{key}"


def test_create_validation(client, workspace):
    base = {"name": "t", "actionId": SEND_TRACK, "trigger": 'event = "new"', "enabled": True}
    path = f"/destinations/{workspace.destination_id}/subscriptions"
    for missing in ("name", "actionId", "trigger", "enabled"):
        body = {k: v for k, v in base.items() if k != missing}
        response = client.post(path, json=body)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == missing
    bad_action = client.post(path, json={**base, "actionId": "notAnAction"})
    assert bad_action.json()["errors"][0]["field"] == "actionId"
    bad_trigger = client.post(
        path, json={**base, "modelId": workspace.model_id, "trigger": 'event = "maybe"'}
    )
    assert bad_trigger.status_code == 422 and bad_trigger.json()["errors"][0]["field"] == "trigger"
    unknown_model = client.post(path, json={**base, "modelId": "missingModel"})
    assert unknown_model.status_code == 404
    unknown_destination = client.post("/destinations/ffffffffffffffffffffffff/subscriptions", json=base)
    assert unknown_destination.status_code == 404


def test_model_of_another_source_is_refused(client, workspace, make_workspace):
    other = make_workspace(client, slug="second")
    response = client.post(
        f"/destinations/{workspace.destination_id}/subscriptions",
        json={
            "name": "t",
            "actionId": SEND_TRACK,
            "trigger": 'event = "new"',
            "enabled": True,
            "modelId": other.model_id,
        },
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "modelId"


def test_subscription_under_wrong_destination_is_404(client, workspace, make_workspace):
    other = make_workspace(client, slug="second")
    wrong = f"/destinations/{other.destination_id}/subscriptions/{workspace.subscription_id}"
    assert client.get(wrong).status_code == 404


def test_manual_sync_default_runner_succeeds_with_zero_counts(client, workspace):
    body = {
        "sourceId": workspace.source_id,
        "modelId": workspace.model_id,
        "subscriptionId": workspace.subscription_id,
    }
    created = client.post("/reverse-etl-syncs", json=body)
    assert created.status_code == 200
    sync = created.json()["data"]["reverseETLSync"]
    assert sync["syncStatus"] == "SUCCESS" and sync["extractPhase"]["extractCount"] == "0"
    assert sync["loadPhase"]["deliverSuccessCount"] == "0"
    status = client.get(f"/reverse-etl-models/{workspace.model_id}/syncs/{sync['syncId']}")
    assert status.status_code == 200
    assert status.json()["data"]["reverseETLSync"]["syncId"] == sync["syncId"]
    second = client.post("/reverse-etl-syncs", json=body).json()["data"]["reverseETLSync"]
    history = client.get(
        f"/reverse-etl-models/{workspace.model_id}/subscriptionId/{workspace.subscription_id}/syncs?count=1"
    ).json()["data"]
    assert [s["syncId"] for s in history["syncStatuses"]] == [second["syncId"]]
    assert history["pagination"]["next"] is not None
    rest = client.get(
        f"/reverse-etl-models/{workspace.model_id}/subscriptionId/{workspace.subscription_id}/syncs"
        f"?count=1&cursor={history['pagination']['next']}"
    ).json()["data"]
    assert [s["syncId"] for s in rest["syncStatuses"]] == [sync["syncId"]]
    cancel = client.post(f"/reverse-etl-models/{workspace.model_id}/syncs/{sync['syncId']}/cancel", json={})
    assert cancel.json()["data"]["errorCode"] == "SyncFinishedCannotCancel"


def test_manual_sync_validation(client, workspace):
    good = {
        "sourceId": workspace.source_id,
        "modelId": workspace.model_id,
        "subscriptionId": workspace.subscription_id,
    }
    missing = client.post("/reverse-etl-syncs", json={k: v for k, v in good.items() if k != "subscriptionId"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "subscriptionId"
    assert client.post("/reverse-etl-syncs", json={**good, "modelId": "nope"}).status_code == 404
    assert client.get(f"/reverse-etl-models/{workspace.model_id}/syncs/999").status_code == 404


def test_pluggable_runner_sees_the_mapping_and_reports(data_dir, make_workspace):
    from starlette.testclient import TestClient

    from segprof.emulator.app import create_app

    seen = []

    class Pending:
        def start(self, request, reporter):
            seen.append(request)
            self.reporter = reporter

    runner = Pending()
    with TestClient(create_app(data_dir, sync_runner=runner)) as client:
        ws = make_workspace(client)
        body = {"sourceId": ws.source_id, "modelId": ws.model_id, "subscriptionId": ws.subscription_id}
        sync = client.post("/reverse-etl-syncs", json=body).json()["data"]["reverseETLSync"]
        assert sync["syncStatus"] == "IN_PROGRESS"
        assert seen[0].subscription["settings"]["engage_space"] == "space-key"
        assert seen[0].model["queryIdentifierColumn"] == "user_id"
        runner.reporter.finish(
            SyncResult(status="PARTIAL_SUCCESS", added=3, updated=1, delivered=3, failed=1)
        )
        status = client.get(f"/reverse-etl-models/{ws.model_id}/syncs/{sync['syncId']}").json()["data"]
        final = status["reverseETLSync"]
        assert final["syncStatus"] == "PARTIAL_SUCCESS"
        assert (
            final["extractPhase"]["extractCount"] == "4" and final["loadPhase"]["deliverFailureCount"] == "1"
        )


def test_a_runner_cannot_change_the_catalog(data_dir, make_workspace):
    # The app shares one read-only catalog between requests; a runner gets its own copies.
    from starlette.testclient import TestClient

    from segprof.emulator.app import create_app

    class Vandal:
        def start(self, request, reporter):
            request.destination["metadata"]["actions"].clear()
            request.destination["metadata"]["name"] = "changed"
            request.source["metadata"]["options"] = []

    with TestClient(create_app(data_dir, sync_runner=Vandal())) as client:
        ws = make_workspace(client)
        before = client.get(f"/destinations/{ws.destination_id}").json()["data"]["destination"]
        source_before = client.get(f"/sources/{ws.source_id}").json()["data"]["source"]
        body = {"sourceId": ws.source_id, "modelId": ws.model_id, "subscriptionId": ws.subscription_id}
        assert client.post("/reverse-etl-syncs", json=body).status_code == 200
        assert client.get(f"/destinations/{ws.destination_id}").json()["data"]["destination"] == before
        assert client.get(f"/sources/{ws.source_id}").json()["data"]["source"] == source_before
        catalog = client.get(f"/catalog/destinations/{before['metadata']['id']}").json()["data"]
        assert catalog["destinationMetadata"] == before["metadata"]
        assert len(before["metadata"]["actions"]) == 4 and before["metadata"]["options"] is not None


def test_cancel_an_in_progress_sync(data_dir, make_workspace):
    from starlette.testclient import TestClient

    from segprof.emulator.app import create_app

    class Never:
        def start(self, request, reporter):
            pass

    with TestClient(create_app(data_dir, sync_runner=Never())) as client:
        ws = make_workspace(client)
        body = {"sourceId": ws.source_id, "modelId": ws.model_id, "subscriptionId": ws.subscription_id}
        sync_id = client.post("/reverse-etl-syncs", json=body).json()["data"]["reverseETLSync"]["syncId"]
        first = client.post(
            f"/reverse-etl-models/{ws.model_id}/syncs/{sync_id}/cancel", json={"reasonForCanceling": 4}
        )
        assert first.json()["data"]["status"] == "CANCELLING"
        again = client.post(f"/reverse-etl-models/{ws.model_id}/syncs/{sync_id}/cancel")
        assert again.json()["data"]["errorCode"] == "SyncAlreadyCanceled"

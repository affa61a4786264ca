"""Public API resources: shapes, ids, validation, immutables, secrets, deletes."""

from __future__ import annotations

import re

import pytest

BASE58 = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{22}$")
HEX24 = re.compile(r"^[0-9a-f]{24}$")
PROFILES = "639c2dbb1309fdcad13951b6"
SNOWFLAKE = "BQp3zGUgjV"
ACTIONS = {
    "sendIdentify": "vm2tNA5U1zxUusQkdC4D7Z",
    "sendGroup": "zfCkGpUYbWN9ns5jr1jvU",
    "sendSubscription": "bJDm8aeYaQaGLVGtnRa28W",
    "sendTrack": "ujsJxBdpg7XkYwKSKREnQt",
}


def test_catalog_has_segment_profiles_with_its_four_actions(client):
    response = client.get(f"/catalog/destinations/{PROFILES}")
    assert response.status_code == 200
    meta = response.json()["data"]["destinationMetadata"]
    assert meta["slug"] == "actions-segment-profiles"
    assert meta["supportedRegions"] == ["us-west-2", "eu-west-1"]
    by_slug = {a["slug"]: a for a in meta["actions"]}
    assert {slug: a["id"] for slug, a in by_slug.items()} == ACTIONS
    assert by_slug["sendTrack"]["defaultTrigger"] is None
    assert by_slug["sendGroup"]["defaultTrigger"] == 'type = "group"'
    required = {
        slug: sorted(f["fieldKey"] for f in a["fields"] if f["required"]) for slug, a in by_slug.items()
    }
    assert required == {
        "sendIdentify": ["engage_space"],
        "sendGroup": ["engage_space", "group_id"],
        "sendSubscription": ["engage_space"],
        "sendTrack": ["engage_space", "event_name"],
    }
    sub_fields = {f["fieldKey"]: f for f in by_slug["sendSubscription"]["fields"]}
    assert sub_fields["email_subscription_status"]["allowNull"] is True
    assert sub_fields["message_id"]["hidden"] is True
    assert sub_fields["timestamp"]["defaultValue"] == {"@path": "$.timestamp"}
    assert sub_fields["engage_space"]["dynamic"] is True


def test_catalog_sources_and_unknown_metadata(client):
    listing = client.get("/catalog/sources?pagination.count=100").json()["data"]["sourcesCatalog"]
    slugs = {s["slug"]: s["id"] for s in listing}
    assert slugs["snowflake"] == SNOWFLAKE and slugs["postgres"] == "WvlvcGEJsT"
    assert client.get("/catalog/sources/nope").status_code == 404
    assert client.get("/catalog/destinations/000000000000000000000000").status_code == 404


def test_catalog_warehouses_lists_pages_and_reads_one(client):
    first = client.get("/catalog/warehouses?pagination.count=2")
    assert first.status_code == 200
    data = first.json()["data"]
    assert len(data["warehousesCatalog"]) == 2 and data["pagination"]["next"]
    listing = client.get("/catalog/warehouses?pagination.count=100").json()["data"]["warehousesCatalog"]
    slugs = {w["slug"]: w for w in listing}
    assert {"snowflake", "bigquery", "redshift", "postgres", "databricks"} <= set(slugs)
    for entry in listing:
        assert set(entry) >= {"id", "name", "slug", "description", "logos", "options"}
    one = client.get(f"/catalog/warehouses/{slugs['postgres']['id']}")
    assert one.status_code == 200
    assert one.json()["data"]["warehouseMetadata"]["slug"] == "postgres"
    assert client.get("/catalog/warehouses/nope").status_code == 404


def test_source_create_read_update_masks_secrets(client):
    created = client.post(
        "/sources",
        json={
            "slug": "snow",
            "enabled": True,
            "metadataId": SNOWFLAKE,
            "settings": {"account": "ORG-ACCT", "username": "RETL", "password": "hunter2-very-secret"},
            "disconnectAllWarehouses": True,
        },
    )
    assert created.status_code == 201
    source = created.json()["data"]["source"]
    assert BASE58.match(source["id"])
    assert source["metadata"]["slug"] == "snowflake" and source["name"] is None
    assert source["settings"]["account"] == "ORG-ACCT"
    assert "hunter2" not in created.text and "•" in source["settings"]["password"]
    assert len(source["writeKeys"]) == 1 and len(source["writeKeys"][0]) == 32
    got = client.get(f"/sources/{source['id']}").json()["data"]
    assert got["trackingPlanId"] is None and got["source"]["settings"] == source["settings"]
    # Settings update is an upsert; null removes a key.
    patched = client.patch(
        f"/sources/{source['id']}", json={"name": "Snow", "settings": {"database": "DB", "username": None}}
    )
    assert patched.status_code == 200
    settings = patched.json()["data"]["source"]["settings"]
    assert settings["database"] == "DB" and "username" not in settings and settings["account"] == "ORG-ACCT"
    assert patched.json()["data"]["source"]["name"] == "Snow"


def test_source_secret_never_written_to_disk(client, data_dir):
    client.post(
        "/sources",
        json={
            "slug": "pg",
            "enabled": True,
            "metadataId": "WvlvcGEJsT",
            "settings": {"password": "s3cr3t-pw-xyz"},
        },
    )
    blob = b"".join(p.read_bytes() for p in data_dir.iterdir() if p.is_file())
    assert b"s3cr3t-pw-xyz" not in blob


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"enabled": True, "metadataId": SNOWFLAKE}, "slug"),
        ({"slug": "a", "metadataId": SNOWFLAKE}, "enabled"),
        ({"slug": "a", "enabled": True}, "metadataId"),
        ({"slug": "a", "enabled": "yes", "metadataId": SNOWFLAKE}, "enabled"),
        ({"slug": "a", "enabled": True, "metadataId": "nope"}, "metadataId"),
        ({"slug": "a", "enabled": True, "metadataId": SNOWFLAKE, "settings": []}, "settings"),
    ],
)
def test_source_validation_errors(client, body, field):
    response = client.post("/sources", json=body)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["type"] == "input-validation" and error["field"] == field
    assert "data" not in response.json()


def test_source_immutable_metadata_and_slug_conflict(client, workspace):
    response = client.patch(f"/sources/{workspace.source_id}", json={"metadataId": SNOWFLAKE})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "metadataId"
    dup = client.post("/sources", json={"slug": "warehouse", "enabled": True, "metadataId": SNOWFLAKE})
    assert dup.status_code == 409


def test_model_shapes_and_rules(client, workspace):
    model = client.get(f"/reverse-etl-models/{workspace.model_id}").json()["data"]["reverseEtlModel"]
    assert BASE58.match(model["id"])
    assert model == {
        "id": workspace.model_id,
        "sourceId": workspace.source_id,
        "name": "users",
        "description": "Users",
        "enabled": True,
        "query": "SELECT user_id, email FROM users",
        "queryIdentifierColumn": "user_id",
    }
    # Older SDKs send the removed schedule fields: accepted, not echoed.
    older = client.post(
        "/reverse-etl-models",
        json={
            "sourceId": workspace.source_id,
            "name": "n",
            "description": " ",
            "enabled": False,
            "query": "SELECT 1 AS id",
            "queryIdentifierColumn": "id",
            "scheduleStrategy": "MANUAL",
            "scheduleConfig": {},
        },
    )
    assert older.status_code == 201 and "scheduleStrategy" not in older.json()["data"]["reverseEtlModel"]
    too_long = client.patch(f"/reverse-etl-models/{workspace.model_id}", json={"query": "x" * 65_536})
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "query"
    moved = client.patch(f"/reverse-etl-models/{workspace.model_id}", json={"sourceId": "otherSource"})
    assert moved.status_code == 422 and moved.json()["errors"][0]["field"] == "sourceId"
    disabled = client.patch(f"/reverse-etl-models/{workspace.model_id}", json={"enabled": False})
    assert disabled.json()["data"]["reverseEtlModel"]["enabled"] is False
    assert disabled.json()["data"]["reverseEtlModel"]["query"] == model["query"]
    listing = client.get("/reverse-etl-models?pagination.count=10").json()["data"]
    assert [m["id"] for m in listing["models"]] == [
        workspace.model_id,
        older.json()["data"]["reverseEtlModel"]["id"],
    ]


def test_model_on_unknown_source_is_404(client):
    response = client.post(
        "/reverse-etl-models",
        json={
            "sourceId": "doesNotExist",
            "name": "n",
            "description": "d",
            "enabled": True,
            "query": "SELECT 1",
            "queryIdentifierColumn": "id",
        },
    )
    assert response.status_code == 404


def test_destination_shapes_and_immutables(client, workspace):
    destination = client.get(f"/destinations/{workspace.destination_id}").json()["data"]["destination"]
    assert HEX24.match(destination["id"])
    assert destination["metadata"]["id"] == PROFILES and len(destination["metadata"]["actions"]) == 4
    assert destination["sourceId"] == workspace.source_id and destination["settings"] == {}
    assert destination["enabled"] is False
    enabled = client.patch(f"/destinations/{workspace.destination_id}", json={"enabled": True, "name": None})
    assert enabled.json()["data"]["destination"]["enabled"] is True
    assert enabled.json()["data"]["destination"]["name"] is None
    for key in ("sourceId", "metadataId"):
        response = client.patch(f"/destinations/{workspace.destination_id}", json={key: "other"})
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == key
    missing_settings = client.post(
        "/destinations", json={"sourceId": workspace.source_id, "metadataId": PROFILES}
    )
    assert missing_settings.status_code == 422 and missing_settings.json()["errors"][0]["field"] == "settings"


def test_deletes_answer_success_and_then_404(client, workspace):
    sub_path = f"/destinations/{workspace.destination_id}/subscriptions/{workspace.subscription_id}"
    for path in (
        sub_path,
        f"/destinations/{workspace.destination_id}",
        f"/reverse-etl-models/{workspace.model_id}",
        f"/sources/{workspace.source_id}",
    ):
        response = client.delete(path)
        assert response.status_code == 200 and response.json() == {"data": {"status": "SUCCESS"}}
        again = client.get(path)
        assert again.status_code == 404 and again.json()["errors"][0]["type"] == "not-found"


def test_deleting_a_destination_removes_its_subscriptions(client, workspace, make_workspace):
    client.delete(f"/destinations/{workspace.destination_id}")
    other = make_workspace(client, slug="other")
    listing = client.get(f"/destinations/{other.destination_id}/subscriptions").json()["data"][
        "subscriptions"
    ]
    assert [s["id"] for s in listing] == [other.subscription_id]


def test_workspace_endpoint(client):
    workspace = client.get("/").json()["data"]["workspace"]
    assert BASE58.match(workspace["id"])

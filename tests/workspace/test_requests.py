"""The exact requests the client sends to the real API, and how it reads reference-shaped answers."""

from __future__ import annotations

import httpx
import pytest

from segprof.errors import SegprofError
from segprof.operations.workspaces import base_url_for
from segprof.workspace import Schedule
from segprof.workspace.resources import SEGMENT_PROFILES_METADATA_ID

from .apistub import TOKEN, body, ok, run

DEST = "68abfe7eacb3221e16dc5890"
MODEL = "99ajX6rZiHagThqHiS8z62"
SUB = "ioaGheb6a6m6hhg1Nbt5JF"
SOURCE = "hMgBoC3nJYSkCuEQ2Mq3bF"
SETTINGS = {
    "engage_space": "ws-key-abc",
    "user_id": {"@path": "$.properties.USER_ID"},
    "traits": {"email": {"@path": "$.properties.EMAIL"}},
}


def test_headers_on_every_request(make_client) -> None:
    client, api = make_client(lambda r: ok({"sources": [], "pagination": {"current": "MA=="}}))
    run(client.list_sources)
    (request,) = api.requests
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("segprof/")
    assert "content-type" not in request.headers  # GET carries no body
    assert str(request.url).startswith("https://api.segmentapis.com/sources?")


def test_create_subscription_posts_then_patches_input(make_client) -> None:
    sub = {
        "id": SUB,
        "name": "Users → identify",
        "actionId": "vm2tNA5U1zxUusQkdC4D7Z",
        "actionSlug": "sendIdentify",
        "destinationId": DEST,
        "modelId": MODEL,
        "enabled": True,
        "trigger": 'event = "new" or event = "updated"',
        "settings": SETTINGS,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return ok({"destinationSubscription": sub})
        return ok(
            {
                "subscription": {
                    **sub,
                    "reverseETLSchedule": {"strategy": "PERIODIC", "config": {"interval": "1h"}},
                }
            }
        )

    client, api = make_client(handler)
    result = run(
        lambda: client.create_subscription(
            DEST,
            name="Users → identify",
            action_id="vm2tNA5U1zxUusQkdC4D7Z",
            trigger='event = "new" or event = "updated"',
            enabled=True,
            settings=SETTINGS,
            model_id=MODEL,
            schedule=Schedule(strategy="periodic", config={"interval": "1h"}),
            address="mapping.identify_users",
        )
    )
    assert api.calls() == [
        ("POST", f"/destinations/{DEST}/subscriptions"),
        ("PATCH", f"/destinations/{DEST}/subscriptions/{SUB}"),
    ]
    post, patch = api.requests
    assert post.headers["content-type"] == "application/json"
    assert body(post) == {
        "name": "Users → identify",
        "actionId": "vm2tNA5U1zxUusQkdC4D7Z",
        "trigger": 'event = "new" or event = "updated"',
        "enabled": True,
        "modelId": MODEL,
        "settings": SETTINGS,
    }
    assert body(patch) == {
        "input": {
            "name": "Users → identify",
            "trigger": 'event = "new" or event = "updated"',
            "enabled": True,
            "settings": SETTINGS,
            "reverseETLModelId": MODEL,
            "reverseETLSchedule": {"strategy": "PERIODIC", "config": {"interval": "1h"}},
        }
    }
    assert result.id == SUB
    assert result.reverse_etl_schedule == Schedule(strategy="PERIODIC", config={"interval": "1h"})


def test_manual_schedule_has_no_config(make_client) -> None:
    client, api = make_client(
        lambda r: ok(
            {"subscription": {"id": SUB, "reverseETLSchedule": {"strategy": "MANUAL", "config": None}}}
        )
    )
    result = run(lambda: client.update_subscription(DEST, SUB, schedule=Schedule(strategy="MANUAL")))
    assert body(api.requests[0]) == {"input": {"reverseETLSchedule": {"strategy": "MANUAL"}}}
    assert result.reverse_etl_schedule.strategy == "MANUAL"
    assert result.reverse_etl_schedule.config is None
    assert result.destination_id == DEST  # filled from the path when the body omits it


def test_list_reads_every_page_with_explicit_count(make_client) -> None:
    pages = {
        None: (["a", "b"], {"current": "MA==", "next": "Mg=="}),
        "Mg==": (["c", "d"], {"current": "Mg==", "next": "NA==", "previous": "MA=="}),
        "NA==": (["e"], {"current": "NA==", "next": None, "totalEntries": 5}),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        ids, pagination = pages[request.url.params.get("pagination.cursor")]
        models = [
            {"id": i, "sourceId": SOURCE, "name": i, "query": "select 1", "queryIdentifierColumn": "id"}
            for i in ids
        ]
        return ok({"models": models, "pagination": pagination})

    client, api = make_client(handler, page_size=2)
    models = run(client.list_models)
    assert [m.id for m in models] == ["a", "b", "c", "d", "e"]
    assert [dict(r.url.params) for r in api.requests] == [
        {"pagination.count": "2"},
        {"pagination.count": "2", "pagination.cursor": "Mg=="},
        {"pagination.count": "2", "pagination.cursor": "NA=="},
    ]
    assert all(r.url.path == "/reverse-etl-models" for r in api.requests)


def test_pagination_stops_when_next_is_absent_or_repeats(make_client) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # A misbehaving server that keeps answering the same cursor must not loop forever.
        return ok({"destinations": [], "pagination": {"current": "MA==", "next": "MQ=="}})

    client, api = make_client(handler)
    assert run(client.list_destinations) == []
    assert len(api.requests) == 2


def test_sync_history_uses_plain_count_and_cursor(make_client) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "cursor" not in request.url.params:
            return ok(
                {"syncStatuses": [{"syncId": "2", "syncStatus": "SUCCESS"}], "pagination": {"next": "c2"}}
            )
        return ok({"syncStatuses": [{"syncId": "1", "syncStatus": "FAIL"}]})

    client, api = make_client(handler)
    syncs = run(lambda: client.list_syncs(MODEL, SUB))
    assert [s.sync_id for s in syncs] == ["2", "1"]
    assert api.requests[0].url.path == f"/reverse-etl-models/{MODEL}/subscriptionId/{SUB}/syncs"
    assert dict(api.requests[0].url.params) == {"count": "100"}
    assert dict(api.requests[1].url.params) == {"count": "100", "cursor": "c2"}


def test_manual_sync_request_and_status(make_client) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return ok({"reverseETLManualSync": {"syncId": "1234", "startedAt": "2025-01-01T00:00:00Z"}})
        return ok(
            {
                "reverseETLSyncStatus": {
                    "syncId": "1234",
                    "modelId": MODEL,
                    "sourceId": SOURCE,
                    "syncStatus": "success",
                    "startedAt": "2025-01-01T00:00:00Z",
                    "finishedAt": "",
                    "extractPhase": {
                        "addedCount": "10",
                        "updatedCount": "2",
                        "deletedCount": "0",
                        "extractCount": "12",
                        "errorCode": "",
                    },
                    "loadPhase": {"deliverSuccessCount": "12", "deliverFailureCount": 0},
                }
            }
        )

    client, api = make_client(handler)
    sync = run(lambda: client.start_sync(source_id=SOURCE, model_id=MODEL, subscription_id=SUB))
    status = run(lambda: client.get_sync(MODEL, sync.sync_id))
    assert api.calls() == [("POST", "/reverse-etl-syncs"), ("GET", f"/reverse-etl-models/{MODEL}/syncs/1234")]
    assert body(api.requests[0]) == {"sourceId": SOURCE, "modelId": MODEL, "subscriptionId": SUB}
    assert sync.sync_id == "1234"
    assert status.sync_status == "SUCCESS" and status.finished
    assert status.finished_at is None
    assert status.extract_phase.added_count == 10 and status.extract_phase.extract_count == 12
    assert status.extract_phase.error_code is None
    assert status.load_phase.deliver_success_count == 12 and status.load_phase.deliver_failure_count == 0


def test_manual_sync_accepts_the_sdk_response_key(make_client) -> None:
    client, _ = make_client(lambda r: ok({"reverseETLSync": {"syncId": 77}}))
    sync = run(lambda: client.start_sync(source_id=SOURCE, model_id=MODEL, subscription_id=SUB))
    assert sync.sync_id == "77"


def test_odd_read_backs_parse(make_client) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/sources":
            return ok(
                {
                    "sources": [
                        {
                            "id": SOURCE,
                            "slug": "pg_retl",
                            "name": None,
                            "enabled": True,
                            "writeKeys": [],
                            "metadata": {
                                "id": "WvlvcGEJsT",
                                "slug": "postgres",
                                "name": "Postgres",
                                "logos": {},
                            },
                            "settings": {"hostname": "db", "password": "••••••••"},
                            "labels": None,
                            "somethingNew": {"x": 1},
                        }
                    ],
                    "pagination": {"current": "MA==", "next": None},
                }
            )
        if path == "/reverse-etl-models":
            return ok(
                {
                    "models": [
                        {
                            "id": MODEL,
                            "sourceId": SOURCE,
                            "name": "users",
                            "description": " ",
                            "enabled": True,
                            "query": "select 1",
                            "queryIdentifierColumn": "id",
                            "scheduleStrategy": "manual",
                        }
                    ]
                }
            )
        return ok(
            {
                "subscriptions": [
                    {
                        "id": "s1",
                        "name": None,
                        "actionId": "a",
                        "modelId": "",
                        "enabled": True,
                        "trigger": 'type = "identify"',
                        "settings": None,
                        "reverseETLSchedule": {
                            "strategy": "specific_days",
                            "config": {"days": [1], "hours": [6], "timezone": "UTC"},
                        },
                    },
                    {"id": "s2", "actionId": "a", "modelId": MODEL, "reverseETLSchedule": None},
                ]
            }
        )

    client, _ = make_client(handler)
    (source,) = run(client.list_sources)
    assert source.name is None and source.metadata_id == "WvlvcGEJsT"
    assert source.settings["password"] == "••••••••"
    from segprof.workspace import is_censored

    assert is_censored(source.settings["password"]) and not is_censored(source.settings["hostname"])
    assert source.labels == []
    (model,) = run(client.list_models)
    assert model.description is None
    subs = run(lambda: client.list_subscriptions(DEST))
    assert subs[0].model_id is None and subs[0].settings == {} and subs[0].name is None
    assert subs[0].reverse_etl_schedule.strategy == "SPECIFIC_DAYS"
    assert subs[0].reverse_etl_schedule.config == {"days": [1], "hours": [6], "timezone": "UTC"}
    assert subs[1].model_id == MODEL and subs[1].reverse_etl_schedule is None


def test_catalog_actions_by_slug(make_client) -> None:
    actions = [
        {
            "id": "vm2tNA5U1zxUusQkdC4D7Z",
            "slug": "sendIdentify",
            "name": "Send Identify",
            "platform": "CLOUD",
            "hidden": False,
            "defaultTrigger": 'type = "identify"',
            "fields": [
                {
                    "id": "f1",
                    "sortOrder": 0,
                    "fieldKey": "engage_space",
                    "label": "Profile Space",
                    "type": "STRING",
                    "required": True,
                    "multiple": False,
                    "dynamic": True,
                    "allowNull": False,
                }
            ],
        },
        {
            "id": "ujsJxBdpg7XkYwKSKREnQt",
            "slug": "sendTrack",
            "name": "Send Track",
            "defaultTrigger": None,
            "fields": [],
        },
    ]
    client, api = make_client(
        lambda r: ok(
            {
                "destinationMetadata": {
                    "id": SEGMENT_PROFILES_METADATA_ID,
                    "slug": "actions-segment-profiles",
                    "actions": actions,
                    "presets": [],
                    "logos": {"default": "x"},
                }
            }
        )
    )
    meta = run(client.get_destination_metadata)
    assert api.requests[0].url.path == f"/catalog/destinations/{SEGMENT_PROFILES_METADATA_ID}"
    assert meta.action_ids() == {
        "sendIdentify": "vm2tNA5U1zxUusQkdC4D7Z",
        "sendTrack": "ujsJxBdpg7XkYwKSKREnQt",
    }
    assert meta.action_by_slug("sendIdentify").fields[0].required
    assert meta.action_by_slug("sendTrack").default_trigger is None


def test_create_source_then_patch_name(make_client) -> None:
    src = {"id": SOURCE, "slug": "pg_retl", "name": None, "enabled": True, "metadata": {"id": "WvlvcGEJsT"}}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return ok({"source": src}, status=201)
        return ok({"source": {**src, "name": "Warehouse"}})

    client, api = make_client(handler)
    source = run(
        lambda: client.create_source(
            slug="pg_retl", metadata_id="WvlvcGEJsT", settings={"hostname": "db"}, name="Warehouse"
        )
    )
    assert api.calls() == [("POST", "/sources"), ("PATCH", f"/sources/{SOURCE}")]
    assert body(api.requests[0]) == {
        "slug": "pg_retl",
        "enabled": True,
        "metadataId": "WvlvcGEJsT",
        "settings": {"hostname": "db"},
        "disconnectAllWarehouses": True,
    }
    assert body(api.requests[1]) == {"name": "Warehouse"}
    assert source.name == "Warehouse"


def test_model_and_destination_bodies(make_client) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/reverse-etl-models"):
            return ok({"reverseEtlModel": {"id": MODEL, "sourceId": SOURCE, **body(request)}}, status=201)
        return ok(
            {
                "destination": {
                    "id": DEST,
                    "sourceId": SOURCE,
                    "enabled": False,
                    "settings": {},
                    "metadata": {"id": SEGMENT_PROFILES_METADATA_ID},
                }
            }
        )

    client, api = make_client(handler)
    model = run(
        lambda: client.create_model(
            source_id=SOURCE, name="users", query="SELECT 1 AS id", query_identifier_column="id"
        )
    )
    run(lambda: client.update_model(MODEL, enabled=False))
    dest = run(lambda: client.create_destination(source_id=SOURCE, name="Profiles (prod)"))
    assert body(api.requests[0]) == {
        "sourceId": SOURCE,
        "name": "users",
        "description": " ",
        "enabled": True,
        "query": "SELECT 1 AS id",
        "queryIdentifierColumn": "id",
    }
    assert model.description is None
    assert (api.requests[1].method, body(api.requests[1])) == ("PATCH", {"enabled": False})
    assert body(api.requests[2]) == {
        "sourceId": SOURCE,
        "metadataId": SEGMENT_PROFILES_METADATA_ID,
        "enabled": False,
        "settings": {},
        "name": "Profiles (prod)",
    }
    assert dest.is_segment_profiles


def test_get_missing_returns_none_and_delete(make_client) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(404, json={"errors": [{"type": "not-found", "message": "Model not found"}]})
        return ok({"status": "SUCCESS"})

    client, api = make_client(handler)
    assert run(lambda: client.get_model("nope")) is None
    assert run(lambda: client.delete_subscription(DEST, SUB)) == "SUCCESS"
    assert api.requests[1].method == "DELETE" and api.requests[1].content == b""
    assert api.requests[1].url.path == f"/destinations/{DEST}/subscriptions/{SUB}"


def test_ids_are_escaped_in_paths(make_client) -> None:
    client, api = make_client(lambda r: httpx.Response(404, json={"errors": [{"type": "not-found"}]}))
    run(lambda: client.get_source("a/b?c"))
    assert api.requests[0].url.raw_path == b"/sources/a%2Fb%3Fc"


def test_base_url_by_region() -> None:
    assert base_url_for(None, None) == "https://api.segmentapis.com"
    assert base_url_for("north_america", None) == "https://api.segmentapis.com"
    assert base_url_for("europe", None) == "https://eu1.api.segmentapis.com"
    assert base_url_for("europe", "http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    with pytest.raises(SegprofError, match="https"):
        base_url_for(None, "http://api.example.test")
    with pytest.raises(SegprofError, match="unknown workspace region"):
        base_url_for("mars", None)


def test_failed_schedule_patch_reports_the_created_subscription(make_client) -> None:
    from segprof.workspace import WorkspaceError

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return ok(
                {"destinationSubscription": {"id": SUB, "actionId": "A", "name": "m", "modelId": MODEL}}
            )
        error = {
            "type": "input-validation",
            "message": "interval too short",
            "field": "input.reverseETLSchedule",
        }
        return httpx.Response(422, json={"errors": [error]})

    client, _ = make_client(handler)
    with pytest.raises(WorkspaceError) as info:
        run(
            lambda: client.create_subscription(
                DEST,
                name="m",
                action_id="A",
                trigger='event = "new"',
                enabled=True,
                model_id=MODEL,
                schedule=Schedule(strategy="PERIODIC", config={"interval": "1m"}),
                address="mapping.m",
            )
        )
    err = info.value
    assert err.resource.id == SUB and f"created subscription {SUB}" in str(err)
    assert "interval too short (field input.reverseETLSchedule)" in str(err) and err.address == "mapping.m"


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(200, content=b"<html>proxy error</html>"), "not a JSON object"),
        (httpx.Response(200, json=["not", "an", "object"]), "not a JSON object"),
        (ok({"unexpected": []}), "no `data.sources` list"),
        (
            ok({"sources": [{"slug": "no-id", "writeKeys": ["wk_SECRET_VALUE_123"]}]}),
            "data.sources[0].id: Field required",
        ),
        (ok({"sources": {"id": "x"}}), "`data.sources` is not a list"),
    ],
)
def test_malformed_answers_are_clear_errors(make_client, response, expected) -> None:
    from segprof.workspace import WorkspaceError

    client, _ = make_client(lambda r: response)
    with pytest.raises(WorkspaceError) as info:
        run(lambda: client.list_sources(address="source.warehouse"))
    text = str(info.value)
    assert expected in text and text.startswith("source.warehouse: GET /sources")
    assert "wk_SECRET_VALUE_123" not in text


def test_get_with_an_unexpected_body_is_an_error_not_none(make_client) -> None:
    from segprof.workspace import WorkspaceError

    client, _ = make_client(lambda r: ok({"somethingElse": {}}))
    with pytest.raises(WorkspaceError, match=r"no `data\.reverseEtlModel` object"):
        run(lambda: client.get_model(MODEL))


def test_models_list_under_the_older_key(make_client) -> None:
    model = {"id": MODEL, "sourceId": SOURCE, "name": "u", "query": "q", "queryIdentifierColumn": "id"}
    client, _ = make_client(lambda r: ok({"reverseEtlModels": [model]}))
    assert [m.id for m in run(client.list_models)] == [MODEL]

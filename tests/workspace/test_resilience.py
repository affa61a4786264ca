"""Retries, deadlines, non-retryable errors, POST reconciliation, throttling and redaction."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from segprof.errors import SegprofError
from segprof.workspace import RateLimit, RateLimits, RetryPolicy, WorkspaceError

from .apistub import TOKEN, body, fail, ok, run

DEST = "68abfe7eacb3221e16dc5890"
MODEL = "99ajX6rZiHagThqHiS8z62"
SOURCE = "hMgBoC3nJYSkCuEQ2Mq3bF"
TOO_MANY = {
    "type": "RequestError",
    "message": "Too many requests",
    "data": {"remainingPoints": 0, "msBeforeNext": 1500, "consumedPoints": 21},
}


def scripted(*responses):
    """A handler answering with the given responses (or raising given exceptions) in order."""
    queue = list(responses)

    def handler(request: httpx.Request):
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler


def test_429_waits_as_long_as_the_body_asks(make_client, fake_clock, waits) -> None:
    client, api = make_client(scripted(fail(429, TOO_MANY), ok({"sources": []})))
    assert run(client.list_sources) == []
    assert len(api.requests) == 2
    assert 1.5 <= fake_clock.sleeps[0] <= 1.5 + 0.5
    (event,) = waits
    assert event.kind == "retry" and event.method == "GET" and event.path == "/sources"
    assert "429" in event.reason and "Too many requests" in event.reason


def test_429_honours_x_ratelimit_reset_date(make_client, fake_clock) -> None:
    reset = datetime.fromtimestamp(fake_clock.now + fake_clock.wall_offset + 20, tz=UTC)
    headers = {"X-RateLimit-Reset": format_datetime(reset, usegmt=True)}
    client, _ = make_client(
        scripted(
            httpx.Response(429, json={"errors": [{"type": "RequestError"}]}, headers=headers),
            ok({"sources": []}),
        )
    )
    run(client.list_sources)
    assert 19 <= fake_clock.sleeps[0] <= 21


def test_retry_after_seconds(make_client, fake_clock) -> None:
    client, _ = make_client(scripted(httpx.Response(503, headers={"Retry-After": "7"}), ok({"sources": []})))
    run(client.list_sources)
    assert 7 <= fake_clock.sleeps[0] <= 7.5


def test_5xx_backs_off_exponentially_with_full_jitter(make_client, fake_clock) -> None:
    client, api = make_client(
        scripted(fail(500, {"type": "unknown"}), fail(502), fail(504), ok({"sources": []})),
        retry=RetryPolicy(base_delay=1.0, max_delay=30.0),
    )
    fake_clock.rand = 1.0  # the top of each jitter range: 1, 2, 4 …
    run(client.list_sources)
    assert len(api.requests) == 4
    assert fake_clock.sleeps == [1.0, 2.0, 4.0]


def test_timeouts_and_dropped_connections_are_retried_for_reads(make_client) -> None:
    client, api = make_client(
        scripted(httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("server hung up"), ok({"sources": []}))
    )
    assert run(client.list_sources) == []
    assert len(api.requests) == 3


def test_deadline_exhaustion_is_a_clear_error(make_client, fake_clock) -> None:
    client, api = make_client(
        scripted(fail(503, {"type": "unknown", "message": "upstream down"})),
        retry=RetryPolicy(deadline=10.0, base_delay=1.0, max_attempts=50),
    )
    fake_clock.rand = 1.0
    with pytest.raises(WorkspaceError) as info:
        run(lambda: client.list_sources(address="source.warehouse"))
    err = info.value
    assert isinstance(err, SegprofError)
    assert (
        "gave up on GET /sources" in err.message and "503" in err.message and "upstream down" in err.message
    )
    assert err.address == "source.warehouse"
    assert sum(fake_clock.sleeps) <= 10.0
    assert len(api.requests) == len(fake_clock.sleeps) + 1 == 4  # waits 1+2+4, the next (8) would pass 10 s


def test_hint_longer_than_allowed_fails_at_once(make_client) -> None:
    huge = {**TOO_MANY, "data": {"msBeforeNext": 3_600_000}}
    client, api = make_client(scripted(fail(429, huge)), retry=RetryPolicy(max_hint=60))
    with pytest.raises(WorkspaceError, match="rate limited"):
        run(client.list_sources)
    assert len(api.requests) == 1


def test_422_fails_at_once_with_the_api_message_and_field(make_client, fake_clock) -> None:
    error = {
        "type": "input-validation",
        "message": '"metadataId" is required',
        "field": "warehouse.metadataId",
    }
    client, api = make_client(scripted(fail(422, error)))
    with pytest.raises(WorkspaceError) as info:
        run(lambda: client.create_destination(source_id=SOURCE, name="p", address="destination.profiles"))
    err = info.value
    assert len(api.requests) == 1 and fake_clock.sleeps == []
    assert err.status == 422 and err.address == "destination.profiles"
    assert '"metadataId" is required (field warehouse.metadataId)' in str(err)
    assert str(err).startswith("destination.profiles: POST /destinations refused (422)")
    assert err.fields == ["warehouse.metadataId"]


def test_401_names_the_token_but_never_shows_it(make_client) -> None:
    client, _ = make_client(
        scripted(fail(401, {"type": "unauthorized", "message": f"bad token Bearer {TOKEN}"}))
    )
    with pytest.raises(WorkspaceError) as info:
        run(client.list_models)
    text = str(info.value)
    assert "401" in text and "API token" in text
    assert TOKEN not in text and TOKEN not in repr(info.value.args)


def test_post_that_timed_out_after_succeeding_is_found_not_resent(make_client) -> None:
    created: list[dict] = []

    def handler(request: httpx.Request):
        if request.method == "POST":
            model = {"id": MODEL, "sourceId": SOURCE, **body(request)}
            created.append(model)
            raise httpx.ReadTimeout("the answer never came")
        return ok({"models": created, "pagination": {"current": "MA==", "next": None}})

    client, api = make_client(handler)
    model = run(
        lambda: client.create_model(
            source_id=SOURCE, name="users", query="select 1", query_identifier_column="id"
        )
    )
    assert model.id == MODEL
    assert api.calls() == [("POST", "/reverse-etl-models"), ("GET", "/reverse-etl-models")]
    assert len(created) == 1


def test_post_that_timed_out_before_applying_is_resent_once(make_client) -> None:
    attempts = {"post": 0}

    def handler(request: httpx.Request):
        if request.method == "POST":
            attempts["post"] += 1
            if attempts["post"] == 1:
                raise httpx.ReadTimeout("lost")
            return ok(
                {"destinationSubscription": {"id": "S1", "actionId": "A", "name": "m", "modelId": MODEL}}
            )
        return ok({"subscriptions": [{"id": "OTHER", "actionId": "A", "name": "other", "modelId": MODEL}]})

    client, api = make_client(handler)
    sub = run(
        lambda: client.create_subscription(
            DEST, name="m", action_id="A", trigger='event = "new"', enabled=True
        )
    )
    assert sub.id == "S1"
    assert [m for m, _ in api.calls()] == ["POST", "GET", "POST"]


def test_post_after_5xx_is_reconciled(make_client) -> None:
    state: list[dict] = []

    def handler(request: httpx.Request):
        if request.method == "POST":
            state.append(
                {"id": DEST, "sourceId": SOURCE, "name": "p", "metadata": {"id": body(request)["metadataId"]}}
            )
            return fail(502)
        return ok({"destinations": state})

    client, api = make_client(handler)
    dest = run(lambda: client.create_destination(source_id=SOURCE, name="p"))
    assert dest.id == DEST and len(state) == 1
    assert [m for m, _ in api.calls()] == ["POST", "GET"]


def test_connection_refused_post_is_simply_resent(make_client) -> None:
    client, api = make_client(
        scripted(httpx.ConnectError("refused"), ok({"reverseEtlModel": {"id": MODEL, "sourceId": SOURCE}}))
    )
    run(lambda: client.create_model(source_id=SOURCE, name="u", query="q", query_identifier_column="id"))
    assert [m for m, _ in api.calls()] == ["POST", "POST"]


def test_delete_whose_first_attempt_went_through_counts_as_done(make_client) -> None:
    client, _ = make_client(scripted(httpx.ReadTimeout("lost"), fail(404, {"type": "not-found"})))
    assert run(lambda: client.delete_model(MODEL)) == "NOT_FOUND"


def test_delete_of_a_missing_resource_is_an_error_unless_allowed(make_client) -> None:
    client, _ = make_client(scripted(fail(404, {"type": "not-found", "message": "Destination not found"})))
    with pytest.raises(WorkspaceError, match="not found \\(404\\): Destination not found"):
        run(lambda: client.delete_destination(DEST, address="destination.profiles"))
    assert run(lambda: client.delete_destination(DEST, missing_ok=True)) == "NOT_FOUND"


def test_subscription_writes_are_throttled_and_the_wait_reported(make_client, fake_clock, waits) -> None:
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(fake_clock.now)
        return ok({"status": "SUCCESS"})

    client, _ = make_client(handler, limits=RateLimits(subscription_writes=RateLimit(5, 60)))

    async def many() -> None:
        for i in range(12):
            fake_clock.now += 1  # the caller asks once a second
            await client.delete_subscription(DEST, f"s{i}", address=f"mapping.m{i}")

    run(many)
    assert len(sent_at) == 12
    # Never more than 5 writes inside any 60 s window.
    for i, t in enumerate(sent_at):
        assert sum(1 for u in sent_at[i:] if u < t + 60) <= 5
    throttled = [w for w in waits if w.kind == "throttle"]
    # The 6th write (asked at +6 s) waits until the 1st (at +1 s) leaves the window.
    assert throttled[0].seconds == pytest.approx(55.0)
    assert throttled[0].address == "mapping.m5" and throttled[0].method == "DELETE"
    assert "5 per 60s" in throttled[0].reason
    assert fake_clock.sleeps == pytest.approx([w.seconds for w in throttled])


def test_reads_and_other_endpoints_are_not_throttled(make_client, fake_clock, waits) -> None:
    client, _ = make_client(
        lambda r: ok({"sources": []}), limits=RateLimits(subscription_writes=RateLimit(1, 60))
    )

    async def many() -> None:
        for _ in range(5):
            await client.list_sources()

    run(many)
    assert waits == [] and fake_clock.sleeps == []


def test_manual_syncs_throttled_at_their_own_limit(make_client, fake_clock, waits) -> None:
    client, _ = make_client(
        lambda r: ok({"reverseETLManualSync": {"syncId": "1"}}),
        limits=RateLimits(manual_syncs=RateLimit(2, 60), subscription_writes=None),
    )

    async def many() -> None:
        for _ in range(3):
            await client.start_sync(source_id=SOURCE, model_id=MODEL, subscription_id="s")

    run(many)
    assert [w.kind for w in waits] == ["throttle"] and waits[0].seconds == pytest.approx(60.0)


def test_token_never_reaches_errors_logs_or_reprs(make_client, caplog) -> None:
    leaky = httpx.ConnectError(f"cannot connect; headers: Authorization: Bearer {TOKEN}")
    client, _ = make_client(scripted(leaky), retry=RetryPolicy(deadline=5.0, max_attempts=3))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(WorkspaceError) as info:
        run(client.list_sources)
    err = info.value
    texts = [str(err), repr(err), repr(client), caplog.text, str(err.__cause__), str(err.__context__)]
    assert all(TOKEN not in t for t in texts)
    assert err.__cause__ is None
    assert "connection failed" in str(err)


def test_a_429_holds_back_the_whole_endpoint_class(make_client, fake_clock, waits) -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return fail(429, {**TOO_MANY, "data": {"msBeforeNext": 10_000}})
        return ok({"status": "SUCCESS"})

    client, _ = make_client(handler)  # client-side limits off: only the server's word counts
    run(lambda: client.delete_subscription(DEST, "s1"))
    assert client.throttle._held_until["subscription_writes"] == pytest.approx(1010.0)
    # Another write asked before the hold expires waits for it, and says so.
    fake_clock.now = 1004.0
    run(lambda: client.delete_subscription(DEST, "s2", address="mapping.b"))
    (held,) = [w for w in waits if w.kind == "throttle"]
    assert held.seconds == pytest.approx(6.0) and held.address == "mapping.b"
    assert "asked to wait" in held.reason
    # Other endpoints are not held.
    fake_clock.now = 1005.0
    run(lambda: client.delete_model(MODEL))
    assert len([w for w in waits if w.kind == "throttle"]) == 1


def test_retry_after_http_date(make_client, fake_clock) -> None:
    when = datetime.fromtimestamp(fake_clock.now + fake_clock.wall_offset + 12, tz=UTC)
    headers = {"Retry-After": format_datetime(when, usegmt=True)}
    client, _ = make_client(scripted(httpx.Response(503, headers=headers), ok({"sources": []})))
    run(client.list_sources)
    assert 11 <= fake_clock.sleeps[0] <= 12.5


def test_unparseable_hints_fall_back_to_backoff(make_client, fake_clock) -> None:
    bad = httpx.Response(
        429,
        json={"errors": [{"type": "RequestError", "data": {"msBeforeNext": "soon"}}]},
        headers={"X-RateLimit-Reset": "not a date"},
    )
    client, _ = make_client(scripted(bad, ok({"sources": []})), retry=RetryPolicy(base_delay=2.0))
    fake_clock.rand = 0.25
    run(client.list_sources)
    assert fake_clock.sleeps == [0.5]  # 0.25 × 2 s: the jittered back-off of attempt 1


def test_manual_sync_lost_response_adopts_the_running_sync(make_client, fake_clock) -> None:
    def handler(request: httpx.Request):
        if request.method == "POST":
            raise httpx.ReadTimeout("answer lost")
        assert request.url.path == f"/reverse-etl-models/{MODEL}/subscriptionId/S1/syncs"
        return ok(
            {
                "syncStatuses": [
                    {"syncId": "42", "syncStatus": "IN_PROGRESS", "startedAt": "2026-01-01T00:16:40Z"},
                    {"syncId": "41", "syncStatus": "SUCCESS", "startedAt": "2025-12-31T00:00:00Z"},
                ]
            }
        )

    client, api = make_client(handler)
    sync = run(lambda: client.start_sync(source_id=SOURCE, model_id=MODEL, subscription_id="S1"))
    assert sync.sync_id == "42"
    assert [m for m, _ in api.calls()] == ["POST", "GET"]


def test_manual_sync_lost_response_without_a_new_sync_is_resent(make_client) -> None:
    posts = {"n": 0}

    def handler(request: httpx.Request):
        if request.method == "POST":
            posts["n"] += 1
            if posts["n"] == 1:
                raise httpx.WriteTimeout("lost while sending")
            return ok({"reverseETLManualSync": {"syncId": "43"}})
        # Only an old, finished sync: the first attempt never arrived.
        return ok(
            {"syncStatuses": [{"syncId": "41", "syncStatus": "SUCCESS", "startedAt": "2025-12-31T00:00:00Z"}]}
        )

    client, api = make_client(handler)
    assert (
        run(lambda: client.start_sync(source_id=SOURCE, model_id=MODEL, subscription_id="S1")).sync_id == "43"
    )
    assert [m for m, _ in api.calls()] == ["POST", "GET", "POST"]


def test_wait_for_sync_polls_until_finished(make_client, fake_clock) -> None:
    states = iter(["IN_PROGRESS", "IN_PROGRESS", "PARTIAL_SUCCESS"])
    client, api = make_client(
        lambda r: ok({"reverseETLSyncStatus": {"syncId": "7", "syncStatus": next(states)}})
    )
    seen = []
    final = run(lambda: client.wait_for_sync(MODEL, "7", poll_interval=5, on_status=seen.append))
    assert final.sync_status == "PARTIAL_SUCCESS" and final.finished
    assert [s.sync_status for s in seen] == ["IN_PROGRESS", "IN_PROGRESS", "PARTIAL_SUCCESS"]
    assert fake_clock.sleeps == [5, 5] and len(api.requests) == 3


def test_wait_for_sync_gives_back_the_last_status_at_its_timeout(make_client, fake_clock) -> None:
    client, _ = make_client(
        lambda r: ok({"reverseETLSyncStatus": {"syncId": "7", "syncStatus": "IN_PROGRESS"}})
    )
    final = run(lambda: client.wait_for_sync(MODEL, "7", poll_interval=5, timeout=12))
    assert final.sync_status == "IN_PROGRESS" and not final.finished
    assert sum(fake_clock.sleeps) <= 12


def test_eta_of_throttled_writes(make_client, fake_clock) -> None:
    client, _ = make_client(
        lambda r: ok({"status": "SUCCESS"}), limits=RateLimits(subscription_writes=RateLimit(5, 60))
    )
    assert client.eta("subscription_writes", 5) == 0
    assert client.eta("subscription_writes", 6) == pytest.approx(60)
    assert client.eta("subscription_writes", 11) == pytest.approx(120)
    assert client.eta("manual_syncs", 0) == 0

    async def three() -> None:
        for i in range(3):
            fake_clock.now += 10
            await client.delete_subscription(DEST, f"s{i}")

    run(three)  # sent at +10, +20, +30; now +30
    assert client.eta("subscription_writes", 2) == 0
    assert client.eta("subscription_writes", 3) == pytest.approx(40)  # the +10 write leaves the window at +70
    assert client.eta("subscription_writes", 4) == pytest.approx(50)


def test_secret_settings_are_scrubbed_from_api_errors(make_client) -> None:
    password, write_key = "hunter2-Very-Secret", "wk_profile_space_0123456789"

    def handler(request: httpx.Request) -> httpx.Response:
        # An API that echoes the input back in its error text.
        return fail(
            422,
            {
                "type": "input-validation",
                "message": f"cannot use {request.content.decode()}",
                "field": "settings",
            },
        )

    client, _ = make_client(handler)
    with pytest.raises(WorkspaceError) as info:
        run(
            lambda: client.create_source(
                slug="pg",
                metadata_id="WvlvcGEJsT",
                settings={"hostname": "db.internal", "password": password},
            )
        )
    assert password not in str(info.value) and "db.internal" in str(info.value)
    with pytest.raises(WorkspaceError) as info:
        run(
            lambda: client.update_subscription(
                DEST, "s", settings={"engage_space": write_key, "traits": {"x": {"@path": "$.properties.x"}}}
            )
        )
    assert write_key not in str(info.value) and "[redacted]" in str(info.value)

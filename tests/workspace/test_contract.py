"""Contract suite: the client against segprof's emulator, in-process and as a uvicorn server on 127.0.0.1.

Every test runs against both backends through the same client API; nothing here branches on which.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from segprof.emulator.app import create_app
from segprof.emulator.faults import FaultConfig
from segprof.operations.workspaces import ClientOptions, open_workspace
from segprof.workspace import (
    SEGMENT_PROFILES_METADATA_ID,
    RateLimit,
    RateLimits,
    RetryPolicy,
    Schedule,
    WaitEvent,
    WorkspaceClient,
    WorkspaceError,
)
from segprof.workspace.inprocess import InProcessTransport

from .apistub import FakeClock

TOKEN = "sgp_PLANTED-contract-token-7f3a9c1e"
POSTGRES = "WvlvcGEJsT"
IDENTIFY = 'event = "new" or event = "updated"'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server:
    """uvicorn serving an app on a free loopback port, in a thread of this process."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


class LoseFirstResponse:
    """ASGI wrapper: lets the app apply the first matching request, then drops the connection."""

    def __init__(self, app: Any, method: str, path: str) -> None:
        self.app, self.method, self.path = app, method, path
        self.lost = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and not self.lost
            and (scope["method"], scope["path"]) == (self.method, self.path)
        ):
            self.lost += 1

            async def swallow(message: Any) -> None:
                pass

            await self.app(scope, receive, swallow)
            raise ConnectionResetError("response lost after the request was applied")
        await self.app(scope, receive, send)


@dataclass
class Emulator:
    """One emulator app plus a way to open clients on it over the backend under test."""

    kind: str
    app: Any
    url: str | None
    clock: FakeClock
    waits: list[WaitEvent]

    def client(
        self,
        *,
        token: str = TOKEN,
        limits: RateLimits | None = None,
        retry: RetryPolicy | None = None,
        page_size: int = 200,
        wrap: Any = None,
    ) -> WorkspaceClient:
        app = wrap(self.app) if wrap else self.app
        options = ClientOptions(
            retry=retry or RetryPolicy(deadline=600.0, max_attempts=30, request_timeout=5.0),
            limits=limits or RateLimits.off(),
            on_wait=self.waits.append,
            clock=self.clock.clock(),
            page_size=page_size,
        )
        if self.kind == "inprocess":
            options.transport = InProcessTransport(app)
            return open_workspace("segment", token=token, options=options)
        if wrap is not None:
            self.app.wrapped = app  # served through the indirection below
        return open_workspace("segment", token=token, api_url=self.url, options=options)

    def faults(self, **config: Any) -> None:
        self.app.state.faults.configure(FaultConfig(seed=7, **config))

    def limits(self, enabled: bool) -> None:
        self.app.state.limiter.enabled = enabled


class _Indirect:
    """Lets a test wrap the served app after the server started (uvicorn holds this object)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.app.wrapped = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await (self.app.wrapped or self.app)(scope, receive, send)


@pytest.fixture(params=["inprocess", "uvicorn"])
def emulator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Emulator]:
    clock = FakeClock()
    app = create_app(tmp_path / "workspace", token=TOKEN, rate_limits=False)
    # The emulator's rate-limit windows follow the same fake wall clock as the client's waits.
    app.state.limiter.clock = clock.clock().wall
    if request.param == "inprocess":
        yield Emulator("inprocess", app, None, clock, [])
        return
    with _Server(_Indirect(app)) as server:
        yield Emulator("uvicorn", app, f"http://127.0.0.1:{server.port}", clock, [])


@pytest.fixture
def ws(emulator: Emulator) -> Iterator[WorkspaceClient]:
    with emulator.client() as client:
        yield client


def _setup(ws: WorkspaceClient) -> tuple[Any, Any, Any, str]:
    source = ws.create_source(
        slug="pg_retl", metadata_id=POSTGRES, settings={"hostname": "db"}, name="Warehouse"
    )
    model = ws.create_model(
        source_id=source.id,
        name="users",
        query="SELECT user_id FROM users",
        query_identifier_column="user_id",
    )
    dest = ws.create_destination(source_id=source.id, name="Profiles")
    identify = ws.get_destination_metadata().action_ids()["sendIdentify"]
    return source, model, dest, identify


def _mapping(ws: WorkspaceClient, dest: Any, model: Any, action_id: str, name: str = "identify") -> Any:
    return ws.create_subscription(
        dest.id,
        name=name,
        action_id=action_id,
        trigger=IDENTIFY,
        enabled=True,
        settings={"engage_space": "space-key", "user_id": {"@path": "$.properties.user_id"}},
        model_id=model.id,
        schedule=Schedule(strategy="PERIODIC", config={"interval": "1h"}),
    )


# --- endpoints ------------------------------------------------------------------------------------


def test_catalog(ws: WorkspaceClient) -> None:
    meta = ws.get_destination_metadata(SEGMENT_PROFILES_METADATA_ID)
    assert meta.slug == "actions-segment-profiles"
    assert meta.action_ids()["sendIdentify"] == "vm2tNA5U1zxUusQkdC4D7Z"
    assert {"sendIdentify", "sendGroup", "sendTrack", "sendSubscription"} <= set(meta.action_ids())
    assert any(
        f.field_key == "engage_space" and f.required for f in meta.action_by_slug("sendIdentify").fields
    )
    assert ws.get_source_metadata(POSTGRES).slug == "postgres"
    assert POSTGRES in {m.id for m in ws.list_source_catalog()}
    assert SEGMENT_PROFILES_METADATA_ID in {m.id for m in ws.list_destination_catalog()}


def test_sources_models_destinations_lifecycle(ws: WorkspaceClient) -> None:
    source = ws.create_source(
        slug="pg_retl",
        metadata_id=POSTGRES,
        settings={"hostname": "db", "password": "pw-123456"},
        name="Warehouse",
    )
    assert source.name == "Warehouse" and source.metadata_id == POSTGRES
    assert ws.get_source(source.id).settings["hostname"] == "db"
    assert ws.update_source(source.id, enabled=False).enabled is False

    model = ws.create_model(
        source_id=source.id,
        name="users",
        query="SELECT 1 AS id",
        query_identifier_column="id",
        description="Users",
    )
    assert ws.get_model(model.id).description == "Users"
    updated = ws.update_model(model.id, query="SELECT 2 AS id", enabled=False)
    assert (updated.query, updated.enabled) == ("SELECT 2 AS id", False)

    dest = ws.create_destination(source_id=source.id, name="Profiles")
    assert dest.is_segment_profiles and dest.enabled is False and dest.source_id == source.id
    assert ws.update_destination(dest.id, enabled=True, name="Profiles (prod)").name == "Profiles (prod)"
    assert [d.id for d in ws.list_destinations()] == [dest.id]

    assert ws.delete_destination(dest.id) == "SUCCESS"
    assert ws.delete_model(model.id) == "SUCCESS"
    assert ws.delete_source(source.id) == "SUCCESS"
    assert (
        ws.get_destination(dest.id) is None
        and ws.get_model(model.id) is None
        and ws.get_source(source.id) is None
    )


def test_subscriptions_create_update_delete(ws: WorkspaceClient) -> None:
    _, model, dest, identify = _setup(ws)
    sub = _mapping(ws, dest, model, identify)
    assert sub.model_id == model.id and sub.action_id == identify and sub.action_slug == "sendIdentify"
    assert sub.reverse_etl_schedule == Schedule(strategy="PERIODIC", config={"interval": "1h"})
    read = ws.get_subscription(dest.id, sub.id)
    assert read.reverse_etl_schedule.strategy == "PERIODIC" and read.trigger == IDENTIFY
    assert read.settings["user_id"] == {"@path": "$.properties.user_id"}

    changed = ws.update_subscription(dest.id, sub.id, enabled=False, schedule=Schedule(strategy="MANUAL"))
    assert changed.enabled is False and changed.reverse_etl_schedule.strategy == "MANUAL"
    assert changed.reverse_etl_schedule.config is None
    assert [s.id for s in ws.list_subscriptions(dest.id)] == [sub.id]

    assert ws.delete_subscription(dest.id, sub.id) == "SUCCESS"
    assert ws.get_subscription(dest.id, sub.id) is None
    assert ws.list_subscriptions(dest.id) == []


def test_manual_sync_status_history_cancel(ws: WorkspaceClient) -> None:
    source, model, dest, identify = _setup(ws)
    sub = _mapping(ws, dest, model, identify)
    sync = ws.start_sync(source_id=source.id, model_id=model.id, subscription_id=sub.id)
    status = ws.wait_for_sync(model.id, sync.sync_id, poll_interval=0.01, timeout=30)
    assert status.sync_id == sync.sync_id and status.finished
    assert status.sync_status == "SUCCESS"
    assert status.extract_phase is None or isinstance(status.extract_phase.extract_count, int | None)
    history = ws.list_syncs(model.id, sub.id)
    assert [s.sync_id for s in history] == [sync.sync_id]
    cancel = ws.cancel_sync(model.id, sync.sync_id, reason=4)
    assert cancel.error_code == "SyncFinishedCannotCancel"


def test_read_workspace(ws: WorkspaceClient) -> None:
    source, model, dest, identify = _setup(ws)
    other = ws.create_destination(source_id=source.id, name="Profiles 2")
    subs = [_mapping(ws, d, model, identify, name=f"m{i}") for i, d in enumerate([dest, dest, other])]
    live = ws.read_workspace()
    assert [s.id for s in live.sources] == [source.id]
    assert [m.id for m in live.models] == [model.id]
    assert sorted(d.id for d in live.destinations) == sorted([dest.id, other.id])
    assert sorted(s.id for s in live.all_subscriptions()) == sorted(s.id for s in subs)
    assert len(live.subscriptions_of(dest.id)) == 2
    assert live.action_ids()["sendIdentify"] == identify
    again = ws.read_workspace(destination_ids=[dest.id, other.id])
    assert again.model_dump() == live.model_dump()
    assert again.fingerprint() == live.fingerprint()
    ws.update_subscription(dest.id, subs[0].id, enabled=False)
    assert ws.read_workspace().fingerprint() != live.fingerprint()


def test_pagination_over_several_pages(emulator: Emulator) -> None:
    with emulator.client(page_size=2) as ws:
        source = ws.create_source(slug="pg", metadata_id=POSTGRES)
        for i in range(5):
            ws.create_model(
                source_id=source.id, name=f"m{i}", query="SELECT 1 AS id", query_identifier_column="id"
            )
        before = ws.requests_sent
        models = ws.list_models()
        assert sorted(m.name for m in models) == [f"m{i}" for i in range(5)]
        assert ws.requests_sent - before == 3  # pages of 2, 2, 1


# --- errors -----------------------------------------------------------------------------------------


def test_401_wrong_token(emulator: Emulator) -> None:
    with emulator.client(token="sgp_wrong-token-0000") as ws, pytest.raises(WorkspaceError) as info:
        ws.list_sources(address="source.warehouse")
    assert info.value.status == 401 and info.value.address == "source.warehouse"
    assert "API token" in str(info.value) and "sgp_wrong-token-0000" not in str(info.value)


def test_404(ws: WorkspaceClient) -> None:
    assert ws.get_destination("000000000000000000000000") is None
    with pytest.raises(WorkspaceError) as info:
        ws.delete_model("nonexistentmodel000000", address="model.users")
    assert info.value.status == 404 and "not found" in str(info.value)
    assert ws.delete_model("nonexistentmodel000000", missing_ok=True) == "NOT_FOUND"


def test_422_names_the_field(ws: WorkspaceClient) -> None:
    _, model, dest, _ = _setup(ws)
    with pytest.raises(WorkspaceError) as info:
        ws.create_subscription(
            dest.id,
            name="x",
            action_id="notAnAction",
            trigger=IDENTIFY,
            enabled=True,
            model_id=model.id,
            address="mapping.x",
        )
    err = info.value
    assert err.status == 422 and err.fields == ["actionId"] and err.address == "mapping.x"
    assert "actionId" in str(err)


def test_429_from_the_server_is_waited_out(emulator: Emulator) -> None:
    emulator.limits(True)
    with emulator.client(limits=RateLimits.off()) as ws:
        _, model, dest, identify = _setup(ws)
        for i in range(6):  # the 6th create meets the 5/min limit of subscription creates
            _mapping(ws, dest, model, identify, name=f"m{i}")
        assert len(ws.list_subscriptions(dest.id)) == 6
    retries = [w for w in emulator.waits if w.kind == "retry"]
    assert len(retries) == 1 and "429" in retries[0].reason
    assert 1 < retries[0].seconds <= 61  # waited for the window the server named


def test_client_throttling_avoids_429(emulator: Emulator) -> None:
    emulator.limits(True)
    with emulator.client(limits=RateLimits(subscription_writes=RateLimit(5, 60))) as ws:
        _, model, dest, identify = _setup(ws)
        for i in range(4):
            _mapping(ws, dest, model, identify, name=f"m{i}")
    kinds = [w.kind for w in emulator.waits]
    assert "retry" not in kinds  # never hit the server's limit
    throttled = [w for w in emulator.waits if w.kind == "throttle"]
    assert len(throttled) == 1 and throttled[0].seconds == pytest.approx(60, abs=1)
    assert throttled[0].path.startswith(f"/destinations/{dest.id}/subscriptions")


# --- faults -----------------------------------------------------------------------------------------


def test_retries_under_injected_errors_429s_and_drops(emulator: Emulator) -> None:
    with emulator.client() as ws:
        source = ws.create_source(slug="pg", metadata_id=POSTGRES)
        emulator.faults(error_rate=0.25, rate_429=0.15, drop_rate=0.15)
        names = [f"m{i}" for i in range(8)]
        for name in names:
            ws.create_model(
                source_id=source.id, name=name, query="SELECT 1 AS id", query_identifier_column="id"
            )
        listed = ws.list_models()
        emulator.faults()
    assert sorted(m.name for m in listed) == names  # nothing lost, nothing duplicated
    reasons = " ".join(w.reason for w in emulator.waits if w.kind == "retry")
    assert "503" in reasons and "429" in reasons and "connection failed" in reasons


def test_timeouts_are_retried(emulator: Emulator) -> None:
    retry = RetryPolicy(deadline=600.0, max_attempts=30, request_timeout=0.2)
    with emulator.client(retry=retry) as ws:
        emulator.faults(timeout_rate=0.4, hang_seconds=1.0)
        for _ in range(3):
            assert ws.list_sources() == []
        emulator.faults()
    assert any("timed out" in w.reason for w in emulator.waits)


@pytest.mark.parametrize("what", ["source", "model", "destination", "subscription", "sync"])
def test_lost_create_response_is_reconciled_not_duplicated(emulator: Emulator, what: str) -> None:
    lose: dict[str, Any] = {}

    def wrap(app: Any) -> Any:
        lose["mw"] = LoseFirstResponse(app, "POST", "")
        return lose["mw"]

    with emulator.client(wrap=wrap) as ws:
        # Build what the create needs first, with the wrapper not yet armed.
        source = model = dest = sub = None
        if what != "source":
            source, model, dest, identify = _setup(ws)
            if what == "sync":
                sub = _mapping(ws, dest, model, identify)
        paths = {
            "source": "/sources",
            "model": "/reverse-etl-models",
            "destination": "/destinations",
            "subscription": f"/destinations/{dest.id}/subscriptions" if dest else "",
            "sync": "/reverse-etl-syncs",
        }
        lose["mw"].path = paths[what]
        if what == "source":
            created = ws.create_source(slug="pg2", metadata_id=POSTGRES)
            assert [s.id for s in ws.list_sources()] == [created.id]
        elif what == "model":
            created = ws.create_model(
                source_id=source.id, name="again", query="SELECT 1 AS id", query_identifier_column="id"
            )
            assert sorted(m.name for m in ws.list_models()) == ["again", "users"]
        elif what == "destination":
            created = ws.create_destination(source_id=source.id, name="second")
            assert sorted(d.name for d in ws.list_destinations()) == ["Profiles", "second"]
        elif what == "subscription":
            created = _mapping(ws, dest, model, identify, name="lost")
            assert [s.id for s in ws.list_subscriptions(dest.id)] == [created.id]
            assert ws.get_subscription(dest.id, created.id).reverse_etl_schedule.strategy == "PERIODIC"
        else:
            created = ws.start_sync(source_id=source.id, model_id=model.id, subscription_id=sub.id)
            assert [s.sync_id for s in ws.list_syncs(model.id, sub.id)] == [created.sync_id]
    assert lose["mw"].lost == 1
    assert any(w.kind == "retry" and w.method == "POST" for w in emulator.waits)


def test_subscription_and_history_pagination(emulator: Emulator) -> None:
    with emulator.client(page_size=2) as ws:
        source, model, dest, identify = _setup(ws)
        subs = [_mapping(ws, dest, model, identify, name=f"m{i}") for i in range(5)]
        before = ws.requests_sent
        assert sorted(s.id for s in ws.list_subscriptions(dest.id)) == sorted(s.id for s in subs)
        assert ws.requests_sent - before == 3
        for _ in range(3):
            ws.start_sync(source_id=source.id, model_id=model.id, subscription_id=subs[0].id)
        assert len(ws.list_syncs(model.id, subs[0].id)) == 3
        assert len(ws.list_syncs(model.id, subs[0].id, limit=2)) == 2


# --- redaction -----------------------------------------------------------------------------------


def test_token_appears_nowhere(emulator: Emulator, caplog: pytest.LogCaptureFixture, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    with emulator.client() as ws:
        seen.append(repr(ws))
        source, *_ = _setup(ws)
        seen.append(repr(ws.read_workspace()))
        emulator.faults(error_rate=0.3, drop_rate=0.2)
        for _ in range(3):
            ws.list_models()
        emulator.faults()
        for call in (
            lambda: ws.delete_model("missing0000000000000000"),
            lambda: ws.create_destination(source_id=source.id, metadata_id="nope"),
        ):
            with pytest.raises(WorkspaceError) as info:
                call()
            seen += [
                str(info.value),
                repr(info.value),
                repr(info.value.__dict__),
                str(info.value.__context__),
            ]
    with emulator.client(token="sgp_other-planted-token-99") as bad, pytest.raises(WorkspaceError) as info:
        bad.list_sources()
    seen += [str(info.value), repr(info.value.__dict__)]
    out = capsys.readouterr()
    everything = "\n".join([*seen, caplog.text, out.out, out.err, *(w.reason for w in emulator.waits)])
    assert TOKEN not in everything and "sgp_other-planted-token-99" not in everything
    assert "Bearer" not in caplog.text or "[redacted]" in caplog.text


def test_local_backend_builds_the_emulator_in_the_project(tmp_path: Path) -> None:
    with open_workspace("local", project_dir=tmp_path) as ws:
        source = ws.create_source(slug="wh", metadata_id=POSTGRES)
        assert [s.id for s in ws.list_sources()] == [source.id]
    assert (tmp_path / ".segprof" / "emulator").is_dir()
    with open_workspace("local", project_dir=tmp_path) as ws:  # the data persists
        assert [s.slug for s in ws.list_sources()] == ["wh"]


def test_httpx_request_logs_carry_no_token(emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="httpx")
    caplog.set_level(logging.DEBUG, logger="httpcore")
    with emulator.client() as ws:
        ws.list_sources()
    assert TOKEN not in caplog.text


_ = httpx  # the suite relies on httpx's logging names above

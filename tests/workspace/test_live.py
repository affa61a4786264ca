"""Reading the live workspace concurrently, and the blocking facade over the async client."""

from __future__ import annotations

import asyncio

import anyio
import httpx
import pytest

from segprof.operations.workspaces import ClientOptions, open_workspace
from segprof.workspace import (
    SEGMENT_PROFILES_METADATA_ID,
    AsyncWorkspaceClient,
    RateLimits,
    WorkspaceClient,
    WorkspaceError,
    read_workspace,
)

from .apistub import TOKEN, Api, fail, ok, run

OTHER_METADATA = "54521fd525e721e32a72ee8f"


class FakeWorkspace:
    """Reference-shaped answers for `dests` destinations, with latency and in-flight counting."""

    def __init__(
        self,
        dests: int = 4,
        subs_per_dest: int = 3,
        latency: float = 0.02,
        held: tuple[str, ...] = (),
    ) -> None:
        self.latency = latency
        # Path prefixes answered only once every Profiles destination's subscriptions are answered
        # (or after 5 s, noted in `held_timed_out`): proves those reads do not wait for them.
        self.held = held
        self.held_timed_out = False
        self.subscriptions_answered = 0
        self.all_subscriptions_answered: anyio.Event | None = None
        self.profiles_destinations = dests
        self.in_flight = 0
        self.max_in_flight = 0
        self.subs_in_flight = 0
        self.max_subs_in_flight = 0
        self.log: list[str] = []
        self.dests = [
            {
                "id": f"d{i}",
                "name": f"Profiles {i}",
                "enabled": True,
                "sourceId": "src",
                "settings": {},
                "metadata": {"id": SEGMENT_PROFILES_METADATA_ID, "slug": "actions-segment-profiles"},
            }
            for i in range(dests)
        ]
        self.dests.append(
            {"id": "other", "sourceId": "src", "enabled": True, "metadata": {"id": OTHER_METADATA}}
        )
        self.subs = {
            d["id"]: [
                {
                    "id": f"{d['id']}-s{j}",
                    "actionId": "vm2tNA5U1zxUusQkdC4D7Z",
                    "modelId": f"m{j}",
                    "enabled": True,
                }
                for j in range(subs_per_dest)
            ]
            for d in self.dests
        }

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        is_subs = request.url.path.endswith("/subscriptions")
        self.subs_in_flight += is_subs
        self.max_subs_in_flight = max(self.max_subs_in_flight, self.subs_in_flight)
        self.log.append(request.url.path)
        try:
            path = request.url.path
            if self.all_subscriptions_answered is None:
                self.all_subscriptions_answered = anyio.Event()
            await anyio.sleep(self.latency)
            if path.startswith(self.held) if self.held else False:
                with anyio.move_on_after(5) as scope:
                    await self.all_subscriptions_answered.wait()
                self.held_timed_out |= scope.cancelled_caught
            self.log.append(f"done {path}")
            if path.endswith("/subscriptions") and not path.startswith("/destinations/other"):
                self.subscriptions_answered += 1
                if self.subscriptions_answered >= self.profiles_destinations:
                    self.all_subscriptions_answered.set()
            return self.answer(path)
        finally:
            self.in_flight -= 1
            self.subs_in_flight -= is_subs

    def answer(self, path: str) -> httpx.Response:
        page = {"current": "MA==", "next": None}
        if path == "/sources":
            return ok(
                {
                    "sources": [{"id": "src", "slug": "wh", "metadata": {"id": "WvlvcGEJsT"}}],
                    "pagination": page,
                }
            )
        if path == "/reverse-etl-models":
            models = [
                {
                    "id": f"m{j}",
                    "sourceId": "src",
                    "name": f"m{j}",
                    "query": "select 1",
                    "queryIdentifierColumn": "id",
                }
                for j in range(3)
            ]
            return ok({"models": models, "pagination": page})
        if path == "/destinations":
            return ok({"destinations": self.dests, "pagination": page})
        if path.startswith("/catalog/destinations/") and not path.endswith(SEGMENT_PROFILES_METADATA_ID):
            return fail(404, {"type": "not-found", "message": "Destination metadata not found"})
        if path.startswith("/catalog/destinations/"):
            return ok(
                {
                    "destinationMetadata": {
                        "id": SEGMENT_PROFILES_METADATA_ID,
                        "actions": [{"id": "vm2tNA5U1zxUusQkdC4D7Z", "slug": "sendIdentify"}],
                    }
                }
            )
        dest = path.split("/")[2]
        if dest not in self.subs:
            return fail(404, {"type": "not-found", "message": "Destination not found"})
        return ok({"subscriptions": self.subs[dest], "pagination": page})


def async_client(handler) -> AsyncWorkspaceClient:
    return AsyncWorkspaceClient(
        base_url="https://api.segmentapis.com",
        token=TOKEN,
        transport=httpx.MockTransport(handler),
        limits=RateLimits.off(),
    )


def test_read_workspace_reads_levels_concurrently() -> None:
    fake = FakeWorkspace(dests=4, subs_per_dest=3)
    client = async_client(fake)
    live = run(lambda: read_workspace(client))
    assert [d.id for d in live.destinations] == ["d0", "d1", "d2", "d3"]  # the non-Profiles one is left out
    assert len(live.all_subscriptions()) == 12
    assert live.subscription("d2-s1").destination_id == "d2"
    assert live.action_ids() == {"sendIdentify": "vm2tNA5U1zxUusQkdC4D7Z"}
    assert [m.id for m in live.models] == ["m0", "m1", "m2"] and live.source("src").slug == "wh"
    assert "/destinations/other/subscriptions" not in fake.log
    # Level 1 (4 requests) at once; each subscription listing once the destination listing answered.
    assert fake.log[0] == "/destinations"  # first out: the second level waits on it
    sent = [p for p in fake.log if not p.startswith("done ")]
    assert sorted(sent[:4]) == sorted(
        [
            "/sources",
            "/reverse-etl-models",
            "/destinations",
            f"/catalog/destinations/{SEGMENT_PROFILES_METADATA_ID}",
        ]
    )
    assert all(p.endswith("/subscriptions") for p in sent[4:]) and len(sent) == 8
    listed = fake.log.index("done /destinations")
    assert all(fake.log.index(p) > listed for p in sent[4:])
    # The whole first level was in flight together, and so were the four subscription listings.
    assert fake.max_in_flight >= 4 and fake.max_subs_in_flight == 4
    assert client.requests_sent == 8


def test_subscriptions_wait_only_for_the_destination_listing() -> None:
    # The catalog and model listings answer only after every subscription listing has: a read that
    # waited for the whole first level before listing subscriptions would wait them out (5 s).
    fake = FakeWorkspace(dests=3, subs_per_dest=1, held=("/catalog/", "/reverse-etl-models"))
    client = async_client(fake)
    live = run(lambda: read_workspace(client))
    assert len(live.all_subscriptions()) == 3 and live.action_ids() and len(live.models) == 3
    assert not fake.held_timed_out
    subs_done = max(
        i for i, p in enumerate(fake.log) if p.startswith("done ") and p.endswith("/subscriptions")
    )
    assert subs_done < fake.log.index(f"done /catalog/destinations/{SEGMENT_PROFILES_METADATA_ID}")
    assert subs_done < fake.log.index("done /reverse-etl-models")


def test_known_destinations_are_read_in_the_first_round_trip() -> None:
    fake = FakeWorkspace(dests=3, subs_per_dest=2)
    client = async_client(fake)
    live = run(lambda: read_workspace(client, destination_ids=["d0", "d2", "gone", "other"]))
    sent = [p for p in fake.log if not p.startswith("done ")]
    first_level = sent[:8]
    assert {"/destinations/d0/subscriptions", "/destinations/d2/subscriptions"} <= set(first_level)
    assert sent[8:] == ["/destinations/d1/subscriptions"]  # the one state did not know
    assert sorted(live.subscriptions) == ["d0", "d1", "d2"]  # gone (404) and non-Profiles dropped
    assert [s.id for s in live.subscriptions_of("d2")] == ["d2-s0", "d2-s1"]


def test_read_workspace_concurrency_is_bounded() -> None:
    fake = FakeWorkspace(dests=10, subs_per_dest=1)
    client = AsyncWorkspaceClient(
        base_url="https://api.segmentapis.com",
        token=TOKEN,
        transport=httpx.MockTransport(fake),
        limits=RateLimits.off(),
        max_concurrency=3,
    )
    live = run(lambda: read_workspace(client))
    assert len(live.destinations) == 10
    assert fake.max_in_flight == 3


def test_read_workspace_failure_is_one_clear_error() -> None:
    client = async_client(lambda r: fail(401, {"type": "unauthorized", "message": "Unauthorized"}))
    with pytest.raises(WorkspaceError, match="401"):
        run(lambda: read_workspace(client))


def test_blocking_facade() -> None:
    fake = FakeWorkspace(dests=2, subs_per_dest=2, latency=0)
    with WorkspaceClient(async_client(fake)) as ws:
        assert [s.id for s in ws.list_subscriptions("d1")] == ["d1-s0", "d1-s1"]
        assert len(ws.read_workspace().all_subscriptions()) == 4
        assert ws.requests_sent == 7
        with pytest.raises(WorkspaceError):
            ws.get_destination_metadata("x", address="destination.p").actions[5]
    assert "Bearer" not in repr(ws)


def test_blocking_facade_works_inside_a_running_event_loop() -> None:
    fake = FakeWorkspace(dests=1, latency=0)

    async def caller() -> int:
        with WorkspaceClient(async_client(fake)) as ws:
            return len(ws.list_destinations())

    assert asyncio.run(caller()) == 2


def test_open_workspace_with_a_given_transport_and_env_token(monkeypatch) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok({"sources": []})

    monkeypatch.setenv("SEGMENT_API_TOKEN", "env-token-1234")
    api = Api(handler)
    with open_workspace(
        "segment", region="europe", options=ClientOptions(transport=httpx.MockTransport(api))
    ) as ws:
        ws.list_sources()
    assert str(seen[0].url).startswith("https://eu1.api.segmentapis.com/sources")
    assert seen[0].headers["authorization"] == "Bearer env-token-1234"


def test_segment_backend_without_token_is_a_clear_error(monkeypatch) -> None:
    from segprof.errors import SegprofError

    for var in ("SEGMENT_API_TOKEN", "PUBLIC_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(SegprofError, match="no Segment Public API token") as info:
        open_workspace("segment")
    assert info.value.address == "workspace.token"


def test_an_unclosed_client_does_not_keep_the_process_alive(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import httpx\n"
        "from segprof.workspace import AsyncWorkspaceClient, WorkspaceClient\n"
        "t = httpx.MockTransport(lambda r: httpx.Response(200, json={'data': {'sources': []}}))\n"
        "c = AsyncWorkspaceClient(base_url='https://api.segmentapis.com', token='t', transport=t)\n"
        "ws = WorkspaceClient(c)\n"
        "print(len(ws.list_sources()))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and done.stdout.strip() == "0"


def test_local_backend_needs_a_project_folder() -> None:
    from segprof.errors import SegprofError

    with pytest.raises(SegprofError, match="project folder"):
        open_workspace("local")


def test_unknown_backend_is_a_clear_error() -> None:
    from segprof.errors import SegprofError

    with pytest.raises(SegprofError, match="unknown workspace backend") as info:
        open_workspace("cloud")  # type: ignore[arg-type]
    assert info.value.address == "workspace.backend"

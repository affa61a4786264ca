"""The synchronous face of the workspace client, for the CLI and other blocking callers.

Owns: `WorkspaceClient`, which runs one `AsyncWorkspaceClient` on an event loop in a background
daemon thread and exposes the same calls as plain methods. Why async at the core: the in-process
emulator is reachable only through httpx's async ASGI transport, and reading a workspace
concurrently is cheap with tasks; one long-lived loop keeps one connection pool and works even
when the caller itself runs inside an event loop. The thread is a daemon so a client that is
never closed cannot keep the process alive. Must never hold logic of its own beyond forwarding.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ParamSpec, TypeVar

from segprof.workspace.client import AsyncWorkspaceClient
from segprof.workspace.live import LiveWorkspace, read_workspace
from segprof.workspace.resources import (
    CancelResult,
    Destination,
    DestinationMetadata,
    ManualSync,
    ReverseEtlModel,
    Source,
    SourceMetadata,
    Subscription,
    SyncStatus,
)

P = ParamSpec("P")
R = TypeVar("R")


def _blocking(method: Callable[P, Awaitable[R]]) -> Callable[..., R]:
    name = method.__name__

    @functools.wraps(method)
    def call(self: WorkspaceClient, *args: Any, **kwargs: Any) -> R:
        bound = getattr(self.async_client, name)
        return self._call(bound, *args, **kwargs)

    return call


class WorkspaceClient:
    """Blocking wrapper: every method runs the async client's method of the same name."""

    def __init__(
        self, async_client: AsyncWorkspaceClient, *, on_close: Callable[[], None] | None = None
    ) -> None:
        self.async_client = async_client
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="segprof-workspace", daemon=True)
        self._thread.start()
        self._on_close = on_close
        self._closed = False

    def _call(self, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> R:
        if self._closed:
            raise RuntimeError("the workspace client is closed")
        future = asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), self._loop)
        try:
            return future.result()
        except BaseException:
            # Interrupted (Ctrl-C) or failed: make sure nothing keeps running behind the caller.
            future.cancel()
            raise

    def __repr__(self) -> str:
        return f"WorkspaceClient({self.async_client!r})"

    def close(self) -> None:
        if self._closed:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.async_client.aclose(), self._loop).result(timeout=10)
        finally:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            if self._on_close is not None:
                self._on_close()

    def __enter__(self) -> WorkspaceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def requests_sent(self) -> int:
        return self.async_client.requests_sent

    def eta(self, endpoint_class_name: str, count: int) -> float:
        """Seconds until `count` more requests of a limited class (e.g. "subscription_writes") can go."""
        return self.async_client.eta(endpoint_class_name, count)

    def add_secret(self, secret: str | None) -> None:
        self.async_client.add_secret(secret)

    def read_workspace(
        self, *, with_catalog: bool = True, destination_ids: Iterable[str] = ()
    ) -> LiveWorkspace:
        """See `segprof.workspace.live.read_workspace`."""
        call = functools.partial(
            read_workspace,
            self.async_client,
            with_catalog=with_catalog,
            destination_ids=tuple(destination_ids),
        )
        return self._call(call)

    def run(self, fn: Callable[[AsyncWorkspaceClient], Awaitable[R]]) -> R:
        """Run an async function of the async client on the client's loop (for concurrent batches)."""
        return self._call(fn, self.async_client)

    request: Callable[..., dict[str, Any]] = _blocking(AsyncWorkspaceClient.request)
    get_destination_metadata: Callable[..., DestinationMetadata] = _blocking(
        AsyncWorkspaceClient.get_destination_metadata
    )
    get_source_metadata: Callable[..., SourceMetadata] = _blocking(AsyncWorkspaceClient.get_source_metadata)
    list_source_catalog: Callable[..., list[SourceMetadata]] = _blocking(
        AsyncWorkspaceClient.list_source_catalog
    )
    list_destination_catalog: Callable[..., list[DestinationMetadata]] = _blocking(
        AsyncWorkspaceClient.list_destination_catalog
    )
    list_sources: Callable[..., list[Source]] = _blocking(AsyncWorkspaceClient.list_sources)
    get_source: Callable[..., Source | None] = _blocking(AsyncWorkspaceClient.get_source)
    create_source: Callable[..., Source] = _blocking(AsyncWorkspaceClient.create_source)
    update_source: Callable[..., Source] = _blocking(AsyncWorkspaceClient.update_source)
    delete_source: Callable[..., str] = _blocking(AsyncWorkspaceClient.delete_source)
    list_models: Callable[..., list[ReverseEtlModel]] = _blocking(AsyncWorkspaceClient.list_models)
    get_model: Callable[..., ReverseEtlModel | None] = _blocking(AsyncWorkspaceClient.get_model)
    create_model: Callable[..., ReverseEtlModel] = _blocking(AsyncWorkspaceClient.create_model)
    update_model: Callable[..., ReverseEtlModel] = _blocking(AsyncWorkspaceClient.update_model)
    delete_model: Callable[..., str] = _blocking(AsyncWorkspaceClient.delete_model)
    list_destinations: Callable[..., list[Destination]] = _blocking(AsyncWorkspaceClient.list_destinations)
    get_destination: Callable[..., Destination | None] = _blocking(AsyncWorkspaceClient.get_destination)
    create_destination: Callable[..., Destination] = _blocking(AsyncWorkspaceClient.create_destination)
    update_destination: Callable[..., Destination] = _blocking(AsyncWorkspaceClient.update_destination)
    delete_destination: Callable[..., str] = _blocking(AsyncWorkspaceClient.delete_destination)
    list_subscriptions: Callable[..., list[Subscription]] = _blocking(AsyncWorkspaceClient.list_subscriptions)
    get_subscription: Callable[..., Subscription | None] = _blocking(AsyncWorkspaceClient.get_subscription)
    create_subscription: Callable[..., Subscription] = _blocking(AsyncWorkspaceClient.create_subscription)
    update_subscription: Callable[..., Subscription] = _blocking(AsyncWorkspaceClient.update_subscription)
    delete_subscription: Callable[..., str] = _blocking(AsyncWorkspaceClient.delete_subscription)
    start_sync: Callable[..., ManualSync] = _blocking(AsyncWorkspaceClient.start_sync)
    get_sync: Callable[..., SyncStatus] = _blocking(AsyncWorkspaceClient.get_sync)
    list_syncs: Callable[..., list[SyncStatus]] = _blocking(AsyncWorkspaceClient.list_syncs)
    cancel_sync: Callable[..., CancelResult] = _blocking(AsyncWorkspaceClient.cancel_sync)
    wait_for_sync: Callable[..., SyncStatus] = _blocking(AsyncWorkspaceClient.wait_for_sync)
